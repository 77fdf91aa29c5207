package main

// Lab tests of the whole daemon against the real kernel (issue 3): arpd
// runs as a separate process, the near namespace's resolver on vnear; the
// far namespace holds the hosts, watches the wire with packet sockets and
// injects frames. Each test builds its own lab, so they run in parallel.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"arpd/internal/afpacket"
	"arpd/internal/frame"

	"arpd/internal/labtest"

	"golang.org/x/sys/unix"
)

// dlab is a lab addressed as in pktLabSetup (10.77.0.1/24 near with
// pktLabNearMAC, 10.77.0.2/24 far with pktLabFarMAC), with a database path
// for the daemon.
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
	pktLabSetup(t, l)
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
func ipString(ip [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", ip[0], ip[1], ip[2], ip[3]) }

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

// wireFrame is one ARP frame seen on the wire, with the kernel's receive
// time stamp.
type wireFrame struct {
	At   time.Time // the kernel's receive time stamp
	Read time.Time // when the test read it
	Drop frame.Drop
	F    labARP
}

// wire is a packet socket watching the ARP frames on one interface.
type wire struct {
	t      *testing.T
	c      *afpacket.Conn
	Frames []wireFrame
}

// watchWire opens a packet socket on ifname in namespace ns, with kernel
// time stamps turned on (SO_TIMESTAMPNS), so a frame's time is when it
// reached the interface and not when the test got round to reading it.
func (d *dlab) watchWire(ns, ifname string) *wire {
	d.t.Helper()
	c := pktLabOpen(d.t, d.Lab, ns, ifname)
	if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		d.t.Fatalf("SO_TIMESTAMPNS: %v", err)
	}
	return &wire{t: d.t, c: c}
}

// requireStamps waits until frames reaching the wire's interface carry the
// kernel's time stamp of their arrival, sending test frames from the other
// end with in (a frame from 10.77.0.254, which the tests do not count).
//
// NB: the first socket to ask for time stamps turns them on through a
// deferred work item; frames that arrive before it has run are stamped
// only when read, which would make an early frame look late.
func (w *wire) requireStamps(in *injector) {
	w.t.Helper()
	probe := garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0xfe, 0xfe}, [4]byte{10, 77, 0, 254})
	for try := 0; try < 100; try++ {
		in.send(probe)
		time.Sleep(30 * time.Millisecond)
		for _, f := range w.Poll() {
			if f.Drop == frame.DropNone && f.F.SenderIP == [4]byte{10, 77, 0, 254} && f.Read.Sub(f.At) >= 20*time.Millisecond {
				w.Frames = w.Frames[:0]
				return
			}
		}
	}
	w.t.Fatalf("frames on the wire never carried their arrival time")
}

// Poll reads every frame queued now and returns the new ones.
//
// NB: the time stamp comes with each frame as an SCM_TIMESTAMPNS control
// message. SIOCGSTAMPNS would not do: with SO_TIMESTAMPNS set the kernel
// does not record the last frame's stamp for it, and without it the first
// frames may carry none.
func (w *wire) Poll() []wireFrame {
	w.t.Helper()
	start := len(w.Frames)
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	for i := 0; i < 100000; i++ {
		n, oobn, _, from, err := unix.Recvmsg(w.c.Fd(), buf, oob, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			w.t.Fatalf("wire: %v", err)
		}
		sll, ok := from.(*unix.SockaddrLinklayer)
		if !ok {
			w.t.Fatalf("wire: frame from %T", from)
		}
		ll := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: sll.Protocol, Ifindex: int32(sll.Ifindex),
			Hatype: sll.Hatype, Pkttype: sll.Pkttype, Halen: sll.Halen, Addr: sll.Addr}
		var at time.Time
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			w.t.Fatalf("wire: control messages: %v", err)
		}
		for _, m := range cmsgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				at = time.Unix(ts.Unix())
			}
		}
		if at.IsZero() {
			w.t.Fatalf("wire: a frame without a time stamp")
		}
		var f labARP
		drop := labDecode(&f, buf[:n], &ll)
		w.Frames = append(w.Frames, wireFrame{At: at, Read: time.Now(), Drop: drop, F: f})
	}
	return w.Frames[start:]
}

// requests returns the ARP requests among frames sent by sender for a
// target that match.
func requests(frames []wireFrame, sender [4]byte, match func(target [4]byte) bool) []wireFrame {
	var out []wireFrame
	for _, f := range frames {
		if f.Drop == frame.DropNone && f.F.Op == frame.ARPOpRequest && f.F.SenderIP == sender && match(f.F.TargetIP) {
			out = append(out, f)
		}
	}
	return out
}

// isIP returns a matcher for requests that ask for ip.
func isIP(ip [4]byte) func([4]byte) bool { return func(t [4]byte) bool { return t == ip } }

// injector sends raw ARP payloads out of an interface to the broadcast
// address, through a packet socket.
type injector struct {
	t       *testing.T
	fd      int
	ifindex int
}

// injector opens a packet socket in namespace ns for sending out of
// ifname, closed when the test ends.
func (d *dlab) injector(ns, ifname string) *injector {
	d.t.Helper()
	in := &injector{t: d.t, fd: -1, ifindex: d.Ifindex(ns, ifname)}
	if err := d.Do(ns, func() (err error) {
		in.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		d.t.Fatalf("packet socket in %s: %v", ns, err)
	}
	d.t.Cleanup(func() { unix.Close(in.fd) })
	return in
}

// send sends payload as the body of an Ethernet frame of type ARP.
func (in *injector) send(payload []byte) {
	in.t.Helper()
	to := &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_ARP), Ifindex: in.ifindex, Halen: 6}
	copy(to.Addr[:], frame.BroadcastMAC[:])
	if err := unix.Sendto(in.fd, payload, 0, to); err != nil {
		in.t.Fatalf("inject %d bytes: %v", len(payload), err)
	}
}

// arpPayload returns an Ethernet/IPv4 ARP payload.
func arpPayload(op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	var b [frame.ARPLen]byte
	frame.EncodeARP(&b, op, sha, spa, tha, tpa)
	return b[:]
}

