package main

// make labbench: this arpd beside iproute2's, in the same lab, with the
// same flags, on the same hosts.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmark's sizes: hosts [0, benchBurst) are the burst's, hosts
// [benchBurst, benchBurst+benchPaced) the paced run's.
const (
	benchPaced      = 1000
	benchBurst      = 20000
	benchFlushEvery = 200 // the paced run empties the kernel table this often
	iproute2Arpd    = "/usr/sbin/arpd"
)

// benchResult is what one daemon did in the benchmark.
type benchResult struct {
	name              string
	learned           int
	learnRounds       int
	learnCPU          time.Duration
	paced, burst      demoHostStats
	pacedDelivered    int
	burstDelivered    int
	burstSent         int
	burstSendErrors   string
	pacedCPU          time.Duration
	burstCPU          time.Duration
	burstSendTook     time.Duration
	peakRSS           int64 // KiB
	counters          map[string]int64
	monitorOverruns   int
	kernelTablePeak   int
	pacedTimeouts     int
	burstSettleWaited time.Duration
	pacedLatency      []time.Duration // send to arrival, kernel timestamps
	burstLatency      []time.Duration
}

// TestLabBench is make labbench (ARPD_LABBENCH=1): for this arpd and for
// iproute2's, in a lab of its own with 21,000 hosts:
//
//  1. learn: the far side announces every host once with a gratuitous ARP
//     reply, so both daemons learn the same hosts the same way, from ARP
//     on the wire (iproute2's -f cannot load a file correctly); the kernel
//     ignores these, so its table stays empty;
//  2. one request at a time: a datagram to each of 1,000 hosts, the next
//     only once the previous was answered (and 2 ms later), the kernel
//     table emptied every 200 hosts so it stays under the default cap;
//  3. burst: a datagram to each of 20,000 other hosts, as fast as one
//     socket can send, with gc_thresh3 raised (under the global lock) so
//     the kernel can hold them all, then restored.
//
// The kernel's requests and the answers are timed by a netlink monitor in
// the near namespace; CPU is utime+stime of the daemon process, peak RSS
// its VmHWM. delay_first_probe_time is 60 s on the near interface, so no
// unicast confirmation traffic mixes into the measurement.
func TestLabBench(t *testing.T) {
	if os.Getenv("ARPD_LABBENCH") != "1" {
		t.Skip("the lab benchmark runs with ARPD_LABBENCH=1 (make labbench, as root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("make labbench needs root: it makes network namespaces and runs both daemons in them (sudo make labbench)")
	}
	requireRoot(t)
	in := demoCatchInterrupt(t)
	bin := demoOurBinary(t)
	flags := []string{"-a", "3", "-k"}

	var results []benchResult
	results = append(results, benchOne(t, in, "this arpd", func(l *demoLab, db string) *demoDaemon {
		return startOurDaemon(t, l, bin, db, append(flags, l.NearIf)...)
	}, func(d *demoDaemon) (string, error) {
		out, err := exec.Command(bin, "-l", "-b", d.db).Output()
		return string(out), err
	}, func(d *demoDaemon) map[string]int64 { return demoOurStats(t, bin, d.db) }))
	if _, err := os.Stat(iproute2Arpd); err != nil {
		t.Logf("%s is not installed: no comparison", iproute2Arpd)
	} else {
		results = append(results, benchOne(t, in, "iproute2 arpd", func(l *demoLab, db string) *demoDaemon {
			return startIproute2Daemon(t, l, db, append(flags, l.NearIf)...)
		}, func(d *demoDaemon) (string, error) {
			// It writes its database only on a sync: SIGHUP asks for one.
			unix.Kill(d.pid, unix.SIGHUP)
			time.Sleep(300 * time.Millisecond)
			out, err := exec.Command(iproute2Arpd, "-l", "-b", d.db).Output()
			return string(out), err
		}, nil))
	}
	benchReport(results, flags)
}

// benchOne runs the three steps for one daemon, in a lab of its own.
func benchOne(t *testing.T, in *demoInterrupt, name string, start func(*demoLab, string) *demoDaemon,
	list func(*demoDaemon) (string, error), counters func(*demoDaemon) map[string]int64) benchResult {
	t.Helper()
	in.check(t)
	r := benchResult{name: name}
	n := benchBurst + benchPaced
	l := newDemoLab(t, n, map[string]string{"delay_first_probe_time": "60"})
	mon := newDemoMonitor(t, l)
	sink := newDemoSink(t, l)
	snd := newDemoSender(t, l)
	db := filepath.Join(t.TempDir(), "arpd.db")
	d := start(l, db)
	defer d.stop(t)

	// 1. Learn every host from the wire, announcing again (up to 3
	// rounds) those a daemon missed.
	cpu0 := d.cpu(t)
	missing := make([]int, n)
	for i := range missing {
		missing[i] = i
	}
	for r.learnRounds = 1; r.learnRounds <= 4 && len(missing) > 0; r.learnRounds++ {
		in.check(t)
		demoAnnounce(t, l, missing)
		var have []bool
		in.waitFor(5*time.Second, func() bool {
			out, err := list(d)
			if err != nil {
				t.Fatalf("%s: listing its database: %v", name, err)
			}
			r.learned, have = demoListed(out, n)
			return r.learned == n
		})
		in.check(t)
		missing = missing[:0]
		for h, ok := range have {
			if !ok {
				missing = append(missing, h)
			}
		}
	}
	r.learnRounds--
	r.learnCPU = d.cpu(t) - cpu0
	if r.learned < n {
		t.Logf("%s learned %d of %d hosts; the rest will be probed for", name, r.learned, n)
	}

	// 2. One request at a time.
	in.check(t)
	cpu0 = d.cpu(t)
	sent := make([]time.Duration, benchPaced)
	sentWall := make([]int64, benchPaced)
	from := mon.now()
	for i := 0; i < benchPaced; i++ {
		in.check(t)
		if i%benchFlushEvery == 0 && i > 0 {
			l.flush(t)
			time.Sleep(200 * time.Millisecond) // the daemon reads the flush's notifications
		}
		h := benchBurst + i
		sent[i], sentWall[i] = mon.now(), time.Now().UnixNano()
		snd.send(h)
		if !benchAwait(in, mon, h, 4*time.Second) {
			r.pacedTimeouts++
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	r.pacedCPU = d.cpu(t) - cpu0
	events, _ := mon.snapshot()
	r.paced = demoAnalyze(events, from, mon.now(), benchBurst, n, sent)
	r.pacedDelivered = sink.delivered(benchBurst, n)
	r.pacedLatency = sink.latencies(benchBurst, n, sentWall)
	l.flush(t)
	time.Sleep(200 * time.Millisecond)

	// 3. The burst, with the kernel's cap raised while it lasts.
	in.check(t)
	r.burst, r.burstDelivered, r.burstSent, r.burstSendErrors, r.burstCPU, r.burstSendTook, r.burstSettleWaited, r.burstLatency =
		benchBurstRun(t, in, l, mon, sink, snd, d)
	r.peakRSS = d.peakRSS(t)
	if counters != nil {
		time.Sleep(1100 * time.Millisecond) // the daemon saves its counters every second
		r.counters = counters(d)
	}
	_, r.monitorOverruns = mon.snapshot()
	if !d.running() {
		t.Errorf("%s is no longer running after the benchmark; its output: %s", name, d.out)
	}
	return r
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

// benchBurstRun sends the burst with gc_thresh3 raised under the global
// lock, and empties the kernel table again before restoring it.
func benchBurstRun(t *testing.T, in *demoInterrupt, l *demoLab, mon *demoMonitor, sink *demoSink, snd *demoSender, d *demoDaemon) (
	s demoHostStats, delivered, sentOK int, sendErrors string, cpu, sendTook, settleWaited time.Duration, latency []time.Duration) {
	t.Helper()
	restore := demoSetGlobal(t, "net/ipv4/neigh/default/gc_thresh3", fmt.Sprint(4*benchBurst))
	defer func() {
		// Empty the table first: restoring the cap with 20,000 entries
		// still in it would refuse every other lab's new neighbours.
		// NB: not l.flush, whose t.Fatal could cut this short; the
		// restore is registered with t.Cleanup as well.
		if out, err := exec.Command("ip", "-n", l.Near, "-4", "neigh", "flush", "dev", l.NearIf).CombinedOutput(); err != nil {
			t.Errorf("ip neigh flush: %v: %s", err, out)
		}
		waitFor(10*time.Second, func() bool {
			e, _, err := demoArpCacheStats()
			return err != nil || e < 1024
		})
		restore()
	}()
	for len(mon.settled) > 0 {
		<-mon.settled
	}
	snd.reset()
	cpu0 := d.cpu(t)
	sent := make([]time.Duration, benchBurst)
	sentWall := make([]int64, benchBurst)
	from := mon.now()
	t0 := time.Now()
	for h := 0; h < benchBurst; h++ {
		sent[h], sentWall[h] = mon.now(), time.Now().UnixNano()
		if snd.send(h) {
			sentOK++
		}
	}
	sendTook = time.Since(t0)
	// A host the daemon never answers is asked about three times, 1 s
	// apart, and given up 3 s after the first request.
	t1 := time.Now()
	in.waitFor(8*time.Second, func() bool { return sink.delivered(0, benchBurst) == sentOK })
	in.check(t)
	settleWaited = time.Since(t1)
	time.Sleep(500 * time.Millisecond)
	cpu = d.cpu(t) - cpu0
	events, _ := mon.snapshot()
	s = demoAnalyze(events, from, mon.now(), 0, benchBurst, sent)
	return s, sink.delivered(0, benchBurst), sentOK, snd.sendErrors(), cpu, sendTook, settleWaited, sink.latencies(0, benchBurst, sentWall)
}

// benchReport prints the results side by side.
func benchReport(rs []benchResult, flags []string) {
	w := os.Stdout
	fmt.Fprintf(w, "\nlab benchmark: each daemon run as `arpd %s -b <tmp db> vnear` in a lab of its own\n", strings.Join(flags, " "))
	fmt.Fprintf(w, "(this arpd with -F added, to stay in the foreground; iproute2's detaches and is found by `ip netns pids`)\n")
	fmt.Fprintf(w, "machine: %d CPUs, load average %s; kernel %s\n\n", runtime.NumCPU(), demoLoadAvg(), demoKernel())
	row := func(name string, f func(r benchResult) any) {
		fmt.Fprintf(w, "  %-46s", name)
		for _, r := range rs {
			fmt.Fprintf(w, " %-22v", f(r))
		}
		fmt.Fprintln(w)
	}
	row("", func(r benchResult) any { return r.name })
	row("learned from gratuitous ARP (rounds)", func(r benchResult) any {
		return fmt.Sprintf("%d of %d (%d)", r.learned, benchBurst+benchPaced, r.learnRounds)
	})
	row("  daemon CPU", func(r benchResult) any { return r.learnCPU })
	fmt.Fprintf(w, "\n  (a) one request at a time, %d hosts\n", benchPaced)
	row("  turnaround p50 / p99 (monitor)", func(r benchResult) any { return demoPcts(r.paced.turnaround) })
	row("  send to arrival p50 / p99 (kernel stamps)", func(r benchResult) any { return demoPcts(r.pacedLatency) })
	row("  answered from the cache", func(r benchResult) any { return r.paced.answered })
	row("  resolved by an ARP reply instead", func(r benchResult) any { return r.paced.wire })
	row("  asked again / failed / delivered", func(r benchResult) any {
		return fmt.Sprintf("%d / %d / %d", r.paced.askedAgain, r.paced.failed, r.pacedDelivered)
	})
	row("  daemon CPU", func(r benchResult) any { return r.pacedCPU })
	fmt.Fprintf(w, "\n  (b) unpaced burst, %d hosts\n", benchBurst)
	row("  sent in", func(r benchResult) any {
		return fmt.Sprintf("%v (%d refused)", r.burstSendTook.Round(time.Millisecond), benchBurst-r.burstSent)
	})
	row("  turnaround p50 / p99 (last request)", func(r benchResult) any { return demoPcts(r.burst.turnaround) })
	row("  send to arrival p50 / p99 / max", func(r benchResult) any {
		if len(r.burstLatency) == 0 {
			return "-"
		}
		return demoPcts(r.burstLatency) + " / " + demoDur(demoPercentile(r.burstLatency, 100))
	})
	row("  answered from the cache", func(r benchResult) any { return r.burst.answered })
	row("  asked again (>1 request)", func(r benchResult) any { return r.burst.askedAgain })
	row("  kernel requests in all", func(r benchResult) any { return r.burst.requests })
	row("  failed (kernel gave up)", func(r benchResult) any { return r.burst.failed })
	row("  not delivered", func(r benchResult) any { return r.burstSent - r.burstDelivered })
	row("  daemon CPU (per answer)", func(r benchResult) any {
		if r.burst.answered == 0 {
			return r.burstCPU
		}
		return fmt.Sprintf("%v (%.1f µs)", r.burstCPU, float64(r.burstCPU.Microseconds())/float64(r.burst.answered))
	})
	row("  monitor lag p50 / p99 (send to request)", func(r benchResult) any { return demoPcts(r.burst.lag) })
	fmt.Fprintln(w)
	row("peak RSS (VmHWM)", func(r benchResult) any { return fmt.Sprintf("%d KiB", r.peakRSS) })
	row("netlink overruns seen / dumps (own counters)", func(r benchResult) any {
		if r.counters == nil {
			return "not reported"
		}
		return fmt.Sprintf("%d / %d", r.counters["nl_overruns"], r.counters["redumps"])
	})
	row("requests received / answered / errors (own)", func(r benchResult) any {
		if r.counters == nil {
			return "not reported"
		}
		return fmt.Sprintf("%d / %d / %d", r.counters["app_recv"], r.counters["app_success"], r.counters["answer_errors"])
	})
	row("monitor: answers read before their request", func(r benchResult) any {
		return fmt.Sprintf("%d + %d (counted as 0 µs)", r.paced.outOfOrder, r.burst.outOfOrder)
	})
	row("monitor: requests never settled (a) + (b)", func(r benchResult) any {
		return fmt.Sprintf("%d + %d", r.paced.unresolved, r.burst.unresolved)
	})
	row("monitor overruns (figures incomplete if >0)", func(r benchResult) any { return r.monitorOverruns })
	fmt.Fprintf(w, "\n  turnaround (monitor): the kernel's RTM_GETNEIGH to the RTM_NEWNEIGH answer for that host, both\n")
	fmt.Fprintf(w, "  read by a netlink monitor in the near namespace, at the times it read them (netlink has no\n")
	fmt.Fprintf(w, "  timestamps). NB: on 2 CPUs the monitor often runs only after the daemon has answered, so this\n")
	fmt.Fprintf(w, "  can read far too low (a few µs); in the burst it reads both late (its lag is shown).\n")
	fmt.Fprintf(w, "  send to arrival (kernel stamps): from just before sendto (which makes the request) to the far\n")
	fmt.Fprintf(w, "  side's SO_TIMESTAMPNS receive stamp of the datagram, which leaves inside the daemon's answer;\n")
	fmt.Fprintf(w, "  scheduling of the monitor and sink does not enter. It includes the kernel's 1 s retries.\n")
	fmt.Fprintf(w, "  CPU is utime+stime from /proc/<pid>/stat (10 ms ticks); (a) includes reading five flushes.\n\n")
}

// demoKernel returns the kernel release.
func demoKernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
