package lab

// make scan-lab: a router forwarding a scan of dead addresses into a
// segment, with the kernel alone, this arpd and iproute2's arpd in turn,
// and what reached the segment's live hosts meanwhile.

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// scanConfig is what one scan-lab run sends, and how long.
type scanConfig struct {
	full   bool          // make scan-lab (ARPD_SCANLAB=1), not the small mode
	v6     bool          // over IPv6: the segment is fd77::/64
	bits   int           // the segment's prefix length: 16, or 20 when small; 64 for IPv6
	rate   int           // scan datagrams per second
	dur    time.Duration // how long the scan runs
	drain  time.Duration // after the scan, until the last live datagram counts
	known  int           // live hosts the router knows before the scan
	fresh  int           // live hosts nobody knows: silent until asked
	seed   uint64        // of the scan's order, the same for every setup
	orders []string      // "perm", "random", one table each
	flags  []string      // this arpd's extra flags (ARPD_SCAN_FLAGS)
	fams   []int         // the families to run, 4 and 6 (ARPD_SCAN_FAMILY)
}

// family returns the config of a run over IPv4 (4) or IPv6 (6): over
// IPv6 the segment is a /64 and the scan's order random only.
func (c *scanConfig) family(f int) *scanConfig {
	fc := *c
	if f == 6 {
		fc.v6, fc.bits, fc.orders = true, 64, []string{"random"}
	}
	return &fc
}

// segment names the segment, as the reports show it.
func (c *scanConfig) segment() string {
	if c.v6 {
		return "fd77::/64"
	}
	return "10.77.0.0/" + strconv.Itoa(c.bits)
}

// live returns the number of live hosts.
func (c *scanConfig) live() int { return c.known + c.fresh }

// rounds returns how many datagrams each live host is sent: one a second.
func (c *scanConfig) rounds() int { return int(c.dur / time.Second) }

// scanSetup is one column of the table: the kernel alone, or a daemon.
type scanSetup struct {
	name  string
	args  []string // the daemon's arguments, before the interface
	start func(t testing.TB, l *scanLab, db string, args []string) *labtest.Daemon
	// rate and burst are the daemon's broadcast limit (-R, -B as it
	// ran); 0 for the kernel alone, which has none.
	rate, burst float64
	stats       bool // arpd -s reads its counters
}

// TestScanLab is make scan-lab (ARPD_SCANLAB=1, as root). For each scan
// order (ARPD_SCAN_ORDER: perm, random, or both, space- or
// comma-separated; default perm) it runs three setups in turn, each in a
// lab of its own (see newScanLab): the kernel alone, this arpd -k -a 3
// with its default -R and -B (plus ARPD_SCAN_FLAGS), and iproute2's arpd
// -k -a 3 where one is on PATH. In each, the segment has 100 live hosts
// the router knows (each asked the router for its address before the
// scan) and 100 silent ones; for 10 s the scanner sends 10,000 datagrams
// a second to dead addresses of the segment's /16, and each live host one
// a second, all through the router. gc_thresh1/2/3 are the kernel's
// defaults (128, 512, 1024) for the run and restored after it. One table
// per order goes to stdout and, when ARPD_SCAN_OUT names a file, to it.
//
// Over IPv6 (ARPD_SCAN_FAMILY: 4, 6, or both, the default) the same runs
// in newScanLab6: the segment fd77::/64, the scan random addresses of it
// (the order perm means nothing in 2^64 addresses), the router's requests
// Neighbor Solicitations, table_fulls that of ndisc_cache, and the
// kernel alone and this arpd only (iproute2's arpd is IPv4 only).
//
// Without ARPD_SCANLAB (as in make test, as root) it runs the kernel alone
// and this arpd in a small lab (a /20, or the /64, 20 live hosts, 200
// datagrams a second for 3 s: the kernel alone then holds at most 600 of
// them at a time, under the table's cap, so that lab tests of other
// packages running meanwhile are not refused neighbours) and checks what
// the harness measures, not the daemon's targets.
func TestScanLab(t *testing.T) {
	cfg0 := scanConfigFromEnv(t)
	in := catchInterrupt(t)
	scanGlobals(t, in, cfg0.full)
	var report strings.Builder
	var ran []string // the setups that ran, by name
	v6Ours := false  // this arpd ran over IPv6
	for _, f := range cfg0.fams {
		cfg := cfg0.family(f)
		setups := scanSetups(t, cfg)
		for _, order := range cfg.orders {
			for _, r := range scanOrder(t, in, cfg, order, setups, &report) {
				ran = append(ran, r.setup.name)
				v6Ours = v6Ours || (cfg.v6 && r.setup.stats)
			}
		}
	}
	if !cfg0.full {
		t.Log("\n" + report.String())
		scanCheckReport(t, report.String(), ran)
		return
	}
	os.Stdout.WriteString(report.String())
	if slices.Contains(cfg0.fams, 6) && !v6Ours {
		t.Error("this arpd has no IPv6 column: it does not resolve IPv6 (see its subtest's skip)")
	}
	if p := os.Getenv("ARPD_SCAN_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(report.String()), 0o644); err != nil {
			t.Errorf("ARPD_SCAN_OUT: %v", err)
		}
	}
}

