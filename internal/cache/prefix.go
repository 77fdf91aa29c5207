package cache

// The prefix table: an IPv6 slot stores its address's last eight bytes and
// the index, in this table, of its first eight (its /64 prefix). The
// neighbours of a segment share a few prefixes (fe80::/64 and the
// segment's own), so a slot is 32 bytes for either family instead of 44.

import (
	"encoding/binary"
	"hash/crc32"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// Prefix table geometry: entry i (1..255) at prefixOffset + 16·i; index 0
// is never used, so a slot's prefix byte 0 means IPv4.
//
// An entry: the prefix (the address's first eight bytes as a
// little-endian word), byte 8 set to 1, three zero bytes, and a CRC-32C of
// bytes 0..11 with the index as the initial value. An all-zero entry is
// free; any other that fails its check is damaged.
const (
	prefixEntrySize = 16
	prefixSlots     = 256
)

// prefixes is the writer's copy of the prefix table; it alone writes it.
type prefixes struct {
	p    [prefixSlots]uint64
	ok   [prefixSlots]bool // entry i holds p[i]
	high int               // entries 1..high-1 may be in use
}

// prefixEntry classifies entry i of the prefix table b (the table's page)
// and returns its prefix.
//
// NB: not inlined: its callers are all off the hot path, and each inlined
// copy costs the mips binary.
//
//go:noinline
func prefixEntry(b []byte, i int) (p uint64, st int) {
	e := b[i*prefixEntrySize : (i+1)*prefixEntrySize]
	le := binary.LittleEndian
	switch {
	case le.Uint64(e[0:])|le.Uint64(e[8:]) == 0:
		return 0, slotEmpty
	case e[8] != 1 || e[9]|e[10]|e[11] != 0 || le.Uint32(e[12:]) != crc32.Update(uint32(i), castagnoli, e[:12]):
		return 0, slotBad
	}
	return le.Uint64(e[0:]), slotValid
}

// encodePrefixEntry writes entry i for prefix p into e (16 bytes).
func encodePrefixEntry(e []byte, i int, p uint64) {
	clear(e)
	binary.LittleEndian.PutUint64(e[0:], p)
	e[8] = 1
	binary.LittleEndian.PutUint32(e[12:], crc32.Update(uint32(i), castagnoli, e[:12]))
}

// prefixPage returns the prefix table's page in the mapping.
func (f *File) prefixPage() []byte { return f.mem[prefixOffset : prefixOffset+pageSize] }

// loadPrefixes reads the prefix table of a freshly mapped file.
func (f *File) loadPrefixes() {
	f.pfx = prefixes{high: 1}
	b := f.prefixPage()
	for i := 1; i < prefixSlots; i++ {
		p, st := prefixEntry(b, i)
		if st != slotEmpty {
			f.pfx.high = i + 1
		}
		f.pfx.p[i], f.pfx.ok[i] = p, st == slotValid
	}
}

// prefixAt returns the prefix of index i and whether the table holds one.
// A reader reads the mapping each time: the writer may add prefixes.
//
// NB: a reader that copied a slot just before the writer recycled its
// index (clearing the slot, then writing the new prefix) could pair the
// old slot with the new prefix. Recycling happens once 255 prefixes were
// seen, readers only list, and the writer, which serves, never races
// itself.
func (f *File) prefixAt(i uint8) (uint64, bool) {
	if i == 0 {
		return 0, false
	}
	if !f.readOnly {
		return f.pfx.p[i], f.pfx.ok[i]
	}
	p, st := prefixEntry(f.prefixPage(), int(i))
	return p, st == slotValid
}

// findPrefix returns the index of prefix p, or 0 if the table lacks it.
func (f *File) findPrefix(p uint64) uint8 {
	if f.readOnly {
		for i := 1; i < prefixSlots; i++ {
			if q, st := prefixEntry(f.prefixPage(), i); st == slotValid && q == p {
				return uint8(i)
			}
		}
		return 0
	}
	for i := 1; i < f.pfx.high; i++ {
		if f.pfx.ok[i] && f.pfx.p[i] == p {
			return uint8(i)
		}
	}
	return 0
}

// prefixFor returns the index of prefix p, adding it to the table if it
// is not there: into a free entry, or, when none is left, into the entry
// whose prefix has the fewest entries, which are deleted first (see
// recyclePrefix).
//
// NB: the new entry is made durable (fdatasync) before any slot refers to
// it. Otherwise a power cut could keep a slot on disk and lose the entry,
// leaving an index that looks free while a slot still names it; given to
// another prefix, it would give that slot a wrong address. Prefixes are
// added a few times in a file's life, so the sync costs nothing that
// matters.
func (f *File) prefixFor(p uint64) (uint8, error) {
	if i := f.findPrefix(p); i != 0 {
		return i, nil
	}
	i := 0
	b := f.prefixPage()
	for j := 1; j < prefixSlots; j++ {
		if _, st := prefixEntry(b, j); st == slotEmpty {
			i = j
			break
		}
	}
	if i == 0 {
		var err error
		if i, err = f.recyclePrefix(); err != nil {
			return 0, err
		}
	}
	var e [prefixEntrySize]byte
	encodePrefixEntry(e[:], i, p)
	if err := pwriteFull(f.fd, e[:], int64(prefixOffset+i*prefixEntrySize)); err != nil {
		f.count(CounterWriteErrors)
		return 0, fmtlite.Errorf("write %s: %w", f.path, err)
	}
	if err := unix.Fdatasync(f.fd); err != nil {
		return 0, fmtlite.Errorf("sync %s: %w", f.path, err)
	}
	f.pfx.p[i], f.pfx.ok[i] = p, true
	f.pfx.high = max(f.pfx.high, i+1)
	return uint8(i), nil
}

// recyclePrefix frees an entry of a full prefix table and returns its
// index: a damaged entry if there is one, else the one whose prefix has
// the fewest valid entries. Every slot naming it is cleared (its entries
// count as evictions), and the clearing is made durable before the index
// is given to another prefix.
//
// It reads the whole file twice; it runs once 255 prefixes were seen,
// which takes years of a provider's daily renumbering.
func (f *File) recyclePrefix() (int, error) {
	var n [prefixSlots]int
	end := slotRef(len(f.mem))
	for r := f.nextSlot(0); r < end; r = f.nextSlot(r) {
		if s := f.slotBytes(r); s[0] == FamilyIPv6 && f.status(r) == slotValid {
			n[s[3]]++
		}
	}
	victim := 1
	for i := 1; i < prefixSlots; i++ {
		if !f.pfx.ok[i] {
			victim = i
			break
		}
		if n[i] < n[victim] {
			victim = i
		}
	}
	for r := f.nextSlot(0); r < end; r = f.nextSlot(r) {
		if s := f.slotBytes(r); s[0] != FamilyIPv6 || int(s[3]) != victim || f.tagAt(r) == 0 {
			continue
		}
		if f.status(r) == slotValid && f.state.entries > 0 {
			f.state.entries--
			f.count(CounterEvictions)
		}
		if err := f.clearSlot(r); err != nil {
			return 0, err
		}
	}
	f.pfx.ok[victim] = false
	if err := unix.Fdatasync(f.fd); err != nil {
		return 0, fmtlite.Errorf("sync %s: %w", f.path, err)
	}
	return victim, nil
}

// nextSlot returns the slot after r in file order (the first slot for
// r = 0); past the last, a slotRef at or beyond the file's end.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func (f *File) nextSlot(r slotRef) slotRef {
	switch {
	case r < headerSize:
		return ref(headerSize, 0)
	case r.way() < slotWays-1:
		return r + 1
	}
	return ref(r.bucket()+bucketSize, 0)
}

