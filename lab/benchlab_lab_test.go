package lab

// make bench-lab: this arpd and iproute2's arpd, one after the other, each
// in a lab of its own with the same hosts, flags and traffic, and one table
// with the ratio of the two.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"

	"golang.org/x/sys/unix"
)

// The benchmark's defaults: N hosts on the far side, of which the first
// blPaced are also asked about one at a time.
const (
	blHosts      = 20000
	blPaced      = 1000
	iproute2Arpd = "/usr/sbin/arpd"
)

// blFlags are the flags both daemons run with: three broadcast probes per
// host, the kernel's own broadcasts off (so that a cold burst is resolved
// by the daemon's probes), and a probe budget generous enough for a cold
// burst of every host at once.
var blFlags = []string{"-a", "3", "-k", "-R", "1000", "-B", "100000"}

// The phases, in the order they run.
const (
	blCold = iota
	blWarm
	blPacedPhase
	blRestart
	blFlushed
	blPhases
)

var blPhaseNames = [blPhases]string{"cold", "warm", "one at a time", "restart", "flushed"}

// blPhase is what one daemon did in one phase.
type blPhase struct {
	hosts      int
	sent       int    // datagrams the kernel took
	sendErrors string // refused sends, by errno
	sendTook   time.Duration
	mon        demoHostStats // what the netlink monitor saw
	delivered  int
	took       time.Duration      // first send to the last datagram's arrival
	sendValid  []time.Duration    // send to arrival (entry valid)
	turnaround []time.Duration    // the kernel's request to the entry becoming valid
	traced     bool               // turnaround is from the kernel's tracepoints, not the sink
	traceLost  int64              // trace events lost (turnaround incomplete if > 0)
	breakdown  [4][]time.Duration // ARPD_BENCH_SCHEDTRACE: where a request's time went
	followed   int                // requests the breakdown could follow
	cpu        time.Duration
	hwm, anon  int64 // KiB: VmHWM so far, RssAnon now
	fileSize   int64 // bytes
	startup    time.Duration
}

// rate is the phase's resolutions per second.
func (p *blPhase) rate() float64 {
	if p.took <= 0 {
		return 0
	}
	return float64(p.delivered) / p.took.Seconds()
}

// blResult is one daemon's run.
type blResult struct {
	name            string
	phase           [blPhases]blPhase
	monitorOverruns int
	counters        map[string]uint64
	out             string
}

// blDaemon starts and stops one kind of daemon.
type blDaemon struct {
	name     string
	start    func(t testing.TB, l *demoLab, db string) *labtest.Daemon
	counters func(t testing.TB, db string) map[string]uint64 // nil: it has none
}

