package main

// Which addresses the kernel asked about lately and the daemon could not
// probe: the sign that tells a host someone keeps sending to from a scan's
// one-shot addresses, so that the probe rate limit serves the first.

import (
	"time"

	"arpd/internal/cache"
)

// The asked filter's geometry: two generations of askedBits bits, each a
// Bloom filter with askedHashes bit positions per address, swapped every
// askedGeneration.
//
// NB: a scan of 10,000 addresses a second puts 20,000 in a generation;
// with 2^19 bits and 4 hashes a scan address then looks asked before with
// a probability of 4·10^-4 per generation, 8 in a second of that scan.
// The two generations cost 128 KB, whatever the scan.
const (
	askedBits       = 1 << 19
	askedHashes     = 4
	askedGeneration = 2 * time.Second
)

// askedFilter remembers, for 2 to 4 seconds, the addresses whose requests
// the daemon failed because the rate limit could not probe them. It can
// answer "yes" for an address it was never told about (rarely: see the
// NB above) but never "no" for one it was told about within 2 s. Its
// memory is fixed, and neither adding nor asking allocates.
type askedFilter struct {
	hash  cache.Hasher
	gen   [2][]uint64   // askedBits/64 words each, outside the heap
	used  [2]bool       // the generation has had a bit set since it was cleared
	cur   int           // the generation being filled
	since time.Duration // monotonic time the current generation began
}

// newAskedFilter returns an empty filter hashing with h, whose random key
// keeps hosts from choosing addresses that look asked.
func newAskedFilter(h cache.Hasher) *askedFilter {
	return &askedFilter{hash: h, gen: [2][]uint64{anonSlice[uint64](askedBits / 64), anonSlice[uint64](askedBits / 64)}}
}

// rotate starts a new generation, dropping the oldest, once the current
// one is askedGeneration old at monotonic time now.
func (f *askedFilter) rotate(now time.Duration) {
	switch {
	case now-f.since < askedGeneration:
		return
	case now-f.since >= 2*askedGeneration:
		f.clear(0) // both are older than the window
		f.clear(1)
	default:
		f.cur ^= 1
		f.clear(f.cur)
	}
	f.since = now
}

// clear empties generation g.
//
// NB: only if a bit was set in it: a filter that was never written to
// (the daemon was never short of tokens) keeps its 128 KB untouched, and
// so out of the daemon's resident memory.
func (f *askedFilter) clear(g int) {
	if f.used[g] {
		clear(f.gen[g])
		f.used[g] = false
	}
}

// positions returns the first bit position of k and the step to the
// next ones (double hashing; the step is odd, so the positions differ).
func (f *askedFilter) positions(k *cache.Key) (pos, step uint32) {
	h := f.hash.Key(k)
	return uint32(h), uint32(h>>32) | 1
}

// seen reports whether k was added within the last 2 to 4 seconds, as of
// monotonic time now.
func (f *askedFilter) seen(k *cache.Key, now time.Duration) bool {
	f.rotate(now)
	if !f.used[0] && !f.used[1] {
		return false // nothing refused lately: no hashing, no reading
	}
	pos, step := f.positions(k)
	for g := range f.gen {
		in := true
		for i, p := 0, pos; i < askedHashes && in; i, p = i+1, p+step {
			b := p % askedBits
			in = f.gen[g][b/64]&(1<<(b%64)) != 0
		}
		if in {
			return true
		}
	}
	return false
}

// add records k at monotonic time now.
func (f *askedFilter) add(k *cache.Key, now time.Duration) {
	f.rotate(now)
	pos, step := f.positions(k)
	for i, p := 0, pos; i < askedHashes; i, p = i+1, p+step {
		b := p % askedBits
		f.gen[f.cur][b/64] |= 1 << (b % 64)
	}
	f.used[f.cur] = true
}
