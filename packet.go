package main

// The AF_PACKET half of the daemon: one packet socket that sees every ARP
// frame on the watched interfaces, a decoder that turns a frame into the
// facts the cache learns (sender IP → sender MAC) or into a drop reason, and
// a builder for the broadcast probes the daemon sends with -a.
//
// Parsing is kept apart from the system calls: arpDecode and arpEncode are
// pure functions over byte slices and fixed arrays, so they are tested and
// fuzzed without root, and they allocate nothing. The socket owns its
// buffers (receive buffer, source address, probe frame, destination
// address), so receiving and sending allocate nothing either.

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	fmt "arpd/internal/fmtlite"
)

// ARP wire constants (RFC 826) for Ethernet and IPv4.
const (
	arpLen        = 28     // an Ethernet/IPv4 ARP payload: 8-byte header, 2×(6+4) addresses
	arpHWEther    = 1      // ar_hrd: Ethernet (10 Mb), ARPHRD_ETHER
	arpProtoIPv4  = 0x0800 // ar_pro: ETH_P_IP
	arpHLenEther  = 6      // ar_hln: bytes in an Ethernet address
	arpPLenIPv4   = 4      // ar_pln: bytes in an IPv4 address
	arpOpRequest  = 1      // ar_op: ARPOP_REQUEST
	arpOpReply    = 2      // ar_op: ARPOP_REPLY
	pktBufLen     = 128    // receive buffer: an ARP payload with Ethernet padding, and room to spare
	pktRcvBufSize = 1 << 20
)

// Offsets into an Ethernet/IPv4 ARP payload.
//
// NB: these are fixed only because the decoder has already checked that
// ar_hln is 6 and ar_pln is 4; in general the address fields move with the
// two length bytes.
const (
	arpOffHrd = 0
	arpOffPro = 2
	arpOffHln = 4
	arpOffPln = 5
	arpOffOp  = 6
	arpOffSha = 8
	arpOffSpa = 14
	arpOffTha = 18
	arpOffTpa = 24
)

// arpBroadcastMAC is the Ethernet broadcast address, where probes go.
var arpBroadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arpDrop says why a frame was not accepted; arpDropNone means it was. The
// daemon keeps one counter per value, indexed by it, so the values are dense
// and arpDropCount sizes the counter array.
type arpDrop uint8

// The drop reasons, in the order arpDecode checks them: a frame with several
// faults is counted under the first.
const (
	arpDropNone      arpDrop = iota // accepted
	arpDropOutgoing                 // not received from the wire: PACKET_OUTGOING (our own frames looped back) or another non-receive pkttype
	arpDropLink                     // the receiving interface is not Ethernet (sll_hatype ≠ ARPHRD_ETHER or sll_halen ≠ 6)
	arpDropShort                    // fewer than 28 bytes
	arpDropHWType                   // ar_hrd is not Ethernet (1)
	arpDropProto                    // ar_pro is not IPv4 (0x0800)
	arpDropHLen                     // ar_hln is not 6
	arpDropPLen                     // ar_pln is not 4
	arpDropOp                       // ar_op is neither request (1) nor reply (2)
	arpDropDAD                      // sender IP 0.0.0.0: an address probe (RFC 5227), it binds no address
	arpDropSenderIP                 // sender IP is not a unicast host address: 0/8, 127/8, 224/4 multicast, 255.255.255.255
	arpDropSenderMAC                // sender MAC is broadcast, multicast (group bit) or all zero
	arpDropCount                    // the number of values above; not a reason
)

// arpDropNames are the names of the drop reasons in statistics lines: short,
// lower case, no spaces, stable (scripts read them).
var arpDropNames = [arpDropCount]string{
	arpDropNone:      "accepted",
	arpDropOutgoing:  "outgoing",
	arpDropLink:      "link",
	arpDropShort:     "short",
	arpDropHWType:    "hwtype",
	arpDropProto:     "proto",
	arpDropHLen:      "hlen",
	arpDropPLen:      "plen",
	arpDropOp:        "op",
	arpDropDAD:       "dad",
	arpDropSenderIP:  "sender-ip",
	arpDropSenderMAC: "sender-mac",
}

