package cache

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"
)

// TestCacheSlotDamage damages slots of a closed file: exactly those are
// dropped and counted, and every other entry is still served.
func TestCacheSlotDamage(t *testing.T) {
	path, keys := Populated(t, 1024, 600)
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
	r, err := OpenReadOnly(path)
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
	markOpen(t, path)
	w, recovered := OpenRecovering(t, path, Options{})
	defer w.Close()
	if recovered != len(damaged) || w.Entries() != uint64(len(keys)-len(damaged)) {
		t.Fatalf("recovered %d entries %d; want %d and %d", recovered, w.Entries(), len(damaged), len(keys)-len(damaged))
	}
	if w.Counter(CounterCorruptSlots) != uint64(len(damaged)) {
		t.Fatalf("corrupt counter = %d", w.Counter(CounterCorruptSlots))
	}
	if bad := w.Range(func(*Entry) bool { return true }); bad != 0 {
		t.Fatalf("%d damaged slots remain after recovery", bad)
	}
}

// markOpen marks the closed file at path as left open by a writer that
// died, in a newer state page A.
func markOpen(t *testing.T, path string) {
	b, _ := os.ReadFile(path)
	var st state
	decodeState(b[stateOffsetA:], &st)
	var stB state
	if decodeState(b[stateOffsetB:], &stB) && stB.seq > st.seq {
		st = stB
	}
	st.flags |= stateFlagOpen
	st.seq += 10
	encodeState(b[stateOffsetA:stateOffsetA+pageSize], &st)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCacheInterruptedMove leaves what a crash in the middle of a
// displacement leaves, the same entry in both of its buckets, and checks
// that Delete removes both copies and that recovery keeps exactly one.
func TestCacheInterruptedMove(t *testing.T) {
	c, clk := NewTestFile(t, 256)
	k := V4(0, 1, 1)
	MustPut(t, c, Positive(k, 1))
	w, c0, c1, _ := testWords(c, &k)
	b1, b2, tag := c.locate(w[0], w[1], w[2])
	// find returns the slot holding k and the other of its buckets.
	find := func() (slotRef, int64) {
		t.Helper()
		for _, pair := range [][2]int64{{b1, b2}, {b2, b1}} {
			for m := c.match(pair[0], tag); m != 0; m &= m - 1 {
				if r := ref(pair[0], firstLane(m)); keyMatches(c.slotBytes(r), c0, c1) {
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
	count := func(c *File) int {
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
	MustPut(t, c, Positive(k, 1))
	at, other = find()
	duplicate()
	path := c.Path()
	c.closeFiles() // the writer dies: the file stays marked open
	c2, err := Open(path, Options{Now: clk.Now})
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

// TestCacheTagDamage damages the tag of a stored slot, to another value
// and to zero: the entry is never served, it counts as damaged, a new Put
// of the key stores a good copy, and recovery drops the damaged one.
func TestCacheTagDamage(t *testing.T) {
	for _, newTag := range []string{"other", "zero"} {
		t.Run(newTag, func(t *testing.T) {
			c, clk := NewTestFile(t, 256)
			keys := []Key{V4(1, 0, 1), V4(1, 0, 2), V4(1, 0, 3)}
			for i, k := range keys {
				MustPut(t, c, Positive(k, byte(i)))
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
			e := Positive(keys[1], 9)
			if res := MustPut(t, c, e); res != PutNew {
				t.Fatalf("put after tag damage = %d, want PutNew", res)
			}
			if got, ok := c.Lookup(&keys[1]); !ok || got.LLAddr != e.LLAddr {
				t.Fatalf("lookup after the new put = %+v, %v", got, ok)
			}
			// A zero tag looks free: Put may have reused that very slot,
			// counting it as damaged. Else the damaged copy is still there.
			wantRecovered := 1
			if c.status(r) == slotValid {
				if newTag != "zero" || c.Counter(CounterCorruptSlots) != 1 {
					t.Fatalf("reused the damaged slot (tag %s), corrupt counter %d", newTag, c.Counter(CounterCorruptSlots))
				}
				wantRecovered = 0
			}
			// The writer dies; recovery drops the damaged copy and keeps
			// the good one.
			path := c.Path()
			c.closeFiles()
			c2, recovered := OpenRecovering(t, path, Options{Now: clk.Now})
			defer c2.Close()
			if recovered != wantRecovered || c2.Entries() != 3 {
				t.Fatalf("recovered %d, entries %d; want %d and 3", recovered, c2.Entries(), wantRecovered)
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
