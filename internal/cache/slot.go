package cache

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// slot status values.
const (
	slotEmpty = iota
	slotValid
	slotBad
)

// A slotRef names a slot: the file offset of its bucket plus its index in
// the bucket.
//
// NB: buckets start at multiples of 16 bytes (headerSize and bucketSize
// are multiples of 16), so the low 4 bits of a bucket's offset are free to
// hold the index.
type slotRef int64

// noSlot is the slotRef of no slot.
const noSlot slotRef = -1

// Compile-time checks: buckets are 16-byte aligned, and a bucket's tags
// fill two 64-bit words.
var (
	_ [0]struct{} = [bucketSize % 16]struct{}{}
	_ [0]struct{} = [headerSize % 16]struct{}{}
	_ [0]struct{} = [16 - tagsSize]struct{}{}
)

// ref returns the slotRef of slot i of the bucket at offset base.
func ref(base int64, i int) slotRef { return slotRef(base + int64(i)) }

// bucket returns the file offset of r's bucket.
func (r slotRef) bucket() int64 { return int64(r) &^ 15 }

// way returns r's index in its bucket.
func (r slotRef) way() int { return int(r & 15) }

// off returns the file offset of r's slot bytes.
func (r slotRef) off() int64 { return r.bucket() + tagsSize + int64(r.way())*slotSize }

// tagOff returns the file offset of r's tag.
func (r slotRef) tagOff() int64 { return r.bucket() + int64(r.way())*tagSize }

// tagOf returns the tag of a key whose hash is h: its low 16 bits, with 0
// (the tag of an empty slot) taken as 1.
//
// NB: the buckets come from the high bits of h·n and of its low half
// times n (see locate), so the low 16 bits of h are independent of the
// bucket for any power-of-two n and nearly so for others.
func tagOf(h uint64) uint16 {
	t := uint16(h)
	if t == 0 {
		t = 1
	}
	return t
}

// Lane masks for comparing four 16-bit tags at once.
const (
	tagOnes  = 0x0001_0001_0001_0001
	tagLow15 = 0x7fff_7fff_7fff_7fff
)

// tagLanes returns a mask with bit 16i+15 set for each lane i of the tag
// word w that equals t. It is exact: no lane is set for a tag that
// differs.
func tagLanes(w uint64, t uint16) uint64 {
	x := w ^ uint64(t)*tagOnes
	// A lane of x is zero iff adding 0x7fff to its low 15 bits does not
	// carry into bit 15 and bit 15 is clear; no lane carries into the next.
	return ^((x&tagLow15 + tagLow15) | x | tagLow15)
}

// lanes returns a mask of the slots of a bucket whose tags, in the tag
// words lo (slots 0..3) and hi (slots 4..7), equal t. Slot i < 4 is bit
// 16i+7 and slot i >= 4 is bit 16(i-4)+15; firstLane decodes them.
func lanes(lo, hi uint64, t uint16) uint64 {
	return tagLanes(lo, t)>>8 | tagLanes(hi, t)
}

// firstLane returns the slot of the lowest bit set in the lanes mask m,
// which must not be zero. A mask shifted right by one bit (as candidates
// does) decodes to the same slots.
func firstLane(m uint64) int {
	p := bits.TrailingZeros64(m)
	return p>>4 | p>>1&4
}

// tags returns the two tag words of the bucket at base: the tags of slots
// 0..3 and of slots 4..7, slot i's in bits 16(i%4)..16(i%4)+15.
func (f *File) tags(base int64) (lo, hi uint64) {
	t := f.mem[base : base+tagsSize]
	return binary.LittleEndian.Uint64(t[0:8]), binary.LittleEndian.Uint64(t[8:16])
}

// match returns the lanes mask of the slots of the bucket at base whose
// tag is t (0 for the empty slots).
func (f *File) match(base int64, t uint16) uint64 {
	lo, hi := f.tags(base)
	return lanes(lo, hi, t)
}

// tagAt returns slot r's tag.
func (f *File) tagAt(r slotRef) uint16 {
	off := r.tagOff()
	return binary.LittleEndian.Uint16(f.mem[off : off+tagSize])
}

// slotBytes returns slot r's bytes in the mapping.
func (f *File) slotBytes(r slotRef) []byte {
	off := r.off()
	return f.mem[off : off+slotSize]
}

// slotIndex returns r's number among all slots of the file.
func (f *File) slotIndex(r slotRef) uint64 {
	return uint64(r.bucket()-headerSize)/bucketSize*slotWays + uint64(r.way())
}