// garp returns a gratuitous ARP announcing ip at mac.
func garp(op uint16, mac [6]byte, ip [4]byte) []byte {
	return arpPayload(op, mac, ip, [6]byte{}, ip)
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

// TestDaemonLabResolvesLiveHost: with -a 1 -k the kernel sends no
// broadcast of its own, so a live host is resolved only if the daemon
// probes for it when the kernel asks. The first datagram reaches the host,
// the kernel has its MAC and so does the cache.
func TestDaemonLabResolvesLiveHost(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	host := d.listenUDP(pktLabFarIP, 7001)
	far := d.watchWire(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("app_solicit, mcast_solicit = %v, want [1 0] for -a 1 -k", got)
	}

	d.sendUDPFrom(d.Near, pktLabFarIP, 7001, []byte("live"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "live" {
		t.Fatalf("the host got %q (%v), want the first datagram; near: %s; arpd: %s", got, ok, d.nearNeigh(d.NearIf, pktLabFarIP), p.Output())
	}
	if n := d.nearNeigh(d.NearIf, pktLabFarIP); !strings.Contains(n, "lladdr "+pktMACString(pktLabFarMAC)) {
		t.Errorf("near kernel entry %q, want lladdr %s", n, pktMACString(pktLabFarMAC))
	}
	d.waitRow(3*time.Second, rowKey(d.NearIdx, pktLabFarIP), pktMACString(pktLabFarMAC))
	if probes := requests(far.Poll(), pktLabNearIP, isIP(pktLabFarIP)); len(probes) == 0 {
		t.Errorf("no request for the host on the wire, yet it was resolved with mcast_solicit 0")
	}
	d.waitStats(3*time.Second, "a probe and a kernel request", func(st map[string]uint64) bool {
		return st["probes_sent"] >= 1 && st["app_recv"] >= 1
	})
	p.RequireRunning("after resolving a host")
}

// TestDaemonLabAnswersFromCache: once the daemon knows a host, the kernel
// gets its address from the cache even when the host answers no ARP at all
// (arp_ignore=8) and the kernel's table has been flushed, and the first
// datagram, queued by the kernel while it asked, reaches the host.
func TestDaemonLabAnswersFromCache(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	host := d.listenUDP(pktLabFarIP, 7002)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)

	// Learn the host while it still answers.
	d.sendUDPFrom(d.Near, pktLabFarIP, 7002, []byte("learn"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "learn" {
		t.Fatalf("the host never got the first datagram (%q): %s", got, p.Output())
	}
	key := rowKey(d.NearIdx, pktLabFarIP)
	d.waitRow(3*time.Second, key, pktMACString(pktLabFarMAC))

	d.farIgnoresARP()
	near := d.watchWire(d.Near, d.NearIf)
	d.IP(d.Near, "neigh", "flush", "dev", d.NearIf)
	if n := d.nearNeigh(d.NearIf, pktLabFarIP); n != "" && !strings.Contains(n, "FAILED") {
		t.Fatalf("the flush left %q", n)
	}
	before := labtest.Stats(t, d.DB)["app_success"]

	d.sendUDPFrom(d.Near, pktLabFarIP, 7002, []byte("first"))
	got, ok := host.recv(5 * time.Second)
	if !ok || string(got) != "first" {
		t.Fatalf("after the flush the host got %q (%v), want the first datagram; near: %s; arpd: %s",
			got, ok, d.nearNeigh(d.NearIf, pktLabFarIP), p.Output())
	}
	if n := d.nearNeigh(d.NearIf, pktLabFarIP); !strings.Contains(n, "lladdr "+pktMACString(pktLabFarMAC)) {
		t.Errorf("near kernel entry %q, want lladdr %s", n, pktMACString(pktLabFarMAC))
	}
	d.waitStats(3*time.Second, "an answer from the cache", func(st map[string]uint64) bool {
		return st["app_success"] > before
	})
	// The answer came from the cache: the host sent no ARP reply.
	for _, f := range near.Poll() {
		if f.Drop == frame.DropNone && f.F.SenderIP == pktLabFarIP {
			t.Errorf("the host answered ARP despite arp_ignore=8: %+v", f.F)
		}
	}
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

// TestDaemonLabNegativeEntry: a host that does not answer gets a negative
// entry from the kernel's resolution failure; while it lives, and once the
// -a probes it allows are spent, the daemon sends no more broadcasts for
// it (counted on the far side); after it expires (-n) it probes again.
func TestDaemonLabNegativeEntry(t *testing.T) {
	t.Parallel()
	const ttl = 8
	d := newDaemonLab(t)
	dead := [4]byte{10, 77, 0, 99}
	far := d.watchWire(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", "-n", strconv.Itoa(ttl), d.NearIf)
	probes := func() int { return len(requests(far.Poll(), pktLabNearIP, isIP(dead))) }

	d.nearCycle(dead)
	key := rowKey(d.NearIdx, dead)
	d.waitRow(3*time.Second, key, "FAILED")
	made := time.Now()
	if n := probes(); n < 1 {
		t.Fatalf("the daemon never probed for %s (-a 1): %s", ipString(dead), p.Output())
	}
	// At most the -a budget (1) of probes on the negative entry, then
	// silence: two more rounds send nothing at all.
	d.nearCycle(dead)
	spent := probes()
	if spent > 1 {
		t.Errorf("%d probes in one round for a host with a live negative entry, want at most 1 (-a 1)", spent)
	}
	for i := 0; i < 2; i++ {
		d.nearCycle(dead)
		if n := probes(); n != 0 {
			t.Errorf("round %d after the negative entry's probes were spent: %d broadcasts, want 0", i+3, n)
		}
	}
	if time.Since(made) >= ttl*time.Second {
		t.Fatalf("the rounds took %v, longer than the entry lives (%d s): the silence proves nothing", time.Since(made), ttl)
	}
	row := listDBRows(t, d.DB)[key]
	if !row.Failed {
		t.Fatalf("the negative entry is gone: %+v", row)
	}
	d.waitStats(3*time.Second, "suppressed requests", func(st map[string]uint64) bool {
		return st["app_suppressed"] >= 2 && st["kern_neg"] >= 1
	})

	// Once it has expired, the daemon probes again and renews it.
	if !labtest.WaitFor(ttl*time.Second+5*time.Second, func() bool { return listDBRows(t, d.DB)[key].Age > ttl }) {
		t.Fatalf("the negative entry never aged past %d s: %+v", ttl, listDBRows(t, d.DB)[key])
	}
	d.nearCycle(dead)
	if n := probes(); n < 1 {
		t.Errorf("no probe once the negative entry expired")
	}
	if !labtest.WaitFor(3*time.Second, func() bool { r := listDBRows(t, d.DB)[key]; return r.Failed && r.Age < ttl }) {
		t.Errorf("the expired negative entry was not renewed: %+v", listDBRows(t, d.DB)[key])
	}

	// The host comes to life and announces itself (it answers no
	// requests): the binding replaces the negative entry at once, and the
	// kernel gets it from the cache.
	d.farIgnoresARP()
	d.IP(d.Far, "addr", "add", ipString(dead)+"/24", "dev", d.FarIf)
	host := d.listenUDP(dead, 7007)
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, pktLabFarMAC, dead))
	d.waitRow(3*time.Second, key, pktMACString(pktLabFarMAC))
	d.sendUDPFrom(d.Near, dead, 7007, []byte("alive"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "alive" {
		t.Errorf("the revived host got %q (%v); near %q", got, ok, d.nearNeigh(d.NearIf, dead))
	}
	p.RequireRunning("at the end")
}

// TestDaemonLabFlushIsNotDeath: "ip neigh del" and "ip neigh flush" make
// the kernel notify FAILED for every entry they remove; none of them is a
// dead host, so the cache keeps every binding it had and makes no
// negative entry (iproute2's arpd makes one for each).
func TestDaemonLabFlushIsNotDeath(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	hosts := [][4]byte{{10, 77, 0, 2}, {10, 77, 0, 3}, {10, 77, 0, 4}}
	for _, h := range hosts[1:] {
		d.IP(d.Far, "addr", "add", ipString(h)+"/24", "dev", d.FarIf)
	}
	p := d.startArpd(t, d.NearIf)
	// Resolved by the kernel (its own broadcasts: no -a).
	for _, h := range hosts {
		d.sendUDPFrom(d.Near, h, 9, nil)
	}
	for _, h := range hosts {
		d.waitRow(5*time.Second, rowKey(d.NearIdx, h), pktMACString(pktLabFarMAC))
	}
	// One entry the kernel never resolved: added by hand.
	manual := [4]byte{10, 77, 0, 50}
	d.IP(d.Near, "neigh", "add", ipString(manual), "lladdr", "02:00:00:00:00:50", "dev", d.NearIf, "nud", "stale")
	d.waitRow(3*time.Second, rowKey(d.NearIdx, manual), "02:00:00:00:00:50")
	before := labtest.Stats(t, d.DB)

	d.IP(d.Near, "neigh", "del", ipString(hosts[0]), "dev", d.NearIf)
	d.IP(d.Near, "neigh", "flush", "dev", d.NearIf)
	// Four FAILED notices, each either ignored or (wrongly) a negative
	// entry.
	d.waitStats(5*time.Second, "the four FAILED notices of the delete and the flush", func(st map[string]uint64) bool {
		return st["flush_ignored"]+st["kern_neg"] >= before["flush_ignored"]+before["kern_neg"]+4
	})
	rows := listDBRows(t, d.DB)
	for key, r := range rows {
		if r.Failed {
			t.Errorf("negative entry %s after a delete and a flush", key)
		}
	}
	for _, h := range hosts {
		if r := rows[rowKey(d.NearIdx, h)]; r.MAC != pktMACString(pktLabFarMAC) {
			t.Errorf("%s after the flush: %+v, want %s", ipString(h), r, pktMACString(pktLabFarMAC))
		}
	}
	if r := rows[rowKey(d.NearIdx, manual)]; r.MAC != "02:00:00:00:00:50" {
		t.Errorf("%s after the flush: %+v", ipString(manual), r)
	}
	if st := labtest.Stats(t, d.DB); st["kern_neg"] != before["kern_neg"] {
		t.Errorf("kern_neg went from %d to %d", before["kern_neg"], st["kern_neg"])
	}
	p.RequireRunning("after the flush")
}

// TestDaemonLabLearnsGratuitous: a gratuitous ARP request from the far
// side is learned, and a gratuitous reply with another MAC for the same
// address replaces it.
func TestDaemonLabLearnsGratuitous(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	p := d.startArpd(t, d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	ip := [4]byte{10, 77, 0, 51}
	key := rowKey(d.NearIdx, ip)
	before := labtest.Stats(t, d.DB)

	in.send(garp(frame.ARPOpRequest, [6]byte{0x02, 0, 0, 0, 0x51, 0x01}, ip))
	d.waitRow(3*time.Second, key, "02:00:00:00:51:01")
	in.send(garp(frame.ARPOpReply, [6]byte{0x02, 0, 0, 0, 0x51, 0x02}, ip))
	d.waitRow(3*time.Second, key, "02:00:00:00:51:02")
	d.waitStats(3*time.Second, "a new and a changed binding", func(st map[string]uint64) bool {
		return st["arp_new"] >= before["arp_new"]+1 && st["arp_change"] >= before["arp_change"]+1
	})
	p.RequireRunning("after two gratuitous ARPs")
}

// TestDaemonLabHostileFrames: malformed and hostile frames injected from
// the far side are dropped, each counted under its reason, none of them is
// learned, and the daemon keeps running and still answers the kernel.
func TestDaemonLabHostileFrames(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.farIgnoresARP()
	host := d.listenUDP(pktLabFarIP, 7003)
	p := d.startArpd(t, d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	before := labtest.Stats(t, d.DB)

	// Every frame asks for an address the near side does not have, so
	// the near kernel learns nothing from them either.
	nobody := [4]byte{10, 77, 0, 250}
	mac := [6]byte{0x02, 0, 0, 0, 0x66, 0}
	sender := func(i byte) [4]byte { return [4]byte{10, 77, 0, 100 + i} }
	valid := func(i byte) []byte { return arpPayload(frame.ARPOpRequest, mac, sender(i), [6]byte{}, nobody) }
	with := func(b []byte, f func(b []byte)) []byte { f(b); return b }
	type hostile struct {
		reason string
		frame  []byte
	}
	frames := []hostile{
		{"short", valid(0)[:20]},
		{"short", valid(1)[:27]},
		{"hwtype", with(valid(2), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffHrd:], 6) })},
		{"proto", with(valid(3), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffPro:], 0x86dd) })},
		{"hlen", with(valid(4), func(b []byte) { b[frame.ARPOffHln] = 8 })},
		{"plen", with(valid(5), func(b []byte) { b[frame.ARPOffPln] = 16 })},
		{"op", with(valid(6), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffOp:], 3) })},
		{"op", with(valid(7), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffOp:], 0) })},
		{"dad", arpPayload(frame.ARPOpRequest, mac, [4]byte{}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{127, 0, 0, 1}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{224, 0, 0, 5}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{255, 255, 255, 255}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{0, 1, 2, 3}, [6]byte{}, nobody)},
		{"sender_mac", arpPayload(frame.ARPOpReply, frame.BroadcastMAC, sender(8), [6]byte{}, nobody)},
		{"sender_mac", arpPayload(frame.ARPOpReply, [6]byte{0x01, 0, 0x5e, 0, 0, 1}, sender(9), [6]byte{}, nobody)},
		{"sender_mac", arpPayload(frame.ARPOpReply, [6]byte{}, sender(10), [6]byte{}, nobody)},
	}
	want := map[string]uint64{}
	for _, h := range frames {
		in.send(h.frame)
		want["drop_"+h.reason]++
	}
	// Garbage: random bytes of random lengths, short or with a hardware
	// type that is not Ethernet.
	r := rand.New(rand.NewPCG(3, 3))
	const garbage = 300
	for i := 0; i < garbage; i++ {
		b := make([]byte, 1+r.IntN(64))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		b[0] |= 0x80 // hardware type ≥ 0x8000
		in.send(b)
		if len(b) < frame.ARPLen {
			want["drop_short"]++
		} else {
			want["drop_hwtype"]++
		}
	}
	// An oversized but well-formed frame is accepted: bytes past the
	// first 28 are padding.
	long := append(valid(20), make([]byte, 400)...)
	in.send(long)
	// Last, the sentinel: the host announces itself.
	in.send(garp(frame.ARPOpRequest, pktLabFarMAC, pktLabFarIP))
	sent := uint64(len(frames) + garbage + 2)
	d.waitRow(3*time.Second, rowKey(d.NearIdx, pktLabFarIP), pktMACString(pktLabFarMAC))

	st := d.waitStats(3*time.Second, "every injected frame", func(st map[string]uint64) bool {
		var n uint64
		for name, v := range st {
			if strings.HasPrefix(name, "drop_") || name == "arp_accepted" {
				n += v - before[name]
			}
		}
		return n >= sent
	})
	p.RequireRunning("after the hostile frames")
	for name, w := range want {
		if got := st[name] - before[name]; got != w {
			t.Errorf("%s: %d frames counted, want %d", name, got, w)
		}
	}
	if got := st["arp_accepted"] - before["arp_accepted"]; got != 2 {
		t.Errorf("arp_accepted grew by %d, want 2 (the long frame and the sentinel)", got)
	}
	if got := st["pkt_kernel_drops"]; got != 0 {
		t.Errorf("the kernel dropped %d frames: the counts above may be short", got)
	}
	rows := listDBRows(t, d.DB)
	for i := byte(0); i < 20; i++ {
		if r, ok := rows[rowKey(d.NearIdx, sender(i))]; ok {
			t.Errorf("hostile sender %s learned: %+v", ipString(sender(i)), r)
		}
	}
	for key, r := range rows {
		if r.MAC == "ff:ff:ff:ff:ff:ff" || r.MAC == "00:00:00:00:00:00" || strings.HasPrefix(key, fmt.Sprint(d.NearIdx)+" 127.") {
			t.Errorf("hostile row %s %+v", key, r)
		}
	}
	if r := rows[rowKey(d.NearIdx, sender(20))]; r.MAC != pktMACString(mac) {
		t.Errorf("the long frame's sender: %+v, want %s", r, pktMACString(mac))
	}

	// It still works: the host answers no ARP, so only the cache can
	// get this datagram through.
	d.sendUDPFrom(d.Near, pktLabFarIP, 7003, []byte("still"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "still" {
		t.Fatalf("after the hostile frames the host got %q (%v); near: %s; arpd: %s", got, ok, d.nearNeigh(d.NearIf, pktLabFarIP), p.Output())
	}
}

// TestDaemonLabUnwatchedInterface: with vnear and vnear2 named, the
// daemon's packet socket sees every interface; frames and kernel
// neighbours on vnear3, not named, are ignored (and counted), its sysctls
// untouched, while the same events on vnear2 are learned.
func TestDaemonLabUnwatchedInterface(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	for i, pair := range [][2]string{{"vnear2", "vfar2"}, {"vnear3", "vfar3"}} {
		d.IP(d.Near, "link", "add", pair[0], "type", "veth", "peer", "name", pair[1], "netns", d.Far)
		d.IP(d.Near, "link", "set", pair[0], "up")
		d.IP(d.Far, "link", "set", pair[1], "up")
		d.IP(d.Near, "addr", "add", fmt.Sprintf("10.%d.0.1/24", 78+i), "dev", pair[0])
		d.IP(d.Far, "addr", "add", fmt.Sprintf("10.%d.0.2/24", 78+i), "dev", pair[1])
		d.waitOperUp(d.Near, pair[0])
		d.waitOperUp(d.Far, pair[1])
	}
	idx2, idx3 := d.Ifindex(d.Near, "vnear2"), d.Ifindex(d.Near, "vnear3")
	orig3 := d.nearSysctls("vnear3")
	p := d.startArpd(t, d.NearIf, "vnear2")
	if got := d.nearSysctls("vnear2"); got[0] != 1 {
		t.Fatalf("vnear2 (named) app_solicit = %d, want 1", got[0])
	}
	if got := d.nearSysctls("vnear3"); got != orig3 {
		t.Fatalf("vnear3 (not named) sysctls %v, want %v untouched", got, orig3)
	}
	before := labtest.Stats(t, d.DB)

	// On vnear3: a gratuitous ARP, a neighbour added by hand, and one the
	// kernel resolves.
	d.injector(d.Far, "vfar3").send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x79, 0x51}, [4]byte{10, 79, 0, 51}))
	d.IP(d.Near, "neigh", "add", "10.79.0.52", "lladdr", "02:00:00:00:79:52", "dev", "vnear3", "nud", "stale")
	d.sendUDPFrom(d.Near, [4]byte{10, 79, 0, 2}, 9, nil)
	if !labtest.WaitFor(5*time.Second, func() bool { return strings.Contains(d.nearNeigh("vnear3", [4]byte{10, 79, 0, 2}), "lladdr") }) {
		t.Fatalf("the near kernel never resolved 10.79.0.2 on vnear3")
	}
	// The same on vnear2. Each socket delivers in order, so once these
	// are in the cache the vnear3 events have been handled.
	d.injector(d.Far, "vfar2").send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x78, 0x51}, [4]byte{10, 78, 0, 51}))
	d.IP(d.Near, "neigh", "add", "10.78.0.52", "lladdr", "02:00:00:00:78:52", "dev", "vnear2", "nud", "stale")
	d.sendUDPFrom(d.Near, [4]byte{10, 78, 0, 2}, 9, nil)
	d.waitRow(3*time.Second, rowKey(idx2, [4]byte{10, 78, 0, 51}), "02:00:00:00:78:51")
	d.waitRow(3*time.Second, rowKey(idx2, [4]byte{10, 78, 0, 52}), "02:00:00:00:78:52")
	farMAC2 := strings.Fields(d.IP(d.Far, "-br", "link", "show", "vfar2"))[2]
	d.waitRow(5*time.Second, rowKey(idx2, [4]byte{10, 78, 0, 2}), farMAC2)

	prefix := strconv.Itoa(idx3) + " "
	for key, r := range listDBRows(t, d.DB) {
		if strings.HasPrefix(key, prefix) {
			t.Errorf("entry on the unwatched vnear3: %s %+v", key, r)
		}
	}
	d.waitStats(3*time.Second, "the vnear3 events counted as other_if", func(st map[string]uint64) bool {
		return st["other_if"] >= before["other_if"]+3
	})
	if got := d.nearSysctls("vnear3"); got != orig3 {
		t.Errorf("vnear3 sysctls %v, want %v", got, orig3)
	}
	p.RequireRunning("at the end")
}