// scanOrder runs each setup in turn with the scan in order, writes their
// table to report, in the small mode checks the results, and returns
// them. A setup whose subtest skipped (this arpd over IPv6, where it does
// not resolve IPv6) has no column.
func scanOrder(t *testing.T, in *interrupt, cfg *scanConfig, order string, setups []scanSetup, report *strings.Builder) []scanResult {
	t.Helper()
	var rs []scanResult
	for i := range setups {
		s := &setups[i]
		name := order + "/" + strings.ReplaceAll(s.name, " ", "_")
		if cfg.v6 {
			name = "IPv6/" + name
		}
		t.Run(name, func(t *testing.T) {
			if cfg.v6 && s.start != nil {
				requireV6Daemon(t)
			}
			rs = append(rs, scanRun(t, in, cfg, s, order))
		})
		in.check(t)
		if t.Failed() {
			t.FailNow()
		}
		if cfg.full {
			waitTableDrained(t, in, cfg.v6)
		}
	}
	if len(rs) == 0 {
		t.FailNow()
	}
	scanReport(report, cfg, order, rs)
	if !cfg.full {
		scanCheck(t, cfg, rs)
	}
	return rs
}

// scanConfigFromEnv returns the run make scan-lab asks for, or the small
// one. It skips t unless the lab can run.
func scanConfigFromEnv(t *testing.T) *scanConfig {
	t.Helper()
	full := os.Getenv("ARPD_SCANLAB") == "1"
	if full && os.Geteuid() != 0 {
		t.Fatal("make scan-lab needs root: it makes network namespaces and runs the daemons in them (sudo make scan-lab)")
	}
	labtest.RequireRoot(t)
	c := &scanConfig{full: true, bits: 16, rate: 10000, dur: 10 * time.Second, drain: 3 * time.Second,
		known: 100, fresh: 100, seed: uint64(time.Now().UnixNano())}
	if !full {
		*c = scanConfig{bits: 20, rate: 200, dur: 3 * time.Second, drain: 3 * time.Second,
			known: 10, fresh: 10, seed: 1}
	}
	if v := os.Getenv("ARPD_SCAN_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ARPD_SCAN_SEED=%q: want a number", v)
		}
		c.seed = s
	}
	c.orders = []string{"perm"}
	if v := os.Getenv("ARPD_SCAN_ORDER"); v != "" {
		c.orders = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		if len(c.orders) == 1 && c.orders[0] == "both" {
			c.orders = []string{"perm", "random"}
		}
		for _, o := range c.orders {
			if o != "perm" && o != "random" {
				t.Fatalf("ARPD_SCAN_ORDER=%q: want perm, random or both", v)
			}
		}
	}
	c.flags = strings.Fields(os.Getenv("ARPD_SCAN_FLAGS"))
	c.fams = []int{4, 6}
	if v := os.Getenv("ARPD_SCAN_FAMILY"); v != "" {
		c.fams = nil
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			switch f {
			case "4":
				c.fams = append(c.fams, 4)
			case "6":
				c.fams = append(c.fams, 6)
			default:
				t.Fatalf("ARPD_SCAN_FAMILY=%q: want 4, 6 or both", v)
			}
		}
	}
	return c
}

// scanGlobals, for make scan-lab (full), sets gc_thresh1/2/3 to the
// kernel's defaults until t ends, under the global lock; otherwise it
// keeps other tests from changing them meanwhile, and skips t if it
// cannot.
func scanGlobals(t *testing.T, in *interrupt, full bool) {
	t.Helper()
	if full {
		g := labtest.LockGlobals(t)
		g.Set("net/ipv4/neigh/default/gc_thresh1", "128")
		g.Set("net/ipv4/neigh/default/gc_thresh2", "512")
		g.Set("net/ipv4/neigh/default/gc_thresh3", "1024")
		g.Set("net/ipv6/neigh/default/gc_thresh1", "128")
		g.Set("net/ipv6/neigh/default/gc_thresh2", "512")
		g.Set("net/ipv6/neigh/default/gc_thresh3", "1024")
		return
	}
	got := labtest.ShareGlobals(t, 90*time.Second, in.hit.Load)
	in.check(t)
	if !got {
		t.Skip("another test holds the global settings lock: the kernel's table cap may change under this test")
	}
}

