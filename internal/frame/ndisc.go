package frame

// IPv6 neighbour discovery (RFC 4861) on Ethernet: the decoder of the
// Router Advertisements, Neighbor Solicitations and Neighbor
// Advertisements a packet socket bound to ETH_P_IPV6 receives.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Neighbour-discovery wire constants (RFC 4861, RFC 4443).
const (
	NDRouterAdvert    = 134 // ICMPv6 type of a Router Advertisement
	NDNeighborSolicit = 135 // ICMPv6 type of a Neighbor Solicitation
	NDNeighborAdvert  = 136 // ICMPv6 type of a Neighbor Advertisement

	// NSLen is the length of a probe as BuildNS writes it: the IPv6
	// header, the Neighbor Solicitation's fixed part, and one Source
	// Link-Layer Address option.
	NSLen = ipv6HeaderLen + nsBodyLen + llOptionLen
)

// Layout of an IPv6 header and of the ICMPv6 messages DecodeND reads.
// Offsets are from the start of the IPv6 header, except the ndOff ones,
// which are from the start of the ICMPv6 message.
const (
	ipv6HeaderLen   = 40 // the fixed IPv6 header
	icmpv6HeaderLen = 4  // type, code, checksum
	raBodyLen       = 16 // RA: the ICMPv6 header, hop limit, flags, lifetime, reachable time, retrans timer
	nsBodyLen       = 24 // NS and NA: the ICMPv6 header, 4 bytes reserved or flags, the target
	llOptionLen     = 8  // a link-layer address option for Ethernet: type, length 1, 6 bytes of address

	ipv6OffPlen = 4  // payload length, 2 bytes
	ipv6OffNext = 6  // next header, 1 byte
	ipv6OffHop  = 7  // hop limit, 1 byte
	ipv6OffSrc  = 8  // source address, 16 bytes
	ipv6OffDst  = 24 // destination address, 16 bytes

	ndOffType   = 0 // ICMPv6 type
	ndOffCode   = 1 // ICMPv6 code
	ndOffCsum   = 2 // ICMPv6 checksum, 2 bytes
	ndOffFlags  = 4 // NA: the R, S and O flags
	ndOffTarget = 8 // NS and NA: the target address, 16 bytes

	protoICMPv6 = 58  // the next-header value of ICMPv6
	ndHopLimit  = 255 // the only hop limit neighbour discovery accepts (RFC 4861 6.1, 7.1)

	optSourceLL = 1 // option type: Source Link-Layer Address
	optTargetLL = 2 // option type: Target Link-Layer Address

	naRouter    = 0x80 // NA flag R: the sender is a router
	naSolicited = 0x40 // NA flag S: an answer to a solicitation
	naOverride  = 0x20 // NA flag O: replace a cached link-layer address
)

// ND is an accepted neighbour-discovery message: what it claims. It is a
// plain value with fixed-size arrays, so the daemon can keep one and have
// DecodeND overwrite it for every message.
type ND struct {
	Ifindex   int32    // the interface it arrived on (sll_ifindex)
	Type      uint8    // NDRouterAdvert, NDNeighborSolicit or NDNeighborAdvert
	Src, Dst  [16]byte // the IPv6 header's addresses
	Target    [16]byte // NS and NA: the target address; zero in an RA
	LLAddr    [6]byte  // the SLLAO (NS, RA) or TLLAO (NA)
	HasLLAddr bool     // the message carried that option
	Router    bool     // NA with R=1, or any RA: the sender is a router
	Solicited bool     // NA with S=1
	Override  bool     // NA with O=1
}

