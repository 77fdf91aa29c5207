package cache

import (
	"encoding/binary"
	"hash/crc32"
	"time"

	"arpd/internal/fmtlite"
)

// The counters of the state page, by index. A counter's index is its
// place in the file: indices are never reordered or reused.
//
// The cache counts its own events at the indices named here (0 to 6, and
// 8). Every other index, 7 and 9 to NumCounters-1, belongs to the program
// that writes the file, which counts there with Add; index 7 sits among
// the cache's for historical reasons (the program's count of loaded
// entries). Counter reads any index.
const (
	CounterInserts          = 0 // new keys stored
	CounterUpdates          = 1 // stored keys rewritten
	CounterDeletes          = 2 // entries removed
	CounterEvictions        = 3 // entries pushed out of a full bucket
	CounterEvictedNegatives = 4 // of which expired negative entries
	CounterCorruptSlots     = 5 // damaged slots dropped
	CounterWriteErrors      = 6 // failed writes to the file
	CounterMoves            = 8 // entries moved to their other bucket to make room

	// NumCounters is the number of counters the state page holds.
	NumCounters = 96
)

// state is the mutable part of the header: written on every state save,
// in the older of the two state pages.
type state struct {
	seq       uint64
	flags     uint32
	pid       uint32
	started   uint64 // Unix seconds when the current writer opened the file
	saved     uint64 // Unix seconds of this save
	entries   uint64
	originals [maxOriginals]originalRecord
	counters  [NumCounters]uint64
}

// originalRecord is SysctlOriginal in its fixed-size form.
type originalRecord struct {
	name   [ifNameSize]byte
	family uint8
	used   bool
	app    int32
	mcast  int32
}

// Compile-time check: the counters fit between the originals and the
// page's check.
var _ = [stateCRCOff - countersOff - 8*NumCounters]struct{}{}

// decodeState parses one state page. It reports false if the page is not
// a valid state (never written, torn or damaged).
func decodeState(b []byte, s *state) bool {
	le := binary.LittleEndian
	if crc32.Checksum(b[:stateCRCOff], castagnoli) != le.Uint32(b[stateCRCOff:]) {
		return false
	}
	s.seq = le.Uint64(b[0:])
	if s.seq == 0 {
		return false
	}
	s.flags = le.Uint32(b[8:])
	s.pid = le.Uint32(b[12:])
	s.started = le.Uint64(b[16:])
	s.saved = le.Uint64(b[24:])
	s.entries = le.Uint64(b[32:])
	for i := range s.originals {
		r := b[originalsOff+i*originalSize:]
		o := &s.originals[i]
		copy(o.name[:], r[:ifNameSize])
		o.family = r[16]
		o.used = r[17]&1 != 0
		o.app = int32(le.Uint32(r[20:]))
		o.mcast = int32(le.Uint32(r[24:]))
	}
	for i := range s.counters {
		s.counters[i] = le.Uint64(b[countersOff+8*i:])
	}
	return true
}

// encodeState writes s into b (a page), with its checksum.
func encodeState(b []byte, s *state) {
	clear(b)
	le := binary.LittleEndian
	le.PutUint64(b[0:], s.seq)
	le.PutUint32(b[8:], s.flags)
	le.PutUint32(b[12:], s.pid)
	le.PutUint64(b[16:], s.started)
	le.PutUint64(b[24:], s.saved)
	le.PutUint64(b[32:], s.entries)
	for i := range s.originals {
		o := &s.originals[i]
		if !o.used {
			continue
		}
		r := b[originalsOff+i*originalSize:]
		copy(r[:ifNameSize], o.name[:])
		r[16] = o.family
		r[17] = 1
		le.PutUint32(r[20:], uint32(o.app))
		le.PutUint32(r[24:], uint32(o.mcast))
	}
	for i, v := range s.counters {
		le.PutUint64(b[countersOff+8*i:], v)
	}
	le.PutUint32(b[stateCRCOff:], crc32.Checksum(b[:stateCRCOff], castagnoli))
}

