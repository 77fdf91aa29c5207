package rtnl

// The NETLINK_ROUTE socket: every system call of the package.

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/mmsg"
)

// RecvBufSize is the size of the preallocated receive buffer. The kernel
// builds dump replies of at most 32 KiB and notifications of less than a
// page, so 64 KiB never truncates; MSG_TRUNC still detects it if it did.
const RecvBufSize = 64 << 10

// A Conn is a NETLINK_ROUTE socket, non-blocking, with its receive buffer
// and receive arguments allocated once, so that receiving allocates
// nothing. It is not safe for concurrent use; the daemon's single event
// loop owns it.
type Conn struct {
	fd   int
	port uint32 // our netlink port ID (nl_pid), for matching replies
	seq  uint32

	// The receive buffer, cut into slots (SetBatch) that one recvmmsg
	// fills, one datagram each.
	buf []byte
	in  *mmsg.Slots[unix.RawSockaddrNetlink]
}

// Dial opens a NETLINK_ROUTE socket subscribed to the multicast groups in
// groups (RTMGRP_* bits, e.g. RTMGRP_NEIGH|RTMGRP_LINK), with its receive
// buffer raised to rcvbuf bytes: with SO_RCVBUFFORCE when the process has
// CAP_NET_ADMIN, else with SO_RCVBUF, which the kernel caps at
// net.core.rmem_max. rcvbuf <= 0 keeps the default.
//
// NETLINK_NO_ENOBUFS is deliberately not set: an overrun must be seen so the
// daemon can re-dump. NETLINK_EXT_ACK and NETLINK_CAP_ACK are set where the
// kernel has them, so that errors say why and do not echo our request.
func Dial(groups uint32, rcvbuf int) (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	c := &Conn{fd: fd, buf: make([]byte, RecvBufSize)}
	if err := c.setup(groups, rcvbuf); err != nil {
		unix.Close(fd)
		return nil, err
	}
	c.SetBatch(1)
	return c, nil
}

// SetBatch cuts the receive buffer into n slots (1 to 64; others are
// taken as the nearest), so that one system call receives up to n
// datagrams, each of at most RecvBufSize/n bytes: a larger one is lost
// as ErrTruncated. On a socket of notifications (a neighbour's is some
// 150 bytes, a link's a few KiB), 8 slots of 8 KiB take a burst in an
// eighth of the calls; a socket that dumps needs the one slot of 64 KiB
// that Dial sets. What is still queued from the last call is dropped.
func (c *Conn) SetBatch(n int) {
	n = min(max(n, 1), 64)
	c.in = mmsg.New[unix.RawSockaddrNetlink](c.buf, len(c.buf)/n, n)
}

// setup raises the receive buffer, sets the socket options and binds.
func (c *Conn) setup(groups uint32, rcvbuf int) error {
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
				return err
			}
		}
	}
	// Both are optional: kernels before 4.12 (EXT_ACK) answer ENOPROTOOPT
	// and still work.
	_ = unix.SetsockoptInt(c.fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	_ = unix.SetsockoptInt(c.fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if err := unix.Bind(c.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		return err
	}
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return err
	}
	if nl, ok := sa.(*unix.SockaddrNetlink); ok {
		c.port = nl.Pid
	}
	return nil
}

// Fd returns the socket's descriptor, for poll.
func (c *Conn) Fd() int { return c.fd }

// Port returns the socket's netlink port ID: replies to our requests carry
// it in nlmsg_pid, notifications carry 0.
func (c *Conn) Port() uint32 { return c.port }

// NextSeq returns a fresh sequence number for a request.
func (c *Conn) NextSeq() uint32 {
	c.seq++
	return c.seq
}

// Close closes the socket. Closing it again does nothing.
func (c *Conn) Close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Send sends one datagram of requests to the kernel. The kernel handles
// each of its messages, in order, before Send returns and queues any reply
// (or error) on the socket.
//
// NB: a raw system call, without the runtime's bookkeeping for one that may
// block: the socket is non-blocking, and the daemon's one goroutine that
// matters loses nothing while the kernel works.
func (c *Conn) Send(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	// NB: an unconnected netlink socket without a destination address
	// sends to the kernel (port 0), so write(2) needs no sockaddr.
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return e
	}
	if int(n) != len(b) {
		return unix.EMSGSIZE
	}
	return nil
}

// IgnorePort makes the kernel drop, before they are queued, the
// notifications caused by requests from netlink port port: on the daemon's
// notification socket, the echo of each of its own answers, which says
// nothing the daemon did not know and would be half of what it reads in a
// burst. It attaches a classic BPF program that compares nlmsg_pid.
func (c *Conn) IgnorePort(port uint32) error {
	prog := portFilter(port)
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	return unix.SetsockoptSockFprog(c.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

// Recv returns the next datagram received; iterate over its messages with
// Messages. The returned slice aliases the connection's buffer and is valid
// until the next Recv. It allocates nothing.
//
// Recv returns unix.EAGAIN when nothing is queued, ErrOverrun on ENOBUFS
// (the kernel dropped messages: re-dump), ErrTruncated when a datagram did
// not fit its slot, and ErrForeign for a datagram not sent by the kernel.
func (c *Conn) Recv() ([]byte, error) {
	b, n, flags, from, ok := c.in.Next()
	if !ok {
		// NB: MSG_TRUNC makes each receive report the datagram's real
		// length, so a datagram larger than its slot is seen, not
		// silently cut.
		switch e := c.in.Fill(c.fd, unix.MSG_TRUNC|unix.MSG_DONTWAIT); {
		case e == unix.ENOBUFS:
			return nil, ErrOverrun
		case e != 0:
			return nil, e
		}
		b, n, flags, from, _ = c.in.Next()
	}
	if n > len(b) || flags&unix.MSG_TRUNC != 0 {
		return nil, ErrTruncated
	}
	if from.Family != unix.AF_NETLINK || from.Pid != 0 {
		return nil, ErrForeign
	}
	return b, nil
}

// Buffered returns how many datagrams the last system call received
// that Recv has not yet returned. They are in user space, where poll
// cannot see them: a caller that stops calling Recv must not wait for the
// socket while Buffered is not 0.
func (c *Conn) Buffered() int { return c.in.Buffered() }
