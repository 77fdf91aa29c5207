package lab

// The responder over IPv6: it answers the router's Neighbor Solicitations
// for live hosts with their Neighbor Advertisements, counts the
// solicitations and the datagrams, and has the known hosts solicit the
// router in the warm-up.

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// ICMPv6 neighbour discovery types.
const (
	icmp6NS = 135
	icmp6NA = 136
)

// ipv6 handles an IPv6 frame the router sent onto the segment: a
// Neighbor Solicitation (counted, answered for a live host) or a UDP
// datagram (recorded as ipv4 records them).
func (r *responder) ipv6(f []byte, at time.Duration) {
	ip := f[14:]
	if len(ip) < 40 || ip[0]>>4 != 6 || [6]byte(f[6:12]) != scanRouterMAC {
		return
	}
	switch {
	case ip[6] == unix.IPPROTO_ICMPV6 && len(ip) >= 40+24 && ip[40] == icmp6NS:
		r.solicitation(f, at)
	case ip[6] == unix.IPPROTO_UDP && len(ip) >= 40+8:
		r.datagram(r.cfg.liveIndex6([16]byte(ip[24:40])), ip[40+8:], at)
	}
}

// solicitation counts a Neighbor Solicitation from the router, to a
// solicited-node group (multicast: the broadcast of IPv6) or unicast, and
// answers it when its target is a live host.
func (r *responder) solicitation(f []byte, at time.Duration) {
	ip := f[14:]
	r.mu.Lock()
	if f[0] == 0x33 && f[1] == 0x33 {
		r.bcasts = append(r.bcasts, at)
	} else {
		r.unicast++
	}
	r.mu.Unlock()
	target := [16]byte(ip[40+8 : 40+24])
	h := r.cfg.liveIndex6(target)
	if h < 0 {
		return
	}
	dst := [16]byte(ip[8:24])
	if dst == ([16]byte{}) {
		dst = [16]byte{0: 0xff, 1: 0x02, 15: 1} // from ::: to all nodes
	}
	na := ndFrame(icmp6NA, [6]byte(f[6:12]), liveMAC(h), target, dst, target, 2)
	ok := r.send6(na, [6]byte(f[6:12]))
	r.mu.Lock()
	if ok {
		r.replies++
	} else {
		r.sendErr++
	}
	r.mu.Unlock()
}

// send6 sends the Ethernet frame f, an IPv6 packet, to dst out of the
// segment's interface and reports whether the socket took it.
func (r *responder) send6(f []byte, dst [6]byte) bool {
	to := &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_IPV6), Ifindex: r.ifindex, Halen: 6}
	copy(to.Addr[:], dst[:])
	return unix.Sendto(r.fd, f, 0, to) == nil
}

// warmUp6 has each known host solicit the router's address, 1 ms apart,
// as a host does before its first packet: the solicitation carries the
// host's link-layer address, which the router's kernel takes into its
// table (STALE) and a daemon into its cache.
func (r *responder) warmUp6(t testing.TB) {
	t.Helper()
	group := [16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: scanRouterIP6[13], 14: scanRouterIP6[14], 15: scanRouterIP6[15]}
	mac := [6]byte{0x33, 0x33, group[12], group[13], group[14], group[15]}
	for i := 0; i < r.cfg.known; i++ {
		f := ndFrame(icmp6NS, mac, liveMAC(i), r.cfg.liveAddr6(i), group, scanRouterIP6, 1)
		if !r.send6(f, mac) {
			t.Fatalf("warm-up: the packet socket refused host %d's solicitation", i)
		}
		time.Sleep(time.Millisecond)
	}
}

// ndFrame returns an Ethernet frame to dstMAC from srcMAC carrying a
// Neighbor Solicitation or Advertisement (typ) from src to dst about
// target, hop limit 255, with one link-layer address option of type opt
// (1 source, 2 target) holding srcMAC. An advertisement is solicited and
// overrides (S=1, O=1).
func ndFrame(typ uint8, dstMAC, srcMAC [6]byte, src, dst, target [16]byte, opt uint8) []byte {
	const bodyLen = 24 + 8
	f := make([]byte, 0, 14+40+bodyLen)
	f = append(f, dstMAC[:]...)
	f = append(f, srcMAC[:]...)
	f = binary.BigEndian.AppendUint16(f, unix.ETH_P_IPV6)
	f = append(f, 0x60, 0, 0, 0)
	f = binary.BigEndian.AppendUint16(f, bodyLen)
	f = append(f, unix.IPPROTO_ICMPV6, 255)
	f = append(f, src[:]...)
	f = append(f, dst[:]...)
	icmp := len(f)
	f = append(f, typ, 0, 0, 0) // type, code, checksum
	if typ == icmp6NA {
		f = append(f, 0x60, 0, 0, 0)
	} else {
		f = append(f, 0, 0, 0, 0)
	}
	f = append(f, target[:]...)
	f = append(f, opt, 1)
	f = append(f, srcMAC[:]...)
	binary.BigEndian.PutUint16(f[icmp+2:], icmp6Checksum(src, dst, f[icmp:]))
	return f
}

// icmp6Checksum returns the ICMPv6 checksum of msg (its checksum field
// zero) from src to dst: the ones' complement sum over the pseudo-header
// of RFC 8200 section 8.1 (addresses, length, next header 58) and msg.
func icmp6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[:], uint32(len(msg)))
	tail[7] = unix.IPPROTO_ICMPV6
	add(tail[:])
	add(msg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestICMP6Checksum checks ndFrame and icmp6Checksum against a Neighbor
// Solicitation the kernel sent (Linux 6.18, captured from a veth with a
// packet socket): fe80::1 at 02:00:00:00:00:01 soliciting fe80::2.
func TestICMP6Checksum(t *testing.T) {
	const captured = "3333ff00000202000000000186dd6000000000203afffe80000000000000000000000000" +
		"0001ff0200000000000000000001ff00000287007a9700000000fe80000000000000000000000000" +
		"00020101020000000001"
	src := [16]byte{0xfe, 0x80, 15: 1}
	target := [16]byte{0xfe, 0x80, 15: 2}
	group := [16]byte{0xff, 0x02, 11: 1, 12: 0xff, 15: 2}
	mac := [6]byte{0x33, 0x33, 0xff, 0, 0, 2}
	f := ndFrame(icmp6NS, mac, [6]byte{2, 0, 0, 0, 0, 1}, src, group, target, 1)
	if got := hex.EncodeToString(f); got != captured {
		t.Errorf("ndFrame built\n%s, the kernel sent\n%s", got, captured)
	}
	if icmp6Checksum(src, group, f[14+40:]) != 0 {
		t.Error("the checksum does not verify: the sum over the message with it is not 0")
	}
}
