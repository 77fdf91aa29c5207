package afpacket_test

// Lab tests of the ND socket between two namespaces with IPv6 addresses
// (root): what its filter lets through, what the far kernel answers to
// the NS it sends, and what the all-multicast membership adds.

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

var (
	nearIP6 = [16]byte{0xfd, 0x77, 15: 1} // fd77::1 on the near side
	farIP6  = [16]byte{0xfd, 0x77, 15: 2} // fd77::2 on the far side
)

// lab6 makes a lab whose ends have their fixed MACs and fd77::1/64 (near)
// and fd77::2/64 (far), without duplicate address detection, and returns
// it with the ifindexes of the two ends.
func lab6(t *testing.T) (l *labtest.Lab, nearIdx, farIdx int32) {
	t.Helper()
	l = labtest.New(t)
	l.Address()
	l.IP(l.Near, "-6", "addr", "add", "fd77::1/64", "dev", l.NearIf, "nodad")
	l.IP(l.Far, "-6", "addr", "add", "fd77::2/64", "dev", l.FarIf, "nodad")
	return l, int32(l.Ifindex(l.Near, l.NearIf)), int32(l.Ifindex(l.Far, l.FarIf))
}

// openIn opens a socket in namespace ns with open, closed when the test
// ends.
func openIn(t *testing.T, l *labtest.Lab, ns string, open func() (*afpacket.Conn, error)) *afpacket.Conn {
	t.Helper()
	var c *afpacket.Conn
	if err := l.Do(ns, func() (err error) { c, err = open(); return err }); err != nil {
		t.Fatalf("open a socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ndOf decodes the frames got as neighbour discovery.
func ndOf(got []received) (nds []frame.ND, drops []frame.NDDrop) {
	for _, r := range got {
		var f frame.ND
		drops = append(drops, frame.DecodeND(&f, r.B, &r.LL))
		nds = append(nds, f)
	}
	return nds, drops
}

// packet6 returns an IPv6 packet from src to dst with hop limit 255,
// next header next and payload p, with the ICMPv6 checksum filled in when
// next is 58.
func packet6(next byte, src, dst [16]byte, p []byte) []byte {
	b := []byte{0x60, 0, 0, 0, 0, 0, next, 255}
	binary.BigEndian.PutUint16(b[4:], uint16(len(p)))
	b = append(append(append(b, src[:]...), dst[:]...), p...)
	if next == 58 {
		binary.BigEndian.PutUint16(b[42:], frame.ICMPv6Checksum(src, dst, b[40:]))
	}
	return b
}

// TestNDSocketFilterLab sends, from the far side, an echo request, a UDP
// datagram, a router solicitation and an NS, built by hand. The near ND
// socket must get the NS, accepted, and nothing but ND (the kernels' own,
// which the echo and the link coming up cause), so no echo, UDP or RS, while an unfiltered ETH_P_IPV6 socket
// beside it gets those. Recv on the ND
// socket allocates nothing.
func TestNDSocketFilterLab(t *testing.T) {
	l, nearIdx, farIdx := lab6(t)
	nd := openIn(t, l, l.Near, func() (*afpacket.Conn, error) { return afpacket.OpenND(nearIdx, 0) })
	raw := openIn(t, l, l.Near, func() (*afpacket.Conn, error) { return afpacket.OpenIPv6Unfiltered(nearIdx) })
	far := openIn(t, l, l.Far, func() (*afpacket.Conn, error) { return afpacket.OpenND(0, 0) })

	echo := packet6(58, farIP6, nearIP6, []byte{128, 0, 0, 0, 0, 1, 0, 1, 'a', 'r', 'p', 'd'})
	udp := packet6(17, farIP6, nearIP6, []byte{0, 9, 0, 9, 0, 8, 0, 0})
	rs := packet6(58, farIP6, nearIP6, []byte{133, 0, 0, 0, 0, 0, 0, 0})
	sn, snMAC := frame.SolicitedNode(nearIP6)
	var ns [frame.NSLen]byte
	frame.BuildNS(&ns, labtest.FarMAC, farIP6, sn, nearIP6)
	for _, p := range [][]byte{echo, udp, rs, ns[:]} {
		if err := far.Send(p, farIdx, labtest.NearMAC); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	all := recvAll(t, raw, 4, 2*time.Second)
	for _, p := range [][]byte{echo, udp, rs} {
		if !holds(all, p) {
			t.Fatalf("the unfiltered socket did not get % x: %+v", p[:44], all)
		}
	}
	// The near kernel answers the echo before it reads the NS, so it
	// solicits fd77::2 first: the far kernel's NA comes too. Wait for
	// whatever else may come.
	got := recvAll(t, nd, 100, 500*time.Millisecond)
	nds, drops := ndOf(got)
	for i, r := range got {
		if len(r.B) < 41 || r.B[6] != 58 || r.B[40] < 134 || r.B[40] > 136 || r.LL.Ifindex != nearIdx {
			t.Errorf("ND socket packet %d on ifindex %d is no ND: % x", i, r.LL.Ifindex, r.B)
		}
	}
	if !holds(got, ns[:]) || holds(got, echo) || holds(got, udp) || holds(got, rs) {
		t.Fatalf("the ND socket got %+v %v, want the NS and no echo, UDP or RS", nds, drops)
	}

	// Recv allocates nothing, with a packet or with none. The kernels'
	// own ND may add to the three, so the socket is drained before it is
	// checked empty.
	for i := 0; i < 3; i++ {
		far.Send(ns[:], farIdx, snMAC)
	}
	waitQueued(t, nd)
	if a := testing.AllocsPerRun(2, func() { nd.Recv() }); a != 0 {
		t.Errorf("Recv on the ND socket: %v allocations, want 0", a)
	}
	recvAll(t, nd, 100, 0)
	if a := testing.AllocsPerRun(2, func() {
		if _, _, err := nd.Recv(); err != unix.EAGAIN {
			t.Errorf("Recv on a drained socket: %v, want EAGAIN", err)
		}
	}); a != 0 {
		t.Errorf("Recv on an empty ND socket: %v allocations, want 0", a)
	}
}

// holds reports whether one of got is p.
func holds(got []received, p []byte) bool {
	for _, r := range got {
		if string(r.B) == string(p) {
			return true
		}
	}
	return false
}

// waitQueued waits until a frame is queued on c.
func waitQueued(t *testing.T, c *afpacket.Conn) {
	t.Helper()
	if !labtest.WaitFor(2*time.Second, func() bool {
		q, err := unix.IoctlGetInt(c.Fd(), unix.SIOCINQ)
		return err == nil && q > 0
	}) {
		t.Fatal("nothing queued")
	}
	time.Sleep(50 * time.Millisecond)
}

// sendUDP6 sends one empty datagram to port 9 of dst from namespace ns.
func sendUDP6(t *testing.T, l *labtest.Lab, ns string, dst [16]byte) {
	t.Helper()
	if err := l.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, nil, unix.MSG_DONTWAIT, &unix.SockaddrInet6{Port: 9, Addr: dst})
	}); err != nil {
		t.Fatalf("send UDP: %v", err)
	}
}

// TestNDSendNSLab sends BuildNS's solicitation for fd77::2 from the near
// ND socket to its solicited-node group: the far side receives it as an
// IPv6 frame, and the far kernel answers with a solicited NA that the
// near ND socket receives.
func TestNDSendNSLab(t *testing.T) {
	l, nearIdx, farIdx := lab6(t)
	nd := openIn(t, l, l.Near, func() (*afpacket.Conn, error) { return afpacket.OpenND(nearIdx, 0) })
	far := openIn(t, l, l.Far, func() (*afpacket.Conn, error) { return afpacket.OpenND(farIdx, 0) })
	sn, snMAC := frame.SolicitedNode(farIP6)
	var ns [frame.NSLen]byte
	frame.BuildNS(&ns, labtest.NearMAC, nearIP6, sn, farIP6)
	if err := nd.Send(ns[:], nearIdx, snMAC); err != nil {
		t.Fatalf("send NS: %v", err)
	}
	// The kernels' own multicast ND (duplicate address detection of the
	// link-local addresses) may come too, at any moment.
	got := recvAll(t, far, 100, 500*time.Millisecond)
	if !holds(got, ns[:]) {
		t.Fatalf("the far side got %+v, want the NS as sent", got)
	}
	for _, r := range got {
		if r.LL.Protocol != afpacket.Htons(unix.ETH_P_IPV6) {
			t.Fatalf("the far side got %+v, not IPv6", r)
		}
	}
	b, ll, err := recvOwn(t, nd)
	if err != nil {
		t.Fatalf("the near side: %v", err)
	}
	var na frame.ND
	drop := frame.DecodeND(&na, b, ll)
	want := frame.ND{Ifindex: nearIdx, Type: frame.NDNeighborAdvert, Src: farIP6, Dst: nearIP6, Target: farIP6,
		LLAddr: labtest.FarMAC, HasLLAddr: true, Solicited: true, Override: true}
	if drop != frame.NDDropNone || na != want {
		t.Fatalf("the near side got %v %+v, want the far kernel's NA %+v", drop, na, want)
	}
}

// TestNDTruncatedLab sends an ND-typed packet longer than the ND socket's
// buffer over a link with jumbo frames: Recv reports it as ErrTruncated
// with its interface, and then receives the next one whole.
func TestNDTruncatedLab(t *testing.T) {
	l, nearIdx, farIdx := lab6(t)
	l.IP(l.Near, "link", "set", l.NearIf, "mtu", "9000")
	l.IP(l.Far, "link", "set", l.FarIf, "mtu", "9000")
	nd := openIn(t, l, l.Near, func() (*afpacket.Conn, error) { return afpacket.OpenND(nearIdx, 0) })
	far := openIn(t, l, l.Far, func() (*afpacket.Conn, error) { return afpacket.OpenND(farIdx, 0) })
	big := packet6(58, farIP6, nearIP6, append([]byte{134, 0, 0, 0}, make([]byte, 2000)...))
	var ns [frame.NSLen]byte
	frame.BuildNS(&ns, labtest.FarMAC, farIP6, nearIP6, nearIP6)
	for _, p := range [][]byte{big, ns[:]} {
		if err := far.Send(p, farIdx, labtest.NearMAC); err != nil {
			t.Fatalf("send %d bytes: %v", len(p), err)
		}
	}
	b, ll, err := recvOwn(t, nd)
	if !errors.Is(err, afpacket.ErrTruncated) || b != nil || ll == nil || ll.Ifindex != nearIdx {
		t.Fatalf("Recv of %d bytes: %d bytes, %+v, %v; want ErrTruncated on ifindex %d", len(big), len(b), ll, err, nearIdx)
	}
	if b, _, err := recvOwn(t, nd); err != nil || string(b) != string(ns[:]) {
		t.Fatalf("after the long one: % x, %v; want the NS", b, err)
	}
}

// recvOwn returns the next Recv on c of a frame sent to the host itself,
// skipping the kernels' multicast ND (the duplicate address detection and
// solicitations of a link that came up, which arrive at any moment). It
// fails the test when none comes within two seconds.
func recvOwn(t *testing.T, c *afpacket.Conn) ([]byte, *unix.RawSockaddrLinklayer, error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		b, ll, err := c.Recv()
		switch {
		case err == unix.EAGAIN:
			pfd := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
			unix.Poll(pfd, 50)
		case ll != nil && ll.Pkttype != unix.PACKET_HOST:
		default:
			return b, ll, err
		}
	}
	t.Fatal("nothing sent to the host came")
	return nil, nil, nil
}
