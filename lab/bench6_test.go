package lab

// make bench-lab's IPv6 phases: the kernel alone and this arpd, each in an
// IPv6 lab of its own, cold, warm and flushed, beside the IPv4 figures.

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// bl6Phases are the phases an IPv6 run has, indices of blResult.phase.
var bl6Phases = []int{blCold, blWarm, blFlushed}

// blFamilies returns the address families make bench-lab runs
// (ARPD_BENCH_FAMILY: "4", "6" or both, space- or comma-separated;
// default both).
func blFamilies(t *testing.T) (v4, v6 bool) {
	t.Helper()
	v := os.Getenv("ARPD_BENCH_FAMILY")
	if v == "" {
		return true, true
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch f {
		case "4":
			v4 = true
		case "6":
			v6 = true
		default:
			t.Fatalf("ARPD_BENCH_FAMILY=%q: want 4, 6 or both", v)
		}
	}
	return v4, v6
}

// bl6Globals, for make bench-lab (full), raises the IPv6 table's limits
// for n hosts, under g (blGlobals's hold of the global lock), until the
// test ends, as blGlobals does the IPv4 one's.
func bl6Globals(g *labtest.Globals, n int) {
	g.Set("net/ipv6/neigh/default/gc_thresh3", strconv.Itoa(max(4*n, 1024)))
	g.Set("net/ipv6/neigh/default/gc_thresh2", strconv.Itoa(max(2*n, 512)))
}

// bl6Daemons returns the IPv6 columns: the kernel alone (no start) and
// this arpd, run with blFlags as for IPv4. iproute2's arpd resolves IPv4
// only, so it has none.
func bl6Daemons() []blDaemon {
	return []blDaemon{
		{name: "kernel alone"},
		{
			name: "this arpd",
			// NB: GOGC=1 makes the runtime collect after far less
			// allocation than by default, and gctrace=1 logs each
			// collection. A build that allocated 48 bytes per IPv6
			// answer showed one collection in each burst of 20,000
			// (about 1 MB), this arpd none: allocations of a few bytes
			// a request would pass unseen; the root package's
			// AllocsPerRun tests are the finer check.
			gctrace: true,
			start: func(t testing.TB, l *hostLab, db string) *labtest.Daemon {
				d := labtest.Start(t, labtest.Options{Name: "arpd (this)", Lab: l.Lab, DB: db,
					Args: append(blFlags, l.NearIf), ReadyIf: l.NearIf, Wrap: func(argv []string) []string {
						return append([]string{"env", "GOGC=1", "GODEBUG=gctrace=1"}, argv...)
					}})
				if !waitSolicitV6(t, l.Lab, l.NearIf, 3*time.Second) {
					t.Fatalf("this arpd did not set app_solicit of %s for IPv6 within 3 s: %s", l.NearIf, d.Output())
				}
				return d
			},
			counters: labtest.Stats,
		},
	}
}

// bl6RunAll runs the IPv6 phases for the kernel alone and this arpd, each
// in a subtest and a lab of its own, and returns their results: those of
// the setups that ran (a subtest skips this arpd's when it does not
// resolve IPv6).
func bl6RunAll(t *testing.T, in *interrupt, full bool, n int) []blResult {
	t.Helper()
	var rs []blResult
	for _, dm := range bl6Daemons() {
		t.Run("IPv6/"+strings.ReplaceAll(dm.name, " ", "_"), func(t *testing.T) {
			if dm.start != nil {
				requireV6Daemon(t)
			}
			rs = append(rs, bl6Run(t, in, dm, n))
		})
		in.check(t)
	}
	return rs
}