// TestDaemonLabBurst: 5,000 neighbours added to the kernel's table at once,
// then all 5,000 given a new MAC, and every final binding is in the cache.
// The table's cap (gc_thresh3, global) is raised for the test, and
// gc_thresh2 with it so that the forced collection it triggers does not
// touch other tests' entries; both are restored after the entries are
// gone.
func TestDaemonLabBurst(t *testing.T) {
	t.Parallel()
	labtest.RequireRoot(t)
	const n = 5000
	g := labtest.LockGlobals(t)
	g.Raise("net/ipv4/neigh/default/gc_thresh3", 16384)
	g.Raise("net/ipv4/neigh/default/gc_thresh2", 16384)
	d := newDaemonLab(t)
	// NB: registered after the raises, so it runs before they are undone:
	// the entries must be gone before the cap comes down again.
	t.Cleanup(func() {
		exec := func(args ...string) { d.Exec(d.Near, "ip", args...) }
		exec("neigh", "flush", "dev", d.NearIf, "nud", "all")
	})
	d.IP(d.Near, "addr", "add", "10.90.0.1/16", "dev", d.NearIf)
	p := d.startArpd(t, d.NearIf)

	addr := func(i int) string { return fmt.Sprintf("10.90.%d.%d", 1+i/250, 1+i%250) }
	batch := func(verb string, tag int) {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "neigh %s %s lladdr 02:00:00:%02x:%02x:%02x dev %s nud stale\n", verb, addr(i), tag, i>>8, i&0xff, d.NearIf)
		}
		if out, err := d.ExecStdin(d.Near, b.String(), "ip", "-batch", "-"); err != nil {
			t.Fatalf("ip -batch (%s): %v: %s", verb, err, out)
		}
	}
	batch("add", 1)
	batch("replace", 2)
	missing := func() (int, string) {
		rows := listDBRows(t, d.DB)
		m, first := 0, ""
		for i := 0; i < n; i++ {
			key := strconv.Itoa(d.NearIdx) + " " + addr(i)
			want := fmt.Sprintf("02:00:00:02:%02x:%02x", i>>8, i&0xff)
			if r := rows[key]; r.MAC != want {
				if m == 0 {
					first = fmt.Sprintf("%s: %+v, want %s", key, r, want)
				}
				m++
			}
		}
		return m, first
	}
	var m int
	var first string
	if !labtest.WaitFor(15*time.Second, func() bool { m, first = missing(); return m == 0 }) {
		t.Fatalf("%d of %d final bindings never reached the cache (first: %s); kernel has %d", m, n, first,
			strings.Count(d.IP(d.Near, "neigh", "show", "dev", d.NearIf), "\n"))
	}
	st := d.waitStats(3*time.Second, "the entries", func(st map[string]uint64) bool { return st["entries"] >= n })
	t.Logf("kern_new %d kern_change %d nl_overruns %d redumps %d", st["kern_new"], st["kern_change"], st["nl_overruns"], st["redumps"])
	p.RequireRunning("after the burst")

	// A daemon started on a new file now gets all 5,000 from its initial
	// dump, many datagrams long, before it says it is ready.
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	d.DB = filepath.Join(t.TempDir(), "second.db")
	d.startArpd(t, d.NearIf)
	if m, first = missing(); m != 0 {
		t.Errorf("%d of %d bindings missing from the initial dump at ready (first: %s)", m, n, first)
	}
}

