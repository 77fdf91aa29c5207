package cache

import (
	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// create makes a new, empty cache file at path. It builds the file beside
// path and renames it into place, so a crash never leaves a half-made file
// at path.
func create(path string, o Options) (*File, error) {
	f, err := build(path, bucketsFor(o.Capacity), o)
	if err != nil {
		return nil, err
	}
	if exists(path) {
		f.discard() // another arpd made it meanwhile: open that one
		return nil, errRaced
	}
	if err := f.commit(path); err != nil {
		f.discard()
		return nil, err
	}
	return f, nil
}

// build makes an empty cache file with n buckets at path+".new", locked
// and open for writing. The caller fills it and then commits or discards
// it.
func build(path string, n uint64, o Options) (*File, error) {
	tmp := path + ".new"
	fd, err := createLocked(path, tmp, fileSizeFor(n))
	if err != nil {
		return nil, err
	}
	return buildOn(fd, tmp, n, o)
}

// buildMem makes an empty cache file with n buckets in memory (a memfd),
// open for writing, to convert an older file into for a reader.
func buildMem(n uint64, o Options) (*File, error) {
	fd, err := unix.MemfdCreate("arpd-cache", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmtlite.Errorf("memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, fileSizeFor(n)); err != nil {
		unix.Close(fd)
		return nil, fmtlite.Errorf("memfd: %w", err)
	}
	return buildOn(fd, "", n, o)
}

// buildOn writes the header of an empty cache file with n buckets into
// the new file tmp, open on fd, and maps it. On error fd is closed and
// tmp removed.
func buildOn(fd int, tmp string, n uint64, o Options) (*File, error) {
	k0, k1, err := newSeed()
	if err != nil {
		return nil, abandon(fd, tmp, err)
	}
	now := o.Now
	if now == nil {
		now = wallClock
	}
	f := &File{path: tmp, fd: fd, buckets: n, k0: k0, k1: k1, created: uint64(now()), now: now, negTTL: o.NegativeTTL, newest: 1}
	encodeStaticHeader(f.page[:], geometry{buckets: n, k0: k0, k1: k1, created: f.created})
	if err := pwriteFull(fd, f.page[:], 0); err != nil {
		return nil, abandon(fd, tmp, fmtlite.Errorf("write %s: %w", tmp, err))
	}
	f.state.flags = stateFlagOpen
	f.state.pid = uint32(unix.Getpid())
	f.state.started = f.created
	if err := f.SaveState(); err != nil {
		return nil, abandon(fd, tmp, err)
	}
	if err := f.mapFile(false); err != nil {
		return nil, abandon(fd, tmp, err)
	}
	return f, nil
}

// commit saves the state of a file made by build, syncs it and renames it
// to path.
func (f *File) commit(path string) error {
	if err := f.SaveState(); err != nil {
		return err
	}
	if err := commitFile(f.fd, f.path, path); err != nil {
		return err
	}
	f.path = path
	return nil
}

// progressEvery is how many entries a rebuild copies between calls of
// Options.Progress.
const progressEvery = 1 << 16

// Rebuild replaces the file with a new one of the given capacity (0 keeps
// the current one) holding all current entries, then runs fill on the new
// file, and renames it into place only if fill succeeds. On error the old
// file stays exactly as it was and f still refers to it.
//
// When the new capacity is smaller than the number of entries, each full
// bucket keeps its most recently updated entries; the rest are counted as
// evictions.
func (f *File) Rebuild(capacity int, fill func(n *File) error) error {
	if f.readOnly {
		return ErrReadOnly
	}
	if capacity == 0 {
		capacity = f.Capacity()
	}
	if capacity < MinCapacity || capacity > MaxCapacity {
		return fmtlite.Errorf("%s: capacity %d out of range %d..%d", f.path, capacity, MinCapacity, MaxCapacity)
	}
	n, err := build(f.path, bucketsFor(capacity), Options{NegativeTTL: f.negTTL, Now: f.now})
	if err != nil {
		return err
	}
	n.progress = f.progress
	var perr error
	done, total := 0, int(f.state.entries)
	f.Range(func(e *Entry) bool {
		_, perr = n.Put(e)
		if done++; f.progress != nil && done%progressEvery == 0 {
			f.progress(done, total)
		}
		return perr == nil
	})
	if perr == nil && fill != nil {
		perr = fill(n)
	}
	if perr != nil {
		n.discard()
		return perr
	}
	// Carry the mutable header over: saved sysctls, owner, and the old
	// counters added to what was counted while filling the new file.
	n.state.originals = f.state.originals
	for i, v := range f.state.counters {
		n.state.counters[i] += v
	}
	n.state.flags, n.state.pid, n.state.started = f.state.flags, f.state.pid, f.state.started
	if err := n.commit(f.path); err != nil {
		n.discard()
		return err
	}
	f.closeFiles()
	*f = *n
	return nil
}
