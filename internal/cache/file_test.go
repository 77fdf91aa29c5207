package cache_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
)

// loaded is a program's counter: index 7, arpd's count of entries loaded
// with -f.
const loaded = 7

func TestCacheReopen(t *testing.T) {
	c, clk := cache.NewTestFile(t, 1000)
	path := c.Path()
	for i := 0; i < 500; i++ {
		cache.MustPut(t, c, cache.Positive(cache.V4(1, byte(i>>8), byte(i)), byte(i)))
	}
	c.Add(loaded, 42)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Capacity 0 keeps the file's capacity (1000 rounds up to 1000).
	c2, recovered := cache.OpenRecovering(t, path, cache.Options{NegativeTTL: 60, Now: clk.Now})
	defer c2.Close()
	if c2.Capacity() != 1000 {
		t.Fatalf("capacity = %d, want 1000", c2.Capacity())
	}
	if recovered != 0 {
		t.Fatalf("a cleanly closed file was recovered (%d)", recovered)
	}
	n := 0
	for i := 0; i < 500; i++ {
		k := cache.V4(1, byte(i>>8), byte(i))
		if e, ok := c2.Lookup(&k); ok && e.LLAddr[5] == byte(i) {
			n++
		}
	}
	if uint64(n) != c2.Entries() || n < 450 {
		t.Fatalf("found %d of 500 after reopen; entries says %d", n, c2.Entries())
	}
	if c2.Counter(loaded) != 42 {
		t.Fatalf("counter after reopen = %d, want 42", c2.Counter(loaded))
	}
}

