package frame_test

// Neighbour-discovery messages built by hand for the tests, and every
// field read back from the bytes apart from the decoder.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// The addresses of the test messages: the lab's (see ndisc_lab_test.go).
var (
	testNearIP6 = [16]byte{0xfd, 0x77, 15: 1}                                         // fd77::1
	testFarIP6  = [16]byte{0xfd, 0x77, 15: 2}                                         // fd77::2
	testFarLL6  = [16]byte{0xfe, 0x80, 10: 0x0a, 11: 0xff, 12: 0xfe, 13: 0x4d, 15: 2} // fe80::aff:fe4d:2, EUI-64 of testFarMAC
	testNearLL6 = [16]byte{0xfe, 0x80, 10: 0x0a, 11: 0xff, 12: 0xfe, 13: 0x4d, 15: 1} // fe80::aff:fe4d:1, EUI-64 of testNearMAC
	allNodes    = [16]byte{0xff, 0x02, 15: 1}                                         // ff02::1
)

// protoIPv6 is ETH_P_IPV6 in network byte order, as sll_protocol holds it.
var protoIPv6 = binary.NativeEndian.Uint16([]byte{0x86, 0xdd})

// Offsets of the fields the tests edit, from the start of the IPv6 header.
const (
	offPlen   = 4
	offNext   = 6
	offHop    = 7
	offSrc    = 8
	offDst    = 24
	offType   = 40
	offCode   = 41
	offCsum   = 42
	offFlags  = 44 // NA
	offTarget = 48 // NS, NA
	offNSOpt  = 64 // NS, NA: the first option
	offRAOpt  = 56 // RA: the first option
)

// llOpt returns a link-layer address option of type typ holding mac.
func llOpt(typ byte, mac [6]byte) []byte {
	return append([]byte{typ, 1}, mac[:]...)
}

// prefixOpt returns a Prefix Information option (type 3, 32 bytes) for
// fd77::/64, which DecodeND skips.
func prefixOpt() []byte {
	o := make([]byte, 32)
	o[0], o[1], o[2], o[3] = 3, 4, 64, 0xc0
	copy(o[16:], []byte{0xfd, 0x77})
	return o
}

// ndPacket builds an IPv6 packet holding an ND message of type typ from
// src to dst: for NS and NA, flags (NA) and target, then opts; for an RA,
// a fixed body (hop limit 64, lifetime 1800 s), then opts. The checksum
// is computed with refChecksum, not the package's.
func ndPacket(typ, flags byte, src, dst, target [16]byte, opts ...[]byte) []byte {
	m := []byte{typ, 0, 0, 0}
	if typ == frame.NDRouterAdvert {
		m = append(m, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0)
	} else {
		m = append(m, flags, 0, 0, 0)
		m = append(m, target[:]...)
	}
	for _, o := range opts {
		m = append(m, o...)
	}
	b := []byte{0x60, 0, 0, 0, byte(len(m) >> 8), byte(len(m)), 58, 255}
	b = append(append(append(b, src[:]...), dst[:]...), m...)
	fixChecksum(b)
	return b
}

// fixChecksum recomputes the ICMPv6 checksum of the IPv6 packet b over its
// payload length, when b is long enough to hold it.
func fixChecksum(b []byte) {
	if len(b) < 44 {
		return
	}
	plen := int(binary.BigEndian.Uint16(b[offPlen:]))
	if plen < 4 || 40+plen > len(b) {
		return
	}
	b[offCsum], b[offCsum+1] = 0, 0
	c := refChecksum([16]byte(b[offSrc:]), [16]byte(b[offDst:]), b[40:40+plen])
	binary.BigEndian.PutUint16(b[offCsum:], c)
}

// refChecksum is the ICMPv6 checksum as RFC 1071 and RFC 4443 2.3 spell it
// out, 16 bits at a time, apart from the package's faster one.
func refChecksum(src, dst [16]byte, msg []byte) uint16 {
	ph := append(append([]byte(nil), src[:]...), dst[:]...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(msg)))
	ph = append(ph, 0, 0, 0, 58)
	all := append(ph, msg...)
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var sum uint32
	for i := 0; i < len(all); i += 2 {
		sum += uint32(all[i])<<8 | uint32(all[i+1])
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ndLL returns the link-layer address a message from src arrives with, on
// ifindex 2 of an Ethernet interface, with packet type pkttype.
func ndLL(pkttype uint8, src [6]byte) unix.RawSockaddrLinklayer {
	ll := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: protoIPv6,
		Ifindex: 2, Hatype: unix.ARPHRD_ETHER, Pkttype: pkttype, Halen: 6}
	copy(ll.Addr[:], src[:])
	return ll
}

// viewND reads what DecodeND should return for an accepted message b,
// apart from the decoder: the header's addresses, the target, the NA
// flags, and the first link-layer address option of the type the message
// carries. It assumes b passed the decoder's length checks.
func viewND(b []byte, ll *unix.RawSockaddrLinklayer) frame.ND {
	plen := int(binary.BigEndian.Uint16(b[offPlen:]))
	m := b[40 : 40+plen]
	nd := frame.ND{Ifindex: ll.Ifindex, Type: m[0], Src: [16]byte(b[offSrc:]), Dst: [16]byte(b[offDst:])}
	optType, opts := byte(1), m
	switch nd.Type {
	case frame.NDRouterAdvert:
		nd.Router, opts = true, m[16:]
	case frame.NDNeighborAdvert:
		optType = 2
		fallthrough
	default:
		nd.Target, opts = [16]byte(m[8:]), m[24:]
	}
	if nd.Type == frame.NDNeighborAdvert {
		nd.Router, nd.Solicited, nd.Override = m[4]&0x80 != 0, m[4]&0x40 != 0, m[4]&0x20 != 0
	}
	for len(opts) >= 8 && opts[1] > 0 && int(opts[1])*8 <= len(opts) {
		if opts[0] == optType {
			nd.LLAddr, nd.HasLLAddr = [6]byte(opts[2:]), true
			break
		}
		opts = opts[int(opts[1])*8:]
	}
	return nd
}

// The three messages the tests start from, each with the link-layer
// address it arrives with.
func baseNS() ([]byte, unix.RawSockaddrLinklayer) {
	dst, _ := frame.SolicitedNode(testNearIP6)
	return ndPacket(frame.NDNeighborSolicit, 0, testFarIP6, dst, testNearIP6, llOpt(1, testFarMAC)),
		ndLL(unix.PACKET_MULTICAST, testFarMAC)
}

func baseNA() ([]byte, unix.RawSockaddrLinklayer) {
	return ndPacket(frame.NDNeighborAdvert, 0x60, testFarIP6, testNearIP6, testFarIP6, llOpt(2, testFarMAC)),
		ndLL(unix.PACKET_HOST, testFarMAC)
}

func baseRA() ([]byte, unix.RawSockaddrLinklayer) {
	return ndPacket(frame.NDRouterAdvert, 0, testFarLL6, allNodes, [16]byte{}, prefixOpt(), llOpt(1, testFarMAC)),
		ndLL(unix.PACKET_MULTICAST, testFarMAC)
}
