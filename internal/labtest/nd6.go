package labtest

// The lab's view of IPv6 neighbour discovery on the wire: a packet socket
// that records the ICMPv6 router and neighbour messages on an interface,
// and the parser that reads them, independent of the daemon's own codec
// so that the two check each other.

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// The ICMPv6 types of neighbour discovery (RFC 4861).
const (
	NDRouterSolicit = 133
	NDRouterAdvert  = 134
	NDNeighSolicit  = 135
	NDNeighAdvert   = 136
)

// The flags of a Neighbor Advertisement, in ND.Flags.
const (
	NAFlagRouter    = 0x80
	NAFlagSolicited = 0x40
	NAFlagOverride  = 0x20
)

// Sizes of what ParseND reads.
const (
	ip6HeaderLen = 40
	icmp6Proto   = 58 // IPPROTO_ICMPV6 as the IPv6 next header
	optSLLAO     = 1  // source link-layer address option
	optTLLAO     = 2  // target link-layer address option
)

// ND is one ICMPv6 neighbour discovery message seen on the wire: the
// fields the lab tests check.
type ND struct {
	PktType   uint8   // the packet socket's sll_pkttype: unix.PACKET_HOST, PACKET_MULTICAST, PACKET_OUTGOING, ...
	EthSrc    [6]byte // the frame's Ethernet source
	HopLimit  uint8
	Src, Dst  [16]byte
	Type      uint8 // NDNeighSolicit, ...
	Code      uint8
	Flags     uint8    // first byte after the checksum's word: NA's R, S, O (NAFlag...), RA's M, O
	Target    [16]byte // NS and NA; zero for RS and RA
	LLAddr    [6]byte  // the source (NS, RS, RA) or target (NA) link-layer address option
	HasLLAddr bool
}

// FromDAD reports whether n is duplicate address detection: a
// solicitation from the unspecified address ::.
func (n *ND) FromDAD() bool { return n.Type == NDNeighSolicit && n.Src == [16]byte{} }

// ParseND reads the IPv6 packet b (an Ethernet frame's payload) and
// returns the neighbour discovery message in it; ok is false for any
// other packet or one too short for its type. It checks no checksum and
// no hop limit: the tests look at what was sent, not whether it is
// acceptable. The first link-layer address option of the message's kind
// is kept; an option of length 0, or one running past the packet, ends
// the options.
func ParseND(b []byte) (n ND, ok bool) {
	if len(b) < ip6HeaderLen+8 || b[0]>>4 != 6 || b[6] != icmp6Proto {
		return n, false
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if ip6HeaderLen+plen < len(b) {
		b = b[:ip6HeaderLen+plen] // Ethernet padding
	}
	if len(b) < ip6HeaderLen+8 {
		return n, false
	}
	n.HopLimit = b[7]
	n.Src, n.Dst = [16]byte(b[8:24]), [16]byte(b[24:40])
	m := b[ip6HeaderLen:]
	n.Type, n.Code, n.Flags = m[0], m[1], m[4]
	var opts []byte
	want := uint8(optSLLAO)
	switch n.Type {
	case NDRouterSolicit:
		opts = m[8:]
	case NDRouterAdvert:
		if len(m) < 16 {
			return n, false
		}
		opts = m[16:]
	case NDNeighSolicit, NDNeighAdvert:
		if len(m) < 24 {
			return n, false
		}
		n.Target = [16]byte(m[8:24])
		opts = m[24:]
		if n.Type == NDNeighAdvert {
			want = optTLLAO
		}
	default:
		return n, false
	}
	for len(opts) >= 8 && opts[1] > 0 && int(opts[1])*8 <= len(opts) {
		if opts[0] == want && opts[1] == 1 && !n.HasLLAddr {
			n.LLAddr, n.HasLLAddr = [6]byte(opts[2:8]), true
		}
		opts = opts[int(opts[1])*8:]
	}
	return n, true
}

// NDWatch is a packet socket that watches the IPv6 packets on one
// interface, incoming and outgoing, and keeps the neighbour discovery
// messages among them.
//
// NB: it is bound to ETH_P_ALL, not ETH_P_IPV6: the kernel hands the
// frames an interface sends only to the sockets of every protocol, so a
// socket bound to one sees nothing its own side sends.
type NDWatch struct {
	t   testing.TB
	fd  int
	buf [2048]byte
}

// WatchND opens an NDWatch on interface ifname in namespace ns and closes
// it when the test ends. The socket asks for every multicast frame
// (PACKET_MR_ALLMULTI), so solicitations to groups the interface has not
// joined are seen too.
func (l *Lab) WatchND(ns, ifname string) *NDWatch {
	l.t.Helper()
	idx := l.Ifindex(ns, ifname)
	w := &NDWatch{t: l.t, fd: -1}
	if err := l.Do(ns, func() (err error) {
		w.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(w.fd, &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_ALL), Ifindex: idx}); err != nil {
			return err
		}
		mr := unix.PacketMreq{Ifindex: int32(idx), Type: unix.PACKET_MR_ALLMULTI}
		return unix.SetsockoptPacketMreq(w.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr)
	}); err != nil {
		if w.fd >= 0 {
			unix.Close(w.fd)
		}
		l.t.Fatalf("watch ND on %s in %s: %v", ifname, ns, err)
	}
	l.t.Cleanup(func() { unix.Close(w.fd) })
	return w
}

// Wait reads messages until want accepts one or limit passes, polling in
// steps of at most 50 ms, and returns every neighbour discovery message it
// read, at most 10,000; the last is the wanted one when ok is true. A
// limit of 0 reads what is queued now.
func (w *NDWatch) Wait(limit time.Duration, want func(ND) bool) (seen []ND, ok bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for len(seen) < 10000 {
		n, from, err := unix.Recvfrom(w.fd, w.buf[:], unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			left := time.Until(deadline)
			if left <= 0 {
				return seen, false
			}
			pfd := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, min(int(left/time.Millisecond)+1, 50)); err != nil && err != unix.EINTR {
				w.t.Fatalf("poll: %v", err)
			}
			continue
		}
		if err != nil {
			w.t.Fatalf("recv: %v", err)
		}
		ll, isLL := from.(*unix.SockaddrLinklayer)
		if !isLL || ll.Protocol != afpacket.Htons(unix.ETH_P_IPV6) {
			continue
		}
		nd, isND := ParseND(w.buf[:n])
		if !isND {
			continue
		}
		nd.PktType, nd.EthSrc = ll.Pkttype, [6]byte(ll.Addr[:6])
		seen = append(seen, nd)
		if want(nd) {
			return seen, true
		}
	}
	return seen, false
}

// Poll returns the neighbour discovery messages queued now.
func (w *NDWatch) Poll() []ND {
	w.t.Helper()
	seen, _ := w.Wait(0, func(ND) bool { return false })
	return seen
}

// Solicits returns the solicitations among seen whose target is target.
func Solicits(seen []ND, target [16]byte) []ND {
	var out []ND
	for _, n := range seen {
		if n.Type == NDNeighSolicit && n.Target == target {
			out = append(out, n)
		}
	}
	return out
}

// SolicitedNode returns the solicited-node multicast group of a
// (ff02::1:ffXX:XXXX, RFC 4291 2.7.1), where solicitations for a go.
func SolicitedNode(a [16]byte) [16]byte {
	return [16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
}