// DecodeND checks one IPv6 packet as a SOCK_DGRAM AF_PACKET socket bound
// to ETH_P_IPV6 delivers it (the Ethernet header stripped, b starting at
// the IPv6 header) together with the link-layer address the kernel
// returned with it, and on success stores the message in *f. It returns
// NDDropNone when the message is accepted and otherwise the first rule it
// breaks (the order of the NDDrop values); *f is written only on
// acceptance. It makes no system call, allocates nothing and never
// panics, whatever b holds.
//
// It accepts what the kernel's own ndisc code would act on, and only
// messages that bind an address to a link-layer address:
//
//   - The link rules are DecodeARP's: frames not received from the wire,
//     and interfaces other than Ethernet, are dropped.
//
//   - ICMPv6 must follow the IPv6 header directly: extension headers are
//     not followed. Hosts do not put them on neighbour discovery, and
//     the packet socket's filter passes nothing else anyway.
//
//   - Bytes past the payload length are ignored, as the kernel ignores
//     them (ipv6_rcv trims the packet to its payload length and goes on):
//     being stricter would drop messages the kernel acts on. They are not
//     Ethernet padding (the smallest ICMPv6 message already makes a frame
//     longer than Ethernet's 46-byte minimum) but may be a trailer some
//     drivers leave on. The checksum covers the payload length only.
//
//   - The hop limit must be 255 and the checksum right (RFC 4861 6.1.2,
//     7.1.1, 7.1.2): a routed or corrupted message is not learned.
//
//   - Options are walked as the kernel walks them (ndisc_parse_options):
//     an option of length 0, or one that runs past the end, or bytes at
//     the end too few for an option, drop the message; of several
//     link-layer address options of the same type the first counts.
//
//   - A message that carries no link-layer address option binds nothing:
//     it is dropped as NDDropNoLLAddr, which is counted but is no attack.
//
//   - The option's address must be the Ethernet source of the frame, as
//     for ARP: a host answering for itself sends from its own MAC, and a
//     message that binds an address elsewhere is forged or proxied.
//
// Like DecodeARP, it does not check the addresses against the interface's
// prefixes or the router's own addresses: the daemon does, after decoding.
func DecodeND(f *ND, b []byte, ll *unix.RawSockaddrLinklayer) NDDrop {
	switch checkLink(ll) {
	case DropNone:
	case DropOutgoing:
		return NDDropOutgoing
	default:
		return NDDropLink
	}
	m, d := ndMessage(b)
	if d != NDDropNone {
		return d
	}
	src, dst := [16]byte(b[ipv6OffSrc:]), [16]byte(b[ipv6OffDst:])
	if ICMPv6Checksum(src, dst, m) != 0 {
		return NDDropChecksum
	}
	typ := m[ndOffType]
	bodyLen, optType := nsBodyLen, uint8(optSourceLL)
	switch typ {
	case NDRouterAdvert:
		bodyLen = raBodyLen
	case NDNeighborAdvert:
		optType = optTargetLL
	}
	if len(m) < bodyLen {
		return NDDropBody
	}
	opt, ok := findOption(m[bodyLen:], optType)
	if !ok {
		return NDDropOption
	}
	nd := ND{Ifindex: ll.Ifindex, Type: typ, Src: src, Dst: dst}
	if typ != NDRouterAdvert {
		nd.Target = [16]byte(m[ndOffTarget:])
	}
	if typ == NDNeighborAdvert {
		fl := m[ndOffFlags]
		nd.Router, nd.Solicited, nd.Override = fl&naRouter != 0, fl&naSolicited != 0, fl&naOverride != 0
	} else if typ == NDRouterAdvert {
		nd.Router = true
	}
	if d := checkNDAddrs(&nd); d != NDDropNone {
		return d
	}
	if d := checkLLOption(opt, ll); d != NDDropNone {
		return d
	}
	nd.LLAddr, nd.HasLLAddr = [6]byte(opt[2:]), true
	*f = nd
	return NDDropNone
}

