package lab

// The benchmark's phases, run in one lab against one daemon.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// blRun runs every phase for one column, in a lab of its own: the phases
// of a daemon, or for the kernel alone (dm.start nil) those without one
// (all but restart and default table). g is the hold of the global lock
// in make bench-lab (nil in the small run), under which the default-table
// step sets the kernel's default cap.
func blRun(t *testing.T, in *interrupt, g *labtest.Globals, dm blDaemon, n, paced int, pin bool) blResult {
	t.Helper()
	in.check(t)
	r := blResult{name: dm.name}
	// NB: delay_first_probe_time of 60 s keeps the entries the daemon
	// answered in DELAY for the whole run, so that no unicast
	// confirmation traffic mixes into the measurement.
	l := newHostLab(t, n, map[string]string{"delay_first_probe_time": "60"})
	l.direct = true // startups are the daemons' own
	r.setup = l.setup
	mon := newMonitor(t, l)
	sink := newFarSink(t, l)
	snd := newNearSender(t, l)
	db := filepath.Join(t.TempDir(), "arpd.db")
	ph := &blPhaser{t: t, in: in, l: l, mon: mon, sink: sink, snd: snd, db: db, bc: newBcastCounter(t, l)}
	var err error
	if ph.tr, err = newNeighTrace(t, l.NearIf, l.v6); err != nil {
		t.Logf("no kernel tracing (%v): request to valid is timed from the send call's return to the arrival", err)
		ph.tr = nil
	} else if err := ph.tr.room(n); err != nil {
		t.Fatal(err)
	}
	if dm.start != nil {
		ph.d = dm.start(t, l, db)
		defer func() { ph.d.Close() }()
		if pin {
			pinTasks(t, ph.d.Pid(), 1)
		}
	}
	limit := blLimit(n)
	defer func() {
		for i, p := range r.phase {
			if p.ran {
				t.Logf("%s, %s: %d of %d sent delivered in %v, %.0f a second; %d broadcasts", dm.name, blPhaseNames[i], p.delivered, p.sent, p.took.Round(time.Millisecond), p.rate(), p.bcasts)
			}
		}
	}()
	r.phase[blCold] = ph.burst(n, limit+4*time.Second, nil)
	blEmptyTable(t, l)
	r.phase[blWarm] = ph.burst(n, limit, nil)
	blEmptyTable(t, l)
	r.phase[blPacedPhase] = ph.oneAtATime(paced)
	var first string
	if dm.start != nil {
		// Restart on the same file, into an empty kernel table.
		ph.d.Close()
		first = ph.d.Output()
		blEmptyTable(t, l)
		ph.d = dm.start(t, l, db)
		if pin {
			pinTasks(t, ph.d.Pid(), 1)
		}
		r.phase[blRestart] = ph.burst(n, limit, nil)
		r.phase[blRestart].startup = ph.d.Startup()
	}
	r.phase[blFlushed] = ph.burst(n, limit, func() {
		l.flush(t)
		if !labtest.WaitFor(10*time.Second, func() bool { return l.kernelTable(t) == 0 }) {
			t.Logf("the near table still has %d entries after ip neigh flush", l.kernelTable(t))
		}
		time.Sleep(300 * time.Millisecond) // the daemon reads the flush's notifications
	})
	if dm.start == nil {
		_, r.monitorOverruns = mon.snapshot(t)
		return r
	}
	r.phase[blDefaultTable] = ph.atDefaultCap(g, min(n, blDefaultHosts))
	if dm.counters != nil {
		time.Sleep(1100 * time.Millisecond) // the daemon saves its counters every second
		r.counters = dm.counters(t, db)
		var nz []string
		for k, v := range r.counters {
			if v != 0 {
				nz = append(nz, fmt.Sprintf("%s %d", k, v))
			}
		}
		slices.Sort(nz)
		t.Logf("%s's counters: %s", dm.name, strings.Join(nz, ", "))
	}
	_, r.monitorOverruns = mon.snapshot(t)
	if ph.d.Exited() {
		t.Errorf("%s is no longer running after the benchmark; its output: %s", dm.name, ph.d.Output())
	}
	r.out = first + ph.d.Output()
	return r
}

// blLimit returns how long a burst to n hosts may take to arrive: 8 s
// for 20,000 hosts or fewer, in proportion above.
func blLimit(n int) time.Duration {
	return max(8*time.Second, time.Duration(n)*8*time.Second/blHosts)
}

