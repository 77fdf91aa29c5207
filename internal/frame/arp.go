package frame

// ARP (RFC 826) for Ethernet and IPv4: the decoder of received frames and
// the builder of the daemon's broadcast probes.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// ARP wire constants (RFC 826) for Ethernet and IPv4.
const (
	ARPLen       = 28     // an Ethernet/IPv4 ARP payload: 8-byte header, 2×(6+4) addresses
	ARPHWEther   = 1      // ar_hrd: Ethernet (10 Mb), ARPHRD_ETHER
	ARPProtoIPv4 = 0x0800 // ar_pro: ETH_P_IP
	ARPHLenEther = 6      // ar_hln: bytes in an Ethernet address
	ARPPLenIPv4  = 4      // ar_pln: bytes in an IPv4 address
	ARPOpRequest = 1      // ar_op: ARPOP_REQUEST
	ARPOpReply   = 2      // ar_op: ARPOP_REPLY
)

// Offsets into an Ethernet/IPv4 ARP payload.
//
// NB: these are fixed only because the decoder has already checked that
// ar_hln is 6 and ar_pln is 4; in general the address fields move with the
// two length bytes.
const (
	ARPOffHrd = 0  // ar_hrd, 2 bytes
	ARPOffPro = 2  // ar_pro, 2 bytes
	ARPOffHln = 4  // ar_hln, 1 byte
	ARPOffPln = 5  // ar_pln, 1 byte
	ARPOffOp  = 6  // ar_op, 2 bytes
	ARPOffSha = 8  // ar_sha, 6 bytes
	ARPOffSpa = 14 // ar_spa, 4 bytes
	ARPOffTha = 18 // ar_tha, 6 bytes
	ARPOffTpa = 24 // ar_tpa, 4 bytes
)

// ARP is what the daemon learns from one accepted ARP frame: the sender's
// binding and the interface it was seen on. It is a plain value with
// fixed-size arrays, so the daemon can keep one and have DecodeARP
// overwrite it for every frame. The other fields of the frame (opcode,
// target) are read from the bytes by whoever needs them, at the ARPOff
// offsets.
type ARP struct {
	Ifindex   int32   // the interface it arrived on (sll_ifindex)
	SenderMAC [6]byte // ar_sha
	SenderIP  [4]byte // ar_spa
	Op        uint16  // ARPOpRequest or ARPOpReply
	TargetIP  [4]byte // ar_tpa
}