// String returns the reason's name for statistics, or "drop(N)" for a value
// outside the enum.
func (d arpDrop) String() string {
	if d < arpDropCount {
		return arpDropNames[d]
	}
	return fmt.Sprintf("drop(%d)", uint8(d))
}

// arpFrame is one accepted ARP frame: where it came from and the two
// address pairs it carries. It is a plain value with fixed-size arrays, so
// the daemon can keep one and have arpDecode overwrite it for every frame.
type arpFrame struct {
	Ifindex    int32   // the interface it arrived on (sll_ifindex)
	Op         uint16  // arpOpRequest or arpOpReply
	PktType    uint8   // sll_pkttype: PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST or PACKET_OTHERHOST
	Gratuitous bool    // sender IP == target IP: an announcement of the sender's own binding
	SenderMAC  [6]byte // ar_sha
	SenderIP   [4]byte // ar_spa
	TargetMAC  [6]byte // ar_tha; all zero in most requests
	TargetIP   [4]byte // ar_tpa
}

// arpDecode checks one ARP payload as a SOCK_DGRAM AF_PACKET socket delivers
// it (the Ethernet header already stripped) together with the link-layer
// address the kernel returned with it, and on success stores the frame in
// *f. It returns arpDropNone when the frame is accepted and otherwise the
// first rule it breaks; *f is written only on acceptance. It makes no system
// call and allocates nothing.
//
// Bytes after the first 28 are ignored: Ethernet pads a frame to 46 bytes of
// payload, so 18 trailing zeros are normal on real links (veth does not pad).
//
// Two decisions are deliberate:
//
//   - Frames that are not received from the wire (sll_pkttype
//     PACKET_OUTGOING: our own probes and the kernel's own requests and
//     replies, looped back to packet sockets) are dropped as
//     arpDropOutgoing. They carry our own address, which the kernel never
//     resolves, so learning them would only waste cache slots. A socket
//     bound to ETH_P_ARP does not get outgoing copies in the first place
//     (the kernel loops them back only to ETH_P_ALL taps; the lab test
//     checks this), so the rule is a safeguard that costs one compare.
//
//   - A sender outside the subnets of the interface's addresses is
//     accepted. "On the interface's subnet" is the wrong test: the kernel
//     resolves whatever its routes put on the link (secondary addresses,
//     "ip route add 10.9.0.0/16 dev eth0", /32 point-to-point setups,
//     proxy ARP), and it only ever asks the daemon about such addresses, so
//     an off-subnet entry is either useful or never read. A hostile host can
//     forge on-subnet senders just as easily, so a subnet check would not be
//     a defence either; the cache's keyed buckets and eviction are. This
//     matches iproute2's arpd and keeps the decoder free of routing state.
//     Sender addresses that can never be a neighbour (0/8, loopback,
//     multicast, limited broadcast) are dropped, as the kernel's own ARP
//     code refuses to resolve them.
func arpDecode(f *arpFrame, b []byte, ll *unix.RawSockaddrLinklayer) arpDrop {
	switch ll.Pkttype {
	case unix.PACKET_HOST, unix.PACKET_BROADCAST, unix.PACKET_MULTICAST, unix.PACKET_OTHERHOST:
	default:
		return arpDropOutgoing
	}
	// NB: sll_hatype is in host byte order, unlike sll_protocol.
	if ll.Hatype != unix.ARPHRD_ETHER || ll.Halen != arpHLenEther {
		return arpDropLink
	}
	if len(b) < arpLen {
		return arpDropShort
	}
	b = b[:arpLen] // one bounds check for everything below
	if binary.BigEndian.Uint16(b[arpOffHrd:]) != arpHWEther {
		return arpDropHWType
	}
	if binary.BigEndian.Uint16(b[arpOffPro:]) != arpProtoIPv4 {
		return arpDropProto
	}
	if b[arpOffHln] != arpHLenEther {
		return arpDropHLen
	}
	if b[arpOffPln] != arpPLenIPv4 {
		return arpDropPLen
	}
	op := binary.BigEndian.Uint16(b[arpOffOp:])
	if op != arpOpRequest && op != arpOpReply {
		return arpDropOp
	}
	sip := [4]byte(b[arpOffSpa : arpOffSpa+4])
	if sip == [4]byte{} {
		return arpDropDAD
	}
	if !arpUnicastIP(sip) {
		return arpDropSenderIP
	}
	sha := [6]byte(b[arpOffSha : arpOffSha+6])
	if sha[0]&1 != 0 || sha == [6]byte{} { // the group bit covers broadcast too
		return arpDropSenderMAC
	}
	tip := [4]byte(b[arpOffTpa : arpOffTpa+4])
	*f = arpFrame{
		Ifindex:    ll.Ifindex,
		Op:         op,
		PktType:    ll.Pkttype,
		Gratuitous: sip == tip,
		SenderMAC:  sha,
		SenderIP:   sip,
		TargetMAC:  [6]byte(b[arpOffTha : arpOffTha+6]),
		TargetIP:   tip,
	}
	return arpDropNone
}

