package main

// Changed bindings are claims, verified before they are served (issue 10,
// item 2; SPEC §9): the tables that hold the claims being verified, the
// changes recently accepted and when each address's refusals were last
// logged. They are fixed arrays, so a frame that starts or hits a claim
// allocates nothing and a flood of claims costs bounded memory. The
// daemon's use of them is in verify.go.
//
// NB: none of this is in the cache file. A crash loses the claims being
// verified (about a second's worth: the claimant's next frame starts its
// claim again) and the memory of recent moves; the cache still holds and
// serves the known MAC, since a claim changes the file only once accepted.

import (
	"time"

	"arpd/internal/cache"
)

// The claims' figures.
const (
	claimsMax   = 64                     // claims verified at once; more are dropped
	claimRetry  = 500 * time.Millisecond // the second try, after the first
	claimWindow = time.Second            // the known MAC's time to answer, from the first try
	claimTries  = 2                      // unicast requests per claim

	verifyRate  = 8  // unicast verification requests a second, sustained
	verifyBurst = 16 // and in a burst

	movesMax   = 64               // accepted changes remembered
	moveMemory = 10 * time.Minute // how long an accepted change is remembered

	conflictLogsMax = 64          // addresses whose last refusal line is remembered
	conflictEvery   = time.Minute // at most one refusal line per address this often

	replaceSeqsMax = 8 // replace messages whose ENOENT is awaited
)

// claimOrigin says where a claim was seen; a claim seen both ways has
// both bits.
type claimOrigin uint8

// The origins of a claim.
const (
	fromWire   claimOrigin = 1 << iota // an ARP frame on the packet socket
	fromKernel                         // the kernel took the new MAC itself and notified it (port 0)
)

// claim is a binding change being verified: the address key, the MAC the
// cache holds (and keeps serving) and the one that claims the address.
type claim struct {
	_ [0]func() // not comparable: no equality function is generated for the tables

	key      cache.Key
	known    [6]byte
	claimant [6]byte
	origin   claimOrigin
	used     bool
	tries    uint8         // unicast requests sent to known
	started  time.Duration // monotonic time of the first try
	due      time.Duration // when the next try, or the verdict, is due
}

// move is an accepted change: the address and the MAC it had before.
type move struct {
	_ [0]func() // not comparable: no equality function is generated for the tables

	key  cache.Key
	prev [6]byte
	at   time.Duration
	used bool
}

// conflictLog is when the refusals of one address were last logged, and
// how many were refused since.
type conflictLog struct {
	_ [0]func() // not comparable: no equality function is generated for the tables

	key  cache.Key
	last time.Duration
	n    uint64
	used bool
}

// claims is the daemon's claim state. Its zero value is ready to use.
type claims struct {
	_ [0]func() // not comparable: no equality function is generated for the tables

	pending [claimsMax]claim
	n       int // pending claims in use
	moves   [movesMax]move
	logs    [conflictLogsMax]conflictLog
	verify  tokenBucket // the unicast requests' own limit; zero until first used

	replaceSeqs [replaceSeqsMax]uint32 // sequence numbers of recent replace messages
	replaceNext uint                   // where the next goes, modulo replaceSeqsMax
}

// find returns the pending claim for k, or nil.
func (c *claims) find(k *cache.Key) *claim {
	if c.n == 0 {
		return nil
	}
	for i := range c.pending {
		if p := &c.pending[i]; p.used && p.key == *k {
			return p
		}
	}
	return nil
}

// add makes a pending claim for k at monotonic time now, with no try sent
// yet, and returns it; nil when the table is full.
func (c *claims) add(k *cache.Key, known, claimant [6]byte, origin claimOrigin, now time.Duration) *claim {
	if c.n == len(c.pending) {
		return nil
	}
	for i := range c.pending {
		if p := &c.pending[i]; !p.used {
			*p = claim{key: *k, known: known, claimant: claimant, origin: origin, used: true, started: now, due: now}
			c.n++
			return p
		}
	}
	return nil
}

// remove ends claim p.
func (c *claims) remove(p *claim) {
	if p.used {
		*p = claim{}
		c.n--
	}
}

// next returns the earliest time a pending claim is due, if any is.
func (c *claims) next() (due time.Duration, ok bool) {
	if c.n == 0 {
		return 0, false
	}
	for i := range c.pending {
		if p := &c.pending[i]; p.used && (!ok || p.due < due) {
			due, ok = p.due, true
		}
	}
	return due, ok
}

// due returns a pending claim that is due at monotonic time now, or nil.
func (c *claims) due(now time.Duration) *claim {
	if c.n == 0 {
		return nil
	}
	for i := range c.pending {
		if p := &c.pending[i]; p.used && p.due <= now {
			return p
		}
	}
	return nil
}

// allowVerify reports whether a unicast verification request may be sent
// at monotonic time now, and takes a token if so.
func (c *claims) allowVerify(now time.Duration) bool {
	if c.verify.burst == 0 {
		c.verify = *newTokenBucket(verifyRate, verifyBurst)
	}
	return c.verify.allow(now)
}

// remember records that k changed from prev at monotonic time now, in
// place of the oldest record (or of one that expired).
func (c *claims) remember(k *cache.Key, prev [6]byte, now time.Duration) {
	var slot *move
	for i := range c.moves {
		m := &c.moves[i]
		if m.used && m.key == *k {
			slot = m
			break
		}
		if slot == nil || !m.used || (slot.used && m.at < slot.at) {
			slot = m
		}
	}
	*slot = move{key: *k, prev: prev, at: now, used: true}
}

// previous returns the MAC k had before its last accepted change, if that
// change was accepted within moveMemory of monotonic time now.
func (c *claims) previous(k *cache.Key, now time.Duration) (prev [6]byte, ok bool) {
	for i := range c.moves {
		if m := &c.moves[i]; m.used && m.key == *k && now-m.at < moveMemory {
			return m.prev, true
		}
	}
	return prev, false
}

// noteRefusal counts one refused claim for k at monotonic time now, and
// reports whether a line is due; n is then how many refusals that line
// stands for. An address not yet in the table takes the slot logged
// longest ago.
func (c *claims) noteRefusal(k *cache.Key, now time.Duration) (n uint64, due bool) {
	var l *conflictLog
	for i := range c.logs {
		s := &c.logs[i]
		if s.used && s.key == *k {
			l = s
			break
		}
		if l == nil || !s.used || (l.used && s.last < l.last) {
			l = s
		}
	}
	if !l.used || l.key != *k {
		*l = conflictLog{key: *k, used: true}
		l.n++
		l.last = now
		n, l.n = l.n, 0
		return n, true
	}
	l.n++
	if now-l.last < conflictEvery {
		return 0, false
	}
	n, l.n, l.last = l.n, 0, now
	return n, true
}

// sentReplace records seq, the sequence number of a replace message, so
// that its ENOENT is not taken for an error.
func (c *claims) sentReplace(seq uint32) {
	c.replaceSeqs[c.replaceNext%replaceSeqsMax] = seq
	c.replaceNext++
}

// isReplace reports whether seq is that of a recent replace message.
func (c *claims) isReplace(seq uint32) bool {
	for _, s := range c.replaceSeqs {
		if s == seq && seq != 0 {
			return true
		}
	}
	return false
}
