package cache_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"arpd/internal/cache"
)

// v2Now is the clock of the program that made testdata/v2.db and
// testdata/v2-crashed.db with format version 2 (capacity 64): the entries
// below, sysctls saved for eth1 in both families, counter 7 at 42 and
// counter 9 at 12345. The crashed copy is the same file as left by a
// writer that was killed.
const v2Now = 1_800_000_000

// v2Entries are the entries of the version-2 test files, in the order
// sortEntries gives.
var v2Entries = sortEntries([]cache.Entry{
	{Key: cache.KeyV4(2, [4]byte{10, 0, 0, 1}), Kind: cache.KindPositive, Source: cache.SourceARP, LLLen: 6, LLAddr: [8]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, Updated: v2Now - 100},
	{Key: cache.KeyV4(2, [4]byte{10, 0, 0, 2}), Kind: cache.KindNegative, Source: cache.SourceKernel, Probes: 3, Updated: v2Now - 20},
	{Key: cache.KeyV4(7, [4]byte{192, 168, 1, 254}), Kind: cache.KindPositive, Source: cache.SourceKernel, LLLen: 6, LLAddr: [8]byte{2, 0, 0, 0, 0, 7}, Updated: v2Now - 7},
	{Key: cache.KeyV4(9, [4]byte{172, 16, 0, 9}), Kind: cache.KindPositive, Source: cache.SourceLoad, LLLen: 8, LLAddr: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Updated: v2Now - 9},
	{Key: cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}}, Kind: cache.KindPositive, Source: cache.SourceND, Router: true, LLLen: 6, LLAddr: [8]byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01}, Updated: v2Now - 3},
	{Key: cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: [16]byte{0xfe, 0x80, 8: 0x02, 9: 0x11, 10: 0x22, 11: 0xff, 12: 0xfe, 13: 0x33, 14: 0x44, 15: 0x55}}, Kind: cache.KindPositive, Source: cache.SourceND, LLLen: 6, LLAddr: [8]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, Updated: v2Now - 30},
	{Key: cache.Key{Family: cache.FamilyIPv6, Ifindex: 3, Addr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 14: 0xde, 15: 0xad}}, Kind: cache.KindNegative, Source: cache.SourceKernel, Probes: 2, Updated: v2Now - 40},
})

// sortEntries sorts es by family, interface and address, and returns it.
func sortEntries(es []cache.Entry) []cache.Entry {
	slices.SortFunc(es, func(a, b cache.Entry) int {
		if a.Family != b.Family {
			return int(a.Family) - int(b.Family)
		}
		if a.Ifindex != b.Ifindex {
			return int(a.Ifindex) - int(b.Ifindex)
		}
		return slices.Compare(a.Addr[:], b.Addr[:])
	})
	return es
}

// entriesOf returns the entries of f, sorted.
func entriesOf(f *cache.File) []cache.Entry {
	var es []cache.Entry
	f.Range(func(e *cache.Entry) bool { es = append(es, *e); return true })
	return sortEntries(es)
}

// copyTestdata copies testdata/name into a new temporary directory and
// returns the copy's path.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "arpd.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkV2Content asserts that f holds what the version-2 test files hold,
// less the damaged entries named in lost.
func checkV2Content(t *testing.T, f *cache.File, lost ...cache.Key) {
	t.Helper()
	want := slices.DeleteFunc(slices.Clone(v2Entries), func(e cache.Entry) bool { return slices.Contains(lost, e.Key) })
	if got := entriesOf(f); !slices.Equal(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
	if f.Capacity() != 64 || f.Entries() != uint64(len(want)) {
		t.Errorf("capacity %d, %d entries; want 64 and %d", f.Capacity(), f.Entries(), len(want))
	}
	if f.Counter(7) != 42 || f.Counter(9) != 12345 || f.Counter(cache.CounterInserts) != 7 {
		t.Errorf("counters 7, 9 and inserts: %d, %d, %d; want 42, 12345, 7", f.Counter(7), f.Counter(9), f.Counter(cache.CounterInserts))
	}
	if o := f.Originals(); len(o) != 2 || o[0].Name != "eth1" || o[1].Name != "eth1" || o[0].McastSolicit != 3 || o[0].Family == o[1].Family {
		t.Errorf("originals %+v, want eth1 of both families", o)
	}
	for _, e := range want {
		if got, ok := f.Lookup(&e.Key); !ok || got != e {
			t.Errorf("lookup of %+v: %+v, %v", e.Key, got, ok)
		}
	}
}

// fileVersion returns the format version in the static header at path.
func fileVersion(t *testing.T, path string) uint32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint32(b[8:])
}

