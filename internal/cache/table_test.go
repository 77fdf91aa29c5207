package cache_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arpd/internal/cache"
)

func TestCachePutLookup(t *testing.T) {
	c, clk := cache.NewTestFile(t, 1024)
	k := cache.V4(0, 0, 1)
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("lookup in an empty cache found something")
	}
	if r := cache.MustPut(t, c, cache.Positive(k, 1)); r != cache.PutNew {
		t.Fatalf("first put = %d, want PutNew", r)
	}
	e, ok := c.Lookup(&k)
	if !ok || e.LLAddr != [8]byte{2, 0, 0, 0, 0, 1} || e.LLLen != 6 || e.Kind != cache.KindPositive || e.Source != cache.SourceARP {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
	if e.Updated != 1_000_000 {
		t.Fatalf("updated=%d, want 1000000", e.Updated)
	}
	// The same binding in the same second writes nothing.
	if r := cache.MustPut(t, c, cache.Positive(k, 1)); r != cache.PutUnchanged {
		t.Fatalf("identical put = %d, want PutUnchanged", r)
	}
	// Within RefreshGrace the same binding writes nothing either: the
	// stored entry keeps its times.
	clk.Set(1_000_000 + cache.RefreshGrace - 1)
	if r := cache.MustPut(t, c, cache.Positive(k, 1)); r != cache.PutUnchanged {
		t.Fatalf("put within the refresh grace = %d, want PutUnchanged", r)
	}
	if e, _ = c.Lookup(&k); e.Updated != 1_000_000 {
		t.Fatalf("put within the refresh grace moved updated to %d", e.Updated)
	}
	// Later, the same binding is refreshed.
	clk.Set(1_000_000 + cache.RefreshGrace)
	if r := cache.MustPut(t, c, cache.Positive(k, 1)); r != cache.PutRefreshed {
		t.Fatalf("refresh = %d, want PutRefreshed", r)
	}
	e, _ = c.Lookup(&k)
	if e.Updated != 1_000_000+cache.RefreshGrace {
		t.Fatalf("after refresh updated=%d", e.Updated)
	}
	// A new MAC is a change, however soon.
	clk.Set(1_000_000 + cache.RefreshGrace + 1)
	if r := cache.MustPut(t, c, cache.Positive(k, 2)); r != cache.PutChanged {
		t.Fatalf("new MAC = %d, want PutChanged", r)
	}
	e, _ = c.Lookup(&k)
	if e.LLAddr[5] != 2 || e.Updated != 1_000_000+cache.RefreshGrace+1 {
		t.Fatalf("after change %+v", e)
	}
	// Other keys are independent: interface, family and address all count.
	other := []cache.Key{cache.V4(0, 0, 2), cache.KeyV4(3, [4]byte{10, 0, 0, 1}), {Family: cache.FamilyIPv6, Ifindex: 2, Addr: [16]byte{10, 0, 0, 1}}}
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
	if c.Counter(cache.CounterInserts) != 1 || c.Counter(cache.CounterUpdates) != 2 || c.Counter(cache.CounterDeletes) != 1 {
		t.Fatalf("counters inserts=%d updates=%d deletes=%d", c.Counter(cache.CounterInserts), c.Counter(cache.CounterUpdates), c.Counter(cache.CounterDeletes))
	}
}