// ndMessage checks the IPv6 header and the ICMPv6 header of b, up to the
// checksum, and returns the ICMPv6 message: the payload-length bytes after
// the IPv6 header.
func ndMessage(b []byte) ([]byte, NDDrop) {
	if len(b) < ipv6HeaderLen+icmpv6HeaderLen {
		return nil, NDDropShort
	}
	if b[0]>>4 != 6 {
		return nil, NDDropVersion
	}
	if b[ipv6OffNext] != protoICMPv6 {
		return nil, NDDropNextHeader
	}
	plen := int(binary.BigEndian.Uint16(b[ipv6OffPlen:]))
	if plen > len(b)-ipv6HeaderLen || plen < icmpv6HeaderLen {
		return nil, NDDropLength
	}
	if b[ipv6OffHop] != ndHopLimit {
		return nil, NDDropHopLimit
	}
	m := b[ipv6HeaderLen : ipv6HeaderLen+plen]
	switch m[ndOffType] {
	case NDRouterAdvert, NDNeighborSolicit, NDNeighborAdvert:
	default:
		return nil, NDDropType
	}
	if m[ndOffCode] != 0 {
		return nil, NDDropCode
	}
	return m, NDDropNone
}

// findOption walks the options opts as the kernel does and returns the
// first of type want (nil if there is none). ok is false when the options
// are malformed: one has length 0, or runs past the end, or fewer than two
// bytes are left over at the end.
func findOption(opts []byte, want uint8) (opt []byte, ok bool) {
	for len(opts) > 0 {
		if len(opts) < 2 {
			return nil, false
		}
		n := int(opts[1]) * 8 // the length is in units of 8 bytes
		if n == 0 || n > len(opts) {
			return nil, false
		}
		if opts[0] == want && opt == nil {
			opt = opts[:n]
		}
		opts = opts[n:]
	}
	return opt, true
}

// checkNDAddrs applies the address rules to a decoded message: the dad,
// source, target and solicited-mcast reasons, in that order.
func checkNDAddrs(nd *ND) NDDrop {
	if nd.Type == NDNeighborSolicit && nd.Src == [16]byte{} {
		return NDDropDAD
	}
	if !unicastIPv6(nd.Src) || nd.Type == NDRouterAdvert && !linkLocalIPv6(nd.Src) {
		return NDDropSource
	}
	if nd.Type != NDRouterAdvert && !unicastIPv6(nd.Target) {
		return NDDropTarget
	}
	if nd.Solicited && multicastIPv6(nd.Dst) {
		return NDDropSolicitedMcast
	}
	return NDDropNone
}

// checkLLOption checks the link-layer address option opt (nil when the
// message has none) against the Ethernet source in ll.
func checkLLOption(opt []byte, ll *unix.RawSockaddrLinklayer) NDDrop {
	if opt == nil {
		return NDDropNoLLAddr
	}
	// NB: for Ethernet the option is exactly 8 bytes (RFC 2464 8); the
	// kernel drops other lengths as an invalid link-layer address.
	if len(opt) != llOptionLen {
		return NDDropLLAddr
	}
	mac := [6]byte(opt[2:])
	if mac[0]&1 != 0 || mac == [6]byte{} { // the group bit covers broadcast too
		return NDDropLLAddr
	}
	// NB: checkLink has made sure sll_halen is 6, so sll_addr holds the
	// Ethernet source.
	if [6]byte(ll.Addr[:6]) != mac {
		return NDDropEthMismatch
	}
	return NDDropNone
}

// multicastIPv6 reports whether ip is in ff00::/8.
func multicastIPv6(ip [16]byte) bool { return ip[0] == 0xff }

// linkLocalIPv6 reports whether ip is in fe80::/10.
func linkLocalIPv6(ip [16]byte) bool { return ip[0] == 0xfe && ip[1]&0xc0 == 0x80 }

// unicastIPv6 reports whether ip can be a neighbour's address: not the
// unspecified address ::, not the loopback ::1, not multicast, and not
// IPv4-mapped (::ffff:0:0/96, which never appears on the wire).
func unicastIPv6(ip [16]byte) bool {
	var loopback = [16]byte{15: 1}
	switch {
	case ip == [16]byte{}, ip == loopback, multicastIPv6(ip):
		return false
	case [12]byte(ip[:12]) == [12]byte{10: 0xff, 11: 0xff}:
		return false
	}
	return true
}