// TestDaemonLabSignals: SIGHUP and SIGUSR1 leave the daemon running (and
// SIGUSR1 logs one line with every counter), and SIGTERM makes it exit 0
// with the sysctls exactly as they were before it started.
func TestDaemonLabSignals(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	p := d.startArpd(t, "-a", "1", "-k", "-p", "0.2", d.NearIf)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("adjusted sysctls %v, want [1 0]", got)
	}
	in := d.injector(d.Far, d.FarIf)

	p.Signal(unix.SIGHUP)
	in.send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x48, 1}, [4]byte{10, 77, 0, 48}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 48}), "02:00:00:00:48:01")
	p.RequireRunning("after SIGHUP")

	p.Signal(unix.SIGUSR1)
	var line string
	if !labtest.WaitFor(3*time.Second, func() bool {
		for _, l := range strings.Split(p.Output(), "\n") {
			if strings.HasPrefix(l, "arpd: statistics: ") {
				line = l
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no statistics line after SIGUSR1: %s", p.Output())
	}
	logged := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "arpd: statistics: ")) {
		if k, v, ok := strings.Cut(f, "="); ok {
			logged[k] = v
		}
	}
	for _, name := range counterNames {
		if _, ok := logged[name]; !ok {
			t.Errorf("the statistics line has no %s: %s", name, line)
		}
	}
	if logged["arp_new"] != "1" || logged["entries"] != "1" {
		t.Errorf("the statistics line does not count the one gratuitous ARP: %s", line)
	}
	in.send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x49, 1}, [4]byte{10, 77, 0, 49}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 49}), "02:00:00:00:49:01")
	p.RequireRunning("after SIGUSR1")

	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls after SIGTERM %v, want the originals [2 5]", got)
	}
	if st := labtest.Stats(t, d.DB); st["arp_new"] != 2 {
		t.Errorf("saved arp_new = %d, want 2", st["arp_new"])
	}
}

