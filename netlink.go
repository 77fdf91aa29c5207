package main

// The rtnetlink half of the daemon: decoding the kernel's neighbour, link and
// address messages, encoding the answer and the dump requests, and the
// NETLINK_ROUTE socket itself.
//
// Decoding and encoding are pure functions over byte slices, apart from the
// socket, so that they are tested byte for byte against captured kernel
// messages without root. None of them allocates: the daemon runs them for
// every message of a storm, on routers with little memory.

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sizes of the fixed structures of the netlink wire format.
//
// NB: every one of these is a multiple of the 4-byte netlink alignment, so
// attributes start right after the fixed header without extra padding.
const (
	nlHeaderLen     = unix.SizeofNlMsghdr  // struct nlmsghdr: len, type, flags, seq, pid
	nlAttrHeaderLen = unix.SizeofNlAttr    // struct nlattr: len, type
	rtnlNdmsgLen    = unix.SizeofNdMsg     // struct ndmsg
	rtnlIfinfoLen   = unix.SizeofIfInfomsg // struct ifinfomsg
	rtnlIfaddrLen   = unix.SizeofIfAddrmsg // struct ifaddrmsg
	nlErrHeaderLen  = 4                    // the int error at the start of struct nlmsgerr
	rtnlCacheinfoLn = 16                   // struct nda_cacheinfo: four __u32
)

// nlAttrTypeMask strips the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits from an
// attribute type.
const nlAttrTypeMask = 0x3fff

// rtnlIfNameSize is IFNAMSIZ: an interface name and its NUL terminator.
const rtnlIfNameSize = 16

// rtnlMaxLLAddr is the longest link-layer address the decoders keep. Ethernet
// needs 6; 8 leaves room for the odd 8-byte hardware type.
const rtnlMaxLLAddr = 8

// rtnlAnswerFlags are the netlink header flags of the RTM_NEWNEIGH answer.
//
// NB: NLM_F_REQUEST alone is what the kernel needs to move an existing
// INCOMPLETE entry to STALE with the given address (it then sends the
// queued packets at once, which moves the entry on to DELAY before the
// notification goes out); the lab test TestLabNetlinkAnswerFlags checks
// this. NLM_F_CREATE is left out on
// purpose: if the entry is gone by the time the answer arrives, the kernel
// no longer wants it, and the answer fails with ENOENT instead of planting a
// neighbour nobody asked for. NLM_F_REPLACE is left out too: without it the
// kernel does not override the address of an entry that became valid in the
// meantime (a fresh ARP reply beats the cache). NLM_F_ACK is left out because
// the kernel reports failures anyway; an ACK for every success would double
// the traffic on the receive queue exactly when it is busiest.
const rtnlAnswerFlags = unix.NLM_F_REQUEST

// rtnlNeighMsgMax is the largest message rtnlPutNeigh writes: a header, an
// ndmsg, NDA_DST of 16 bytes, NDA_LLADDR of 8 bytes and NDA_PROBES.
const rtnlNeighMsgMax = nlHeaderLen + rtnlNdmsgLen + (nlAttrHeaderLen + 16) + (nlAttrHeaderLen + rtnlMaxLLAddr) + (nlAttrHeaderLen + 4)

// rtnlDumpMsgMax is the size of the largest dump request: a header and an
// ifinfomsg.
const rtnlDumpMsgMax = nlHeaderLen + rtnlIfinfoLen

// nlAlign rounds n up to the netlink alignment of 4 bytes (NLMSG_ALIGN and
// NLA_ALIGN).
func nlAlign(n int) int { return (n + 3) &^ 3 }

// An nlReason says why a message, an attribute or a buffer was rejected. It
// is an error, and a small integer, so that the daemon can count rejections
// by reason in an array without allocating.
type nlReason uint8

// Reasons for rejecting input, and nlReasonCount for sizing counter arrays.
const (
	nlReasonNone         nlReason = iota // not an error; never returned
	nlReasonShortHeader                  // fewer bytes left than a netlink header
	nlReasonBadLength                    // nlmsg_len below a header or past the buffer
	nlReasonShortPayload                 // payload shorter than its fixed structure
	nlReasonWrongType                    // not a message type the decoder handles
	nlReasonBadAttr                      // attribute length below its header or past the message
	nlReasonDupAttr                      // a decoded attribute appears twice
	nlReasonBadDst                       // NDA_DST not 4 or 16 bytes, or not matching the family
	nlReasonLongLLAddr                   // NDA_LLADDR longer than 8 bytes
	nlReasonBadProbes                    // NDA_PROBES not 4 bytes
	nlReasonBadCacheinfo                 // NDA_CACHEINFO shorter than struct nda_cacheinfo
	nlReasonBadIfName                    // IFLA_IFNAME empty or longer than IFNAMSIZ-1
	nlReasonBadIfaAddr                   // IFA_LOCAL or IFA_ADDRESS of an AF_INET address not 4 bytes, or a prefix length above 32
	nlReasonBadIfaFlags                  // IFA_FLAGS not 4 bytes
	nlReasonShortBuffer                  // an encoder's output buffer is too small
	nlReasonBadInput                     // an encoder's input is out of range
	nlReasonCount
)

