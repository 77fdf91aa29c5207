// Package afpacket holds the system calls of arpd's wire side: the
// AF_PACKET sockets that receive and send ARP frames (Open) and IPv6
// neighbour discovery (OpenND), and the interface lookups a sender needs.
// It moves bytes and link-layer addresses only; package frame decodes and
// builds what is in them.
//
// A Conn owns its buffers (receive buffer, source and destination
// addresses), so receiving and sending allocate nothing.
package afpacket

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
	"arpd/internal/mmsg"
)

const (
	// DefaultRcvBuf is the receive buffer Open and OpenND ask for when
	// given 0: a storm of ARP or neighbour discovery should queue, not be
	// dropped by the kernel.
	DefaultRcvBuf = 1 << 20

	// arpBufLen is the receive buffer of an ARP socket: an ARP payload
	// with Ethernet padding, and room to spare. The kernel discards the
	// rest of a longer frame, which the decoder would ignore anyway.
	arpBufLen = 128

	// arpBatch and ndBatch are how many frames one system call receives
	// on an ARP and on an ND socket: a burst of replies to the daemon's
	// probes arrives as fast as it sends them, and each call costs more
	// than the decoding of what it reads.
	arpBatch = 16
	ndBatch  = 4
)

// Htons converts v from host to network byte order, as the kernel wants
// the protocol in socket(2) and in sockaddr_ll (sll_protocol).
func Htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// Conn is one of the daemon's AF_PACKET sockets, for ARP (Open) or for
// neighbour discovery (OpenND): SOCK_DGRAM, so frames arrive without their
// Ethernet header and go out with one the kernel writes, of the socket's
// protocol. It is non-blocking; the daemon polls Fd and calls Recv until
// it returns unix.EAGAIN. A Conn is not safe for concurrent use: its
// buffers are reused by every call.
//
// The ARP socket has no classic BPF filter (SO_ATTACH_FILTER), on purpose:
// binding to ETH_P_ARP already makes the kernel deliver only ARP frames,
// outgoing frames never reach such a socket, and a filter that dropped
// malformed frames in the kernel would hide them from the per-reason drop
// counters the daemon must keep. Decoding a frame in user space costs
// little next to the recvfrom that reads it, so a filter would save
// little.
//
// The ND socket needs one: bound to ETH_P_IPV6, it would otherwise get a
// copy of every IPv6 packet the interface receives, including all the
// traffic a router forwards, and copy each to user space only for the
// daemon to throw it away. Its filter (see OpenND) passes only ICMPv6
// neighbour discovery, so everything the daemon could count as a drop
// still reaches it.
type Conn struct {
	fd     int
	to     unix.RawSockaddrLinklayer // destination of Send
	rflags uintptr                   // receive flags: MSG_DONTWAIT, and MSG_TRUNC on an ND socket

	// The receive buffer, cut into slots that one recvmmsg fills, one
	// frame each.
	in *mmsg.Slots[unix.RawSockaddrLinklayer]
}

// Open opens the ARP packet socket. With ifindex > 0 it sees only that
// interface (the daemon watches one); with 0 it sees every interface and
// the caller filters on the ifindex Recv returns. rcvbuf is the receive
// buffer to ask for, in bytes (0 for DefaultRcvBuf).
func Open(ifindex int32, rcvbuf int) (*Conn, error) {
	return open(ifindex, rcvbuf, unix.ETH_P_ARP, nil, arpBufLen, arpBatch)
}

// open opens a packet socket bound to protocol proto (host byte order) on
// ifindex, with the filter prog attached when it is not nil, and a receive
// buffer of batch slots of buflen bytes in user space. A socket with a
// filter is an ND socket: Recv reports the frames too long for a slot.
func open(ifindex int32, rcvbuf int, proto uint16, prog []unix.SockFilter, buflen, batch int) (*Conn, error) {
	if ifindex < 0 {
		return nil, fmtlite.Errorf("packet socket: bad ifindex %d", ifindex)
	}
	if rcvbuf <= 0 {
		rcvbuf = DefaultRcvBuf
	}
	// NB: protocol 0 at socket() hooks the socket to nothing; the bind
	// below hooks it to its protocol on the one interface, after the
	// filter is in place. Opening it with the protocol would queue frames
	// from every interface, unfiltered, in between.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmtlite.Errorf("packet socket: %w", err)
	}
	if err := setRcvbuf(fd, rcvbuf); err != nil {
		unix.Close(fd)
		return nil, fmtlite.Errorf("packet socket: receive buffer: %w", err)
	}
	if prog != nil {
		if err := attachFilter(fd, prog); err != nil {
			unix.Close(fd)
			return nil, fmtlite.Errorf("packet socket: filter: %w", err)
		}
	}
	// NB: SockaddrLinklayer.Protocol goes to the kernel as is, so it must
	// already be in network byte order.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: Htons(proto), Ifindex: int(ifindex)}); err != nil {
		unix.Close(fd)
		return nil, fmtlite.Errorf("packet socket: bind to ifindex %d: %w", ifindex, err)
	}
	c := &Conn{fd: fd, rflags: unix.MSG_DONTWAIT}
	if prog != nil {
		c.rflags |= unix.MSG_TRUNC
	}
	c.in = mmsg.New[unix.RawSockaddrLinklayer](nil, buflen, batch)
	c.to = unix.RawSockaddrLinklayer{
		Family:   unix.AF_PACKET,
		Protocol: Htons(proto),
		Halen:    6, // an Ethernet address
	}
	return c, nil
}

