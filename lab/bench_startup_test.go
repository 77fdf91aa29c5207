package lab

// This arpd's startup on a cache file of many entries.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"arpd/internal/cache"
)

// blStartupEntries is the number of entries of the file make bench-lab
// starts this arpd on; the small run uses 2,000.
const blStartupEntries = 1000000

// blStartup is what blStartupRun measured.
type blStartup struct {
	entries  int
	fileSize int64
	fill     time.Duration   // writing the file's entries
	took     []time.Duration // exec to app_solicit set, one per start
}

// blStartupRun writes a cache file of blStartupEntries entries (2,000
// for the small run) with the cache package, at 8/9 of its capacity, as
// blCapacity makes them, then starts this arpd on it five times, in a lab
// of one host, and returns the startup times (exec to app_solicit set,
// as the restart phase measures it).
func blStartupRun(t *testing.T, in *interrupt, full bool) blStartup {
	t.Helper()
	st := blStartup{entries: 2000}
	if full {
		st.entries = blStartupEntries
	}
	t.Run("startup", func(t *testing.T) {
		in.check(t)
		l := newHostLab(t, 1, nil)
		l.direct = true
		db := filepath.Join(t.TempDir(), "arpd.db")
		t0 := time.Now()
		st.fileSize = blFillCache(t, db, uint32(l.ifindex), st.entries)
		st.fill = time.Since(t0)
		for range 5 {
			in.check(t)
			d := startOurDaemon(t, l, db, "-a", "3", "-k", l.NearIf)
			st.took = append(st.took, d.Startup())
			d.Close()
		}
	})
	return st
}

// blFillCache writes a cache file at path with n positive entries of
// interface ifindex, for distinct addresses, and returns its size.
func blFillCache(t testing.TB, path string, ifindex uint32, n int) int64 {
	t.Helper()
	f, err := cache.Open(path, cache.Options{Capacity: blCapacity(n)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		a := [4]byte{10, byte(64 + i>>16), byte(i >> 8), byte(i)}
		e := cache.Entry{Key: cache.KeyV4(ifindex, a), Kind: cache.KindPositive, Source: cache.SourceARP,
			LLLen: 6, LLAddr: [8]byte{2, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}}
		if _, err := f.Put(&e); err != nil {
			t.Fatalf("entry %d of %d: %v", i, n, err)
		}
	}
	if got := f.Entries(); got != uint64(n) {
		t.Fatalf("the file holds %d entries, want %d", got, n)
	}
	size := int64(0)
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return size
}

// blStartupReport prints the startups and the target of issue 13.
func blStartupReport(w io.Writer, st blStartup) {
	if len(st.took) == 0 {
		return
	}
	s := slices.Sorted(slices.Values(st.took))
	med := s[len(s)/2]
	fmt.Fprintf(w, "\n  startup of this arpd on a file of %s entries (%.1f MB, written in %s), exec to app_solicit set,\n",
		thousands(st.entries), float64(st.fileSize)/1e6, formatDur(st.fill))
	fmt.Fprintf(w, "  %d starts: median %s, min %s, max %s\n", len(s), formatDur(med), formatDur(s[0]), formatDur(s[len(s)-1]))
	if st.entries >= blStartupEntries {
		verdict := "MISSED"
		if med < 20*time.Millisecond {
			verdict = "met"
		}
		fmt.Fprintf(w, "    %-52s %-24s %s\n", "startup on a 1,000,000-entry file < 20 ms (median)", formatDur(med), verdict)
	}
}
