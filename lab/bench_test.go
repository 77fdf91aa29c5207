package lab

// make bench-lab: this arpd and iproute2's arpd, one after the other, each
// in a lab of its own with the same hosts, flags and traffic, and one table
// with the ratio of the two.

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// The benchmark's defaults: N hosts on the far side, of which the first
// blPaced are also asked about one at a time.
const (
	blHosts = 20000
	blPaced = 1000
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
// Then, over IPv6 (bl6RunAll), the kernel alone and this arpd, each in an
// IPv6 lab of its own with the same hosts, through cold, warm and flushed;
// their table has this arpd's IPv4 figures beside, for the targets of
// issue 11. ARPD_BENCH_FAMILY (4, 6, or both: the default) picks the
// families.
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
// phases for this arpd only (and the IPv6 ones for the kernel alone and
// this arpd), with 200 hosts, and checks what they must show: every
// datagram delivered in every phase, and every phase after the first
// answered from the cache, with no host asked about twice (bl6Check).
func TestBenchLab(t *testing.T) {
	full, n, paced := blHostCounts(t)
	v4, v6 := blFamilies(t)
	in := catchInterrupt(t)
	if g := blGlobals(t, in, full, n); g != nil && v6 {
		bl6Globals(g, n)
	}
	var rs, rs6 []blResult
	if v4 {
		rs = blRunIPv4(t, in, full, n, paced)
	}
	if v6 {
		rs6 = bl6RunAll(t, in, full, n)
	}
	if t.Failed() {
		t.FailNow()
	}

	var report strings.Builder
	if v4 {
		blReport(&report, rs, n, paced, blPinned(full))
	}
	if v6 {
		bl6Report(&report, rs6, rs, n)
	}
	if full {
		os.Stdout.WriteString(report.String())
		if v6 && blFind(rs6, "this arpd") == nil {
			t.Error("this arpd has no IPv6 figures: it does not resolve IPv6 (see its subtest's skip)")
		}
		return
	}
	t.Log(report.String())
	if v4 {
		blCheck(t, &rs[0])
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

// blRunIPv4 runs the IPv4 phases for this arpd and, in make bench-lab,
// iproute2's, each in a subtest and a lab of its own, and returns their
// results.
func blRunIPv4(t *testing.T, in *interrupt, full bool, n, paced int) []blResult {
	t.Helper()
	daemons := blDaemons(t, full)
	pin := blPinned(full)
	if pin {
		pinSelf(t, 0)
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
	return rs
}

// blHostCounts says whether this is make bench-lab (ARPD_BENCHLAB=1) and
// returns the number of hosts and of those asked about one at a time:
// blHosts and blPaced for make bench-lab, 200 and 50 otherwise, or
// ARPD_BENCH_HOSTS hosts. It skips t unless the lab can run.
//
// NB: the small run leaves the kernel's table cap at its default of
// 1,024, so the daemon's probes may hold 256 entries (holds.go); a burst
// of more new hosts than that at once would see the rest failed, and the
// phases send each host one datagram only.
func blHostCounts(t *testing.T) (full bool, n, paced int) {
	t.Helper()
	full = os.Getenv("ARPD_BENCHLAB") == "1"
	if full && os.Geteuid() != 0 {
		t.Fatal("make bench-lab needs root: it makes network namespaces and runs both daemons in them (sudo make bench-lab)")
	}
	labtest.RequireRoot(t)
	n, paced = 200, 50
	if full {
		n, paced = blHosts, blPaced
	}
	if v := os.Getenv("ARPD_BENCH_HOSTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > hostsMax {
			t.Fatalf("ARPD_BENCH_HOSTS=%q: want a number of hosts from 1 to %d", v, hostsMax)
		}
	}
	return full, n, min(paced, n)
}

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
		// Room for every host in the kernel's table, and no collection
		// of entries while the benchmark runs; restored by Cleanup.
		g := labtest.LockGlobals(t)
		g.Set("net/ipv4/neigh/default/gc_thresh3", strconv.Itoa(max(4*n, 1024)))
		g.Set("net/ipv4/neigh/default/gc_thresh2", strconv.Itoa(max(2*n, 512)))
		return g
	}
	got := labtest.ShareGlobals(t, 90*time.Second, in.hit.Load)
	in.check(t)
	if !got {
		t.Skip("another test holds the global settings lock: the kernel's table cap may change under this test")
	}
	return nil
}

// blDaemons returns the daemons to run: this arpd and, for make bench-lab
// (full), iproute2's where it is installed and not left out.
func blDaemons(t *testing.T, full bool) []blDaemon {
	t.Helper()
	daemons := []blDaemon{{
		name: "this arpd",
		start: func(t testing.TB, l *hostLab, db string) *labtest.Daemon {
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
			start: func(t testing.TB, l *hostLab, db string) *labtest.Daemon {
				return startIproute2Daemon(t, l, db, append(blFlags, l.NearIf)...)
			},
		})
	}
	return daemons
}

// blCheck checks what this arpd's run r must show: every datagram
// delivered in every phase, every phase after the first answered from the
// cache with no host asked about twice, a startup time, and no receive
// error or negative entry across the link flaps and the flush.
func blCheck(t *testing.T, r *blResult) {
	t.Helper()
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
