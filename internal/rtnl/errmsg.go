package rtnl

// NLMSG_ERROR: the kernel's answer to one of our requests.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// An ErrorMsg is the content of an NLMSG_ERROR message: the kernel's
// answer to one of our requests, an error or an acknowledgement.
type ErrorMsg struct {
	// Errno is the error, or 0 for an acknowledgement.
	Errno unix.Errno
	// Seq, Type and Pid are from the header of the request it answers.
	Seq  uint32
	Type uint16
	Pid  uint32
	// Msg is the extended acknowledgement's message (NLMSGERR_ATTR_MSG),
	// without its NUL, when the socket asked for NETLINK_EXT_ACK and the
	// kernel gave one. It aliases the receive buffer.
	Msg []byte
}

// DecodeError decodes an NLMSG_ERROR message into e. A message whose
// extended acknowledgement does not frame is rejected, and e then keeps
// the error and the request's header but no Msg.
func DecodeError(m *Msg, e *ErrorMsg) error {
	*e = ErrorMsg{}
	// NB: struct nlmsgerr is int error followed by the request's
	// nlmsghdr, then the request's payload unless the kernel capped it
	// (NLM_F_CAPPED), then extended-ack attributes (NLM_F_ACK_TLVS).
	d, err := payload(m, m.Type == unix.NLMSG_ERROR, errHeaderLen+headerLen)
	if err != nil {
		return err
	}
	code := int32(binary.NativeEndian.Uint32(d[0:4]))
	if code < 0 {
		e.Errno = unix.Errno(-code)
	} else {
		// A positive code is not defined; keep it visible rather
		// than mistake it for success.
		e.Errno = unix.Errno(code)
	}
	req := d[errHeaderLen:]
	reqLen := int(binary.NativeEndian.Uint32(req[0:4]))
	e.Type = binary.NativeEndian.Uint16(req[4:6])
	e.Seq = binary.NativeEndian.Uint32(req[8:12])
	e.Pid = binary.NativeEndian.Uint32(req[12:16])
	if m.Flags&unix.NLM_F_ACK_TLVS == 0 {
		return nil
	}
	tlvs := req[headerLen:]
	if m.Flags&unix.NLM_F_CAPPED == 0 {
		if reqLen < headerLen || align(reqLen) > len(req) {
			return ErrBadLength
		}
		tlvs = req[align(reqLen):]
	}
	a := attrs{b: tlvs}
	for {
		typ, val, ok, err := a.next()
		if err != nil {
			e.Msg = nil
			return err
		}
		if !ok {
			return nil
		}
		if typ == unix.NLMSGERR_ATTR_MSG {
			e.Msg = cString(val)
		}
	}
}
