package labtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
)

// OpenPacket opens a packet socket inside namespace ns, bound to the
// interface called ifname ("" for all interfaces), and closes it when the
// test ends.
func (l *Lab) OpenPacket(ns, ifname string) *afpacket.Conn {
	l.t.Helper()
	var idx int32
	if ifname != "" {
		idx = int32(l.Ifindex(ns, ifname))
	}
	var c *afpacket.Conn
	if err := l.Do(ns, func() (err error) {
		c, err = afpacket.Open(idx, 0)
		return err
	}); err != nil {
		l.t.Fatalf("open packet socket in %s on %q: %v", ns, ifname, err)
	}
	l.t.Cleanup(func() { c.Close() })
	return c
}

// Iface is an interface as the lab tests send from it: what a probe
// needs, and its primary IPv4 address.
type Iface struct {
	afpacket.Iface
	IP [4]byte
}

// LookupIface is afpacket.LookupIface that also asks for the interface's
// primary IPv4 address with SIOCGIFADDR, in the calling thread's
// namespace; call it inside Lab.Do. It fails as afpacket.LookupIface
// does, and when the interface has no IPv4 address.
func LookupIface(name string) (Iface, error) {
	link, err := afpacket.LookupIface(name)
	ifc := Iface{Iface: link}
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

// Iface looks up interface ifname inside namespace ns with LookupIface.
// It fails the test if the lookup fails.
func (l *Lab) Iface(ns, ifname string) Iface {
	l.t.Helper()
	var ifc Iface
	if err := l.Do(ns, func() (err error) {
		ifc, err = LookupIface(ifname)
		return err
	}); err != nil {
		l.t.Fatalf("look up %s in %s: %v", ifname, ns, err)
	}
	return ifc
}

// Seen is one frame that WaitFrame read: the decoder's verdict, the
// decoded frame (valid when accepted), and a copy of the raw bytes and of
// the link-layer source address.
type Seen struct {
	Drop  frame.Drop
	Frame ARP
	Raw   []byte
	LL    unix.RawSockaddrLinklayer
}

// WaitFrame reads frames from c until want accepts one or limit passes,
// polling in steps of at most 50 ms, and returns every frame it read, at
// most 10,000. The last one is the wanted one when ok is true. A limit of
// 0 reads what is queued now.
func WaitFrame(t testing.TB, c *afpacket.Conn, limit time.Duration, want func(Seen) bool) (seen []Seen, ok bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(seen) < 10000 {
		var f ARP
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
		d := DecodeARP(&f, b, ll)
		s := Seen{Drop: d, Frame: f, Raw: append([]byte(nil), b...), LL: *ll}
		seen = append(seen, s)
		if want(s) {
			return seen, true
		}
	}
	return seen, false
}