// SaveState writes the mutable header (counters, saved sysctl values,
// entry count, owner) to the older state page.
func (f *File) SaveState() error {
	if f.readOnly {
		return ErrReadOnly
	}
	f.state.seq++
	f.state.saved = uint64(f.now())
	encodeState(f.page[:], &f.state)
	target := 1 - f.newest
	off := int64(stateOffsetA)
	if target == 1 {
		off = stateOffsetB
	}
	f.writes++
	if err := pwriteFull(f.fd, f.page[:], off); err != nil {
		return fmtlite.Errorf("write %s: %w", f.path, err)
	}
	f.newest = target
	return nil
}

// Owner returns the pid of the writer that has the file open (0 if none
// is recorded) and when it opened it.
func (f *File) Owner() (pid uint32, started time.Time, open bool) {
	return f.state.pid, time.Unix(int64(f.state.started), 0), f.state.flags&stateFlagOpen != 0
}

// Counter returns counter i (0 <= i < NumCounters) as last saved
// (read-only) or as counted now.
func (f *File) Counter(i int) uint64 { return f.state.counters[i] }

// Add adds n to counter i, one of the program's: 7, or 9 to
// NumCounters-1 (the cache counts its own). It does not write; SaveState
// does.
//
// NB: not inlined: the program counts in some fifty places, and each
// inlined copy's bounds check and position tables cost the mips binary
// 1.5 KB in all; a call costs a few nanoseconds of a request's
// microseconds.
//
//go:noinline
func (f *File) Add(i int, n uint64) { f.state.counters[i] += n }

// count adds 1 to the cache's counter i.
func (f *File) count(i int) { f.state.counters[i]++ }

// SysctlOriginal is an interface's sysctl values as they were before arpd
// adjusted them, kept in the file so that a restart after a crash restores
// the true originals and not the values it finds adjusted.
type SysctlOriginal struct {
	Name         string // interface name
	Family       uint8  // FamilyIPv4 (net.ipv4.neigh) or FamilyIPv6
	AppSolicit   int32
	McastSolicit int32
}

// Originals returns the saved sysctl values.
func (f *File) Originals() []SysctlOriginal {
	var out []SysctlOriginal
	for i := range f.state.originals {
		o := &f.state.originals[i]
		if o.used {
			out = append(out, SysctlOriginal{Name: cString(o.name[:]), Family: o.family, AppSolicit: o.app, McastSolicit: o.mcast})
		}
	}
	return out
}

// SaveOriginal records o (replacing a record for the same interface and
// family) and writes the state at once, so that it survives a crash.
func (f *File) SaveOriginal(o SysctlOriginal) error {
	if f.readOnly {
		return ErrReadOnly
	}
	if o.Name == "" || len(o.Name) >= ifNameSize {
		return fmtlite.Errorf("save sysctl values: bad interface name %q", o.Name)
	}
	slot := -1
	for i := range f.state.originals {
		r := &f.state.originals[i]
		if r.used && r.family == o.Family && cString(r.name[:]) == o.Name {
			slot = i
			break
		}
		if !r.used && slot < 0 {
			slot = i
		}
	}
	if slot < 0 {
		return fmtlite.Errorf("%s: %w (%d interfaces)", f.path, ErrOriginalsFull, maxOriginals)
	}
	r := &f.state.originals[slot]
	*r = originalRecord{family: o.Family, used: true, app: o.AppSolicit, mcast: o.McastSolicit}
	copy(r.name[:], o.Name)
	return f.SaveState()
}

// ClearOriginal forgets the saved values of interface name and family
// (after they were restored) and writes the state at once.
func (f *File) ClearOriginal(name string, family uint8) error {
	if f.readOnly {
		return ErrReadOnly
	}
	for i := range f.state.originals {
		r := &f.state.originals[i]
		if r.used && r.family == family && cString(r.name[:]) == name {
			*r = originalRecord{}
			return f.SaveState()
		}
	}
	return nil
}

// cString returns the NUL-terminated string at the start of b.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func cString(b []byte) string {
	for i, x := range b {
		if x == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
