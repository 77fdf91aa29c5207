package cache

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// Open opens the cache file at path for writing, creating it if it does
// not exist, and rebuilding it if o.Capacity asks for another capacity.
//
// A file that is not an arpd cache, or whose header is damaged, is left
// untouched and an error naming the file and the problem is returned. A
// file left open by a writer that died is checked slot by slot first:
// damaged slots are dropped and counted (CounterCorruptSlots).
func Open(path string, o Options) (*File, error) {
	if o.Capacity != 0 && (o.Capacity < MinCapacity || o.Capacity > MaxCapacity) {
		return nil, fmtlite.Errorf("%s: capacity %d out of range %d..%d", path, o.Capacity, MinCapacity, MaxCapacity)
	}
	// NB: bounded retries: each round loses only if another process
	// replaced the file between our open and our lock.
	for try := 0; try < 10; try++ {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			f, err := create(path, o)
			if errors.Is(err, errRaced) {
				continue
			}
			return f, err
		}
		if err != nil {
			return nil, fmtlite.Errorf("open %s for writing: %w", path, err)
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, inUseError(path)
			}
			return nil, fmtlite.Errorf("lock %s: %w", path, err)
		}
		if !sameFile(fd, path) {
			unix.Close(fd) // replaced while we locked it; open the new one
			continue
		}
		return openLocked(path, fd, o)
	}
	return nil, fmtlite.Errorf("open %s: the file kept being replaced by another process", path)
}

// openLocked attaches the existing file open and locked on fd for
// writing, recovers it if its last writer died, and rebuilds it if
// o.Capacity asks for another capacity.
func openLocked(path string, fd int, o Options) (*File, error) {
	f, err := attach(path, fd, false, o)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := f.beginWriting(); err != nil {
		f.closeFiles()
		return nil, err
	}
	if o.Capacity != 0 && o.Capacity != f.Capacity() && bucketsFor(o.Capacity) != f.buckets {
		if err := f.Rebuild(o.Capacity, nil); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// OpenReadOnly opens the cache file at path for reading while its
// writer, if any, keeps writing. It takes no lock and writes nothing.
func OpenReadOnly(path string) (*File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmtlite.Errorf("open %s: %w", path, err)
	}
	f, err := attach(path, fd, true, Options{})
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return f, nil
}

// errRaced reports that another process created the file first.
var errRaced = errors.New("raced")

// inUseError builds the error for a file another writer holds, naming its
// pid when the file says which.
func inUseError(path string) error {
	if r, err := OpenReadOnly(path); err == nil {
		pid, _, open := r.Owner()
		r.Close()
		if open && pid != 0 {
			return fmtlite.Errorf("%s: %w (pid %d)", path, ErrInUse, pid)
		}
	}
	return fmtlite.Errorf("%s: %w", path, ErrInUse)
}

// sameFile reports whether fd is still the file at path.
func sameFile(fd int, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// exists reports whether there is a file (of any kind) at path.
func exists(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil
}

// attach validates the file open on fd and maps it. It writes nothing.
func attach(path string, fd int, readOnly bool, o Options) (*File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmtlite.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmtlite.Errorf("%s: %w: not a regular file", path, ErrNotCache)
	}
	var hdr [pageSize]byte
	n, err := unix.Pread(fd, hdr[:], 0)
	if err != nil {
		return nil, fmtlite.Errorf("read %s: %w", path, err)
	}
	geo, err := parseStaticHeader(hdr[:n], st.Size)
	if errors.Is(err, ErrBerkeleyDB) {
		return nil, fmtlite.Errorf("%s: %w; this arpd has its own format and will not overwrite it. "+
			"To migrate, list it with iproute2's arpd (arpd -l -b %s > arpd.txt), move it aside, "+
			"then load the list with this arpd (arpd -b %s -f arpd.txt)", path, err, path, path)
	}
	if err != nil {
		return nil, fmtlite.Errorf("%s: %w", path, err)
	}
	if geo.version == v2Version {
		return migrateV2(path, fd, geo, readOnly, o)
	}
	f := &File{
		path:     path,
		fd:       fd,
		buckets:  geo.buckets,
		k0:       geo.k0,
		k1:       geo.k1,
		created:  geo.created,
		readOnly: readOnly,
		now:      o.Now,
		negTTL:   o.NegativeTTL,
		progress: o.Progress,
	}
	if f.now == nil {
		f.now = wallClock
	}
	if err := f.readState(); err != nil {
		return nil, fmtlite.Errorf("%s: %w", path, err)
	}
	if err := f.mapFile(readOnly); err != nil {
		return nil, err
	}
	if readOnly {
		f.fd = -1
		unix.Close(fd)
	}
	return f, nil
}

// readState loads the newest valid state page. The writer only ever
// writes the older page, so a reader racing with it still finds the newer
// one intact; a few retries cover the rare read that straddles two saves.
func (f *File) readState() error {
	var a, b state
	for try := 0; try < 5; try++ {
		if _, err := unix.Pread(f.fd, f.page[:], stateOffsetA); err != nil {
			return err
		}
		okA := decodeState(f.page[:], &a)
		if _, err := unix.Pread(f.fd, f.page[:], stateOffsetB); err != nil {
			return err
		}
		okB := decodeState(f.page[:], &b)
		switch {
		case okA && (!okB || a.seq > b.seq):
			f.state, f.newest = a, 0
			return nil
		case okB:
			f.state, f.newest = b, 1
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmtlite.Errorf("%w: both state pages are damaged", ErrCorrupt)
}

// pwriteFull writes all of b at off, retrying on EINTR and short writes.
func pwriteFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.EIO
		}
		b = b[n:]
		off += int64(n)
	}
	return nil
}

