package main

// The cache file: a fixed-size, set-associative hash table of neighbour
// entries, mapped read-only and written slot by slot with pwrite.
//
// Why this shape:
//
//   - Every write goes straight to the page cache (pwrite), so a process
//     killed with SIGKILL loses nothing, and any reader (arpd -l) that maps
//     the same file sees each write as soon as pwrite returns.
//   - The mapping is read-only and comes from a read-only descriptor.
//     OpenWrt's JFFS2 overlay (generic_file_readonly_mmap) refuses shared
//     mappings that may become writable, and a stray store through a
//     read-only mapping faults instead of corrupting the file.
//   - The file never grows. Its capacity is fixed when it is made; a new
//     capacity builds a new file and renames it into place.
//   - The file is made sparse with ftruncate, so untouched buckets cost no
//     RAM on tmpfs, where OpenWrt keeps /var.
//
// On-disk layout (all integers little-endian, whatever the host):
//
//	offset 0      static header page (magic, version, geometry, seed, CRC)
//	offset 4096   state page A  } the mutable header, written alternately so
//	offset 8192   state page B  } that one valid copy always survives
//	offset 12288  buckets of bucketSize (368) bytes
//
// A bucket (368 bytes, 46 per slot):
//
//	0    tags        slotWays (8) uint16, one per slot; 0 marks an empty slot
//	16   slot 0      } slotSize (44) bytes each
//	60   slot 1      }
//	...
//	324  slot 7      }
//
// A slot's tag is 16 bits of the key's hash. A lookup compares the eight
// tags of each of its two buckets as two 64-bit words and reads a slot
// only when its tag matches. Buckets start at multiples of 16, so the tags
// never straddle a cache line: a miss reads one line per bucket.
//
// A slot (44 bytes):
//
//	0   family      AF_INET or AF_INET6; 0 in an empty (all-zero) slot
//	1   meta        bits 0-1 kind (1 positive, 2 negative), bits 2-4 source
//	2   lladdr len  0..8
//	3   probes      broadcast probes spent on a negative entry
//	4   ifindex     uint32
//	8   address     16 bytes; an IPv4 address fills the first 4
//	24  lladdr      8 bytes; unused bytes are zero
//	32  first seen  uint32 Unix seconds
//	36  updated     uint32 Unix seconds
//	40  check       CRC-32C of bytes 0..39, with the slot's tag as the
//	                initial value
//
// The check makes a torn or half-written slot, or one damaged on disk,
// detectable: it is never served, and it is counted when it is dropped.
// Because the tag seeds the check, a damaged tag fails the check too.
//
// Version 1 files (four 44-byte slots to a 176-byte bucket, no tags) are
// refused with an error that says so; see parseStaticHeader.

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// File geometry. Changing any of these is a format change: bump
// cacheVersion.
const (
	cacheMagic    = "ARPDHASH"
	cacheVersion  = 2
	pageSize      = 4096
	headerSize    = 3 * pageSize
	stateOffsetA  = 1 * pageSize
	stateOffsetB  = 2 * pageSize
	slotSize      = 44
	slotWays      = 8
	tagSize       = 2
	tagsSize      = slotWays * tagSize // the tag word at the start of a bucket
	bucketSize    = tagsSize + slotWays*slotSize
	slotCheckOff  = 40
	staticCRCOff  = 124
	stateCRCOff   = pageSize - 4
	originalsOff  = 64
	originalSize  = 32
	maxOriginals  = 64
	countersOff   = originalsOff + maxOriginals*originalSize
	numCounters   = 96
	ifNameSize    = 16
	stateFlagOpen = 1 << 0 // a writer has the file open (or crashed)
)

// Capacity limits, in entries.
const (
	defaultCapacity = 65536
	minCapacity     = 64
	maxCapacity     = 1 << 24
)

// Address families as stored in a key (Linux values).
const (
	familyIPv4 = unix.AF_INET
	familyIPv6 = unix.AF_INET6
)

// Kind says what an entry asserts about a host.
type Kind uint8

const (
	// KindPositive maps the address to a link-layer address.
	KindPositive Kind = 1
	// KindNegative records that resolution failed: the host is dead.
	KindNegative Kind = 2
)

// Source says where an entry was learned. It is kept for diagnostics.
type Source uint8

const (
	SourceUnknown Source = iota // not recorded
	SourceARP                   // an ARP frame seen on the wire
	SourceKernel                // a kernel neighbour notification or dump
	SourceLoad                  // arpd -f
	SourceProbe                 // a reply to one of arpd's own probes
)

// Key identifies a neighbour: the address family, the interface and the
// address. An IPv4 address fills the first 4 bytes of Addr; the rest are 0.
type Key struct {
	Family  uint8
	Ifindex uint32
	Addr    [16]byte
}

// keyV4 returns the key of IPv4 address a on interface ifindex.
func keyV4(ifindex uint32, a [4]byte) Key {
	k := Key{Family: familyIPv4, Ifindex: ifindex}
	copy(k.Addr[:4], a[:])
	return k
}

// words returns the key as the three little-endian words that are hashed
// and stored: family and ifindex, then the address.
//
// NB: this is the on-disk byte order of slot bytes 0..23 (with bytes 1..3
// of the first word taken by meta, lladdr length and probes in a slot, and
// masked out when comparing), so the same key lands in the same bucket on
// a big-endian MIPS router and on a PC.
func (k *Key) words() (w0, w1, w2 uint64) {
	w0 = uint64(k.Family) | uint64(k.Ifindex)<<32
	w1 = binary.LittleEndian.Uint64(k.Addr[0:8])
	w2 = binary.LittleEndian.Uint64(k.Addr[8:16])
	return
}

// Entry is one neighbour as the cache stores it.
type Entry struct {
	Key
	Kind    Kind
	Source  Source
	LLLen   uint8   // bytes of LLAddr in use
	LLAddr  [8]byte // link-layer address; 6 bytes for Ethernet
	Probes  uint8   // probes spent on a negative entry
	First   uint32  // Unix seconds when this binding was first seen
	Updated uint32  // Unix seconds of the last update
}

// PutResult says what Put did.
type PutResult uint8

const (
	PutNew       PutResult = iota + 1 // a new key was stored
	PutChanged                        // the key was there with another kind or address
	PutRefreshed                      // same binding, newer timestamps or probe count
	PutUnchanged                      // identical to what was stored; nothing written
	PutDropped                        // bucket full of newer entries; the entry was older than all
)

