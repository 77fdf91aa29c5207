package labtest_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// TestGlobals checks the global-settings lock: a shared hold waits while
// the lock is held exclusively, a setting changed under it is back when
// the holder ends, and the lock is free again then.
func TestGlobals(t *testing.T) {
	labtest.RequireRoot(t)
	const key = "net/ipv4/neigh/default/gc_thresh1"
	read := func() int {
		b, err := os.ReadFile("/proc/sys/" + key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var orig int
	t.Run("hold", func(t *testing.T) {
		g := labtest.LockGlobals(t)
		orig = read()
		// NB: one more entry kept from collection, for an instant.
		g.Set(key, strconv.Itoa(orig+1))
		g.Raise(key, orig) // already above: left alone
		if v := read(); v != orig+1 {
			t.Fatalf("%s = %d after Set, want %d", key, v, orig+1)
		}
		if labtest.ShareGlobals(t, 50*time.Millisecond, nil) {
			t.Fatal("took the lock shared while it is held exclusively")
		}
	})
	if v := read(); v != orig {
		t.Fatalf("%s = %d after the holder ended, want the original %d", key, v, orig)
	}
	if !labtest.ShareGlobals(t, 90*time.Second, nil) {
		t.Fatal("the lock is still held after the holder ended")
	}
	if !labtest.ShareGlobals(t, 90*time.Second, func() bool { return true }) {
		t.Fatal("a second shared hold was refused")
	}
}