// arpUnicastIP reports whether ip can be a neighbour's address: not in
// 0.0.0.0/8 ("this network"), 127.0.0.0/8 (loopback) or 224.0.0.0/4
// (multicast), and not the limited broadcast 255.255.255.255. The rest of
// 240.0.0.0/4 is allowed: Linux routes it like unicast.
func arpUnicastIP(ip [4]byte) bool {
	switch {
	case ip[0] == 0, ip[0] == 127, ip[0]&0xf0 == 0xe0:
		return false
	case ip == [4]byte{255, 255, 255, 255}:
		return false
	}
	return true
}

// arpEncode writes an Ethernet/IPv4 ARP payload with the given opcode and
// addresses into b. It allocates nothing; b is the caller's fixed buffer.
func arpEncode(b *[arpLen]byte, op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) {
	binary.BigEndian.PutUint16(b[arpOffHrd:], arpHWEther)
	binary.BigEndian.PutUint16(b[arpOffPro:], arpProtoIPv4)
	b[arpOffHln] = arpHLenEther
	b[arpOffPln] = arpPLenIPv4
	binary.BigEndian.PutUint16(b[arpOffOp:], op)
	copy(b[arpOffSha:], sha[:])
	copy(b[arpOffSpa:], spa[:])
	copy(b[arpOffTha:], tha[:])
	copy(b[arpOffTpa:], tpa[:])
}

// arpBuildProbe writes into b the broadcast probe for target: an ARP request
// from the interface's own MAC and IPv4 address, with the target MAC left
// zero as the kernel's own requests leave it. With target equal to ip it is
// a gratuitous ARP announcing ip. It allocates nothing.
func arpBuildProbe(b *[arpLen]byte, mac [6]byte, ip, target [4]byte) {
	arpEncode(b, arpOpRequest, mac, ip, [6]byte{}, target)
}

// pktHtons converts v from host to network byte order, as the kernel wants
// the protocol in socket(2) and in sockaddr_ll.
func pktHtons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// pktIface is what a probe needs to know about an interface: its index and
// its Ethernet address. Each probe's sender IP comes from the interface's
// address list (srcaddr.go), since an interface with several subnets must
// probe each from its own address.
//
// The daemon looks these up once per interface with pktLinkLookup, and
// again when netlink reports a change to the link (RTM_NEWLINK); never per
// probe, since each lookup is two ioctls.
type pktIface struct {
	Name    string
	Ifindex int32
	MAC     [6]byte
}

// pktIfreq is struct ifreq with its union read as ifr_hwaddr.
//
// NB: the layout is fixed by the kernel ABI on every architecture: a 16-byte
// name, then a struct sockaddr (a host-order sa_family and 14 bytes of
// sa_data), which SIOCGIFHWADDR fills with the family ARPHRD_ETHER and the
// MAC in the first six data bytes. The union is 24 bytes on 64-bit systems
// and 16 on 32-bit ones; the struct is 40 bytes everywhere, at least
// sizeof(struct ifreq), and the kernel copies only sizeof(struct ifreq) in
// and out, so the larger size is safe on 32-bit systems.
type pktIfreq struct {
	Name   [unix.IFNAMSIZ]byte
	Family uint16
	Data   [22]byte
}

