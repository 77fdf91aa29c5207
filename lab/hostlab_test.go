package lab

// The lab of the demo and the benchmark: many hosts on the far side, at
// addresses that map back to their host without a table, and the daemons
// started in it through labtest.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// The lab's IPv4 addresses: the near side is 10.0.0.1/8 and the far
// side's own address 10.0.0.2/8; host i is 10.(64+j/256).(j%256).(1+i%250)
// with j = i/250, inside 10.64.0.0/10, so that up to hostsMax hosts fit and
// an address maps back to its host without a table. No host address ends
// in .0 or .255.
//
// NB: the far side holds the hosts as one local route (ip route add local
// 10.64.0.0/10 dev lo), not as addresses of its interface: the kernel
// answers ARP for any address a local route covers (arp_ignore 0) and
// takes datagrams to it, so 200,000 hosts cost one route. Adding 200,000
// addresses one by one took 8.5 minutes. The near side's own address must
// stay outside that route, or the far side would take its datagrams too.
var (
	nearIP = [4]byte{10, 0, 0, 1}
	farIP  = [4]byte{10, 0, 0, 2}
)

// hostsRoute is the far side's local route that holds every host.
const hostsRoute = "10.64.0.0/10"

// hostsMax is the number of host addresses the scheme has room for.
const hostsMax = 64 * 256 * 250

// hostAddr returns the address of host i.
func hostAddr(i int) [4]byte {
	j := i / 250
	return [4]byte{10, byte(64 + j>>8), byte(j), byte(1 + i%250)}
}

// hostIndex returns the host whose address (IPv4, or IPv6 as hostAddr6
// makes them) is a, or -1.
func hostIndex(a []byte) int {
	if len(a) == 16 {
		return hostIndex6(a)
	}
	if len(a) != 4 || a[0] != 10 || a[1] < 64 || a[1] > 127 || a[3] < 1 || a[3] > 250 {
		return -1
	}
	return (int(a[1]-64)<<8|int(a[2]))*250 + int(a[3]-1)
}

// ipString formats a as a dotted quad.
func ipString(a [4]byte) string {
	return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
}

// hostLab is a lab with n hosts on the far side, IPv4 or IPv6 ones.
type hostLab struct {
	*labtest.Lab
	n       int
	v6      bool          // the hosts are IPv6 addresses (newHostLab6)
	ifindex int32         // of NearIf in Near
	setup   time.Duration // how long adding the host addresses took
	direct  bool          // daemons start without ip netns exec (labtest.Options.Direct)
}

// newHostLab makes a lab with n hosts on the far side (its local route of
// every host address) and the near interface's own settings in sysctls
// (per interface, inside the lab: they go away with it).
func newHostLab(t testing.TB, n int, sysctls map[string]string) *hostLab {
	t.Helper()
	if n > hostsMax {
		t.Fatalf("%d hosts: at most %d fit the address scheme", n, hostsMax)
	}
	l := &hostLab{Lab: labtest.New(t), n: n}
	t0 := time.Now()
	l.IP(l.Near, "addr", "add", ipString(nearIP)+"/8", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", ipString(farIP)+"/8", "dev", l.FarIf)
	l.IP(l.Far, "route", "add", "local", hostsRoute, "dev", "lo")
	l.setup = time.Since(t0)
	for k, v := range sysctls {
		l.Sysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/"+k, v)
	}
	l.ifindex = int32(l.Ifindex(l.Near, l.NearIf))
	return l
}

// kernelTable returns how many neighbours of the lab's family the near
// interface has (for IPv6, how many of them are hosts).
func (l *hostLab) kernelTable(t testing.TB) int {
	t.Helper()
	if l.v6 {
		return l.kernelTable6(t)
	}
	out := l.IP(l.Near, "-4", "neigh", "show", "dev", l.NearIf)
	return strings.Count(out, "\n")
}

// flush empties the near interface's neighbour table of the lab's family.
func (l *hostLab) flush(t testing.TB) {
	t.Helper()
	if l.v6 {
		l.IP(l.Near, "-6", "neigh", "flush", "dev", l.NearIf)
		return
	}
	l.IP(l.Near, "-4", "neigh", "flush", "dev", l.NearIf)
}

// startOurDaemon runs this arpd -F -b db args... in the near namespace
// and waits until it has taken over resolution (app_solicit set).
func startOurDaemon(t testing.TB, l *hostLab, db string, args ...string) *labtest.Daemon {
	t.Helper()
	return labtest.Start(t, labtest.Options{Name: "arpd (this)", Lab: l.Lab, DB: db, Args: args, ReadyIf: l.NearIf, Direct: l.direct})
}

// iproute2Arpd is where iproute2's arpd is installed.
const iproute2Arpd = "/usr/sbin/arpd"

// startIproute2Daemon runs iproute2's arpd -b db args... in the near
// namespace and waits until it has taken over resolution. It detaches and
// writes no pid file, so its pid is found among the processes in the
// namespace, which only this test starts.
func startIproute2Daemon(t testing.TB, l *hostLab, db string, args ...string) *labtest.Daemon {
	t.Helper()
	return labtest.Start(t, labtest.Options{Name: "iproute2 arpd", Bin: iproute2Arpd, Lab: l.Lab, DB: db,
		Args: args, Detach: true, ReadyIf: l.NearIf, Direct: l.direct})
}

// TestHostAddr checks the IPv4 lab's address scheme without root: every
// host maps back to itself, inside the far side's route and away from
// .0 and .255, and the lab's own addresses and others map to none.
func TestHostAddr(t *testing.T) {
	for _, i := range []int{0, 1, 249, 250, 19999, 63999, 64000, 199999, hostsMax - 1} {
		a := hostAddr(i)
		if got := hostIndex(a[:]); got != i {
			t.Errorf("hostIndex(%s) = %d, want %d", ipString(a), got, i)
		}
		if a[0] != 10 || a[1]&0xc0 != 64 || a[3] == 0 || a[3] == 255 {
			t.Errorf("host %d is %s: outside %s, or ending in .0 or .255", i, ipString(a), hostsRoute)
		}
	}
	if s := ipString(hostAddr(199999)); s != "10.67.31.250" {
		t.Errorf("host 199,999 is %s, want 10.67.31.250", s)
	}
	for _, a := range [][4]byte{nearIP, farIP, {10, 63, 0, 1}, {10, 128, 0, 1}, {10, 64, 0, 0}, {10, 64, 0, 251}, {11, 64, 0, 1}} {
		if got := hostIndex(a[:]); got != -1 {
			t.Errorf("hostIndex(%s) = %d, want -1", ipString(a), got)
		}
	}
}
