package main

// Helpers for the tests of the daemon's use of the cache file.

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"arpd/internal/cache"
)

// testClock is a settable clock for cache tests.
type testClock struct{ t atomic.Uint32 }

func (c *testClock) now() uint32  { return c.t.Load() }
func (c *testClock) set(v uint32) { c.t.Store(v) }

// newTestCache makes a cache with the given capacity in a temporary
// directory, on a test clock starting at 1,000,000 s.
func newTestCache(t testing.TB, capacity int) (*cache.File, *testClock) {
	c, clk, _ := newTestCacheAt(t, capacity)
	return c, clk
}

// newTestCacheAt is newTestCache, and also returns the file's path.
func newTestCacheAt(t testing.TB, capacity int) (*cache.File, *testClock, string) {
	t.Helper()
	clk := &testClock{}
	clk.set(1_000_000)
	path := filepath.Join(t.TempDir(), "arpd.db")
	c, err := cache.Open(path, cache.Options{Capacity: capacity, NegativeTTL: 60, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk, path
}

// newCacheSize returns the size of a new cache file made for capacity
// entries.
func newCacheSize(t testing.TB, capacity int) int64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "size.db")
	c, err := cache.Open(path, cache.Options{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
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

// TestEarlierReleaseFile opens a cache file written by an earlier release
// (arpd at commit 34a0226, before the cache became a package of its own:
// arpd -C 64 -f with the four rows below) and checks that -l lists what it
// holds, and that a writer keeps every entry.
func TestEarlierReleaseFile(t *testing.T) {
	b, err := os.ReadFile("testdata/cache/v2-release.db")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "arpd.db")
	if err := os.WriteFile(db, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2        10.0.0.1        02:00:00:00:00:01",
		"2        10.0.0.2        02:00:00:00:00:02",
		"3        192.168.1.77    aa:bb:cc:dd:ee:ff",
		"7        2001:db8::1     02:11:22:33:44:55",
	}
	for _, args := range [][]string{{"-l", "-b", db}, {"-b", db, "-f", "/dev/null", "-l"}} {
		code, out, errs := runArpd(t, "", args...)
		if code != 0 {
			t.Fatalf("arpd %v: exit %d: %s", args, code, errs)
		}
		if got, w := strings.Join(sortedRows(t, out), ""), strings.Join(want, "\n")+"\n"; got != w {
			t.Errorf("arpd %v:\n%s\nwant\n%s", args, got, w)
		}
	}
}

// TestUTCString checks the hand-made RFC 3339 formatting against the time
// package's over eight centuries, leap days and the epoch's edges included.
func TestUTCString(t *testing.T) {
	for _, sec := range []int64{0, -1, 86399, 86400, 951782400, 951868800, 4107456000, 1796400000, -2208988800} {
		if got, want := utcString(sec), time.Unix(sec, 0).UTC().Format(time.RFC3339); got != want {
			t.Errorf("utcString(%d) = %s, want %s", sec, got, want)
		}
	}
	for sec := int64(-12622780800); sec < 12622780800; sec += 86400*7 + 3601 {
		if got, want := utcString(sec), time.Unix(sec, 0).UTC().Format(time.RFC3339); got != want {
			t.Fatalf("utcString(%d) = %s, want %s", sec, got, want)
		}
	}
}