// scanSetups returns the columns: the kernel alone, this arpd and, for
// make scan-lab, iproute2's arpd when one is on PATH.
func scanSetups(t *testing.T, cfg *scanConfig) []scanSetup {
	t.Helper()
	rate, burst := ourLimits(t, cfg.flags)
	ours := scanSetup{name: "this arpd", args: append([]string{"-k", "-a", "3"}, cfg.flags...),
		rate: rate, burst: burst, stats: true,
		start: func(t testing.TB, l *scanLab, db string, args []string) *labtest.Daemon {
			d := labtest.Start(t, labtest.Options{Name: "arpd (this)", Lab: l.Lab, DB: db, Args: args, ReadyIf: l.NearIf})
			return d
		}}
	setups := []scanSetup{{name: "kernel alone"}, ours}
	if !cfg.full || cfg.v6 {
		// iproute2's arpd resolves IPv4 only.
		return setups
	}
	bin := iproute2OnPath(t)
	if bin == "" {
		return setups
	}
	// iproute2's defaults: -R 1 -B 3 (broadcast_rate 1000 ms, burst
	// 3000 ms in arpd.c).
	return append(setups, scanSetup{name: "iproute2 arpd", args: []string{"-k", "-a", "3"}, rate: 1, burst: 3,
		start: func(t testing.TB, l *scanLab, db string, args []string) *labtest.Daemon {
			return labtest.Start(t, labtest.Options{Name: "iproute2 arpd", Bin: bin, Lab: l.Lab, DB: db,
				Args: args, Detach: true, ReadyIf: l.NearIf})
		}})
}

// iproute2OnPath returns the arpd on PATH when it is not this one, or ""
// (and says so).
func iproute2OnPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("arpd")
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		t.Logf("no arpd on PATH: no iproute2 arpd column")
		return ""
	}
	if p == labtest.Binary(t) {
		t.Logf("the arpd on PATH (%s) is this one: no iproute2 arpd column", p)
		return ""
	}
	return p
}

// ourLimits returns this arpd's broadcast limit as it will run: -R and -B
// from flags when given there, otherwise the defaults its man page
// documents ("(default N)" under each), so that the bound follows the
// daemon when its defaults change.
func ourLimits(t *testing.T, flags []string) (rate, burst float64) {
	t.Helper()
	man := readFile(t, filepath.Join("..", "doc", "arpd.8"))
	rate, burst = manDefault(t, man, `.BI \-R "`), manDefault(t, man, `.BI \-B "`)
	for i, f := range flags {
		for _, o := range []struct {
			flag string
			v    *float64
		}{{"-R", &rate}, {"-B", &burst}} {
			val, ok := strings.CutPrefix(f, o.flag)
			if !ok {
				continue
			}
			if val == "" && i+1 < len(flags) {
				val = flags[i+1]
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				t.Fatalf("ARPD_SCAN_FLAGS: %s %q: want a number", o.flag, val)
			}
			*o.v = v
		}
	}
	return rate, burst
}

// manDefault returns the number N in "(default N)" or "(default N; ...)"
// in the paragraph of the man page that starts with the line starting
// with item.
func manDefault(t testing.TB, man, item string) float64 {
	t.Helper()
	_, rest, ok := strings.Cut(man, "\n"+item)
	if ok {
		rest, _, _ = strings.Cut(rest, "\n.TP")
		_, rest, ok = strings.Cut(rest, "(default ")
	}
	if ok {
		num := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789."))]
		if v, err := strconv.ParseFloat(num, 64); err == nil {
			return v
		}
	}
	t.Fatalf("doc/arpd.8: no default under %s", item)
	return 0
}

// TestScanManDefault checks the reading of the defaults make scan-lab
// takes this arpd's broadcast limit from, on the man page's own text and
// on the forms it has had.
func TestScanManDefault(t *testing.T) {
	man := readFile(t, filepath.Join("..", "doc", "arpd.8"))
	if r, b := manDefault(t, man, `.BI \-R "`), manDefault(t, man, `.BI \-B "`); r <= 0 || b <= 0 {
		t.Errorf("doc/arpd.8: -R default %g, -B default %g; want both above 0", r, b)
	}
	for _, c := range []struct {
		text string
		want float64
	}{
		{"\n.BI \\-R \" rate\"\nBroadcast probes per second; fractions such as 0.5 are\nallowed (default 1).\n.TP\n", 1},
		{"\n.BI \\-R \" rate\"\nBroadcast probes per second\n(default 0.5; iproute2's is 1).\n.TP\n", 0.5},
		{"\n.BI \\-R \" rate\"\nBroadcast probes (default 50; iproute2's\nis 1).\n.TP\n", 50},
	} {
		if got := manDefault(t, c.text, `.BI \-R "`); got != c.want {
			t.Errorf("default in %q = %g, want %g", c.text, got, c.want)
		}
	}
}

// waitTableDrained waits, 15 s at most, until the kernel's ARP table, or
// its IPv6 neighbour table for v6 (all namespaces), is back under
// gc_thresh1 after a lab went away: the namespaces are deleted in the
// background, their entries with them.
func waitTableDrained(t *testing.T, in *interrupt, v6 bool) {
	t.Helper()
	in.waitFor(15*time.Second, func() bool {
		n, _, err := neighCacheStats(v6)
		return err != nil || n < 128
	})
}
