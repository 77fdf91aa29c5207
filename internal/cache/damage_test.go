package cache_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arpd/internal/cache"
)

// The format as the package documentation gives it: the tests make and
// damage files by it.
const (
	formatMagic   = "ARPDHASH"
	formatVersion = 3
	pageSize      = 4096
	headerSize    = 4 * pageSize
	stateOffsetA  = pageSize
	stateOffsetB  = 2 * pageSize
	staticCRCOff  = 124
)

// castagnoli is the CRC-32C table of the file's checks.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// foreignFile is a file that is not a cache this package reads: the error
// wanted and a text the error must contain.
type foreignFile struct {
	name string
	data []byte
	want error
	text string
}

// foreignFiles returns the cases of TestCacheForeignFiles.
func foreignFiles(t *testing.T, dir string) []foreignFile {
	bdb := make([]byte, 8192)
	binary.LittleEndian.PutUint32(bdb[12:], 0x061561)
	bdbBE := make([]byte, 8192)
	binary.BigEndian.PutUint32(bdbBE[12:], 0x053162)
	random := make([]byte, 20000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []foreignFile{
		{"bdb-hash", bdb, cache.ErrBerkeleyDB, "arpd -l"},
		{"bdb-btree-be", bdbBE, cache.ErrBerkeleyDB, "-f"},
		{"random", random, cache.ErrNotCache, "unknown format"},
		{"text", []byte("#Ifindex IP              MAC\n2 10.0.0.1 00:11:22:33:44:55\n"), cache.ErrNotCache, "unknown format"},
		{"empty", nil, cache.ErrNotCache, "empty"},
		{"magic-only", []byte(formatMagic), cache.ErrCorrupt, "truncated"},
	}
	// Format versions this arpd does not read, with a valid header.
	for _, v := range []uint32{1, formatVersion + 1} {
		b := make([]byte, headerSize+16*176)
		le := binary.LittleEndian
		copy(b, formatMagic)
		le.PutUint32(b[8:], v)
		le.PutUint32(b[12:], headerSize)
		le.PutUint32(b[16:], 44)
		le.PutUint32(b[20:], 4)
		le.PutUint32(b[24:], 16)
		le.PutUint32(b[staticCRCOff:], crc32.Checksum(b[:staticCRCOff], castagnoli))
		text := "n older arpd"
		if v > formatVersion {
			text = " newer arpd"
		}
		cases = append(cases, foreignFile{fmt.Sprintf("version-%d", v), b, cache.ErrNotCache,
			fmt.Sprintf("format version %d, this arpd reads versions 2 and %d only; it was made by a%s", v, formatVersion, text)})
	}
	// The real thing, when iproute2's arpd is installed.
	if p, err := exec.LookPath("arpd"); err == nil {
		real := filepath.Join(dir, "iproute2.db")
		in := "2 10.0.0.1 00:11:22:33:44:55\n"
		cmd := exec.Command(p, "-b", real, "-f", "-")
		cmd.Stdin = strings.NewReader(in)
		if out, err := cmd.CombinedOutput(); err == nil {
			b, _ := os.ReadFile(real)
			cases = append(cases, foreignFile{"iproute2-arpd", b, cache.ErrBerkeleyDB, "arpd -l"})
		} else {
			t.Logf("iproute2 arpd could not make a database: %v: %s", err, out)
		}
	}
	return cases
}

// TestCacheForeignFiles opens files that are not arpd caches: each gets a
// clear error naming the file and the problem, and stays byte-for-byte
// unchanged.
func TestCacheForeignFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range foreignFiles(t, dir) {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := cache.FileSum(t, path)
			for _, open := range []func() (*cache.File, error){
				func() (*cache.File, error) { return cache.Open(path, cache.Options{}) },
				func() (*cache.File, error) { return cache.OpenReadOnly(path) },
				func() (*cache.File, error) { return cache.Open(path, cache.Options{Capacity: 128}) },
			} {
				c, err := open()
				if err == nil {
					c.Close()
					t.Fatal("opened a foreign file")
				}
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %q: want %v naming %s", err, tc.want, path)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.text) {
					t.Fatalf("error %q does not say %q", msg, tc.text)
				}
			}
			if cache.FileSum(t, path) != sum {
				t.Fatal("the file was changed")
			}
			if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
				t.Fatal("a temporary file was left behind")
			}
		})
	}
}

