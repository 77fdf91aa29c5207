package lab

// The scan lab: a scanner namespace, the router, and the segment behind
// it, where a responder plays the live hosts; and one setup's run in it.

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// The scan lab's addresses. The segment is 10.77.0.0/bits, the router
// 10.77.0.1 on it; known live host i is 10.77.1.(1+i), new live host i
// 10.77.2.(1+i). The scanner is 10.99.0.2/24, the router 10.99.0.1 on
// its side.
var (
	scanRouterIP  = [4]byte{10, 77, 0, 1}
	scanRouterMAC = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	scanUplinkMAC = [6]byte{0x02, 0x00, 0x0a, 0x63, 0x00, 0x01} // the router's side of the scanner's link
	scanHostMAC   = [6]byte{0x02, 0x00, 0x0a, 0x63, 0x00, 0x02} // the scanner's
)

// The interfaces on the scanner's link: vscan in the scanner's namespace,
// vuplink in the router's.
const (
	scanIf   = "vscan"
	uplinkIf = "vuplink"
)

// scanLab is a labtest.Lab whose Near namespace is the router and Far the
// segment, with a third namespace, the scanner's, linked to the router.
type scanLab struct {
	*labtest.Lab
	cfg     *scanConfig
	Scanner string // the scanner's namespace
}

// liveAddr returns the address of live host i: the known ones first.
func (c *scanConfig) liveAddr(i int) [4]byte {
	if i < c.known {
		return [4]byte{10, 77, 1, byte(1 + i)}
	}
	return [4]byte{10, 77, 2, byte(1 + i - c.known)}
}

// liveIndex returns the live host whose address is a, or -1.
func (c *scanConfig) liveIndex(a [4]byte) int {
	switch {
	case a[0] != 10 || a[1] != 77 || a[3] < 1:
		return -1
	case a[2] == 1 && int(a[3]) <= c.known:
		return int(a[3]) - 1
	case a[2] == 2 && int(a[3]) <= c.fresh:
		return c.known + int(a[3]) - 1
	}
	return -1
}

// liveMAC returns the made-up MAC of live host i.
func liveMAC(i int) [6]byte { return [6]byte{0x02, 0x77, 0x00, 0x01, byte(i >> 8), byte(i)} }

// deadAddrs returns every address of the segment but its network and
// broadcast addresses, the router's and the live hosts'.
func (c *scanConfig) deadAddrs() [][4]byte {
	n := 1 << (32 - c.bits)
	dead := make([][4]byte, 0, n)
	for i := 1; i < n-1; i++ {
		a := [4]byte{10, 77, byte(i >> 8), byte(i)}
		if a != scanRouterIP && c.liveIndex(a) < 0 {
			dead = append(dead, a)
		}
	}
	return dead
}

// newScanLab makes the lab for t: the router forwarding, with its
// segment interface (NearIf) at 10.77.0.1/bits and the kernel's own
// neighbour settings (app_solicit 0, mcast_solicit 3: what a daemon
// changes, it changes from these), and the scanner routing everything
// through it. Each side's neighbour entry for the other is permanent, so
// that a full table cannot take the scanner's own path away.
func newScanLab(t testing.TB, cfg *scanConfig) *scanLab {
	t.Helper()
	l := &scanLab{Lab: labtest.New(t), cfg: cfg}
	l.Scanner = strings.TrimSuffix(l.Near, "-n") + "-s"
	if out, err := exec.Command("ip", "netns", "add", l.Scanner).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", l.Scanner, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", l.Scanner).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", l.Scanner, err, out)
		}
	})
	l.IP(l.Scanner, "link", "add", scanIf, "address", labtest.MACString(scanHostMAC), "type", "veth",
		"peer", "name", uplinkIf, "address", labtest.MACString(scanUplinkMAC), "netns", l.Near)
	l.IP(l.Scanner, "link", "set", "lo", "up")
	l.IP(l.Scanner, "link", "set", scanIf, "up")
	l.IP(l.Near, "link", "set", uplinkIf, "up")
	l.IP(l.Near, "link", "set", l.NearIf, "address", labtest.MACString(scanRouterMAC))
	l.IP(l.Near, "addr", "add", ipString(scanRouterIP)+"/"+strconv.Itoa(cfg.bits), "dev", l.NearIf)
	l.IP(l.Near, "addr", "add", "10.99.0.1/24", "dev", uplinkIf)
	l.IP(l.Scanner, "addr", "add", "10.99.0.2/24", "dev", scanIf)
	l.IP(l.Scanner, "route", "add", "default", "via", "10.99.0.1")
	l.IP(l.Scanner, "neigh", "replace", "10.99.0.1", "lladdr", labtest.MACString(scanUplinkMAC), "nud", "permanent", "dev", scanIf)
	l.IP(l.Near, "neigh", "replace", "10.99.0.2", "lladdr", labtest.MACString(scanHostMAC), "nud", "permanent", "dev", uplinkIf)
	l.Sysctl(l.Near, "net/ipv4/ip_forward", "1")
	l.Sysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/app_solicit", "0")
	l.Sysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/mcast_solicit", "3")
	return l
}

