package main

import (
	"testing"
	"time"

	"arpd/internal/cache"
)

// testHasher returns a Hasher with a random key, for the fixed tables.
func testHasher() cache.Hasher {
	h, err := cache.NewHasher()
	if err != nil {
		panic(err)
	}
	return h
}

// askedKey is the key of the i-th address of a /8 on interface 2.
func askedKey(i int) cache.Key {
	return cache.KeyV4(2, [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// TestAskedFilterWindow: an address added is seen for at least 2 s and
// forgotten within 4 s, whenever in its generation it was added; another
// interface's same address is another key.
func TestAskedFilterWindow(t *testing.T) {
	for _, at := range []time.Duration{0, 500 * time.Millisecond, 1999 * time.Millisecond, 2 * time.Second, 3900 * time.Millisecond} {
		f := newAskedFilter(testHasher())
		f.rotate(0)
		k := askedKey(7)
		f.add(&k, at)
		for _, dt := range []time.Duration{0, time.Second, 2 * time.Second} {
			if !f.seen(&k, at+dt) {
				t.Errorf("added at %v: not seen %v later", at, dt)
			}
		}
		if f.seen(&k, at+4*time.Second) {
			t.Errorf("added at %v: still seen 4 s later", at)
		}
		other := cache.KeyV4(3, [4]byte{10, 0, 0, 7})
		if f.seen(&other, at) {
			t.Errorf("another interface's address is seen")
		}
	}
	// After a long quiet spell both generations are gone at once.
	f := newAskedFilter(testHasher())
	k := askedKey(1)
	f.add(&k, time.Second)
	if f.seen(&k, time.Hour) {
		t.Error("seen an hour later")
	}
}

// TestAskedFilterFalsePositives: with a scan of 10,000 addresses a second
// filling both generations (20,000 each), addresses never added look
// added less than once in a thousand, as the geometry's NB promises.
func TestAskedFilterFalsePositives(t *testing.T) {
	f := newAskedFilter(testHasher())
	now := time.Duration(0)
	for i := 0; i < 40000; i++ {
		k := askedKey(i)
		f.add(&k, now)
		now += 100 * time.Microsecond
	}
	const probes = 100000
	fp := 0
	for i := 0; i < probes; i++ {
		k := askedKey(1<<20 + i)
		if f.seen(&k, now) {
			fp++
		}
	}
	t.Logf("false positives: %d of %d", fp, probes)
	if fp > probes/1000 {
		t.Errorf("%d false positives in %d, more than 1 in 1,000", fp, probes)
	}
	k := askedKey(39999)
	if !f.seen(&k, now) {
		t.Error("the last address added is not seen")
	}
	if a := testing.AllocsPerRun(1000, func() { f.add(&k, now); f.seen(&k, now) }); a != 0 {
		t.Errorf("add and seen allocate %v times", a)
	}
}

// TestAskedFilterUntouched: a filter nobody adds to is never cleared, so
// its pages are never written (and stay out of resident memory); one
// added to is cleared as it ages.
func TestAskedFilterUntouched(t *testing.T) {
	f := newAskedFilter(testHasher())
	k := askedKey(3)
	for now := time.Duration(0); now < time.Minute; now += time.Second {
		f.seen(&k, now)
	}
	if f.used != [2]bool{} {
		t.Fatalf("used %v without an add", f.used)
	}
	f.add(&k, time.Minute)
	if !f.used[f.cur] {
		t.Fatal("an add did not mark its generation used")
	}
	f.seen(&k, time.Hour)
	if f.used != [2]bool{} || f.seen(&k, time.Hour) {
		t.Fatalf("after an hour: used %v", f.used)
	}
}