// Errors a caller can test with errors.Is. The returned errors wrap them
// with the file name and the details.
var (
	ErrNotCache      = errors.New("not an arpd cache file")
	ErrBerkeleyDB    = errors.New("Berkeley DB file from iproute2's arpd")
	ErrCorrupt       = errors.New("damaged cache file header")
	ErrInUse         = errors.New("cache file in use by another arpd")
	ErrReadOnly      = errors.New("cache opened read-only")
	ErrOriginalsFull = errors.New("no room for more saved sysctl values")
)

// castagnoli is the CRC-32C table; hash/crc32 uses the CPU's CRC
// instructions for it where there are any.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CacheOptions are the settings for opening a cache for writing.
type CacheOptions struct {
	// Capacity in entries. For a new file, 0 means defaultCapacity. For an
	// existing file, 0 keeps its capacity, and any other value that differs
	// from it rebuilds the file with the new capacity.
	Capacity int
	// NegativeTTL is how long a negative entry lives, in seconds.
	NegativeTTL uint32
	// Now returns the time in Unix seconds; nil means the wall clock.
	Now func() uint32
}

// SysctlOriginal is an interface's sysctl values as they were before arpd
// adjusted them, kept in the file so that a restart after a crash restores
// the true originals and not the values it finds adjusted.
type SysctlOriginal struct {
	Name         string // interface name
	Family       uint8  // familyIPv4 (net.ipv4.neigh) or familyIPv6
	AppSolicit   int32
	McastSolicit int32
}

// cacheState is the mutable part of the header: written on every state
// save, in the older of the two state pages.
type cacheState struct {
	seq       uint64
	flags     uint32
	pid       uint32
	started   uint64 // Unix seconds when the current writer opened the file
	saved     uint64 // Unix seconds of this save
	entries   uint64
	originals [maxOriginals]originalRecord
	counters  [numCounters]uint64
}

// originalRecord is SysctlOriginal in its fixed-size form.
type originalRecord struct {
	name   [ifNameSize]byte
	family uint8
	used   bool
	app    int32
	mcast  int32
}

// Cache is an open cache file, used by one goroutine at a time (each
// process or goroutine that reads opens its own). A Cache opened for
// writing holds an exclusive flock on the file, so there is only ever one
// writer. Read-only Caches take no lock.
type Cache struct {
	path     string
	fd       int // read-write descriptor, or -1 when read-only
	mem      []byte
	buckets  uint64
	k0, k1   uint64
	created  uint64
	readOnly bool
	now      func() uint32
	negTTL   uint32

	// state is the in-memory copy of the newest state page; newest says
	// which page (0 for A, 1 for B) holds it on disk.
	state  cacheState
	newest int
	// recovered is the number of slots found damaged and dropped when the
	// file was opened after an unclean shutdown.
	recovered int

	// writes counts slot writes (pwrite calls), for tests.
	writes uint64

	// verified has a bit per slot, set once a writer's Lookup or Put has
	// found the slot valid and cleared whenever the slot is written: the
	// check of a slot read again is not computed again.
	//
	// NB: the check is what makes a lookup at 1,000,000 entries slow (it
	// waits on the slot's cache line and delays the next lookups), and a
	// writer's slots change only through its own writes. Damage to the
	// file while a writer has it open and locked, after a slot was read,
	// goes unseen until the slot is written or the file reopened; read-only
	// Caches (arpd -l) check every read.
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
}

// wallClock is the default clock: Unix seconds.
func wallClock() uint32 { return uint32(time.Now().Unix()) }

// bucketsFor returns the number of buckets for capacity entries.
func bucketsFor(capacity int) uint64 {
	if capacity <= 0 {
		capacity = defaultCapacity
	}
	return uint64((capacity + slotWays - 1) / slotWays)
}

// fileSizeFor returns the size of a cache file with n buckets.
func fileSizeFor(n uint64) int64 { return headerSize + int64(n)*bucketSize }

// Capacity returns the number of entries the file can hold.
func (c *Cache) Capacity() int { return int(c.buckets) * slotWays }

// Path returns the file's path.
func (c *Cache) Path() string { return c.path }

// Entries returns the number of entries stored.
func (c *Cache) Entries() uint64 { return c.state.entries }

// Recovered returns the number of damaged slots dropped when the file was
// opened after an unclean shutdown.
func (c *Cache) Recovered() int { return c.recovered }

// Counter returns counter i as last saved (read-only) or as counted now.
func (c *Cache) Counter(i int) uint64 { return c.state.counters[i] }

// Count adds n to counter i. It does not write; SaveState does.
func (c *Cache) Count(i int, n uint64) { c.state.counters[i] += n }

// Owner returns the pid of the writer that has the file open (0 if none
// is recorded) and when it opened it.
func (c *Cache) Owner() (pid uint32, started time.Time, open bool) {
	return c.state.pid, time.Unix(int64(c.state.started), 0), c.state.flags&stateFlagOpen != 0
}

