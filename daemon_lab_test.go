package main

// The harness of the lab tests of the whole daemon against the real kernel
// (daemon_*_lab_test.go): arpd runs as a separate process, the near
// namespace's resolver on vnear; the far namespace holds the hosts, watches
// the wire with packet sockets and injects frames (daemon_wire_lab_test.go).
// Each test builds its own lab, so most run in parallel.

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
)

// dlab is a lab addressed by labtest.Lab.Address (10.77.0.1/24 near with
// labtest.NearMAC, 10.77.0.2/24 far with labtest.FarMAC), with a database
// path for the daemon.
type dlab struct {
	*labtest.Lab
	t       *testing.T
	DB      string
	NearIdx int // ifindex of NearIf
}

// newDaemonLab makes the lab for t and waits until both ends of the veth
// pair can carry traffic.
func newDaemonLab(t *testing.T) *dlab {
	t.Helper()
	l := labtest.New(t)
	l.Address()
	d := &dlab{Lab: l, t: t, DB: filepath.Join(t.TempDir(), "arpd.db"),
		NearIdx: l.Ifindex(l.Near, l.NearIf)}
	d.waitOperUp(l.Near, l.NearIf)
	d.waitOperUp(l.Far, l.FarIf)
	return d
}

// waitOperUp waits until interface ifname in namespace ns is operationally
// up.
//
// NB: "ip link set up" returns before the kernel's link watch has given
// the device its real queueing discipline; until then it transmits into
// noop_qdisc, which drops everything. A probe lost that way looks like a
// dead host. The operational state is set by the same link watch run.
func (d *dlab) waitOperUp(ns, ifname string) {
	d.t.Helper()
	var out string
	if !labtest.WaitFor(5*time.Second, func() bool {
		out = d.IP(ns, "-br", "link", "show", "dev", ifname)
		f := strings.Fields(out)
		return len(f) >= 2 && f[1] == "UP"
	}) {
		d.t.Fatalf("%s in %s never came up: %s", ifname, ns, out)
	}
}

// startArpd starts "arpd -F -b d.DB args..." in Near, for t, and waits
// until it says it is ready.
func (d *dlab) startArpd(t testing.TB, args ...string) *labtest.Daemon {
	t.Helper()
	return labtest.Start(t, labtest.Options{Lab: d.Lab, DB: d.DB, Args: args})
}

// neighKey is the sysctl key of neighbour setting name of ifname.
func neighKey(ifname, name string) string { return "net/ipv4/neigh/" + ifname + "/" + name }

// nearSysctls returns app_solicit and mcast_solicit of ifname in Near.
func (d *dlab) nearSysctls(ifname string) [2]int {
	d.t.Helper()
	return [2]int{d.ReadSysctl(d.Near, neighKey(ifname, "app_solicit")), d.ReadSysctl(d.Near, neighKey(ifname, "mcast_solicit"))}
}

// setNearSysctls sets app_solicit and mcast_solicit of ifname in Near.
func (d *dlab) setNearSysctls(ifname string, app, mcast int) {
	d.t.Helper()
	d.Sysctl(d.Near, neighKey(ifname, "app_solicit"), strconv.Itoa(app))
	d.Sysctl(d.Near, neighKey(ifname, "mcast_solicit"), strconv.Itoa(mcast))
}

// farIgnoresARP makes the far kernel answer no ARP request at all
// (arp_ignore=8), so only the daemon's cache can resolve its hosts.
func (d *dlab) farIgnoresARP() {
	d.t.Helper()
	d.Sysctl(d.Far, "net/ipv4/conf/all/arp_ignore", "8")
	d.Sysctl(d.Far, "net/ipv4/conf/"+d.FarIf+"/arp_ignore", "8")
}

// nearNeigh returns the near kernel's entry for ip on ifname ("" if none).
func (d *dlab) nearNeigh(ifname string, ip [4]byte) string {
	d.t.Helper()
	return strings.TrimSpace(d.IP(d.Near, "neigh", "show", ipString(ip), "dev", ifname))
}

// ipString formats ip in dotted-quad notation.

// sendUDPFrom sends one datagram with payload to dst:port from namespace
// ns.
func (d *dlab) sendUDPFrom(ns string, dst [4]byte, port int, payload []byte) {
	d.t.Helper()
	if err := d.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, payload, unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: port, Addr: dst})
	}); err != nil {
		d.t.Fatalf("send UDP to %s:%d from %s: %v", ipString(dst), port, ns, err)
	}
}

// udpListener is a UDP socket bound in the far namespace: the host the
// near side talks to.
type udpListener struct{ fd int }

// listenUDP binds a UDP socket to ip:port in the far namespace, closed when
// the test ends.
func (d *dlab) listenUDP(ip [4]byte, port int) *udpListener {
	d.t.Helper()
	u := &udpListener{fd: -1}
	if err := d.Do(d.Far, func() (err error) {
		if u.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0); err != nil {
			return err
		}
		return unix.Bind(u.fd, &unix.SockaddrInet4{Port: port, Addr: ip})
	}); err != nil {
		d.t.Fatalf("listen on %s:%d in %s: %v", ipString(ip), port, d.Far, err)
	}
	d.t.Cleanup(func() { unix.Close(u.fd) })
	return u
}

// recv returns the next datagram, waiting at most limit.
func (u *udpListener) recv(limit time.Duration) ([]byte, bool) {
	buf := make([]byte, 2048)
	var got []byte
	ok := labtest.WaitFor(limit, func() bool {
		n, _, err := unix.Recvfrom(u.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return false
		}
		got = buf[:n]
		return true
	})
	return got, ok
}

// waitRow waits until the daemon's database lists want for key (a MAC, or
// "FAILED") and fails the test if it does not.
func (d *dlab) waitRow(limit time.Duration, key, want string) {
	d.t.Helper()
	var got dbRow
	var ok bool
	if !labtest.WaitFor(limit, func() bool {
		got, ok = listDBRows(d.t, d.DB)[key]
		if want == "FAILED" {
			return ok && got.Failed
		}
		return ok && !got.Failed && got.MAC == want
	}) {
		d.t.Fatalf("database row %q: got %+v (present %v), want %s", key, got, ok, want)
	}
}

// waitStats waits until cond holds for the daemon's saved counters (saved
// about once a second) and returns them.
func (d *dlab) waitStats(limit time.Duration, what string, cond func(st map[string]uint64) bool) map[string]uint64 {
	d.t.Helper()
	var st map[string]uint64
	if !labtest.WaitFor(limit, func() bool { st = labtest.Stats(d.t, d.DB); return cond(st) }) {
		d.t.Fatalf("counters never showed %s: %v", what, st)
	}
	return st
}

// nearCycle sends one datagram to ip from Near and waits until the near
// kernel's resolution of ip ends (FAILED, or the entry collected), that is,
// one full round of the kernel asking the daemon.
func (d *dlab) nearCycle(ip [4]byte) {
	d.t.Helper()
	d.sendUDPFrom(d.Near, ip, 9, nil)
	var n string
	if !labtest.WaitFor(5*time.Second, func() bool {
		n = d.nearNeigh(d.NearIf, ip)
		return !strings.Contains(n, "INCOMPLETE")
	}) {
		d.t.Fatalf("the kernel never finished resolving %s: %q", ipString(ip), n)
	}
	if strings.Contains(n, "lladdr") {
		d.t.Fatalf("%s was resolved: %q", ipString(ip), n)
	}
}
