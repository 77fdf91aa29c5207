package lab

// The IPv6 lab of the demo and the benchmark: the same two namespaces,
// with the hosts as IPv6 addresses of the far interface, which the far
// kernel answers Neighbor Solicitations for.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// The IPv6 lab's addresses, in fd79::/64: the near side is fd79::1, the
// far side's own address fd79::2, and host i is fd79::(i+1):0:0:1, so an
// address maps back to its host without a table.
//
// NB: every host address ends in the same 24 bits (00:0001), so all of
// them share one solicited-node group, ff02::1:ff00:1, which the far
// interface joins once. With a group per address the far kernel keeps
// 20,000 memberships in a list it walks for every join and every
// multicast it receives: adding 20,000 such addresses with ip -batch took
// 222 s on the lab machine (2 CPUs, Linux 6.18), against 8.9 s for these,
// and each Neighbor Solicitation the near side sends would cost the far
// side that walk. The near side, which is what the lab measures, sends
// the same solicitation either way, to the group of the target.
var (
	nearIP6 = [16]byte{0xfd, 0x79, 15: 1}
	farIP6  = [16]byte{0xfd, 0x79, 15: 2}
)

// hostsMax6 is the number of host addresses the IPv6 scheme has room for:
// one 16-bit word of the address, 0 left out.
const hostsMax6 = 1<<16 - 1

// hostAddr6 returns the IPv6 address of host i.
func hostAddr6(i int) [16]byte {
	a := [16]byte{0xfd, 0x79, 15: 1}
	binary.BigEndian.PutUint16(a[8:], uint16(i+1))
	return a
}

// hostIndex6 returns the host whose IPv6 address is a, or -1.
func hostIndex6(a []byte) int {
	if len(a) != 16 || a[0] != 0xfd || a[1] != 0x79 || a[15] != 1 {
		return -1
	}
	for _, i := range []int{2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14} {
		if a[i] != 0 {
			return -1
		}
	}
	w := int(binary.BigEndian.Uint16(a[8:]))
	if w == 0 {
		return -1
	}
	return w - 1
}

// ip6String formats a as IPv6 text.
func ip6String(a [16]byte) string { return netip.AddrFrom16(a).String() }

// newHostLab6 makes a lab with n IPv6 host addresses on the far interface
// (nodad: no duplicate address detection, so each is usable at once) and
// the near interface's own IPv6 neighbour settings in sysctls. The near
// interface keeps its addresses across a link flap (keep_addr_on_down)
// and does no duplicate address detection, so that a flap empties its
// neighbour table and changes nothing else.
func newHostLab6(t testing.TB, n int, sysctls map[string]string) *hostLab {
	t.Helper()
	if n > hostsMax6 {
		t.Fatalf("%d hosts: at most %d fit the IPv6 address scheme", n, hostsMax6)
	}
	l := &hostLab{Lab: labtest.New(t), n: n, v6: true}
	for k, v := range map[string]string{"keep_addr_on_down": "1", "accept_dad": "0", "accept_ra": "0"} {
		l.Sysctl(l.Near, "net/ipv6/conf/"+l.NearIf+"/"+k, v)
	}
	l.IP(l.Near, "-6", "addr", "add", ip6String(nearIP6)+"/64", "dev", l.NearIf, "nodad")
	var b strings.Builder
	fmt.Fprintf(&b, "addr add %s/64 dev %s nodad\n", ip6String(farIP6), l.FarIf)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "addr add %s/128 dev %s nodad\n", ip6String(hostAddr6(i)), l.FarIf)
	}
	t0 := time.Now()
	if out, err := l.ExecStdin(l.Far, b.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("adding %d IPv6 addresses in %s: %v: %s", n, l.Far, err, out)
	}
	l.setup = time.Since(t0)
	for k, v := range sysctls {
		l.Sysctl(l.Near, "net/ipv6/neigh/"+l.NearIf+"/"+k, v)
	}
	l.ifindex = int32(l.Ifindex(l.Near, l.NearIf))
	waitNotTentative(t, l.Lab, l.Near, l.NearIf)
	return l
}

// waitNotTentative waits, 5 s at most, until no address of ifname in ns
// is tentative (in duplicate address detection): the link-local address
// a probe is sent from must be usable first.
func waitNotTentative(t testing.TB, l *labtest.Lab, ns, ifname string) {
	t.Helper()
	if !labtest.WaitFor(5*time.Second, func() bool {
		return strings.TrimSpace(l.IP(ns, "-6", "addr", "show", "dev", ifname, "tentative")) == ""
	}) {
		t.Fatalf("%s in %s still has tentative addresses after 5 s: %s", ifname, ns, l.IP(ns, "-6", "addr", "show", "dev", ifname))
	}
}

