package cache

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// Helpers shared by the package's internal and external tests.

// TestClock is a settable clock for tests.
type TestClock struct{ t atomic.Uint32 }

// Now returns the clock's time, in Unix seconds.
func (c *TestClock) Now() uint32 { return c.t.Load() }

// Set sets the clock to v.
func (c *TestClock) Set(v uint32) { c.t.Store(v) }

// NewTestFile makes a cache file with the given capacity in a temporary
// directory, on a test clock starting at 1,000,000 s.
func NewTestFile(t testing.TB, capacity int) (*File, *TestClock) {
	t.Helper()
	clk := &TestClock{}
	clk.Set(1_000_000)
	f, err := Open(filepath.Join(t.TempDir(), "arpd.db"), Options{Capacity: capacity, NegativeTTL: 60, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, clk
}

// V4 returns the key of 10.a.b.c on ifindex 2.
func V4(a, b, c byte) Key { return KeyV4(2, [4]byte{10, a, b, c}) }

// Positive returns a positive Ethernet entry for k with MAC 02:00:00:00:00:m.
func Positive(k Key, m byte) Entry {
	return Entry{Key: k, Kind: KindPositive, Source: SourceARP, LLLen: 6, LLAddr: [8]byte{2, 0, 0, 0, 0, m}}
}

// MustPut stores e and returns what Put did, failing the test on error.
func MustPut(t testing.TB, f *File, e Entry) PutResult {
	t.Helper()
	r, err := f.Put(&e)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FileSum returns a digest of the file at path, to prove it unchanged.
func FileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// OpenRecovering opens path for writing and returns the file and the
// number of damaged slots dropped while opening it: how much
// CounterCorruptSlots grew over the count saved in the file.
func OpenRecovering(t testing.TB, path string, o Options) (*File, int) {
	t.Helper()
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Counter(CounterCorruptSlots)
	r.Close()
	f, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return f, int(f.Counter(CounterCorruptSlots) - before)
}

// Populated makes a closed cache file with n entries and returns its path
// and the keys stored.
func Populated(t testing.TB, capacity, n int) (string, []Key) {
	t.Helper()
	c, _ := NewTestFile(t, capacity)
	var keys []Key
	for i := 0; i < n; i++ {
		k := V4(3, byte(i>>8), byte(i))
		if MustPut(t, c, Positive(k, byte(i))) != PutDropped {
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
