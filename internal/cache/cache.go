package cache

import (
	"errors"
	"time"
)

// Errors a caller can test with errors.Is. The returned errors wrap them
// with the file name and the details.
var (
	// ErrNotCache is a file that is not an arpd cache file, or one of a
	// format version this package does not read.
	ErrNotCache = errors.New("not an arpd cache file")
	// ErrBerkeleyDB is the Berkeley DB database of iproute2's arpd.
	ErrBerkeleyDB = errors.New("Berkeley DB file from iproute2's arpd")
	// ErrCorrupt is a cache file whose static header, or both of whose
	// state pages, are damaged.
	ErrCorrupt = errors.New("damaged cache file header")
	// ErrInUse is a cache file another writer has open.
	ErrInUse = errors.New("cache file in use by another arpd")
	// ErrReadOnly is a write to a File opened with OpenReadOnly.
	ErrReadOnly = errors.New("cache opened read-only")
	// ErrOriginalsFull is a SaveOriginal for one interface more than the
	// state page has room for.
	ErrOriginalsFull = errors.New("no room for more saved sysctl values")
)

// Options are the settings for opening a cache file for writing.
type Options struct {
	// Capacity in entries. For a new file, 0 means DefaultCapacity. For
	// an existing file, 0 keeps its capacity, and any other value that
	// differs from it rebuilds the file with the new capacity.
	Capacity int
	// NegativeTTL is how long a negative entry lives, in seconds.
	NegativeTTL uint32
	// Now returns the time in Unix seconds; nil means the wall clock.
	Now func() uint32
	// Progress, when set, is called while a rebuild copies the entries,
	// every 65,536 entries, with the number copied and the number
	// to copy, so that a command on a terminal can show how far it is.
	Progress func(done, total int)
}

// File is an open cache file, used by one goroutine at a time (each
// process or goroutine that reads opens its own). A File opened for
// writing holds an exclusive flock on the file, so there is only ever one
// writer. Read-only Files take no lock.
type File struct {
	path     string
	fd       int // read-write descriptor, or -1 when read-only
	mem      []byte
	buckets  uint64
	k0, k1   uint64
	created  uint64
	readOnly bool
	now      func() uint32
	negTTL   uint32
	progress func(done, total int)

	// state is the in-memory copy of the newest state page; newest says
	// which page (0 for A, 1 for B) holds it on disk.
	state  state
	newest int

	// writes counts the pwrite calls made for slots and state pages: the
	// number of writes per operation is part of the design (one per
	// insert, none for a binding confirmed within refreshGrace), and
	// tests and benchmarks assert it.
	writes uint64

	// verified has a bit per slot, set once a writer's Lookup or Put has
	// found the slot valid and cleared whenever the slot is written: the
	// check of a slot read again is not computed again.
	//
	// NB: the check is what makes a lookup in a large file slow (it waits
	// on the slot's cache line and delays the next lookups), and a
	// writer's slots change only through its own writes. Damage to the
	// file while a writer has it open and locked, after a slot was read,
	// goes unseen until the slot is written or the file reopened;
	// read-only Files (arpd -l) check every read.
	verified []uint64

	// rng drives the choice of displacement victims.
	rng uint64

	// Preallocated buffers: the hot path allocates nothing.
	//
	// NB: rslot cannot live on the stack: hash/crc32 reaches its CPU
	// implementation through a function variable, so escape analysis
	// assumes every buffer it checksums escapes.
	wbuf  [bucketSize]byte // slot writes: a bucket's bytes, at their offsets
	rslot [slotSize]byte   // slot reads
	page  [pageSize]byte
	pfx   prefixes // the writer's copy of the prefix table

	// migratedFrom is the format version the file was converted from
	// when opened, or 0.
	migratedFrom uint32
}

// wallClock is the default clock: Unix seconds.
func wallClock() uint32 { return uint32(time.Now().Unix()) }

// Capacity returns the number of entries the file can hold.
func (f *File) Capacity() int { return int(f.buckets) * slotWays }

// Entries returns the number of entries stored.
func (f *File) Entries() uint64 { return f.state.entries }
