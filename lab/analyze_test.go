package lab

// The reading of the monitor's events: which hosts were answered from a
// cache, resolved on the wire, asked about again or failed, and the
// percentiles the reports show.

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// hostStats is what the monitor saw of one pass over a set of hosts.
type hostStats struct {
	hosts      int
	requests   int             // the kernel's INCOMPLETE requests
	askedAgain int             // hosts with more than one request
	answered   int             // hosts resolved by a daemon's answer
	wire       int             // hosts resolved by an ARP reply the kernel saw
	failed     int             // hosts whose resolution failed (kernel timer)
	unresolved int             // hosts with a request but no outcome at all
	notAsked   int             // hosts the kernel never asked about
	turnaround []time.Duration // last request → answer or ARP resolution
	peakTable  int             // most entries seen at once in the kernel table
	outOfOrder int             // answers the monitor read before their request
}

// hostState is what analyze knows of one host so far.
type hostState struct {
	requests int
	last     time.Duration // latest request
	pending  bool          // a request not yet answered
	wireAt   time.Duration // an address the kernel learned since the request
	wire     bool
	early    bool // an answer read before any request
	earlyAt  time.Duration
	resolved bool
	failed   bool
	inTable  bool
}

// analysis is analyze's work: the figures so far, each host's state and
// the number of entries in the kernel table.
type analysis struct {
	hostStats
	st      []hostState
	inTable int
}

// analyze reads the events between from and to for hosts [lo, hi).
//
// A request is settled by the daemon's answer (RTM_NEWNEIGH with the
// answering socket's port), by an ARP reply (the kernel's own RTM_NEWNEIGH
// with an address) or by a failure. NB: the kernel notifies the answer
// only after it has sent the queued datagram, so the states that datagram
// leads to (DELAY, PROBE, REACHABLE on a unicast reply, all notified with
// port 0) can be read before the answer itself; an answer that comes before
// the host's next request or removal therefore wins over them.
func analyze(events []neighEvent, from, to time.Duration, lo, hi int) hostStats {
	a := &analysis{hostStats: hostStats{hosts: hi - lo}, st: make([]hostState, hi-lo)}
	for _, e := range events {
		if e.at < from || e.at > to || int(e.host) < lo || int(e.host) >= hi {
			continue
		}
		h := &a.st[int(e.host)-lo]
		a.event(h, e)
		a.table(h, e.kind)
	}
	a.finish()
	return a.hostStats
}

// event applies one event to host h.
func (a *analysis) event(h *hostState, e neighEvent) {
	switch e.kind {
	case evRequest:
		a.request(h, e.at)
	case evAnswer:
		a.answer(h, e.at)
	case evWire:
		if h.pending && !h.wire && !h.resolved {
			h.wire, h.wireAt = true, e.at
		}
	case evFailed:
		if h.pending && !h.resolved {
			h.pending, h.failed = false, true
		}
	case evDel:
		a.settleWire(h)
	}
}

// request applies the kernel's request for host h, read at at.
func (a *analysis) request(h *hostState, at time.Duration) {
	a.settleWire(h)
	a.requests++
	if h.early && !h.resolved && at-h.earlyAt < 10*time.Millisecond {
		// NB: the kernel multicasts a request to one listener after
		// another; when it is preempted in between, the daemon can
		// answer before the monitor has the request, and the monitor
		// reads the answer first. The turnaround is then below what
		// can be seen: count 0.
		h.early, h.resolved = false, true
		h.requests++
		a.answered++
		a.outOfOrder++
		a.turnaround = append(a.turnaround, 0)
		return
	}
	h.requests++
	h.last, h.pending = at, true
}

// answer applies a daemon's answer for host h, read at at.
func (a *analysis) answer(h *hostState, at time.Duration) {
	if !h.pending && !h.wire && !h.resolved && h.requests == 0 {
		h.early, h.earlyAt = true, at
	}
	if (h.pending || h.wire) && !h.resolved {
		h.pending, h.wire, h.resolved = false, false, true
		a.answered++
		a.turnaround = append(a.turnaround, at-h.last)
	}
}

