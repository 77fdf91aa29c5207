package cache_test

import (
	"testing"

	"arpd/internal/cache"
)

// TestRouterFlag checks that an IPv6 entry's router flag is stored, read
// back after the file is closed and opened again, and that a change of
// the flag alone is written rather than taken as a mere confirmation.
func TestRouterFlag(t *testing.T) {
	f, clk := cache.NewTestFile(t, 64)
	k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: [16]byte{0xfe, 0x80, 15: 1}}
	e := cache.Positive(k, 7)
	e.Source, e.Router = cache.SourceND, true
	if r := cache.MustPut(t, f, e); r != cache.PutNew {
		t.Fatalf("Put = %v, want cache.PutNew", r)
	}
	got, ok := f.Lookup(&k)
	if !ok || !got.Router || got.Source != cache.SourceND {
		t.Fatalf("Lookup = %+v, %v; want the router flag and cache.SourceND", got, ok)
	}
	clk.Set(clk.Now() + 1)
	e.Router = false
	e.Updated = clk.Now()
	if r := cache.MustPut(t, f, e); r != cache.PutRefreshed {
		t.Fatalf("Put with the flag cleared = %v, want cache.PutRefreshed (written)", r)
	}
	if got, _ := f.Lookup(&k); got.Router {
		t.Fatal("the flag is still set after a Put that cleared it")
	}
	path := f.Path()
	e.Router = true
	e.Updated = clk.Now() + 1
	cache.MustPut(t, f, e)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, _ := cache.OpenRecovering(t, path, cache.Options{})
	if got, ok := g.Lookup(&k); !ok || !got.Router {
		t.Fatalf("after reopening: %+v, %v; want the router flag", got, ok)
	}
}
