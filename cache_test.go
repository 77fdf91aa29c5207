package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// testClock is a settable clock for cache tests.
type testClock struct{ t atomic.Uint32 }

func (c *testClock) now() uint32  { return c.t.Load() }
func (c *testClock) set(v uint32) { c.t.Store(v) }

// newTestCache makes a cache with the given capacity in a temporary
// directory, on a test clock starting at 1,000,000 s.
func newTestCache(t testing.TB, capacity int) (*Cache, *testClock) {
	t.Helper()
	clk := &testClock{}
	clk.set(1_000_000)
	c, err := OpenCache(filepath.Join(t.TempDir(), "arpd.db"), CacheOptions{Capacity: capacity, NegativeTTL: 60, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk
}

// v4 returns the key of 10.a.b.c on ifindex 2.
func v4(a, b, c byte) Key { return keyV4(2, [4]byte{10, a, b, c}) }

// positive returns a positive Ethernet entry for k with MAC 02:00:00:00:00:m.
func positive(k Key, m byte) Entry {
	return Entry{Key: k, Kind: KindPositive, Source: SourceARP, LLLen: 6, LLAddr: [8]byte{2, 0, 0, 0, 0, m}}
}

// mustPut stores e and returns what Put did, failing the test on error.
func mustPut(t testing.TB, c *Cache, e Entry) PutResult {
	t.Helper()
	r, err := c.Put(&e)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fileSum returns a digest of the file at path, to prove it unchanged.
func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestSipHash checks the bucket hash against SipHash-2-4 reference output
// (key 00..0f, message 00..17), as computed by Rust's std SipHasher.
func TestSipHash(t *testing.T) {
	var key, msg [24]byte
	for i := range key {
		key[i], msg[i] = byte(i), byte(i)
	}
	le := binary.LittleEndian
	got := sipHash24x3(le.Uint64(key[0:]), le.Uint64(key[8:]), le.Uint64(msg[0:]), le.Uint64(msg[8:]), le.Uint64(msg[16:]))
	if want := uint64(0xb8ad50c6f649af94); got != want {
		t.Fatalf("sipHash24x3 = %#x, want %#x", got, want)
	}
}

func TestCachePutLookup(t *testing.T) {
	c, clk := newTestCache(t, 1024)
	k := v4(0, 0, 1)
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("lookup in an empty cache found something")
	}
	if r := mustPut(t, c, positive(k, 1)); r != PutNew {
		t.Fatalf("first put = %d, want PutNew", r)
	}
	e, ok := c.Lookup(&k)
	if !ok || e.LLAddr != [8]byte{2, 0, 0, 0, 0, 1} || e.LLLen != 6 || e.Kind != KindPositive || e.Source != SourceARP {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
	if e.First != 1_000_000 || e.Updated != 1_000_000 {
		t.Fatalf("timestamps first=%d updated=%d, want 1000000", e.First, e.Updated)
	}
	// The same binding in the same second writes nothing.
	if r := mustPut(t, c, positive(k, 1)); r != PutUnchanged {
		t.Fatalf("identical put = %d, want PutUnchanged", r)
	}
	// Within refreshGrace the same binding writes nothing either: the
	// stored entry keeps its times.
	clk.set(1_000_000 + refreshGrace - 1)
	if r := mustPut(t, c, positive(k, 1)); r != PutUnchanged {
		t.Fatalf("put within the refresh grace = %d, want PutUnchanged", r)
	}
	if e, _ = c.Lookup(&k); e.Updated != 1_000_000 {
		t.Fatalf("put within the refresh grace moved updated to %d", e.Updated)
	}
	// Later, the same binding is refreshed and keeps its first-seen time.
	clk.set(1_000_000 + refreshGrace)
	if r := mustPut(t, c, positive(k, 1)); r != PutRefreshed {
		t.Fatalf("refresh = %d, want PutRefreshed", r)
	}
	e, _ = c.Lookup(&k)
	if e.First != 1_000_000 || e.Updated != 1_000_000+refreshGrace {
		t.Fatalf("after refresh first=%d updated=%d", e.First, e.Updated)
	}
	// A new MAC is a change and restarts first-seen, however soon.
	clk.set(1_000_000 + refreshGrace + 1)
	if r := mustPut(t, c, positive(k, 2)); r != PutChanged {
		t.Fatalf("new MAC = %d, want PutChanged", r)
	}
	e, _ = c.Lookup(&k)
	if e.LLAddr[5] != 2 || e.First != 1_000_000+refreshGrace+1 {
		t.Fatalf("after change %+v", e)
	}
	// Other keys are independent: interface, family and address all count.
	other := []Key{v4(0, 0, 2), keyV4(3, [4]byte{10, 0, 0, 1}), {Family: familyIPv6, Ifindex: 2, Addr: [16]byte{10, 0, 0, 1}}}
	for _, o := range other {
		if _, ok := c.Lookup(&o); ok {
			t.Fatalf("lookup of %+v found the entry of %+v", o, k)
		}
	}
	if c.Entries() != 1 {
		t.Fatalf("entries = %d, want 1", c.Entries())
	}
	ok, err := c.Delete(&k)
	if err != nil || !ok {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("lookup after delete found the entry")
	}
	if ok, _ := c.Delete(&k); ok {
		t.Fatal("second delete reported an entry")
	}
	if c.Entries() != 0 {
		t.Fatalf("entries = %d after delete, want 0", c.Entries())
	}
	if c.Counter(ctrInserts) != 1 || c.Counter(ctrUpdates) != 2 || c.Counter(ctrDeletes) != 1 {
		t.Fatalf("counters inserts=%d updates=%d deletes=%d", c.Counter(ctrInserts), c.Counter(ctrUpdates), c.Counter(ctrDeletes))
	}
}

func TestCacheRejectsInvalidEntry(t *testing.T) {
	c, _ := newTestCache(t, 64)
	for _, e := range []Entry{
		{Key: v4(0, 0, 1), Kind: 0, LLLen: 6},
		{Key: v4(0, 0, 1), Kind: 3, LLLen: 6},
		{Key: v4(0, 0, 1), Kind: KindPositive, LLLen: 9},
		{Key: Key{Ifindex: 2}, Kind: KindPositive, LLLen: 6},
	} {
		if _, err := c.Put(&e); err == nil {
			t.Errorf("Put(%+v) succeeded", e)
		}
	}
	if c.Entries() != 0 {
		t.Fatalf("entries = %d, want 0", c.Entries())
	}
}

func TestCacheIPv6Key(t *testing.T) {
	c, _ := newTestCache(t, 64)
	k := Key{Family: familyIPv6, Ifindex: 7, Addr: [16]byte{0xfe, 0x80, 15: 1}}
	mustPut(t, c, positive(k, 9))
	e, ok := c.Lookup(&k)
	if !ok || e.Addr != k.Addr || e.Family != familyIPv6 || e.Ifindex != 7 {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
}

func TestCacheNegativeExpiry(t *testing.T) {
	c, clk := newTestCache(t, 64)
	k := v4(0, 0, 9)
	mustPut(t, c, Entry{Key: k, Kind: KindNegative, Source: SourceKernel})
	e, ok := c.Lookup(&k)
	if !ok || e.Kind != KindNegative {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
	clk.set(1_000_059)
	if c.Expired(&e) {
		t.Fatal("negative entry expired after 59 s with a 60 s lifetime")
	}
	clk.set(1_000_060)
	if !c.Expired(&e) {
		t.Fatal("negative entry still live after 60 s with a 60 s lifetime")
	}
	clk.set(999_000) // the clock went backwards
	if c.Expired(&e) {
		t.Fatal("a clock that went backwards expired an entry")
	}
	p := positive(k, 1)
	if c.Expired(&p) {
		t.Fatal("a positive entry counted as expired")
	}
	// A probe counted on a live negative entry keeps its timestamp.
	clk.set(1_000_030)
	e.Probes++
	if r, err := c.Put(&e); err != nil || r != PutRefreshed {
		t.Fatalf("probe count update = %d, %v", r, err)
	}
	e, _ = c.Lookup(&k)
	if e.Probes != 1 || e.Updated != 1_000_000 {
		t.Fatalf("after probe %+v", e)
	}
}

// sameBuckets returns n distinct IPv4 keys whose two buckets are the same
// two buckets, so that they compete for the same 2*slotWays slots.
func sameBuckets(t testing.TB, c *Cache, n int) []Key {
	t.Helper()
	first := v4(0, 0, 0)
	a, b, _ := c.locate(first.words())
	keys := []Key{first}
	for i := 1; i < 1<<22 && len(keys) < n; i++ {
		k := v4(byte(i>>16), byte(i>>8), byte(i))
		x, y, _ := c.locate(k.words())
		if x == a && y == b || x == b && y == a {
			keys = append(keys, k)
		}
	}
	if len(keys) < n {
		t.Fatalf("found only %d keys for one pair of buckets", len(keys))
	}
	return keys
}

func TestCacheEvictionOrder(t *testing.T) {
	c, clk := newTestCache(t, 64)
	const full = 2 * slotWays
	keys := sameBuckets(t, c, full+3)
	// Fill both buckets: entry i updated at 1,000,000 + 10*i.
	for i := 0; i < full; i++ {
		clk.set(1_000_000 + uint32(10*i))
		if r := mustPut(t, c, positive(keys[i], byte(i))); r != PutNew {
			t.Fatalf("put %d = %d, want PutNew", i, r)
		}
	}
	// Both buckets full and nowhere to move anything: the least recently
	// updated entry goes.
	clk.set(1_000_100)
	mustPut(t, c, positive(keys[full], 50))
	if _, ok := c.Lookup(&keys[0]); ok {
		t.Fatal("the oldest entry survived eviction")
	}
	for _, k := range keys[1 : full+1] {
		if _, ok := c.Lookup(&k); !ok {
			t.Fatalf("entry %v was evicted instead of the oldest", k.Addr[:4])
		}
	}
	// An expired negative entry goes first, even though it is newer.
	clk.set(1_000_200)
	mustPut(t, c, Entry{Key: keys[1], Kind: KindNegative}) // replaces keys[1] in place
	clk.set(1_000_300)                                     // now expired (60 s lifetime)
	mustPut(t, c, positive(keys[full+1], 51))
	if _, ok := c.Lookup(&keys[1]); ok {
		t.Fatal("the expired negative entry survived eviction")
	}
	if _, ok := c.Lookup(&keys[2]); !ok {
		t.Fatal("a positive entry was evicted while an expired negative one was there")
	}
	if got := c.Counter(ctrEvictedNegatives); got != 1 {
		t.Fatalf("evicted negatives = %d, want 1", got)
	}
	// An entry older than everything in both buckets is dropped itself.
	old := positive(keys[full+2], 52)
	old.Updated = 5
	if r := mustPut(t, c, old); r != PutDropped {
		t.Fatalf("put of an entry older than both buckets = %d, want PutDropped", r)
	}
	if got := c.Counter(ctrEvictions); got != 3 {
		t.Fatalf("evictions = %d, want 3", got)
	}
	if c.Entries() != full {
		t.Fatalf("entries = %d, want %d", c.Entries(), full)
	}
}

// TestCacheFillsUp checks what displacement buys: a table filled with
// random keys to 85% of its capacity loses nothing, and all its entries
// are found again.
func TestCacheFillsUp(t *testing.T) {
	c, _ := newTestCache(t, 4096)
	rng := rand.New(rand.NewPCG(7, 8))
	n := c.Capacity() * 85 / 100
	keys := make([]Key, 0, n)
	seen := map[Key]bool{}
	for len(keys) < n {
		k := keyV4(uint32(1+rng.IntN(4)), [4]byte{10, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		if r := mustPut(t, c, positive(k, 1)); r != PutNew {
			t.Fatalf("put %d of %d = %d, want PutNew", len(keys), n, r)
		}
	}
	if c.Counter(ctrEvictions) != 0 {
		t.Fatalf("%d evictions at 85%% load", c.Counter(ctrEvictions))
	}
	for _, k := range keys {
		if _, ok := c.Lookup(&k); !ok {
			t.Fatalf("entry %v lost", k)
		}
	}
	if c.Entries() != uint64(n) {
		t.Fatalf("entries = %d, want %d", c.Entries(), n)
	}
	listed := 0
	c.Range(func(*Entry) bool { listed++; return true })
	if listed != n {
		t.Fatalf("range listed %d, want %d (a move left a duplicate?)", listed, n)
	}
	t.Logf("%d entries in %d slots, %d moves", n, c.Capacity(), c.Counter(ctrMoves))
}

func TestCacheReopen(t *testing.T) {
	c, clk := newTestCache(t, 1000)
	path := c.Path()
	for i := 0; i < 500; i++ {
		mustPut(t, c, positive(v4(1, byte(i>>8), byte(i)), byte(i)))
	}
	c.Count(ctrLoaded, 42)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Capacity 0 keeps the file's capacity (1000 rounds up to 1000).
	c2, err := OpenCache(path, CacheOptions{NegativeTTL: 60, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Capacity() != 1000 {
		t.Fatalf("capacity = %d, want 1000", c2.Capacity())
	}
	if c2.Recovered() != 0 {
		t.Fatalf("a cleanly closed file was recovered (%d)", c2.Recovered())
	}
	n := 0
	for i := 0; i < 500; i++ {
		k := v4(1, byte(i>>8), byte(i))
		if e, ok := c2.Lookup(&k); ok && e.LLAddr[5] == byte(i) {
			n++
		}
	}
	if uint64(n) != c2.Entries() || n < 450 {
		t.Fatalf("found %d of 500 after reopen; entries says %d", n, c2.Entries())
	}
	if c2.Counter(ctrLoaded) != 42 {
		t.Fatalf("counter after reopen = %d, want 42", c2.Counter(ctrLoaded))
	}
}

func TestCacheInUse(t *testing.T) {
	c, _ := newTestCache(t, 64)
	_, err := OpenCache(c.Path(), CacheOptions{})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second writer: %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("in-use error does not name the owner: %v", err)
	}
	// Readers are never blocked.
	r, err := OpenCacheReadOnly(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestCacheRebuild(t *testing.T) {
	c, clk := newTestCache(t, 4096)
	path := c.Path()
	const n = 2000
	for i := 0; i < n; i++ {
		clk.set(1_000_000 + uint32(i))
		mustPut(t, c, positive(v4(2, byte(i>>8), byte(i)), byte(i)))
	}
	before := c.Entries()
	if err := c.SaveOriginal(SysctlOriginal{Name: "eth0", Family: familyIPv4, AppSolicit: 0, McastSolicit: 3}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A larger capacity keeps every entry.
	c2, err := OpenCache(path, CacheOptions{Capacity: 8192, NegativeTTL: 60, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Capacity() != 8192 || c2.Entries() != before {
		t.Fatalf("after growing: capacity %d entries %d, want 8192 and %d", c2.Capacity(), c2.Entries(), before)
	}
	if st, _ := os.Stat(path); st.Size() != fileSizeFor(bucketsFor(8192)) {
		t.Fatalf("file size %d after rebuild, want %d", st.Size(), fileSizeFor(bucketsFor(8192)))
	}
	if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
		t.Fatalf("rebuild left %s.new behind: %v", path, err)
	}
	missing := 0
	c2.Range(func(e *Entry) bool { return true })
	for i := 0; i < n; i++ {
		k := v4(2, byte(i>>8), byte(i))
		if _, ok := c2.Lookup(&k); !ok {
			missing++
		}
	}
	if uint64(n-missing) != before {
		t.Fatalf("%d entries missing after growing; %d were stored before", missing, uint64(n)-before)
	}
	if o := c2.Originals(); len(o) != 1 || o[0].Name != "eth0" || o[0].McastSolicit != 3 {
		t.Fatalf("saved sysctls lost in rebuild: %+v", o)
	}
	c2.Close()

	// A smaller one keeps the most recently updated entries of each bucket.
	c3, err := OpenCache(path, CacheOptions{Capacity: 256, NegativeTTL: 60, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if c3.Capacity() != 256 || c3.Entries() > 256 || c3.Entries() < 200 {
		t.Fatalf("after shrinking: capacity %d entries %d", c3.Capacity(), c3.Entries())
	}
	var oldestKept uint32 = ^uint32(0)
	c3.Range(func(e *Entry) bool {
		oldestKept = min(oldestKept, e.Updated)
		return true
	})
	// 2000 entries into 256 slots: what survives is from the newest part.
	if oldestKept < 1_000_000+n/2 {
		t.Fatalf("an old entry (updated %d) survived shrinking", oldestKept)
	}
}

func TestCacheRebuildFailureKeepsFile(t *testing.T) {
	c, _ := newTestCache(t, 64)
	mustPut(t, c, positive(v4(0, 0, 1), 1))
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	sum := fileSum(t, c.Path())
	boom := errors.New("boom")
	err := c.Rebuild(0, func(n *Cache) error {
		mustPut(t, n, positive(v4(0, 0, 2), 2))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rebuild error = %v, want boom", err)
	}
	if fileSum(t, c.Path()) != sum {
		t.Fatal("a failed rebuild changed the file")
	}
	k := v4(0, 0, 2)
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("an entry from a failed rebuild is visible")
	}
	k = v4(0, 0, 1)
	if _, ok := c.Lookup(&k); !ok {
		t.Fatal("the cache lost its entry after a failed rebuild")
	}
	if _, err := os.Stat(c.Path() + ".new"); !os.IsNotExist(err) {
		t.Fatal("a failed rebuild left its temporary file")
	}
}

func TestCacheSparse(t *testing.T) {
	c, _ := newTestCache(t, 1_000_000)
	var st unix.Stat_t
	if err := unix.Stat(c.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != fileSizeFor(bucketsFor(1_000_000)) {
		t.Fatalf("size %d, want %d", st.Size, fileSizeFor(bucketsFor(1_000_000)))
	}
	// Only the header pages are allocated; 512-byte blocks.
	if used := st.Blocks * 512; used > 64<<10 {
		t.Fatalf("a new 1,000,000-entry file uses %d bytes of storage; it should be sparse", used)
	}
	if per := float64(st.Size) / 1_000_000; per > 48 {
		t.Fatalf("%.2f bytes per entry, budget 48", per)
	}
}

// TestCacheMappingIsReadOnly checks the property JFFS2 needs: the mapping
// is shared but may never become writable (no "mw" in VmFlags), and is not
// a shared-writable mapping ("sh").
func TestCacheMappingIsReadOnly(t *testing.T) {
	c, _ := newTestCache(t, 64)
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&c.mem[0])))
	var flags string
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, start) {
			in = true
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			flags = line
			break
		}
	}
	if flags == "" {
		t.Fatalf("mapping at %s not found in smaps", start)
	}
	f := " " + strings.TrimPrefix(flags, "VmFlags:") + " "
	if strings.Contains(f, " mw ") || strings.Contains(f, " sh ") || !strings.Contains(f, " ms ") {
		t.Fatalf("mapping flags %q: want may-share (ms) without may-write (mw) or shared (sh)", flags)
	}
}

func TestCacheOriginals(t *testing.T) {
	c, clk := newTestCache(t, 64)
	if err := c.SaveOriginal(SysctlOriginal{Name: "lan0", Family: familyIPv4, AppSolicit: 0, McastSolicit: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveOriginal(SysctlOriginal{Name: "lan0", Family: familyIPv4, AppSolicit: 1, McastSolicit: 5}); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveOriginal(SysctlOriginal{Name: "lan0", Family: familyIPv6, AppSolicit: 2, McastSolicit: 4}); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveOriginal(SysctlOriginal{Name: "an-interface-name-too-long"}); err == nil {
		t.Fatal("an over-long interface name was saved")
	}
	// Saved values are on disk at once: a reader sees them without a sync.
	r, err := OpenCacheReadOnly(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	got := r.Originals()
	r.Close()
	if len(got) != 2 || got[0] != (SysctlOriginal{"lan0", familyIPv4, 1, 5}) || got[1] != (SysctlOriginal{"lan0", familyIPv6, 2, 4}) {
		t.Fatalf("originals = %+v", got)
	}
	if err := c.ClearOriginal("lan0", familyIPv4); err != nil {
		t.Fatal(err)
	}
	if got := c.Originals(); len(got) != 1 || got[0].Family != familyIPv6 {
		t.Fatalf("after clear: %+v", got)
	}
	for i := 1; i < maxOriginals; i++ {
		if err := c.SaveOriginal(SysctlOriginal{Name: fmt.Sprintf("eth%d", i), Family: familyIPv4}); err != nil {
			t.Fatalf("interface %d: %v", i, err)
		}
	}
	if err := c.SaveOriginal(SysctlOriginal{Name: "one-more", Family: familyIPv4}); !errors.Is(err, ErrOriginalsFull) {
		t.Fatalf("65th interface: %v, want ErrOriginalsFull", err)
	}
	path := c.Path()
	c.Close()
	c2, err := OpenCache(path, CacheOptions{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if n := len(c2.Originals()); n != maxOriginals {
		t.Fatalf("%d saved interfaces after reopen, want %d", n, maxOriginals)
	}
}

// TestCacheForeignFiles opens files that are not arpd caches: each gets a
// clear error naming the file and the problem, and stays byte-for-byte
// unchanged.
func TestCacheForeignFiles(t *testing.T) {
	dir := t.TempDir()
	bdb := make([]byte, 8192)
	binary.LittleEndian.PutUint32(bdb[12:], 0x061561)
	bdbBE := make([]byte, 8192)
	binary.BigEndian.PutUint32(bdbBE[12:], 0x053162)
	random := make([]byte, 20000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"bdb-hash", bdb, ErrBerkeleyDB, "arpd -l"},
		{"bdb-btree-be", bdbBE, ErrBerkeleyDB, "-f"},
		{"random", random, ErrNotCache, "unknown format"},
		{"text", []byte("#Ifindex IP              MAC\n2 10.0.0.1 00:11:22:33:44:55\n"), ErrNotCache, "unknown format"},
		{"empty", nil, ErrNotCache, "empty"},
		{"magic-only", []byte(cacheMagic), ErrCorrupt, "truncated"},
	}
	// Format versions this arpd does not read, with a valid header.
	for _, v := range []uint32{1, cacheVersion + 1} {
		b := make([]byte, headerSize+16*176)
		le := binary.LittleEndian
		copy(b, cacheMagic)
		le.PutUint32(b[8:], v)
		le.PutUint32(b[12:], headerSize)
		le.PutUint32(b[16:], 44)
		le.PutUint32(b[20:], 4)
		le.PutUint32(b[24:], 16)
		le.PutUint32(b[staticCRCOff:], crc32.Checksum(b[:staticCRCOff], castagnoli))
		text := "n older arpd"
		if v > cacheVersion {
			text = " newer arpd"
		}
		cases = append(cases, struct {
			name string
			data []byte
			want error
			text string
		}{fmt.Sprintf("version-%d", v), b, ErrNotCache, fmt.Sprintf("format version %d, this arpd reads version %d only; it was made by a%s", v, cacheVersion, text)})
	}
	// The real thing, when iproute2's arpd is installed.
	if p, err := exec.LookPath("arpd"); err == nil {
		real := filepath.Join(dir, "iproute2.db")
		in := "2 10.0.0.1 00:11:22:33:44:55\n"
		cmd := exec.Command(p, "-b", real, "-f", "-")
		cmd.Stdin = strings.NewReader(in)
		if out, err := cmd.CombinedOutput(); err == nil {
			b, _ := os.ReadFile(real)
			cases = append(cases, struct {
				name string
				data []byte
				want error
				text string
			}{"iproute2-arpd", b, ErrBerkeleyDB, "arpd -l"})
		} else {
			t.Logf("iproute2 arpd could not make a database: %v: %s", err, out)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := fileSum(t, path)
			for _, open := range []func() (*Cache, error){
				func() (*Cache, error) { return OpenCache(path, CacheOptions{}) },
				func() (*Cache, error) { return OpenCacheReadOnly(path) },
				func() (*Cache, error) { return OpenCache(path, CacheOptions{Capacity: 128}) },
			} {
				c, err := open()
				if err == nil {
					c.Close()
					t.Fatal("opened a foreign file")
				}
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %q: want %v naming %s", err, tc.want, path)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.text) {
					t.Fatalf("error %q does not say %q", msg, tc.text)
				}
			}
			if fileSum(t, path) != sum {
				t.Fatal("the file was changed")
			}
			if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
				t.Fatal("a temporary file was left behind")
			}
		})
	}
}

// populated makes a closed cache file with n entries and returns its path
// and the keys stored.
func populated(t testing.TB, capacity, n int) (string, []Key) {
	t.Helper()
	c, _ := newTestCache(t, capacity)
	var keys []Key
	for i := 0; i < n; i++ {
		k := v4(3, byte(i>>8), byte(i))
		if mustPut(t, c, positive(k, byte(i))) != PutDropped {
			keys = append(keys, k)
		}
	}
	// Evictions may have pushed some out; keep only what is there.
	var present []Key
	for _, k := range keys {
		if _, ok := c.Lookup(&k); ok {
			present = append(present, k)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return c.Path(), present
}

func TestCacheHeaderDamage(t *testing.T) {
	path, _ := populated(t, 256, 100)
	orig, _ := os.ReadFile(path)
	damage := func(t *testing.T, offs ...int) {
		b := bytes.Clone(orig)
		for _, off := range offs {
			b[off] ^= 0x20
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Any byte of the static header, including the magic, version,
	// geometry, seed and the checksum itself.
	for _, off := range []int{0, 7, 8, 12, 16, 20, 24, 32, 47, 50, 100, staticCRCOff, staticCRCOff + 3} {
		t.Run(fmt.Sprintf("static-%d", off), func(t *testing.T) {
			damage(t, off)
			sum := fileSum(t, path)
			for _, open := range []func() (*Cache, error){
				func() (*Cache, error) { return OpenCache(path, CacheOptions{}) },
				func() (*Cache, error) { return OpenCacheReadOnly(path) },
			} {
				c, err := open()
				if err == nil {
					c.Close()
					t.Fatal("opened a file with a damaged header")
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotCache) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v", err)
				}
			}
			if fileSum(t, path) != sum {
				t.Fatal("the file was changed")
			}
		})
	}
	// One damaged state page: the other copy serves.
	t.Run("one-state-page", func(t *testing.T) {
		damage(t, stateOffsetA+40, stateOffsetB+40)
		b, _ := os.ReadFile(path)
		copy(b[stateOffsetB:], orig[stateOffsetB:stateOffsetB+pageSize]) // B intact
		os.WriteFile(path, b, 0o644)
		c, err := OpenCacheReadOnly(path)
		if err != nil {
			t.Fatalf("one damaged state page made the file unreadable: %v", err)
		}
		c.Close()
	})
	t.Run("both-state-pages", func(t *testing.T) {
		damage(t, stateOffsetA+40, stateOffsetB+40)
		sum := fileSum(t, path)
		_, err := OpenCache(path, CacheOptions{})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "state") {
			t.Fatalf("error %v, want ErrCorrupt about the state pages", err)
		}
		if fileSum(t, path) != sum {
			t.Fatal("the file was changed")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if err := os.WriteFile(path, orig[:len(orig)-1], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenCacheReadOnly(path)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestCacheSlotDamage damages slots of a closed file: exactly those are
// dropped and counted, and every other entry is still served.
func TestCacheSlotDamage(t *testing.T) {
	path, keys := populated(t, 1024, 600)
	b, _ := os.ReadFile(path)
	// Damage one byte in each of 7 occupied slots.
	var damaged []int64
	rng := rand.New(rand.NewPCG(3, 4))
	for j := int64(0); headerSize+(j/slotWays+1)*bucketSize <= int64(len(b)) && len(damaged) < 7; j += 13 {
		r := ref(headerSize+j/slotWays*bucketSize, int(j%slotWays))
		if slotStatus(binary.LittleEndian.Uint16(b[r.tagOff():]), b[r.off():r.off()+slotSize]) == slotValid {
			b[r.off()+int64(rng.IntN(slotSize))] ^= 1 << rng.IntN(8)
			damaged = append(damaged, r.off())
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenCacheReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	bad := r.Range(func(*Entry) bool { seen++; return true })
	if bad != len(damaged) || seen != len(keys)-len(damaged) {
		t.Fatalf("range: %d damaged, %d entries; want %d and %d", bad, seen, len(damaged), len(keys)-len(damaged))
	}
	found := 0
	for _, k := range keys {
		if e, ok := r.Lookup(&k); ok {
			if e.Key != k {
				t.Fatalf("lookup of %v returned %v", k, e.Key)
			}
			found++
		}
	}
	r.Close()
	if found != len(keys)-len(damaged) {
		t.Fatalf("lookup found %d, want %d", found, len(keys)-len(damaged))
	}
	// A writer after an unclean shutdown drops and counts them.
	b, _ = os.ReadFile(path)
	var st cacheState
	decodeState(b[stateOffsetA:], &st)
	var stB cacheState
	if decodeState(b[stateOffsetB:], &stB) && stB.seq > st.seq {
		st = stB
	}
	st.flags |= stateFlagOpen
	st.seq += 10
	encodeState(b[stateOffsetA:stateOffsetA+pageSize], &st)
	os.WriteFile(path, b, 0o644)
	w, err := OpenCache(path, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Recovered() != len(damaged) || w.Entries() != uint64(len(keys)-len(damaged)) {
		t.Fatalf("recovered %d entries %d; want %d and %d", w.Recovered(), w.Entries(), len(damaged), len(keys)-len(damaged))
	}
	if w.Counter(ctrCorruptSlots) != uint64(len(damaged)) {
		t.Fatalf("corrupt counter = %d", w.Counter(ctrCorruptSlots))
	}
	if bad := w.Range(func(*Entry) bool { return true }); bad != 0 {
		t.Fatalf("%d damaged slots remain after recovery", bad)
	}
}

// TestCacheRandomFlips flips random bytes all over a populated file: no
// open, lookup, put or listing may panic, and whatever is served passed
// its check.
func TestCacheRandomFlips(t *testing.T) {
	path, keys := populated(t, 256, 150)
	orig, _ := os.ReadFile(path)
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 200; round++ {
		b := bytes.Clone(orig)
		for i := 0; i < 1+rng.IntN(20); i++ {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		exerciseCacheFile(t, path, keys)
	}
}

// exerciseCacheFile opens path every way and uses it; it fails the test
// only on a broken invariant (a panic fails it by itself).
func exerciseCacheFile(t testing.TB, path string, keys []Key) {
	if r, err := OpenCacheReadOnly(path); err == nil {
		r.Range(func(e *Entry) bool {
			if e.LLLen > 8 || e.Kind != KindPositive && e.Kind != KindNegative {
				t.Fatalf("range yielded an invalid entry %+v", e)
			}
			return true
		})
		for _, k := range keys {
			if e, ok := r.Lookup(&k); ok && e.Key != k {
				t.Fatalf("lookup of %v returned %v", k, e.Key)
			}
		}
		r.Close()
	}
	if w, err := OpenCache(path, CacheOptions{NegativeTTL: 60}); err == nil {
		for _, k := range keys[:min(10, len(keys))] {
			w.Put(&Entry{Key: k, Kind: KindNegative})
			w.Delete(&k)
		}
		w.Close()
	}
}

// TestCacheDurabilityKill runs a writer in a child process and kills it
// with SIGKILL mid-stream: every entry it reported written is there.
func TestCacheDurabilityKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arpd.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChildWriter$")
	cmd.Env = append(os.Environ(), "ARPD_CHILD_WRITER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported []int
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(reported) < 3000 {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			reported = append(reported, n)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if len(reported) < 3000 {
		t.Fatalf("the child reported only %d entries", len(reported))
	}
	c, err := OpenCache(path, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range reported {
		k := childKey(n)
		e, ok := c.Lookup(&k)
		if !ok || e.LLAddr[4] != byte(n>>8) || e.LLAddr[5] != byte(n) {
			t.Fatalf("entry %d, reported written before the kill, is missing (%+v, %v)", n, e, ok)
		}
	}
	if c.Entries() < uint64(len(reported)) {
		t.Fatalf("entries after recovery = %d, want at least %d", c.Entries(), len(reported))
	}
}

// childKey is the key the child writer stores as its n-th entry.
func childKey(n int) Key { return keyV4(5, [4]byte{10, 9, byte(n >> 8), byte(n)}) }

// TestCacheChildWriter is the child of TestCacheDurabilityKill: it writes
// entries forever, printing each one's number after Put returns.
func TestCacheChildWriter(t *testing.T) {
	path := os.Getenv("ARPD_CHILD_WRITER")
	if path == "" {
		t.Skip("helper process for TestCacheDurabilityKill")
	}
	c, err := OpenCache(path, CacheOptions{Capacity: 1 << 17})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for n := 0; n < 60000; n++ {
		e := Entry{Key: childKey(n), Kind: KindPositive, LLLen: 6, LLAddr: [8]byte{2, 0, 0, 0, byte(n >> 8), byte(n)}}
		if _, err := c.Put(&e); err != nil {
			fmt.Fprintln(w, "error", err)
			break
		}
		fmt.Fprintln(w, n)
		w.Flush()
	}
	time.Sleep(time.Minute) // wait to be killed; never closes cleanly
	os.Exit(0)
}

// TestCacheConcurrentReader lists the file from a separate read-only
// mapping while the writer rewrites every entry over and over: the reader
// must never see a torn slot. Each MAC is derived from the address and a
// generation byte repeated, so a mix of two writes shows.
func TestCacheConcurrentReader(t *testing.T) {
	c, _ := newTestCache(t, 4096)
	const n = 1500
	put := func(i int, g byte) {
		k := v4(4, byte(i>>8), byte(i))
		e := Entry{Key: k, Kind: KindPositive, LLLen: 6, LLAddr: [8]byte{byte(i), g, g, g, g, byte(i >> 8)}, Probes: g}
		if _, err := c.Put(&e); err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < n; i++ {
		put(i, 0)
	}
	r, err := OpenCacheReadOnly(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for g := 1; !stop.Load(); g++ {
			for i := 0; i < n; i++ {
				put(i, byte(g))
			}
		}
	}()
	var entries, listings int
	deadline := time.Now().Add(2 * time.Second)
	for listings < 20 || time.Now().Before(deadline) && listings < 2000 {
		listings++
		r.Range(func(e *Entry) bool {
			entries++
			i := int(e.Addr[2])<<8 | int(e.Addr[3])
			g := e.LLAddr[1]
			if e.LLAddr != [8]byte{byte(i), g, g, g, g, byte(i >> 8)} || e.Probes != g {
				t.Errorf("torn entry for %d: %+v", i, e)
				return false
			}
			return true
		})
		if t.Failed() {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if entries < listings*n/2 {
		t.Fatalf("the reader saw only %d entries in %d listings", entries, listings)
	}
	t.Logf("%d listings, %d entries checked", listings, entries)
}

func TestCacheZeroAllocs(t *testing.T) {
	c, clk := newTestCache(t, 4096)
	for i := 0; i < 3000; i++ {
		mustPut(t, c, positive(v4(5, byte(i>>8), byte(i)), byte(i)))
	}
	hit, miss := v4(5, 0, 7), v4(6, 0, 7)
	if a := testing.AllocsPerRun(1000, func() { c.Lookup(&hit) }); a != 0 {
		t.Errorf("Lookup (hit) allocates %v times", a)
	}
	if a := testing.AllocsPerRun(1000, func() { c.Lookup(&miss) }); a != 0 {
		t.Errorf("Lookup (miss) allocates %v times", a)
	}
	i := 0
	e := Entry{Kind: KindPositive, LLLen: 6}
	if a := testing.AllocsPerRun(1000, func() {
		i++
		clk.set(2_000_000 + uint32(i))
		e.Key = v4(7, byte(i>>8), byte(i))
		e.First, e.Updated = 0, 0
		if _, err := c.Put(&e); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Put allocates %v times", a)
	}
	if a := testing.AllocsPerRun(100, func() { c.Delete(&hit) }); a != 0 {
		t.Errorf("Delete allocates %v times", a)
	}
}

// TestCacheInterruptedMove leaves what a crash in the middle of a
// displacement leaves, the same entry in both of its buckets, and checks
// that Delete removes both copies and that recovery keeps exactly one.
func TestCacheInterruptedMove(t *testing.T) {
	c, clk := newTestCache(t, 256)
	k := v4(0, 1, 1)
	mustPut(t, c, positive(k, 1))
	w0, w1, w2 := k.words()
	b1, b2, tag := c.locate(w0, w1, w2)
	// find returns the slot holding k and the other of its buckets.
	find := func() (slotRef, int64) {
		t.Helper()
		for _, pair := range [][2]int64{{b1, b2}, {b2, b1}} {
			for m := c.match(pair[0], tag); m != 0; m &= m - 1 {
				if r := ref(pair[0], firstLane(m)); keyMatches(c.slotBytes(r), w0, w1, w2) {
					return r, pair[1]
				}
			}
		}
		t.Fatal("entry not found in its buckets")
		return noSlot, 0
	}
	at, other := find()
	duplicate := func() {
		t.Helper()
		if err := c.moveSlot(ref(other, 0), at); err != nil {
			t.Fatal(err)
		}
	}
	count := func(c *Cache) int {
		n := 0
		c.Range(func(e *Entry) bool {
			if e.Key == k {
				n++
			}
			return true
		})
		return n
	}
	duplicate()
	if n := count(c); n != 2 {
		t.Fatalf("setup: %d copies, want 2", n)
	}
	if ok, err := c.Delete(&k); !ok || err != nil {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	if n := count(c); n != 0 {
		t.Fatalf("%d copies after delete, want 0", n)
	}
	// Again, then "crash" and reopen: recovery keeps one copy.
	mustPut(t, c, positive(k, 1))
	at, other = find()
	duplicate()
	path := c.Path()
	c.closeFiles() // the writer dies: the file stays marked open
	c2, err := OpenCache(path, CacheOptions{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if n := count(c2); n != 1 {
		t.Fatalf("%d copies after recovery, want 1", n)
	}
	if c2.Entries() != 1 {
		t.Fatalf("entries after recovery = %d, want 1", c2.Entries())
	}
}

// TestTagLanes checks the word-at-a-time tag comparison against a plain
// loop, for random tag words and for words full of edge values.
func TestTagLanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	edge := []uint16{0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff}
	pick := func() uint16 {
		if rng.IntN(2) == 0 {
			return edge[rng.IntN(len(edge))]
		}
		return uint16(rng.Uint32())
	}
	for n := 0; n < 200000; n++ {
		var tags [slotWays]uint16
		for i := range tags {
			tags[i] = pick()
		}
		want := pick()
		if rng.IntN(3) == 0 {
			want = tags[rng.IntN(slotWays)]
		}
		var lo, hi uint64
		for i, tg := range tags {
			if i < 4 {
				lo |= uint64(tg) << (16 * i)
			} else {
				hi |= uint64(tg) << (16 * (i - 4))
			}
		}
		m := lanes(lo, hi, want)
		// Lookup's merged mask: b1's lanes odd, b2's (the same tags) even.
		merged := m | m>>1
		var got, got2 [slotWays]int
		for x := m; x != 0; x &= x - 1 {
			got[firstLane(x)]++
		}
		for x := merged; x != 0; x &= x - 1 {
			got2[firstLane(x)]++
		}
		for i, tg := range tags {
			w := 0
			if tg == want {
				w = 1
			}
			if got[i] != w || got2[i] != 2*w {
				t.Fatalf("tags %04x, want %04x: slot %d matched %d/%d times, want %d", tags, want, i, got[i], got2[i], w)
			}
		}
	}
}

// sipRef is SipHash-2-4 of any message, written from the paper, one byte
// at a time: the reference for the cache's fixed-length versions.
func sipRef(k0, k1 uint64, msg []byte) uint64 {
	v0, v1 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d
	v2, v3 := k0^0x6c7967656e657261, k1^0x7465646279746573
	compress := func(m uint64) {
		v3 ^= m
		for i := 0; i < 2; i++ {
			v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		}
		v0 ^= m
	}
	var m uint64
	for i, b := range msg {
		m |= uint64(b) << (8 * (i % 8))
		if i%8 == 7 {
			compress(m)
			m = 0
		}
	}
	compress(m | uint64(len(msg))<<56)
	v2 ^= 0xff
	for i := 0; i < 4; i++ {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// TestSipHash12 checks the IPv4 key hash against the reference, which is
// itself checked against published SipHash-2-4 output first.
func TestSipHash12(t *testing.T) {
	var key, msg [24]byte
	for i := range key {
		key[i], msg[i] = byte(i), byte(i)
	}
	le := binary.LittleEndian
	k0, k1 := le.Uint64(key[0:]), le.Uint64(key[8:])
	// The paper's test vector (15 bytes) and the 24-byte one of TestSipHash.
	if got := sipRef(k0, k1, msg[:15]); got != 0xa129ca6149be45e5 {
		t.Fatalf("reference, 15 bytes = %#x", got)
	}
	if got := sipRef(k0, k1, msg[:24]); got != 0xb8ad50c6f649af94 {
		t.Fatalf("reference, 24 bytes = %#x", got)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for n := 0; n < 1000; n++ {
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		k0, k1 = rng.Uint64(), rng.Uint64()
		if got, want := sipHash24x12(k0, k1, le.Uint64(msg[0:]), le.Uint32(msg[8:])), sipRef(k0, k1, msg[:12]); got != want {
			t.Fatalf("sipHash24x12 = %#x, want %#x", got, want)
		}
		if got, want := sipHash24x3(k0, k1, le.Uint64(msg[0:]), le.Uint64(msg[8:]), le.Uint64(msg[16:])), sipRef(k0, k1, msg[:24]); got != want {
			t.Fatalf("sipHash24x3 = %#x, want %#x", got, want)
		}
	}
}

// slotOf returns the slot holding k in c, or noSlot.
func slotOf(c *Cache, k Key) slotRef {
	w0, w1, w2 := k.words()
	b1, b2, _ := c.locate(w0, w1, w2)
	for _, base := range []int64{b1, b2} {
		for i := 0; i < slotWays; i++ {
			if r := ref(base, i); c.tagAt(r) != 0 && keyMatches(c.slotBytes(r), w0, w1, w2) {
				return r
			}
		}
	}
	return noSlot
}

// TestCacheTagDamage damages the tag of a stored slot, to another value
// and to zero: the entry is never served, it counts as damaged, a new Put
// of the key stores a good copy, and recovery drops the damaged one.
func TestCacheTagDamage(t *testing.T) {
	for _, newTag := range []string{"other", "zero"} {
		t.Run(newTag, func(t *testing.T) {
			c, clk := newTestCache(t, 256)
			keys := []Key{v4(1, 0, 1), v4(1, 0, 2), v4(1, 0, 3)}
			for i, k := range keys {
				mustPut(t, c, positive(k, byte(i)))
			}
			r := slotOf(c, keys[1])
			if r == noSlot {
				t.Fatal("setup: entry not in its buckets")
			}
			var tg [2]byte
			if newTag == "other" {
				binary.LittleEndian.PutUint16(tg[:], c.tagAt(r)^0x0100)
			}
			if err := pwriteFull(c.fd, tg[:], r.tagOff()); err != nil {
				t.Fatal(err)
			}
			if _, ok := c.Lookup(&keys[1]); ok {
				t.Fatal("served an entry whose tag is damaged")
			}
			for _, k := range []Key{keys[0], keys[2]} {
				if _, ok := c.Lookup(&k); !ok {
					t.Fatalf("lost %v, whose tag is intact", k.Addr[:4])
				}
			}
			if bad := c.Range(func(*Entry) bool { return true }); bad != 1 {
				t.Fatalf("range found %d damaged slots, want 1", bad)
			}
			// Stored again: a good copy is served.
			e := positive(keys[1], 9)
			if res := mustPut(t, c, e); res != PutNew {
				t.Fatalf("put after tag damage = %d, want PutNew", res)
			}
			if got, ok := c.Lookup(&keys[1]); !ok || got.LLAddr != e.LLAddr {
				t.Fatalf("lookup after the new put = %+v, %v", got, ok)
			}
			// A zero tag looks free: Put may have reused that very slot,
			// counting it as damaged. Else the damaged copy is still there.
			wantRecovered := 1
			if c.status(r) == slotValid {
				if newTag != "zero" || c.Counter(ctrCorruptSlots) != 1 {
					t.Fatalf("reused the damaged slot (tag %s), corrupt counter %d", newTag, c.Counter(ctrCorruptSlots))
				}
				wantRecovered = 0
			}
			// The writer dies; recovery drops the damaged copy and keeps
			// the good one.
			path := c.Path()
			c.closeFiles()
			c2, err := OpenCache(path, CacheOptions{Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if c2.Recovered() != wantRecovered || c2.Entries() != 3 {
				t.Fatalf("recovered %d, entries %d; want %d and 3", c2.Recovered(), c2.Entries(), wantRecovered)
			}
			n := 0
			if bad := c2.Range(func(*Entry) bool { n++; return true }); bad != 0 || n != 3 {
				t.Fatalf("after recovery: %d entries, %d damaged; want 3 and 0", n, bad)
			}
			if got, ok := c2.Lookup(&keys[1]); !ok || got.LLAddr != e.LLAddr {
				t.Fatalf("lookup after recovery = %+v, %v", got, ok)
			}
		})
	}
}

// TestCacheSharedTag stores two keys with the same tag in the same
// bucket: the tag matches for both, and each lookup, update and delete
// still finds its own key.
func TestCacheSharedTag(t *testing.T) {
	c, _ := newTestCache(t, 64)
	type loc struct {
		b1, b2 int64
		tag    uint16
	}
	seen := map[uint16][]Key{}
	var a, b Key
	found := false
	for i := 0; i < 1<<22 && !found; i++ {
		k := keyV4(3, [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		b1, b2, tag := c.locate(k.words())
		for _, o := range seen[tag] {
			o1, o2, _ := c.locate(o.words())
			if o1 == b1 && o2 == b2 {
				a, b, found = o, k, true
			}
		}
		seen[tag] = append(seen[tag], k)
	}
	if !found {
		t.Fatal("no two keys with the same tag and buckets")
	}
	mustPut(t, c, positive(a, 1))
	mustPut(t, c, positive(b, 2))
	if slotOf(c, a).bucket() != slotOf(c, b).bucket() {
		// Put picks the emptier bucket, so the second key went to the
		// other one; move it next to the first, as a later insert could.
		t.Log("keys in different buckets; moving the second")
		src := slotOf(c, b)
		dst := ref(slotOf(c, a).bucket(), firstLane(c.match(slotOf(c, a).bucket(), 0)))
		if err := c.moveSlot(dst, src); err != nil {
			t.Fatal(err)
		}
		if err := c.clearSlot(src); err != nil {
			t.Fatal(err)
		}
	}
	ea, oka := c.Lookup(&a)
	eb, okb := c.Lookup(&b)
	if !oka || !okb || ea.Key != a || eb.Key != b || ea.LLAddr[5] != 1 || eb.LLAddr[5] != 2 {
		t.Fatalf("lookups: %+v %v, %+v %v", ea, oka, eb, okb)
	}
	if res := mustPut(t, c, positive(b, 3)); res != PutChanged {
		t.Fatalf("update of the second key = %d, want PutChanged", res)
	}
	if ok, err := c.Delete(&a); !ok || err != nil {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	if _, ok := c.Lookup(&a); ok {
		t.Fatal("deleted key still found")
	}
	if e, ok := c.Lookup(&b); !ok || e.LLAddr[5] != 3 {
		t.Fatalf("the other key after the delete: %+v, %v", e, ok)
	}
}

// TestCacheWritesPerPut counts pwrite calls: one for a new key with room,
// one for a refresh or a change, none for an unchanged entry, one for a
// delete, and no state page write for any of them.
func TestCacheWritesPerPut(t *testing.T) {
	c, clk := newTestCache(t, 4096)
	seq := c.state.seq
	for i := 0; i < 1000; i++ {
		w := c.writes
		moves := c.Counter(ctrMoves)
		mustPut(t, c, positive(v4(4, byte(i>>8), byte(i)), 1))
		if got := c.writes - w; got != 1+c.Counter(ctrMoves)-moves {
			t.Fatalf("insert %d: %d writes with %d moves", i, got, c.Counter(ctrMoves)-moves)
		}
	}
	k := v4(4, 0, 7)
	steps := []struct {
		name   string
		e      Entry
		writes uint64
	}{
		{"unchanged", positive(k, 1), 0},
		{"refresh", positive(k, 1), 1},
		{"change", positive(k, 2), 1},
	}
	for i, s := range steps {
		if s.name != "unchanged" {
			clk.set(1_000_000 + uint32(refreshGrace*(i+1)))
		}
		w := c.writes
		e := s.e
		c.Put(&e)
		if got := c.writes - w; got != s.writes {
			t.Fatalf("%s: %d writes, want %d", s.name, got, s.writes)
		}
	}
	w := c.writes
	if ok, _ := c.Delete(&k); !ok || c.writes-w != 1 {
		t.Fatalf("delete: %v, %d writes", ok, c.writes-w)
	}
	if c.state.seq != seq {
		t.Fatal("a put or delete wrote the state page")
	}
}

// TestCacheCheckAfterWrite damages slots of an open writer behind its
// back: a slot not yet served since it was written fails its check and is
// not served, including one the writer served before its last write.
func TestCacheCheckAfterWrite(t *testing.T) {
	c, clk := newTestCache(t, 256)
	k := v4(2, 0, 1)
	damage := func() {
		t.Helper()
		r := slotOf(c, k)
		b := []byte{c.slotBytes(r)[30] ^ 0x40}
		if err := pwriteFull(c.fd, b, r.off()+30); err != nil {
			t.Fatal(err)
		}
	}
	// Written, damaged, never served: not served.
	mustPut(t, c, positive(k, 1))
	damage()
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("served a damaged slot on its first lookup")
	}
	// Stored again, served (and so checked), then rewritten by a refresh
	// and damaged: the rewrite cleared the check, so it is not served.
	if res := mustPut(t, c, positive(k, 2)); res != PutNew {
		t.Fatalf("put over a damaged copy = %d, want PutNew", res)
	}
	for i := 0; i < 3; i++ {
		if e, ok := c.Lookup(&k); !ok || e.LLAddr[5] != 2 {
			t.Fatalf("lookup %d = %+v, %v", i, e, ok)
		}
	}
	clk.set(1_000_000 + refreshGrace + 50)
	if res := mustPut(t, c, positive(k, 2)); res != PutRefreshed {
		t.Fatalf("refresh = %d, want PutRefreshed", res)
	}
	damage()
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("served a slot damaged after its rewrite")
	}
}
