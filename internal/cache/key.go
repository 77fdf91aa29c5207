package cache

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Address families as stored in a key (Linux values).
const (
	FamilyIPv4 = unix.AF_INET
	FamilyIPv6 = unix.AF_INET6
)

// Key identifies a neighbour: the address family, the interface and the
// address. An IPv4 address fills the first 4 bytes of Addr; the rest are 0.
type Key struct {
	Family  uint8
	Ifindex uint32
	Addr    [16]byte
}

// KeyV4 returns the key of IPv4 address a on interface ifindex.
func KeyV4(ifindex uint32, a [4]byte) Key {
	k := Key{Family: FamilyIPv4, Ifindex: ifindex}
	copy(k.Addr[:4], a[:])
	return k
}

// words returns the key as the three little-endian words that are hashed:
// family and ifindex, then the address.
//
// NB: fixed byte order, so the same key lands in the same bucket on a
// big-endian MIPS router and on a PC. A slot stores the key in a shorter
// form (see slotWords).
func (k *Key) words() (w0, w1, w2 uint64) {
	w0 = uint64(k.Family) | uint64(k.Ifindex)<<32
	w1 = binary.LittleEndian.Uint64(k.Addr[0:8])
	w2 = binary.LittleEndian.Uint64(k.Addr[8:16])
	return
}

// slotWords returns the key with hash words (w0, w1, w2) as slot bytes
// 0..15 hold it, with bytes 1 and 2 (meta, and the link-layer length or
// probes) zero: byte 0 the family, byte 3 the index of an IPv6 address's
// prefix in the prefix table (pi; 0 for IPv4), bytes 4..7 the ifindex,
// bytes 8..15 the IPv4 address and four zeros, or the IPv6 address's last
// eight bytes.
func slotWords(w0, w1, w2 uint64, pi uint8) (c0, c1 uint64) {
	if uint8(w0) == FamilyIPv4 {
		return w0 &^ 0xffffff00, uint64(uint32(w1))
	}
	return w0&^0xffffff00 | uint64(pi)<<24, w2
}

// Kind says what an entry asserts about a host.
type Kind uint8

const (
	// KindPositive maps the address to a link-layer address.
	KindPositive Kind = 1
	// KindNegative records that resolution failed: the host is dead.
	KindNegative Kind = 2
)

// Source says where an entry was learned. It is kept for diagnostics;
// 0 means not recorded.
//
// NB: the values are stored in bits 2-4 of a slot's meta byte.
type Source uint8

const (
	// SourceARP is an ARP frame seen on the wire.
	SourceARP Source = 1
	// SourceKernel is a kernel neighbour notification or dump.
	SourceKernel Source = 2
	// SourceLoad is a list loaded with arpd -f.
	SourceLoad Source = 3
	// SourceND is an IPv6 neighbour-discovery message seen on the wire.
	SourceND Source = 4
)

// Entry is one neighbour as the cache stores it. A negative entry has no
// link-layer address, and a positive one no probe count: Put clears them.
type Entry struct {
	Key
	Kind    Kind
	Source  Source
	LLLen   uint8   // bytes of LLAddr in use
	LLAddr  [8]byte // link-layer address; 6 bytes for Ethernet
	Probes  uint8   // probes spent on a negative entry (0 in a positive one)
	Router  bool    // the host said it is a router (IPv6: an RA, or an NA with R=1)
	Updated uint32  // Unix seconds of the last update
}

// PutResult says what Put did.
type PutResult uint8

const (
	// PutNew means a new key was stored.
	PutNew PutResult = iota + 1
	// PutChanged means the key was there with another kind or address.
	PutChanged
	// PutRefreshed means the same binding was stored with newer
	// timestamps or another probe count.
	PutRefreshed
	// PutUnchanged means the entry was identical to what was stored, or
	// confirmed a binding updated less than a minute before: nothing was
	// written.
	PutUnchanged
	// PutDropped means both buckets were full of newer entries and the
	// entry, older than all of them, was not stored.
	PutDropped
)
