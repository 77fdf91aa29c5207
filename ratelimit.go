package main

import "time"

// tokenBucket limits broadcast probes so that at most Burst + Rate·T are
// sent over any interval of length T, as iproute2's arpd promises (its
// implementation credits elapsed time again on every refused probe, so it
// lets through more than it says).
//
// The bucket holds up to Burst tokens and gains Rate tokens a second,
// continuously; a probe takes one whole token. Over [t1, t2] at most the
// tokens present at t1 (≤ Burst) plus those gained (Rate·(t2−t1)) can be
// spent, which is the bound.
type tokenBucket struct {
	rate   float64 // tokens per second
	burst  float64 // capacity
	tokens float64
	last   time.Duration // monotonic time of the last refill
	primed bool
}

// newTokenBucket returns a full bucket.
func newTokenBucket(rate float64, burst int) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// allow reports whether a probe may be sent at monotonic time now, and
// takes a token if so. Times must not go backwards; a time before the last
// one is treated as equal to it.
func (b *tokenBucket) allow(now time.Duration) bool { return b.allowKeeping(now, 0) }

// allowKeeping is allow, except that it leaves at least keep tokens in
// the bucket: it refuses when taking one would leave fewer. The bound
// B + R·T holds whatever keep is, as every probe still takes a token.
func (b *tokenBucket) allowKeeping(now time.Duration, keep float64) bool {
	if !b.primed {
		b.last, b.primed = now, true
	}
	if now > b.last {
		b.tokens += b.rate * (now - b.last).Seconds()
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
	if b.tokens >= keep+1 {
		b.tokens--
		return true
	}
	return false
}
