package main

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHoldLimiter: n probes within holdTime, then none until the oldest
// is holdTime old; taking and asking allocate nothing.
func TestHoldLimiter(t *testing.T) {
	l := newHoldLimiter(3)
	for i, at := range []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond} {
		if !l.room(at) {
			t.Fatalf("probe %d refused with room left", i)
		}
		l.take(at)
	}
	if l.room(holdTime - time.Millisecond) {
		t.Error("a fourth probe within holdTime of the first")
	}
	if !l.room(holdTime) {
		t.Error("no room once the first probe is holdTime old")
	}
	l.take(holdTime)
	if l.room(holdTime + 5*time.Millisecond) {
		t.Error("room again before the second probe is holdTime old")
	}
	if a := testing.AllocsPerRun(1000, func() { l.room(time.Hour); l.take(time.Hour) }); a != 0 {
		t.Errorf("allocates %v times", a)
	}
}

// TestPolicyHoldLimit: with a full bucket but room for 3 holds, the
// fourth request within holdTime is failed at once, counted as refused,
// and probed once the first hold is over.
func TestPolicyHoldLimit(t *testing.T) {
	r := newPolicyRig(t, 3)
	r.d.o.burst, r.d.bucket = 1000, newTokenBucket(50, 1000)
	r.d.holds = newHoldLimiter(3)
	for x := byte(10); x < 14; x++ {
		r.handleNeigh(request(2, x, unix.NUD_INCOMPLETE))
	}
	if len(r.wire.targets) != 3 || len(r.req.failed) != 1 || r.d.c.Counter(ctrAppRefused) != 1 {
		t.Fatalf("%d probes, %d failed, app_refused %d; want 3, 1, 1", len(r.wire.targets), len(r.req.failed), r.d.c.Counter(ctrAppRefused))
	}
	advance(r, holdTime)
	r.handleNeigh(request(2, 13, unix.NUD_INCOMPLETE))
	if len(r.wire.targets) != 4 {
		t.Fatalf("%d probes after holdTime, want 4", len(r.wire.targets))
	}
}
