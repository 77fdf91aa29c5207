package main

// The rate limit's policy on the kernel's requests: which are probed,
// and which are failed at once.

import (
	"arpd/internal/rtnl"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPolicyRateLimit: -R 1 -B 3, a burst of 100 requests within a few
// milliseconds. First requests may only take the top quarter of the
// bucket (2 of 3 tokens kept), so 1 is probed; the other 99 are failed at
// once rather than left INCOMPLETE. Addresses asked again after such a
// refusal take the tokens kept back, until the bucket is empty.
func TestPolicyRateLimit(t *testing.T) {
	r := newPolicyRig(t, 3)
	for x := byte(1); x <= 100; x++ {
		r.handleNeigh(request(2, x, unix.NUD_INCOMPLETE))
	}
	if len(r.wire.targets) != 1 {
		t.Fatalf("%d probes in a burst of 100 with -B 3, want 1", len(r.wire.targets))
	}
	if got, sup := r.d.c.Counter(ctrAppRefused), r.d.c.Counter(ctrProbesSuppressed); got != 99 || sup != 99 || len(r.req.failed) != 99 {
		t.Fatalf("app_refused %d probes_suppressed %d, %d failed answers; want 99 each", got, sup, len(r.req.failed))
	}
	r.handleNeigh(request(2, 101, unix.NUD_INCOMPLETE)) // a first request: none left for it
	r.handleNeigh(request(2, 50, unix.NUD_INCOMPLETE))  // asked again: a kept token
	r.handleNeigh(request(2, 51, unix.NUD_INCOMPLETE))  // asked again: the last token
	r.handleNeigh(request(2, 52, unix.NUD_INCOMPLETE))  // asked again: the bucket is empty
	want := [][4]byte{{10, 0, 0, 1}, {10, 0, 0, 50}, {10, 0, 0, 51}}
	if !slices.Equal(r.wire.targets, want) {
		t.Fatalf("probes %v, want %v", r.wire.targets, want)
	}
	if got := r.d.c.Counter(ctrAppRefused); got != 101 {
		t.Fatalf("app_refused = %d, want 101", got)
	}
	// Four seconds on, the refusals are forgotten: with the bucket full
	// again, 52 is a first request and takes its one token, 53 none.
	advance(r, 4*time.Second)
	for _, x := range []byte{52, 53} {
		r.handleNeigh(request(2, x, unix.NUD_INCOMPLETE))
	}
	if got := len(r.wire.targets); got != 4 {
		t.Fatalf("%d probes after 4 s, want 4", got)
	}
	refused := request(2, 60, unix.NUD_INCOMPLETE)
	r.req.quiet = true
	if a := testing.AllocsPerRun(1000, func() { r.handleNeigh(refused) }); a != 0 {
		t.Errorf("failing a refused request allocates %v times", a)
	}
}

// BenchmarkRefusedRequest is the daemon's own work for a request of a
// scan's: an unknown address, the bucket empty, so it is looked up,
// checked against the asked filter, refused, remembered and failed (the
// batch emptied after each, as in BenchmarkRequest).
func BenchmarkRefusedRequest(b *testing.B) {
	r := newPolicyRig(b, 3)
	r.req.quiet = true
	r.d.bucket = newTokenBucket(1e-9, 1)
	r.handleNeigh(request(2, 1, unix.NUD_INCOMPLETE)) // takes the one token
	var reqs [256]*rtnl.Neigh
	for i := range reqs {
		reqs[i] = request(2, byte(i), unix.NUD_INCOMPLETE)
		reqs[i].Dst[2] = byte(i >> 3)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := reqs[i%len(reqs)]
		n.Dst[1] = byte(i >> 8)
		r.d.handleNeigh(n)
		r.d.answers.flush()
	}
	if r.d.c.Counter(ctrAppRefused) == 0 {
		b.Fatal("nothing refused")
	}
}
