package frame

// What the daemon needs to send neighbour discovery: the ICMPv6 checksum,
// the solicited-node group of an address, and the Neighbor Solicitation
// it probes with.

import "encoding/binary"

// ICMPv6Checksum returns the ICMPv6 checksum (RFC 4443 2.3) of the message
// msg sent from src to dst: the one's complement of the one's complement
// sum over the IPv6 pseudo-header (source, destination, the upper-layer
// length as 32 bits, three zero bytes and the next header 58) and msg,
// with an odd final byte padded with a zero. To fill a message's checksum,
// call it with the checksum field zero and store the result; over a
// message with a correct checksum it returns 0. It allocates nothing.
func ICMPv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	// NB: the one's complement sum is the sum modulo 0xffff, and 1<<16
	// and 1<<32 are both 1 modulo 0xffff, so 32-bit words can be added
	// into 64 bits and folded once at the end: the 32-bit length and the
	// next header go in as plain numbers.
	sum := uint64(len(msg)) + protoICMPv6
	sum += sumWords(src[:]) + sumWords(dst[:]) + sumWords(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// sumWords adds up b as big-endian 32-bit words, the last one padded with
// zero bytes on the right. Any length of b up to 64 KiB fits in the
// result without overflow.
func sumWords(b []byte) uint64 {
	var sum uint64
	for len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	var tail [4]byte
	copy(tail[:], b)
	return sum + uint64(binary.BigEndian.Uint32(tail[:]))
}

// SolicitedNode returns the solicited-node multicast group of target,
// ff02::1:ffXX:XXXX with the low 24 bits of target (RFC 4291 2.7.1), and
// the Ethernet group it maps to, 33:33:ff:XX:XX:XX: where a Neighbor
// Solicitation for target goes.
func SolicitedNode(target [16]byte) (ip [16]byte, mac [6]byte) {
	ip = [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff}
	copy(ip[13:], target[13:])
	return ip, MulticastMAC(ip)
}

// MulticastMAC returns the Ethernet address an IPv6 multicast group ip
// maps to (RFC 2464 7): 33:33 followed by the last four bytes of ip.
func MulticastMAC(ip [16]byte) [6]byte {
	return [6]byte{0x33, 0x33, ip[12], ip[13], ip[14], ip[15]}
}

// BuildNS writes into b a Neighbor Solicitation for target from src to
// dst, as the kernel writes its own: IPv6 with traffic class and flow
// label 0, hop limit 255, and a Source Link-Layer Address option holding
// srcMAC, with the ICMPv6 checksum filled in. A probe goes to the
// solicited-node group of target (SolicitedNode) from the interface's
// link-local address; a verification goes to the known MAC and address.
// Every byte of b is written, whatever it held. It allocates nothing.
func BuildNS(b *[NSLen]byte, srcMAC [6]byte, src, dst, target [16]byte) {
	*b = [NSLen]byte{}
	b[0] = 6 << 4 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(b[ipv6OffPlen:], NSLen-ipv6HeaderLen)
	b[ipv6OffNext] = protoICMPv6
	b[ipv6OffHop] = ndHopLimit
	copy(b[ipv6OffSrc:], src[:])
	copy(b[ipv6OffDst:], dst[:])
	m := b[ipv6HeaderLen:]
	m[ndOffType] = NDNeighborSolicit
	copy(m[ndOffTarget:], target[:])
	opt := m[nsBodyLen:]
	opt[0], opt[1] = optSourceLL, llOptionLen/8
	copy(opt[2:], srcMAC[:])
	binary.BigEndian.PutUint16(m[ndOffCsum:], ICMPv6Checksum(src, dst, m))
}
