package cache

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestSipHash checks the bucket hash against SipHash-2-4 reference output
// (key 00..0f, message 00..17), as computed by Rust's std SipHasher.
func TestSipHash(t *testing.T) {
	var key, msg [24]byte
	for i := range key {
		key[i], msg[i] = byte(i), byte(i)
	}
	le := binary.LittleEndian
	got := sipHash24x3(le.Uint64(key[0:]), le.Uint64(key[8:]), le.Uint64(msg[0:]), le.Uint64(msg[8:]), le.Uint64(msg[16:]))
	if want := uint64(0xb8ad50c6f649af94); got != want {
		t.Fatalf("sipHash24x3 = %#x, want %#x", got, want)
	}
}

// sipRef is SipHash-2-4 of any message, written from the paper, one byte
// at a time: the reference for the cache's fixed-length versions.
func sipRef(k0, k1 uint64, msg []byte) uint64 {
	v0, v1 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d
	v2, v3 := k0^0x6c7967656e657261, k1^0x7465646279746573
	compress := func(m uint64) {
		v3 ^= m
		for i := 0; i < 2; i++ {
			v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		}
		v0 ^= m
	}
	var m uint64
	for i, b := range msg {
		m |= uint64(b) << (8 * (i % 8))
		if i%8 == 7 {
			compress(m)
			m = 0
		}
	}
	compress(m | uint64(len(msg))<<56)
	v2 ^= 0xff
	for i := 0; i < 4; i++ {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// TestSipHash12 checks the IPv4 key hash against the reference, which is
// itself checked against published SipHash-2-4 output first.
func TestSipHash12(t *testing.T) {
	var key, msg [24]byte
	for i := range key {
		key[i], msg[i] = byte(i), byte(i)
	}
	le := binary.LittleEndian
	k0, k1 := le.Uint64(key[0:]), le.Uint64(key[8:])
	// The paper's test vector (15 bytes) and the 24-byte one of TestSipHash.
	if got := sipRef(k0, k1, msg[:15]); got != 0xa129ca6149be45e5 {
		t.Fatalf("reference, 15 bytes = %#x", got)
	}
	if got := sipRef(k0, k1, msg[:24]); got != 0xb8ad50c6f649af94 {
		t.Fatalf("reference, 24 bytes = %#x", got)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for n := 0; n < 1000; n++ {
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		k0, k1 = rng.Uint64(), rng.Uint64()
		if got, want := sipHash24x12(k0, k1, le.Uint64(msg[0:]), le.Uint32(msg[8:])), sipRef(k0, k1, msg[:12]); got != want {
			t.Fatalf("sipHash24x12 = %#x, want %#x", got, want)
		}
		if got, want := sipHash24x3(k0, k1, le.Uint64(msg[0:]), le.Uint64(msg[8:]), le.Uint64(msg[16:])), sipRef(k0, k1, msg[:24]); got != want {
			t.Fatalf("sipHash24x3 = %#x, want %#x", got, want)
		}
	}
}
