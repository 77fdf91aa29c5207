package cache

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// v6 returns the key of IPv6 address prefix:0:0:0:iid on interface 2,
// prefix given as its first eight bytes' little-endian word.
func v6(prefix, iid uint64) Key {
	k := Key{Family: FamilyIPv6, Ifindex: 2}
	binary.LittleEndian.PutUint64(k.Addr[0:], prefix)
	binary.BigEndian.PutUint64(k.Addr[8:], iid)
	return k
}

// prefixCount returns the number of valid entries in f's prefix table on
// disk.
func prefixCount(f *File) int {
	n := 0
	for i := 1; i < prefixSlots; i++ {
		if _, st := prefixEntry(f.prefixPage(), i); st == slotValid {
			n++
		}
	}
	return n
}

// TestPrefixTable stores IPv6 entries under three prefixes: each prefix
// takes one entry of the table, whatever the number of addresses under
// it; every entry is served whole; and looking up an address under a
// prefix the table lacks misses without adding it. A reader opened before
// a prefix was added serves the entries under it.
func TestPrefixTable(t *testing.T) {
	c, _ := NewTestFile(t, 1024)
	r, err := OpenReadOnly(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	prefixes := []uint64{0x80fe, 0xb80d0120, 0x0100b80d0120}
	for i := 0; i < 300; i++ {
		MustPut(t, c, Positive(v6(prefixes[i%3], uint64(i)), byte(i)))
	}
	if n := prefixCount(c); n != 3 {
		t.Fatalf("%d prefixes in the table, want 3", n)
	}
	for _, f := range []*File{c, r} {
		for i := 0; i < 300; i++ {
			k := v6(prefixes[i%3], uint64(i))
			if e, ok := f.Lookup(&k); !ok || e.Key != k || e.LLAddr != Positive(k, byte(i)).LLAddr {
				t.Fatalf("read-only %v: lookup of %v: %+v, %v", f.readOnly, k.Addr, e, ok)
			}
		}
	}
	miss := v6(0x0200b80d0120, 1)
	if _, ok := c.Lookup(&miss); ok || prefixCount(c) != 3 {
		t.Errorf("lookup under an unknown prefix: found %v, %d prefixes", ok, prefixCount(c))
	}
	if ok, err := c.Delete(&miss); ok || err != nil || prefixCount(c) != 3 {
		t.Errorf("delete under an unknown prefix: %v, %v, %d prefixes", ok, err, prefixCount(c))
	}
	hit := v6(prefixes[2], 2)
	if a := testing.AllocsPerRun(200, func() { c.Lookup(&hit); c.Lookup(&miss) }); a != 0 {
		t.Errorf("IPv6 lookups allocate %v times", a)
	}
	e := Positive(hit, 9)
	if a := testing.AllocsPerRun(200, func() { e.Updated = 0; c.Put(&e) }); a != 0 {
		t.Errorf("an IPv6 put under a known prefix allocates %v times", a)
	}
}

// TestPrefixRecycle fills the prefix table, each prefix with two entries
// but one with one, and adds a prefix more: the one with the fewest
// entries gives up its index, its entry is deleted (an eviction), and
// every other entry, and the new one, stay served, before and after the
// file is reopened.
func TestPrefixRecycle(t *testing.T) {
	c, clk := NewTestFile(t, 2048)
	const thin = 77
	for p := uint64(1); p < prefixSlots; p++ {
		MustPut(t, c, Positive(v6(p<<16, 1), 1))
		if p != thin {
			MustPut(t, c, Positive(v6(p<<16, 2), 2))
		}
	}
	if n := prefixCount(c); n != prefixSlots-1 {
		t.Fatalf("%d prefixes, want a full table", n)
	}
	before, evictions := c.Entries(), c.Counter(CounterEvictions)
	MustPut(t, c, Positive(v6(999<<16, 5), 5))
	if c.Entries() != before || c.Counter(CounterEvictions) != evictions+1 {
		t.Errorf("entries %d -> %d, evictions +%d; want the same and +1", before, c.Entries(), c.Counter(CounterEvictions)-evictions)
	}
	check := func() {
		t.Helper()
		for p := uint64(1); p < prefixSlots; p++ {
			for iid := uint64(1); iid <= 2; iid++ {
				k := v6(p<<16, iid)
				_, ok := c.Lookup(&k)
				if want := p != thin; ok != want {
					t.Errorf("prefix %d, %d: found %v, want %v", p, iid, ok, want)
				}
			}
		}
		k := v6(999<<16, 5)
		if e, ok := c.Lookup(&k); !ok || e.Key != k {
			t.Errorf("the new prefix's entry: %+v, %v", e, ok)
		}
	}
	check()
	path := c.Path()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	if c, err = Open(path, Options{Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check()
	if c.Counter(CounterCorruptSlots) != 0 {
		t.Errorf("%d corrupt slots after the reopen", c.Counter(CounterCorruptSlots))
	}
}

// TestPrefixDamaged damages the prefix table's entry of one prefix: the
// entries under it are never served, other entries are, and recovery
// after a crash drops them, frees the entry and counts the slots.
func TestPrefixDamaged(t *testing.T) {
	c, clk := NewTestFile(t, 1024)
	a, b := v6(0x80fe, 1), v6(0xb80d0120, 1)
	v4 := V4(1, 2, 3)
	for _, k := range []Key{a, b, v4} {
		MustPut(t, c, Positive(k, 1))
	}
	i := int(c.findPrefix(0xb80d0120))
	path := c.Path()
	// Leave the file as a crashed writer would: open, then damaged.
	if err := c.SaveState(); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Pwrite(fd, []byte{0x5a}, int64(prefixOffset+i*prefixEntrySize+2)); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	c.closeFiles()
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(&b); ok {
		t.Error("a reader served an entry under a damaged prefix")
	}
	if damaged := r.Range(func(*Entry) bool { return true }); damaged != 1 {
		t.Errorf("Range skipped %d damaged slots, want 1", damaged)
	}
	r.Close()
	c, n := OpenRecovering(t, path, Options{Now: clk.Now})
	defer c.Close()
	if n != 1 || c.Entries() != 2 {
		t.Errorf("recovery dropped %d slots and left %d entries, want 1 and 2", n, c.Entries())
	}
	if _, st := prefixEntry(c.prefixPage(), i); st != slotEmpty {
		t.Errorf("the damaged prefix entry is %d after recovery, want empty", st)
	}
	for _, k := range []Key{a, v4} {
		if _, ok := c.Lookup(&k); !ok {
			t.Errorf("%+v lost", k)
		}
	}
	MustPut(t, c, Positive(b, 2))
	if e, ok := c.Lookup(&b); !ok || e.LLAddr[5] != 2 {
		t.Errorf("after recovery, b put again: %+v, %v", e, ok)
	}
}