func TestCacheInUse(t *testing.T) {
	c, _ := cache.NewTestFile(t, 64)
	_, err := cache.Open(c.Path(), cache.Options{})
	if !errors.Is(err, cache.ErrInUse) {
		t.Fatalf("second writer: %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("in-use error does not name the owner: %v", err)
	}
	// Readers are never blocked.
	r, err := cache.OpenReadOnly(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestCacheRebuild(t *testing.T) {
	c, clk := cache.NewTestFile(t, 4096)
	path := c.Path()
	const n = 2000
	for i := 0; i < n; i++ {
		clk.Set(1_000_000 + uint32(i))
		cache.MustPut(t, c, cache.Positive(cache.V4(2, byte(i>>8), byte(i)), byte(i)))
	}
	before := c.Entries()
	if err := c.SaveOriginal(cache.SysctlOriginal{Name: "eth0", Family: cache.FamilyIPv4, AppSolicit: 0, McastSolicit: 3}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A larger capacity keeps every entry.
	c2, err := cache.Open(path, cache.Options{Capacity: 8192, NegativeTTL: 60, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Capacity() != 8192 || c2.Entries() != before {
		t.Fatalf("after growing: capacity %d entries %d, want 8192 and %d", c2.Capacity(), c2.Entries(), before)
	}
	if st, _ := os.Stat(path); st.Size() != cache.FileSize(8192) {
		t.Fatalf("file size %d after rebuild, want %d", st.Size(), cache.FileSize(8192))
	}
	if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
		t.Fatalf("rebuild left %s.new behind: %v", path, err)
	}
	missing := 0
	c2.Range(func(e *cache.Entry) bool { return true })
	for i := 0; i < n; i++ {
		k := cache.V4(2, byte(i>>8), byte(i))
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
	c3, err := cache.Open(path, cache.Options{Capacity: 256, NegativeTTL: 60, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if c3.Capacity() != 256 || c3.Entries() > 256 || c3.Entries() < 200 {
		t.Fatalf("after shrinking: capacity %d entries %d", c3.Capacity(), c3.Entries())
	}
	var oldestKept uint32 = ^uint32(0)
	c3.Range(func(e *cache.Entry) bool {
		oldestKept = min(oldestKept, e.Updated)
		return true
	})
	// 2000 entries into 256 slots: what survives is from the newest part.
	if oldestKept < 1_000_000+n/2 {
		t.Fatalf("an old entry (updated %d) survived shrinking", oldestKept)
	}
}

func TestCacheRebuildFailureKeepsFile(t *testing.T) {
	c, _ := cache.NewTestFile(t, 64)
	cache.MustPut(t, c, cache.Positive(cache.V4(0, 0, 1), 1))
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	sum := cache.FileSum(t, c.Path())
	boom := errors.New("boom")
	err := c.Rebuild(0, func(n *cache.File) error {
		cache.MustPut(t, n, cache.Positive(cache.V4(0, 0, 2), 2))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rebuild error = %v, want boom", err)
	}
	if cache.FileSum(t, c.Path()) != sum {
		t.Fatal("a failed rebuild changed the file")
	}
	k := cache.V4(0, 0, 2)
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("an entry from a failed rebuild is visible")
	}
	k = cache.V4(0, 0, 1)
	if _, ok := c.Lookup(&k); !ok {
		t.Fatal("the cache lost its entry after a failed rebuild")
	}
	if _, err := os.Stat(c.Path() + ".new"); !os.IsNotExist(err) {
		t.Fatal("a failed rebuild left its temporary file")
	}
}

func TestCacheSparse(t *testing.T) {
	c, _ := cache.NewTestFile(t, 1_000_000)
	var st unix.Stat_t
	if err := unix.Stat(c.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != cache.FileSize(1_000_000) {
		t.Fatalf("size %d, want %d", st.Size, cache.FileSize(1_000_000))
	}
	// Only the header pages are allocated; 512-byte blocks.
	if used := st.Blocks * 512; used > 64<<10 {
		t.Fatalf("a new 1,000,000-entry file uses %d bytes of storage; it should be sparse", used)
	}
	if per := float64(st.Size) / 1_000_000; per > 48 {
		t.Fatalf("%.2f bytes per entry, budget 48", per)
	}
}

func TestCacheOriginals(t *testing.T) {
	c, clk := cache.NewTestFile(t, 64)
	if err := c.SaveOriginal(cache.SysctlOriginal{Name: "lan0", Family: cache.FamilyIPv4, AppSolicit: 0, McastSolicit: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveOriginal(cache.SysctlOriginal{Name: "lan0", Family: cache.FamilyIPv4, AppSolicit: 1, McastSolicit: 5}); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveOriginal(cache.SysctlOriginal{Name: "lan0", Family: cache.FamilyIPv6, AppSolicit: 2, McastSolicit: 4}); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveOriginal(cache.SysctlOriginal{Name: "an-interface-name-too-long"}); err == nil {
		t.Fatal("an over-long interface name was saved")
	}
	// Saved values are on disk at once: a reader sees them without a sync.
	r, err := cache.OpenReadOnly(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	got := r.Originals()
	r.Close()
	if len(got) != 2 || got[0] != (cache.SysctlOriginal{"lan0", cache.FamilyIPv4, 1, 5}) || got[1] != (cache.SysctlOriginal{"lan0", cache.FamilyIPv6, 2, 4}) {
		t.Fatalf("originals = %+v", got)
	}
	if err := c.ClearOriginal("lan0", cache.FamilyIPv4); err != nil {
		t.Fatal(err)
	}
	if got := c.Originals(); len(got) != 1 || got[0].Family != cache.FamilyIPv6 {
		t.Fatalf("after clear: %+v", got)
	}
	for i := 1; i < cache.MaxOriginals; i++ {
		if err := c.SaveOriginal(cache.SysctlOriginal{Name: fmt.Sprintf("eth%d", i), Family: cache.FamilyIPv4}); err != nil {
			t.Fatalf("interface %d: %v", i, err)
		}
	}
	if err := c.SaveOriginal(cache.SysctlOriginal{Name: "one-more", Family: cache.FamilyIPv4}); !errors.Is(err, cache.ErrOriginalsFull) {
		t.Fatalf("65th interface: %v, want ErrOriginalsFull", err)
	}
	path := c.Path()
	c.Close()
	c2, err := cache.Open(path, cache.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if n := len(c2.Originals()); n != cache.MaxOriginals {
		t.Fatalf("%d saved interfaces after reopen, want %d", n, cache.MaxOriginals)
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
	c, err := cache.Open(path, cache.Options{})
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
func childKey(n int) cache.Key { return cache.KeyV4(5, [4]byte{10, 9, byte(n >> 8), byte(n)}) }

// TestCacheChildWriter is the child of TestCacheDurabilityKill: it writes
// entries forever, printing each one's number after Put returns.
func TestCacheChildWriter(t *testing.T) {
	path := os.Getenv("ARPD_CHILD_WRITER")
	if path == "" {
		t.Skip("helper process for TestCacheDurabilityKill")
	}
	c, err := cache.Open(path, cache.Options{Capacity: 1 << 17})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for n := 0; n < 60000; n++ {
		e := cache.Entry{Key: childKey(n), Kind: cache.KindPositive, LLLen: 6, LLAddr: [8]byte{2, 0, 0, 0, byte(n >> 8), byte(n)}}
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