// TestBenchLab is make bench-lab (ARPD_BENCHLAB=1, as root): for this arpd
// and then iproute2's, in a lab of its own with N hosts (ARPD_BENCH_HOSTS,
// default 20,000) on the far side, both run with blFlags:
//
//  1. cold: a datagram to each of the N hosts, as fast as one socket can
//     send, into an empty cache: the daemon's broadcasts resolve them;
//  2. warm: the kernel's table emptied by taking the link down and up, the
//     daemon keeps its cache; the same burst, answered from it;
//  3. one at a time: the table emptied again, a datagram to each of the
//     first 1,000 hosts, the next once the previous one arrived;
//  4. restart: SIGTERM, the table emptied, the daemon started again on the
//     same file; the same burst;
//  5. flushed: ip neigh flush while the daemon runs; the same burst.
//
// gc_thresh2 and gc_thresh3 are raised for the run (under the global lock)
// so that the kernel holds every host, and restored after it.
//
// Request to valid comes from the kernel's neigh tracepoints (demoTrace),
// or from the far side's receive stamps where tracing is not available.
// ARPD_BENCH_IPROUTE2=0 leaves iproute2's arpd out, ARPD_BENCH_PIN=1 binds
// the test and the daemon to CPUs of their own, ARPD_BENCH_SCHEDTRACE=file
// traces the scheduler in the one-at-a-time phase (see pass).
//
// Without ARPD_BENCHLAB (as in make test, as root) it runs the same
// phases for this arpd only, with 300 hosts, and checks what they must
// show: every datagram delivered in every phase, and every phase after
// the first answered from the cache, with no host asked about twice.
func TestBenchLab(t *testing.T) {
	full := os.Getenv("ARPD_BENCHLAB") == "1"
	if full && os.Geteuid() != 0 {
		t.Fatal("make bench-lab needs root: it makes network namespaces and runs both daemons in them (sudo make bench-lab)")
	}
	labtest.RequireRoot(t)
	n, paced := 300, 50
	if full {
		n, paced = blHosts, blPaced
	}
	if v := os.Getenv("ARPD_BENCH_HOSTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > demoHostsMax {
			t.Fatalf("ARPD_BENCH_HOSTS=%q: want a number of hosts from 1 to %d", v, demoHostsMax)
		}
	}
	paced = min(paced, n)
	in := demoCatchInterrupt(t)
	if full {
		// Room for every host in the kernel's table, and no collection
		// of entries while the benchmark runs; restored by Cleanup.
		g := labtest.LockGlobals(t)
		g.Set("net/ipv4/neigh/default/gc_thresh3", strconv.Itoa(max(4*n, 1024)))
		g.Set("net/ipv4/neigh/default/gc_thresh2", strconv.Itoa(max(2*n, 512)))
	} else {
		got := labtest.ShareGlobals(t, 90*time.Second, in.hit.Load)
		in.check(t)
		if !got {
			t.Skip("another test holds the global settings lock: the kernel's table cap may change under this test")
		}
	}

	daemons := []blDaemon{{
		name: "this arpd",
		start: func(t testing.TB, l *demoLab, db string) *labtest.Daemon {
			return startOurDaemon(t, l, db, append(blFlags, l.NearIf)...)
		},
		counters: labtest.Stats,
	}}
	if _, err := os.Stat(iproute2Arpd); err != nil {
		t.Logf("%s is not installed: no comparison", iproute2Arpd)
	} else if os.Getenv("ARPD_BENCH_IPROUTE2") == "0" {
		t.Logf("ARPD_BENCH_IPROUTE2=0: no comparison")
	} else if full {
		daemons = append(daemons, blDaemon{
			name: "iproute2 arpd",
			start: func(t testing.TB, l *demoLab, db string) *labtest.Daemon {
				return startIproute2Daemon(t, l, db, append(blFlags, l.NearIf)...)
			},
		})
	}
	// ARPD_BENCH_PIN=1 binds the test to CPU 0 and the daemon to CPU 1,
	// for both daemons alike. Off by default: a burst then goes faster,
	// but each request one at a time waits for an interrupt to wake the
	// idle CPU, which on a virtual machine costs 30 to 40 µs.
	pin := full && runtime.NumCPU() >= 2 && os.Getenv("ARPD_BENCH_PIN") == "1"
	if pin {
		demoPinSelf(t, 0)
	}
	var rs []blResult
	for _, dm := range daemons {
		// A subtest each, so that each lab is deleted (and its hosts
		// leave the kernel's table) before the next one is made.
		t.Run(strings.ReplaceAll(dm.name, " ", "_"), func(t *testing.T) {
			rs = append(rs, blRun(t, in, dm, n, paced, pin))
		})
	}
	if len(rs) < len(daemons) || t.Failed() {
		t.FailNow()
	}

	var report strings.Builder
	blReport(&report, rs, n, paced, pin)
	if full {
		os.Stdout.WriteString(report.String())
		return
	}
	t.Log(report.String())
	r := rs[0]
	for i := range r.phase {
		p := &r.phase[i]
		if p.delivered != p.hosts {
			t.Errorf("%s: %d of %d datagrams delivered (send errors %s, failed %d); daemon output: %s",
				blPhaseNames[i], p.delivered, p.hosts, p.sendErrors, p.mon.failed, r.out)
		}
		if i == blCold {
			continue
		}
		if p.mon.answered != p.hosts || p.mon.askedAgain != 0 {
			t.Errorf("%s: %d of %d hosts answered from the cache, %d asked about again; want all, and none",
				blPhaseNames[i], p.mon.answered, p.hosts, p.mon.askedAgain)
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

// blRun runs every phase for one daemon, in a lab of its own.
func blRun(t *testing.T, in *demoInterrupt, dm blDaemon, n, paced int, pin bool) blResult {
	t.Helper()
	in.check(t)
	r := blResult{name: dm.name}
	// NB: delay_first_probe_time of 60 s keeps the entries the daemon
	// answered in DELAY for the whole run, so that no unicast
	// confirmation traffic mixes into the measurement.
	l := newDemoLab(t, n, map[string]string{"delay_first_probe_time": "60"})
	mon := newDemoMonitor(t, l)
	sink := newDemoSink(t, l)
	snd := newDemoSender(t, l)
	db := filepath.Join(t.TempDir(), "arpd.db")
	d := dm.start(t, l, db)
	defer func() { d.Close() }()
	if pin {
		demoPinTasks(t, d.Pid(), 1)
	}
	ph := &blPhaser{t: t, in: in, l: l, mon: mon, sink: sink, snd: snd, db: db}
	var err error
	if ph.tr, err = newDemoTrace(t, l.NearIf); err != nil {
		t.Logf("no kernel tracing (%v): request to valid is timed from sendto's return to the arrival", err)
		ph.tr = nil
	}

	ph.d = d
	r.phase[blCold] = ph.burst(n, 12*time.Second, nil)

	blEmptyTable(t, l)
	r.phase[blWarm] = ph.burst(n, 8*time.Second, nil)

	blEmptyTable(t, l)
	r.phase[blPacedPhase] = ph.oneAtATime(paced)

	// Restart on the same file, into an empty kernel table.
	d.Close()
	first := d.Output()
	blEmptyTable(t, l)
	d = dm.start(t, l, db)
	ph.d = d
	if pin {
		demoPinTasks(t, d.Pid(), 1)
	}
	r.phase[blRestart] = ph.burst(n, 8*time.Second, nil)
	r.phase[blRestart].startup = d.Startup()

	r.phase[blFlushed] = ph.burst(n, 8*time.Second, func() {
		l.flush(t)
		if !labtest.WaitFor(10*time.Second, func() bool { return l.kernelTable(t) == 0 }) {
			t.Logf("the near table still has %d entries after ip neigh flush", l.kernelTable(t))
		}
		time.Sleep(300 * time.Millisecond) // the daemon reads the flush's notifications
	})

	if dm.counters != nil {
		time.Sleep(1100 * time.Millisecond) // the daemon saves its counters every second
		r.counters = dm.counters(t, db)
	}
	_, r.monitorOverruns = mon.snapshot()
	if d.Exited() {
		t.Errorf("%s is no longer running after the benchmark; its output: %s", dm.name, d.Output())
	}
	r.out = first + d.Output()
	return r
}

// blPhaser runs the phases in one lab, against its current daemon d.
type blPhaser struct {
	t    testing.TB
	in   *demoInterrupt
	l    *demoLab
	mon  *demoMonitor
	sink *demoSink
	snd  *demoSender
	d    *labtest.Daemon
	db   string
	tr   *demoTrace // nil: no tracing here, request to valid from the sink
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
	p := blPhase{hosts: n}
	cpu0 := demoCPU(t, ph.d)
	if before != nil {
		before()
	}
	sent := make([]time.Duration, n)
	sentWall := make([]int64, n)
	retWall := make([]int64, n)
	from := ph.mon.now()
	t0 := time.Now()
	for h := 0; h < n; h++ {
		sent[h], sentWall[h] = ph.mon.now(), time.Now().UnixNano()
		if ph.snd.send(h) {
			p.sent++
		}
		retWall[h] = time.Now().UnixNano()
		if paced {
			benchAwait(ph.in, ph.mon, h, 4*time.Second)
			ph.in.check(t)
			time.Sleep(2 * time.Millisecond)
		}
	}
	p.sendTook = time.Since(t0)
	ph.in.waitFor(limit, func() bool { return ph.sink.delivered(0, n) == p.sent })
	ph.in.check(t)
	time.Sleep(300 * time.Millisecond) // the last answers' notifications
	if schedTrace != "" {
		ph.tr.write("tracing_on", "0")
		if b, err := os.ReadFile(filepath.Join(ph.tr.dir, "trace")); err == nil {
			os.WriteFile(schedTrace+"."+strings.ReplaceAll(ph.d.Name(), " ", "_"), b, 0o644)
			p.breakdown, p.followed = demoBreakdown(b, comm)
		}
		ph.tr.schedEvents(false, comm)
	}
	ph.finish(&p, cpu0, from, sent, sentWall, retWall)
	return p
}

// finish fills in p from what the monitor and the sink saw of hosts
// [0, p.hosts) and from the daemon's process.
func (ph *blPhaser) finish(p *blPhase, cpu0, from time.Duration, sent []time.Duration, sentWall, retWall []int64) {
	t := ph.t
	t.Helper()
	n := p.hosts
	events, _ := ph.mon.snapshot()
	p.mon = demoAnalyze(events, from, ph.mon.now(), 0, n, sent)
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
	p.cpu = demoCPU(t, ph.d) - cpu0
	p.hwm, p.anon = demoMemory(t, ph.d)
	if st, err := os.Stat(ph.db); err == nil {
		p.fileSize = st.Size()
	}
}

// blEmptyTable empties the near side's neighbour table by taking its link
// down and up again, as a router's interface flap would, and waits until
// the link is up again.
func blEmptyTable(t testing.TB, l *demoLab) {
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

// blRow is one row of the report: a label and, for a phase, the value to
// show and the number its ratio is taken of (ok false: no ratio).
type blRow struct {
	label string
	phase int
	f     func(p *blPhase) (show string, v float64, ok bool)
}

// blReport prints the table: one column per daemon and, with both, the
// ratio of this arpd's value to iproute2's; then the targets.
func blReport(w io.Writer, rs []blResult, n, paced int, pin bool) {
	fmt.Fprintf(w, "\nlab benchmark (make bench-lab): %d hosts; each daemon run as `arpd %s -b <file> vnear`\n", n, strings.Join(blFlags, " "))
	fmt.Fprintf(w, "in a lab of its own (this arpd with -F added); machine: %d CPUs, load average %s, kernel %s\n\n",
		runtime.NumCPU(), demoLoadAvg(), demoKernel())
	dur := func(d time.Duration) (string, float64, bool) { return demoDur(d), d.Seconds(), d > 0 }
	pct := func(d []time.Duration, q float64) (string, float64, bool) {
		if len(d) == 0 {
			return "-", 0, false
		}
		return dur(demoPercentile(d, q))
	}
	count := func(v int) (string, float64, bool) { return strconv.Itoa(v), float64(v), true }
	kib := func(v int64) (string, float64, bool) {
		return fmt.Sprintf("%.1f MiB", float64(v)/1024), float64(v), v > 0
	}
	common := func(ph int, burst bool) []blRow {
		rows := []blRow{
			{"datagrams delivered", ph, func(p *blPhase) (string, float64, bool) {
				return fmt.Sprintf("%d of %d", p.delivered, p.hosts), float64(p.delivered), true
			}},
			{"resolution failed (kernel gave up)", ph, func(p *blPhase) (string, float64, bool) { return count(p.mon.failed) }},
			{"answered from the cache", ph, func(p *blPhase) (string, float64, bool) { return count(p.mon.answered) }},
			{"hosts asked about more than once", ph, func(p *blPhase) (string, float64, bool) { return count(p.mon.askedAgain) }},
		}
		if burst {
			rows = append(rows,
				blRow{"sent in", ph, func(p *blPhase) (string, float64, bool) { return dur(p.sendTook) }},
				blRow{"first send to last arrival", ph, func(p *blPhase) (string, float64, bool) { return dur(p.took) }},
				blRow{"resolutions per second", ph, func(p *blPhase) (string, float64, bool) {
					return fmt.Sprintf("%.0f", p.rate()), p.rate(), p.rate() > 0
				}},
			)
		}
		rows = append(rows,
			blRow{"request to valid p50", ph, func(p *blPhase) (string, float64, bool) { return pct(p.turnaround, 50) }},
			blRow{"request to valid p99", ph, func(p *blPhase) (string, float64, bool) { return pct(p.turnaround, 99) }},
			blRow{"send to valid p99", ph, func(p *blPhase) (string, float64, bool) { return pct(p.sendValid, 99) }},
			blRow{"daemon CPU", ph, func(p *blPhase) (string, float64, bool) {
				return p.cpu.String(), p.cpu.Seconds(), p.cpu > 0
			}},
			blRow{"peak RSS (VmHWM)", ph, func(p *blPhase) (string, float64, bool) { return kib(p.hwm) }},
			blRow{"anonymous RSS (RssAnon)", ph, func(p *blPhase) (string, float64, bool) { return kib(p.anon) }},
			blRow{"file size", ph, func(p *blPhase) (string, float64, bool) {
				return fmt.Sprintf("%.1f MiB", float64(p.fileSize)/(1<<20)), float64(p.fileSize), p.fileSize > 0
			}},
		)
		return rows
	}
	var rows []blRow
	for ph := range blPhases {
		if ph == blRestart {
			rows = append(rows, blRow{"startup (exec to app_solicit set)", ph, func(p *blPhase) (string, float64, bool) { return dur(p.startup) }})
		}
		rows = append(rows, common(ph, ph != blPacedPhase)...)
	}

	fmt.Fprintf(w, "  %-40s", "")
	for _, r := range rs {
		fmt.Fprintf(w, " %18s", r.name)
	}
	if len(rs) == 2 {
		fmt.Fprintf(w, " %8s", "ratio")
	}
	fmt.Fprintln(w)
	last := -1
	for _, row := range rows {
		if row.phase != last {
			last = row.phase
			fmt.Fprintf(w, "  %s\n", blPhaseTitle(row.phase, n, paced))
		}
		fmt.Fprintf(w, "    %-38s", row.label)
		var vs []float64
		oks := true
		for i := range rs {
			show, v, ok := row.f(&rs[i].phase[row.phase])
			fmt.Fprintf(w, " %18s", show)
			vs = append(vs, v)
			oks = oks && ok
		}
		if len(rs) == 2 && oks && vs[1] != 0 {
			fmt.Fprintf(w, " %7.2f×", vs[0]/vs[1])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		var lost int64
		for i := range r.phase {
			lost += r.phase[i].traceLost
		}
		fmt.Fprintf(w, "  %s: monitor overruns %d, trace events lost %d (figures incomplete if > 0)", r.name, r.monitorOverruns, lost)
		if r.counters != nil {
			fmt.Fprintf(w, "; own counters: app_recv=%d app_success=%d probes_sent=%d nl_overruns=%d redumps=%d kern_neg=%d answer_errors=%d",
				r.counters["app_recv"], r.counters["app_success"], r.counters["probes_sent"], r.counters["nl_overruns"],
				r.counters["redumps"], r.counters["kern_neg"], r.counters["answer_errors"])
		}
		fmt.Fprintln(w)
	}
	how := "the kernel's own stamps: tracepoint neigh_create (made in the call that\n" +
		"  makes the request, just before it) to neigh_update from INCOMPLETE to a valid state (the answer or\n" +
		"  an ARP reply arrives), on the mono clock"
	if len(rs) > 0 && !rs[0].phase[blPacedPhase].traced {
		how = "sendto's return (the kernel makes its request inside that call) to the\n" +
			"  far side's receive stamp (SO_TIMESTAMPNS) of the datagram, which leaves when the entry becomes\n" +
			"  valid (no kernel tracing here)"
	}
	fmt.Fprintf(w, "\n  request to valid: %s. send to valid: from just before\n", how)
	fmt.Fprintf(w, "  sendto to the far side's receive stamp of the datagram. Both count from the first request,\n")
	fmt.Fprintf(w, "  so they include the kernel's 1 s retries. The counts of answers, retries and failures come from\n")
	fmt.Fprintf(w, "  a netlink listener that polls (a waiting one would be woken inside each request). CPU: utime+stime of the\n")
	fmt.Fprintf(w, "  daemon (10 ms ticks). Memory: /proc/<pid>/status at the end of the phase (VmHWM is the peak\n")
	fmt.Fprintf(w, "  so far; a restart starts it again). ratio: this arpd's figure over iproute2's.\n")
	if pin {
		fmt.Fprintf(w, "  ARPD_BENCH_PIN=1: the test ran on CPU 0, each daemon on CPU 1.\n")
	}
	for _, r := range rs {
		p := &r.phase[blPacedPhase]
		if p.followed == 0 {
			continue
		}
		fmt.Fprintf(w, "\n  %s, one at a time, where a request's time went (p50 / p99 of %d requests, scheduler trace):\n", r.name, p.followed)
		for k, what := range [4]string{
			"the request's call, until the daemon is woken",
			"woken, until it runs",
			"the daemon's own work, until it sends the answer",
			"the kernel on that send, until neigh_update",
		} {
			fmt.Fprintf(w, "    %-52s %s\n", what, demoPcts(p.breakdown[k]))
		}
	}
	fmt.Fprintln(w)
	if len(rs) > 0 && rs[0].name == "this arpd" {
		blTargets(w, rs, n)
	}
}

// blPhaseTitle describes phase ph.
func blPhaseTitle(ph, n, paced int) string {
	switch ph {
	case blCold:
		return fmt.Sprintf("cold: a datagram to each of %d hosts, empty cache", n)
	case blWarm:
		return "warm: link down and up, the daemon keeps its cache; the same burst"
	case blPacedPhase:
		return fmt.Sprintf("one at a time: link down and up; %d hosts, each once the previous arrived", paced)
	case blRestart:
		return "restart: SIGTERM, link down and up, started again on the same file; the same burst"
	}
	return "flushed: ip neigh flush while the daemon runs; the same burst"
}

// blTargets prints issue 5's targets and whether this arpd (rs[0]) met
// them, beside iproute2's arpd (rs[1]) where a target is relative.
func blTargets(w io.Writer, rs []blResult, n int) {
	us := &rs[0]
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	line := func(what, got string, ok bool) {
		fmt.Fprintf(w, "    %-52s %-24s %s\n", what, got, verdict(ok))
	}
	fmt.Fprintf(w, "  targets (this arpd):\n")
	c := &us.phase[blCold]
	line(fmt.Sprintf("cold: all %d resolved, none failed", n), fmt.Sprintf("%d resolved, %d failed", c.delivered, c.hosts-c.delivered),
		c.delivered == n)
	wm := &us.phase[blWarm]
	if len(rs) == 2 {
		them := rs[1].phase[blWarm].rate()
		line("warm: at least 3x iproute2's resolutions per second", fmt.Sprintf("%.0f vs %.0f/s", wm.rate(), them), wm.rate() >= 3*them)
	}
	line("warm: no host asked about twice", strconv.Itoa(wm.mon.askedAgain), wm.mon.askedAgain == 0)
	p99 := demoPercentile(wm.sendValid, 99)
	line("warm: send to valid p99 <= 50 ms", demoDur(p99), len(wm.sendValid) > 0 && p99 <= 50*time.Millisecond)
	pc := &us.phase[blPacedPhase]
	p50, p99 := demoPercentile(pc.turnaround, 50), demoPercentile(pc.turnaround, 99)
	line("one at a time: request to valid p50 <= 50 µs", demoDur(p50), len(pc.turnaround) > 0 && p50 <= 50*time.Microsecond)
	line("one at a time: request to valid p99 <= 150 µs", demoDur(p99), len(pc.turnaround) > 0 && p99 <= 150*time.Microsecond)
	var anon, hwm int64
	for i := range us.phase {
		anon, hwm = max(anon, us.phase[i].anon), max(hwm, us.phase[i].hwm)
	}
	line("anonymous RSS <= 4 MB (largest at a phase's end)", fmt.Sprintf("%.2f MB", float64(anon)*1024/1e6), anon*1024 <= 4e6)
	line("VmHWM <= 6 MB (largest)", fmt.Sprintf("%.2f MB", float64(hwm)*1024/1e6), hwm*1024 <= 6e6)
	fmt.Fprintln(w)
}

// demoMemory returns the daemon's peak resident set (VmHWM) and its current
// anonymous resident set (RssAnon), in KiB.
func demoMemory(t testing.TB, d *labtest.Daemon) (hwm, anon int64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.Pid()))
	if err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = kb
		case "RssAnon":
			anon = kb
		}
	}
	return hwm, anon
}

// demoPinTasks binds every thread of process pid to CPU cpu.
func demoPinTasks(t testing.TB, pid, cpu int) {
	t.Helper()
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			t.Fatalf("bind thread %d of %d to CPU %d: %v", tid, pid, cpu, err)
		}
	}
}

// demoPinSelf binds this process's threads to CPU cpu (threads made later
// inherit it from their maker) until t ends, then lets them run anywhere
// again.
func demoPinSelf(t testing.TB, cpu int) {
	t.Helper()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatalf("CPU affinity: %v", err)
	}
	demoPinTasks(t, os.Getpid(), cpu)
	t.Cleanup(func() {
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			if tid, err := strconv.Atoi(task.Name()); err == nil {
				unix.SchedSetaffinity(tid, &all)
			}
		}
	})
}

// benchAwait waits until the monitor says host h's request was settled.
func benchAwait(in *demoInterrupt, mon *demoMonitor, h int, limit time.Duration) bool {
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

// demoKernel returns the kernel release.
func demoKernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