// pktLinkLookup asks the kernel, in the calling thread's network namespace,
// for the index and MAC of the interface called name, with SIOCGIFINDEX and
// SIOCGIFHWADDR. It fails when the interface is missing or is not Ethernet.
func pktLinkLookup(name string) (pktIface, error) {
	ifc := pktIface{Name: name}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ifc, fmt.Errorf("interface %s: socket for ioctl: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return ifc, fmt.Errorf("interface %s: bad name: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return ifc, fmt.Errorf("interface %s: SIOCGIFINDEX: %w", name, err)
	}
	ifc.Ifindex = int32(ifr.Uint32())

	var hw pktIfreq
	copy(hw.Name[:], name)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&hw))); e != 0 {
		return ifc, fmt.Errorf("interface %s: SIOCGIFHWADDR: %w", name, e)
	}
	if hw.Family != unix.ARPHRD_ETHER {
		return ifc, fmt.Errorf("interface %s: not Ethernet (hardware type %d)", name, hw.Family)
	}
	ifc.MAC = [6]byte(hw.Data[:6])
	return ifc, nil
}

// pktConn is the daemon's AF_PACKET socket for ARP: SOCK_DGRAM, so frames
// arrive without their Ethernet header and go out with one the kernel
// writes. It is non-blocking; the daemon polls Fd and calls Recv until it
// returns unix.EAGAIN. A pktConn is not safe for concurrent use: its buffers
// are reused by every call.
//
// No classic BPF filter (SO_ATTACH_FILTER) is attached, on purpose: binding
// to ETH_P_ARP already makes the kernel deliver only ARP frames, outgoing
// frames never reach such a socket, and a filter that dropped malformed
// frames in the kernel would hide them from the per-reason drop counters
// the daemon must keep. Decoding costs tens of nanoseconds next to the
// microsecond of the recvfrom itself, so a filter would save little.
type pktConn struct {
	fd      int
	ifindex int32 // the bound interface, 0 for all

	// Kernel counters from PACKET_STATISTICS, which reset on every read,
	// summed here.
	packets, drops uint64

	from    unix.RawSockaddrLinklayer // source of the last frame, filled by recvfrom
	fromLen uint32                    // value-result length for recvfrom
	n       int                       // bytes of the last frame in buf
	to      unix.RawSockaddrLinklayer // destination of probes: broadcast on to.Ifindex
	probe   [arpLen]byte              // the probe being sent
	buf     [pktBufLen]byte           // the frame being received
}

// pktOpen opens the ARP packet socket. With ifindex > 0 it sees only that
// interface (the daemon watches one); with 0 it sees every interface and
// the caller filters on arpFrame.Ifindex. rcvbuf is the receive buffer to
// ask for, in bytes (0 for pktRcvBufSize); a storm of ARP should queue, not
// be dropped by the kernel.
func pktOpen(ifindex int32, rcvbuf int) (*pktConn, error) {
	if ifindex < 0 {
		return nil, fmt.Errorf("packet socket: bad ifindex %d", ifindex)
	}
	if rcvbuf <= 0 {
		rcvbuf = pktRcvBufSize
	}
	// NB: protocol 0 at socket() hooks the socket to nothing; the bind
	// below hooks it to ETH_P_ARP on the one interface. Opening it with
	// ETH_P_ARP would queue frames from every interface in between.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	c := &pktConn{fd: fd, ifindex: ifindex}
	if err := pktSetRcvbuf(fd, rcvbuf); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket: receive buffer: %w", err)
	}
	// NB: SockaddrLinklayer.Protocol goes to the kernel as is, so it must
	// already be in network byte order.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: pktHtons(unix.ETH_P_ARP), Ifindex: int(ifindex)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket: bind to ifindex %d: %w", ifindex, err)
	}
	c.to = unix.RawSockaddrLinklayer{
		Family:   unix.AF_PACKET,
		Protocol: pktHtons(unix.ETH_P_ARP),
		Halen:    arpHLenEther,
	}
	copy(c.to.Addr[:], arpBroadcastMAC[:])
	return c, nil
}

