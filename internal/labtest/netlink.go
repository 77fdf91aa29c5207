package labtest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// The hardware addresses NewNeighLab gives the lab, and the one its tests
// answer the kernel with. They are fixed so that the messages captured
// in the lab (internal/rtnl/testdata) are the same on every run.
var (
	NeighNearMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x01, 0x01}
	NeighFarMAC  = [6]byte{0x02, 0x00, 0x00, 0x00, 0x02, 0x02}
	CacheMAC     = [6]byte{0x02, 0x00, 0x00, 0x00, 0x03, 0x03} // what "the cache" answers
)

// Netlink is a lab with an rtnetlink socket open in its Near namespace.
type Netlink struct {
	*Lab
	Conn      *rtnl.Conn
	NearIndex int32 // the ifindex of NearIf
}

// DialNetlink opens an rtnetlink socket in Near, subscribed to groups and
// with a receive buffer of rcvbuf bytes (see rtnl.Dial), and closes it when
// the test ends. It fails the test if the socket cannot be opened.
func (l *Lab) DialNetlink(groups uint32, rcvbuf int) *Netlink {
	l.t.Helper()
	nl := &Netlink{Lab: l, NearIndex: int32(l.Ifindex(l.Near, l.NearIf))}
	if err := l.Do(l.Near, func() (err error) {
		nl.Conn, err = rtnl.Dial(groups, rcvbuf)
		return err
	}); err != nil {
		l.t.Fatalf("rtnl.Dial in %s: %v", l.Near, err)
	}
	l.t.Cleanup(func() { nl.Conn.Close() })
	return nl
}

// NewNeighLab makes a lab where the near kernel asks user space about its
// neighbours: 10.77.0.1/24 near and 10.77.0.2/24 far, the MACs
// NeighNearMAC and NeighFarMAC, app_solicit=1 and, to keep failures
// quick, mcast_solicit=1 and retrans_time_ms=200 on the near side. Its
// socket listens to the neighbour and link groups with a 4 MiB buffer. It
// skips t as New does.
func NewNeighLab(t testing.TB) *Netlink {
	t.Helper()
	l := New(t)
	l.IP(l.Near, "link", "set", l.NearIf, "address", MACString(NeighNearMAC))
	l.IP(l.Far, "link", "set", l.FarIf, "address", MACString(NeighFarMAC))
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
	key := "net/ipv4/neigh/" + l.NearIf + "/"
	l.Sysctl(l.Near, key+"app_solicit", "1")
	l.Sysctl(l.Near, key+"mcast_solicit", "1")
	l.Sysctl(l.Near, key+"retrans_time_ms", "200")
	return l.DialNetlink(unix.RTMGRP_NEIGH|unix.RTMGRP_LINK, 4<<20)
}

// Captured is one message that Await read, with a copy of its bytes: Raw
// is the whole message, and Msg.Data its payload within Raw.
type Captured struct {
	Msg rtnl.Msg
	Raw []byte
}

// Await reads messages until match accepts one, for at most limit and at
// most 10,000 datagrams, and returns it with every message read before
// it; what names it in the failure. It fails the test if none comes.
func (nl *Netlink) Await(limit time.Duration, what string, match func(m *rtnl.Msg) bool) (Captured, []Captured) {
	nl.t.Helper()
	var seen []Captured
	deadline := time.Now().Add(limit)
	for i := 0; i < 10000; i++ {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		fds := []unix.PollFd{{Fd: int32(nl.Conn.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			nl.t.Fatalf("poll: %v", err)
		}
		b, err := nl.Conn.Recv()
		if err == unix.EAGAIN {
			continue
		}
		if err != nil {
			nl.t.Fatalf("recv while waiting for %s: %v", what, err)
		}
		hit, more := nl.capture(b, match)
		seen = append(seen, more...)
		if hit != nil {
			return *hit, seen
		}
	}
	nl.t.Fatalf("no %s within %v", what, limit)
	return Captured{}, nil
}

// capture frames the datagram b and copies its messages: the first that
// match accepts, and the others in order.
func (nl *Netlink) capture(b []byte, match func(m *rtnl.Msg) bool) (hit *Captured, others []Captured) {
	it := rtnl.Messages(b)
	var m rtnl.Msg
	for it.Next(&m) {
		raw := bytes.Clone(msgBytes(b, &m))
		cm := Captured{Msg: m, Raw: raw}
		cm.Msg.Data = raw[unix.SizeofNlMsghdr:]
		if hit == nil && match(&cm.Msg) {
			hit = &cm
			continue
		}
		others = append(others, cm)
	}
	if err := it.Err(); err != nil {
		nl.t.Fatalf("framing a datagram from the kernel: %v", err)
	}
	return hit, others
}

// msgBytes returns the whole message m (header and payload) from the
// datagram b that m was framed from.
func msgBytes(b []byte, m *rtnl.Msg) []byte {
	for off := 0; off+unix.SizeofNlMsghdr <= len(b); {
		n := int(binary.NativeEndian.Uint32(b[off:]))
		if n < unix.SizeofNlMsghdr || off+n > len(b) {
			break
		}
		if n-unix.SizeofNlMsghdr == len(m.Data) && (len(m.Data) == 0 || &b[off+unix.SizeofNlMsghdr] == &m.Data[0]) {
			return b[off : off+n]
		}
		off += (n + 3) &^ 3
	}
	panic("message not in datagram")
}

// NeighShow returns what "ip neigh show addr dev NearIf" prints in Near,
// trimmed: "" when the kernel has no entry.
func (nl *Netlink) NeighShow(addr string) string {
	return strings.TrimSpace(nl.IP(nl.Near, "neigh", "show", addr, "dev", nl.NearIf))
}

// Send sends the netlink message b on the socket; it fails the test if
// the kernel refuses it.
func (nl *Netlink) Send(b []byte) {
	nl.t.Helper()
	if err := nl.Conn.Send(b); err != nil {
		nl.t.Fatalf("send: %v", err)
	}
}

// SendUDP sends one empty datagram to dst from Near, which makes the near
// kernel resolve dst if it has no entry for it.
func (nl *Netlink) SendUDP(dst [4]byte) {
	nl.t.Helper()
	if err := nl.Do(nl.Near, func() error { return SendUDP(dst) }); err != nil {
		nl.t.Fatalf("send UDP to %v: %v", dst, err)
	}
}
