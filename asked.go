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
	gen   [2][askedBits / 64]uint64
	cur   int           // the generation being filled
	since time.Duration // monotonic time the current generation began
}

// newAskedFilter returns an empty filter hashing with h, whose random key
// keeps hosts from choosing addresses that look asked.
func newAskedFilter(h cache.Hasher) *askedFilter {
	return &askedFilter{hash: h}
}

// rotate starts a new generation, dropping the oldest, once the current
// one is askedGeneration old at monotonic time now.
func (f *askedFilter) rotate(now time.Duration) {
	switch {
	case now-f.since < askedGeneration:
		return
	case now-f.since >= 2*askedGeneration:
		clear(f.gen[0][:]) // both are older than the window
		clear(f.gen[1][:])
	default:
		f.cur ^= 1
		clear(f.gen[f.cur][:])
	}
	f.since = now
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
}

// probedKey is the key under which the filter records that the daemon
// probed k: k with the family's top bit set, apart from the refusals.
func probedKey(k cache.Key) cache.Key {
	k.Family |= 0x80
	return k
}
