package cache

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// validFile returns the bytes of a small valid closed cache file with
// positive and negative entries.
func validFile(t testing.TB) []byte {
	c, _ := NewTestFile(t, MinCapacity)
	for i := 0; i < 40; i++ {
		e := Positive(V4(8, 0, byte(i)), byte(i))
		if i%4 == 1 {
			// IPv6, under two prefixes: the seeds hold a prefix table.
			e.Key = Key{Family: FamilyIPv6, Ifindex: 2, Addr: [16]byte{0xfe, 0x80, 2: byte(i % 3 / 2), 15: byte(i)}}
		}
		if i%5 == 0 {
			e.Kind, e.LLLen, e.LLAddr = KindNegative, 0, [8]byte{}
		}
		c.Put(&e)
	}
	c.Close()
	valid, err := os.ReadFile(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	return valid
}

// FuzzOpen opens arbitrary bytes as a cache file, read-only and for
// writing, lists it, looks keys up and writes to it. Whatever the bytes,
// nothing panics; a file that fails to open is left byte for byte as it
// was; and every entry served passed its check.
func FuzzOpen(f *testing.F) {
	// Seeds: a small valid file with entries, the same with damage in the
	// header, a state page, the prefix table and a slot, a Berkeley DB
	// header, junk, and version-2 files whole and damaged.
	valid := validFile(f)
	f.Add(valid)
	for _, off := range []int{3, 24, staticCRCOff, stateOffsetA + 8, stateOffsetB + 100, prefixOffset + prefixEntrySize + 3, headerSize + 5, headerSize + bucketSize*3 + 41} {
		b := bytes.Clone(valid)
		b[off] ^= 0x55
		f.Add(b)
	}
	open := bytes.Clone(valid) // marked open by a writer that died
	var st state
	if decodeState(open[stateOffsetB:], &st) {
		st.flags |= stateFlagOpen
		st.seq++
		encodeState(open[stateOffsetA:stateOffsetA+pageSize], &st)
		f.Add(open)
	}
	bdb := make([]byte, 4096)
	binary.BigEndian.PutUint32(bdb[12:], 0x061561)
	f.Add(bdb)
	f.Add([]byte{})
	f.Add([]byte(formatMagic))
	f.Add(valid[:headerSize])
	// Files of format version 2, which Open converts.
	for _, name := range []string{"v2.db", "v2-crashed.db"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		b = bytes.Clone(b)
		b[v2HeaderSize+v2BucketSize+tagsSize+5] ^= 0x20
		f.Add(b)
	}

	dir := fuzzDir(f)
	keys := []Key{V4(8, 0, 1), V4(8, 0, 5), V4(9, 9, 9), {Family: FamilyIPv6, Ifindex: 2, Addr: [16]byte{0xfe, 0x80, 15: 1}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.db")
		os.Remove(path + ".new")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rerr := fuzzRead(t, path, data)
		w, werr := Open(path, Options{NegativeTTL: 60})
		if werr != nil {
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Fatalf("a failed open (%v) changed the file", werr)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("opened for writing but not for reading: %v", rerr)
		}
		for i := range keys {
			if e, ok := w.Lookup(&keys[i]); ok && e.Key != keys[i] {
				t.Fatalf("lookup of %v returned %v", keys[i], e.Key)
			}
			e := Positive(keys[i], 7)
			if _, err := w.Put(&e); err != nil {
				t.Fatal(err)
			}
			if got, ok := w.Lookup(&keys[i]); !ok || got.LLAddr != e.LLAddr {
				t.Fatalf("put then lookup of %v: %+v, %v", keys[i], got, ok)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// fuzzDir returns the directory for FuzzOpen's file.
//
// NB: the file is rewritten for every input. On tmpfs, where OpenWrt
// keeps it, that is cheap; on a disk that discards freed blocks it stalls
// the fuzzer in the kernel.
func fuzzDir(f *testing.F) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "arpd-fuzz"); err == nil {
			f.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return f.TempDir()
}

// fuzzRead opens path, whose bytes are data, read-only and lists it: every
// entry served must be valid, and a failed open must leave the file as it
// was. It returns the error of the open.
func fuzzRead(t *testing.T, path string, data []byte) error {
	r, err := OpenReadOnly(path)
	if err != nil {
		if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
			t.Fatal("a failed read-only open changed the file")
		}
		return err
	}
	r.Range(func(e *Entry) bool {
		if e.LLLen > 8 || (e.Kind != KindPositive && e.Kind != KindNegative) || e.Family == 0 {
			t.Fatalf("range served an invalid entry %+v", e)
		}
		return true
	})
	r.Close()
	return nil
}

// FuzzStaticHeader parses arbitrary bytes as a static header: nothing
// panics, and a geometry it accepts encodes to a header that parses to
// the same geometry.
func FuzzStaticHeader(f *testing.F) {
	valid := validFile(f)
	f.Add(valid[:pageSize], int64(len(valid)))
	f.Add(valid[:pageSize], int64(len(valid)-1))
	f.Add(valid[:staticCRCOff+3], int64(len(valid)))
	v1 := bytes.Clone(valid[:pageSize])
	binary.LittleEndian.PutUint32(v1[8:], 1)
	f.Add(v1, int64(len(valid)))
	bdb := make([]byte, 4096)
	binary.LittleEndian.PutUint32(bdb[12:], 0x053162)
	f.Add(bdb, int64(8192))
	f.Add([]byte(formatMagic), int64(8))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		g, err := parseStaticHeader(b, size)
		if err != nil {
			return
		}
		if g.buckets == 0 || g.buckets*slotWays > MaxCapacity || fileSizeFor(g.buckets) != size {
			t.Fatalf("accepted geometry %+v for size %d", g, size)
		}
		var page [pageSize]byte
		encodeStaticHeader(page[:], g)
		if g2, err := parseStaticHeader(page[:], size); err != nil || g2 != g {
			t.Fatalf("re-encoded %+v parses as %+v, %v", g, g2, err)
		}
	})
}

// FuzzState decodes arbitrary bytes as a state page: nothing panics, and
// a page it accepts encodes and decodes again to the same page.
func FuzzState(f *testing.F) {
	valid := validFile(f)
	f.Add(valid[stateOffsetA : stateOffsetA+pageSize])
	f.Add(valid[stateOffsetB : stateOffsetB+pageSize])
	damaged := bytes.Clone(valid[stateOffsetA : stateOffsetA+pageSize])
	damaged[countersOff] ^= 1
	f.Add(damaged)
	f.Add(make([]byte, pageSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var page [pageSize]byte
		copy(page[:], b)
		var s state
		if !decodeState(page[:], &s) {
			return
		}
		var once, twice [pageSize]byte
		encodeState(once[:], &s)
		var s2 state
		if !decodeState(once[:], &s2) {
			t.Fatal("a re-encoded state page fails its check")
		}
		encodeState(twice[:], &s2)
		if once != twice || s2.seq != s.seq || s2.counters != s.counters || s2.entries != s.entries {
			t.Fatal("a state page changed in a round trip")
		}
	})
}

// FuzzSlot classifies arbitrary slot bytes with a tag: nothing panics, and
// a slot it finds valid holds its own key and encodes back to a valid slot
// with the same entry.
func FuzzSlot(f *testing.F) {
	valid := validFile(f)
	for base := int64(headerSize); base+bucketSize <= int64(len(valid)) && base < headerSize+4*bucketSize; base += bucketSize {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			f.Add(binary.LittleEndian.Uint16(valid[r.tagOff():]), valid[r.off():r.off()+slotSize])
		}
	}
	f.Add(uint16(0), make([]byte, slotSize))
	f.Fuzz(func(t *testing.T, tag uint16, b []byte) {
		var s [slotSize]byte
		copy(s[:], b)
		if slotStatus(tag, s[:]) != slotValid {
			return
		}
		var e, e2 Entry
		slotEntry(s[:], &e)
		w0, w1, w2 := e.Key.words()
		if c0, c1 := slotWords(w0, w1, w2, s[3]); !keyMatches(s[:], c0, c1) {
			t.Fatalf("slot %x: key %+v does not match its own words", s, e.Key)
		}
		var s2 [slotSize]byte
		encodeSlot(s2[:], tag, &e, s[3])
		if slotStatus(tag, s2[:]) != slotValid {
			t.Fatalf("slot %x re-encoded as an invalid slot %x", s, s2)
		}
		if slotEntry(s2[:], &e2); e2 != e {
			t.Fatalf("slot %x: %+v re-encoded as %+v", s, e, e2)
		}
	})
}
