package afpacket_test

// A lab test of the ND socket's all-multicast membership (root), on a
// macvlan: unlike veth, which passes every multicast frame up whatever
// groups are joined, macvlan filters multicast by the groups its device
// has joined, as an Ethernet card does in hardware.

import (
	"testing"
	"time"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// burstSize is how many solicitations, each to a group of its own, a
// burst sends. The macvlan filter hashes groups into 256 bins, so a group
// no one joined may pass by sharing a bin; all of them passing without
// the membership is next to impossible.
const burstSize = 8

// TestNDJoinAllMultiLab sends bursts of NS to solicited-node groups nobody
// in the near namespace has joined, to a macvlan there. An ND socket
// without the membership misses some; with JoinAllMulti on another socket
// both get them all; once that socket is closed, the first misses some
// again: the membership ends with the socket.
func TestNDJoinAllMultiLab(t *testing.T) {
	l, _, farIdx := lab6(t)
	l.IP(l.Near, "link", "add", "mv0", "link", l.NearIf, "address", "02:00:0a:4d:00:09", "type", "macvlan", "mode", "bridge")
	l.Sysctl(l.Near, "net/ipv6/conf/mv0/disable_ipv6", "1") // joins no group of its own
	l.IP(l.Near, "link", "set", "mv0", "up")
	mvIdx := int32(l.Ifindex(l.Near, "mv0"))
	far := openIn(t, l, l.Far, func() (*afpacket.Conn, error) { return afpacket.OpenND(farIdx, 0) })
	plain := openIn(t, l, l.Near, func() (*afpacket.Conn, error) { return afpacket.OpenND(mvIdx, 0) })

	if n := burst(t, far, farIdx, 0x10, plain); n == burstSize {
		t.Fatalf("without the membership, %d of %d NS to unjoined groups arrived", n, burstSize)
	}
	var joined *afpacket.Conn
	if err := l.Do(l.Near, func() (err error) {
		if joined, err = afpacket.OpenND(mvIdx, 0); err != nil {
			return err
		}
		return joined.JoinAllMulti(mvIdx)
	}); err != nil {
		t.Fatalf("ND socket with all-multicast: %v", err)
	}
	if n := burst(t, far, farIdx, 0x20, joined); n != burstSize {
		t.Errorf("with the membership, %d of %d NS arrived", n, burstSize)
	}
	if n := burst(t, far, farIdx, 0x30, plain); n != burstSize {
		t.Errorf("with the membership on another socket, the plain socket got %d of %d NS", n, burstSize)
	}
	if err := joined.JoinAllMulti(12345); err == nil {
		t.Error("JoinAllMulti on a missing interface succeeded")
	}
	joined.Close()
	if n := burst(t, far, farIdx, 0x40, plain); n == burstSize {
		t.Errorf("after the joined socket closed, %d of %d NS still arrived", n, burstSize)
	}
}

// burst sends burstSize NS from the far ND socket, each for a target
// fd77::1:ff<base+i> that no host has, to the target's solicited-node
// group, and returns how many of them c received.
func burst(t *testing.T, far *afpacket.Conn, farIdx int32, base byte, c *afpacket.Conn) int {
	t.Helper()
	// What an earlier burst left queued on c (a socket beside a joined
	// one gets its frames too) is not this burst's.
	for i := 0; i < 100; i++ {
		if _, _, err := c.Recv(); err != nil {
			break
		}
	}
	want := map[[16]byte]bool{}
	for i := byte(0); i < burstSize; i++ {
		target := [16]byte{0xfd, 0x77, 11: 1, 13: 0xff, 14: base, 15: i}
		dst, mac := frame.SolicitedNode(target)
		var ns [frame.NSLen]byte
		frame.BuildNS(&ns, labtest.FarMAC, farIP6, dst, target)
		if err := far.Send(ns[:], farIdx, mac); err != nil {
			t.Fatalf("send NS: %v", err)
		}
		want[target] = true
	}
	var n int
	nds, drops := ndOf(recvAll(t, c, burstSize, 500*time.Millisecond))
	for i, f := range nds {
		if drops[i] == frame.NDDropNone && want[f.Target] {
			n++
			delete(want, f.Target)
		}
	}
	return n
}
