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

// holdLimiter bounds the probes sent over any holdTime to its size: each
// probe's request holds a kernel table entry INCOMPLETE until its host
// answers or holdTime passes, so the daemon never holds more than that
// many entries of the kernel's table at once, whatever its rate limit
// allows. It is a ring of the last probes' times; its memory is fixed
// when it is made.
type holdLimiter struct {
	at   []time.Duration // monotonic times of the last len(at) probes
	next int             // the oldest of them, overwritten by the next
}

// newHoldLimiter returns a limiter of n holds (at least 1), all free.
func newHoldLimiter(n int) *holdLimiter {
	l := &holdLimiter{at: make([]time.Duration, max(n, 1))}
	for i := range l.at {
		l.at[i] = -holdTime
	}
	return l
}

// room reports whether a probe at monotonic time now would hold no more
// than the limit.
func (l *holdLimiter) room(now time.Duration) bool {
	return now-l.at[l.next] >= holdTime
}

// take records a probe at monotonic time now.
func (l *holdLimiter) take(now time.Duration) {
	l.at[l.next] = now
	l.next = (l.next + 1) % len(l.at)
}

// The share of the kernel's table cap the daemon's probes may hold, and
// the most holds whatever the cap.
const (
	holdShare = 4
	holdMax   = 1 << 16
)

// kernelTableCap returns the kernel's neighbour table cap (gc_thresh3),
// or its default of 1024 where it cannot be read (inside a network
// namespace other than the first, the file is not there: the cap is
// global).
func kernelTableCap() int {
	v, err := readSysctl(cache.FamilyIPv4, "default", "gc_thresh3")
	if err != nil || v <= 0 {
		return 1024
	}
	return int(v)
}

// newDaemonHolds returns the daemon's hold limiter: a quarter of the
// kernel's table cap, so that under a scan the daemon's probes leave
// three quarters of the table to the hosts that are there and to the
// requests it has yet to answer.
func newDaemonHolds() *holdLimiter {
	return newHoldLimiter(min(kernelTableCap()/holdShare, holdMax))
}
