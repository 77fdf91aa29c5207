package lab

// The benchmark's table: one column per daemon, their ratio, and the
// targets.

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

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
	fmt.Fprintf(w, "\nlab benchmark (make bench-lab): %s hosts; this arpd run as `arpd -F %s -b <file> vnear`,\n", thousands(n), strings.Join(blDaemonFlags(n, true), " "))
	fmt.Fprintf(w, "iproute2's as `arpd %s -b <file> vnear`, the kernel alone with app_solicit 0 and mcast_solicit 3,\n", strings.Join(blDaemonFlags(n, false), " "))
	fmt.Fprintf(w, "each in a lab of its own, gc_thresh2/3 raised to %d/%d; machine: %d CPUs, load average %s, kernel %s\n\n",
		blRaisedFor(n, 2), blRaisedFor(n, 3), runtime.NumCPU(), loadAvg(), kernelRelease())
	blTable(w, rs, n, paced)
	fmt.Fprintln(w)
	blMemoryTable(w, rs, n)
	fmt.Fprintln(w)
	blCounters(w, rs)
	blNotes(w, rs, pin)
	blBreakdowns(w, rs)
	fmt.Fprintln(w)
	if blFind(rs, "this arpd") != nil {
		blTargets(w, rs, n)
	}
}

// blDur returns a row's value for a duration: how it is shown, the number
// its ratio is taken of, and whether it has one (the f of a blRow).
func blDur(d time.Duration) (string, float64, bool) { return formatDur(d), d.Seconds(), d > 0 }

// blPct is blDur for the q-th percentile of d, with none for no samples.
func blPct(d []time.Duration, q float64) (string, float64, bool) {
	if len(d) == 0 {
		return "-", 0, false
	}
	return blDur(percentile(d, q))
}

// blCount is blDur for a count.
func blCount(v int) (string, float64, bool) { return strconv.Itoa(v), float64(v), true }

// blKiB is blDur for a size in KiB, shown in MiB.
func blKiB(v int64) (string, float64, bool) {
	return fmt.Sprintf("%.1f MiB", float64(v)/1024), float64(v), v > 0
}

// blRows returns the table's rows, phase by phase.
func blRows() []blRow {
	var rows []blRow
	for ph := range blPhases {
		if ph == blRestart {
			rows = append(rows, blRow{"startup (exec to app_solicit set)", ph, func(p *blPhase) (string, float64, bool) { return blDur(p.startup) }})
		}
		rows = append(rows, blPhaseRows(ph, ph != blPacedPhase)...)
		rows = append(rows, blWireRows(ph)...)
	}
	return rows
}

// blWireRows returns the IPv4 table's rows of the wire and the kernel's
// memory, for phase ph.
func blWireRows(ph int) []blRow {
	return []blRow{
		{"ARP broadcasts on the wire", ph, func(p *blPhase) (string, float64, bool) {
			if p.bcasts < 0 {
				return "-", 0, false
			}
			return blCount(p.bcasts)
		}},
		{"kernel table entries at the end", ph, func(p *blPhase) (string, float64, bool) { return blCount(p.tableEnd) }},
		{"kernel kmalloc objects grown", ph, func(p *blPhase) (string, float64, bool) {
			if p.slabGrown == -1 {
				return "-", 0, false
			}
			return fmt.Sprintf("%.2f MB", float64(p.slabGrown)/1e6), float64(p.slabGrown), p.slabGrown > 0
		}},
		{"file resident (smaps)", ph, func(p *blPhase) (string, float64, bool) {
			return fmt.Sprintf("%.2f MB", float64(p.fileRes)/1e6), float64(p.fileRes), p.fileRes > 0
		}},
	}
}

// blPhaseRows returns the rows every phase has, for phase ph; a burst
// also has its sending time and rate.
func blPhaseRows(ph int, burst bool) []blRow {
	rows := []blRow{
		{"datagrams delivered", ph, func(p *blPhase) (string, float64, bool) {
			return fmt.Sprintf("%d of %d", p.delivered, p.hosts), float64(p.delivered), true
		}},
		{"resolution failed (kernel gave up)", ph, func(p *blPhase) (string, float64, bool) { return blCount(p.mon.failed) }},
		{"answered from the cache", ph, func(p *blPhase) (string, float64, bool) { return blCount(p.mon.answered) }},
		{"hosts asked about more than once", ph, func(p *blPhase) (string, float64, bool) { return blCount(p.mon.askedAgain) }},
	}
	if burst {
		rows = append(rows,
			blRow{"sent in", ph, func(p *blPhase) (string, float64, bool) { return blDur(p.sendTook) }},
			blRow{"first send to last arrival", ph, func(p *blPhase) (string, float64, bool) { return blDur(p.took) }},
			blRow{"resolutions per second", ph, func(p *blPhase) (string, float64, bool) {
				return fmt.Sprintf("%.0f", p.rate()), p.rate(), p.rate() > 0
			}},
		)
	}
	return append(rows,
		blRow{"request to valid p50", ph, func(p *blPhase) (string, float64, bool) { return blPct(p.turnaround, 50) }},
		blRow{"request to valid p99", ph, func(p *blPhase) (string, float64, bool) { return blPct(p.turnaround, 99) }},
		blRow{"send to valid p99", ph, func(p *blPhase) (string, float64, bool) { return blPct(p.sendValid, 99) }},
		blRow{"daemon CPU", ph, func(p *blPhase) (string, float64, bool) {
			return p.cpu.String(), p.cpu.Seconds(), p.cpu > 0
		}},
		blRow{"peak RSS (VmHWM)", ph, func(p *blPhase) (string, float64, bool) { return blKiB(p.hwm) }},
		blRow{"anonymous RSS (RssAnon)", ph, func(p *blPhase) (string, float64, bool) { return blKiB(p.anon) }},
		blRow{"file size", ph, func(p *blPhase) (string, float64, bool) {
			return fmt.Sprintf("%.1f MiB", float64(p.fileSize)/(1<<20)), float64(p.fileSize), p.fileSize > 0
		}},
	)
}

