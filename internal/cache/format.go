package cache

import (
	"encoding/binary"
	"hash/crc32"

	"arpd/internal/fmtlite"
)

// File geometry. Changing any of these is a format change: bump
// formatVersion.
const (
	formatMagic   = "ARPDHASH"
	formatVersion = 3
	pageSize      = 4096
	headerSize    = 4 * pageSize
	stateOffsetA  = 1 * pageSize
	stateOffsetB  = 2 * pageSize
	prefixOffset  = 3 * pageSize // the IPv6 prefix table (prefix.go)
	slotSize      = 32
	slotWays      = 8
	tagSize       = 2
	tagsSize      = slotWays * tagSize // the tag words at the start of a bucket
	bucketSize    = tagsSize + slotWays*slotSize
	slotCheckOff  = 28
	staticCRCOff  = 124
	stateCRCOff   = pageSize - 4
	originalsOff  = 64
	originalSize  = 32
	maxOriginals  = 64
	countersOff   = originalsOff + maxOriginals*originalSize
	ifNameSize    = 16
	stateFlagOpen = 1 << 0 // a writer has the file open (or crashed)
)

// Capacity limits, in entries.
const (
	// DefaultCapacity is the capacity of a new file when Options.Capacity
	// is 0.
	DefaultCapacity = 65536
	// MinCapacity is the smallest capacity Open accepts.
	MinCapacity = 64
	// MaxCapacity is the largest capacity Open accepts.
	MaxCapacity = 1 << 24
)

// castagnoli is the CRC-32C table; hash/crc32 uses the CPU's CRC
// instructions for it where there are any.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// geometry is what the static header says about the file.
type geometry struct {
	version uint32 // formatVersion, or v2Version for a file to migrate
	buckets uint64
	k0, k1  uint64
	created uint64
}

// bucketsFor returns the number of buckets for capacity entries.
func bucketsFor(capacity int) uint64 {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return uint64((capacity + slotWays - 1) / slotWays)
}

// fileSizeFor returns the size of a cache file with n buckets.
func fileSizeFor(n uint64) int64 { return headerSize + int64(n)*bucketSize }

// layout is a format version's geometry: the sizes its static header
// records, which must match.
type layout struct {
	header, slot, ways, bucket uint32
}

// layoutOf returns the geometry of format version v, and whether this
// package reads that version.
func layoutOf(v uint32) (layout, bool) {
	switch v {
	case formatVersion:
		return layout{headerSize, slotSize, slotWays, bucketSize}, true
	case v2Version:
		return layout{v2HeaderSize, v2SlotSize, slotWays, v2BucketSize}, true
	}
	return layout{}, false
}

// parseStaticHeader checks the first bytes of a file (up to a page) and
// the file's size, and returns the geometry they describe. Its errors say
// what is wrong, without the file name.
func parseStaticHeader(b []byte, size int64) (geometry, error) {
	var g geometry
	if isBerkeleyDB(b) {
		return g, ErrBerkeleyDB
	}
	if len(b) < len(formatMagic) || string(b[:len(formatMagic)]) != formatMagic {
		if size == 0 {
			return g, fmtlite.Errorf("%w: the file is empty", ErrNotCache)
		}
		return g, fmtlite.Errorf("%w: unknown format (no %q magic)", ErrNotCache, formatMagic)
	}
	if len(b) < staticCRCOff+4 {
		return g, fmtlite.Errorf("%w: truncated to %d bytes", ErrCorrupt, size)
	}
	if crc32.Checksum(b[:staticCRCOff], castagnoli) != binary.LittleEndian.Uint32(b[staticCRCOff:]) {
		return g, fmtlite.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	le := binary.LittleEndian
	g.version = le.Uint32(b[8:])
	want, ok := layoutOf(g.version)
	if !ok {
		return g, fmtlite.Errorf("%w: format version %d, this arpd reads versions %d and %d only%s", ErrNotCache, g.version, v2Version, formatVersion, versionHint(g.version))
	}
	if got := (layout{le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[28:])}); got != want {
		return g, fmtlite.Errorf("%w: its sizes (header, slot, ways, bucket) are not those of format version %d", ErrCorrupt, g.version)
	}
	g.buckets = uint64(le.Uint32(b[24:]))
	if g.buckets == 0 || g.buckets*slotWays > MaxCapacity {
		return g, fmtlite.Errorf("%w: %d buckets", ErrCorrupt, g.buckets)
	}
	if want := int64(want.header) + int64(g.buckets)*int64(want.bucket); size != want {
		return g, fmtlite.Errorf("%w: size %d bytes, its header says %d (truncated or extended)", ErrCorrupt, size, want)
	}
	g.k0 = le.Uint64(b[32:])
	g.k1 = le.Uint64(b[40:])
	g.created = le.Uint64(b[48:])
	return g, nil
}

// versionHint says what to do with a cache file of format version v that
// this arpd does not read.
func versionHint(v uint32) string {
	if v < v2Version {
		return "; it was made by an older arpd. Stop that arpd cleanly (it restores the " +
			"sysctls it changed), list the file with its -l to keep the entries, move " +
			"the file aside, and load the list with this arpd's -f"
	}
	return "; it was made by a newer arpd"
}

// isBerkeleyDB reports whether b starts like a Berkeley DB file, as
// iproute2's arpd writes: a hash, btree or queue magic number at offset 12
// in either byte order.
func isBerkeleyDB(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	for _, m := range [...]uint32{0x061561, 0x053162, 0x042253} {
		if binary.LittleEndian.Uint32(b[12:]) == m || binary.BigEndian.Uint32(b[12:]) == m {
			return true
		}
	}
	return false
}

// encodeStaticHeader writes the static header for g into b (a page).
func encodeStaticHeader(b []byte, g geometry) {
	clear(b)
	le := binary.LittleEndian
	copy(b, formatMagic)
	le.PutUint32(b[8:], formatVersion)
	le.PutUint32(b[12:], headerSize)
	le.PutUint32(b[16:], slotSize)
	le.PutUint32(b[20:], slotWays)
	le.PutUint32(b[24:], uint32(g.buckets))
	le.PutUint32(b[28:], bucketSize)
	le.PutUint64(b[32:], g.k0)
	le.PutUint64(b[40:], g.k1)
	le.PutUint64(b[48:], g.created)
	le.PutUint32(b[staticCRCOff:], crc32.Checksum(b[:staticCRCOff], castagnoli))
}
