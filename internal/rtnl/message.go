package rtnl

// The netlink framing shared by every codec: message headers, the message
// iterator, attributes both ways, and C strings.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Sizes of the fixed structures of the netlink wire format.
//
// NB: every one of these is a multiple of the 4-byte netlink alignment, so
// attributes start right after the fixed header without extra padding.
const (
	headerLen     = unix.SizeofNlMsghdr  // struct nlmsghdr: len, type, flags, seq, pid
	attrHeaderLen = unix.SizeofNlAttr    // struct nlattr: len, type
	ndmsgLen      = unix.SizeofNdMsg     // struct ndmsg
	ifinfomsgLen  = unix.SizeofIfInfomsg // struct ifinfomsg
	ifaddrmsgLen  = unix.SizeofIfAddrmsg // struct ifaddrmsg
	errHeaderLen  = 4                    // the int error at the start of struct nlmsgerr
)

// attrTypeMask strips the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits from an
// attribute type.
const attrTypeMask = 0x3fff

// align rounds n up to the netlink alignment of 4 bytes (NLMSG_ALIGN and
// NLA_ALIGN).
func align(n int) int { return (n + 3) &^ 3 }

// A Msg is one netlink message of a receive buffer.
//
// Besides the rtnetlink types the daemon dispatches on the control types:
// NLMSG_ERROR (DecodeError: an error, or an acknowledgement when Errno is
// 0), NLMSG_DONE (the end of a dump) and NLMSG_OVERRUN, which the kernel
// does not send today but which means lost messages like ErrOverrun and
// should be handled the same way. A dump reply with NLM_F_DUMP_INTR in
// Flags was disturbed by concurrent changes and should be repeated.
type Msg struct {
	Type  uint16 // nlmsg_type: RTM_NEWNEIGH, NLMSG_ERROR, ...
	Flags uint16 // nlmsg_flags: NLM_F_REQUEST, NLM_F_MULTI, ...
	Seq   uint32 // nlmsg_seq
	Pid   uint32 // nlmsg_pid: 0 for notifications, our port ID for replies

	// Data is the payload after the header, up to nlmsg_len. It aliases
	// the receive buffer and is valid until the next receive.
	Data []byte
}

// An Iter walks the netlink messages of one receive buffer. Its zero value
// is an empty iterator; make one with Messages.
//
// A message whose length is shorter than a header, or runs past the end of
// the buffer, ends the iteration: the rest of the buffer cannot be framed, so
// it is dropped and Err says why. Nothing is read outside the buffer.
type Iter struct {
	b   []byte
	err error
}

// Messages returns an iterator over the netlink messages in b.
func Messages(b []byte) Iter { return Iter{b: b} }

// Next stores the next message in m and reports whether there was one. It
// returns false at the end of the buffer and at the first malformed message;
// Err tells them apart.
func (it *Iter) Next(m *Msg) bool {
	if len(it.b) == 0 || it.err != nil {
		return false
	}
	if len(it.b) < headerLen {
		it.err, it.b = ErrShortHeader, nil
		return false
	}
	// NB: struct nlmsghdr is in host byte order: __u32 len, __u16 type,
	// __u16 flags, __u32 seq, __u32 pid.
	n := int(binary.NativeEndian.Uint32(it.b[0:4]))
	if n < headerLen || n > len(it.b) {
		it.err, it.b = ErrBadLength, nil
		return false
	}
	*m = Msg{
		Type:  binary.NativeEndian.Uint16(it.b[4:6]),
		Flags: binary.NativeEndian.Uint16(it.b[6:8]),
		Seq:   binary.NativeEndian.Uint32(it.b[8:12]),
		Pid:   binary.NativeEndian.Uint32(it.b[12:16]),
		Data:  it.b[headerLen:n:n],
	}
	// NB: the next message starts at the aligned length; the padding of
	// the last message may be missing from the buffer.
	it.b = it.b[min(align(n), len(it.b)):]
	return true
}

// Err returns the reason the iteration stopped early (ErrShortHeader or
// ErrBadLength), or nil when it ran to the end of the buffer.
func (it *Iter) Err() error { return it.err }

// payload returns the payload of m, a message of a type its decoder takes
// (ok), which must begin with a fixed structure of size bytes; or why m is
// rejected. It is the one check of type and fixed part for every decoder.
func payload(m *Msg, ok bool, size int) ([]byte, error) {
	if !ok {
		return nil, ErrWrongType
	}
	if len(m.Data) < size {
		return nil, ErrShortPayload
	}
	return m.Data, nil
}

// An attrs walks the attributes of one message and remembers which types
// its decoder has used, so that a repeated attribute is refused rather than
// letting a second value overwrite one already checked.
//
// NB: types are remembered modulo 64 in one word; every attribute the
// decoders use has a type below 64.
type attrs struct {
	b    []byte
	seen uint64
}

// next splits off the next attribute and returns its type (without the
// NLA_F_* bits) and its value, which aliases the message. ok is false at
// the end, and on an attribute that does not fit, which err then describes.
func (a *attrs) next() (typ uint16, val []byte, ok bool, err error) {
	b := a.b
	if len(b) == 0 {
		return 0, nil, false, nil
	}
	a.b = nil
	if len(b) < attrHeaderLen {
		return 0, nil, false, ErrBadAttr
	}
	// NB: struct nlattr is __u16 len (header included), __u16 type, in
	// host byte order; the value is padded to 4 bytes, and the padding of
	// the last attribute may be missing.
	n := int(binary.NativeEndian.Uint16(b[0:2]))
	if n < attrHeaderLen || n > len(b) {
		return 0, nil, false, ErrBadAttr
	}
	a.b = b[min(align(n), len(b)):]
	return binary.NativeEndian.Uint16(b[2:4]) & attrTypeMask, b[attrHeaderLen:n:n], true, nil
}

// once records that attribute type typ was used, and fails if it already
// was.
func (a *attrs) once(typ uint16) error {
	bit := uint64(1) << (typ & 63)
	if a.seen&bit != 0 {
		return ErrDupAttr
	}
	a.seen |= bit
	return nil
}

// cString returns b up to its first NUL.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// putHeader writes a netlink header at the start of b, which the caller has
// checked is long enough.
func putHeader(b []byte, length int, typ, flags uint16, seq uint32) {
	binary.NativeEndian.PutUint32(b[0:4], uint32(length))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	// NB: nlmsg_pid 0 lets the kernel fill in the sender's port ID.
	binary.NativeEndian.PutUint32(b[12:16], 0)
}

// putAttr writes an attribute with value val at b[off:] and returns the
// offset after it and its padding, which it zeroes.
func putAttr(b []byte, off int, typ uint16, val []byte) int {
	n := attrHeaderLen + len(val)
	binary.NativeEndian.PutUint16(b[off:off+2], uint16(n))
	binary.NativeEndian.PutUint16(b[off+2:off+4], typ)
	copy(b[off+attrHeaderLen:], val)
	end := off + align(n)
	clear(b[off+n : end])
	return end
}

// DumpMsgMax is the size of the largest dump request that PutNeighDump,
// PutLinkDump and PutAddrDump write: a header and an ifinfomsg.
const DumpMsgMax = headerLen + ifinfomsgLen

// putDump writes a dump request of type typ with a zeroed fixed structure
// of size bytes whose first byte is family, and returns its length.
func putDump(b []byte, seq uint32, typ uint16, size int, family uint8) (int, error) {
	n := headerLen + size
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	putHeader(b, n, typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
	clear(b[headerLen:n])
	b[headerLen] = family
	return n, nil
}
