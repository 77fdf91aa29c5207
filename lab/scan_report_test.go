package lab

// What one scan-lab setup measured, the table of all setups side by side
// with the targets of issue 10, and the small mode's checks.

import (
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scanResult is what one setup's run measured.
type scanResult struct {
	setup                    *scanSetup
	order                    string
	warmKnown                int // known hosts in the router's table after the warm-up
	scanSent, scanErrs, skip int
	rate                     float64       // scan datagrams per second, as sent
	window                   time.Duration // the scan's length: T of the broadcast limit
	liveErrs                 int
	knownSent, knownGot      int
	freshSent, freshGot      int
	reach                    []time.Duration // by new host reached: its first send to its first arrival
	never                    int             // new hosts never reached
	tableFulls               int64
	broadcasts, unicast      int               // the router's ARP requests on the segment, the broadcasts within the scan's window
	dead                     int               // scan datagrams that reached the segment
	replies                  int               // ARP requests for live hosts, answered by the responder
	cpu                      time.Duration     // the daemon's, over the scan and the drain; -1 without one
	counters                 map[string]uint64 // this arpd's, growth during the run
	out                      string            // the daemon's output
}

// measure fills r from what the sender sent and the responder saw.
func (r *scanResult) measure(cfg *scanConfig, snd *scanSender, resp *responder) {
	c := resp.counts(snd.from, snd.to)
	r.broadcasts, r.unicast, r.dead, r.replies = c.broadcasts, c.unicast, c.dead, c.replies
	r.scanSent, r.scanErrs, r.skip, r.liveErrs = snd.scanSent, snd.scanErrs, snd.skipped, snd.liveErrs
	r.rate, r.window = snd.achieved(), snd.to-snd.from
	first := make([]time.Duration, cfg.fresh)   // each new host's first send
	reached := make([]time.Duration, cfg.fresh) // and first arrival
	for k, at := range snd.liveAt {
		h := k % cfg.live()
		if at == 0 {
			continue // not sent: counted in liveErrs
		}
		got := c.got[k]
		if h < cfg.known {
			r.knownSent++
			if got != 0 {
				r.knownGot++
			}
			continue
		}
		r.freshSent++
		i := h - cfg.known
		if first[i] == 0 {
			first[i] = at
		}
		if got != 0 {
			r.freshGot++
			if reached[i] == 0 || got < reached[i] {
				reached[i] = got
			}
		}
	}
	for i := range reached {
		if reached[i] == 0 {
			r.never++
			continue
		}
		r.reach = append(r.reach, reached[i]-first[i])
	}
}

// The targets of issue 10, by result: whether it met them, and what to
// print.
func (r *scanResult) fullsOK() bool { return r.tableFulls == 0 }
func (r *scanResult) knownOK() bool { return r.knownSent > 0 && r.knownGot*1000 >= r.knownSent*999 }
func (r *scanResult) freshOK() bool {
	return r.never == 0 && len(r.reach) > 0 && slices.Max(r.reach) <= 3*time.Second
}

// limit returns B + R·T for the run, or -1 when the setup has none.
func (r *scanResult) limit() float64 {
	if r.setup.rate == 0 {
		return -1
	}
	return r.setup.burst + r.setup.rate*r.window.Seconds()
}

// scanReport writes the table of one order's results rs, then the
// targets, then this arpd's counters.
func scanReport(w io.Writer, cfg *scanConfig, order string, rs []scanResult) {
	fmt.Fprintf(w, "### make scan-lab: scan order %s, %s datagrams/s for %v into %s\n\n",
		order, thousands(cfg.rate), cfg.dur, cfg.segment())
	table := "arp_cache"
	if cfg.v6 {
		table = "ndisc_cache"
	}
	fmt.Fprintf(w, "Linux %s, %d CPUs, load %s; %s gc_thresh1/2/3 %s; %d known and %d new live hosts, one datagram a second each, from the scanner's side; seed %d.\n\n",
		kernelRelease(), runtime.NumCPU(), loadAvg(), table, gcThreshNote(cfg.v6), cfg.known, cfg.fresh, cfg.seed)
	header := "| |"
	rule := "| --- |"
	for _, r := range rs {
		header += " " + r.setup.name + " |"
		rule += " --- |"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, rule)
	for _, row := range scanRows(cfg) {
		line := "| " + row.name + " |"
		for i := range rs {
			line += " " + row.cell(cfg, &rs[i]) + " |"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	scanTargets(w, rs, header, rule)
	for _, r := range rs {
		if r.counters != nil {
			fmt.Fprintf(w, "%s's counters, growth during the run (arpd -s): %s\n\n", r.setup.name, counterLine(r.counters))
		}
	}
}

// scanRow is one row of the table.
type scanRow struct {
	name string
	cell func(cfg *scanConfig, r *scanResult) string
}

// scanRows returns the rows of cfg's table; over IPv6 the router's
// requests are Neighbor Solicitations, its broadcasts multicast ones.
func scanRows(cfg *scanConfig) []scanRow {
	bcasts, requests := "ARP broadcasts", "ARP requests"
	if cfg.v6 {
		bcasts, requests = "multicast NS", "NS"
	}
	return []scanRow{
		{"command", func(_ *scanConfig, r *scanResult) string {
			if r.setup.start == nil {
				return "none (app_solicit 0, mcast_solicit 3)"
			}
			return "`arpd " + strings.Join(r.setup.args, " ") + "`"
		}},
		{"scan datagrams sent (rate achieved)", func(_ *scanConfig, r *scanResult) string {
			s := fmt.Sprintf("%s (%s/s)", thousands(r.scanSent), thousands(int(r.rate+0.5)))
			if r.skip+r.scanErrs > 0 {
				s += fmt.Sprintf(", %d left out, %d refused", r.skip, r.scanErrs)
			}
			return s
		}},
		{"known hosts in the router's table after the warm-up", func(cfg *scanConfig, r *scanResult) string {
			return fmt.Sprintf("%d of %d", r.warmKnown, cfg.known)
		}},
		{"datagrams to known hosts delivered", func(_ *scanConfig, r *scanResult) string { return ofPct(r.knownGot, r.knownSent) }},
		{"datagrams to new hosts delivered", func(_ *scanConfig, r *scanResult) string { return ofPct(r.freshGot, r.freshSent) }},
		{"new host first reached: median / p99 / max", func(_ *scanConfig, r *scanResult) string {
			if len(r.reach) == 0 {
				return "-"
			}
			return pcts(r.reach) + " / " + formatDur(slices.Max(r.reach))
		}},
		{"new hosts never reached", func(cfg *scanConfig, r *scanResult) string { return fmt.Sprintf("%d of %d", r.never, cfg.fresh) }},
		{"`table_fulls` growth", func(_ *scanConfig, r *scanResult) string { return thousands(int(r.tableFulls)) }},
		{bcasts + " on the segment during the scan", func(_ *scanConfig, r *scanResult) string {
			return fmt.Sprintf("%s in %.1f s", thousands(r.broadcasts), r.window.Seconds())
		}},
		{"broadcast limit B + R·T", func(_ *scanConfig, r *scanResult) string {
			if r.limit() < 0 {
				return "none"
			}
			return fmt.Sprintf("%g + %g × %.1f = %.0f", r.setup.burst, r.setup.rate, r.window.Seconds(), r.limit())
		}},
		{"unicast " + requests + " (scan and drain)", func(_ *scanConfig, r *scanResult) string { return thousands(r.unicast) }},
		{requests + " for live hosts answered", func(_ *scanConfig, r *scanResult) string { return thousands(r.replies) }},
		{"daemon CPU (scan and drain)", func(_ *scanConfig, r *scanResult) string {
			if r.cpu < 0 {
				return "-"
			}
			return formatDur(r.cpu)
		}},
	}
}

// scanTargets writes the targets of issue 10, pass or fail for each
// result.
func scanTargets(w io.Writer, rs []scanResult, header, rule string) {
	fmt.Fprintln(w, strings.Replace(header, "| |", "| target |", 1))
	fmt.Fprintln(w, rule)
	targets := []struct {
		name string
		eval func(r *scanResult) string
	}{
		{"`table_fulls` grows by 0", func(r *scanResult) string { return passFail(r.fullsOK(), thousands(int(r.tableFulls))) }},
		{"≥ 99.9% of datagrams to known hosts delivered", func(r *scanResult) string {
			return passFail(r.knownOK(), pct(r.knownGot, r.knownSent))
		}},
		{"every new host reached within 3 s", func(r *scanResult) string {
			if len(r.reach) == 0 {
				return passFail(false, "none reached")
			}
			return passFail(r.freshOK(), fmt.Sprintf("max %s, %d never", formatDur(slices.Max(r.reach)), r.never))
		}},
		{"broadcasts ≤ B + R·T", func(r *scanResult) string {
			if r.limit() < 0 {
				return "n/a (no limit)"
			}
			ok := float64(r.broadcasts) <= r.limit()
			rel := map[bool]string{true: "≤", false: ">"}[ok]
			return passFail(ok, fmt.Sprintf("%s %s %.0f", thousands(r.broadcasts), rel, r.limit()))
		}},
	}
	for _, tg := range targets {
		line := "| " + tg.name + " |"
		for i := range rs {
			line += " " + tg.eval(&rs[i]) + " |"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
}

func passFail(ok bool, detail string) string {
	if ok {
		return "pass (" + detail + ")"
	}
	return "**FAIL** (" + detail + ")"
}

// ofPct formats "got of sent (p%)".
func ofPct(got, sent int) string {
	return fmt.Sprintf("%s of %s (%s)", thousands(got), thousands(sent), pct(got, sent))
}

func pct(got, sent int) string {
	if sent == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(got)/float64(sent))
}

// thousands formats v with commas between groups of three digits.
func thousands(v int) string {
	s := strconv.Itoa(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// counterLine formats counters as "name value, ..." in name order.
func counterLine(c map[string]uint64) string {
	if len(c) == 0 {
		return "none grew"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// gcThreshNote returns gc_thresh1/2/3 of the IPv4 table, or the IPv6 one
// for v6, as they are now.
func gcThreshNote(v6 bool) string {
	dir := "/proc/sys/net/ipv4/neigh/default/"
	if v6 {
		dir = "/proc/sys/net/ipv6/neigh/default/"
	}
	var v []string
	for _, k := range []string{"gc_thresh1", "gc_thresh2", "gc_thresh3"} {
		b, err := os.ReadFile(dir + k)
		if err != nil {
			return "?"
		}
		v = append(v, strings.TrimSpace(string(b)))
	}
	return strings.Join(v, "/")
}

// scanCheck checks, in the small mode, what the harness measures of one
// order's results rs (the kernel alone, then this arpd), not the
// daemon's targets: every datagram sent at the pace, the warm-up in the
// router's table, no scan datagram on the segment, and, from the kernel
// alone, with the table far from full, every known host's datagrams
// counted, new hosts reached and broadcasts counted.
func scanCheck(t *testing.T, cfg *scanConfig, rs []scanResult) {
	t.Helper()
	want := cfg.rate * int(cfg.dur/time.Second)
	for i := range rs {
		r := &rs[i]
		name := r.order + "/" + r.setup.name
		if r.scanSent < want*9/10 || r.liveErrs > 0 || r.knownSent+r.freshSent != cfg.rounds()*cfg.live() {
			t.Errorf("%s: sent %d of %d scan datagrams, %d of %d live ones (%d refused)",
				name, r.scanSent, want, r.knownSent+r.freshSent, cfg.rounds()*cfg.live(), r.liveErrs)
		}
		if r.warmKnown != cfg.known {
			t.Errorf("%s: %d of %d known hosts in the router's table after the warm-up", name, r.warmKnown, cfg.known)
		}
		if r.dead != 0 {
			t.Errorf("%s: %d datagrams to dead addresses reached the segment", name, r.dead)
		}
		if len(r.reach)+r.never != cfg.fresh {
			t.Errorf("%s: %d new hosts reached and %d never, of %d", name, len(r.reach), r.never, cfg.fresh)
		}
		if r.setup.stats && r.counters["app_recv"] == 0 {
			t.Errorf("%s: no kernel request reached the daemon: counters %v; output: %s", name, r.counters, r.out)
		}
	}
	k := &rs[0]
	if k.tableFulls > 0 {
		t.Logf("the kernel's table was full during the run (%d refusals; other labs share it): not checking the kernel alone's deliveries", k.tableFulls)
		return
	}
	if k.knownGot != k.knownSent || k.freshGot == 0 || k.never != 0 || k.broadcasts == 0 {
		t.Errorf("kernel alone: known %d of %d delivered, new %d of %d (%d never reached), %d broadcasts; want all known, every new host reached, broadcasts counted",
			k.knownGot, k.knownSent, k.freshGot, k.freshSent, k.never, k.broadcasts)
	}
}

// scanCheckReport checks that the report names every setup that ran
// (ran, by name), every row and every target.
func scanCheckReport(t *testing.T, report string, ran []string) {
	t.Helper()
	want := []string{"table_fulls", "new host first reached", "broadcasts ≤ B + R·T", "daemon CPU"}
	for _, name := range ran {
		want = append(want, "| "+name+" |")
		if name == "this arpd" {
			want = append(want, "counters, growth")
		}
	}
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("the report has no %q", w)
		}
	}
}