// pktSetRcvbuf raises the socket's receive buffer to n bytes: with
// SO_RCVBUFFORCE, which passes net.core.rmem_max but needs CAP_NET_ADMIN,
// and with SO_RCVBUF (capped at rmem_max) when that is refused.
func pktSetRcvbuf(fd, n int) error {
	err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
	return err
}

// Fd returns the socket's descriptor, for the daemon's poll set.
func (c *pktConn) Fd() int { return c.fd }

// Ifindex returns the interface the socket is bound to, 0 for all.
func (c *pktConn) Ifindex() int32 { return c.ifindex }

// Close closes the socket.
func (c *pktConn) Close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Recv reads one frame and decodes it into *f. It returns the decoder's
// verdict and a nil error when a frame was read (*f is valid only for
// arpDropNone), and unix.EAGAIN when nothing is queued (also once when the
// interface went down). It allocates nothing: recvfrom(2) is called
// directly with the socket's own buffer and address, since unix.Recvfrom
// returns the address as an interface value, which allocates on every call.
func (c *pktConn) Recv(f *arpFrame) (arpDrop, error) {
	for tries := 0; ; tries++ {
		c.fromLen = unix.SizeofSockaddrLinklayer
		// NB: a raw system call, which never waits for a frame
		// (MSG_DONTWAIT); see rtnlConn.Send.
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.fd),
			uintptr(unsafe.Pointer(&c.buf[0])), uintptr(len(c.buf)), unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&c.from)), uintptr(unsafe.Pointer(&c.fromLen)))
		switch {
		case e == 0:
			c.n = int(n)
			return arpDecode(f, c.buf[:n], &c.from), nil
		case e == unix.EINTR && tries < 8:
			continue
		case e == unix.ENETDOWN:
			// NB: when the interface goes down, the kernel reports
			// ENETDOWN once on the socket (sk_err), which stays
			// bound and receives again once the link is up. It is
			// a state, not a failure, and the link notification
			// tells the daemon the same: nothing is queued.
			return arpDropNone, unix.EAGAIN
		}
		// NB: an Errno in an error interface does not allocate for
		// values below 256, which covers every errno.
		return arpDropNone, e
	}
}

// Last returns the bytes and the link-layer source of the frame the last
// successful Recv read, dropped or not, for logging a hostile frame or
// capturing one. The slice aliases the socket's buffer: it is valid until
// the next Recv. At most pktBufLen bytes are kept; the rest of a longer
// frame is discarded by the kernel.
func (c *pktConn) Last() ([]byte, unix.RawSockaddrLinklayer) {
	return c.buf[:c.n], c.from
}

// SendProbe sends the broadcast probe for target out of ifc: an ARP request
// from ifc's MAC and the IPv4 address src to ff:ff:ff:ff:ff:ff. The socket need not
// be bound to ifc; sendto(2) names the interface. It allocates nothing. A
// full transmit queue gives unix.EAGAIN or unix.ENOBUFS: the probe is lost,
// and the daemon counts it rather than retrying.
func (c *pktConn) SendProbe(ifc *pktIface, src, target [4]byte) error {
	arpBuildProbe(&c.probe, ifc.MAC, src, target)
	c.to.Ifindex = ifc.Ifindex
	// NB: a raw system call: MSG_DONTWAIT, so it never waits for room.
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd),
		uintptr(unsafe.Pointer(&c.probe[0])), uintptr(len(c.probe)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&c.to)), unix.SizeofSockaddrLinklayer)
	if e != 0 {
		return e
	}
	return nil
}

// pktStats are the kernel's counters for the socket since it was opened.
type pktStats struct {
	Packets uint64 // frames the kernel passed to the socket, including those it then dropped
	Drops   uint64 // frames dropped because the receive buffer was full
}

// Stats returns the kernel's receive counters (PACKET_STATISTICS) since the
// socket was opened. The kernel resets its counters on every read, so the
// socket sums them: call Stats from one place only, e.g. when the daemon
// logs statistics.
func (c *pktConn) Stats() (pktStats, error) {
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return pktStats{c.packets, c.drops}, fmt.Errorf("packet socket: PACKET_STATISTICS: %w", err)
	}
	c.packets += uint64(st.Packets)
	c.drops += uint64(st.Drops)
	return pktStats{c.packets, c.drops}, nil
}
