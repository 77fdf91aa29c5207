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

// The lab's addresses: the near side is 10.79.0.1/16, the far side's own
// address 10.79.0.2/16, and host i is 10.79.(1+i/250).(1+i%250), so up to
// 63,500 hosts fit and an address maps back to its host without a table.
var (
	nearIP = [4]byte{10, 79, 0, 1}
	farIP  = [4]byte{10, 79, 0, 2}
)

// hostsMax is the number of host addresses the scheme has room for.
const hostsMax = 254 * 250

// hostAddr returns the address of host i.
func hostAddr(i int) [4]byte {
	return [4]byte{10, 79, byte(1 + i/250), byte(1 + i%250)}
}

// hostIndex returns the host whose address (IPv4, or IPv6 as hostAddr6
// makes them) is a, or -1.
func hostIndex(a []byte) int {
	if len(a) == 16 {
		return hostIndex6(a)
	}
	if len(a) != 4 || a[0] != 10 || a[1] != 79 || a[2] < 1 || a[3] < 1 || a[3] > 250 {
		return -1
	}
	return int(a[2]-1)*250 + int(a[3]-1)
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
}

// newHostLab makes a lab with n host addresses on the far interface and
// the near interface's own settings in sysctls (per interface, inside the
// lab: they go away with it).
func newHostLab(t testing.TB, n int, sysctls map[string]string) *hostLab {
	t.Helper()
	if n > hostsMax {
		t.Fatalf("%d hosts: at most %d fit the address scheme", n, hostsMax)
	}
	l := &hostLab{Lab: labtest.New(t), n: n}
	l.IP(l.Near, "addr", "add", ipString(nearIP)+"/16", "dev", l.NearIf)
	var b strings.Builder
	fmt.Fprintf(&b, "addr add %s/16 dev %s\n", ipString(farIP), l.FarIf)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "addr add %s/16 dev %s\n", ipString(hostAddr(i)), l.FarIf)
	}
	t0 := time.Now()
	if out, err := l.ExecStdin(l.Far, b.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("adding %d addresses in %s: %v: %s", n, l.Far, err, out)
	}
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
	return labtest.Start(t, labtest.Options{Name: "arpd (this)", Lab: l.Lab, DB: db, Args: args, ReadyIf: l.NearIf})
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
		Args: args, Detach: true, ReadyIf: l.NearIf})
}
