package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenCache opens arbitrary bytes as a cache file, read-only and for
// writing, lists it, looks keys up and writes to it. Whatever the bytes,
// nothing panics; a file that fails to open is left byte for byte as it
// was; and every entry served passed its check.
func FuzzOpenCache(f *testing.F) {
	// Seeds: a small valid file with entries, the same with damage in the
	// header, a state page and a slot, a Berkeley DB header, and junk.
	c, _ := newTestCache(f, minCapacity)
	for i := 0; i < 40; i++ {
		e := positive(v4(8, 0, byte(i)), byte(i))
		if i%5 == 0 {
			e.Kind, e.LLLen, e.LLAddr = KindNegative, 0, [8]byte{}
		}
		c.Put(&e)
	}
	c.Close()
	valid, err := os.ReadFile(c.Path())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, off := range []int{3, 24, staticCRCOff, stateOffsetA + 8, stateOffsetB + 100, headerSize + 5, headerSize + bucketSize*3 + 41} {
		b := bytes.Clone(valid)
		b[off] ^= 0x55
		f.Add(b)
	}
	open := bytes.Clone(valid) // marked open by a writer that died
	var st cacheState
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
	f.Add([]byte(cacheMagic))
	f.Add(valid[:headerSize])

	// NB: the file is rewritten for every input. On tmpfs, where OpenWrt
	// keeps it, that is cheap; on a disk that discards freed blocks it
	// stalls the fuzzer in the kernel.
	dir := f.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "arpd-fuzz"); err == nil {
			dir = d
			f.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	keys := []Key{v4(8, 0, 1), v4(8, 0, 5), v4(9, 9, 9)}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.db")
		os.Remove(path + ".new")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, rerr := OpenCacheReadOnly(path)
		if rerr == nil {
			r.Range(func(e *Entry) bool {
				if e.LLLen > 8 || (e.Kind != KindPositive && e.Kind != KindNegative) || e.Family == 0 {
					t.Fatalf("range served an invalid entry %+v", e)
				}
				return true
			})
			r.Close()
		} else {
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Fatal("a failed read-only open changed the file")
			}
		}
		w, werr := OpenCache(path, CacheOptions{NegativeTTL: 60})
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
			e := positive(keys[i], 7)
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
