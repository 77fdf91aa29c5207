// Package mmsg receives several datagrams in one system call (recvmmsg)
// into a buffer cut into slots, and hands them out one at a time. It is
// the batch receiving shared by arpd's netlink (package rtnl) and packet
// (package afpacket) sockets, which each add their own checks of what
// they receive. Nothing it does after New allocates.
package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Hdr is the kernel's struct mmsghdr: a message header and the length
// that was received into it (or, for sendmmsg, sent from it).
//
// NB: unix.Msghdr has the kernel's layout on every architecture, and Go
// pads this struct, as C does, to the alignment of its widest field: 64
// bytes on 64-bit machines, 32 on 32-bit ones, so that a slice of them is
// the kernel's array.
type Hdr struct {
	Msg unix.Msghdr
	Len uint32
}

// Slots is a receive buffer of equal slots, one datagram each, with a
// source address of type Name (a raw sockaddr) per slot. A Fill takes up
// to one datagram per slot; Next then returns them in order.
//
// NB: the headers point into the Slots' own slices, which live on the
// heap for as long as the Slots, so the pointers stay valid and receiving
// builds nothing new.
type Slots[Name any] struct {
	buf   []byte
	size  int
	hdrs  []Hdr
	iovs  []unix.Iovec
	names []Name
	got   int // datagrams the last Fill received
	next  int // the next of them that Next returns
}

// New returns n slots of size bytes each, cut from buf when it has
// room for them, else from a buffer of its own.
func New[Name any](buf []byte, size, n int) *Slots[Name] {
	if len(buf) < size*n {
		buf = make([]byte, size*n)
	}
	s := &Slots[Name]{buf: buf, size: size, hdrs: make([]Hdr, n), iovs: make([]unix.Iovec, n), names: make([]Name, n)}
	for i := range s.hdrs {
		s.iovs[i].Base = &buf[i*size]
		s.iovs[i].SetLen(size)
		h := &s.hdrs[i].Msg
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
	}
	return s
}

// Fill receives what is queued on fd, up to a datagram per slot, with
// flags (MSG_DONTWAIT at least: without a timeout, recvmmsg then takes
// what is queued and never waits). It returns unix.EAGAIN when nothing
// was, and the kernel's error otherwise; an error met after the first
// datagram (ENOBUFS among them) is kept by the kernel for the next call.
// What the last Fill received and Next has not returned is dropped.
//
// NB: a raw system call: the socket never blocks, and the runtime's
// bookkeeping around an ordinary system call (entersyscall, and handing
// the processor to another thread) costs more than the call.
func (s *Slots[Name]) Fill(fd int, flags uintptr) unix.Errno {
	s.got, s.next = 0, 0
	var name Name
	for i := range s.hdrs {
		s.hdrs[i].Msg.Namelen = uint32(unsafe.Sizeof(name))
		s.hdrs[i].Msg.Flags = 0
	}
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), flags, 0, 0)
	switch {
	case e != 0:
		return e
	case r == 0:
		return unix.EAGAIN
	}
	s.got = int(r)
	return 0
}

// Next returns the next datagram the last Fill received: its bytes (at
// most a slot's), its length as the kernel returned it (more than the
// slot's when MSG_TRUNC was asked for and it did not fit), its message
// flags and its source. ok is false when there is none left. The results
// alias the Slots and are valid until the next Fill.
//
// The bytes of the source past the length the kernel gave (all of them
// for a sender without an address) read as zero, never as an earlier
// datagram's: a netlink source the kernel did not write is no netlink
// address at all.
func (s *Slots[Name]) Next() (b []byte, n int, flags int32, name *Name, ok bool) {
	if s.next == s.got {
		return nil, 0, 0, nil, false
	}
	i := s.next
	s.next++
	h := &s.hdrs[i]
	n = int(h.Len)
	b = s.buf[i*s.size : i*s.size+min(n, s.size)]
	name = &s.names[i]
	if size := int(unsafe.Sizeof(*name)); int(h.Msg.Namelen) < size {
		clear(unsafe.Slice((*byte)(unsafe.Pointer(name)), size)[h.Msg.Namelen:])
	}
	return b, n, h.Msg.Flags, name, true
}

// Buffered returns how many datagrams the last Fill received that Next
// has not yet returned. They are in user space, where poll cannot see
// them: a caller that stops reading must not wait for the socket while
// Buffered is not 0.
func (s *Slots[Name]) Buffered() int { return s.got - s.next }

// Received returns how many datagrams the last Fill received.
func (s *Slots[Name]) Received() int { return s.got }

// Size returns the bytes of one slot.
func (s *Slots[Name]) Size() int { return s.size }