// TestMigrateV2 opens a version-2 file for writing: it becomes a version-3
// file of the same capacity with every entry, saved sysctl and counter,
// looked up as before, and says it was converted; reopened, it is not
// converted again.
func TestMigrateV2(t *testing.T) {
	for _, name := range []string{"v2.db", "v2-crashed.db"} {
		t.Run(name, func(t *testing.T) {
			path := copyTestdata(t, name)
			f, err := cache.Open(path, cache.Options{NegativeTTL: 60})
			if err != nil {
				t.Fatal(err)
			}
			if f.MigratedFrom() != 2 {
				t.Errorf("MigratedFrom %d, want 2", f.MigratedFrom())
			}
			checkV2Content(t, f)
			if pid, _, open := f.Owner(); !open || pid != uint32(os.Getpid()) {
				t.Errorf("owner %d (open %v), want this process", pid, open)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if v := fileVersion(t, path); v != 3 {
				t.Errorf("the file is version %d after the migration, want 3", v)
			}
			if st, _ := os.Stat(path); st.Size() != cache.FileSize(64) {
				t.Errorf("size %d, want %d", st.Size(), cache.FileSize(64))
			}
			f, err = cache.Open(path, cache.Options{NegativeTTL: 60})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.MigratedFrom() != 0 {
				t.Errorf("reopened: MigratedFrom %d, want 0", f.MigratedFrom())
			}
			checkV2Content(t, f)
		})
	}
}

// TestMigrateV2ReadOnly reads a version-2 file without changing it: the
// reader sees the converted entries and the owner the file names.
func TestMigrateV2ReadOnly(t *testing.T) {
	for _, name := range []string{"v2.db", "v2-crashed.db"} {
		t.Run(name, func(t *testing.T) {
			path := copyTestdata(t, name)
			sum := cache.FileSum(t, path)
			r, err := cache.OpenReadOnly(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			checkV2Content(t, r)
			if _, _, open := r.Owner(); open != (name == "v2-crashed.db") {
				t.Errorf("owner open %v, want %v", open, name == "v2-crashed.db")
			}
			if _, err := r.Put(&cache.Entry{}); err != cache.ErrReadOnly {
				t.Errorf("Put on the converted reader: %v, want ErrReadOnly", err)
			}
			if cache.FileSum(t, path) != sum {
				t.Error("reading changed the version-2 file")
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("the directory holds %d files, want the one", len(entries))
			}
		})
	}
}

// TestMigrateV2Damaged converts a version-2 file one of whose slots was
// damaged: that entry is dropped and counted, the others kept.
func TestMigrateV2Damaged(t *testing.T) {
	path := copyTestdata(t, "v2.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Version 2: a 3-page header, then 368-byte buckets of 8 tags and 8
	// slots of 44 bytes; damage the first stored slot's interface index.
	const header, bucket, slot = 3 * 4096, 368, 44
	var lost cache.Key
	for off := header; off < len(b) && lost.Family == 0; off += bucket {
		for i := 0; i < 8; i++ {
			if binary.LittleEndian.Uint16(b[off+2*i:]) != 0 {
				s := b[off+16+i*slot:]
				lost = cache.Key{Family: s[0], Ifindex: binary.LittleEndian.Uint32(s[4:])}
				copy(lost.Addr[:], s[8:24])
				s[4] ^= 0x40
				break
			}
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := cache.Open(path, cache.Options{NegativeTTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkV2Content(t, f, lost)
	if n := f.Counter(cache.CounterCorruptSlots); n != 1 {
		t.Errorf("corrupt slots %d, want 1", n)
	}
}
