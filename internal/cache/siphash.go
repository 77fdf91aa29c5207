package cache

import "math/bits"

// sipHash24x3 returns SipHash-2-4 of a 24-byte message given as three
// little-endian 64-bit words, under the 128-bit key (k0, k1).
//
// The cache addresses its buckets with it. A keyed hash with a random
// per-file key means that hosts on the segment, which choose the addresses
// and MACs in the ARP frames the daemon learns from, cannot aim many keys
// at one bucket and push everyone else out of the cache.
//
// NB: the message is always exactly 24 bytes (the encoded cache key), so
// the length block is the constant 24<<56 and there is no tail to pad.
func sipHash24x3(k0, k1, m0, m1, m2 uint64) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573

	for _, m := range [4]uint64{m0, m1, m2, 24 << 56} {
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
	}

	v2 ^= 0xff
	for i := 0; i < 4; i++ {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipHash24x12 returns SipHash-2-4 of a 12-byte message given as a
// little-endian 64-bit word and a little-endian 32-bit word, under the
// 128-bit key (k0, k1): the cache key of an IPv4 neighbour, which is
// hashed with two compressions instead of the four of sipHash24x3.
//
// NB: the last block is the 4-byte tail with the length, 12, in its top
// byte.
func sipHash24x12(k0, k1, m0 uint64, m1 uint32) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573

	v3 ^= m0
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m0
	b := uint64(m1) | 12<<56
	v3 ^= b
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= b

	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound of the SipHash permutation.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

// A Hasher is SipHash-2-4 under a random key of its own, for the daemon's
// fixed-size tables outside the file, which hosts on the segment must not
// be able to aim at one set either.
type Hasher struct{ k0, k1 uint64 }

// NewHasher returns a Hasher with a random key from the kernel.
func NewHasher() (Hasher, error) {
	k0, k1, err := newSeed()
	return Hasher{k0, k1}, err
}

// Key returns the hash of k.
func (h Hasher) Key(k *Key) uint64 {
	w0, w1, w2 := k.words()
	return sipHash24x3(h.k0, h.k1, w0, w1, w2)
}

// Words returns the hash of the 24-byte message m0, m1, m2.
func (h Hasher) Words(m0, m1, m2 uint64) uint64 {
	return sipHash24x3(h.k0, h.k1, m0, m1, m2)
}