// atDefaultCap is the default-table step: gc_thresh2 and gc_thresh3 at
// the kernel's defaults (512 and 1,024; under g, then raised again to what
// they were, for the columns after this one; without g, as in the small
// run, they are whatever the machine has), the link down and up, and a
// burst to the first k hosts. The kernel's table then holds what it holds
// with the daemon on a router that keeps the defaults: the daemon's
// kernel memory.
func (ph *blPhaser) atDefaultCap(g *labtest.Globals, k int) blPhase {
	t := ph.t
	t.Helper()
	if g != nil {
		const key2, key3 = "net/ipv4/neigh/default/gc_thresh2", "net/ipv4/neigh/default/gc_thresh3"
		was2, was3 := strings.TrimSpace(readFile(t, "/proc/sys/"+key2)), strings.TrimSpace(readFile(t, "/proc/sys/"+key3))
		g.Set(key2, "512")
		g.Set(key3, "1024")
		defer func() {
			g.Set(key3, was3)
			g.Set(key2, was2)
		}()
	}
	blEmptyTable(t, ph.l)
	return ph.burst(k, blLimit(k), nil)
}

// blPhaser runs the phases in one lab, against its current daemon d.
type blPhaser struct {
	t    testing.TB
	in   *interrupt
	l    *hostLab
	mon  *monitor
	sink *farSink
	snd  *nearSender
	d    *labtest.Daemon // nil: the kernel alone
	db   string
	tr   *neighTrace   // nil: no tracing here, request to valid from the sink
	bc   *bcastCounter // nil: broadcasts not counted (IPv6)
	// gctrace: the daemon logs its collections (GODEBUG=gctrace=1),
	// which each phase counts.
	gctrace bool
}

// reset forgets the previous phase's traffic and starts tracing.
func (ph *blPhaser) reset() {
	for len(ph.mon.settled) > 0 {
		<-ph.mon.settled
	}
	ph.sink.reset()
	ph.snd.reset()
	if ph.tr != nil {
		if err := ph.tr.start(); err != nil {
			ph.t.Fatal(err)
		}
	}
}

// burst sends a datagram to each of hosts [0, n) as fast as one socket
// can, waits up to limit until all that were sent have arrived, and
// returns what happened. before, if set, runs after the daemon's CPU time
// was read and before the first send.
func (ph *blPhaser) burst(n int, limit time.Duration, before func()) blPhase {
	// A host nobody answers is asked about three times, 1 s apart, and
	// given up 3 s after the first request; cold, the daemon's probes go
	// out once per request.
	return ph.pass(n, false, limit, before)
}

// oneAtATime sends a datagram to each of hosts [0, n), the next only once
// the monitor saw the previous one settled, and 2 ms after that, so that
// every request finds the daemon idle.
func (ph *blPhaser) oneAtATime(n int) blPhase {
	return ph.pass(n, true, 4*time.Second, nil)
}

// pass is burst, or with paced oneAtATime.
func (ph *blPhaser) pass(n int, paced bool, limit time.Duration, before func()) blPhase {
	t := ph.t
	t.Helper()
	ph.in.check(t)
	ph.reset()
	// ARPD_BENCH_SCHEDTRACE=file: for the requests one at a time, the
	// scheduler's events and the daemon's system calls too, to see where
	// a request's time goes; the raw trace is kept in file.<daemon>.
	schedTrace := os.Getenv("ARPD_BENCH_SCHEDTRACE")
	if !paced || ph.tr == nil {
		schedTrace = ""
	}
	var comm string
	if schedTrace != "" {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ph.d.Pid()))
		comm = strings.TrimSpace(string(b))
		ph.tr.schedEvents(true, comm)
	}
	p := blPhase{hosts: n, ran: true, bcasts: -1}
	cpu0 := ph.daemonCPU()
	gc0 := ph.gcCycles()
	run0 := ph.daemonRunTime()
	if before != nil {
		before()
	}
	ph.bc.take()
	slab0 := kernelSlab()
	sentWall := make([]int64, n)
	retWall := make([]int64, n)
	from := ph.mon.now()
	t0 := time.Now()
	for h := 0; h < n; {
		// A burst goes senderBatch hosts a system call; one at a time,
		// one.
		k := senderBatch
		if paced {
			k = 1
		}
		k = min(k, n-h)
		w := time.Now().UnixNano()
		p.sent += ph.snd.sendRange(h, h+k)
		r := time.Now().UnixNano()
		for i := h; i < h+k; i++ {
			sentWall[i], retWall[i] = w, r
		}
		if paced {
			ph.awaitSettled(h, 4*time.Second)
			ph.in.check(t)
			time.Sleep(2 * time.Millisecond)
		}
		h += k
	}
	p.sendTook = time.Since(t0)
	ph.in.waitFor(limit, func() bool { return ph.sink.delivered(0, n) == p.sent })
	ph.in.check(t)
	time.Sleep(300 * time.Millisecond) // the last answers' notifications
	if schedTrace != "" {
		ph.tr.write("tracing_on", "0")
		if b, err := os.ReadFile(filepath.Join(ph.tr.dir, "trace")); err == nil {
			os.WriteFile(schedTrace+"."+strings.ReplaceAll(ph.d.Name(), " ", "_"), b, 0o644)
			p.breakdown, p.followed = schedBreakdown(b, comm)
		}
		ph.tr.schedEvents(false, comm)
	}
	ph.finish(&p, cpu0, from, sentWall, retWall)
	p.gcs = ph.gcCycles() - gc0
	p.run = ph.daemonRunTime() - run0
	if ph.bc != nil {
		p.bcasts = ph.bc.take()
	}
	p.slabGrown = -1
	if slab1 := kernelSlab(); slab0 >= 0 && slab1 >= 0 {
		p.slabGrown = slab1 - slab0
	}
	p.tableEnd = ph.l.kernelTable(t)
	return p
}

