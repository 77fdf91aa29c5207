package lab

// The benchmark's memory table and the targets of issues 5 and 13.

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// blRaisedFor returns gc_thresh2 (which 2) or gc_thresh3 of a run of n
// hosts alone (blRaised).
func blRaisedFor(n, which int) int {
	t2, t3 := blRaised(n)
	if which == 2 {
		return t2
	}
	return t3
}

// blMemoryTable prints each column's memory for the n hosts (memoryOf)
// and its total, with this arpd's ratio to the others.
func blMemoryTable(w io.Writer, rs []blResult, n int) {
	fmt.Fprintf(w, "  memory for %s hosts: the kernel alone holds each in its table (after the link flap, warm);\n", thousands(n))
	fmt.Fprintf(w, "  a daemon holds each in its file, the kernel's table at its default cap (default table)\n")
	blHeader(w, rs)
	ms := make([]blMemory, len(rs))
	for i := range rs {
		ms[i] = memoryOf(&rs[i])
	}
	mb := func(v int64) (string, float64, bool) {
		return fmt.Sprintf("%.2f MB", float64(v)/1e6), float64(v), v > 0
	}
	rows := []struct {
		label string
		f     func(m blMemory) (string, float64, bool)
	}{
		{"kernel table entries", func(m blMemory) (string, float64, bool) { return blCount(m.entries) }},
		{"kernel memory (kmalloc objects)", func(m blMemory) (string, float64, bool) {
			if m.kernel == -1 {
				return "-", 0, false
			}
			return mb(m.kernel)
		}},
		{"  per entry", func(m blMemory) (string, float64, bool) {
			if m.entries == 0 || m.kernel <= 0 {
				return "-", 0, false
			}
			v := float64(m.kernel) / float64(m.entries)
			return fmt.Sprintf("%.0f B", v), v, true
		}},
		{"daemon RssAnon (largest)", func(m blMemory) (string, float64, bool) { return mb(m.anon) }},
		{"daemon's file resident (largest)", func(m blMemory) (string, float64, bool) { return mb(m.file) }},
		{"total", func(m blMemory) (string, float64, bool) { return mb(m.total()) }},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "    %-38s", row.label)
		vs := make([]float64, len(rs))
		oks := make([]bool, len(rs))
		for i := range rs {
			show := "-"
			if ms[i].ok {
				show, vs[i], oks[i] = row.f(ms[i])
			}
			fmt.Fprintf(w, " %18s", show)
		}
		blRatios(w, vs, oks)
		fmt.Fprintln(w)
	}
}

// blLine prints one target: what it is, what was measured, and whether it
// was met.
func blLine(w io.Writer, what, got string, ok bool) {
	verdict := "MISSED"
	if ok {
		verdict = "met"
	}
	fmt.Fprintf(w, "    %-60s %-28s %s\n", what, got, verdict)
}

// blTargets prints issue 5's and issue 13's targets and whether this arpd
// met them, beside the kernel alone and iproute2's arpd where a target is
// relative to them.
func blTargets(w io.Writer, rs []blResult, n int) {
	us := blFind(rs, "this arpd")
	fmt.Fprintf(w, "  targets (this arpd, %s hosts):\n", thousands(n))
	c := &us.phase[blCold]
	blLine(w, fmt.Sprintf("cold: all %d resolved, none failed", n), fmt.Sprintf("%d resolved, %d failed", c.delivered, c.hosts-c.delivered),
		c.delivered == n)
	wm := &us.phase[blWarm]
	if them := blFind(rs, "iproute2 arpd"); them != nil {
		r := them.phase[blWarm].rate()
		blLine(w, "warm: at least 3x iproute2's resolutions per second", fmt.Sprintf("%.0f vs %.0f/s", wm.rate(), r), wm.rate() >= 3*r)
	}
	blLine(w, "warm: no host asked about twice", strconv.Itoa(wm.mon.askedAgain), wm.mon.askedAgain == 0)
	p99 := percentile(wm.sendValid, 99)
	blLine(w, "warm: send to valid p99 <= 50 ms", formatDur(p99), len(wm.sendValid) > 0 && p99 <= 50*time.Millisecond)
	pc := &us.phase[blPacedPhase]
	p50, p99 := percentile(pc.turnaround, 50), percentile(pc.turnaround, 99)
	blLine(w, "one at a time: request to valid p50 <= 50 µs", formatDur(p50), len(pc.turnaround) > 0 && p50 <= 50*time.Microsecond)
	blLine(w, "one at a time: request to valid p99 <= 150 µs", formatDur(p99), len(pc.turnaround) > 0 && p99 <= 150*time.Microsecond)
	m := memoryOf(us)
	blLine(w, "anonymous RSS < 4 MB (largest at a phase's end)", fmt.Sprintf("%.2f MB", float64(m.anon)/1e6), m.anon < 4e6)
	var hwm int64
	for i := range us.phase {
		hwm = max(hwm, us.phase[i].hwm)
	}
	blLine(w, "VmHWM <= 6 MB (largest)", fmt.Sprintf("%.2f MB", float64(hwm)*1024/1e6), hwm*1024 <= 6e6)
	if k := blFind(rs, blKernelAlone); k != nil {
		blKernelTargets(w, us, k, n)
	}
	fmt.Fprintln(w)
}

// blKernelTargets prints issue 13's targets of this arpd (us) beside the
// kernel alone (k) for n hosts.
func blKernelTargets(w io.Writer, us, k *blResult, n int) {
	wm, kw := &us.phase[blWarm], &k.phase[blWarm]
	blLine(w, "after the link flap: at least 1.5x the kernel alone's rate", fmt.Sprintf("%.0f vs %.0f/s (%.2fx)", wm.rate(), kw.rate(), wm.rate()/max(kw.rate(), 1)),
		wm.rate() >= 1.5*kw.rate() && wm.mon.askedAgain == 0)
	part, what := int64(4), "a quarter"
	if n >= 200000 {
		part, what = 10, "a tenth"
	}
	mu, mk := memoryOf(us), memoryOf(k)
	blLine(w, fmt.Sprintf("total memory at most %s of the kernel alone's", what),
		fmt.Sprintf("%.2f vs %.2f MB (1/%.1f)", float64(mu.total())/1e6, float64(mk.total())/1e6, float64(mk.total())/max(float64(mu.total()), 1)),
		mk.ok && mu.ok && mu.total()*part <= mk.total())
}

// blScaleReport prints, for runs of several sizes, issue 13's scale
// targets from the smallest to the largest: this arpd's warm rate falls by
// less than 25%, and its RssAnon stays under 4 MB.
func blScaleReport(w io.Writer, runs []blSizeRun) {
	if len(runs) < 2 {
		return
	}
	a, b := runs[0], runs[len(runs)-1]
	ua, ub := blFind(a.rs, "this arpd"), blFind(b.rs, "this arpd")
	if ua == nil || ub == nil {
		return
	}
	ra, rb := ua.phase[blWarm].rate(), ub.phase[blWarm].rate()
	fmt.Fprintf(w, "\n  scale (this arpd, %s to %s hosts, in this run):\n", thousands(a.n), thousands(b.n))
	blLine(w, "warm rate falls by less than 25%", fmt.Sprintf("%.0f to %.0f/s (%+.0f%%)", ra, rb, 100*(rb/ra-1)), ra > 0 && rb > 0.75*ra)
	anon := memoryOf(ub).anon
	blLine(w, fmt.Sprintf("RssAnon at %s hosts < 4 MB", thousands(b.n)), fmt.Sprintf("%.2f MB", float64(anon)/1e6), anon < 4e6)
}
