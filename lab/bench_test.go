package lab

// make bench-lab: this arpd and iproute2's arpd, one after the other, each
// in a lab of its own with the same hosts, flags and traffic, and one table
// with the ratio of the two.

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// The benchmark's defaults: N hosts on the far side, of which the first
// blPaced are also asked about one at a time, and of which the first
// blDefaultHosts are sent to with the kernel's table at its default cap
// (blDefaultTable).
const (
	blHosts        = 20000
	blPaced        = 1000
	blDefaultHosts = 1000
)

// blKernelAlone names the column of the kernel alone, which runs no
// daemon: its own ARP resolves every host.
const blKernelAlone = "kernel alone"

// blFlags are the flags both daemons run with: three broadcast probes per
// host, the kernel's own broadcasts off (so that a cold burst is resolved
// by the daemon's probes), and a probe budget generous enough for a cold
// burst of every host at once.
var blFlags = []string{"-a", "3", "-k", "-R", "1000", "-B", "100000"}

// blDaemonFlags returns the flags a daemon runs with for n hosts: blFlags
// with a probe budget (-B) of 4n at least, so that a cold burst of every
// host is probed at once, and, for this arpd (ours), a cache file made
// for them (-C blCapacity(n)). iproute2's arpd has no -C.
//
// NB: this arpd lets a host's first request take only the top quarter of
// the budget (policy.go, probeOrFail), and fails the requests it cannot
// probe: with -B 200000, a cold burst of 200,000 hosts had 55,000
// resolved and the rest failed.
func blDaemonFlags(n int, ours bool) []string {
	f := slices.Clone(blFlags)
	if 4*n > 100000 {
		f[len(f)-1] = strconv.Itoa(4 * n)
	}
	if ours {
		f = append(f, "-C", strconv.Itoa(blCapacity(n)))
	}
	return f
}

// blCapacity returns the cache capacity this arpd's file is made with for
// n hosts: n at 8/9 of the capacity, the load the cache's benchmarks run
// at, and no less than the smallest the cache takes.
func blCapacity(n int) int { return max((n*9+7)/8, 64) }

// The phases, in the order they run.
const (
	blCold = iota
	blWarm
	blPacedPhase
	blRestart
	blFlushed
	blDefaultTable
	blPhases
)

var blPhaseNames = [blPhases]string{"cold", "warm", "one at a time", "restart", "flushed", "default table"}

// blPhase is what one daemon did in one phase.
type blPhase struct {
	hosts      int
	sent       int    // datagrams the kernel took
	sendErrors string // refused sends, by errno
	sendTook   time.Duration
	mon        hostStats // what the netlink monitor saw
	delivered  int
	took       time.Duration      // first send to the last datagram's arrival
	sendValid  []time.Duration    // send to arrival (entry valid)
	turnaround []time.Duration    // the kernel's request to the entry becoming valid
	traced     bool               // turnaround is from the kernel's tracepoints, not the sink
	traceLost  int64              // trace events lost (turnaround incomplete if > 0)
	breakdown  [4][]time.Duration // ARPD_BENCH_SCHEDTRACE: where a request's time went
	followed   int                // requests the breakdown could follow
	gcs        int                // the daemon's collections (run with GODEBUG=gctrace=1)
	run        time.Duration      // the daemon's time on a CPU (schedstat, in ns), where measured
	cpu        time.Duration
	hwm, anon  int64 // KiB: VmHWM so far, RssAnon now
	fileSize   int64 // bytes
	startup    time.Duration
	ran        bool  // the phase was run for this column
	bcasts     int   // broadcast ARP requests on the wire, -1: not counted
	tableEnd   int   // kernel table entries (hosts) at the phase's end
	slabGrown  int64 // bytes of kernel kmalloc objects grown from the first send to the end, -1: unknown
	fileRes    int64 // bytes of the daemon's file mapped and resident at the end
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
	setup           time.Duration // adding the hosts' addresses to the far side
	gctrace         bool          // the daemon logged its collections: phase.gcs counts them
}