// knownInTable returns how many known hosts the router's kernel holds in
// a valid state (not INCOMPLETE or FAILED).
func (l *scanLab) knownInTable(t testing.TB) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(l.IP(l.Near, "-4", "neigh", "show", "dev", l.NearIf), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "INCOMPLETE") || strings.Contains(line, "FAILED") {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || !a.Is4() {
			continue
		}
		if i := l.cfg.liveIndex(a.As4()); i >= 0 && i < l.cfg.known {
			n++
		}
	}
	return n
}

// scanRun runs one setup in a lab of its own with the scan in order,
// and returns what it measured.
func scanRun(t *testing.T, in *interrupt, cfg *scanConfig, s *scanSetup, order string) scanResult {
	t.Helper()
	var l *scanLab
	if cfg.v6 {
		l = newScanLab6(t, cfg)
	} else {
		l = newScanLab(t, cfg)
	}
	t0 := time.Now()
	resp := newResponder(t, l, t0)
	var d *labtest.Daemon
	if s.start != nil {
		d = s.start(t, l, filepath.Join(t.TempDir(), "arpd.db"), append(append([]string(nil), s.args...), l.NearIf))
	}
	// The warm-up: each known host asks the router for its address, as a
	// host does before its first packet; the kernel takes the asker into
	// its table, a daemon into its cache. Then time for the daemon to
	// save its counters (once a second).
	warm := l.knownInTable
	if cfg.v6 {
		resp.warmUp6(t)
		warm = l.knownInTable6
	} else {
		resp.warmUp(t)
	}
	time.Sleep(1100 * time.Millisecond)
	r := scanResult{setup: s, order: order, warmKnown: warm(t), cpu: -1}
	var before map[string]uint64
	if s.stats {
		before = d.Stats()
	}
	_, fulls0, err := neighCacheStats(cfg.v6)
	if err != nil {
		t.Fatal(err)
	}
	if d != nil {
		r.cpu = -daemonCPU(t, d)
	}
	snd := newScanSender(cfg, order, t0)
	if err := l.Do(l.Scanner, func() error { return snd.run(in) }); err != nil {
		t.Fatalf("scanner: %v", err)
	}
	in.check(t)
	in.waitFor(cfg.drain, func() bool { return false })
	in.check(t)
	_, fulls1, _ := neighCacheStats(cfg.v6)
	r.tableFulls = fulls1 - fulls0
	if d != nil {
		d.RequireRunning("during the scan")
		r.cpu += daemonCPU(t, d)
		r.out = d.Output()
	}
	if s.stats {
		time.Sleep(1100 * time.Millisecond)
		r.counters = counterGrowth(before, d.Stats())
	}
	r.measure(cfg, snd, resp)
	return r
}

// counterGrowth returns, by name, how much each counter in after grew
// since before, leaving out the ones that did not and the cache's size.
func counterGrowth(before, after map[string]uint64) map[string]uint64 {
	g := map[string]uint64{}
	for k, v := range after {
		if k != "entries" && k != "capacity" && v > before[k] {
			g[k] = v - before[k]
		}
	}
	return g
}