// setRcvbuf raises the socket's receive buffer to n bytes: with
// SO_RCVBUFFORCE, which passes net.core.rmem_max but needs CAP_NET_ADMIN,
// and with SO_RCVBUF (capped at rmem_max) when that is refused.
func setRcvbuf(fd, n int) error {
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
func (c *Conn) Fd() int { return c.fd }

// Close closes the socket. Closing it again does nothing.
func (c *Conn) Close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Recv returns the next frame received and the link-layer address the
// kernel returned with it: the receiving interface (Ifindex), the packet
// type (Pkttype), the interface's hardware type and address length
// (Hatype, Halen), and in Addr the frame's link-layer source. The caller
// decodes them with package frame. Both results alias the socket's own
// buffers: they are valid until the next Recv. One system call receives
// up to 16 frames on an ARP socket, 4 on an ND socket, which Recv then
// hands out one by one. An ARP socket keeps at most 128 bytes of a frame
// and the kernel discards the rest, silently. An ND socket keeps up to
// 1536 bytes (a message up to Ethernet's MTU); a longer one, whose
// checksum cannot be checked, is returned as ErrTruncated with no bytes
// but with its link-layer address, for the daemon to count.
//
// It returns unix.EAGAIN when nothing is queued, also once when the
// interface went down. It allocates nothing: recvmmsg(2) is called
// directly with the socket's own buffers and addresses, since
// unix.Recvfrom returns the address as an interface value, which
// allocates on every call.
func (c *Conn) Recv() ([]byte, *unix.RawSockaddrLinklayer, error) {
	b, n, _, from, ok := c.in.Next()
	if !ok {
		if err := c.fill(); err != nil {
			return nil, nil, err
		}
		b, n, _, from, _ = c.in.Next()
	}
	// NB: with MSG_TRUNC a packet socket returns the frame's whole
	// length, even past the slot: that is how a cut frame shows.
	if n > len(b) {
		return nil, from, ErrTruncated
	}
	return b, from, nil
}

// Buffered returns how many frames the last system call received that
// Recv has not yet returned. They are in user space, where poll cannot
// see them: a caller that stops calling Recv must not wait for the socket
// while Buffered is not 0.
func (c *Conn) Buffered() int { return c.in.Buffered() }

// fill receives what is queued, up to a frame per slot.
func (c *Conn) fill() error {
	for tries := 0; ; tries++ {
		switch e := c.in.Fill(c.fd, c.rflags); {
		case e == 0:
			return nil
		case e == unix.EINTR && tries < 8:
		case e == unix.ENETDOWN:
			// NB: when the interface goes down, the kernel reports
			// ENETDOWN once on the socket (sk_err), which stays
			// bound and receives again once the link is up. It is
			// a state, not a failure, and the link notification
			// tells the daemon the same: nothing is queued.
			return unix.EAGAIN
		default:
			// NB: an Errno in an error interface does not allocate
			// for values below 256, which covers every errno.
			return e
		}
	}
}

// Send sends payload, as the body of an Ethernet frame whose header the
// kernel writes, of the socket's type (ARP, or IPv6 on an ND socket), out
// of interface ifindex to the Ethernet address dst (frame.BroadcastMAC for
// an ARP probe, the solicited-node group's for an NS). The socket need not be
// bound to that interface; sendto(2) names it. It allocates nothing. A
// full transmit queue gives unix.EAGAIN or unix.ENOBUFS: the frame is
// lost, and the caller counts it rather than retrying.
func (c *Conn) Send(payload []byte, ifindex int32, dst [6]byte) error {
	c.to.Ifindex = ifindex
	copy(c.to.Addr[:], dst[:])
	// NB: a raw system call, as in Recv; MSG_DONTWAIT, so it never waits
	// for room.
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(payload))), uintptr(len(payload)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&c.to)), unix.SizeofSockaddrLinklayer)
	if e != 0 {
		return e
	}
	return nil
}

// Stats are the kernel's receive counters for a socket over some span.
type Stats struct {
	Packets uint64 // frames the kernel passed to the socket, including those it then dropped
	Drops   uint64 // frames dropped because the receive buffer was full
}

// Stats returns the kernel's receive counters (PACKET_STATISTICS) since the
// previous call of Stats on this socket, or since Open for the first: a
// delta, not a total.
//
// NB: the kernel zeroes a socket's counters every time it reports them, so
// each read is a delta by nature. The caller keeps the total, adding each
// delta to it; a total kept that way survives the socket being closed and
// another opened (when a link comes back with a new index). On error the
// delta is zero.
func (c *Conn) Stats() (Stats, error) {
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return Stats{}, fmtlite.Errorf("packet socket: PACKET_STATISTICS: %w", err)
	}
	return Stats{Packets: uint64(st.Packets), Drops: uint64(st.Drops)}, nil
}