// DecodeARP checks one ARP payload as a SOCK_DGRAM AF_PACKET socket
// delivers it (the Ethernet header already stripped) together with the
// link-layer address the kernel returned with it, and on success stores
// the frame in *f. It returns DropNone when the frame is accepted and
// otherwise the first rule it breaks; *f is written only on acceptance. It
// makes no system call and allocates nothing.
//
// Bytes after the first 28 are ignored: Ethernet pads a frame to 46 bytes
// of payload, so 18 trailing zeros are normal on real links (veth does not
// pad).
//
// Three decisions are deliberate:
//
//   - Frames that are not received from the wire (sll_pkttype
//     PACKET_OUTGOING: our own probes and the kernel's own requests and
//     replies, looped back to packet sockets) are dropped as DropOutgoing.
//     They carry our own address, which the kernel never resolves, so
//     learning them would only waste cache slots. A socket bound to
//     ETH_P_ARP does not get outgoing copies in the first place (the
//     kernel loops them back only to ETH_P_ALL taps; a lab test checks
//     this), so the rule is a safeguard that costs one compare.
//
//   - A sender whose ar_sha is not the Ethernet source of the frame
//     (sll_addr, which the kernel fills from the Ethernet header) is
//     dropped as DropEthMismatch. A host answering for itself sends from
//     its own MAC; a frame that binds an address to a MAC other than the
//     one it came from is forged or proxied, and learning it would let
//     any host point traffic at a third machine (arpwatch's "ethernet
//     mismatch", Cisco DAI's "validate src-mac").
//
//   - Sender addresses that can never be a neighbour (0/8, loopback,
//     multicast, limited broadcast) are dropped, as the kernel's own ARP
//     code refuses to resolve them.
//
//   - The decoder does not check the sender against the interface's
//     subnets or the router's own addresses: that needs routing state, so
//     the daemon does it after decoding. Senders off every subnet of the
//     interface are no longer learned. The kernel alone does not learn a
//     binding for a host it never asked about, while every binding arpd
//     learns is served to the kernel and kept across restarts; learning
//     whatever a host on the segment announces would make a router
//     running arpd easier to poison than one without it.
func DecodeARP(f *ARP, b []byte, ll *unix.RawSockaddrLinklayer) Drop {
	if d := checkLink(ll); d != DropNone {
		return d
	}
	if len(b) < ARPLen {
		return DropShort
	}
	b = b[:ARPLen] // one bounds check for everything below
	if binary.BigEndian.Uint16(b[ARPOffHrd:]) != ARPHWEther {
		return DropHWType
	}
	if binary.BigEndian.Uint16(b[ARPOffPro:]) != ARPProtoIPv4 {
		return DropProto
	}
	if b[ARPOffHln] != ARPHLenEther {
		return DropHLen
	}
	if b[ARPOffPln] != ARPPLenIPv4 {
		return DropPLen
	}
	op := binary.BigEndian.Uint16(b[ARPOffOp:])
	if op != ARPOpRequest && op != ARPOpReply {
		return DropOp
	}
	sip := [4]byte(b[ARPOffSpa : ARPOffSpa+4])
	if sip == [4]byte{} {
		return DropDAD
	}
	if !unicastIPv4(sip) {
		return DropSenderIP
	}
	sha := [6]byte(b[ARPOffSha : ARPOffSha+6])
	if sha[0]&1 != 0 || sha == [6]byte{} { // the group bit covers broadcast too
		return DropSenderMAC
	}
	// NB: checkLink has made sure sll_halen is 6, so sll_addr holds the
	// Ethernet source.
	if ll.Halen == etherAddrLen && [6]byte(ll.Addr[:6]) != sha {
		return DropEthMismatch
	}
	*f = ARP{Ifindex: ll.Ifindex, SenderMAC: sha, SenderIP: sip, Op: op, TargetIP: [4]byte(b[ARPOffTpa : ARPOffTpa+4])}
	return DropNone
}

// unicastIPv4 reports whether ip can be a neighbour's address: not in
// 0.0.0.0/8 ("this network"), 127.0.0.0/8 (loopback) or 224.0.0.0/4
// (multicast), and not the limited broadcast 255.255.255.255. The rest of
// 240.0.0.0/4 is allowed: Linux routes it like unicast.
func unicastIPv4(ip [4]byte) bool {
	switch {
	case ip[0] == 0, ip[0] == 127, ip[0]&0xf0 == 0xe0:
		return false
	case ip == [4]byte{255, 255, 255, 255}:
		return false
	}
	return true
}

// EncodeARP writes an Ethernet/IPv4 ARP payload with the given opcode and
// addresses into b. It allocates nothing; b is the caller's fixed buffer.
func EncodeARP(b *[ARPLen]byte, op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) {
	binary.BigEndian.PutUint16(b[ARPOffHrd:], ARPHWEther)
	binary.BigEndian.PutUint16(b[ARPOffPro:], ARPProtoIPv4)
	b[ARPOffHln] = ARPHLenEther
	b[ARPOffPln] = ARPPLenIPv4
	binary.BigEndian.PutUint16(b[ARPOffOp:], op)
	copy(b[ARPOffSha:], sha[:])
	copy(b[ARPOffSpa:], spa[:])
	copy(b[ARPOffTha:], tha[:])
	copy(b[ARPOffTpa:], tpa[:])
}

// BuildARPProbe writes into b the probe for target: an ARP request from
// the interface's own MAC and IPv4 address, with the target MAC left zero
// as the kernel's own requests leave it. With target equal to ip it is a
// gratuitous ARP announcing ip. The daemon sends it to BroadcastMAC. It
// allocates nothing.
func BuildARPProbe(b *[ARPLen]byte, mac [6]byte, ip, target [4]byte) {
	EncodeARP(b, ARPOpRequest, mac, ip, [6]byte{}, target)
}
