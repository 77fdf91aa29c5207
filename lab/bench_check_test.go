package lab

// What the small run of the benchmark checks.

import (
	"strings"
	"testing"
)

// blCheck checks what this arpd's run r must show: every datagram
// delivered in every phase, every phase after the first answered from the
// cache with no host asked about twice and no broadcast, a startup time,
// its file's pages counted, and no receive error or negative entry across
// the link flaps and the flush.
func blCheck(t *testing.T, r *blResult) {
	t.Helper()
	if r == nil {
		t.Error("no run of this arpd")
		return
	}
	for i := range r.phase {
		p := &r.phase[i]
		if !p.ran {
			t.Errorf("%s: not run", blPhaseNames[i])
			continue
		}
		if p.delivered != p.hosts {
			t.Errorf("%s: %d of %d datagrams delivered (send errors %s, failed %d); daemon output: %s",
				blPhaseNames[i], p.delivered, p.hosts, p.sendErrors, p.mon.failed, r.out)
		}
		if i == blCold {
			continue
		}
		if p.mon.answered != p.hosts || p.mon.askedAgain != 0 || p.bcasts != 0 {
			t.Errorf("%s: %d of %d hosts answered from the cache, %d asked about again, %d broadcasts; want all, none and none",
				blPhaseNames[i], p.mon.answered, p.hosts, p.mon.askedAgain, p.bcasts)
		}
		if p.fileRes <= 0 {
			t.Errorf("%s: no page of the cache file resident (smaps)", blPhaseNames[i])
		}
	}
	if r.phase[blRestart].startup <= 0 {
		t.Errorf("restart: no startup time measured")
	}
	// A link going down is no error of the daemon's: it must not log
	// one (it did, once per flap, from its packet socket).
	if strings.Contains(r.out, "receive:") {
		t.Errorf("the daemon logged receive errors across link flaps: %s", r.out)
	}
	if got := r.counters["kern_neg"]; got != 0 {
		t.Errorf("kern_neg = %d after link flaps and a flush of live hosts, want 0 (no host here is dead)", got)
	}
}

// blCheckKernel checks what the kernel alone's run k must show beside this
// arpd's us: every datagram delivered in each phase it runs (not restart
// or default table); after the link flap a broadcast for each host at
// least (this arpd sent none: blCheck); every host in its table at the
// end of the burst; the slab measured; and this arpd's default-table step
// ending with the hosts it sent to in the kernel's table.
func blCheckKernel(t *testing.T, k, us *blResult) {
	t.Helper()
	if k == nil || us == nil {
		t.Error("no run of the kernel alone or of this arpd")
		return
	}
	for i := range k.phase {
		p := &k.phase[i]
		if p.ran != (i != blRestart && i != blDefaultTable) {
			t.Errorf("kernel alone, %s: run %v", blPhaseNames[i], p.ran)
		}
		if p.ran && p.delivered != p.hosts {
			t.Errorf("kernel alone, %s: %d of %d datagrams delivered (send errors %s, failed %d)",
				blPhaseNames[i], p.delivered, p.hosts, p.sendErrors, p.mon.failed)
		}
	}
	w := &k.phase[blWarm]
	// NB: the slab is the whole machine's: for a few hundred hosts its
	// growth is lost in other jobs' noise, and only measured here.
	if w.bcasts < w.hosts || w.tableEnd != w.hosts || w.slabGrown == -1 {
		t.Errorf("kernel alone, warm: %d broadcasts for %d hosts, %d in the table at the end, slab grown %d; "+
			"want one each at least, all, and a measure", w.bcasts, w.hosts, w.tableEnd, w.slabGrown)
	}
	d := &us.phase[blDefaultTable]
	if d.tableEnd != d.hosts || d.tableEnd > 1024 {
		t.Errorf("this arpd, default table: %d entries in the kernel's table at the end, want the %d hosts sent to (1,024 at most)",
			d.tableEnd, d.hosts)
	}
}