// OpenCache opens the cache at path for writing, creating it if it does
// not exist, and rebuilding it if o.Capacity asks for another capacity.
//
// A file that is not an arpd cache, or whose header is damaged, is left
// untouched and an error naming the file and the problem is returned. A
// file left open by a writer that died is checked slot by slot first:
// damaged slots are dropped and counted (see Recovered).
func OpenCache(path string, o CacheOptions) (*Cache, error) {
	if o.Capacity != 0 && (o.Capacity < minCapacity || o.Capacity > maxCapacity) {
		return nil, fmtlite.Errorf("%s: capacity %d out of range %d..%d", path, o.Capacity, minCapacity, maxCapacity)
	}
	// NB: bounded retries: each round loses only if another process
	// replaced the file between our open and our lock.
	for try := 0; try < 10; try++ {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			c, err := createCache(path, o)
			if errors.Is(err, errRaced) {
				continue
			}
			return c, err
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
		c, err := attach(path, fd, false, o)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		if err := c.beginWriting(); err != nil {
			c.closeFiles()
			return nil, err
		}
		if o.Capacity != 0 && o.Capacity != c.Capacity() && bucketsFor(o.Capacity) != c.buckets {
			if err := c.Rebuild(o.Capacity, nil); err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	}
	return nil, fmtlite.Errorf("open %s: the file kept being replaced by another process", path)
}

// OpenCacheReadOnly opens the cache at path for reading while its writer,
// if any, keeps writing. It takes no lock and writes nothing.
func OpenCacheReadOnly(path string) (*Cache, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmtlite.Errorf("open %s: %w", path, err)
	}
	c, err := attach(path, fd, true, CacheOptions{})
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

// errRaced reports that another process created the file first.
var errRaced = errors.New("raced")

// inUseError builds the error for a file another writer holds, naming its
// pid when the file says which.
func inUseError(path string) error {
	if r, err := OpenCacheReadOnly(path); err == nil {
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

// attach validates the file open on fd and maps it. It writes nothing.
func attach(path string, fd int, readOnly bool, o CacheOptions) (*Cache, error) {
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
	c := &Cache{
		path:     path,
		fd:       fd,
		buckets:  geo.buckets,
		k0:       geo.k0,
		k1:       geo.k1,
		created:  geo.created,
		readOnly: readOnly,
		now:      o.Now,
		negTTL:   o.NegativeTTL,
	}
	if c.now == nil {
		c.now = wallClock
	}
	if err := c.readState(); err != nil {
		return nil, fmtlite.Errorf("%s: %w", path, err)
	}
	if err := c.mapFile(readOnly); err != nil {
		return nil, err
	}
	if readOnly {
		c.fd = -1
		unix.Close(fd)
	}
	return c, nil
}

// geometry is what the static header says about the file.
type geometry struct {
	buckets uint64
	k0, k1  uint64
	created uint64
}

// parseStaticHeader checks the first bytes of a file (up to a page) and
// the file's size, and returns the geometry they describe. Its errors say
// what is wrong, without the file name.
func parseStaticHeader(b []byte, size int64) (geometry, error) {
	var g geometry
	if isBerkeleyDB(b) {
		return g, ErrBerkeleyDB
	}
	if len(b) < len(cacheMagic) || string(b[:len(cacheMagic)]) != cacheMagic {
		if size == 0 {
			return g, fmtlite.Errorf("%w: the file is empty", ErrNotCache)
		}
		return g, fmtlite.Errorf("%w: unknown format (no %q magic)", ErrNotCache, cacheMagic)
	}
	if len(b) < staticCRCOff+4 {
		return g, fmtlite.Errorf("%w: truncated to %d bytes", ErrCorrupt, size)
	}
	if crc32.Checksum(b[:staticCRCOff], castagnoli) != binary.LittleEndian.Uint32(b[staticCRCOff:]) {
		return g, fmtlite.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != cacheVersion {
		return g, fmtlite.Errorf("%w: format version %d, this arpd reads version %d only%s", ErrNotCache, v, cacheVersion, versionHint(v))
	}
	if hs, ss, w, bs := le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[28:]); hs != headerSize || ss != slotSize || w != slotWays || bs != bucketSize {
		return g, fmtlite.Errorf("%w: geometry header=%d slot=%d ways=%d bucket=%d, want %d/%d/%d/%d", ErrCorrupt, hs, ss, w, bs, headerSize, slotSize, slotWays, bucketSize)
	}
	g.buckets = uint64(le.Uint32(b[24:]))
	if g.buckets == 0 || g.buckets*slotWays > maxCapacity {
		return g, fmtlite.Errorf("%w: %d buckets", ErrCorrupt, g.buckets)
	}
	if want := fileSizeFor(g.buckets); size != want {
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
	if v < cacheVersion {
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
	copy(b, cacheMagic)
	le.PutUint32(b[8:], cacheVersion)
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

// decodeState parses one state page. It reports false if the page is not
// a valid state (never written, torn or damaged).
func decodeState(b []byte, s *cacheState) bool {
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
func encodeState(b []byte, s *cacheState) {
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

// readState loads the newest valid state page. The writer only ever
// writes the older page, so a reader racing with it still finds the newer
// one intact; a few retries cover the rare read that straddles two saves.
func (c *Cache) readState() error {
	var a, b cacheState
	for try := 0; try < 5; try++ {
		if _, err := unix.Pread(c.fd, c.page[:], stateOffsetA); err != nil {
			return err
		}
		okA := decodeState(c.page[:], &a)
		if _, err := unix.Pread(c.fd, c.page[:], stateOffsetB); err != nil {
			return err
		}
		okB := decodeState(c.page[:], &b)
		switch {
		case okA && (!okB || a.seq > b.seq):
			c.state, c.newest = a, 0
			return nil
		case okB:
			c.state, c.newest = b, 1
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmtlite.Errorf("%w: both state pages are damaged", ErrCorrupt)
}

// SaveState writes the mutable header (counters, saved sysctl values,
// entry count, owner) to the older state page.
func (c *Cache) SaveState() error {
	if c.readOnly {
		return ErrReadOnly
	}
	c.state.seq++
	c.state.saved = uint64(c.now())
	encodeState(c.page[:], &c.state)
	target := 1 - c.newest
	off := int64(stateOffsetA)
	if target == 1 {
		off = stateOffsetB
	}
	if err := pwriteFull(c.fd, c.page[:], off); err != nil {
		return fmtlite.Errorf("write %s: %w", c.path, err)
	}
	c.newest = target
	return nil
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
func (c *Cache) mapFile(readOnly bool) error {
	size := int(fileSizeFor(c.buckets))
	mfd := c.fd
	if !readOnly {
		rfd, err := unix.Open(fmtlite.Sprintf("/proc/self/fd/%d", c.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			mfd = rfd
			defer unix.Close(rfd)
		}
		// Without /proc, map the read-write descriptor: that works on
		// every file system but JFFS2-like ones.
	}
	mem, err := unix.Mmap(mfd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmtlite.Errorf("mmap %s: %w", c.path, err)
	}
	c.mem = mem
	if !readOnly {
		c.verified = make([]uint64, (c.buckets*slotWays+63)/64)
	}
	advice := unix.MADV_RANDOM
	if readOnly {
		advice = unix.MADV_SEQUENTIAL
	}
	_ = unix.Madvise(mem, advice) // advice only
	return nil
}

// beginWriting marks the file as open by this process. If the previous
// writer did not close it cleanly, every slot is checked first.
func (c *Cache) beginWriting() error {
	if c.state.flags&stateFlagOpen != 0 {
		if err := c.recover(); err != nil {
			return err
		}
	}
	c.state.flags |= stateFlagOpen
	c.state.pid = uint32(os.Getpid())
	c.state.started = uint64(c.now())
	return c.SaveState()
}

// recover checks every slot after an unclean shutdown: damaged slots and
// duplicates left by an interrupted displacement are zeroed, and the entry
// count is recomputed.
func (c *Cache) recover() error {
	var entries uint64
	bad := 0
	for base := int64(headerSize); base+bucketSize <= int64(len(c.mem)); base += bucketSize {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			switch c.status(r) {
			case slotEmpty:
			case slotValid:
				if c.duplicateBefore(r) {
					if err := c.clearSlot(r); err != nil {
						return err
					}
					continue
				}
				entries++
			default:
				if err := c.clearSlot(r); err != nil {
					return err
				}
				bad++
			}
		}
	}
	c.state.entries = entries
	c.state.counters[ctrCorruptSlots] += uint64(bad)
	c.recovered = bad
	return nil
}

// duplicateBefore reports whether the valid entry in slot r also sits in
// a slot with a lower offset in one of its two buckets.
func (c *Cache) duplicateBefore(r slotRef) bool {
	w0, w1, w2 := slotKey(c.slotBytes(r))
	b1, b2, tag := c.locate(w0, w1, w2)
	for _, base := range [2]int64{b1, b2} {
		for m := c.match(base, tag); m != 0; m &= m - 1 {
			q := ref(base, firstLane(m))
			if q.off() < r.off() && keyMatches(c.slotBytes(q), w0, w1, w2) && c.status(q) == slotValid {
				return true
			}
		}
	}
	return false
}

// Close saves the state, marks the file closed cleanly, syncs it and
// releases it. For a read-only Cache it only unmaps.
func (c *Cache) Close() error {
	if c.mem == nil {
		return nil
	}
	var err error
	if !c.readOnly {
		c.state.flags &^= stateFlagOpen
		if e := c.SaveState(); e != nil {
			err = e
		}
		if e := unix.Fdatasync(c.fd); e != nil && err == nil {
			err = fmtlite.Errorf("sync %s: %w", c.path, e)
		}
	}
	c.closeFiles()
	return err
}

// closeFiles unmaps the file and closes its descriptor without writing.
func (c *Cache) closeFiles() {
	if c.mem != nil {
		unix.Munmap(c.mem)
		c.mem = nil
	}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// Sync saves the state and flushes the file to stable storage. The
// daemon calls it on its sync interval, on SIGHUP and at exit, and at no
// other time, so flash is not worn out.
func (c *Cache) Sync() error {
	if err := c.SaveState(); err != nil {
		return err
	}
	if err := unix.Fdatasync(c.fd); err != nil {
		return fmtlite.Errorf("sync %s: %w", c.path, err)
	}
	return nil
}

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
// which must not be zero. A mask shifted right by one bit (as Lookup does)
// decodes to the same slots.
func firstLane(m uint64) int {
	p := bits.TrailingZeros64(m)
	return p>>4 | p>>1&4
}

// tags returns the two tag words of the bucket at base: the tags of slots
// 0..3 and of slots 4..7, slot i's in bits 16(i%4)..16(i%4)+15.
func (c *Cache) tags(base int64) (lo, hi uint64) {
	t := c.mem[base : base+tagsSize]
	return binary.LittleEndian.Uint64(t[0:8]), binary.LittleEndian.Uint64(t[8:16])
}

// match returns the lanes mask of the slots of the bucket at base whose
// tag is t (0 for the empty slots).
func (c *Cache) match(base int64, t uint16) uint64 {
	lo, hi := c.tags(base)
	return lanes(lo, hi, t)
}

// tagAt returns slot r's tag.
func (c *Cache) tagAt(r slotRef) uint16 {
	off := r.tagOff()
	return binary.LittleEndian.Uint16(c.mem[off : off+tagSize])
}

// slotBytes returns slot r's bytes in the mapping.
func (c *Cache) slotBytes(r slotRef) []byte {
	off := r.off()
	return c.mem[off : off+slotSize]
}

// slotIndex returns r's number among all slots of the file.
func (c *Cache) slotIndex(r slotRef) uint64 {
	return uint64(r.bucket()-headerSize)/bucketSize*slotWays + uint64(r.way())
}

// checked returns the status of a writer's slot r, with tag tag and
// bytes s, computing its check only if the slot has not been found valid
// since it was last written (see verified).
func (c *Cache) checked(r slotRef, tag uint16, s []byte) int {
	i := c.slotIndex(r)
	if c.verified[i/64]&(1<<(i%64)) != 0 {
		return slotValid
	}
	st := slotStatus(tag, s)
	if st == slotValid {
		c.verified[i/64] |= 1 << (i % 64)
	}
	return st
}

// status classifies slot r as it is in the mapping.
func (c *Cache) status(r slotRef) int { return slotStatus(c.tagAt(r), c.slotBytes(r)) }

// slotStatus classifies a slot's bytes s, given its tag.
func slotStatus(tag uint16, s []byte) int {
	_ = s[slotSize-1]
	if tag == 0 {
		if isZeroSlot(s) {
			return slotEmpty
		}
		return slotBad
	}
	if s[0] == 0 || slotCheck(tag, s) != binary.LittleEndian.Uint32(s[slotCheckOff:]) {
		return slotBad
	}
	if k := Kind(s[1] & 3); k != KindPositive && k != KindNegative || s[2] > 8 {
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
	return le.Uint64(s[0:])|le.Uint64(s[8:])|le.Uint64(s[16:])|le.Uint64(s[24:])|
		le.Uint64(s[32:])|uint64(le.Uint32(s[40:])) == 0
}

// isZero reports whether b is all zero bytes.
func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// keyMatches reports whether slot s holds key words (w0, w1, w2).
//
// NB: bytes 1..3 of a slot's first word hold meta, lladdr length and
// probes, not key material, so they are masked out.
func keyMatches(s []byte, w0, w1, w2 uint64) bool {
	le := binary.LittleEndian
	_ = s[23]
	return le.Uint64(s[0:])&^0xffffff00 == w0 &&
		le.Uint64(s[8:]) == w1 &&
		le.Uint64(s[16:]) == w2
}

// slotKey returns the key words stored in slot s.
func slotKey(s []byte) (w0, w1, w2 uint64) {
	le := binary.LittleEndian
	_ = s[23]
	return le.Uint64(s[0:]) &^ 0xffffff00, le.Uint64(s[8:]), le.Uint64(s[16:])
}

// decodeSlot fills e from slot bytes s, which must be valid.
func decodeSlot(s []byte, e *Entry) {
	le := binary.LittleEndian
	_ = s[slotSize-1]
	e.Family = s[0]
	e.Kind = Kind(s[1] & 3)
	e.Source = Source(s[1] >> 2 & 7)
	e.LLLen = s[2]
	e.Probes = s[3]
	e.Ifindex = le.Uint32(s[4:])
	copy(e.Addr[:], s[8:24])
	copy(e.LLAddr[:], s[24:32])
	e.First = le.Uint32(s[32:])
	e.Updated = le.Uint32(s[36:])
}

// encodeSlot writes e into s with its check for tag t.
func encodeSlot(s []byte, t uint16, e *Entry) {
	le := binary.LittleEndian
	_ = s[slotSize-1]
	s[0] = e.Family
	s[1] = byte(e.Kind)&3 | byte(e.Source&7)<<2
	s[2] = e.LLLen
	s[3] = e.Probes
	le.PutUint32(s[4:], e.Ifindex)
	copy(s[8:24], e.Addr[:])
	copy(s[24:32], e.LLAddr[:])
	le.PutUint32(s[32:], e.First)
	le.PutUint32(s[36:], e.Updated)
	le.PutUint32(s[slotCheckOff:], slotCheck(t, s))
}

// locate returns the file offsets of the two buckets where the key with
// words (w0, w1, w2) may live, and its tag.
//
// One SipHash gives all three: the high half of h·n picks the first
// bucket, and the low half, scaled by n again, the second (uniform in
// [0, n) without a division); the tag is h's low 16 bits. A key that draws
// the same bucket twice takes the next one as its second, so every key has
// two distinct buckets when n > 1.
func (c *Cache) locate(w0, w1, w2 uint64) (b1, b2 int64, tag uint16) {
	var h uint64
	if uint8(w0) == familyIPv4 {
		h = sipHash24x12(c.k0, c.k1, w0, uint32(w1))
	} else {
		h = sipHash24x3(c.k0, c.k1, w0, w1, w2)
	}
	x, lo := bits.Mul64(h, c.buckets)
	y, _ := bits.Mul64(lo, c.buckets)
	if y == x {
		y = (x + 1) % c.buckets
	}
	return headerSize + int64(x)*bucketSize, headerSize + int64(y)*bucketSize, tagOf(h)
}

// readSlot copies slot r into buf, checks it and returns its tag and
// status. A read-only Cache races with the writer, so a slot that fails
// its check is read again a few times before it counts as damaged; the
// writer itself never sees a torn slot of its own.
func (c *Cache) readSlot(r slotRef, buf *[slotSize]byte) (tag uint16, st int) {
	st = slotBad
	for try := 0; try < 8; try++ {
		tag = c.tagAt(r)
		copy(buf[:], c.slotBytes(r))
		if st = slotStatus(tag, buf[:]); st != slotBad || !c.readOnly {
			return tag, st
		}
		runtime.Gosched()
	}
	return tag, st
}

// Lookup returns the entry for k, whatever its kind and age, and whether
// there is one. It allocates nothing.
//
// NB: written for the CPU's out-of-order engine. Both buckets' tags are
// loaded before either is compared, so their two cache (and TLB) misses
// overlap; and the lanes of both buckets go into one mask, from which the
// slot is computed without a branch on which bucket matched. That branch
// would be a coin toss, and each misprediction throws away the work the
// CPU has begun on the next lookups.
func (c *Cache) Lookup(k *Key) (e Entry, ok bool) {
	w0, w1, w2 := k.words()
	b1, b2, tag := c.locate(w0, w1, w2)
	l1, h1 := c.tags(b1)
	l2, h2 := c.tags(b2)
	// Bucket b1's lanes are the odd bits of m, b2's the even ones.
	for m := lanes(l1, h1, tag) | lanes(l2, h2, tag)>>1; m != 0; m &= m - 1 {
		p := bits.TrailingZeros64(m)
		base := b2 + int64(p&1)*(b1-b2)
		if c.serve(ref(base, firstLane(m)), tag, w0, w1, w2, &e) {
			return e, true
		}
	}
	return e, false
}

// serve decodes slot r, whose tag is tag, into e if it holds the key with
// words (w0, w1, w2) and passes its check.
func (c *Cache) serve(r slotRef, tag uint16, w0, w1, w2 uint64, e *Entry) bool {
	s := c.slotBytes(r)
	if !keyMatches(s, w0, w1, w2) {
		return false
	}
	if !c.readOnly {
		// The writer's own slots cannot change under it: check and decode
		// them in place, and check each only once between writes.
		if c.checked(r, tag, s) != slotValid {
			return false
		}
		decodeSlot(s, e)
		return true
	}
	buf := &c.rslot
	if t, st := c.readSlot(r, buf); st != slotValid || t != tag || !keyMatches(buf[:], w0, w1, w2) {
		return false
	}
	decodeSlot(buf[:], e)
	return true
}

// Expired reports whether e is a negative entry older than the negative
// lifetime. A clock that went backwards does not expire anything.
func (c *Cache) Expired(e *Entry) bool { return c.expiredAt(e.Kind, e.Updated, c.now()) }

// expiredAt reports whether an entry of kind k last updated at updated
// has expired at time now.
func (c *Cache) expiredAt(k Kind, updated, now uint32) bool {
	return k == KindNegative && int64(now)-int64(updated) >= int64(c.negTTL)
}

// maxKicks bounds the displacement path of one insert. With two 8-way
// buckets per key, 16 moves let a table of random keys fill to about 95%
// before the first entry is lost; at 90% load about one insert in eight
// needs a move, and almost never more than one.
const maxKicks = 16

// fullTable is the load, in percent, from which Put stops looking for
// displacement paths and evicts at once.
const fullTable = 97

// refreshGrace is how old, in seconds, a positive entry's Updated time
// must be before seeing the same binding again rewrites the slot.
//
// NB: the kernel's notice of every answer, and every ARP frame a host
// sends, confirm a binding the cache already holds. Rewriting the slot
// each time would cost a pwrite per answer and dirty a page that the next
// sync writes out (flash wear, where the file is not on tmpfs); a minute's
// precision is plenty for choosing what to evict.
const refreshGrace = 60

// Put stores e, replacing any entry with the same key. Zero First or
// Updated fields are filled in: Updated with the current time, First with
// the time the binding (kind and link-layer address) was first seen, kept
// from the stored entry when the binding is unchanged.
//
// A new key goes to a free slot of the emptier of its two buckets. When
// both are full, a damaged slot or an expired negative entry is reused;
// else entries are moved to their other buckets (cuckoo displacement, at
// most maxKicks moves) to free a slot; else the least recently updated of
// the sixteen entries is evicted, or e itself is dropped if it is older than
// all of them. It allocates nothing, and a new key with room in its
// buckets, or a changed entry, costs exactly one pwrite.
func (c *Cache) Put(e *Entry) (PutResult, error) {
	if c.readOnly {
		return 0, ErrReadOnly
	}
	if e.LLLen > 8 || e.Kind != KindPositive && e.Kind != KindNegative || e.Family == 0 {
		return 0, fmtlite.Errorf("put: invalid entry (family %d, kind %d, lladdr length %d)", e.Family, uint8(e.Kind), e.LLLen)
	}
	now := c.now()
	if e.Updated == 0 {
		e.Updated = now
	}
	w0, w1, w2 := e.Key.words()
	b1, b2, tag := c.locate(w0, w1, w2)

	// Find the stored copy. Only slots with the key's tag can hold it.
	match := noSlot
	dropped := 0
	for _, base := range [2]int64{b1, b2} {
		for m := c.match(base, tag); m != 0; m &= m - 1 {
			r := ref(base, firstLane(m))
			s := c.slotBytes(r)
			if !keyMatches(s, w0, w1, w2) {
				continue
			}
			st := c.checked(r, tag, s)
			if match == noSlot && st == slotValid {
				match = r
				continue
			}
			// A duplicate left by an interrupted move, or a damaged copy:
			// drop it.
			if err := c.clearSlot(r); err != nil {
				return 0, err
			}
			if st == slotBad {
				c.state.counters[ctrCorruptSlots]++
			}
			dropped++
		}
	}

	if match != noSlot {
		var old Entry
		decodeSlot(c.slotBytes(match), &old)
		sameBinding := old.Kind == e.Kind && old.LLLen == e.LLLen && old.LLAddr == e.LLAddr
		if e.First == 0 {
			e.First = now
			if sameBinding {
				e.First = old.First
			}
		}
		if old == *e || sameBinding && e.Kind == KindPositive && old.Probes == e.Probes && old.First == e.First &&
			e.Updated >= old.Updated && e.Updated-old.Updated < refreshGrace {
			return PutUnchanged, nil
		}
		if err := c.writeEntry(match, tag, e); err != nil {
			return 0, err
		}
		c.state.counters[ctrUpdates]++
		if !sameBinding {
			return PutChanged, nil
		}
		return PutRefreshed, nil
	}
	if dropped > 0 && c.state.entries > 0 {
		c.state.entries-- // the key's only copies were damaged
	}

	if e.First == 0 {
		e.First = now
	}
	target := noSlot
	f1, f2 := c.match(b1, 0), c.match(b2, 0)
	switch {
	case f1 != 0 && bits.OnesCount64(f1) >= bits.OnesCount64(f2):
		target = ref(b1, firstLane(f1))
	case f2 != 0:
		target = ref(b2, firstLane(f2))
	}
	if target != noSlot {
		if !isZeroSlot(c.slotBytes(target)) {
			c.state.counters[ctrCorruptSlots]++ // a slot that lost its tag
		}
	} else {
		var err error
		if target, err = c.makeRoom(b1, b2, e.Updated, now); err != nil {
			return 0, err
		}
		if target == noSlot {
			return PutDropped, nil
		}
	}
	if err := c.writeEntry(target, tag, e); err != nil {
		return 0, err
	}
	c.state.entries++
	c.state.counters[ctrInserts]++
	return PutNew, nil
}

// makeRoom frees a slot in buckets b1 and b2, both full, for a new entry
// updated at updated, and returns it, or noSlot if the new entry is older
// than all sixteen and is to be dropped. It reuses a damaged slot, else an
// expired negative entry's, else moves entries to their other buckets,
// else evicts the least recently updated entry.
func (c *Cache) makeRoom(b1, b2 int64, updated, now uint32) (slotRef, error) {
	bad, expired, oldest := noSlot, noSlot, noSlot
	var oldestTime uint32
	for _, base := range [2]int64{b1, b2} {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			s := c.slotBytes(r)
			switch c.checked(r, c.tagAt(r), s) {
			case slotBad:
				if bad == noSlot {
					bad = r
				}
			case slotValid:
				kind, upd := Kind(s[1]&3), binary.LittleEndian.Uint32(s[36:])
				if expired == noSlot && c.expiredAt(kind, upd, now) {
					expired = r
				}
				if oldest == noSlot || upd < oldestTime {
					oldest, oldestTime = r, upd
				}
			}
		}
	}
	switch {
	case bad != noSlot:
		c.state.counters[ctrCorruptSlots]++
		return bad, nil
	case expired != noSlot:
		c.state.counters[ctrEvictions]++
		c.state.counters[ctrEvictedNegatives]++
		c.state.entries--
		return expired, nil
	}
	// Past fullTable the walk almost never finds room: evict at once.
	if c.state.entries < uint64(c.Capacity())*fullTable/100 {
		r, err := c.displace(b1, b2)
		if err != nil || r != noSlot {
			return r, err
		}
	}
	c.state.counters[ctrEvictions]++
	if oldestTime > updated {
		return noSlot, nil
	}
	c.state.entries--
	return oldest, nil
}

// beginWrite prepares the write buffer for a write of slot r and returns
// the buffer's bytes for the slot, for the caller to fill; endWrite then
// writes them with r's tag.
//
// NB: a slot and its tag are written with one pwrite, which also rewrites
// the bytes between them (other tags, earlier slots of the bucket) with the values they have: the writer is the only writer, so
// those bytes cannot change meanwhile, and a torn write leaves them as
// they were.
func (c *Cache) beginWrite(r slotRef) []byte {
	base, lo, off := r.bucket(), r.tagOff(), r.off()
	copy(c.wbuf[lo-base:off-base], c.mem[lo:off])
	return c.wbuf[off-base : off-base+slotSize]
}

// endWrite sets r's tag in the write buffer and writes r's tag and slot.
func (c *Cache) endWrite(r slotRef, tag uint16) error {
	base, lo, end := r.bucket(), r.tagOff(), r.off()+slotSize
	binary.LittleEndian.PutUint16(c.wbuf[lo-base:], tag)
	c.writes++
	i := c.slotIndex(r)
	c.verified[i/64] &^= 1 << (i % 64)
	if err := pwriteFull(c.fd, c.wbuf[lo-base:end-base], lo); err != nil {
		c.state.counters[ctrWriteErrors]++
		return fmtlite.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

// writeEntry writes e with tag t into slot r.
func (c *Cache) writeEntry(r slotRef, t uint16, e *Entry) error {
	encodeSlot(c.beginWrite(r), t, e)
	return c.endWrite(r, t)
}

// clearSlot zeroes slot r and its tag.
func (c *Cache) clearSlot(r slotRef) error {
	clear(c.beginWrite(r))
	return c.endWrite(r, 0)
}

// moveSlot copies slot src, with its tag, to slot dst.
func (c *Cache) moveSlot(dst, src slotRef) error {
	copy(c.beginWrite(dst), c.slotBytes(src))
	if err := c.endWrite(dst, c.tagAt(src)); err != nil {
		return err
	}
	c.state.counters[ctrMoves]++
	return nil
}

// otherBucket returns the bucket of the entry in slot r other than r's
// own.
func (c *Cache) otherBucket(r slotRef) int64 {
	a1, a2, _ := c.locate(slotKey(c.slotBytes(r)))
	if a1 == r.bucket() {
		return a2
	}
	return a1
}

// displace frees a slot in bucket b1 or b2, both full of valid entries,
// by moving entries to their other buckets, and returns it, or noSlot if
// no path of at most maxKicks moves was found.
//
// It first looks for an entry of the two buckets whose other bucket has
// room, which costs one move; only when there is none does it walk a
// random path. The path is planned first and then written from its far
// end: each entry is copied to its new slot before its old slot is
// overwritten, so a crash in the middle leaves a duplicate (which Put and
// recovery remove) but never loses an entry.
func (c *Cache) displace(b1, b2 int64) (slotRef, error) {
	// One move: the usual case below fullTable.
	start := int(c.rand() % (2 * slotWays))
	for j := 0; j < 2*slotWays; j++ {
		i := (start + j) % (2 * slotWays)
		base := b1
		if i >= slotWays {
			base = b2
		}
		r := ref(base, i%slotWays)
		alt := c.otherBucket(r)
		if f := c.match(alt, 0); f != 0 {
			return r, c.moveSlot(ref(alt, firstLane(f)), r)
		}
	}

	var path [maxKicks]slotRef // slots whose entries move, in order
	bucket := b1
	if c.rand()&1 == 1 {
		bucket = b2
	}
	for n := 0; n < maxKicks; n++ {
		// Pick a slot of this bucket that is not already on the path.
		r := noSlot
		k := int(c.rand() % slotWays)
		for i := 0; i < slotWays; i++ {
			if cand := ref(bucket, (k+i)%slotWays); !onPath(path[:n], cand) {
				r = cand
				break
			}
		}
		if r == noSlot {
			return noSlot, nil
		}
		if c.status(r) != slotValid {
			return noSlot, nil // only reached when the file changed under us
		}
		alt := c.otherBucket(r)
		path[n] = r
		f := c.match(alt, 0)
		if f == 0 {
			bucket = alt
			continue
		}
		// Found room: move the path's entries, far end first.
		dst := ref(alt, firstLane(f))
		for i := n; i >= 0; i-- {
			if err := c.moveSlot(dst, path[i]); err != nil {
				return noSlot, err
			}
			dst = path[i]
		}
		return path[0], nil
	}
	return noSlot, nil
}

// onPath reports whether r is one of path's slots.
func onPath(path []slotRef, r slotRef) bool {
	for _, p := range path {
		if p == r {
			return true
		}
	}
	return false
}

// rand returns a pseudo-random number for choosing displacement victims
// (xorshift64; the state is seeded from the file's key).
func (c *Cache) rand() uint64 {
	if c.rng == 0 {
		c.rng = c.k0 | 1
	}
	c.rng ^= c.rng << 13
	c.rng ^= c.rng >> 7
	c.rng ^= c.rng << 17
	return c.rng
}

// Delete removes the entry for k and reports whether there was one.
func (c *Cache) Delete(k *Key) (bool, error) {
	if c.readOnly {
		return false, ErrReadOnly
	}
	w0, w1, w2 := k.words()
	b1, b2, tag := c.locate(w0, w1, w2)
	found := false
	for _, base := range [2]int64{b1, b2} {
		for m := c.match(base, tag); m != 0; m &= m - 1 {
			r := ref(base, firstLane(m))
			if !keyMatches(c.slotBytes(r), w0, w1, w2) {
				continue
			}
			if err := c.clearSlot(r); err != nil {
				return found, err
			}
			if !found && c.state.entries > 0 {
				c.state.entries--
			}
			found = true
		}
	}
	if found {
		c.state.counters[ctrDeletes]++
	}
	return found, nil
}

// Range calls fn for every valid entry, in file order, until fn returns
// false. It returns the number of damaged slots it skipped. On a
// read-only Cache it may run while the writer writes: every entry it
// yields passed its check.
func (c *Cache) Range(fn func(e *Entry) bool) (damaged int) {
	buf := &c.rslot
	var e Entry
	for base := int64(headerSize); base+bucketSize <= int64(len(c.mem)); base += bucketSize {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			// Fast path: empty slots need no copy.
			if c.tagAt(r) == 0 && isZeroSlot(c.slotBytes(r)) {
				continue
			}
			switch _, st := c.readSlot(r, buf); st {
			case slotValid:
				decodeSlot(buf[:], &e)
				if !fn(&e) {
					return damaged
				}
			case slotBad:
				damaged++
			}
		}
	}
	return damaged
}

// Originals returns the saved sysctl values.
func (c *Cache) Originals() []SysctlOriginal {
	var out []SysctlOriginal
	for i := range c.state.originals {
		o := &c.state.originals[i]
		if o.used {
			out = append(out, SysctlOriginal{Name: cString(o.name[:]), Family: o.family, AppSolicit: o.app, McastSolicit: o.mcast})
		}
	}
	return out
}

// SaveOriginal records o (replacing a record for the same interface and
// family) and writes the state at once, so that it survives a crash.
func (c *Cache) SaveOriginal(o SysctlOriginal) error {
	if c.readOnly {
		return ErrReadOnly
	}
	if o.Name == "" || len(o.Name) >= ifNameSize {
		return fmtlite.Errorf("save sysctl values: bad interface name %q", o.Name)
	}
	slot := -1
	for i := range c.state.originals {
		r := &c.state.originals[i]
		if r.used && r.family == o.Family && cString(r.name[:]) == o.Name {
			slot = i
			break
		}
		if !r.used && slot < 0 {
			slot = i
		}
	}
	if slot < 0 {
		return fmtlite.Errorf("%s: %w (%d interfaces)", c.path, ErrOriginalsFull, maxOriginals)
	}
	r := &c.state.originals[slot]
	*r = originalRecord{family: o.Family, used: true, app: o.AppSolicit, mcast: o.McastSolicit}
	copy(r.name[:], o.Name)
	return c.SaveState()
}

// ClearOriginal forgets the saved values of interface name and family
// (after they were restored) and writes the state at once.
func (c *Cache) ClearOriginal(name string, family uint8) error {
	if c.readOnly {
		return ErrReadOnly
	}
	for i := range c.state.originals {
		r := &c.state.originals[i]
		if r.used && r.family == family && cString(r.name[:]) == name {
			*r = originalRecord{}
			return c.SaveState()
		}
	}
	return nil
}

// cString returns the NUL-terminated string at the start of b.
func cString(b []byte) string {
	for i, x := range b {
		if x == 0 {
			return string(b[:i])
		}
	}
	return string(b)
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

// createCache makes a new, empty cache file at path. It builds the file
// beside path and renames it into place, so a crash never leaves a
// half-made file at path.
func createCache(path string, o CacheOptions) (*Cache, error) {
	c, err := buildCache(path, bucketsFor(o.Capacity), o)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		c.discard() // another arpd made it meanwhile: open that one
		return nil, errRaced
	}
	if err := c.commit(path); err != nil {
		c.discard()
		return nil, err
	}
	return c, nil
}

// buildCache makes an empty cache file with n buckets at path+".new",
// locked and open for writing. The caller fills it and then commits or
// discards it.
func buildCache(path string, n uint64, o CacheOptions) (*Cache, error) {
	tmp := path + ".new"
	fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmtlite.Errorf("create %s: %w", tmp, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmtlite.Errorf("%s: %w (it is being rebuilt)", path, ErrInUse)
		}
		return nil, fmtlite.Errorf("lock %s: %w", tmp, err)
	}
	fail := func(err error) (*Cache, error) {
		unix.Unlink(tmp)
		unix.Close(fd)
		return nil, err
	}
	// NB: truncating to 0 first drops whatever a crashed build left; the
	// second ftruncate makes the file sparse at its full size.
	if err := unix.Ftruncate(fd, 0); err != nil {
		return fail(fmtlite.Errorf("truncate %s: %w", tmp, err))
	}
	if err := unix.Ftruncate(fd, fileSizeFor(n)); err != nil {
		return fail(fmtlite.Errorf("size %s: %w", tmp, err))
	}
	k0, k1, err := newSeed()
	if err != nil {
		return fail(err)
	}
	now := o.Now
	if now == nil {
		now = wallClock
	}
	c := &Cache{path: tmp, fd: fd, buckets: n, k0: k0, k1: k1, created: uint64(now()), now: now, negTTL: o.NegativeTTL, newest: 1}
	encodeStaticHeader(c.page[:], geometry{buckets: n, k0: k0, k1: k1, created: c.created})
	if err := pwriteFull(fd, c.page[:], 0); err != nil {
		return fail(fmtlite.Errorf("write %s: %w", tmp, err))
	}
	c.state.flags = stateFlagOpen
	c.state.pid = uint32(os.Getpid())
	c.state.started = c.created
	if err := c.SaveState(); err != nil {
		return fail(err)
	}
	if err := c.mapFile(false); err != nil {
		return fail(err)
	}
	return c, nil
}

// commit syncs a file made by buildCache and renames it to path.
func (c *Cache) commit(path string) error {
	if err := c.SaveState(); err != nil {
		return err
	}
	if err := unix.Fsync(c.fd); err != nil {
		return fmtlite.Errorf("sync %s: %w", c.path, err)
	}
	if err := unix.Rename(c.path, path); err != nil {
		return fmtlite.Errorf("rename %s to %s: %w", c.path, path, err)
	}
	c.path = path
	syncDir(filepath.Dir(path))
	return nil
}

// discard removes a file made by buildCache that will not be committed.
func (c *Cache) discard() {
	unix.Unlink(c.path)
	c.closeFiles()
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

// Rebuild replaces the file with a new one of the given capacity (0 keeps
// the current one) holding all current entries, then runs fill on the new
// file, and renames it into place only if fill succeeds. On error the old
// file stays exactly as it was and c still refers to it.
//
// When the new capacity is smaller than the number of entries, each full
// bucket keeps its most recently updated entries; the rest are counted as
// evictions.
func (c *Cache) Rebuild(capacity int, fill func(n *Cache) error) error {
	if c.readOnly {
		return ErrReadOnly
	}
	if capacity == 0 {
		capacity = c.Capacity()
	}
	if capacity < minCapacity || capacity > maxCapacity {
		return fmtlite.Errorf("%s: capacity %d out of range %d..%d", c.path, capacity, minCapacity, maxCapacity)
	}
	n, err := buildCache(c.path, bucketsFor(capacity), CacheOptions{NegativeTTL: c.negTTL, Now: c.now})
	if err != nil {
		return err
	}
	var perr error
	c.Range(func(e *Entry) bool {
		_, perr = n.Put(e)
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
	n.state.originals = c.state.originals
	for i, v := range c.state.counters {
		n.state.counters[i] += v
	}
	n.state.flags, n.state.pid, n.state.started = c.state.flags, c.state.pid, c.state.started
	if err := n.commit(c.path); err != nil {
		n.discard()
		return err
	}
	c.closeFiles()
	*c = *n
	return nil
}
