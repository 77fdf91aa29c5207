package main

// How many of the kernel's table entries the daemon's probes may hold
// INCOMPLETE at once.

import (
	"time"

	"arpd/internal/cache"
)

// holdTime is how long a probed request holds its kernel entry
// INCOMPLETE when no answer comes: until the kernel asks again, one
// retrans_time (1 s by default) later, and the daemon answers or fails it.
const holdTime = 1100 * time.Millisecond

// holdTracker bounds the kernel entries the daemon's probes hold
// INCOMPLETE: a probed request holds its entry until its host answers
// (any ARP frame from the address resolves the kernel's entry) or
// holdTime passes. It keeps the held addresses' hashes in a small open
// hash table and the probes in a ring in the order they were sent, so
// that holds expire in order and an answer releases its hold at once.
// Its memory is fixed when it is made; nothing it does allocates.
type holdTracker struct {
	limit int          // the most holds at once
	held  int          // holds now (entries in set)
	set   []holdRecord // open addressing, linear probing; h 0: empty
	ring  []holdRecord // the probes not yet expired, oldest first, from head
	head  int
	n     int
	hash  cache.Hasher
}

// holdRecord is one probe: 32 bits of its address's hash (never 0) and
// its monotonic time in milliseconds, modulo 2^32.
//
// NB: 8 bytes, so that a tracker for a raised table cap stays small; the
// times are only ever subtracted, so they may wrap, and two addresses of
// one hash only share a hold.
type holdRecord struct {
	h  uint32
	at uint32
}

// newHoldTracker returns a tracker of limit holds (at least 1). Its ring
// takes twice as many probes within holdTime, for the probes that were
// answered at once.
func newHoldTracker(limit int, h cache.Hasher) *holdTracker {
	limit = max(limit, 1)
	size := 2
	for size < 2*limit {
		size *= 2
	}
	return &holdTracker{limit: limit, set: anonSlice[holdRecord](size), ring: anonSlice[holdRecord](2 * limit), hash: h}
}

// ms is monotonic time now in milliseconds, modulo 2^32.
func ms(now time.Duration) uint32 { return uint32(now / time.Millisecond) }

// holdMs is holdTime in milliseconds.
const holdMs = uint32(holdTime / time.Millisecond)

// room reports whether a probe at monotonic time now may hold one more
// kernel entry.
func (t *holdTracker) room(now time.Duration) bool {
	t.expire(now)
	return t.held < t.limit
}

// take records a probe for k at monotonic time now; room must have said
// yes. A second probe of an address already held renews its hold.
func (t *holdTracker) take(k *cache.Key, now time.Duration) {
	r := holdRecord{h: uint32(t.hash.Key(k)) | 1, at: ms(now)}
	i := t.find(r.h)
	if t.set[i].h == 0 {
		t.held++
	}
	t.set[i] = r
	if t.n == len(t.ring) {
		// More probes within holdTime than the ring takes, most of
		// them answered: the oldest record's hold, if it still has
		// one, ends now rather than in a few hundred milliseconds.
		t.pop()
	}
	t.ring[(t.head+t.n)%len(t.ring)] = r
	t.n++
}

// holding reports whether k has a hold at monotonic time now: the daemon
// probed it within holdTime and has not heard from it since.
func (t *holdTracker) holding(k *cache.Key, now time.Duration) bool {
	t.expire(now)
	return t.held > 0 && t.set[t.find(uint32(t.hash.Key(k))|1)].h != 0
}

// release ends the hold of k, if it has one: its host answered.
func (t *holdTracker) release(k *cache.Key) {
	if t.held == 0 {
		return
	}
	if i := t.find(uint32(t.hash.Key(k)) | 1); t.set[i].h != 0 {
		t.remove(i)
	}
}

// expire ends the holds that are holdTime old at monotonic time now.
func (t *holdTracker) expire(now time.Duration) {
	for t.n > 0 && ms(now)-t.ring[t.head].at >= holdMs {
		t.pop()
	}
}

// pop takes the oldest record off the ring and ends its hold.
func (t *holdTracker) pop() {
	r := t.ring[t.head]
	t.head = (t.head + 1) % len(t.ring)
	t.n--
	// NB: the set holds the latest probe of each address; an older ring
	// record of a renewed or released hold finds it with another time,
	// or not at all, and is skipped.
	if i := t.find(r.h); t.set[i] == r {
		t.remove(i)
	}
}

// find returns the set index that holds h, or the empty one where h
// would go.
func (t *holdTracker) find(h uint32) int {
	mask := len(t.set) - 1
	i := int(h) & mask
	for t.set[i].h != 0 && t.set[i].h != h {
		i = (i + 1) & mask
	}
	return i
}

// remove empties set index i, moving back the records after it that
// would no longer be found (deletion without tombstones).
func (t *holdTracker) remove(i int) {
	mask := len(t.set) - 1
	t.held--
	for j := (i + 1) & mask; t.set[j].h != 0; j = (j + 1) & mask {
		home := int(t.set[j].h) & mask
		// Move j back to i unless its home lies in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.set[i] = t.set[j]
			i = j
		}
	}
	t.set[i] = holdRecord{}
}

// The share of the kernel's table cap the daemon's probes may hold, and
// the most holds whatever the cap.
const (
	holdShare = 4
	holdMax   = 4096
)

// newDaemonHolds returns the daemon's hold tracker for a kernel table
// capped at tableCap entries (gc_thresh3; 0 if the kernel did not say,
// taken as its default of 1024): a quarter of it, so that under a scan the
// daemon's probes leave three quarters of the table to the hosts that are
// there and to the requests it has yet to answer.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func newDaemonHolds(h cache.Hasher, tableCap int) *holdTracker {
	if tableCap <= 0 {
		tableCap = 1024
	}
	return newHoldTracker(min(tableCap/holdShare, holdMax), h)
}
