package lab

// The scan lab over IPv6: the same three namespaces, the segment
// fd77::/64 behind the router, a scan of random addresses in it.

import (
	"encoding/binary"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// The IPv6 scan lab's addresses. The segment is fd77::/64, the router
// fd77::1 on it; known live host i is fd77::1:(1+i), new live host i
// fd77::2:(1+i). The scanner is fd99::2/64, the router fd99::1 on its side.
var (
	scanRouterIP6 = [16]byte{0xfd, 0x77, 15: 1}
	scanUplinkIP6 = [16]byte{0xfd, 0x99, 15: 1}
	scanHostIP6   = [16]byte{0xfd, 0x99, 15: 2}
)

// liveAddr6 returns the IPv6 address of live host i: the known ones first.
func (c *scanConfig) liveAddr6(i int) [16]byte {
	a := [16]byte{0xfd, 0x77, 13: 1}
	if i >= c.known {
		a[13], i = 2, i-c.known
	}
	binary.BigEndian.PutUint16(a[14:], uint16(1+i))
	return a
}

// liveIndex6 returns the live host whose IPv6 address is a, or -1.
func (c *scanConfig) liveIndex6(a [16]byte) int {
	if [12]byte(a[:12]) != [12]byte{0xfd, 0x77} || a[12] != 0 {
		return -1
	}
	k := int(binary.BigEndian.Uint16(a[14:]))
	switch {
	case k < 1:
		return -1
	case a[13] == 1 && k <= c.known:
		return k - 1
	case a[13] == 2 && k <= c.fresh:
		return c.known + k - 1
	}
	return -1
}

// deadAddr6 returns a random address of the segment with interface
// identifier id, or false for the router's, a live host's and the
// subnet-router anycast address (identifier 0).
func (c *scanConfig) deadAddr6(id uint64) ([16]byte, bool) {
	a := [16]byte{0xfd, 0x77}
	binary.BigEndian.PutUint64(a[8:], id)
	return a, id != 0 && a != scanRouterIP6 && c.liveIndex6(a) < 0
}

// newScanLab6 makes the IPv6 lab for t, as newScanLab does the IPv4 one:
// the router forwarding, its segment interface at fd77::1/64 with the
// kernel's own IPv6 neighbour settings (app_solicit 0, mcast_solicit 3),
// the scanner routing everything through it, and each side's neighbour
// entry for the other permanent. Addresses are nodad and the router does
// no duplicate address detection, so that all are usable at once.
func newScanLab6(t testing.TB, cfg *scanConfig) *scanLab {
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
	l.Sysctl(l.Near, "net/ipv6/conf/all/forwarding", "1")
	l.Sysctl(l.Near, "net/ipv6/conf/"+l.NearIf+"/accept_dad", "0")
	l.IP(l.Scanner, "link", "set", "lo", "up")
	l.IP(l.Scanner, "link", "set", scanIf, "up")
	l.IP(l.Near, "link", "set", uplinkIf, "up")
	l.IP(l.Near, "link", "set", l.NearIf, "address", labtest.MACString(scanRouterMAC))
	l.IP(l.Near, "-6", "addr", "add", ip6String(scanRouterIP6)+"/64", "dev", l.NearIf, "nodad")
	l.IP(l.Near, "-6", "addr", "add", ip6String(scanUplinkIP6)+"/64", "dev", uplinkIf, "nodad")
	l.IP(l.Scanner, "-6", "addr", "add", ip6String(scanHostIP6)+"/64", "dev", scanIf, "nodad")
	l.IP(l.Scanner, "-6", "route", "add", "default", "via", ip6String(scanUplinkIP6))
	l.IP(l.Scanner, "-6", "neigh", "replace", ip6String(scanUplinkIP6), "lladdr", labtest.MACString(scanUplinkMAC), "nud", "permanent", "dev", scanIf)
	l.IP(l.Near, "-6", "neigh", "replace", ip6String(scanHostIP6), "lladdr", labtest.MACString(scanHostMAC), "nud", "permanent", "dev", uplinkIf)
	l.Sysctl(l.Near, "net/ipv6/neigh/"+l.NearIf+"/app_solicit", "0")
	l.Sysctl(l.Near, "net/ipv6/neigh/"+l.NearIf+"/mcast_solicit", "3")
	// The router's link-local address, which its solicitations come
	// from, took its MAC's change; no detection holds it now.
	waitNotTentative(t, l.Lab, l.Near, l.NearIf)
	return l
}

// knownInTable6 returns how many known hosts the router's kernel holds in
// a valid state (not INCOMPLETE or FAILED), over IPv6.
func (l *scanLab) knownInTable6(t testing.TB) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(l.IP(l.Near, "-6", "neigh", "show", "dev", l.NearIf), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "INCOMPLETE") || strings.Contains(line, "FAILED") {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || !a.Is6() {
			continue
		}
		if i := l.cfg.liveIndex6(a.As16()); i >= 0 && i < l.cfg.known {
			n++
		}
	}
	return n
}

// TestScanAddr6 checks the IPv6 scan lab's addresses without root: every
// live host maps back to itself, and no random address the scan sends to
// is a live host's or the router's.
func TestScanAddr6(t *testing.T) {
	c := &scanConfig{known: 100, fresh: 100}
	for i := range c.live() {
		if got := c.liveIndex6(c.liveAddr6(i)); got != i {
			t.Errorf("liveIndex6(%s) = %d, want %d", ip6String(c.liveAddr6(i)), got, i)
		}
	}
	if s := ip6String(c.liveAddr6(100)); s != "fd77::2:1" {
		t.Errorf("new host 0 is %s, want fd77::2:1", s)
	}
	for _, id := range []uint64{0, 1, 0x1_0001, 0x2_0064} {
		if a, ok := c.deadAddr6(id); ok {
			t.Errorf("%s is taken for a dead address", ip6String(a))
		}
	}
	if a, ok := c.deadAddr6(0x2_0065); !ok {
		t.Errorf("%s, past the new hosts, is not taken for a dead address", ip6String(a))
	}
}