func TestCacheRejectsInvalidEntry(t *testing.T) {
	c, _ := cache.NewTestFile(t, 64)
	for _, e := range []cache.Entry{
		{Key: cache.V4(0, 0, 1), Kind: 0, LLLen: 6},
		{Key: cache.V4(0, 0, 1), Kind: 3, LLLen: 6},
		{Key: cache.V4(0, 0, 1), Kind: cache.KindPositive, LLLen: 9},
		{Key: cache.Key{Ifindex: 2}, Kind: cache.KindPositive, LLLen: 6},
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
	c, _ := cache.NewTestFile(t, 64)
	k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 7, Addr: [16]byte{0xfe, 0x80, 15: 1}}
	cache.MustPut(t, c, cache.Positive(k, 9))
	e, ok := c.Lookup(&k)
	if !ok || e.Addr != k.Addr || e.Family != cache.FamilyIPv6 || e.Ifindex != 7 {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
}

func TestCacheNegativeExpiry(t *testing.T) {
	c, clk := cache.NewTestFile(t, 64)
	k := cache.V4(0, 0, 9)
	cache.MustPut(t, c, cache.Entry{Key: k, Kind: cache.KindNegative, Source: cache.SourceKernel})
	e, ok := c.Lookup(&k)
	if !ok || e.Kind != cache.KindNegative {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
	clk.Set(1_000_059)
	if c.Expired(&e) {
		t.Fatal("negative entry expired after 59 s with a 60 s lifetime")
	}
	clk.Set(1_000_060)
	if !c.Expired(&e) {
		t.Fatal("negative entry still live after 60 s with a 60 s lifetime")
	}
	clk.Set(999_000) // the clock went backwards
	if c.Expired(&e) {
		t.Fatal("a clock that went backwards expired an entry")
	}
	p := cache.Positive(k, 1)
	if c.Expired(&p) {
		t.Fatal("a positive entry counted as expired")
	}
	// A probe counted on a live negative entry keeps its timestamp.
	clk.Set(1_000_030)
	e.Probes++
	if r, err := c.Put(&e); err != nil || r != cache.PutRefreshed {
		t.Fatalf("probe count update = %d, %v", r, err)
	}
	e, _ = c.Lookup(&k)
	if e.Probes != 1 || e.Updated != 1_000_000 {
		t.Fatalf("after probe %+v", e)
	}
}

// TestCacheFillsUp checks what displacement buys: a table filled with
// random keys to 85% of its capacity loses nothing, and all its entries
// are found again.
func TestCacheFillsUp(t *testing.T) {
	c, _ := cache.NewTestFile(t, 4096)
	rng := rand.New(rand.NewPCG(7, 8))
	n := c.Capacity() * 85 / 100
	keys := make([]cache.Key, 0, n)
	seen := map[cache.Key]bool{}
	for len(keys) < n {
		k := cache.KeyV4(uint32(1+rng.IntN(4)), [4]byte{10, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		if r := cache.MustPut(t, c, cache.Positive(k, 1)); r != cache.PutNew {
			t.Fatalf("put %d of %d = %d, want PutNew", len(keys), n, r)
		}
	}
	if c.Counter(cache.CounterEvictions) != 0 {
		t.Fatalf("%d evictions at 85%% load", c.Counter(cache.CounterEvictions))
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
	c.Range(func(*cache.Entry) bool { listed++; return true })
	if listed != n {
		t.Fatalf("range listed %d, want %d (a move left a duplicate?)", listed, n)
	}
	t.Logf("%d entries in %d slots, %d moves", n, c.Capacity(), c.Counter(cache.CounterMoves))
}

// TestCacheConcurrentReader lists the file from a separate read-only
// mapping while the writer rewrites every entry over and over: the reader
// must never see a torn slot. Each MAC is derived from the address and a
// generation byte repeated (and its Updated time from the generation), so
// a mix of two writes shows.
func TestCacheConcurrentReader(t *testing.T) {
	c, _ := cache.NewTestFile(t, 4096)
	const n = 1500
	put := func(i int, g byte) {
		k := cache.V4(4, byte(i>>8), byte(i))
		e := cache.Entry{Key: k, Kind: cache.KindPositive, LLLen: 6, LLAddr: [8]byte{byte(i), g, g, g, g, byte(i >> 8)}, Updated: 1 + uint32(g)}
		if _, err := c.Put(&e); err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < n; i++ {
		put(i, 0)
	}
	r, err := cache.OpenReadOnly(c.Path())
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
		r.Range(func(e *cache.Entry) bool {
			entries++
			i := int(e.Addr[2])<<8 | int(e.Addr[3])
			g := e.LLAddr[1]
			if e.LLAddr != [8]byte{byte(i), g, g, g, g, byte(i >> 8)} || e.Updated != 1+uint32(g) {
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
	c, clk := cache.NewTestFile(t, 4096)
	for i := 0; i < 3000; i++ {
		cache.MustPut(t, c, cache.Positive(cache.V4(5, byte(i>>8), byte(i)), byte(i)))
	}
	hit, miss := cache.V4(5, 0, 7), cache.V4(6, 0, 7)
	if a := testing.AllocsPerRun(1000, func() { c.Lookup(&hit) }); a != 0 {
		t.Errorf("Lookup (hit) allocates %v times", a)
	}
	if a := testing.AllocsPerRun(1000, func() { c.Lookup(&miss) }); a != 0 {
		t.Errorf("Lookup (miss) allocates %v times", a)
	}
	i := 0
	e := cache.Entry{Kind: cache.KindPositive, LLLen: 6}
	if a := testing.AllocsPerRun(1000, func() {
		i++
		clk.Set(2_000_000 + uint32(i))
		e.Key = cache.V4(7, byte(i>>8), byte(i))
		e.Updated = 0
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
