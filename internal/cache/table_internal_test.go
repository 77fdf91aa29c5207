package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// sameBuckets returns n distinct IPv4 keys whose two buckets are the same
// two buckets, so that they compete for the same 2*slotWays slots.
func sameBuckets(t testing.TB, c *File, n int) []Key {
	t.Helper()
	first := V4(0, 0, 0)
	a, b, _ := c.locate(first.words())
	keys := []Key{first}
	for i := 1; i < 1<<22 && len(keys) < n; i++ {
		k := V4(byte(i>>16), byte(i>>8), byte(i))
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
	c, clk := NewTestFile(t, 64)
	const full = 2 * slotWays
	keys := sameBuckets(t, c, full+3)
	// Fill both buckets: entry i updated at 1,000,000 + 10*i.
	for i := 0; i < full; i++ {
		clk.Set(1_000_000 + uint32(10*i))
		if r := MustPut(t, c, Positive(keys[i], byte(i))); r != PutNew {
			t.Fatalf("put %d = %d, want PutNew", i, r)
		}
	}
	// Both buckets full and nowhere to move anything: the least recently
	// updated entry goes.
	clk.Set(1_000_100)
	MustPut(t, c, Positive(keys[full], 50))
	if _, ok := c.Lookup(&keys[0]); ok {
		t.Fatal("the oldest entry survived eviction")
	}
	for _, k := range keys[1 : full+1] {
		if _, ok := c.Lookup(&k); !ok {
			t.Fatalf("entry %v was evicted instead of the oldest", k.Addr[:4])
		}
	}
	// An expired negative entry goes first, even though it is newer.
	clk.Set(1_000_200)
	MustPut(t, c, Entry{Key: keys[1], Kind: KindNegative}) // replaces keys[1] in place
	clk.Set(1_000_300)                                     // now expired (60 s lifetime)
	MustPut(t, c, Positive(keys[full+1], 51))
	if _, ok := c.Lookup(&keys[1]); ok {
		t.Fatal("the expired negative entry survived eviction")
	}
	if _, ok := c.Lookup(&keys[2]); !ok {
		t.Fatal("a positive entry was evicted while an expired negative one was there")
	}
	if got := c.Counter(CounterEvictedNegatives); got != 1 {
		t.Fatalf("evicted negatives = %d, want 1", got)
	}
	// An entry older than everything in both buckets is dropped itself.
	old := Positive(keys[full+2], 52)
	old.Updated = 5
	if r := MustPut(t, c, old); r != PutDropped {
		t.Fatalf("put of an entry older than both buckets = %d, want PutDropped", r)
	}
	if got := c.Counter(CounterEvictions); got != 3 {
		t.Fatalf("evictions = %d, want 3", got)
	}
	if c.Entries() != full {
		t.Fatalf("entries = %d, want %d", c.Entries(), full)
	}
}

// TestCacheMappingIsReadOnly checks the property JFFS2 needs: the mapping
// is shared but may never become writable (no "mw" in VmFlags), and is not
// a shared-writable mapping ("sh").
func TestCacheMappingIsReadOnly(t *testing.T) {
	c, _ := NewTestFile(t, 64)
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

// testWords returns k's hash words and slot words in c, as Lookup computes
// them; ok is false for an IPv6 key whose prefix c lacks.
func testWords(c *File, k *Key) (w [3]uint64, c0, c1 uint64, ok bool) {
	pi, ok := c.prefixOf(k)
	w[0], w[1], w[2] = k.words()
	c0, c1 = slotWords(w[0], w[1], w[2], pi)
	return w, c0, c1, ok
}

// slotOf returns the slot holding k in c, or noSlot.
func slotOf(c *File, k Key) slotRef {
	w, c0, c1, ok := testWords(c, &k)
	if !ok {
		return noSlot
	}
	b1, b2, _ := c.locate(w[0], w[1], w[2])
	for _, base := range []int64{b1, b2} {
		for i := 0; i < slotWays; i++ {
			if r := ref(base, i); c.tagAt(r) != 0 && keyMatches(c.slotBytes(r), c0, c1) {
				return r
			}
		}
	}
	return noSlot
}

// TestCacheSharedTag stores two keys with the same tag in the same
// bucket: the tag matches for both, and each lookup, update and delete
// still finds its own key.
func TestCacheSharedTag(t *testing.T) {
	c, _ := NewTestFile(t, 64)
	seen := map[uint16][]Key{}
	var a, b Key
	found := false
	for i := 0; i < 1<<22 && !found; i++ {
		k := KeyV4(3, [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
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
	MustPut(t, c, Positive(a, 1))
	MustPut(t, c, Positive(b, 2))
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
	if res := MustPut(t, c, Positive(b, 3)); res != PutChanged {
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
	c, clk := NewTestFile(t, 4096)
	seq := c.state.seq
	for i := 0; i < 1000; i++ {
		w := c.Writes()
		moves := c.Counter(CounterMoves)
		MustPut(t, c, Positive(V4(4, byte(i>>8), byte(i)), 1))
		if got := c.Writes() - w; got != 1+c.Counter(CounterMoves)-moves {
			t.Fatalf("insert %d: %d writes with %d moves", i, got, c.Counter(CounterMoves)-moves)
		}
	}
	k := V4(4, 0, 7)
	steps := []struct {
		name   string
		e      Entry
		writes uint64
	}{
		{"unchanged", Positive(k, 1), 0},
		{"refresh", Positive(k, 1), 1},
		{"change", Positive(k, 2), 1},
	}
	for i, s := range steps {
		if s.name != "unchanged" {
			clk.Set(1_000_000 + uint32(refreshGrace*(i+1)))
		}
		w := c.Writes()
		e := s.e
		c.Put(&e)
		if got := c.Writes() - w; got != s.writes {
			t.Fatalf("%s: %d writes, want %d", s.name, got, s.writes)
		}
	}
	w := c.Writes()
	if ok, _ := c.Delete(&k); !ok || c.Writes()-w != 1 {
		t.Fatalf("delete: %v, %d writes", ok, c.Writes()-w)
	}
	if c.state.seq != seq {
		t.Fatal("a put or delete wrote the state page")
	}
}

// TestCacheCheckAfterWrite damages slots of an open writer behind its
// back: a slot not yet served since it was written fails its check and is
// not served, including one the writer served before its last write.
func TestCacheCheckAfterWrite(t *testing.T) {
	c, clk := NewTestFile(t, 256)
	k := V4(2, 0, 1)
	damage := func() {
		t.Helper()
		r := slotOf(c, k)
		b := []byte{c.slotBytes(r)[30] ^ 0x40}
		if err := pwriteFull(c.fd, b, r.off()+30); err != nil {
			t.Fatal(err)
		}
	}
	// Written, damaged, never served: not served.
	MustPut(t, c, Positive(k, 1))
	damage()
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("served a damaged slot on its first lookup")
	}
	// Stored again, served (and so checked), then rewritten by a refresh
	// and damaged: the rewrite cleared the check, so it is not served.
	if res := MustPut(t, c, Positive(k, 2)); res != PutNew {
		t.Fatalf("put over a damaged copy = %d, want PutNew", res)
	}
	for i := 0; i < 3; i++ {
		if e, ok := c.Lookup(&k); !ok || e.LLAddr[5] != 2 {
			t.Fatalf("lookup %d = %+v, %v", i, e, ok)
		}
	}
	clk.Set(1_000_000 + refreshGrace + 50)
	if res := MustPut(t, c, Positive(k, 2)); res != PutRefreshed {
		t.Fatalf("refresh = %d, want PutRefreshed", res)
	}
	damage()
	if _, ok := c.Lookup(&k); ok {
		t.Fatal("served a slot damaged after its rewrite")
	}
}
