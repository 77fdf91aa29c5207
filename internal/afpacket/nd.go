package afpacket

// The packet socket for IPv6 neighbour discovery: its kernel filter, and
// the membership that lets it hear other hosts' solicitations.

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// ndBufLen is the receive buffer of an ND socket: a whole IPv6 packet up
// to Ethernet's 1500-byte MTU, with room to spare. The checksum covers the
// whole message, so a cut one is useless; Recv reports it as ErrTruncated.
const ndBufLen = 1536

// ErrTruncated is Recv's error for a frame longer than an ND socket's
// buffer: the frame is lost (its checksum cannot be checked), and the
// daemon counts it.
var ErrTruncated = errors.New("packet socket: frame longer than the receive buffer")

// Offsets the ND filter reads, from the start of the IPv6 header: a
// SOCK_DGRAM socket's filter sees the packet without its Ethernet header.
const (
	filterOffNext = 6  // the IPv6 next header
	filterOffType = 40 // the ICMPv6 type, right after the fixed header
)

// ndFilter is the classic BPF program of the ND socket: it passes an IPv6
// packet whose next header is ICMPv6 (58, with no extension header before
// it) and whose ICMPv6 type is 134 to 136 (Router Advertisement, Neighbor
// Solicitation, Neighbor Advertisement), whole, and drops everything
// else. Every other check is the decoder's, so that the daemon counts what
// it drops.
//
// NB: a load past the end of the packet ends the program with 0 in the
// kernel, so packets too short to hold an ICMPv6 type are dropped too. A
// return value is the number of bytes to keep: 0xffffffff keeps all.
var ndFilter = [...]unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: filterOffNext},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 4, K: 58},  // not ICMPv6: drop
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: filterOffType},      // the ICMPv6 type
	{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, Jt: 0, Jf: 2, K: 134}, // below 134: drop
	{Code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, Jt: 1, Jf: 0, K: 136}, // above 136: drop
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},                       // accept, whole
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},                                // drop
}

// attachFilter attaches the classic BPF program prog to the socket fd
// (SO_ATTACH_FILTER); the kernel copies the program.
func attachFilter(fd int, prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: unsafe.SliceData(prog)}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

// OpenND opens the packet socket for neighbour discovery: SOCK_DGRAM,
// bound to ETH_P_IPV6 on ifindex (0: every interface), with a classic BPF
// filter that passes only ICMPv6 (next header 58 directly) of types
// 134..136, whole; everything else is dropped in the kernel. rcvbuf is the
// receive buffer to ask for, in bytes (0 for DefaultRcvBuf). Send on it
// sends IPv6 frames.
//
// NB: the filter is attached before the socket is bound to ETH_P_IPV6, so
// not one unfiltered packet is ever queued on it.
func OpenND(ifindex int32, rcvbuf int) (*Conn, error) {
	return open(ifindex, rcvbuf, unix.ETH_P_IPV6, ndFilter[:], ndBufLen, ndBatch)
}

// JoinAllMulti adds a PACKET_MR_ALLMULTI membership for ifindex
// (PACKET_ADD_MEMBERSHIP), so that the interface receives every multicast
// frame: other hosts' solicitations go to solicited-node groups the router
// has not joined, and the daemon learns from them.
//
// NB: the kernel counts the membership against the interface's allmulti
// count and drops it when the socket closes, also when the daemon dies.
// Setting IFF_ALLMULTI on the interface instead would outlive a crash and
// leave the interface taking in every multicast frame for good.
func (c *Conn) JoinAllMulti(ifindex int32) error {
	mr := unix.PacketMreq{Ifindex: ifindex, Type: unix.PACKET_MR_ALLMULTI}
	if err := unix.SetsockoptPacketMreq(c.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		return fmtlite.Errorf("packet socket: all-multicast on ifindex %d: %w", ifindex, err)
	}
	return nil
}