// kernelTable6 returns how many of the hosts the near interface's IPv6
// neighbour table holds (it may also hold the far side's link-local
// address, which is no host).
func (l *hostLab) kernelTable6(t testing.TB) int {
	t.Helper()
	k := 0
	for _, line := range strings.Split(l.IP(l.Near, "-6", "neigh", "show", "dev", l.NearIf), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if a, err := netip.ParseAddr(f[0]); err == nil && a.Is6() {
			b := a.As16()
			if hostIndex6(b[:]) >= 0 {
				k++
			}
		}
	}
	return k
}

// familyName returns "IPv6" for a lab of IPv6 hosts, else "IPv4".
func (l *hostLab) familyName() string {
	if l.v6 {
		return "IPv6"
	}
	return "IPv4"
}

// waitSolicitV6 waits up to limit until app_solicit of the near interface
// for IPv6 is not 0, which a daemon that resolves IPv6 sets once it has
// loaded the kernel's table (labtest.Start waits for the IPv4 one), and
// reports whether it is.
func waitSolicitV6(t testing.TB, l *labtest.Lab, ifname string, limit time.Duration) bool {
	t.Helper()
	key := "/proc/sys/net/ipv6/neigh/" + ifname + "/app_solicit"
	ok := false
	if err := l.Do(l.Near, func() error {
		deadline := time.Now().Add(limit)
		for {
			b, err := os.ReadFile(key)
			if err != nil {
				return err
			}
			if ok = strings.TrimSpace(string(b)) != "0"; ok || time.Now().After(deadline) {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}); err != nil {
		t.Fatalf("reading %s in %s: %v", key, l.Near, err)
	}
	return ok
}

// TestHostAddr6 checks the IPv6 lab's address scheme without root: every
// host maps back to itself, the lab's own addresses and others to none.
func TestHostAddr6(t *testing.T) {
	for _, i := range []int{0, 1, 249, 250, 19999, hostsMax6 - 1} {
		a := hostAddr6(i)
		if got := hostIndex6(a[:]); got != i {
			t.Errorf("hostIndex6(%s) = %d, want %d", ip6String(a), got, i)
		}
	}
	if s := ip6String(hostAddr6(0)); s != "fd79::1:0:0:1" {
		t.Errorf("host 0 is %s, want fd79::1:0:0:1", s)
	}
	for _, a := range [][16]byte{nearIP6, farIP6, {0xfd, 0x79, 8: 1, 15: 2}, {0xfd, 0x78, 8: 1, 15: 1}} {
		if got := hostIndex6(a[:]); got != -1 {
			t.Errorf("hostIndex6(%s) = %d, want -1", ip6String(a), got)
		}
	}
}

// v6Probe is what daemonResolvesV6 found, once per test binary.
var v6Probe struct {
	once sync.Once
	ok   bool
	why  string
}

// daemonResolvesV6 reports whether this arpd resolves IPv6 neighbours,
// and if not, why not. It finds out once, in a lab of its own with one
// IPv6 host: this arpd -a 3 -k (the kernel then sends no solicitation of
// its own), a datagram to the host, and whether it arrives within 2.5 s.
//
// NB: setting the IPv6 app_solicit is no sign: a daemon sets it for both
// families before it answers IPv6 requests.
func daemonResolvesV6(t testing.TB) (bool, string) {
	t.Helper()
	v6Probe.once.Do(func() {
		l := newHostLab6(t, 1, nil)
		sink := newFarSink(t, l)
		snd := newNearSender(t, l)
		d := startOurDaemon(t, l, filepath.Join(t.TempDir(), "probe.db"), "-a", "3", "-k", l.NearIf)
		defer d.Close()
		if !waitSolicitV6(t, l.Lab, l.NearIf, 3*time.Second) {
			v6Probe.why = "it did not set app_solicit of " + l.NearIf + " for IPv6 within 3 s"
			return
		}
		snd.send(0)
		if v6Probe.ok = labtest.WaitFor(2500*time.Millisecond, func() bool { return sink.delivered(0, 1) == 1 }); !v6Probe.ok {
			v6Probe.why = "a datagram to an IPv6 host did not arrive within 2.5 s with this arpd -a 3 -k as the resolver (" +
				strings.TrimSpace(l.IP(l.Near, "-6", "neigh", "show", "dev", l.NearIf)) + "); its output: " + d.Output()
		}
	})
	return v6Probe.ok, v6Probe.why
}

// requireV6Daemon skips t, saying why, unless this arpd resolves IPv6
// (daemonResolvesV6): it has no IPv6 figures then. In make bench-lab,
// make scan-lab and make demo (full) the caller fails the run once its
// report is out.
func requireV6Daemon(t testing.TB) {
	t.Helper()
	if ok, why := daemonResolvesV6(t); !ok {
		t.Skip("this arpd does not resolve IPv6 (yet): " + why)
	}
}
