package rtnl

// The NETLINK_ROUTE socket: every system call of the package.

import (
	"unsafe"

	"golang.org/x/sys/unix"
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

	// The receive buffer, cut into slots of equal size, one datagram
	// each: a recvmmsg fills up to len(hdrs) of them at once, and Recv
	// hands them out in order (next of got) before it asks again.
	buf   []byte
	slot  int // bytes per slot
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	froms []unix.RawSockaddrNetlink
	got   int
	next  int
}

// mmsghdr is the kernel's struct mmsghdr: a message header and the length
// that was received into it.
//
// NB: unix.Msghdr has the kernel's layout on every architecture, and Go
// pads this struct, as C does, to the alignment of its widest field: 64
// bytes on 64-bit machines, 32 on 32-bit ones, so that a slice of them is
// the kernel's array.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
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
	c.slot = len(c.buf) / n
	c.hdrs = make([]mmsghdr, n)
	c.iovs = make([]unix.Iovec, n)
	c.froms = make([]unix.RawSockaddrNetlink, n)
	c.got, c.next = 0, 0
	// NB: the headers point into the connection's own slices, which live
	// on the heap for as long as the socket, so the pointers stay valid
	// and receiving builds nothing new.
	for i := range c.hdrs {
		c.iovs[i].Base = &c.buf[i*c.slot]
		c.iovs[i].SetLen(c.slot)
		h := &c.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&c.froms[i]))
		h.Iov = &c.iovs[i]
		h.SetIovlen(1)
	}
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
	if c.next == c.got {
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
	i := c.next
	c.next++
	h := &c.hdrs[i]
	if int(h.n) > c.slot || h.hdr.Flags&unix.MSG_TRUNC != 0 {
		return nil, ErrTruncated
	}
	if f := &c.froms[i]; h.hdr.Namelen < unix.SizeofSockaddrNetlink || f.Family != unix.AF_NETLINK || f.Pid != 0 {
		return nil, ErrForeign
	}
	return c.buf[i*c.slot : i*c.slot+int(h.n)], nil
}

// Buffered returns how many datagrams the last system call received
// that Recv has not yet returned. They are in user space, where poll
// cannot see them: a caller that stops calling Recv must not wait for the
// socket while Buffered is not 0.
func (c *Conn) Buffered() int { return c.got - c.next }

// fill receives what is queued, up to a datagram per slot.
//
// NB: MSG_TRUNC makes each receive report the datagram's real length, so
// a datagram larger than its slot is seen, not silently cut. Without a
// timeout and with MSG_DONTWAIT, recvmmsg takes what is queued and never
// waits; an error met after the first datagram (ENOBUFS among them) is
// kept by the kernel for the next call. A raw system call, as in Send.
func (c *Conn) fill() error {
	c.got, c.next = 0, 0
	for i := range c.hdrs {
		c.hdrs[i].hdr.Namelen = unix.SizeofSockaddrNetlink
		c.hdrs[i].hdr.Flags = 0
	}
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(c.hdrs)),
		unix.MSG_TRUNC|unix.MSG_DONTWAIT, 0, 0)
	switch {
	case e == unix.ENOBUFS:
		return ErrOverrun
	case e != 0:
		return e
	case r == 0:
		return unix.EAGAIN
	}
	c.got = int(r)
	return nil
}