// TestDaemonLabKillRestart: after kill -9 the adjusted sysctls stay, and a
// restarted daemon must not take them for the originals: its SIGTERM
// restores the values from before the first start. A restart that no
// longer names the interface restores them at once.
func TestDaemonLabKillRestart(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	args := []string{"-a", "1", "-k", d.NearIf}
	p := d.startArpd(t, args...)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("adjusted sysctls %v, want [1 0]", got)
	}
	p.Stop(unix.SIGKILL, 5*time.Second)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("after kill -9 the sysctls are %v; the test needs them left adjusted [1 0]", got)
	}

	p = d.startArpd(t, args...)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("restarted: sysctls %v, want [1 0]", got)
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Fatalf("after kill -9, restart and SIGTERM: sysctls %v, want the originals [2 5]", got)
	}

	// Crash again, then start without naming the interface: the
	// leftovers are put back at startup.
	p = d.startArpd(t, args...)
	p.Stop(unix.SIGKILL, 5*time.Second)
	p = d.startArpd(t)
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("restart without the interface: sysctls %v, want the originals [2 5] back", got)
	}
	if code := p.Stop(unix.SIGINT, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGINT: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls at the end %v, want [2 5]", got)
	}
}

// TestDaemonLabKillKeepsLearned: what the daemon learned is in the file
// the moment it learned it: -l on the running daemon's file shows a frame
// seen an instant earlier, with no sync in between (-p 30), and kill -9
// loses none of it.
func TestDaemonLabKillKeepsLearned(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	p := d.startArpd(t, "-p", "30", d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	const n = 50
	ip := func(i int) [4]byte { return [4]byte{10, 77, 1, byte(i)} }
	mac := func(i int) string { return fmt.Sprintf("02:00:00:00:4b:%02x", i) }
	for i := 0; i < n; i++ {
		in.send(garp(frame.ARPOpReply, [6]byte{2, 0, 0, 0, 0x4b, byte(i)}, ip(i)))
	}
	// The last frame shows up in a listing while the daemon runs.
	d.waitRow(3*time.Second, rowKey(d.NearIdx, ip(n-1)), mac(n-1))
	rows := listDBRows(t, d.DB)
	if code, out, _ := runArpd(t, "", "-s", "-b", d.DB); code != 0 || !strings.Contains(out, fmt.Sprintf("owner pid %d, running since", p.Pid())) {
		t.Errorf("arpd -s on the running daemon's file: exit %d, %q; want it to name pid %d as running", code, out, p.Pid())
	}
	p.Stop(unix.SIGKILL, 5*time.Second)

	after := listDBRows(t, d.DB)
	for i := 0; i < n; i++ {
		key := rowKey(d.NearIdx, ip(i))
		if rows[key].MAC != mac(i) {
			t.Errorf("while running: %s = %+v, want %s", key, rows[key], mac(i))
		}
		if after[key].MAC != mac(i) {
			t.Errorf("after kill -9: %s = %+v, want %s", key, after[key], mac(i))
		}
	}
	code, out, _ := runArpd(t, "", "-s", "-b", d.DB)
	if code != 0 || !strings.Contains(out, "not running") {
		t.Errorf("arpd -s after kill -9: exit %d, %q; want it to say the owner is not running", code, out)
	}
	// A new daemon takes the file over with everything in it.
	p = d.startArpd(t, d.NearIf)
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	final := listDBRows(t, d.DB)
	for i := 0; i < n; i++ {
		if key := rowKey(d.NearIdx, ip(i)); final[key].MAC != mac(i) {
			t.Errorf("after a restart: %s = %+v, want %s", key, final[key], mac(i))
		}
	}
}

// TestDaemonLabRateLimit: with -R 5 -B 3, storms of requests for 100
// addresses nobody has put at most 3 + 5·T of the daemon's broadcasts on
// the wire over every interval T, measured on the far side with the
// kernel's time stamps; -k keeps the kernel's own broadcasts off the wire.
// The near side retransmits every 100 ms so that the kernel keeps asking
// all the time, and the bucket's rate, not only its burst, is what holds
// the daemon back. Two storms with a quiet second and a half between them
// check that the bucket does not save up more than its burst.
//
// It does not run in parallel with the other tests, so that the daemon is
// not kept from its CPU between taking a token and sending the probe (the
// slack below covers only a short delay).
func TestDaemonLabRateLimit(t *testing.T) {
	const (
		rate, burst = 5, 3
		hosts       = 100
		storm       = 1500 * time.Millisecond
		quiet       = 1500 * time.Millisecond
		// slack covers the time between the daemon's clock read and
		// the frame reaching the far interface.
		slack = 50 * time.Millisecond
	)
	d := newDaemonLab(t)
	d.Sysctl(d.Near, neighKey(d.NearIf, "retrans_time_ms"), "100")
	far := d.watchWire(d.Far, d.FarIf)
	far.requireStamps(d.injector(d.Near, d.NearIf))
	p := d.startArpd(t, "-a", "3", "-k", "-R", strconv.Itoa(rate), "-B", strconv.Itoa(burst), d.NearIf)
	target := func(i int) [4]byte { return [4]byte{10, 77, 0, byte(101 + i)} }
	inRange := func(ip [4]byte) bool {
		return ip[0] == 10 && ip[1] == 77 && ip[2] == 0 && ip[3] >= 101 && ip[3] < 101+hosts
	}
	// settle waits until no resolution is running, so the kernel asks
	// nothing more.
	settle := func() {
		if !labtest.WaitFor(5*time.Second, func() bool {
			return !strings.Contains(d.IP(d.Near, "neigh", "show", "dev", d.NearIf), "INCOMPLETE")
		}) {
			t.Fatalf("resolutions still running 5 s after a storm")
		}
	}
	blow := func() {
		start := time.Now()
		for round := 0; time.Since(start) < storm && round < 100; round++ {
			if err := d.Do(d.Near, func() error {
				for i := 0; i < hosts; i++ {
					// NB: an error here is an earlier datagram's
					// ICMP report or a full queue; neither matters.
					labtest.SendUDP(target(i))
				}
				return nil
			}); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			far.Poll()
			time.Sleep(100 * time.Millisecond)
		}
	}
	start := time.Now()
	blow()
	settle()
	time.Sleep(quiet)
	blow()
	// NB: SIGTERM restores mcast_solicit, and the kernel would then
	// broadcast for every entry still INCOMPLETE; let them all fail
	// first, so that every request on the wire is the daemon's.
	settle()
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	far.Poll()
	probes := requests(far.Frames, pktLabNearIP, inRange)
	st := labtest.Stats(t, d.DB)
	t.Logf("%d probes on the wire in %v; probes_sent %d, probes_suppressed %d", len(probes), time.Since(start), st["probes_sent"], st["probes_suppressed"])
	if uint64(len(probes)) != st["probes_sent"] {
		t.Errorf("%d probes on the wire, the daemon counted %d sent", len(probes), st["probes_sent"])
	}
	if len(probes) < 2*(burst+2) || st["probes_suppressed"] == 0 {
		t.Fatalf("%d probes, %d suppressed: the storms never made the bucket refill and refuse", len(probes), st["probes_suppressed"])
	}
	worst := 0.0
	for i := range probes {
		for j := i; j < len(probes); j++ {
			span := probes[j].At.Sub(probes[i].At)
			allowed := burst + rate*(span+slack).Seconds()
			count := float64(j - i + 1)
			if count > allowed {
				t.Errorf("%d probes in %v (probes %d..%d, read %v and %v after their stamps), more than %d + %d·T = %.2f",
					j-i+1, span, i, j, probes[i].Read.Sub(probes[i].At), probes[j].Read.Sub(probes[j].At), burst, rate, allowed)
			}
			worst = max(worst, count-burst-rate*span.Seconds())
		}
	}
	t.Logf("tightest window: %.3f probes over the bound without slack", worst)
}

// TestDaemonLabUnknownInterface: naming an interface that does not exist
// is an error, in the foreground and when detaching: a non-zero exit, a
// message naming it, no database made and no sysctl touched, not even
// those of the interface that does exist.
func TestDaemonLabUnknownInterface(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	for _, fg := range []bool{true, false} {
		args := []string{"-b", d.DB, "-a", "1", "-k", d.NearIf, "nosuchif0"}
		if fg {
			args = append([]string{"-F"}, args...)
		}
		code, out := d.Run(d.Near, 10*time.Second, labtest.Binary(t), args...)
		if code == 0 || !strings.Contains(out, "nosuchif0") || !strings.Contains(out, "no such interface") || strings.Contains(out, "panic") {
			t.Errorf("arpd %s: exit %d, output %q; want a non-zero exit and a message naming nosuchif0", strings.Join(args, " "), code, out)
		}
		if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
			t.Errorf("arpd %s: sysctls of %s now %v, want [2 5] untouched", strings.Join(args, " "), d.NearIf, got)
		}
		if _, err := os.Stat(d.DB); !os.IsNotExist(err) {
			t.Errorf("arpd %s made a database: %v", strings.Join(args, " "), err)
		}
	}
}