var nlReasonText = [nlReasonCount]string{
	nlReasonNone:         "netlink: no error",
	nlReasonShortHeader:  "netlink: truncated message header",
	nlReasonBadLength:    "netlink: message length out of bounds",
	nlReasonShortPayload: "netlink: payload shorter than its fixed header",
	nlReasonWrongType:    "netlink: unexpected message type",
	nlReasonBadAttr:      "netlink: attribute length out of bounds",
	nlReasonDupAttr:      "netlink: duplicate attribute",
	nlReasonBadDst:       "netlink: NDA_DST length does not fit the family",
	nlReasonLongLLAddr:   "netlink: NDA_LLADDR longer than 8 bytes",
	nlReasonBadProbes:    "netlink: NDA_PROBES is not 4 bytes",
	nlReasonBadCacheinfo: "netlink: NDA_CACHEINFO too short",
	nlReasonBadIfName:    "netlink: IFLA_IFNAME empty or too long",
	nlReasonBadIfaAddr:   "netlink: IPv4 IFA_LOCAL or IFA_ADDRESS is not 4 bytes, or prefix length above 32",
	nlReasonBadIfaFlags:  "netlink: IFA_FLAGS is not 4 bytes",
	nlReasonShortBuffer:  "netlink: output buffer too small",
	nlReasonBadInput:     "netlink: encoder input out of range",
}

// Error implements error.
func (r nlReason) Error() string {
	if r >= nlReasonCount {
		return "netlink: unknown reason"
	}
	return nlReasonText[r]
}

// nlReasonOf returns the reason inside err, or nlReasonNone when err is not
// one, so that a caller can count rejections by reason.
func nlReasonOf(err error) nlReason {
	if r, ok := err.(nlReason); ok {
		return r
	}
	return nlReasonNone
}

// An nlMsg is one netlink message of a receive buffer.
//
// Besides the rtnetlink types the daemon dispatches on the control types:
// NLMSG_ERROR (nlDecodeError: an error, or an acknowledgement when Errno is
// 0), NLMSG_DONE (nlDecodeDone: the end of a dump) and NLMSG_OVERRUN, which
// the kernel does not send today but which means lost messages like
// errRtnlOverrun and should be handled the same way. A dump reply with
// NLM_F_DUMP_INTR in Flags was disturbed by concurrent changes and should be
// repeated.
type nlMsg struct {
	Type  uint16 // nlmsg_type: RTM_NEWNEIGH, NLMSG_ERROR, ...
	Flags uint16 // nlmsg_flags: NLM_F_REQUEST, NLM_F_MULTI, ...
	Seq   uint32 // nlmsg_seq
	Pid   uint32 // nlmsg_pid: 0 for notifications, our port ID for replies

	// Data is the payload after the header, up to nlmsg_len. It aliases
	// the receive buffer and is valid until the next receive.
	Data []byte
}

// An nlIter walks the netlink messages of one receive buffer. Its zero value
// is an empty iterator; make one with nlMessages.
//
// A message whose length is shorter than a header, or runs past the end of
// the buffer, ends the iteration: the rest of the buffer cannot be framed, so
// it is dropped and Err says why. Nothing is read outside the buffer.
type nlIter struct {
	b   []byte
	err error
}

// nlMessages returns an iterator over the netlink messages in b.
func nlMessages(b []byte) nlIter { return nlIter{b: b} }

// Next stores the next message in m and reports whether there was one. It
// returns false at the end of the buffer and at the first malformed message;
// Err tells them apart.
func (it *nlIter) Next(m *nlMsg) bool {
	if len(it.b) == 0 || it.err != nil {
		return false
	}
	if len(it.b) < nlHeaderLen {
		it.err = nlReasonShortHeader
		it.b = nil
		return false
	}
	// NB: struct nlmsghdr is in host byte order: __u32 len, __u16 type,
	// __u16 flags, __u32 seq, __u32 pid.
	n := int(binary.NativeEndian.Uint32(it.b[0:4]))
	if n < nlHeaderLen || n > len(it.b) {
		it.err = nlReasonBadLength
		it.b = nil
		return false
	}
	*m = nlMsg{
		Type:  binary.NativeEndian.Uint16(it.b[4:6]),
		Flags: binary.NativeEndian.Uint16(it.b[6:8]),
		Seq:   binary.NativeEndian.Uint32(it.b[8:12]),
		Pid:   binary.NativeEndian.Uint32(it.b[12:16]),
		Data:  it.b[nlHeaderLen:n:n],
	}
	// NB: the next message starts at the aligned length; the padding of
	// the last message may be missing from the buffer.
	next := nlAlign(n)
	if next > len(it.b) {
		next = len(it.b)
	}
	it.b = it.b[next:]
	return true
}

// Err returns the reason the iteration stopped early, or nil when it ran to
// the end of the buffer.
func (it *nlIter) Err() error { return it.err }

// nlNextAttr splits the first attribute off b. It returns the attribute's
// type (without the NLA_F_* bits), its value and the rest of b. ok is false
// when b is empty; err is set when the attribute does not fit.
func nlNextAttr(b []byte) (typ uint16, val, rest []byte, ok bool, err error) {
	if len(b) == 0 {
		return 0, nil, nil, false, nil
	}
	if len(b) < nlAttrHeaderLen {
		return 0, nil, nil, false, nlReasonBadAttr
	}
	// NB: struct nlattr is __u16 len (header included), __u16 type, in
	// host byte order; the value is padded to 4 bytes.
	n := int(binary.NativeEndian.Uint16(b[0:2]))
	if n < nlAttrHeaderLen || n > len(b) {
		return 0, nil, nil, false, nlReasonBadAttr
	}
	typ = binary.NativeEndian.Uint16(b[2:4]) & nlAttrTypeMask
	val = b[nlAttrHeaderLen:n:n]
	next := nlAlign(n)
	if next > len(b) {
		next = len(b)
	}
	return typ, val, b[next:], true, nil
}