// gcCycles returns how many collections the daemon has logged so far, or
// 0 unless it runs with GODEBUG=gctrace=1.
func (ph *blPhaser) gcCycles() int {
	if ph.d == nil || !ph.gctrace {
		return 0
	}
	return gcCycles(ph.d.Output())
}

// finish fills in p from what the monitor and the sink saw of hosts
// [0, p.hosts) and from the daemon's process.
func (ph *blPhaser) finish(p *blPhase, cpu0, from time.Duration, sentWall, retWall []int64) {
	t := ph.t
	t.Helper()
	n := p.hosts
	events, _ := ph.mon.snapshot(t)
	p.mon = analyze(events, from, ph.mon.now(), 0, n)
	p.delivered = ph.sink.delivered(0, n)
	p.sendValid = ph.sink.latencies(0, n, sentWall)
	if ph.tr == nil {
		p.turnaround = ph.sink.latencies(0, n, retWall)
	} else {
		tr, err := ph.tr.stop(n)
		if err != nil {
			t.Fatal(err)
		}
		p.traceLost = tr.lost
		p.turnaround, p.traced = tr.turnarounds(), true
	}
	if last := ph.sink.lastArrival(0, n); last > 0 {
		p.took = time.Duration(last - sentWall[0])
	}
	p.sendErrors = ph.snd.sendErrors()
	if ph.d == nil {
		return // the kernel alone
	}
	p.cpu = ph.daemonCPU() - cpu0
	p.hwm, p.anon = daemonMemory(t, ph.d)
	if st, err := os.Stat(ph.db); err == nil {
		p.fileSize = st.Size()
	}
	p.fileRes = fileResident(t, ph.d, ph.db)
}

// daemonCPU returns the current daemon's CPU time so far, or 0 for the
// kernel alone.
func (ph *blPhaser) daemonCPU() time.Duration {
	if ph.d == nil {
		return 0
	}
	return daemonCPU(ph.t, ph.d)
}

// daemonRunTime returns the current daemon's time on a CPU so far (from
// the scheduler, in ns), or 0 for the kernel alone.
func (ph *blPhaser) daemonRunTime() time.Duration {
	if ph.d == nil {
		return 0
	}
	return daemonRunTime(ph.t, ph.d)
}

// blEmptyTable empties the near side's neighbour table by taking its link
// down and up again, as a router's interface flap would, and waits until
// the link is up again.
func blEmptyTable(t testing.TB, l *hostLab) {
	t.Helper()
	l.IP(l.Near, "link", "set", "dev", l.NearIf, "down")
	if !labtest.WaitFor(10*time.Second, func() bool { return l.kernelTable(t) == 0 }) {
		t.Logf("the near table still has %d entries with its link down", l.kernelTable(t))
	}
	l.IP(l.Near, "link", "set", "dev", l.NearIf, "up")
	if !labtest.WaitFor(10*time.Second, func() bool {
		return strings.Contains(l.IP(l.Near, "link", "show", "dev", l.NearIf), "LOWER_UP")
	}) {
		t.Fatalf("%s did not come up again", l.NearIf)
	}
	time.Sleep(300 * time.Millisecond) // the daemon reads the link's notifications
}

// awaitSettled waits until host h's request was settled: for a daemon,
// until the monitor says so; for the kernel alone, which makes no
// request the monitor sees (app_solicit 0), until h's datagram arrived
// (checked every millisecond).
func (ph *blPhaser) awaitSettled(h int, limit time.Duration) {
	if ph.d != nil {
		awaitSettled(ph.in, ph.mon, h, limit)
		return
	}
	deadline := time.Now().Add(limit)
	for ph.sink.delivered(h, h+1) == 0 && !ph.in.hit.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// awaitSettled waits until the monitor says host h's request was settled.
func awaitSettled(in *interrupt, mon *monitor, h int, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for !in.hit.Load() {
		select {
		case got := <-mon.settled:
			if got == h {
				return true
			}
		case <-timer.C:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}