// TestDaemonLabDetached: without -F the daemon detaches; the command
// returns once it is ready, the pid file names it, and SIGTERM makes it
// restore the sysctls, remove the pid file and exit. (labtest.Start fails
// the test unless the command exits 0 and the pid file holds a pid.)
func TestDaemonLabDetached(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	pidFile := filepath.Join(t.TempDir(), "arpd.pid")
	p := labtest.Start(t, labtest.Options{Lab: d.Lab, DB: d.DB, PidFile: pidFile, Detach: true, Args: []string{d.NearIf}})
	if p.Exited() {
		t.Fatalf("the detached daemon (pid %d) is not running", p.Pid())
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/cmdline")
	if !bytes.Contains(cmdline, []byte(d.NearIf)) {
		t.Fatalf("pid %d is not the daemon: %q", p.Pid(), cmdline)
	}
	if got := d.nearSysctls(d.NearIf); got[0] != 1 {
		t.Errorf("app_solicit %d while the detached daemon runs, want 1", got[0])
	}
	p.Stop(syscall.SIGTERM, 5*time.Second)
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls after SIGTERM %v, want [2 5]", got)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file is still there: %v", err)
	}
}

// TestDaemonLabInterfaceComesBack: the watched interface is deleted and
// made again, with a new ifindex; the daemon adjusts the new one's
// sysctls, learns on it and answers the kernel about it, and at exit gives
// the new interface back the values it had before the daemon touched it,
// not those of the interface that was deleted.
func TestDaemonLabInterfaceComesBack(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	// A new interface starts from the kernel's defaults: read them from
	// one the daemon does not watch.
	d.IP(d.Near, "link", "add", "vref", "type", "veth", "peer", "name", "vref1")
	fresh := d.nearSysctls("vref")
	d.setNearSysctls(d.NearIf, fresh[0]+2, fresh[1]+2)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	old := d.NearIdx
	d.IP(d.Near, "link", "del", d.NearIf)
	d.IP(d.Near, "link", "add", d.NearIf, "type", "veth", "peer", "name", d.FarIf, "netns", d.Far)
	pktLabSetup(t, d.Lab)
	d.IP(d.Near, "link", "set", d.NearIf, "up")
	d.IP(d.Far, "link", "set", d.FarIf, "up")
	d.waitOperUp(d.Near, d.NearIf)
	d.waitOperUp(d.Far, d.FarIf)
	d.NearIdx = d.Ifindex(d.Near, d.NearIf)
	if d.NearIdx == old {
		t.Fatalf("the new %s has the old ifindex %d", d.NearIf, old)
	}
	if !labtest.WaitFor(3*time.Second, func() bool { return strings.Contains(p.Output(), fmt.Sprintf("back as index %d", d.NearIdx)) }) {
		t.Fatalf("the daemon never saw %s come back: %s", d.NearIf, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Errorf("the new %s has sysctls %v, want [1 0]", d.NearIf, got)
	}
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x60, 1}, [4]byte{10, 77, 0, 60}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 60}), "02:00:00:00:60:01")
	host := d.listenUDP(pktLabFarIP, 7004)
	d.sendUDPFrom(d.Near, pktLabFarIP, 7004, []byte("back"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "back" {
		t.Fatalf("the host on the new interface got %q (%v); near %q; counters %v; arpd: %s", got, ok, d.nearNeigh(d.NearIf, pktLabFarIP), labtest.Stats(t, d.DB), p.Output())
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != fresh {
		t.Errorf("after exit the new %s has sysctls %v, want its own originals %v", d.NearIf, got, fresh)
	}
}

// TestDaemonLabInitialDump: what the kernel knows when the daemon starts
// is in the cache by the time it says it is ready.
func TestDaemonLabInitialDump(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	for i := 0; i < 3; i++ {
		d.IP(d.Near, "neigh", "add", fmt.Sprintf("10.77.0.%d", 30+i), "lladdr", fmt.Sprintf("02:00:00:00:30:%02x", i), "dev", d.NearIf, "nud", "stale")
	}
	d.startArpd(t, d.NearIf)
	rows := listDBRows(t, d.DB)
	for i := 0; i < 3; i++ {
		key := rowKey(d.NearIdx, [4]byte{10, 77, 0, byte(30 + i)})
		if want := fmt.Sprintf("02:00:00:00:30:%02x", i); rows[key].MAC != want {
			t.Errorf("at ready %s = %+v, want %s", key, rows[key], want)
		}
	}
}

// TestDaemonLabAllInterfaces: with no interface named the daemon serves
// every interface and changes no sysctl; where the administrator set
// app_solicit, it answers the kernel from what it learned.
func TestDaemonLabAllInterfaces(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.farIgnoresARP()
	orig := d.nearSysctls(d.NearIf)
	p := d.startArpd(t, "-a", "1", "-k")
	if got := d.nearSysctls(d.NearIf); got != orig {
		t.Fatalf("with no interface named, %s's sysctls went from %v to %v", d.NearIf, orig, got)
	}
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, pktLabFarMAC, pktLabFarIP))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, pktLabFarIP), pktMACString(pktLabFarMAC))
	d.Sysctl(d.Near, neighKey(d.NearIf, "app_solicit"), "1")
	host := d.listenUDP(pktLabFarIP, 7005)
	d.sendUDPFrom(d.Near, pktLabFarIP, 7005, []byte("all"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "all" {
		t.Fatalf("the host got %q (%v): near %q; arpd: %s", got, ok, d.nearNeigh(d.NearIf, pktLabFarIP), p.Output())
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, orig[1]} {
		t.Errorf("at exit the daemon changed sysctls it never adjusted: %v, want [1 %d]", got, orig[1])
	}
}

// TestDaemonLabProbeDropsEntry: when the kernel's unicast re-probes of a
// known host fail it asks in state PROBE; the host may have moved, so the
// daemon forgets it rather than hand the stale MAC back. (A second later
// the kernel gives up and notifies FAILED, which makes a negative entry:
// the test looks for the entry's absence in that second.)
func TestDaemonLabProbeDropsEntry(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	for name, v := range map[string]string{"delay_first_probe_time": "1", "ucast_solicit": "1", "retrans_time_ms": "1000"} {
		d.Sysctl(d.Near, neighKey(d.NearIf, name), v)
	}
	d.farIgnoresARP()
	host := d.listenUDP(pktLabFarIP, 7006)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	key := rowKey(d.NearIdx, pktLabFarIP)
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, pktLabFarMAC, pktLabFarIP))
	d.waitRow(3*time.Second, key, pktMACString(pktLabFarMAC))
	before := labtest.Stats(t, d.DB)

	// Answered from the cache, then unconfirmed: DELAY, PROBE, and the
	// kernel's PROBE request to the daemon.
	d.sendUDPFrom(d.Near, pktLabFarIP, 7006, []byte("once"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "once" {
		t.Fatalf("the host got %q (%v): %s", got, ok, p.Output())
	}
	if !labtest.WaitFor(8*time.Second, func() bool {
		_, ok := listDBRows(t, d.DB)[key]
		return !ok
	}) {
		t.Fatalf("the entry is still there after the kernel's re-probes failed: %+v; near %q", listDBRows(t, d.DB)[key], d.nearNeigh(d.NearIf, pktLabFarIP))
	}
	d.waitStats(3*time.Second, "the dropped entry", func(st map[string]uint64) bool { return st["app_neg"] > before["app_neg"] })
	p.RequireRunning("at the end")
}

// TestDaemonLabDuplicateInterface: an interface named twice is served
// once, as iproute2's arpd does, not refused as missing.
func TestDaemonLabDuplicateInterface(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf, d.NearIf)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Errorf("adjusted sysctls %v, want [1 0]", got)
	}
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x70, 1}, [4]byte{10, 77, 0, 70}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 70}), "02:00:00:00:70:01")
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls after SIGTERM %v, want [2 5]", got)
	}
}