// An nlError is the content of an NLMSG_ERROR message: the kernel's answer
// to one of our requests.
type nlError struct {
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

// nlDecodeError decodes an NLMSG_ERROR message.
func nlDecodeError(m *nlMsg, e *nlError) error {
	*e = nlError{}
	if m.Type != unix.NLMSG_ERROR {
		return nlReasonWrongType
	}
	// NB: struct nlmsgerr is int error followed by the request's
	// nlmsghdr, then the request's payload unless the kernel capped it
	// (NLM_F_CAPPED), then extended-ack attributes (NLM_F_ACK_TLVS).
	d := m.Data
	if len(d) < nlErrHeaderLen+nlHeaderLen {
		return nlReasonShortPayload
	}
	code := int32(binary.NativeEndian.Uint32(d[0:4]))
	if code < 0 {
		e.Errno = unix.Errno(-code)
	} else {
		// A positive code is not defined; keep it visible rather
		// than mistake it for success.
		e.Errno = unix.Errno(code)
	}
	orig := d[nlErrHeaderLen:]
	origLen := int(binary.NativeEndian.Uint32(orig[0:4]))
	e.Type = binary.NativeEndian.Uint16(orig[4:6])
	e.Seq = binary.NativeEndian.Uint32(orig[8:12])
	e.Pid = binary.NativeEndian.Uint32(orig[12:16])
	if m.Flags&unix.NLM_F_ACK_TLVS == 0 {
		return nil
	}
	tlvs := orig[nlHeaderLen:]
	if m.Flags&unix.NLM_F_CAPPED == 0 {
		if origLen < nlHeaderLen || nlAlign(origLen) > len(orig) {
			return nlReasonBadLength
		}
		tlvs = orig[nlAlign(origLen):]
	}
	for {
		typ, val, rest, ok, err := nlNextAttr(tlvs)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if typ == unix.NLMSGERR_ATTR_MSG {
			e.Msg = nlCString(val)
		}
		tlvs = rest
	}
}

// nlDecodeDone returns the error code carried by an NLMSG_DONE message (0 on
// success; old kernels send no payload at all).
func nlDecodeDone(m *nlMsg) (unix.Errno, error) {
	if m.Type != unix.NLMSG_DONE {
		return 0, nlReasonWrongType
	}
	if len(m.Data) < 4 {
		return 0, nil
	}
	code := int32(binary.NativeEndian.Uint32(m.Data[0:4]))
	if code < 0 {
		return unix.Errno(-code), nil
	}
	return 0, nil
}

// nlCString returns b up to its first NUL.
func nlCString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// An rtnlNeigh is a decoded RTM_NEWNEIGH, RTM_DELNEIGH or RTM_GETNEIGH. It is
// a fixed-size value: decoding fills it in place and keeps no reference to
// the receive buffer.
type rtnlNeigh struct {
	MsgType  uint16 // RTM_NEWNEIGH, RTM_DELNEIGH or RTM_GETNEIGH
	MsgFlags uint16 // netlink header flags; NLM_F_REQUEST on the kernel's requests
	Seq      uint32
	Pid      uint32

	Family  uint8  // ndm_family: AF_INET, AF_INET6, AF_BRIDGE, ...
	Ifindex int32  // ndm_ifindex
	State   uint16 // ndm_state: NUD_*
	Flags   uint8  // ndm_flags: NTF_*
	Type    uint8  // ndm_type: RTN_UNICAST, ...

	Dst    [16]byte // NDA_DST in network byte order; the first DstLen bytes
	DstLen uint8    // 0 (absent), 4 or 16

	LLAddr    [rtnlMaxLLAddr]byte // NDA_LLADDR; the first LLAddrLen bytes
	LLAddrLen uint8               // 0 when absent

	Probes    uint32 // NDA_PROBES, valid when HasProbes
	HasProbes bool

	// Cacheinfo holds NDA_CACHEINFO (confirmed, used, updated in clock
	// ticks, refcount), valid when HasCacheinfo.
	Cacheinfo    rtnlCacheinfo
	HasCacheinfo bool
}

// rtnlCacheinfo is struct nda_cacheinfo: ages in clock ticks (USER_HZ) and
// the entry's reference count.
type rtnlCacheinfo struct {
	Confirmed uint32 // ticks since the neighbour was last confirmed
	Used      uint32 // ticks since the entry was last used
	Updated   uint32 // ticks since the entry was last updated
	Refcnt    uint32 // references held, minus the table's own
}

// DstAddr returns the destination address, aliasing n.
func (n *rtnlNeigh) DstAddr() []byte { return n.Dst[:n.DstLen] }

// HWAddr returns the link-layer address, aliasing n.
func (n *rtnlNeigh) HWAddr() []byte { return n.LLAddr[:n.LLAddrLen] }

// rtnlResolutionFailed reports whether n is the kernel's notice that a
// resolution failed: RTM_NEWNEIGH, state NUD_FAILED, sent by the kernel's
// own timer (nlmsg_pid 0) after at least one probe (NDA_PROBES > 0).
//
// NB: NDA_PROBES alone does not tell an administrator's `ip neigh del` or
// `ip neigh flush` from a failure. The kernel starts every resolution with
// the probe count at ucast_probes (3) and does not reset it when the entry
// becomes valid, so deleting a resolved entry notifies FAILED with
// NDA_PROBES >= 4; only entries never resolved (learned from a received ARP,
// or added by hand) show 0. What does tell them apart is nlmsg_pid: a change
// made through rtnetlink is notified with the port of the socket that asked
// for it, the timer's failure with 0 (seen on Linux 6.18 in the lab, see
// TestLabNetlinkCapture).
func rtnlResolutionFailed(n *rtnlNeigh) bool {
	return n.MsgType == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED &&
		n.Pid == 0 && n.HasProbes && n.Probes > 0
}

// An nlAttrs walks the attributes of one message and remembers which
// types its decoder has used, so that a repeated attribute is refused
// rather than letting a second value overwrite one already checked.
//
// NB: types are remembered modulo 64 in one word; every attribute the
// decoders use has a type below 64.
type nlAttrs struct {
	b    []byte
	seen uint64
}

// next splits off the next attribute. ok is false at the end, and on a
// malformed attribute, which err then describes.
func (a *nlAttrs) next() (typ uint16, val []byte, ok bool, err error) {
	typ, val, a.b, ok, err = nlNextAttr(a.b)
	return typ, val, ok, err
}

// once records that attribute type typ was used, and fails if it already
// was.
func (a *nlAttrs) once(typ uint16) error {
	bit := uint64(1) << (typ & 63)
	if a.seen&bit != 0 {
		return nlReasonDupAttr
	}
	a.seen |= bit
	return nil
}

// nlFixedPart returns the payload of m, a message of a type its decoder
// takes (ok), which must begin with a fixed header of size bytes; or why
// m is rejected.
func nlFixedPart(m *nlMsg, ok bool, size int) ([]byte, error) {
	if !ok {
		return nil, nlReasonWrongType
	}
	if len(m.Data) < size {
		return nil, nlReasonShortPayload
	}
	return m.Data, nil
}

// rtnlDecodeNeigh decodes a neighbour message into n. A message with an
// attribute that does not have the size the kernel gives it is rejected, and
// n is then left zero apart from the header fields, so a caller that ignores
// the error still finds no address in it.
//
// NDA_LLADDR longer than 8 bytes (InfiniBand has 20) is rejected with
// nlReasonLongLLAddr rather than truncated: a truncated hardware address must
// never reach the cache, and the daemon serves only Ethernet.
func rtnlDecodeNeigh(m *nlMsg, n *rtnlNeigh) error {
	*n = rtnlNeigh{MsgType: m.Type, MsgFlags: m.Flags, Seq: m.Seq, Pid: m.Pid}
	d, err := nlFixedPart(m, m.Type == unix.RTM_NEWNEIGH || m.Type == unix.RTM_DELNEIGH || m.Type == unix.RTM_GETNEIGH, rtnlNdmsgLen)
	if err != nil {
		return err
	}
	// NB: struct ndmsg is __u8 family, __u8 pad1, __u16 pad2,
	// __s32 ifindex, __u16 state, __u8 flags, __u8 type: 12 bytes in host
	// byte order, already 4-aligned.
	n.Family = d[0]
	n.Ifindex = int32(binary.NativeEndian.Uint32(d[4:8]))
	n.State = binary.NativeEndian.Uint16(d[8:10])
	n.Flags = d[10]
	n.Type = d[11]
	if err := rtnlNeighAttrs(n, d[rtnlNdmsgLen:]); err != nil {
		// Keep the header fields for counting and logs, drop every
		// attribute: they cannot be trusted.
		*n = rtnlNeigh{MsgType: n.MsgType, MsgFlags: n.MsgFlags, Seq: n.Seq, Pid: n.Pid,
			Family: n.Family, Ifindex: n.Ifindex, State: n.State, Flags: n.Flags, Type: n.Type}
		return err
	}
	return nil
}

// rtnlNeighAttrs decodes the attributes of a neighbour message into n.
func rtnlNeighAttrs(n *rtnlNeigh, b []byte) error {
	attrs := nlAttrs{b: b}
	for {
		typ, val, ok, err := attrs.next()
		if !ok {
			return err
		}
		switch typ {
		case unix.NDA_DST:
			if !rtnlDstFits(n.Family, len(val)) {
				return nlReasonBadDst
			}
			n.DstLen = uint8(copy(n.Dst[:], val))
		case unix.NDA_LLADDR:
			if len(val) > rtnlMaxLLAddr {
				return nlReasonLongLLAddr
			}
			n.LLAddrLen = uint8(copy(n.LLAddr[:], val))
		case unix.NDA_PROBES:
			if len(val) != 4 {
				return nlReasonBadProbes
			}
			n.Probes = binary.NativeEndian.Uint32(val)
			n.HasProbes = true
		case unix.NDA_CACHEINFO:
			if len(val) < rtnlCacheinfoLn {
				return nlReasonBadCacheinfo
			}
			// NB: struct nda_cacheinfo is four __u32 in host byte
			// order: confirmed, used, updated, refcnt.
			n.Cacheinfo = rtnlCacheinfo{
				Confirmed: binary.NativeEndian.Uint32(val[0:4]),
				Used:      binary.NativeEndian.Uint32(val[4:8]),
				Updated:   binary.NativeEndian.Uint32(val[8:12]),
				Refcnt:    binary.NativeEndian.Uint32(val[12:16]),
			}
			n.HasCacheinfo = true
		default:
			continue // NDA_PROTOCOL, NDA_FLAGS_EXT, ...: not ours
		}
		if err := attrs.once(typ); err != nil {
			return err
		}
	}
}

// rtnlDstFits reports whether an NDA_DST of size bytes fits family: 4 for
// AF_INET, 16 for AF_INET6, either for the others (bridge FDB entries carry
// the remote's IPv4 or IPv6 address).
func rtnlDstFits(family uint8, size int) bool {
	switch family {
	case unix.AF_INET:
		return size == 4
	case unix.AF_INET6:
		return size == 16
	}
	return size == 4 || size == 16
}

// An rtnlLink is a decoded RTM_NEWLINK or RTM_DELLINK. Like rtnlNeigh it is a
// fixed-size value with no reference to the receive buffer.
type rtnlLink struct {
	MsgType  uint16 // RTM_NEWLINK or RTM_DELLINK
	MsgFlags uint16
	Seq      uint32
	Pid      uint32

	Family  uint8  // ifi_family, AF_UNSPEC from the kernel
	HWType  uint16 // ifi_type: ARPHRD_ETHER, ARPHRD_LOOPBACK, ...
	Ifindex int32  // ifi_index
	IfFlags uint32 // ifi_flags: IFF_UP, IFF_RUNNING, IFF_NOARP, ...
	Change  uint32 // ifi_change: which IfFlags changed (when the kernel says)

	Name    [rtnlIfNameSize]byte // IFLA_IFNAME without its NUL; the first NameLen bytes
	NameLen uint8

	Addr    [rtnlMaxLLAddr]byte // IFLA_ADDRESS; the first AddrLen bytes
	AddrLen uint8

	// AddrTooLong is set when IFLA_ADDRESS is longer than 8 bytes (an
	// ip6gre tunnel has 16, InfiniBand 20). The message is still good,
	// since the daemon must see such links come and go, but the address
	// is not kept at all: Addr stays empty rather than truncated.
	AddrTooLong bool
}

// IfName returns the interface name, aliasing l.
func (l *rtnlLink) IfName() []byte { return l.Name[:l.NameLen] }

// HWAddr returns the interface's hardware address, aliasing l.
func (l *rtnlLink) HWAddr() []byte { return l.Addr[:l.AddrLen] }

// rtnlDecodeLink decodes a link message into l. As with rtnlDecodeNeigh, a
// rejected message leaves only the fixed fields in l.
func rtnlDecodeLink(m *nlMsg, l *rtnlLink) error {
	*l = rtnlLink{MsgType: m.Type, MsgFlags: m.Flags, Seq: m.Seq, Pid: m.Pid}
	d, err := nlFixedPart(m, m.Type == unix.RTM_NEWLINK || m.Type == unix.RTM_DELLINK, rtnlIfinfoLen)
	if err != nil {
		return err
	}
	// NB: struct ifinfomsg is __u8 family, __u8 pad, __u16 type,
	// __s32 index, __u32 flags, __u32 change: 16 bytes in host byte order.
	l.Family = d[0]
	l.HWType = binary.NativeEndian.Uint16(d[2:4])
	l.Ifindex = int32(binary.NativeEndian.Uint32(d[4:8]))
	l.IfFlags = binary.NativeEndian.Uint32(d[8:12])
	l.Change = binary.NativeEndian.Uint32(d[12:16])
	if err := rtnlLinkAttrs(l, d[rtnlIfinfoLen:]); err != nil {
		*l = rtnlLink{MsgType: l.MsgType, MsgFlags: l.MsgFlags, Seq: l.Seq, Pid: l.Pid,
			Family: l.Family, HWType: l.HWType, Ifindex: l.Ifindex, IfFlags: l.IfFlags, Change: l.Change}
		return err
	}
	return nil
}

// rtnlLinkAttrs decodes the attributes of a link message into l.
func rtnlLinkAttrs(l *rtnlLink, b []byte) error {
	attrs := nlAttrs{b: b}
	for {
		typ, val, ok, err := attrs.next()
		if !ok {
			return err
		}
		switch typ {
		case unix.IFLA_IFNAME:
			name := nlCString(val)
			if len(name) == 0 || len(name) >= rtnlIfNameSize {
				return nlReasonBadIfName
			}
			l.NameLen = uint8(copy(l.Name[:], name))
		case unix.IFLA_ADDRESS:
			if len(val) > rtnlMaxLLAddr {
				l.AddrTooLong = true
				l.AddrLen = 0
			} else {
				l.AddrLen = uint8(copy(l.Addr[:], val))
			}
		default:
			continue
		}
		if err := attrs.once(typ); err != nil {
			return err
		}
	}
}

// An rtnlAddr is a decoded RTM_NEWADDR or RTM_DELADDR of an IPv4 address.
// Like rtnlLink it is a fixed-size value with no reference to the receive
// buffer. Messages of other families decode only their fixed fields; their
// attributes are skipped, since the daemon keeps IPv4 addresses only.
type rtnlAddr struct {
	MsgType  uint16 // RTM_NEWADDR or RTM_DELADDR
	MsgFlags uint16
	Seq      uint32
	Pid      uint32

	Family    uint8  // ifa_family: AF_INET for the messages the daemon uses
	PrefixLen uint8  // ifa_prefixlen, at most 32 for AF_INET
	Scope     uint8  // ifa_scope: RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, ...
	Flags     uint32 // IFA_FLAGS when present, else the 8-bit ifa_flags: IFA_F_SECONDARY, ...
	Ifindex   int32  // ifa_index

	// Local is IFA_LOCAL, the address itself, and Address is IFA_ADDRESS,
	// which differs from it only on a point-to-point link, where it is
	// the peer. Each is all zero unless its Has flag is set.
	Local      [4]byte
	Address    [4]byte
	HasLocal   bool
	HasAddress bool
}

// rtnlDecodeAddr decodes an address message into a. As with the other
// decoders, a rejected message leaves only the fixed fields in a, and none
// of the addresses.
func rtnlDecodeAddr(m *nlMsg, a *rtnlAddr) error {
	*a = rtnlAddr{MsgType: m.Type, MsgFlags: m.Flags, Seq: m.Seq, Pid: m.Pid}
	d, err := nlFixedPart(m, m.Type == unix.RTM_NEWADDR || m.Type == unix.RTM_DELADDR, rtnlIfaddrLen)
	if err != nil {
		return err
	}
	// NB: struct ifaddrmsg is __u8 family, __u8 prefixlen, __u8 flags,
	// __u8 scope, __u32 index: 8 bytes, the index in host byte order.
	// ifa_flags holds only the low 8 flag bits; the kernel also sends all
	// 32 in IFA_FLAGS, which wins when present.
	a.Family = d[0]
	a.PrefixLen = d[1]
	a.Flags = uint32(d[2])
	a.Scope = d[3]
	a.Ifindex = int32(binary.NativeEndian.Uint32(d[4:8]))
	if a.Family != unix.AF_INET {
		return nil
	}
	if a.PrefixLen > 32 {
		a.PrefixLen = 0
		return nlReasonBadIfaAddr
	}
	if err := rtnlAddrAttrs(a, d[rtnlIfaddrLen:]); err != nil {
		*a = rtnlAddr{MsgType: a.MsgType, MsgFlags: a.MsgFlags, Seq: a.Seq, Pid: a.Pid,
			Family: a.Family, PrefixLen: a.PrefixLen, Scope: a.Scope, Flags: uint32(d[2]), Ifindex: a.Ifindex}
		return err
	}
	return nil
}

// rtnlAddrAttrs decodes the attributes of an IPv4 address message into a.
func rtnlAddrAttrs(a *rtnlAddr, b []byte) error {
	attrs := nlAttrs{b: b}
	for {
		typ, val, ok, err := attrs.next()
		if !ok {
			return err
		}
		switch typ {
		case unix.IFA_LOCAL:
			if len(val) != 4 {
				return nlReasonBadIfaAddr
			}
			a.Local, a.HasLocal = [4]byte(val), true
		case unix.IFA_ADDRESS:
			if len(val) != 4 {
				return nlReasonBadIfaAddr
			}
			a.Address, a.HasAddress = [4]byte(val), true
		case unix.IFA_FLAGS:
			if len(val) != 4 {
				return nlReasonBadIfaFlags
			}
			a.Flags = binary.NativeEndian.Uint32(val)
		default:
			continue
		}
		if err := attrs.once(typ); err != nil {
			return err
		}
	}
}

// nlPutHeader writes a netlink header at the start of b, which the caller has
// checked is long enough.
func nlPutHeader(b []byte, length int, typ, flags uint16, seq uint32) {
	binary.NativeEndian.PutUint32(b[0:4], uint32(length))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	// NB: nlmsg_pid 0 lets the kernel fill in the sender's port ID.
	binary.NativeEndian.PutUint32(b[12:16], 0)
}

// nlPutAttr writes an attribute with value val at b[off:] and returns the
// offset after it and its padding, which it zeroes.
func nlPutAttr(b []byte, off int, typ uint16, val []byte) int {
	n := nlAttrHeaderLen + len(val)
	binary.NativeEndian.PutUint16(b[off:off+2], uint16(n))
	binary.NativeEndian.PutUint16(b[off+2:off+4], typ)
	copy(b[off+nlAttrHeaderLen:], val)
	end := off + nlAlign(n)
	clear(b[off+n : end])
	return end
}

// rtnlPutNeigh encodes n as a neighbour message of type typ into b and
// returns its length. It writes the ndmsg from n, then NDA_DST when DstLen
// is not 0, NDA_LLADDR when LLAddrLen is not 0 and NDA_PROBES when
// HasProbes; nothing else. b needs at most rtnlNeighMsgMax bytes.
func rtnlPutNeigh(b []byte, typ, flags uint16, seq uint32, n *rtnlNeigh) (int, error) {
	if (n.DstLen != 0 && !rtnlDstFits(n.Family, int(n.DstLen))) || n.LLAddrLen > rtnlMaxLLAddr {
		return 0, nlReasonBadInput
	}
	size := nlHeaderLen + rtnlNdmsgLen
	if n.DstLen != 0 {
		size += nlAttrHeaderLen + nlAlign(int(n.DstLen))
	}
	if n.LLAddrLen != 0 {
		size += nlAttrHeaderLen + nlAlign(int(n.LLAddrLen))
	}
	if n.HasProbes {
		size += nlAttrHeaderLen + 4
	}
	if len(b) < size {
		return 0, nlReasonShortBuffer
	}
	nlPutHeader(b, size, typ, flags, seq)
	d := b[nlHeaderLen:]
	d[0] = n.Family
	d[1], d[2], d[3] = 0, 0, 0 // ndm_pad1, ndm_pad2
	binary.NativeEndian.PutUint32(d[4:8], uint32(n.Ifindex))
	binary.NativeEndian.PutUint16(d[8:10], n.State)
	d[10] = n.Flags
	d[11] = n.Type
	off := nlHeaderLen + rtnlNdmsgLen
	if n.DstLen != 0 {
		off = nlPutAttr(b, off, unix.NDA_DST, n.Dst[:n.DstLen])
	}
	if n.LLAddrLen != 0 {
		off = nlPutAttr(b, off, unix.NDA_LLADDR, n.LLAddr[:n.LLAddrLen])
	}
	if n.HasProbes {
		var p [4]byte
		binary.NativeEndian.PutUint32(p[:], n.Probes)
		off = nlPutAttr(b, off, unix.NDA_PROBES, p[:])
	}
	return off, nil
}

// rtnlPutNeighAnswer encodes into b the answer to the kernel's request req:
// an RTM_NEWNEIGH for req's family, interface and destination, state
// NUD_STALE, type RTN_UNICAST, with link-layer address lladdr (1 to 8
// bytes), and flags rtnlAnswerFlags. It returns the message's length; b
// needs at most rtnlNeighMsgMax bytes.
func rtnlPutNeighAnswer(b []byte, seq uint32, req *rtnlNeigh, lladdr []byte) (int, error) {
	if req.DstLen == 0 || len(lladdr) == 0 || len(lladdr) > rtnlMaxLLAddr {
		return 0, nlReasonBadInput
	}
	a := rtnlNeigh{
		Family:  req.Family,
		Ifindex: req.Ifindex,
		State:   unix.NUD_STALE,
		Type:    unix.RTN_UNICAST,
		Dst:     req.Dst,
		DstLen:  req.DstLen,
	}
	a.LLAddrLen = uint8(copy(a.LLAddr[:], lladdr))
	return rtnlPutNeigh(b, unix.RTM_NEWNEIGH, rtnlAnswerFlags, seq, &a)
}

// rtnlPutNeighDump encodes into b a request to dump the neighbour table of
// family (AF_INET, AF_INET6, or AF_UNSPEC for all) and returns its length.
//
// NB: the payload is a whole ndmsg, not the short rtgenmsg of old tools, so
// the request stays valid if the socket ever turns on NETLINK_GET_STRICT_CHK.
func rtnlPutNeighDump(b []byte, seq uint32, family uint8) (int, error) {
	const size = nlHeaderLen + rtnlNdmsgLen
	if len(b) < size {
		return 0, nlReasonShortBuffer
	}
	nlPutHeader(b, size, unix.RTM_GETNEIGH, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
	clear(b[nlHeaderLen:size])
	b[nlHeaderLen] = family
	return size, nil
}

// rtnlPutLinkDump encodes into b a request to dump every link and returns
// its length.
func rtnlPutLinkDump(b []byte, seq uint32) (int, error) {
	const size = nlHeaderLen + rtnlIfinfoLen
	if len(b) < size {
		return 0, nlReasonShortBuffer
	}
	nlPutHeader(b, size, unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
	clear(b[nlHeaderLen:size]) // ifi_family AF_UNSPEC
	return size, nil
}

// rtnlPutAddrDump encodes into b a request to dump the addresses of family
// (AF_INET for the daemon) and returns its length. Like rtnlPutNeighDump it
// sends a whole ifaddrmsg rather than an rtgenmsg.
func rtnlPutAddrDump(b []byte, seq uint32, family uint8) (int, error) {
	const size = nlHeaderLen + rtnlIfaddrLen
	if len(b) < size {
		return 0, nlReasonShortBuffer
	}
	nlPutHeader(b, size, unix.RTM_GETADDR, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
	clear(b[nlHeaderLen:size])
	b[nlHeaderLen] = family
	return size, nil
}

// rtnlRecvBufSize is the size of the preallocated receive buffer. The kernel
// builds dump replies of at most 32 KiB and notifications of less than a
// page, so 64 KiB never truncates; MSG_TRUNC still detects it if it did.
const rtnlRecvBufSize = 64 << 10

// Errors that rtnlConn.Recv returns for conditions the daemon must act on.
var (
	// errRtnlOverrun is ENOBUFS from recvmsg: the socket's receive queue
	// overflowed and the kernel dropped messages. The daemon re-dumps the
	// neighbour table.
	errRtnlOverrun = errors.New("netlink: receive queue overrun (ENOBUFS), messages lost")
	// errRtnlTruncated says a datagram was larger than the receive
	// buffer and its tail was lost; treat it like an overrun.
	errRtnlTruncated = errors.New("netlink: datagram truncated (MSG_TRUNC)")
	// errRtnlForeign says a datagram came from somewhere other than the
	// kernel (nl_pid not 0) and was dropped.
	errRtnlForeign = errors.New("netlink: datagram not from the kernel, dropped")
)

// rtnlStats counts what an rtnlConn received.
type rtnlStats struct {
	Datagrams uint64 // datagrams accepted
	Bytes     uint64 // bytes in accepted datagrams
	Overruns  uint64 // ENOBUFS from recvmsg
	Truncated uint64 // datagrams cut by MSG_TRUNC
	Foreign   uint64 // datagrams not from the kernel
}

// An rtnlConn is a NETLINK_ROUTE socket, non-blocking, with its receive
// buffer and receive arguments allocated once, so that receiving allocates
// nothing. It is not safe for concurrent use; the daemon's single event loop
// owns it.
type rtnlConn struct {
	fd    int
	port  uint32 // our netlink port ID (nl_pid), for matching replies
	seq   uint32
	Stats rtnlStats

	buf  []byte
	from unix.RawSockaddrNetlink
	iov  unix.Iovec
	msg  unix.Msghdr
}

// rtnlDial opens a NETLINK_ROUTE socket subscribed to the multicast groups
// in groups (RTMGRP_* bits, e.g. RTMGRP_NEIGH|RTMGRP_LINK), with its receive
// buffer raised to rcvbuf bytes: with SO_RCVBUFFORCE when the process has
// CAP_NET_ADMIN, else with SO_RCVBUF, which the kernel caps at
// net.core.rmem_max. rcvbuf <= 0 keeps the default.
//
// NETLINK_NO_ENOBUFS is deliberately not set: an overrun must be seen so the
// daemon can re-dump. NETLINK_EXT_ACK and NETLINK_CAP_ACK are set where the
// kernel has them, so that errors say why and do not echo our request.
func rtnlDial(groups uint32, rcvbuf int) (*rtnlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	c := &rtnlConn{fd: fd, buf: make([]byte, rtnlRecvBufSize)}
	if err := c.setup(groups, rcvbuf); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// NB: the receive arguments point into c itself; c lives on the heap
	// for as long as the socket, so the pointers stay valid and receiving
	// builds nothing new.
	c.iov.Base = &c.buf[0]
	c.iov.SetLen(len(c.buf))
	c.msg.Name = (*byte)(unsafe.Pointer(&c.from))
	c.msg.Iov = &c.iov
	c.msg.SetIovlen(1)
	return c, nil
}

// setup raises the receive buffer, sets the socket options and binds.
func (c *rtnlConn) setup(groups uint32, rcvbuf int) error {
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
func (c *rtnlConn) Fd() int { return c.fd }

// Port returns the socket's netlink port ID: replies to our requests carry
// it in nlmsg_pid, notifications carry 0.
func (c *rtnlConn) Port() uint32 { return c.port }

// RcvBuf returns the receive buffer size the kernel granted (the kernel
// doubles what was asked, for its bookkeeping).
func (c *rtnlConn) RcvBuf() (int, error) {
	return unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
}

// NextSeq returns a fresh sequence number for a request.
func (c *rtnlConn) NextSeq() uint32 {
	c.seq++
	return c.seq
}

// Close closes the socket.
func (c *rtnlConn) Close() error {
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
// NB: the socket is non-blocking, so the call never waits for a peer, and
// it is made as a raw system call: the runtime's bookkeeping around an
// ordinary one (entersyscall, and the handing of the processor to another
// thread when the kernel's work, which includes sending the packets an
// answer releases, takes more than 20 µs) cost more than the call itself.
// The daemon runs one goroutine that matters, so holding the processor
// while the kernel works (or waits for a lock of its own, such as the
// routing netlink mutex a dump takes) costs it nothing.
func (c *rtnlConn) Send(b []byte) error {
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
// notifications caused by requests from netlink port port: on the
// daemon's notification socket, the echo of each of its own answers, which
// says nothing the daemon did not know and would be half of what it reads
// in a burst. It attaches a classic BPF program that compares nlmsg_pid.
//
// NB: a notification is one message per datagram, so the program sees its
// header at offset 0. Classic BPF loads words big-endian, and nlmsg_pid is
// in host order, hence the conversion of port.
func (c *rtnlConn) IgnorePort(port uint32) error {
	prog := rtnlPortFilter(port)
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	return unix.SetsockoptSockFprog(c.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

// rtnlPortFilter returns the classic BPF program of IgnorePort: drop a
// datagram whose first message has nlmsg_pid port, keep all others whole.
func rtnlPortFilter(port uint32) [4]unix.SockFilter {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], port)
	return [...]unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 12}, // A = nlmsg_pid
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: binary.BigEndian.Uint32(b[:])},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},          // ours: drop
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff}, // keep all of it
	}
}

// Recv receives one datagram and returns it; iterate over its messages with
// nlMessages. The returned slice aliases the connection's buffer and is
// valid until the next Recv. It allocates nothing.
//
// Recv returns unix.EAGAIN when nothing is queued, errRtnlOverrun on ENOBUFS
// (the kernel dropped messages: re-dump), errRtnlTruncated when a datagram
// did not fit, and errRtnlForeign for a datagram not sent by the kernel;
// each of the last three is also counted in Stats.
func (c *rtnlConn) Recv() ([]byte, error) {
	c.msg.Namelen = unix.SizeofSockaddrNetlink
	c.msg.Flags = 0
	// NB: MSG_TRUNC makes recvmsg return the datagram's real length, so
	// a datagram larger than the buffer is seen, not silently cut.
	// NB: a raw system call, as in Send: it never waits for data.
	r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.msg)), unix.MSG_TRUNC|unix.MSG_DONTWAIT)
	if e != 0 {
		if e == unix.ENOBUFS {
			c.Stats.Overruns++
			return nil, errRtnlOverrun
		}
		return nil, e
	}
	n := int(r)
	if n > len(c.buf) || c.msg.Flags&unix.MSG_TRUNC != 0 {
		c.Stats.Truncated++
		return nil, errRtnlTruncated
	}
	if c.msg.Namelen < unix.SizeofSockaddrNetlink || c.from.Family != unix.AF_NETLINK || c.from.Pid != 0 {
		c.Stats.Foreign++
		return nil, errRtnlForeign
	}
	c.Stats.Datagrams++
	c.Stats.Bytes += uint64(n)
	return c.buf[:n], nil
}