// blTable prints the rows, one column per run and, beside this arpd's
// (the first), its ratio to each other run's, under the title of each
// phase. A phase a run did not run, and a daemon's row for the kernel
// alone, show "-".
func blTable(w io.Writer, rs []blResult, n, paced int) {
	blHeader(w, rs)
	last := -1
	for _, row := range blRows() {
		if row.phase != last {
			last = row.phase
			fmt.Fprintf(w, "  %s\n", blPhaseTitle(row.phase, n, paced))
		}
		fmt.Fprintf(w, "    %-38s", row.label)
		vs := make([]float64, len(rs))
		oks := make([]bool, len(rs))
		for i := range rs {
			p := &rs[i].phase[row.phase]
			show := "-"
			if p.ran && !(rs[i].name == blKernelAlone && bl6DaemonRow(row.label)) {
				show, vs[i], oks[i] = row.f(p)
			}
			fmt.Fprintf(w, " %18s", show)
		}
		blRatios(w, vs, oks)
		fmt.Fprintln(w)
	}
}

// blHeader prints the columns' names and, for each run after the first,
// a ratio column.
func blHeader(w io.Writer, rs []blResult) {
	fmt.Fprintf(w, "  %-40s", "")
	for _, r := range rs {
		fmt.Fprintf(w, " %18s", r.name)
	}
	for _, r := range rs[min(1, len(rs)):] {
		fmt.Fprintf(w, " %12s", "÷ "+strings.TrimSuffix(r.name, " arpd"))
	}
	fmt.Fprintln(w)
}

// blRatios prints the first value's ratio to each other one, where both
// have a value.
func blRatios(w io.Writer, vs []float64, oks []bool) {
	for i := 1; i < len(vs); i++ {
		if oks[0] && oks[i] && vs[i] != 0 {
			fmt.Fprintf(w, " %11.2f×", vs[0]/vs[i])
		} else {
			fmt.Fprintf(w, " %12s", "")
		}
	}
}

// blCounters prints, for each daemon, what the monitor and the trace lost
// and the daemon's own counters where it has them.
func blCounters(w io.Writer, rs []blResult) {
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
			if r.counters["app_recv6"] > 0 {
				fmt.Fprintf(w, " app_recv6=%d probes_sent6=%d", r.counters["app_recv6"], r.counters["probes_sent6"])
			}
		}
		fmt.Fprintln(w)
	}
}

// blNotes prints what the figures mean.
func blNotes(w io.Writer, rs []blResult, pin bool) {
	how := "the kernel's own stamps: tracepoint neigh_create (made in the call that\n" +
		"  makes the request, just before it) to neigh_update from INCOMPLETE to a valid state (the answer or\n" +
		"  an ARP reply arrives), on the mono clock"
	if len(rs) > 0 && !rs[0].phase[blPacedPhase].traced {
		how = "the send call's return (the kernel makes its request inside it) to the\n" +
			"  far side's receive stamp (SO_TIMESTAMPNS) of the datagram, which leaves when the entry becomes\n" +
			"  valid (no kernel tracing here)"
	}
	fmt.Fprintf(w, "\n  request to valid: %s. send to valid: from just before\n", how)
	fmt.Fprintf(w, "  the sendmmsg (16 hosts each in a burst) to the far side's receive stamp of the datagram. Both count from the first request,\n")
	fmt.Fprintf(w, "  so they include the kernel's 1 s retries. The counts of answers, retries and failures come from\n")
	fmt.Fprintf(w, "  a netlink listener that polls (a waiting one would be woken inside each request). CPU: utime+stime of the\n")
	fmt.Fprintf(w, "  daemon (10 ms ticks). Memory: /proc/<pid>/status at the end of the phase (VmHWM is the peak\n")
	fmt.Fprintf(w, "  so far; a restart starts it again). ÷: this arpd's figure over the other column's. Broadcasts: ARP\n")
	fmt.Fprintf(w, "  requests to ff:ff:ff:ff:ff:ff that reached the far side. Kernel kmalloc objects grown: active objects\n")
	fmt.Fprintf(w, "  times their size in the kmalloc caches of /proc/slabinfo (a neighbour entry is one in kmalloc-512), from\n")
	fmt.Fprintf(w, "  the first send to the end of the phase; the whole machine's, so other jobs add noise of a few hundred kB.\n")
	fmt.Fprintf(w, "  File resident: Rss of the daemon's mappings of its file (/proc/<pid>/smaps).\n")
	if pin {
		fmt.Fprintf(w, "  ARPD_BENCH_PIN=1: the test ran on CPU 0, each daemon on CPU 1.\n")
	}
}

// blBreakdowns prints, for each daemon with a scheduler trace
// (ARPD_BENCH_SCHEDTRACE), where a request's time went one at a time.
func blBreakdowns(w io.Writer, rs []blResult) {
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
			fmt.Fprintf(w, "    %-52s %s\n", what, pcts(p.breakdown[k]))
		}
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
	case blDefaultTable:
		return fmt.Sprintf("default table: gc_thresh2/3 at 512/1024, link down and up; a burst to %d hosts", min(n, blDefaultHosts))
	}
	return "flushed: ip neigh flush while the daemon runs; the same burst"
}
