package cache

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain removes the benchmark tables when the tests and benchmarks are
// done.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchSizes are the entry counts the benchmarks measure.
var benchSizes = []int{65536, 1_000_000}

// benchTable is a cache file holding n random IPv4 keys at 90% of its
// capacity, and a Go map holding the same keys.
type benchTable struct {
	path    string
	c       *File
	clk     *TestClock
	present []Key // keys stored
	absent  []Key // keys never stored
	m       map[Key]Entry
}

var (
	benchMu     sync.Mutex
	benchTables = map[int]*benchTable{}
	benchDir    string
)

// randomKey returns a random IPv4 key on interface 2 (all 32 bits random,
// so the spread is the hash's).
func randomKey(r *rand.Rand) Key {
	v := r.Uint32()
	return KeyV4(2, [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// getBenchTable builds (once per size) the table for n entries.
func getBenchTable(b *testing.B, n int) *benchTable {
	benchMu.Lock()
	defer benchMu.Unlock()
	if t := benchTables[n]; t != nil {
		return t
	}
	if benchDir == "" {
		d, err := os.MkdirTemp("", "arpd-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	clk := &TestClock{}
	clk.Set(1_000_000)
	path := filepath.Join(benchDir, fmt.Sprintf("bench-%d.db", n))
	c, err := Open(path, Options{Capacity: n * 10 / 9, NegativeTTL: 60, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	t := &benchTable{path: path, c: c, clk: clk, m: make(map[Key]Entry, n)}
	seen := make(map[Key]bool, 2*n)
	for len(t.present) < n {
		k := randomKey(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		e := Positive(k, byte(len(t.present)))
		if res, err := c.Put(&e); err != nil || res != PutNew {
			b.Fatalf("fill: %v %v", res, err)
		}
		t.present = append(t.present, k)
		t.m[k] = e
	}
	for len(t.absent) < n {
		if k := randomKey(r); !seen[k] {
			seen[k] = true
			t.absent = append(t.absent, k)
		}
	}
	lost := 0
	for i := range t.present {
		if _, ok := c.Lookup(&t.present[i]); !ok {
			lost++
		}
	}
	st, _ := os.Stat(path)
	b.Logf("%d entries in a %d-entry file of %d bytes (%.1f bytes per slot, %.1f per stored entry); %d evicted while filling, %d moves",
		c.Entries(), c.Capacity(), st.Size(), float64(st.Size())/float64(c.Capacity()), float64(st.Size())/float64(c.Entries()), lost, c.Counter(CounterMoves))
	benchTables[n] = t
	return t
}

func BenchmarkLookupHit(b *testing.B) {
	for _, n := range benchSizes {
		t := getBenchTable(b, n)
		b.Run(fmt.Sprintf("cache/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			found := 0
			for i := 0; i < b.N; i++ {
				if _, ok := t.c.Lookup(&t.present[i%n]); ok {
					found++
				}
			}
			if b.N > n && found < b.N*9/10 {
				b.Fatalf("only %d of %d hits", found, b.N)
			}
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = t.m[t.present[i%n]]
			}
		})
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	for _, n := range benchSizes {
		t := getBenchTable(b, n)
		b.Run(fmt.Sprintf("cache/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, ok := t.c.Lookup(&t.absent[i%n]); ok {
					b.Fatal("hit on an absent key")
				}
			}
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = t.m[t.absent[i%n]]
			}
		})
	}
}

// BenchmarkLookupChase is the machine's floor for a lookup: one load per
// step from a random cache line of a region the size of the cache file for
// n entries (anonymous memory, 4 KiB pages), each address depending on the
// last load, so that the loads cannot overlap. A lookup needs at least one
// such load (the tags of its two buckets, fetched together), and a hit a
// second one (the slot).
func BenchmarkLookupChase(b *testing.B) {
	for _, n := range benchSizes {
		size := int(fileSizeFor(bucketsFor(n * 10 / 9)))
		mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			b.Fatal(err)
		}
		lines := size / 64
		r := rand.New(rand.NewPCG(3, uint64(n)))
		perm := r.Perm(lines)
		for i, l := range perm {
			binary.NativeEndian.PutUint32(mem[l*64:], uint32(perm[(i+1)%lines]))
		}
		b.Run(fmt.Sprintf("memory/%d", n), func(b *testing.B) {
			p := uint32(perm[0])
			for i := 0; i < b.N; i++ {
				p = binary.NativeEndian.Uint32(mem[p*64:])
			}
			if p == ^uint32(0) {
				b.Fatal("impossible")
			}
		})
		unix.Munmap(mem)
	}
}

// BenchmarkInsert stores new random keys into the 90%-full table. The
// load is held steady: every 1,024 inserts, the keys just inserted are
// deleted with the timer stopped.
func BenchmarkInsert(b *testing.B) {
	for _, n := range benchSizes {
		t := getBenchTable(b, n)
		r := rand.New(rand.NewPCG(99, uint64(n)))
		b.Run(fmt.Sprintf("cache/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var batch [1024]Key
			var e Entry
			start, deletes := t.c.Writes(), uint64(0)
			for i := 0; i < b.N; i++ {
				t.clk.Set(2_000_000 + uint32(i))
				e = Entry{Key: randomKey(r), Kind: KindPositive, LLLen: 6}
				if _, err := t.c.Put(&e); err != nil {
					b.Fatal(err)
				}
				batch[i%len(batch)] = e.Key
				if i%len(batch) == len(batch)-1 || i == b.N-1 {
					b.StopTimer()
					w := t.c.Writes()
					for j := 0; j <= i%len(batch); j++ {
						t.c.Delete(&batch[j])
					}
					deletes += t.c.Writes() - w
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(t.c.Writes()-start-deletes)/float64(b.N), "pwrites/op")
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var batch [1024]Key
			for i := 0; i < b.N; i++ {
				k := randomKey(r)
				t.m[k] = Entry{Key: k, Kind: KindPositive, LLLen: 6}
				batch[i%len(batch)] = k
				if i%len(batch) == len(batch)-1 || i == b.N-1 {
					b.StopTimer()
					for j := 0; j <= i%len(batch); j++ {
						delete(t.m, batch[j])
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkInsertFull stores new random keys into a full table, where
// every insert evicts: the steady state of a segment with more hosts than
// the cache holds. It uses its own table, as it changes what is stored.
func BenchmarkInsertFull(b *testing.B) {
	for _, n := range benchSizes {
		c, clk := NewTestFile(b, n)
		r := rand.New(rand.NewPCG(5, uint64(n)))
		var e Entry
		for i := 0; c.Entries() < uint64(n)*fullTable/100; i++ {
			clk.Set(1_000_000 + uint32(i/1024))
			e = Entry{Key: randomKey(r), Kind: KindPositive, LLLen: 6}
			c.Put(&e)
		}
		b.Run(fmt.Sprintf("cache/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				clk.Set(2_000_000 + uint32(i))
				e = Entry{Key: randomKey(r), Kind: KindPositive, LLLen: 6}
				if _, err := c.Put(&e); err != nil {
					b.Fatal(err)
				}
			}
		})
		c.Close()
	}
}

// BenchmarkRefresh stores a known host again a second later: the most
// common write, as ARP traffic from known hosts confirms their entries.
func BenchmarkRefresh(b *testing.B) {
	for _, n := range benchSizes {
		t := getBenchTable(b, n)
		b.Run(fmt.Sprintf("cache/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				t.clk.Set(3_000_000 + uint32(i))
				e := Positive(t.present[i%n], 1)
				if _, err := t.c.Put(&e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConfirm stores bindings the cache already holds, updated less
// than refreshGrace ago: what the kernel's notice of each answer and the
// ARP frames of known hosts cost. They write nothing.
//
// The bindings confirmed are those the table holds after it stored them
// all once: storing a key that an earlier benchmark's inserts evicted can
// evict another.
func BenchmarkConfirm(b *testing.B) {
	for _, n := range benchSizes {
		t := getBenchTable(b, n)
		b.Run(fmt.Sprintf("cache/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			t.clk.Set(4_000_000)
			for i := range n {
				e := Positive(t.present[i], 1)
				if _, err := t.c.Put(&e); err != nil {
					b.Fatal(err)
				}
			}
			held := make([]Key, 0, n)
			for _, k := range t.present {
				if _, ok := t.c.Lookup(&k); ok {
					held = append(held, k)
				}
			}
			t.clk.Set(4_000_000 + refreshGrace - 1)
			w := t.c.Writes()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e := Positive(held[i%len(held)], 1)
				if _, err := t.c.Put(&e); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got := t.c.Writes() - w; got != 0 {
				b.Fatalf("%d writes for bindings confirmed within the grace", got)
			}
		})
	}
}

// BenchmarkOpen opens a cleanly closed 1,000,000-entry file for writing,
// as the daemon does at start (the close, which syncs, is not timed).
func BenchmarkOpen(b *testing.B) {
	t := getBenchTable(b, 1_000_000)
	benchMu.Lock()
	defer benchMu.Unlock()
	t.c.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := Open(t.path, Options{NegativeTTL: 60, Now: t.clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t.c = c
		c.Close()
		b.StartTimer()
	}
	c, err := Open(t.path, Options{NegativeTTL: 60, Now: t.clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	t.c = c
}

// BenchmarkRecover opens the 1,000,000-entry file after an unclean
// shutdown: every slot is checked.
func BenchmarkRecover(b *testing.B) {
	t := getBenchTable(b, 1_000_000)
	benchMu.Lock()
	defer benchMu.Unlock()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		t.c.closeFiles() // like a crash: the file stays marked open
		r, err := OpenReadOnly(t.path)
		if err != nil {
			b.Fatal(err)
		}
		saved := r.Counter(CounterCorruptSlots)
		r.Close()
		b.StartTimer()
		c, err := Open(t.path, Options{NegativeTTL: 60, Now: t.clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		if got := c.Counter(CounterCorruptSlots) - saved; got != 0 {
			b.Fatalf("%d slots damaged", got)
		}
		t.c = c
	}
}