// checked returns the status of a writer's slot r, with tag tag and
// bytes s, computing its check only if the slot has not been found valid
// since it was last written (see verified).
func (f *File) checked(r slotRef, tag uint16, s []byte) int {
	i := f.slotIndex(r)
	if f.verified[i/64]&(1<<(i%64)) != 0 {
		return slotValid
	}
	st := f.fullStatus(tag, s)
	if st == slotValid {
		f.verified[i/64] |= 1 << (i % 64)
	}
	return st
}

// status classifies slot r as it is in the mapping.
func (f *File) status(r slotRef) int { return f.fullStatus(f.tagAt(r), f.slotBytes(r)) }

// slotStatus classifies a slot's bytes s, given its tag, by what the
// slot alone can say; an IPv6 slot also needs its prefix (see
// File.prefixValid).
func slotStatus(tag uint16, s []byte) int {
	_ = s[slotSize-1]
	if tag == 0 {
		if isZeroSlot(s) {
			return slotEmpty
		}
		return slotBad
	}
	if slotCheck(tag, s) != binary.LittleEndian.Uint32(s[slotCheckOff:]) {
		return slotBad
	}
	switch {
	case s[0] == FamilyIPv4 && s[3] == 0:
	case s[0] == FamilyIPv6 && s[3] != 0:
	default:
		return slotBad
	}
	switch Kind(s[1] & 3) {
	case KindPositive:
		if s[2] > 8 {
			return slotBad
		}
	case KindNegative:
	default:
		return slotBad
	}
	return slotValid
}

// slotCheck returns the check of slot bytes s with tag t: CRC-32C of the
// first slotCheckOff bytes, with the tag as the initial value, so that a
// changed tag fails the check as surely as a changed byte.
func slotCheck(t uint16, s []byte) uint32 {
	return crc32.Update(uint32(t), castagnoli, s[:slotCheckOff])
}

// isZeroSlot reports whether the slot bytes s are all zero.
func isZeroSlot(s []byte) bool {
	le := binary.LittleEndian
	_ = s[slotSize-1]
	return le.Uint64(s[0:])|le.Uint64(s[8:])|le.Uint64(s[16:])|le.Uint64(s[24:]) == 0
}

// keyMatches reports whether slot s holds the key whose slot words are
// (c0, c1) (see slotWords).
//
// NB: bytes 1 and 2 of a slot hold meta and the link-layer length or
// probes, not key material, so they are masked out.
func keyMatches(s []byte, c0, c1 uint64) bool {
	le := binary.LittleEndian
	_ = s[15]
	return le.Uint64(s[0:])&^0x00ffff00 == c0 && le.Uint64(s[8:]) == c1
}

// metaRouter is the bit of a slot's meta byte that marks a router.
const metaRouter = 1 << 5

// slotEntry fills e from the slot bytes s, which must be valid, all but
// an IPv6 address's first eight bytes (its prefix, from the prefix
// table), which it leaves zero.
func slotEntry(s []byte, e *Entry) {
	le := binary.LittleEndian
	_ = s[slotSize-1]
	*e = Entry{}
	e.Family = s[0]
	e.Kind = Kind(s[1] & 3)
	e.Source = Source(s[1] >> 2 & 7)
	e.Router = s[1]&metaRouter != 0
	if e.Kind == KindPositive {
		e.LLLen = s[2]
		copy(e.LLAddr[:], s[16:24])
	} else {
		e.Probes = s[2]
	}
	e.Ifindex = le.Uint32(s[4:])
	if e.Family == FamilyIPv4 {
		copy(e.Addr[:4], s[8:12])
	} else {
		copy(e.Addr[8:], s[8:16])
	}
	e.Updated = le.Uint32(s[24:])
}

// encodeSlot writes e, whose key's prefix has index pi in the prefix
// table (0 for IPv4), into s with its check for tag t.
func encodeSlot(s []byte, t uint16, e *Entry, pi uint8) {
	le := binary.LittleEndian
	_ = s[slotSize-1]
	clear(s)
	s[0] = e.Family
	s[1] = byte(e.Kind)&3 | byte(e.Source&7)<<2
	if e.Router {
		s[1] |= metaRouter
	}
	if e.Kind == KindPositive {
		s[2] = e.LLLen
		copy(s[16:24], e.LLAddr[:e.LLLen])
	} else {
		s[2] = e.Probes
	}
	le.PutUint32(s[4:], e.Ifindex)
	if e.Family == FamilyIPv4 {
		copy(s[8:12], e.Addr[:4])
	} else {
		s[3] = pi
		copy(s[8:16], e.Addr[8:])
	}
	le.PutUint32(s[24:], e.Updated)
	le.PutUint32(s[slotCheckOff:], slotCheck(t, s))
}