// blDaemon starts and stops one kind of daemon.
type blDaemon struct {
	name     string
	start    func(t testing.TB, l *hostLab, db string) *labtest.Daemon
	counters func(t testing.TB, db string) map[string]uint64 // nil: it has none
	gctrace  bool                                            // it logs its collections (GODEBUG=gctrace=1)
}

// TestBenchLab is make bench-lab (ARPD_BENCHLAB=1, as root): for this arpd,
// the kernel alone and iproute2's arpd, each in a lab of its own with N
// hosts (ARPD_BENCH_HOSTS, default 20,000; several sizes, as "20000
// 200000", run one after the other) on the far side, the daemons run with
// blDaemonFlags:
//
//  1. cold: a datagram to each of the N hosts, as fast as one socket can
//     send, into an empty cache: the daemon's broadcasts resolve them, or
//     the kernel's own ARP;
//  2. warm: the kernel's table emptied by taking the link down and up, the
//     daemon keeps its cache; the same burst, answered from it (the
//     kernel alone must ARP again);
//  3. one at a time: the table emptied again, a datagram to each of the
//     first 1,000 hosts, the next once the previous one arrived;
//  4. restart (daemons): SIGTERM, the table emptied, the daemon started
//     again on the same file; the same burst;
//  5. flushed: ip neigh flush while the daemon runs; the same burst;
//  6. default table (daemons): gc_thresh2/3 back at the kernel's defaults
//     (512, 1,024), the link down and up, a burst to the first 1,000 hosts:
//     the kernel's table as a router running the daemon keeps it, which
//     gives the daemon's kernel memory.
//
// Each phase also counts the broadcast ARP requests on the wire, the
// kernel table's entries at its end, the kernel's unreclaimable slab grown
// and the daemon's file pages resident; the report adds each column's
// total memory and writes the request-to-valid distributions as an SVG
// (ARPD_BENCH_SVG, printed; one per size, with -N before .svg, when there
// are several). Then this arpd's startup on a 1,000,000-entry file
// (blStartupRun). Then, over IPv6 (bl6RunAll), the kernel alone and this
// arpd, each in an IPv6 lab of its own with the hosts of the smallest size
// (65,535 at most), through cold, warm and flushed; their table has this
// arpd's IPv4 figures beside, for the targets of issue 11.
// ARPD_BENCH_FAMILY (4, 6, or both: the default) picks the families.
//
// gc_thresh2 and gc_thresh3 (of both tables) are raised for the run
// (under the global lock) so that the kernel holds every host, and
// restored after it.
//
// Request to valid comes from the kernel's neigh tracepoints (neighTrace),
// or from the far side's receive stamps where tracing is not available.
// ARPD_BENCH_IPROUTE2=0 leaves iproute2's arpd out, ARPD_BENCH_PIN=1 binds
// the test and the daemon to CPUs of their own, ARPD_BENCH_SCHEDTRACE=file
// traces the scheduler in the one-at-a-time phase (see pass).
//
// Without ARPD_BENCHLAB (as in make test, as root) it runs the same
// phases for this arpd and the kernel alone (and the IPv6 ones), with 200
// hosts, and checks what they must show (blCheck, blCheckKernel,
// bl6Check), the picture, and a startup on a file of 2,000 entries.
func TestBenchLab(t *testing.T) {
	full, sizes, paced := blHostCounts(t)
	v4, v6 := blFamilies(t)
	n6 := slices.Min(sizes)
	if v6 && n6 > hostsMax6 {
		t.Logf("no IPv6 run: its address scheme holds %d hosts at most, not %d", hostsMax6, n6)
		v6 = false
	}
	in := catchInterrupt(t)
	g := blGlobals(t, in, full, slices.Max(sizes))
	if g != nil && v6 {
		bl6Globals(g, n6)
	}
	var runs []blSizeRun
	var st blStartup
	if v4 {
		for _, n := range sizes {
			runs = append(runs, blSizeRun{n, blRunIPv4(t, in, g, full, n, paced, len(sizes) > 1)})
		}
		st = blStartupRun(t, in, full)
	}
	var rs6 []blResult
	if v6 {
		rs6 = bl6RunAll(t, in, full, n6)
	}
	if t.Failed() {
		t.FailNow()
	}
	blFinish(t, full, runs, st, rs6, n6, paced)
}

