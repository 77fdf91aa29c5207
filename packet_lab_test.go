package main

// Lab tests of the packet socket against the real kernel, and the capture
// of the frames in testdata/packet that the unit tests decode.

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arpd/internal/afpacket"
	"arpd/internal/frame"

	"arpd/internal/labtest"

	"golang.org/x/sys/unix"
)

// The lab's fixed addresses, so that captured frames are reproducible.
var (
	pktLabNearMAC = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	pktLabFarMAC  = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02}
	pktLabNearIP  = [4]byte{10, 77, 0, 1}
	pktLabFarIP   = [4]byte{10, 77, 0, 2}
)

// pktLabSetup addresses the lab: fixed MACs, 10.77.0.1/24 near and
// 10.77.0.2/24 far.
func pktLabSetup(t testing.TB, l *labtest.Lab) {
	t.Helper()
	l.IP(l.Near, "link", "set", l.NearIf, "address", pktMACString(pktLabNearMAC))
	l.IP(l.Far, "link", "set", l.FarIf, "address", pktMACString(pktLabFarMAC))
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
}

func pktMACString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// pktLabOpen opens a packet socket inside namespace ns, bound to the
// interface called ifname ("" for all interfaces), and closes it when the
// test ends.
func pktLabOpen(t *testing.T, l *labtest.Lab, ns, ifname string) *afpacket.Conn {
	t.Helper()
	var idx int32
	if ifname != "" {
		idx = int32(l.Ifindex(ns, ifname))
	}
	var c *afpacket.Conn
	if err := l.Do(ns, func() (err error) {
		c, err = afpacket.Open(idx, 0)
		return err
	}); err != nil {
		t.Fatalf("open packet socket in %s on %q: %v", ns, ifname, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// labIface is an interface as the lab tests send from it: what a probe
// needs, and its primary IPv4 address.
type labIface struct {
	afpacket.Iface
	IP [4]byte
}

// pktIfaceLookup is afpacket.LookupIface that also asks for the interface's
// primary IPv4 address with SIOCGIFADDR, in the calling thread's
// namespace. It fails as afpacket.LookupIface does, and when the interface has
// no IPv4 address.
func pktIfaceLookup(name string) (labIface, error) {
	link, err := afpacket.LookupIface(name)
	ifc := labIface{Iface: link}
	if err != nil {
		return ifc, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ifc, fmt.Errorf("interface %s: socket for ioctl: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, _ := unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFADDR, ifr); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			return ifc, fmt.Errorf("interface %s: no IPv4 address to send probes from", name)
		}
		return ifc, fmt.Errorf("interface %s: SIOCGIFADDR: %w", name, err)
	}
	a, err := ifr.Inet4Addr()
	if err != nil {
		return ifc, fmt.Errorf("interface %s: SIOCGIFADDR: not an IPv4 address: %w", name, err)
	}
	ifc.IP = [4]byte(a)
	return ifc, nil
}

// pktLabIface looks up ifname inside namespace ns.
func pktLabIface(t *testing.T, l *labtest.Lab, ns, ifname string) labIface {
	t.Helper()
	var ifc labIface
	if err := l.Do(ns, func() (err error) {
		ifc, err = pktIfaceLookup(ifname)
		return err
	}); err != nil {
		t.Fatalf("look up %s in %s: %v", ifname, ns, err)
	}
	return ifc
}

// pktSeen is one frame a lab socket read: the verdict, the decoded frame
// (valid when accepted) and a copy of the raw bytes and source address.
type pktSeen struct {
	Drop  frame.Drop
	Frame labARP
	Raw   []byte
	LL    unix.RawSockaddrLinklayer
}

// pktWait reads frames from c until want accepts one or limit passes,
// polling in steps of at most 50 ms, and returns every frame it read. The
// last one is the wanted one when ok is true.
func pktWait(t *testing.T, c *afpacket.Conn, limit time.Duration, want func(pktSeen) bool) (seen []pktSeen, ok bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(seen) < 10000 {
		var f labARP
		b, ll, err := c.Recv()
		if err == unix.EAGAIN {
			left := time.Until(deadline)
			if left <= 0 {
				return seen, false
			}
			ms := min(int(left/time.Millisecond)+1, 50)
			pfd := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, ms); err != nil && err != unix.EINTR {
				t.Fatalf("poll: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		d := labDecode(&f, b, ll)
		s := pktSeen{Drop: d, Frame: f, Raw: append([]byte(nil), b...), LL: *ll}
		seen = append(seen, s)
		if want(s) {
			return seen, true
		}
	}
	return seen, false
}

// TestPacketProbeLab sends a probe built by afpacket.Conn.SendProbe from the near
// namespace, sees it on a packet socket in the far namespace, and receives
// and decodes the far kernel's reply in the near namespace. Along the way it
// checks that a socket bound to ETH_P_ARP never sees our own outgoing
// frames, that an unbound socket sees the same frames with the right
// ifindex, and that the kernel's counters are readable.
func TestPacketProbeLab(t *testing.T) {
	l := labtest.New(t)
	pktLabSetup(t, l)
	nearIdx := int32(l.Ifindex(l.Near, l.NearIf))
	farIdx := int32(l.Ifindex(l.Far, l.FarIf))

	near := pktLabIface(t, l, l.Near, l.NearIf)
	if near.Index != nearIdx || near.MAC != pktLabNearMAC || near.IP != pktLabNearIP {
		t.Fatalf("pktIfaceLookup(%s) = %+v, want ifindex %d, MAC %s, IP %v", l.NearIf, near, nearIdx, pktMACString(pktLabNearMAC), pktLabNearIP)
	}
	nc := pktLabOpen(t, l, l.Near, l.NearIf)
	nall := pktLabOpen(t, l, l.Near, "")
	fc := pktLabOpen(t, l, l.Far, l.FarIf)

	if err := labProbe(nc, &near.Iface, near.IP, pktLabFarIP); err != nil {
		t.Fatalf("send probe: %v", err)
	}

	// The far side sees our request.
	seen, ok := pktWait(t, fc, 2*time.Second, func(s pktSeen) bool {
		return s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpRequest && s.Frame.SenderIP == pktLabNearIP
	})
	if !ok {
		t.Fatalf("the far side never saw the probe; it saw %+v", seen)
	}
	got := seen[len(seen)-1].Frame
	want := labARP{Ifindex: farIdx, Op: frame.ARPOpRequest, PktType: unix.PACKET_BROADCAST,
		SenderMAC: pktLabNearMAC, SenderIP: pktLabNearIP, TargetIP: pktLabFarIP}
	if got != want {
		t.Errorf("far side decoded the probe as\n%+v, want\n%+v", got, want)
	}

	// The near side gets the far kernel's reply, and never its own probe.
	seen, ok = pktWait(t, nc, 2*time.Second, func(s pktSeen) bool {
		return s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpReply
	})
	if !ok {
		t.Fatalf("no reply from the far kernel; near saw %+v", seen)
	}
	got = seen[len(seen)-1].Frame
	want = labARP{Ifindex: nearIdx, Op: frame.ARPOpReply, PktType: unix.PACKET_HOST,
		SenderMAC: pktLabFarMAC, SenderIP: pktLabFarIP, TargetMAC: pktLabNearMAC, TargetIP: pktLabNearIP}
	if got != want {
		t.Errorf("near side decoded the reply as\n%+v, want\n%+v", got, want)
	}
	// Give a looped-back copy of the probe time to show up, then check
	// that none did, on the bound and the unbound socket alike.
	time.Sleep(100 * time.Millisecond)
	more, _ := pktWait(t, nc, 0, func(pktSeen) bool { return false })
	for _, s := range append(seen, more...) {
		if s.Drop == frame.DropOutgoing || s.Frame.SenderMAC == pktLabNearMAC {
			t.Errorf("the near socket saw its own frame: %+v", s)
		}
	}
	all, _ := pktWait(t, nall, 0, func(pktSeen) bool { return false })
	var replies int
	for _, s := range all {
		if s.Drop == frame.DropOutgoing || s.Frame.SenderMAC == pktLabNearMAC {
			t.Errorf("the unbound near socket saw its own frame: %+v", s)
		}
		if s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpReply {
			replies++
			if s.Frame.Ifindex != nearIdx {
				t.Errorf("unbound socket: reply on ifindex %d, want %d", s.Frame.Ifindex, nearIdx)
			}
		}
	}
	if replies != 1 {
		t.Errorf("unbound near socket saw %d replies, want 1: %+v", replies, all)
	}

	st, err := nc.Stats()
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st.Packets < 1 || st.Drops != 0 {
		t.Errorf("near stats = %+v, want packets ≥ 1 and no drops", st)
	}
	st2, err := nc.Stats()
	if err != nil || st2.Packets > st.Packets {
		t.Errorf("stats are not deltas: %+v then %+v (%v)", st, st2, err)
	}
}

// TestPacketNoAllocsLab checks that sending probes and receiving frames
// allocate nothing: the far side announces itself 51 times (one warm-up and
// 50 measured calls), and the near side reads those frames.
func TestPacketNoAllocsLab(t *testing.T) {
	l := labtest.New(t)
	pktLabSetup(t, l)
	far := pktLabIface(t, l, l.Far, l.FarIf)
	fc := pktLabOpen(t, l, l.Far, l.FarIf)
	nc := pktLabOpen(t, l, l.Near, l.NearIf)

	const runs = 50
	var sendErr error
	if a := testing.AllocsPerRun(runs, func() {
		if err := labProbe(fc, &far.Iface, far.IP, far.IP); err != nil && sendErr == nil {
			sendErr = err
		}
	}); a != 0 {
		t.Errorf("SendProbe: %v allocations per call, want 0", a)
	}
	if sendErr != nil {
		t.Fatalf("send: %v", sendErr)
	}
	// Wait until every frame is queued on the near socket.
	if !labtest.WaitFor(2*time.Second, func() bool {
		// SIOCINQ on a packet socket gives the size of the next frame.
		n, err := unix.IoctlGetInt(nc.Fd(), unix.SIOCINQ)
		return err == nil && n > 0
	}) {
		t.Fatal("no frame reached the near side")
	}
	time.Sleep(100 * time.Millisecond)

	var f labARP
	var accepted, errs int
	if a := testing.AllocsPerRun(runs, func() {
		b, ll, err := nc.Recv()
		var d frame.Drop
		if err == nil {
			d = labDecode(&f, b, ll)
		}
		switch {
		case err != nil:
			errs++
		case d == frame.DropNone && f.Gratuitous && f.SenderIP == pktLabFarIP:
			accepted++
		}
	}); a != 0 {
		t.Errorf("Recv: %v allocations per call, want 0", a)
	}
	if accepted < runs {
		t.Errorf("Recv: %d gratuitous frames accepted of %d reads (%d errors), want at least %d", accepted, runs+1, errs, runs)
	}
	// And an empty queue gives EAGAIN, also without allocating.
	pktWait(t, nc, 0, func(pktSeen) bool { return false })
	if a := testing.AllocsPerRun(runs, func() {
		if _, _, err := nc.Recv(); err != unix.EAGAIN {
			t.Errorf("Recv on an empty socket: %v, want EAGAIN", err)
		}
	}); a != 0 {
		t.Errorf("Recv (EAGAIN): %v allocations per call, want 0", a)
	}
}

// TestPacketIfaceLookupErrors checks the errors a daemon shows when told to
// watch an interface it cannot probe from.
func TestPacketIfaceLookupErrors(t *testing.T) {
	l := labtest.New(t)
	// An Ethernet interface without an IPv4 address: a second veth pair.
	l.IP(l.Near, "link", "add", "vnoaddr", "type", "veth", "peer", "name", "vnoaddr2")
	for _, tc := range []struct{ name, want string }{
		{"nosuch0", "SIOCGIFINDEX"},
		{"lo", "not Ethernet"},
		{"vnoaddr", "no IPv4 address"},
		{"a-name-far-too-long-for-ifnamsiz", "bad name"},
	} {
		err := l.Do(l.Near, func() error {
			_, err := pktIfaceLookup(tc.name)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("pktIfaceLookup(%q) = %v, want an error naming it and saying %q", tc.name, err, tc.want)
		}
	}
}

// TestPacketCapture writes the frames in testdata/packet from a fresh lab.
// It runs only with ARPD_CAPTURE=1, as
//
//	ARPD_CAPTURE=1 go test -count=1 -run '^TestPacketCapture$' .
//
// and the unit tests then decode the files without root.
func TestPacketCapture(t *testing.T) {
	if os.Getenv("ARPD_CAPTURE") == "" {
		t.Skip("capture skipped: set ARPD_CAPTURE=1 to rewrite testdata/packet from the lab")
	}
	l := labtest.New(t)
	pktLabSetup(t, l)
	nc := pktLabOpen(t, l, l.Near, l.NearIf)
	fc := pktLabOpen(t, l, l.Far, l.FarIf)
	uname, _ := l.Exec(l.Near, "uname", "-r")
	how := fmt.Sprintf("Captured in the lab by TestPacketCapture (ARPD_CAPTURE=1) on Linux %s:\n"+
		"near %s 10.77.0.1/24 %s, far %s 10.77.0.2/24 %s, joined by veth\n"+
		"(which does not pad frames to 46 bytes); read from a SOCK_DGRAM\n"+
		"AF_PACKET socket bound to ETH_P_ARP, so the Ethernet header is stripped.",
		strings.TrimSpace(uname), l.NearIf, pktMACString(pktLabNearMAC), l.FarIf, pktMACString(pktLabFarMAC))

	// One datagram makes the near kernel ask for the far side.
	if err := l.Do(l.Near, func() error { return labtest.SendUDP(pktLabFarIP) }); err != nil {
		t.Fatalf("send: %v", err)
	}
	seen, ok := pktWait(t, fc, 2*time.Second, func(s pktSeen) bool { return s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpRequest })
	if !ok {
		t.Fatalf("no request on the far side: %+v", seen)
	}
	pktWriteCapture(t, "request.hex", seen[len(seen)-1],
		"An ARP request from the near kernel for 10.77.0.2 (triggered by a UDP\n"+
			"datagram to it), as the far side receives it.\n"+how)

	seen, ok = pktWait(t, nc, 2*time.Second, func(s pktSeen) bool { return s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpReply })
	if !ok {
		t.Fatalf("no reply on the near side: %+v", seen)
	}
	pktWriteCapture(t, "reply.hex", seen[len(seen)-1],
		"The far kernel's ARP reply to that request, as the near side receives it.\n"+how)

	far := pktLabIface(t, l, l.Far, l.FarIf)
	if err := labProbe(fc, &far.Iface, far.IP, far.IP); err != nil {
		t.Fatalf("send gratuitous ARP: %v", err)
	}
	seen, ok = pktWait(t, nc, 2*time.Second, func(s pktSeen) bool { return s.Drop == frame.DropNone && s.Frame.Gratuitous })
	if !ok {
		t.Fatalf("no gratuitous ARP on the near side: %+v", seen)
	}
	pktWriteCapture(t, "gratuitous.hex", seen[len(seen)-1],
		"A gratuitous ARP request (sender IP = target IP = 10.77.0.2) built by\n"+
			"frame.BuildARPProbe and sent by afpacket.Conn.SendProbe in the far namespace, as the\n"+
			"near side receives it.\n"+how)
}

// pktWriteCapture writes one captured frame to testdata/packet/name in the
// format pktReadCapture reads: "#" comment lines, one "sll" line with the
// link-layer fields, then the bytes in hex.
func pktWriteCapture(t *testing.T, name string, s pktSeen, comment string) {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(comment, "\n") {
		b.WriteString("# " + line + "\n")
	}
	fmt.Fprintf(&b, "sll ifindex=%d hatype=%d pkttype=%d halen=%d\n", s.LL.Ifindex, s.LL.Hatype, s.LL.Pkttype, s.LL.Halen)
	for i := 0; i < len(s.Raw); i += 8 {
		b.WriteString(hex.EncodeToString(s.Raw[i:min(i+8, len(s.Raw))]) + "\n")
	}
	if err := os.MkdirAll(filepath.Join("testdata", "packet"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "packet", name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote testdata/packet/%s:\n%s", name, b.String())
}

// TestPacketLinkDownLab checks that a link going down and up is no receive
// error: the kernel reports ENETDOWN once on the bound socket, which Recv
// reads as nothing queued, and the socket receives again once the link is
// up.
func TestPacketLinkDownLab(t *testing.T) {
	l := labtest.New(t)
	pktLabSetup(t, l)
	nc := pktLabOpen(t, l, l.Near, l.NearIf)
	fc := pktLabOpen(t, l, l.Far, l.FarIf)
	far := pktLabIface(t, l, l.Far, l.FarIf)
	l.IP(l.Near, "link", "set", "dev", l.NearIf, "down")
	for i := 0; i < 3; i++ {
		if _, _, err := nc.Recv(); err != unix.EAGAIN {
			t.Fatalf("Recv %d with the link down: %v, want EAGAIN", i, err)
		}
	}
	l.IP(l.Near, "link", "set", "dev", l.NearIf, "up")
	if !labtest.WaitFor(5*time.Second, func() bool {
		return strings.Contains(l.IP(l.Near, "link", "show", "dev", l.NearIf), "LOWER_UP")
	}) {
		t.Fatal("the link did not come up again")
	}
	if err := labProbe(fc, &far.Iface, far.IP, pktLabNearIP); err != nil {
		t.Fatalf("send probe: %v", err)
	}
	seen, ok := pktWait(t, nc, 2*time.Second, func(s pktSeen) bool {
		return s.Drop == frame.DropNone && s.Frame.SenderIP == pktLabFarIP
	})
	if !ok {
		t.Fatalf("the near socket did not receive again after the link came up; it saw %+v", seen)
	}
}

// labARP is every field of an accepted ARP frame, as the lab tests check
// them: frame.ARP and what it does not keep, read from the bytes.
type labARP struct {
	Ifindex    int32
	Op         uint16
	PktType    uint8
	Gratuitous bool
	SenderMAC  [6]byte
	SenderIP   [4]byte
	TargetMAC  [6]byte
	TargetIP   [4]byte
}

// labDecode is frame.DecodeARP into a labARP.
func labDecode(f *labARP, b []byte, ll *unix.RawSockaddrLinklayer) frame.Drop {
	var a frame.ARP
	d := frame.DecodeARP(&a, b, ll)
	if d != frame.DropNone {
		return d
	}
	*f = labARP{Ifindex: a.Ifindex, Op: binary.BigEndian.Uint16(b[frame.ARPOffOp:]), PktType: ll.Pkttype,
		SenderMAC: a.SenderMAC, SenderIP: a.SenderIP,
		TargetMAC: [6]byte(b[frame.ARPOffTha:]), TargetIP: [4]byte(b[frame.ARPOffTpa:])}
	f.Gratuitous = f.SenderIP == f.TargetIP
	return d
}

// labProbe sends the probe for target from src out of ifc, as the daemon does.
func labProbe(c *afpacket.Conn, ifc *afpacket.Iface, src, target [4]byte) error {
	var b [frame.ARPLen]byte
	frame.BuildARPProbe(&b, ifc.MAC, src, target)
	return c.Send(b[:], ifc.Index, frame.BroadcastMAC)
}