// freeDamagedPrefixes zeroes the damaged entries of the prefix table. The
// caller has cleared every slot that named one (recovery does: such slots
// fail their check), so the indexes are free again.
func (f *File) freeDamagedPrefixes() error {
	var zero [prefixEntrySize]byte
	for i := 1; i < prefixSlots; i++ {
		if _, st := prefixEntry(f.prefixPage(), i); st != slotBad {
			continue
		}
		if err := pwriteFull(f.fd, zero[:], int64(prefixOffset+i*prefixEntrySize)); err != nil {
			return fmtlite.Errorf("write %s: %w", f.path, err)
		}
		f.pfx.ok[i] = false
	}
	return nil
}

// fullStatus classifies slot bytes s with tag tag as slotStatus does, and
// an IPv6 slot whose prefix index names no prefix as damaged.
func (f *File) fullStatus(tag uint16, s []byte) int {
	st := slotStatus(tag, s)
	if st == slotValid && s[0] == FamilyIPv6 {
		if _, ok := f.prefixAt(s[3]); !ok {
			return slotBad
		}
	}
	return st
}

// decodeSlot fills e from the valid slot bytes s.
func (f *File) decodeSlot(s []byte, e *Entry) {
	slotEntry(s, e)
	if e.Family == FamilyIPv6 {
		p, _ := f.prefixAt(s[3])
		binary.LittleEndian.PutUint64(e.Addr[0:8], p)
	}
}

// slotKey returns the hash words of the key stored in the valid slot s.
func (f *File) slotKey(s []byte) (w0, w1, w2 uint64) {
	le := binary.LittleEndian
	w0 = uint64(s[0]) | uint64(le.Uint32(s[4:]))<<32
	if s[0] == FamilyIPv4 {
		return w0, uint64(le.Uint32(s[8:])), 0
	}
	p, _ := f.prefixAt(s[3])
	return w0, p, le.Uint64(s[8:])
}

// PrefixKnown reports whether an entry for k needs no new prefix in the
// prefix table: k is IPv4, or its first eight bytes are a prefix the
// table holds.
func (f *File) PrefixKnown(k *Key) bool {
	_, ok := f.prefixOf(k)
	return ok
}

// prefixOf returns the prefix index a slot for k holds: 0 for IPv4. ok is
// false when k is an IPv6 address whose prefix the table lacks: no slot
// holds it.
//
// NB: small enough to be inlined into Lookup (cost 80, the inliner's
// budget; Uint64 of the whole address, not of Addr[0:8], saves the last
// unit), where a call made a miss a fifth slower.
func (f *File) prefixOf(k *Key) (pi uint8, ok bool) {
	if k.Family == FamilyIPv4 {
		return 0, true
	}
	pi = f.findPrefix(binary.LittleEndian.Uint64(k.Addr[:]))
	return pi, pi != 0
}
