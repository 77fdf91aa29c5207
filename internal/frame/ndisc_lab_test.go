package frame_test

// The capture of the neighbour-discovery messages in testdata/nd from the
// lab (root), which the unit tests then decode without root.

import (
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// ndSeen is one message waitND read: the verdict, the decoded message
// (valid when accepted), and copies of the bytes and link-layer address.
type ndSeen struct {
	Drop frame.NDDrop
	ND   frame.ND
	Raw  []byte
	LL   unix.RawSockaddrLinklayer
}

// waitND reads messages from c until want takes one or limit passes, and
// returns every one it read; the last is the wanted one when ok is true.
func waitND(t *testing.T, c *afpacket.Conn, limit time.Duration, want func(ndSeen) bool) (seen []ndSeen, ok bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(seen) < 1000 {
		b, ll, err := c.Recv()
		if err == unix.EAGAIN {
			left := time.Until(deadline)
			if left <= 0 {
				return seen, false
			}
			pfd := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, min(int(left/time.Millisecond)+1, 50)); err != nil && err != unix.EINTR {
				t.Fatalf("poll: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		s := ndSeen{Raw: append([]byte(nil), b...), LL: *ll}
		s.Drop = frame.DecodeND(&s.ND, b, ll)
		seen = append(seen, s)
		if want(s) {
			return seen, true
		}
	}
	return seen, false
}

// openND opens an ND socket on interface ifname in namespace ns of l, with
// the all-multicast membership, closed when the test ends.
func openND(t *testing.T, l *labtest.Lab, ns, ifname string) *afpacket.Conn {
	t.Helper()
	idx := int32(l.Ifindex(ns, ifname))
	var c *afpacket.Conn
	if err := l.Do(ns, func() (err error) {
		if c, err = afpacket.OpenND(idx, 0); err != nil {
			return err
		}
		return c.JoinAllMulti(idx)
	}); err != nil {
		t.Fatalf("ND socket in %s on %s: %v", ns, ifname, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendUDP6 sends one empty datagram to port 9 of dst from the namespace
// ns of l.
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
		t.Fatalf("send UDP to %x: %v", dst, err)
	}
}

// TestNDLabCapture makes the kernels of the lab resolve each other over
// IPv6 and checks that DecodeND takes their messages as the tests expect:
// the near kernel's NS to the solicited-node group, the far kernel's
// solicited NA, and for a new address the NS from :: of duplicate address
// detection and then the unsolicited NA (ndisc_notify). With ARPD_CAPTURE=1 it
// writes them to testdata/nd, as
//
//	ARPD_CAPTURE=1 go test -count=1 -run '^TestNDLabCapture$' ./internal/frame
func TestNDLabCapture(t *testing.T) {
	l := labtest.New(t)
	l.Address()
	l.Sysctl(l.Far, "net/ipv6/conf/"+l.FarIf+"/ndisc_notify", "1")
	l.IP(l.Near, "-6", "addr", "add", "fd77::1/64", "dev", l.NearIf, "nodad")
	l.IP(l.Far, "-6", "addr", "add", "fd77::2/64", "dev", l.FarIf, "nodad")
	nc := openND(t, l, l.Near, l.NearIf)
	fc := openND(t, l, l.Far, l.FarIf)
	how := fmt.Sprintf("Captured in the lab by TestNDLabCapture (ARPD_CAPTURE=1) on Linux %s:\n"+
		"near %s fd77::1/64 %s, far %s fd77::2/64 %s,\n"+
		"joined by veth; read from a SOCK_DGRAM AF_PACKET socket bound to ETH_P_IPV6\n"+
		"(afpacket.OpenND), so the Ethernet header is stripped.", labtest.KernelRelease(),
		l.NearIf, labtest.MACString(labtest.NearMAC), l.FarIf, labtest.MACString(labtest.FarMAC))
	sn2, _ := frame.SolicitedNode(testFarIP6)
	fd77 := func(last byte) [16]byte { return [16]byte{0xfd, 0x77, 15: last} }

	sendUDP6(t, l, l.Near, testFarIP6)
	captureND(t, fc, "ns.hex", frame.NDDropNone, frame.ND{Type: frame.NDNeighborSolicit, Src: testNearIP6, Dst: sn2,
		Target: testFarIP6, LLAddr: testNearMAC, HasLLAddr: true},
		"The near kernel's Neighbor Solicitation for fd77::2 (triggered by a UDP\n"+
			"datagram to it), to its solicited-node group, as the far side receives it.\n"+how)
	captureND(t, nc, "na.hex", frame.NDDropNone, frame.ND{Type: frame.NDNeighborAdvert, Src: testFarIP6, Dst: testNearIP6,
		Target: testFarIP6, LLAddr: testFarMAC, HasLLAddr: true, Solicited: true, Override: true},
		"The far kernel's solicited Neighbor Advertisement answering it, as the\nnear side receives it.\n"+how)

	// An address added with duplicate address detection: the NS from ::
	// first, then, once no one objected (a second later), the NA.
	l.IP(l.Far, "-6", "addr", "add", "fd77::3/64", "dev", l.FarIf)
	captureND(t, nc, "ns-dad.hex", frame.NDDropDAD, frame.ND{Target: fd77(3)},
		"The far kernel's duplicate address detection for a new address fd77::3:\n"+
			"a Neighbor Solicitation from :: to its solicited-node group, as the near\n"+
			"side receives it (with PACKET_MR_ALLMULTI). DecodeND drops it as dad.\n"+how)
	captureND(t, nc, "na-unsolicited.hex", frame.NDDropNone, frame.ND{Type: frame.NDNeighborAdvert, Src: fd77(3), Dst: allNodes,
		Target: fd77(3), LLAddr: testFarMAC, HasLLAddr: true, Override: true},
		"The far kernel's unsolicited Neighbor Advertisement of that address once\n"+
			"DAD is done (ndisc_notify=1), as the near side receives it.\n"+how)
}

// captureND waits 4 s at most on c for a message with verdict drop that,
// when accepted, decodes to want (Ifindex aside), and writes it to
// testdata/nd/name with comment when ARPD_CAPTURE=1. A dropped one is
// recognised by its verdict and by the target in its bytes, want.Target.
func captureND(t *testing.T, c *afpacket.Conn, name string, drop frame.NDDrop, want frame.ND, comment string) {
	t.Helper()
	seen, ok := waitND(t, c, 4*time.Second, func(s ndSeen) bool {
		if drop != frame.NDDropNone {
			return s.Drop == drop && len(s.Raw) >= offTarget+16 && [16]byte(s.Raw[offTarget:]) == want.Target
		}
		want.Ifindex = s.ND.Ifindex
		return s.Drop == drop && s.ND == want
	})
	if !ok {
		for _, s := range seen {
			t.Logf("seen: %v %+v", s.Drop, s.ND)
		}
		t.Fatalf("%s: no %v message %+v", name, drop, want)
	}
	s := seen[len(seen)-1]
	if os.Getenv(labtest.CaptureEnv) == "1" {
		writeCaptureIn(t, "nd", name, s.Raw, &s.LL, comment)
	}
}
