package main

// The claim-flood limit (SPEC §9): one sender MAC may claim at most K new
// addresses a minute; its further claims are ignored, counted and logged.

import (
	"encoding/binary"
	"time"

	"arpd/internal/cache"
)

// defaultClaimsPerMinute is -M's default: more than any one host claims
// (a host has an address or two per interface; a VRRP pair, a few), far
// fewer than a tool that binds a subnet to its MAC. A proxy-ARP router
// answers for many addresses with one MAC, and needs -M raised (or 0).
const defaultClaimsPerMinute = 32

// The claim table's geometry: floodSets sets of floodWays MACs each. A MAC
// hashes to one set (under a per-process random seed, so hosts cannot aim
// at one set); a new MAC there replaces the entry least worth keeping.
const (
	floodSets = 256
	floodWays = 4
)

// floodWindow is the span over which a MAC's claims are counted.
const floodWindow = time.Minute

// floodEntry is one MAC's count of claims in its current window.
type floodEntry struct {
	start time.Duration // monotonic time of the window's first claim
	n     uint32        // claims in the window, refused ones included
	mac   [6]byte
	used  bool
}

// claimLimiter counts, per sender MAC, the new addresses it claims (an
// address the cache did not hold, or held with another MAC), over a
// window of a minute that starts at the MAC's first claim. Memory is fixed
// (floodSets·floodWays entries); counting allocates nothing.
//
// A MAC that is pushed out of the table by others starts a new window
// when it comes back. Entries are replaced oldest window first, and a MAC
// over the limit only after every MAC within it, so a flood of MACs that
// stay under the limit cannot get a MAC that is over it forgiven before
// its minute is up unless it fills a whole set with MACs of the same
// minute, which costs it 4·K claims in that set.
type claimLimiter struct {
	limit uint32 // claims allowed per window; 0: no limit
	hash  cache.Hasher
	sets  [][floodWays]floodEntry // floodSets, outside the heap
}

// newClaimLimiter returns a limiter that allows limit claims per MAC a
// minute, or any number for limit 0, hashing MACs with h.
func newClaimLimiter(limit int, h cache.Hasher) *claimLimiter {
	return &claimLimiter{limit: uint32(limit), hash: h, sets: anonSlice[[floodWays]floodEntry](floodSets)}
}

// set returns the set mac belongs in.
func (l *claimLimiter) set(mac [6]byte) *[floodWays]floodEntry {
	var b [8]byte
	copy(b[:], mac[:])
	return &l.sets[l.hash.Words(binary.LittleEndian.Uint64(b[:]), 0, 0)%floodSets]
}

// allow counts one claim by mac at monotonic time now, and reports whether
// it is within the limit.
func (l *claimLimiter) allow(mac [6]byte, now time.Duration) bool {
	if l.limit == 0 {
		return true
	}
	e := l.find(l.set(mac), mac, now)
	if now-e.start >= floodWindow {
		e.start, e.n = now, 0
	}
	if e.n <= l.limit { // stops counting at limit+1: no overflow
		e.n++
	}
	return e.n <= l.limit
}

// find returns mac's entry in set, making one in place of the entry
// least worth keeping when mac has none.
func (l *claimLimiter) find(set *[floodWays]floodEntry, mac [6]byte, now time.Duration) *floodEntry {
	victim := &set[0]
	for i := range set {
		e := &set[i]
		if e.used && e.mac == mac {
			return e
		}
		if l.keepScore(e, now) < l.keepScore(victim, now) {
			victim = e
		}
	}
	*victim = floodEntry{mac: mac, used: true, start: now}
	return victim
}

// keepScore ranks entries for replacement, lowest first: unused ones,
// then those whose window is over, then those within the limit, then
// those over it; within a rank, the older window goes first.
func (l *claimLimiter) keepScore(e *floodEntry, now time.Duration) time.Duration {
	switch {
	case !e.used:
		return -1 << 62
	case now-e.start >= floodWindow:
		return -1<<61 + e.start
	case e.n <= l.limit:
		return e.start
	default:
		return 1<<61 + e.start
	}
}

// over reports whether mac is over its limit in its current window at
// monotonic time now, without counting a claim.
func (l *claimLimiter) over(mac [6]byte, now time.Duration) bool {
	if l.limit == 0 {
		return false
	}
	for _, e := range l.set(mac) {
		if e.used && e.mac == mac {
			return e.n > l.limit && now-e.start < floodWindow
		}
	}
	return false
}