func TestCacheHeaderDamage(t *testing.T) {
	path, _ := cache.Populated(t, 256, 100)
	orig, _ := os.ReadFile(path)
	damage := func(t *testing.T, offs ...int) {
		b := bytes.Clone(orig)
		for _, off := range offs {
			b[off] ^= 0x20
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Any byte of the static header, including the magic, version,
	// geometry, seed and the checksum itself.
	for _, off := range []int{0, 7, 8, 12, 16, 20, 24, 32, 47, 50, 100, staticCRCOff, staticCRCOff + 3} {
		t.Run(fmt.Sprintf("static-%d", off), func(t *testing.T) {
			damage(t, off)
			sum := cache.FileSum(t, path)
			for _, open := range []func() (*cache.File, error){
				func() (*cache.File, error) { return cache.Open(path, cache.Options{}) },
				func() (*cache.File, error) { return cache.OpenReadOnly(path) },
			} {
				c, err := open()
				if err == nil {
					c.Close()
					t.Fatal("opened a file with a damaged header")
				}
				if !errors.Is(err, cache.ErrCorrupt) && !errors.Is(err, cache.ErrNotCache) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v", err)
				}
			}
			if cache.FileSum(t, path) != sum {
				t.Fatal("the file was changed")
			}
		})
	}
	// One damaged state page: the other copy serves.
	t.Run("one-state-page", func(t *testing.T) {
		damage(t, stateOffsetA+40, stateOffsetB+40)
		b, _ := os.ReadFile(path)
		copy(b[stateOffsetB:], orig[stateOffsetB:stateOffsetB+pageSize]) // B intact
		os.WriteFile(path, b, 0o644)
		c, err := cache.OpenReadOnly(path)
		if err != nil {
			t.Fatalf("one damaged state page made the file unreadable: %v", err)
		}
		c.Close()
	})
	t.Run("both-state-pages", func(t *testing.T) {
		damage(t, stateOffsetA+40, stateOffsetB+40)
		sum := cache.FileSum(t, path)
		_, err := cache.Open(path, cache.Options{})
		if !errors.Is(err, cache.ErrCorrupt) || !strings.Contains(err.Error(), "state") {
			t.Fatalf("error %v, want ErrCorrupt about the state pages", err)
		}
		if cache.FileSum(t, path) != sum {
			t.Fatal("the file was changed")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if err := os.WriteFile(path, orig[:len(orig)-1], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := cache.OpenReadOnly(path)
		if !errors.Is(err, cache.ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestCacheRandomFlips flips random bytes all over a populated file: no
// open, lookup, put or listing may panic, and whatever is served passed
// its check.
func TestCacheRandomFlips(t *testing.T) {
	path, keys := cache.Populated(t, 256, 150)
	orig, _ := os.ReadFile(path)
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 200; round++ {
		b := bytes.Clone(orig)
		for i := 0; i < 1+rng.IntN(20); i++ {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		exerciseCacheFile(t, path, keys)
	}
}

// exerciseCacheFile opens path every way and uses it; it fails the test
// only on a broken invariant (a panic fails it by itself).
func exerciseCacheFile(t testing.TB, path string, keys []cache.Key) {
	if r, err := cache.OpenReadOnly(path); err == nil {
		r.Range(func(e *cache.Entry) bool {
			if e.LLLen > 8 || e.Kind != cache.KindPositive && e.Kind != cache.KindNegative {
				t.Fatalf("range yielded an invalid entry %+v", e)
			}
			return true
		})
		for _, k := range keys {
			if e, ok := r.Lookup(&k); ok && e.Key != k {
				t.Fatalf("lookup of %v returned %v", k, e.Key)
			}
		}
		r.Close()
	}
	if w, err := cache.Open(path, cache.Options{NegativeTTL: 60}); err == nil {
		for _, k := range keys[:min(10, len(keys))] {
			w.Put(&cache.Entry{Key: k, Kind: cache.KindNegative})
			w.Delete(&k)
		}
		w.Close()
	}
}