// blSizeRun is the IPv4 columns' results for n hosts.
type blSizeRun struct {
	n  int
	rs []blResult
}

// blFinish prints the report of make bench-lab (full) with the pictures'
// paths, or logs it and checks the runs (the small run).
func blFinish(t *testing.T, full bool, runs []blSizeRun, st blStartup, rs6 []blResult, n6, paced int) {
	var report strings.Builder
	var rs4 []blResult // this arpd's IPv4 figures beside the IPv6 ones
	base := os.Getenv("ARPD_BENCH_SVG")
	for _, run := range runs {
		blReport(&report, run.rs, run.n, paced, blPinned(full))
		var path string
		if full {
			path = svgPathFor(base, run.n, len(runs) > 1)
		}
		path = blWriteSVG(t, run.rs, run.n, path)
		fmt.Fprintf(&report, "  request-to-valid distributions (%d hosts): %s\n", run.n, path)
		if !full {
			checkSVG(t, path, len(blCurves(run.rs)))
		}
		if run.n == n6 {
			rs4 = run.rs
		}
	}
	blScaleReport(&report, runs)
	if len(runs) > 0 {
		blStartupReport(&report, st)
	}
	if rs6 != nil {
		bl6Report(&report, rs6, rs4, n6)
	}
	if full {
		os.Stdout.WriteString(report.String())
		if rs6 != nil && blFind(rs6, "this arpd") == nil {
			t.Error("this arpd has no IPv6 figures: it does not resolve IPv6 (see its subtest's skip)")
		}
		return
	}
	t.Log(report.String())
	for _, run := range runs {
		blCheck(t, blFind(run.rs, "this arpd"))
		blCheckKernel(t, blFind(run.rs, blKernelAlone), blFind(run.rs, "this arpd"))
	}
	if len(runs) > 0 && len(st.took) == 0 {
		t.Error("no startup measured on a file of entries")
	}
	bl6Check(t, rs6)
}

// blPinned says whether the IPv4 runs bind the test and the daemon to
// CPUs of their own: ARPD_BENCH_PIN=1 in make bench-lab (full), with 2
// CPUs at least. Off by default: a burst then goes faster, but each
// request one at a time waits for an interrupt to wake the idle CPU,
// which on a virtual machine costs 30 to 40 µs.
func blPinned(full bool) bool {
	return full && runtime.NumCPU() >= 2 && os.Getenv("ARPD_BENCH_PIN") == "1"
}

// blRunIPv4 runs the IPv4 phases for n hosts for this arpd, the kernel
// alone and, in make bench-lab, iproute2's arpd, each in a subtest
// (named after n too with several sizes) and a lab of its own, and
// returns their results.
func blRunIPv4(t *testing.T, in *interrupt, g *labtest.Globals, full bool, n, paced int, several bool) []blResult {
	t.Helper()
	daemons := blDaemons(t, full, n)
	pin := blPinned(full)
	if pin {
		pinSelf(t, 0)
	}
	var rs []blResult
	for _, dm := range daemons {
		name := strings.ReplaceAll(dm.name, " ", "_")
		if several {
			name = fmt.Sprintf("%d/%s", n, name)
		}
		// A subtest each, so that each lab is deleted (and its hosts
		// leave the kernel's table) before the next one is made.
		t.Run(name, func(t *testing.T) {
			rs = append(rs, blRun(t, in, g, dm, n, paced, pin))
		})
	}
	if len(rs) < len(daemons) || t.Failed() {
		t.FailNow()
	}
	return rs
}