// mapFile maps the whole file read-only and shared.
//
// NB: the mapping comes from a read-only descriptor (reopened through
// /proc/self/fd for a writer), so the kernel marks it neither shared-
// writable nor may-write. That is what JFFS2 requires; msync on such a
// mapping would be a no-op, which is why Sync uses fdatasync on the
// read-write descriptor instead.
func (f *File) mapFile(readOnly bool) error {
	size := int(fileSizeFor(f.buckets))
	mfd := f.fd
	if !readOnly {
		rfd, err := unix.Open(fmtlite.Sprintf("/proc/self/fd/%d", f.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			mfd = rfd
			defer unix.Close(rfd)
		}
		// Without /proc, map the read-write descriptor: that works on
		// every file system but JFFS2-like ones.
	}
	mem, err := unix.Mmap(mfd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmtlite.Errorf("mmap %s: %w", f.path, err)
	}
	f.mem = mem
	f.loadPrefixes()
	if !readOnly {
		f.verified = make([]uint64, (f.buckets*slotWays+63)/64)
	}
	advice := unix.MADV_RANDOM
	if readOnly {
		advice = unix.MADV_SEQUENTIAL
	}
	_ = unix.Madvise(mem, advice) // advice only
	return nil
}

// Close saves the state, marks the file closed cleanly, syncs it and
// releases it. For a read-only File it only unmaps.
func (f *File) Close() error {
	if f.mem == nil {
		return nil
	}
	var err error
	if !f.readOnly {
		f.state.flags &^= stateFlagOpen
		if e := f.SaveState(); e != nil {
			err = e
		}
		if e := unix.Fdatasync(f.fd); e != nil && err == nil {
			err = fmtlite.Errorf("sync %s: %w", f.path, e)
		}
	}
	f.closeFiles()
	return err
}

// closeFiles unmaps the file and closes its descriptor without writing.
func (f *File) closeFiles() {
	if f.mem != nil {
		unix.Munmap(f.mem)
		f.mem = nil
	}
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

// discard removes a file made by build that will not be committed.
func (f *File) discard() {
	unix.Unlink(f.path)
	f.closeFiles()
}

// Sync saves the state and flushes the file to stable storage. The
// daemon calls it on its sync interval, on SIGHUP and at exit, and at no
// other time, so flash is not worn out.
func (f *File) Sync() error {
	if err := f.SaveState(); err != nil {
		return err
	}
	if err := unix.Fdatasync(f.fd); err != nil {
		return fmtlite.Errorf("sync %s: %w", f.path, err)
	}
	return nil
}

// newSeed returns a random 128-bit hash key from the kernel.
func newSeed() (k0, k1 uint64, err error) {
	var b [16]byte
	for got := 0; got < len(b); {
		n, err := unix.Getrandom(b[got:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, 0, fmtlite.Errorf("getrandom: %w", err)
		}
		got += n
	}
	return binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), nil
}

// createLocked creates (or truncates) the file tmp, locks it and makes it
// a sparse file of size bytes, for a new cache file that is to replace
// the one at path. On error tmp is removed.
//
// NB: truncating to 0 first drops whatever a crashed build left; the
// second ftruncate makes the file sparse at its full size.
func createLocked(path, tmp string, size int64) (int, error) {
	fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmtlite.Errorf("create %s: %w", tmp, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return -1, fmtlite.Errorf("%s: %w (it is being rebuilt)", path, ErrInUse)
		}
		return -1, fmtlite.Errorf("lock %s: %w", tmp, err)
	}
	if err := unix.Ftruncate(fd, 0); err != nil {
		return -1, abandon(fd, tmp, fmtlite.Errorf("truncate %s: %w", tmp, err))
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		return -1, abandon(fd, tmp, fmtlite.Errorf("size %s: %w", tmp, err))
	}
	return fd, nil
}

// abandon removes the file tmp, being made on fd, closes fd and returns
// err.
func abandon(fd int, tmp string, err error) error {
	unix.Unlink(tmp)
	unix.Close(fd)
	return err
}

// commitFile syncs the file open on fd and renames it from tmp to path,
// durably.
func commitFile(fd int, tmp, path string) error {
	if err := unix.Fsync(fd); err != nil {
		return fmtlite.Errorf("sync %s: %w", tmp, err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		return fmtlite.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir fsyncs a directory so that a rename in it is durable. Errors are
// ignored: some file systems cannot sync directories, and the rename has
// happened either way.
func syncDir(dir string) {
	if fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		unix.Fsync(fd)
		unix.Close(fd)
	}
}
