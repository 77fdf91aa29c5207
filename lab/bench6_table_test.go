package lab

// The benchmark's IPv6 table: the kernel alone and this arpd over IPv6,
// this arpd's IPv4 figures beside them, and the targets of issue 11.

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// bl6Column is one column of the IPv6 table: a run and its heading.
type bl6Column struct {
	head string
	r    *blResult
}

// bl6Report prints the IPv6 table of rs6 (the kernel alone, this arpd)
// with this arpd's IPv4 run among rs4 beside it, what the figures mean,
// and the targets.
func bl6Report(w io.Writer, rs6, rs4 []blResult, n int) {
	var cols []bl6Column
	for i := range rs6 {
		cols = append(cols, bl6Column{rs6[i].name + " v6", &rs6[i]})
	}
	v4 := blFind(rs4, "this arpd")
	if v4 != nil {
		cols = append(cols, bl6Column{"this arpd v4", v4})
	}
	setup := time.Duration(0)
	if len(rs6) > 0 {
		setup = rs6[0].setup
	}
	fmt.Fprintf(w, "\nlab benchmark, IPv6: %d hosts in fd79::/64 (nodad addresses on the far side, added in %s), each setup\n", n, formatDur(setup))
	fmt.Fprintf(w, "in a lab of its own; this arpd run as for IPv4 (`arpd -F %s -b <file> vnear`, with GOGC=1\n", strings.Join(blFlags, " "))
	fmt.Fprintf(w, "GODEBUG=gctrace=1), the kernel alone with app_solicit 0 and mcast_solicit 3. iproute2's arpd\n")
	fmt.Fprintf(w, "resolves IPv4 only: it has no IPv6 column.\n\n")
	bl6Table(w, cols, n)
	fmt.Fprintln(w)
	blCounters(w, rs6)
	fmt.Fprintf(w, "\n  request to valid: tracepoint neigh_create to neigh_update from INCOMPLETE, family AF_INET6, as for\n")
	fmt.Fprintf(w, "  IPv4. on a CPU: the run time of the daemon's threads from /proc/<pid>/task/*/schedstat (ns, unlike\n")
	fmt.Fprintf(w, "  daemon CPU's 10 ms ticks); per answer: over the hosts answered from its cache.\n")
	fmt.Fprintf(w, "  collections: gctrace lines logged during the phase. At GOGC=1 a build of this arpd that allocated\n")
	fmt.Fprintf(w, "  48 bytes per IPv6 answer showed one in each burst of 20,000 (about 1 MB); none without.\n")
	fmt.Fprintf(w, "  resolutions per second: where \"sent in\" is about \"first send to last arrival\", the burst was\n")
	fmt.Fprintf(w, "  answered as fast as the one sending socket made its requests: the rate is the sender's.\n\n")
	if us := blFind(rs6, "this arpd"); us != nil {
		bl6Targets(w, us, v4, n)
	} else {
		fmt.Fprintf(w, "  targets: no IPv6 run of this arpd (it does not resolve IPv6): none checked\n\n")
	}
}

// bl6Table prints the rows of the IPv6 phases, one column per run.
func bl6Table(w io.Writer, cols []bl6Column, n int) {
	fmt.Fprintf(w, "  %-40s", "")
	for _, c := range cols {
		fmt.Fprintf(w, " %18s", c.head)
	}
	fmt.Fprintln(w)
	for _, ph := range bl6Phases {
		fmt.Fprintf(w, "  %s\n", bl6PhaseTitle(ph, n))
		rows := blPhaseRows(ph, true)
		rows = append(rows,
			blRow{"daemon on a CPU (schedstat)", ph, func(p *blPhase) (string, float64, bool) {
				if p.run > 0 {
					return formatDur(p.run), p.run.Seconds(), true
				}
				return "-", 0, false
			}},
			blRow{"  per answer from the cache", ph, func(p *blPhase) (string, float64, bool) {
				if v := cpuPerAnswer(p); v > 0 {
					return fmt.Sprintf("%.1f µs", float64(v)/1e3), v.Seconds(), true
				}
				return "-", 0, false
			}},
			blRow{"collections (gctrace)", ph, func(p *blPhase) (string, float64, bool) { return blCount(p.gcs) }})
		for _, row := range rows {
			fmt.Fprintf(w, "    %-38s", row.label)
			for _, c := range cols {
				show, _, _ := row.f(&c.r.phase[ph])
				if (c.r.name == "kernel alone" && bl6DaemonRow(row.label)) || (!c.r.gctrace && strings.HasPrefix(row.label, "collections")) {
					show = "-"
				}
				fmt.Fprintf(w, " %18s", show)
			}
			fmt.Fprintln(w)
		}
	}
}