// bl6Run runs the IPv6 phases for one setup, in a lab of its own: cold,
// warm (link down and up: the kernel's table emptied, a daemon keeps its
// cache) and flushed (ip -6 neigh flush while it runs), each the same
// burst of a datagram to every host.
func bl6Run(t *testing.T, in *interrupt, dm blDaemon, n int) blResult {
	t.Helper()
	in.check(t)
	r := blResult{name: dm.name, gctrace: dm.gctrace}
	// NB: delay_first_probe_time of 60 s, as for IPv4: no unicast
	// confirmations mixed into the measurement.
	l := newHostLab6(t, n, map[string]string{"delay_first_probe_time": "60"})
	r.setup = l.setup
	mon := newMonitor(t, l)
	sink := newFarSink(t, l)
	snd := newNearSender(t, l)
	db := filepath.Join(t.TempDir(), "arpd.db")
	ph := &blPhaser{t: t, in: in, l: l, mon: mon, sink: sink, snd: snd, db: db, gctrace: dm.gctrace}
	if dm.start != nil {
		ph.d = dm.start(t, l, db)
		defer ph.d.Close()
	}
	var err error
	if ph.tr, err = newNeighTrace(t, l.NearIf, true); err != nil {
		t.Logf("no kernel tracing (%v): request to valid is timed from the send call's return to the arrival", err)
		ph.tr = nil
	}
	r.phase[blCold] = ph.burst(n, 12*time.Second, nil)
	blEmptyTable(t, l)
	r.phase[blWarm] = ph.burst(n, 8*time.Second, nil)
	r.phase[blFlushed] = ph.burst(n, 8*time.Second, func() {
		l.flush(t)
		if !labtest.WaitFor(10*time.Second, func() bool { return l.kernelTable(t) == 0 }) {
			t.Logf("the near table still has %d IPv6 hosts after ip -6 neigh flush", l.kernelTable(t))
		}
		time.Sleep(300 * time.Millisecond) // the daemon reads the flush's notifications
	})
	_, r.monitorOverruns = mon.snapshot(t)
	if ph.d == nil {
		return r
	}
	time.Sleep(1100 * time.Millisecond) // the daemon saves its counters every second
	r.counters = dm.counters(t, db)
	if ph.d.Exited() {
		t.Errorf("%s is no longer running after the IPv6 phases; its output: %s", dm.name, ph.d.Output())
	}
	r.out = ph.d.Output()
	return r
}

// bl6Check checks, in the small run, what the IPv6 phases must show:
// every datagram delivered in every phase, for the kernel alone and this
// arpd alike; this arpd's answers counted (warm and flushed answered from
// its cache, no host asked about twice, the kernel's IPv6 requests in its
// counter app_recv6); no negative entry for a live host.
func bl6Check(t *testing.T, rs []blResult) {
	t.Helper()
	for i := range rs {
		r := &rs[i]
		for _, ph := range bl6Phases {
			p := &r.phase[ph]
			if p.delivered != p.hosts {
				t.Errorf("IPv6 %s, %s: %d of %d datagrams delivered (send errors %s, failed %d)",
					r.name, blPhaseNames[ph], p.delivered, p.hosts, p.sendErrors, p.mon.failed)
			}
			if r.name == "kernel alone" || ph == blCold {
				continue
			}
			if p.mon.answered != p.hosts || p.mon.askedAgain != 0 {
				t.Errorf("IPv6 %s: %d of %d hosts answered from the cache, %d asked about again; want all, and none",
					blPhaseNames[ph], p.mon.answered, p.hosts, p.mon.askedAgain)
			}
		}
		if r.counters == nil {
			continue
		}
		if r.counters["app_recv6"] < uint64(2*r.phase[blWarm].hosts) {
			t.Errorf("IPv6 this arpd: app_recv6 %d, want at least the %d requests of warm and flushed; counters %v",
				r.counters["app_recv6"], 2*r.phase[blWarm].hosts, r.counters)
		}
		if r.counters["kern_neg"] != 0 {
			t.Errorf("IPv6 this arpd: kern_neg = %d after a link flap and a flush of live hosts, want 0", r.counters["kern_neg"])
		}
	}
}

// gcCycles returns how many collections a daemon run with
// GODEBUG=gctrace=1 logged in out ("gc N @...", one line each).
func gcCycles(out string) int {
	n := strings.Count(out, "\ngc ")
	if strings.HasPrefix(out, "gc ") {
		n++
	}
	return n
}

// blFind returns the result named name among rs, or nil.
func blFind(rs []blResult, name string) *blResult {
	i := slices.IndexFunc(rs, func(r blResult) bool { return r.name == name })
	if i < 0 {
		return nil
	}
	return &rs[i]
}
