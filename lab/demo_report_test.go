package lab

// The demo's report: one column per pass, the daemon's counters, and what
// the figures mean.

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// demoReport prints the report of the passes p1 and p2 of r, with final
// the daemon's counters at the end, overruns the monitor's and capNote
// what happened to the kernel table's cap.
func demoReport(w io.Writer, r *demoRig, capNote string, p1, p2 demoPassResult, final map[string]uint64, overruns int) {
	fmt.Fprintf(w, "\narpd demo, %s: %d hosts on a veth segment, arpd %s\n", r.l.familyName(), r.l.n, strings.Join(r.args, " "))
	fmt.Fprintf(w, "kernel table cap gc_thresh3 = %s; %d datagrams a second, one per host\n\n", capNote, demoRate)
	row := func(name string, a, b any) { fmt.Fprintf(w, "  %-38s %-18v %v\n", name, a, b) }
	row("", "pass 1: cold", "pass 2: after ip neigh flush")
	row("hosts", p1.hosts, p2.hosts)
	row("datagrams delivered", p1.delivered, p2.delivered)
	row("answered from the cache", p1.answered, p2.answered)
	reply, probes := "resolved by an ARP reply", "broadcasts sent (arpd)"
	if r.l.v6 {
		reply, probes = "resolved by a Neighbor Advertisement", "solicitations sent (arpd)"
	}
	row(reply, p1.wire, p2.wire)
	row(probes, p1.probes, p2.probes)
	row("failures", p1.hosts-p1.delivered, p2.hosts-p2.delivered)
	row("  of which refused sends", p1.sendErrors, p2.sendErrors)
	row("  of which resolution failed", p1.failed, p2.failed)
	row("kernel asked again (>1 request)", p1.askedAgain, p2.askedAgain)
	row("kernel table: peak / at end", fmt.Sprintf("%d / %d", p1.peakTable, p1.tableAtEnd), fmt.Sprintf("%d / %d", p2.peakTable, p2.tableAtEnd))
	row("turnaround p50 / p99", pcts(p1.turnaround), pcts(p2.turnaround))
	row("first packet: send to arrival p50 / p99", pcts(p1.latency), pcts(p2.latency))
	row("pass took", p1.took.Round(100*time.Millisecond), p2.took.Round(100*time.Millisecond))
	fmt.Fprintf(w, "\n  arpd cache entries: %d (capacity %d)\n", final["entries"], final["capacity"])
	fmt.Fprintf(w, "  arpd counters: app_recv=%d app_success=%d probes_sent=%d probes_suppressed=%d probe_errors=%d kern_neg=%d nl_overruns=%d answer_errors=%d\n",
		final["app_recv"], final["app_success"], final["probes_sent"], final["probes_suppressed"], final["probe_errors"], final["kern_neg"], final["nl_overruns"], final["answer_errors"])
	if r.l.v6 {
		fmt.Fprintf(w, "  of them IPv6: app_recv6=%d probes_sent6=%d; neighbour discovery: nd_accepted=%d nd_new=%d\n",
			final["app_recv6"], final["probes_sent6"], final["nd_accepted"], final["nd_new"])
	}
	demoNotes(w, p1.traced, overruns)
	if r.l.v6 {
		fmt.Fprintf(w, "  IPv6: read \"ARP reply\" as the host's Neighbor Advertisement, \"broadcast\" as arpd's multicast\n")
		fmt.Fprintf(w, "  Neighbor Solicitation, and ENOBUFS as EINVAL (ip6_finish_output2's error for a full table).\n")
	}
	if p1.tableFulls+p2.tableFulls > 0 {
		fmt.Fprintf(w, "  the kernel refused %d new neighbours machine-wide (table at gc_thresh3) during the demo.\n", p1.tableFulls+p2.tableFulls)
	}
	fmt.Fprintln(w)
}

// demoNotes prints what the report's figures mean; traced says whether
// the turnarounds are the kernel's own stamps.
func demoNotes(w io.Writer, traced bool, overruns int) {
	fmt.Fprintf(w, "  turnaround: the kernel's request to the entry becoming valid (pass 1: the host's ARP reply to\n")
	fmt.Fprintf(w, "  arpd's broadcast; pass 2: arpd's answer from its cache), ")
	if traced {
		fmt.Fprintf(w, "stamped by the kernel itself (tracepoints\n")
		fmt.Fprintf(w, "  neigh_create to neigh_update). The counts come from a netlink monitor%s.\n", monitorNote(overruns))
	} else {
		fmt.Fprintf(w, "as a netlink monitor%s read them\n", monitorNote(overruns))
		fmt.Fprintf(w, "  (no kernel tracing here; netlink has no timestamps, and the monitor polls every millisecond).\n")
	}
	fmt.Fprintf(w, "  first packet: from sendto to the kernel's receive timestamp (SO_TIMESTAMPNS) of the\n")
	fmt.Fprintf(w, "  datagram on the far side; it left when the address came, so this does not depend on when the\n")
	fmt.Fprintf(w, "  monitor was scheduled.\n")
	fmt.Fprintf(w, "  kernel table: the near side's own table runs at the cap; to make room the kernel drops idle\n")
	fmt.Fprintf(w, "  entries at least 5 s old (neigh_forced_gc), which is why the datagrams are paced and the lab's\n")
	fmt.Fprintf(w, "  interface has short timers (delay_first_probe_time=0, base_reachable_time_ms=100). A refused\n")
	fmt.Fprintf(w, "  send (ENOBUFS) is a host the full table had no room for; arpd cannot help those.\n")
	fmt.Fprintf(w, "  machine: %d CPUs, load average %s (turnaround p99 is at the mercy of the scheduler).\n", runtime.NumCPU(), loadAvg())
}

// demoCapNote returns the kernel table's cap (the IPv6 table's for v6) as
// the report shows it: thresh3, its value before the passes, and whether
// it changed since, or in make demo (full) may have because the global
// lock was busy (locked false).
func demoCapNote(t *testing.T, thresh3 string, full, locked, v6 bool) string {
	t.Helper()
	note := "global, untouched"
	if now := strings.TrimSpace(readFile(t, gcThresh3(v6))); now != thresh3 {
		note = "NB: changed to " + now + " during the demo by something else"
	} else if full && !locked {
		note += "; NB: the global lock was busy, so another test may have changed it meanwhile"
	}
	return thresh3 + " (" + note + ")"
}

// monitorNote says whether the monitor lost messages.
func monitorNote(overruns int) string {
	if overruns == 0 {
		return ", which lost none"
	}
	return fmt.Sprintf(" (NB: it overran %d times, so some hosts are missing from its figures)", overruns)
}

// logWriter writes the report to the test log (for make test).
type logWriter struct{ t *testing.T }

// Write logs b, without its final newlines.
func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