// settleWire counts host h as resolved by an ARP reply if the kernel
// learned its address since its request and no answer came before the
// host's next request or removal.
func (a *analysis) settleWire(h *hostState) {
	if h.wire && !h.resolved {
		h.resolved, h.pending = true, false
		a.wire++
		a.turnaround = append(a.turnaround, h.wireAt-h.last)
	}
	h.wire = false
}

// table follows the kernel table: an entry exists from the first request
// (the kernel made it INCOMPLETE) until its RTM_DELNEIGH.
func (a *analysis) table(h *hostState, kind uint8) {
	if kind == evDel {
		if h.inTable {
			h.inTable = false
			a.inTable--
		}
	} else if !h.inTable {
		h.inTable = true
		a.inTable++
		a.peakTable = max(a.peakTable, a.inTable)
	}
}

// finish settles the hosts still waiting for their ARP reply to count and
// sorts every host by its outcome.
func (a *analysis) finish() {
	for i := range a.st {
		h := &a.st[i]
		a.settleWire(h)
		switch {
		case h.requests == 0:
			a.notAsked++
		case h.failed && !h.resolved:
			a.failed++
		case !h.resolved:
			a.unresolved++
		}
		if h.requests > 1 {
			a.askedAgain++
		}
	}
}

// percentile returns the p-th percentile (0–100) of d, sorting it.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1)*p/100 + 0.5)
	return d[i]
}

// formatDur formats a duration in µs below 10 ms, else in ms or s.
func formatDur(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// pcts formats the p50 and p99 of d, or "-" without samples.
func pcts(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	return formatDur(percentile(d, 50)) + " / " + formatDur(percentile(d, 99))
}

// TestDemoAnalyze checks how the demo and the benchmark read the monitor's
// events, without root: an answer, an ARP reply, a retry, a failure, an
// answer read after the port-0 notices of the datagram it released, and an
// answer read before its request.
func TestDemoAnalyze(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	ev := []neighEvent{
		{us(100), 0, evRequest}, {us(130), 0, evAnswer}, // answered in 30 µs
		{us(200), 1, evRequest}, {us(400), 1, evWire}, // an ARP reply after 200 µs
		{us(300), 2, evRequest}, {us(1000300), 2, evRequest}, {us(1000350), 2, evAnswer}, // asked again
		{us(400), 3, evRequest}, {us(1000400), 3, evRequest}, {us(2000400), 3, evRequest}, {us(3000400), 3, evFailed},
		{us(500), 4, evRequest}, {us(600), 4, evWire}, {us(610), 4, evAnswer}, // the answer wins
		{us(700), 5, evAnswer}, {us(705), 5, evRequest}, // read out of order
		{us(800), 6, evDel},
	}
	s := analyze(ev, 0, time.Hour, 0, 8)
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"hosts", s.hosts, 8},
		{"answered", s.answered, 4},
		{"wire", s.wire, 1},
		{"failed", s.failed, 1},
		{"asked again", s.askedAgain, 2},
		{"requests", s.requests, 9},
		{"not asked", s.notAsked, 2},
		{"unresolved", s.unresolved, 0},
		{"out of order", s.outOfOrder, 1},
		{"turnaround samples", len(s.turnaround), 5},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	want := []time.Duration{0, us(30), us(50), us(110), us(200)}
	slices.Sort(s.turnaround)
	if !slices.Equal(s.turnaround, want) {
		t.Errorf("turnarounds %v, want %v", s.turnaround, want)
	}
	if s.peakTable != 6 { // hosts 0–5; host 6 was never seen before its removal
		t.Errorf("peak table %d, want 6", s.peakTable)
	}
	if got := percentile([]time.Duration{5, 1, 4, 2, 3}, 50); got != 3 {
		t.Errorf("p50 of 1..5 = %v, want 3", got)
	}
}
