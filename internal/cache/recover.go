package cache

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// beginWriting marks the file as open by this process. If the previous
// writer did not close it cleanly, every slot is checked first.
func (f *File) beginWriting() error {
	if f.state.flags&stateFlagOpen != 0 {
		if err := f.recover(); err != nil {
			return err
		}
	}
	f.state.flags |= stateFlagOpen
	f.state.pid = uint32(unix.Getpid())
	f.state.started = uint64(f.now())
	return f.SaveState()
}

// recover checks every slot after an unclean shutdown: damaged slots and
// duplicates left by an interrupted displacement are zeroed, and the entry
// count is recomputed. The damaged slots are counted in
// CounterCorruptSlots.
func (f *File) recover() error {
	var entries uint64
	bad := 0
	for base := int64(headerSize); base+bucketSize <= int64(len(f.mem)); base += bucketSize {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			switch f.status(r) {
			case slotEmpty:
			case slotValid:
				if f.duplicateBefore(r) {
					if err := f.clearSlot(r); err != nil {
						return err
					}
					continue
				}
				entries++
			default:
				if err := f.clearSlot(r); err != nil {
					return err
				}
				bad++
			}
		}
	}
	f.state.entries = entries
	f.state.counters[CounterCorruptSlots] += uint64(bad)
	// No slot names a damaged prefix entry now: those failed their check.
	return f.freeDamagedPrefixes()
}

// duplicateBefore reports whether the valid entry in slot r also sits in
// a slot with a lower offset in one of its two buckets.
func (f *File) duplicateBefore(r slotRef) bool {
	s := f.slotBytes(r)
	c0, c1 := binary.LittleEndian.Uint64(s[0:])&^0x00ffff00, binary.LittleEndian.Uint64(s[8:])
	b1, b2, tag := f.locate(f.slotKey(s))
	for m := f.candidates(b1, b2, tag); m != 0; m &= m - 1 {
		q := slotIn(m, b1, b2)
		if q.off() < r.off() && keyMatches(f.slotBytes(q), c0, c1) && f.status(q) == slotValid {
			return true
		}
	}
	return false
}
