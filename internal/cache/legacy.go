package cache

// Format version 2, read only to migrate it: 44-byte slots holding the
// whole address (and a first-seen time), under a three-page header.

import (
	"encoding/binary"
	"hash/crc32"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// Version 2's geometry; its static header and state pages are laid out as
// version 3's.
const (
	v2Version    = 2
	v2HeaderSize = 3 * pageSize
	v2SlotSize   = 44
	v2BucketSize = tagsSize + slotWays*v2SlotSize
	v2CheckOff   = 40
)

// v2Entry decodes the version-2 slot bytes s, whose tag is tag, into e and
// reports whether the slot holds a valid entry.
//
// A version-2 slot: family, meta (as version 3's), lladdr length, probes,
// ifindex (uint32 at 4), the address (16 bytes at 8), lladdr (8 bytes at
// 24), first seen (uint32 at 32, not kept), updated (uint32 at 36), and
// at 40 a CRC-32C of bytes 0..39 with the tag as the initial value.
func v2Entry(tag uint16, s []byte, e *Entry) bool {
	le := binary.LittleEndian
	_ = s[v2SlotSize-1]
	if tag == 0 || s[0] != FamilyIPv4 && s[0] != FamilyIPv6 ||
		crc32.Update(uint32(tag), castagnoli, s[:v2CheckOff]) != le.Uint32(s[v2CheckOff:]) {
		return false
	}
	*e = Entry{Kind: Kind(s[1] & 3), Source: Source(s[1] >> 2 & 7), Router: s[1]&metaRouter != 0, LLLen: s[2], Probes: s[3]}
	if e.Kind != KindPositive && e.Kind != KindNegative || e.LLLen > 8 {
		return false
	}
	e.Family, e.Ifindex = s[0], le.Uint32(s[4:])
	copy(e.Addr[:], s[8:24])
	copy(e.LLAddr[:], s[24:32])
	e.Updated = le.Uint32(s[36:])
	return true
}

// migrateV2 converts the version-2 file at path, open on fd, to the
// current format, and returns the new File; fd is closed on success and
// left open on error, with the old file untouched.
//
// A writer's new file replaces the old one, keeping its capacity, entries,
// saved sysctls and counters (damaged slots are dropped and counted). A
// reader (readOnly) gets the same conversion in memory (a memfd), and the
// file is left as it is.
func migrateV2(path string, fd int, g geometry, readOnly bool, o Options) (*File, error) {
	old, err := unix.Mmap(fd, 0, int(v2HeaderSize+g.buckets*v2BucketSize), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmtlite.Errorf("mmap %s: %w", path, err)
	}
	defer unix.Munmap(old)
	src := &File{fd: fd, path: path}
	if err := src.readState(); err != nil {
		return nil, fmtlite.Errorf("%s: %w", path, err)
	}
	var n *File
	if readOnly {
		n, err = buildMem(g.buckets, o)
	} else {
		n, err = build(path, g.buckets, o)
	}
	if err != nil {
		return nil, err
	}
	bad, err := copyV2(old, n)
	if err != nil {
		n.discard()
		return nil, err
	}
	n.state.originals, n.state.counters = src.state.originals, src.state.counters
	n.state.counters[CounterCorruptSlots] += uint64(bad)
	n.migratedFrom = v2Version
	if readOnly {
		n.state.flags, n.state.pid, n.state.started = src.state.flags, src.state.pid, src.state.started
		n.readOnly, n.path = true, path
		unix.Close(n.fd)
		n.fd = -1
	} else {
		n.state.flags, n.state.pid, n.state.started = 0, 0, 0
		if err := n.commit(path); err != nil {
			n.discard()
			return nil, err
		}
	}
	unix.Close(fd)
	return n, nil
}

// copyV2 puts every valid entry of the version-2 file mapped at old into
// n, and returns the number of damaged slots it skipped.
func copyV2(old []byte, n *File) (bad int, err error) {
	var e Entry
	for base := v2HeaderSize; base+v2BucketSize <= len(old); base += v2BucketSize {
		for i := 0; i < slotWays; i++ {
			tag := binary.LittleEndian.Uint16(old[base+i*tagSize:])
			s := old[base+tagsSize+i*v2SlotSize : base+tagsSize+(i+1)*v2SlotSize]
			if !v2Entry(tag, s, &e) {
				if tag != 0 || !allZero(s) {
					bad++
				}
				continue
			}
			if _, err := n.Put(&e); err != nil {
				return bad, err
			}
		}
	}
	return bad, nil
}

// allZero reports whether b is all zero bytes.
func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// MigratedFrom returns the format version the file was converted from
// when it was opened (the daemon logs it), or 0.
func (f *File) MigratedFrom() uint32 { return f.migratedFrom }