// blHostCounts says whether this is make bench-lab (ARPD_BENCHLAB=1) and
// returns the numbers of hosts, one run each, and of those asked about
// one at a time: blHosts and blPaced for make bench-lab, 200 and 50
// otherwise, or the sizes in ARPD_BENCH_HOSTS (space- or comma-separated).
// It skips t unless the lab can run.
//
// NB: the small run leaves the kernel's table cap at its default of
// 1,024, so the daemon's probes may hold 256 entries (holds.go); a burst
// of more new hosts than that at once would see the rest failed, and the
// phases send each host one datagram only.
func blHostCounts(t *testing.T) (full bool, sizes []int, paced int) {
	t.Helper()
	full = os.Getenv("ARPD_BENCHLAB") == "1"
	if full && os.Geteuid() != 0 {
		t.Fatal("make bench-lab needs root: it makes network namespaces and runs both daemons in them (sudo make bench-lab)")
	}
	labtest.RequireRoot(t)
	sizes, paced = []int{200}, 50
	if full {
		sizes, paced = []int{blHosts}, blPaced
	}
	if v := os.Getenv("ARPD_BENCH_HOSTS"); v != "" {
		sizes = nil
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 || n > hostsMax {
				t.Fatalf("ARPD_BENCH_HOSTS=%q: want numbers of hosts from 1 to %d", v, hostsMax)
			}
			sizes = append(sizes, n)
		}
		if len(sizes) == 0 {
			t.Fatalf("ARPD_BENCH_HOSTS=%q: no number of hosts", v)
		}
	}
	return full, sizes, min(paced, slices.Min(sizes))
}

// blRaised returns the gc_thresh2 and gc_thresh3 the benchmark sets for n
// hosts: room for every host, and no collection while it runs.
func blRaised(n int) (thresh2, thresh3 int) { return max(2*n, 512), max(4*n, 1024) }

// blGlobals, for make bench-lab (full), raises the kernel table's limits
// for n hosts until t ends and returns its hold of the global lock, for
// other settings to change under it; otherwise it keeps other tests from
// changing them meanwhile, returns nil, and skips t if it cannot.
//
// NB: the lock is an flock, held per open file: a second LockGlobals in
// the same process waits for the first forever.
func blGlobals(t *testing.T, in *interrupt, full bool, n int) *labtest.Globals {
	t.Helper()
	if full {
		g := labtest.LockGlobals(t)
		t2, t3 := blRaised(n)
		g.Set("net/ipv4/neigh/default/gc_thresh3", strconv.Itoa(t3))
		g.Set("net/ipv4/neigh/default/gc_thresh2", strconv.Itoa(t2))
		return g
	}
	got := labtest.ShareGlobals(t, 90*time.Second, in.hit.Load)
	in.check(t)
	if !got {
		t.Skip("another test holds the global settings lock: the kernel's table cap may change under this test")
	}
	return nil
}

// blDaemons returns the columns to run for n hosts: this arpd, the kernel
// alone and, for make bench-lab (full), iproute2's arpd where it is
// installed and not left out.
func blDaemons(t *testing.T, full bool, n int) []blDaemon {
	t.Helper()
	daemons := []blDaemon{{
		name: "this arpd",
		start: func(t testing.TB, l *hostLab, db string) *labtest.Daemon {
			return startOurDaemon(t, l, db, append(blDaemonFlags(n, true), l.NearIf)...)
		},
		counters: labtest.Stats,
	}, {name: blKernelAlone}}
	if _, err := os.Stat(iproute2Arpd); err != nil {
		t.Logf("%s is not installed: no comparison", iproute2Arpd)
	} else if os.Getenv("ARPD_BENCH_IPROUTE2") == "0" {
		t.Logf("ARPD_BENCH_IPROUTE2=0: no comparison")
	} else if full {
		daemons = append(daemons, blDaemon{
			name: "iproute2 arpd",
			start: func(t testing.TB, l *hostLab, db string) *labtest.Daemon {
				return startIproute2Daemon(t, l, db, append(blDaemonFlags(n, false), l.NearIf)...)
			},
		})
	}
	return daemons
}