// bl6DaemonRow reports whether a row is about a daemon's process, which
// the kernel alone has none of.
func bl6DaemonRow(label string) bool {
	for _, p := range []string{"daemon", "  per answer", "peak RSS", "anonymous RSS", "file size", "file resident", "collections", "answered from the cache"} {
		if strings.HasPrefix(label, p) {
			return true
		}
	}
	return false
}

// bl6PhaseTitle describes IPv6 phase ph.
func bl6PhaseTitle(ph, n int) string {
	switch ph {
	case blCold:
		return fmt.Sprintf("cold: a datagram to each of %d hosts, empty cache", n)
	case blWarm:
		return "warm: link down and up, a daemon keeps its cache; the same burst"
	}
	return "flushed: ip -6 neigh flush while the daemon runs; the same burst"
}

// cpuPerAnswer returns a phase's daemon time on a CPU (schedstat) over
// the hosts answered from its cache, or 0 without either.
func cpuPerAnswer(p *blPhase) time.Duration {
	if p.mon.answered == 0 || p.run <= 0 {
		return 0
	}
	return p.run / time.Duration(p.mon.answered)
}

// bl6Targets prints issue 11's targets for this arpd's IPv6 run us, beside
// its IPv4 run v4 (nil when IPv4 did not run).
func bl6Targets(w io.Writer, us, v4 *blResult, n int) {
	line := func(what, got string, ok bool) {
		verdict := "MISSED"
		if ok {
			verdict = "met"
		}
		fmt.Fprintf(w, "    %-56s %-28s %s\n", what, got, verdict)
	}
	fmt.Fprintf(w, "  targets (this arpd, IPv6):\n")
	c := &us.phase[blCold]
	line(fmt.Sprintf("cold: all %d resolved, none failed", n), fmt.Sprintf("%d resolved, %d failed", c.delivered, c.hosts-c.delivered),
		c.delivered == n)
	wm := &us.phase[blWarm]
	line("warm: every host answered from the cache, none twice", fmt.Sprintf("%d answered, %d asked again", wm.mon.answered, wm.mon.askedAgain),
		wm.mon.answered == n && wm.mon.askedAgain == 0)
	gcs := wm.gcs + us.phase[blFlushed].gcs
	line("warm, flushed: 0 allocations per request (no collection)", fmt.Sprintf("%d collections", gcs), gcs == 0)
	if v4 == nil {
		fmt.Fprintf(w, "    (no IPv4 run: the targets relative to IPv4 are not checked)\n\n")
		return
	}
	w4 := &v4.phase[blWarm]
	line("warm: resolutions per second within 20% of IPv4's", fmt.Sprintf("%.0f vs %.0f/s (%+.0f%%)", wm.rate(), w4.rate(), 100*(wm.rate()/w4.rate()-1)),
		w4.rate() > 0 && wm.rate() >= 0.8*w4.rate())
	c6, c4 := cpuPerAnswer(wm), cpuPerAnswer(w4)
	d := c6 - c4
	line("warm: CPU per answer the same as IPv4's (±20%)", fmt.Sprintf("%v vs %v", c6.Round(10*time.Nanosecond), c4.Round(10*time.Nanosecond)),
		c6 > 0 && c4 > 0 && max(d, -d) <= c4/5)
	fmt.Fprintln(w)
}
