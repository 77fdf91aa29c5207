package rtnl

// Link messages: the kernel's RTM_NEWLINK and RTM_DELLINK in, the link dump
// request out.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// IfNameSize is IFNAMSIZ: an interface name and its NUL terminator.
const IfNameSize = 16

// A Link is a decoded RTM_NEWLINK or RTM_DELLINK. Like Neigh it is a
// fixed-size value with no reference to the receive buffer. Of struct
// ifinfomsg it keeps only the index: the daemon follows links by index and
// name.
type Link struct {
	MsgType  uint16 // RTM_NEWLINK or RTM_DELLINK
	MsgFlags uint16
	Seq      uint32
	Pid      uint32

	Ifindex int32 // ifi_index

	Name    [IfNameSize]byte // IFLA_IFNAME without its NUL; the first NameLen bytes
	NameLen uint8

	Addr    [MaxLLAddr]byte // IFLA_ADDRESS; the first AddrLen bytes
	AddrLen uint8

	// AddrTooLong is set when IFLA_ADDRESS is longer than MaxLLAddr bytes
	// (an ip6gre tunnel has 16, InfiniBand 20). The message is still
	// good, since the daemon must see such links come and go, but the
	// address is not kept at all: Addr stays empty rather than truncated.
	AddrTooLong bool
}

// IfName returns the interface name, aliasing l.
func (l *Link) IfName() []byte { return l.Name[:l.NameLen] }

// HWAddr returns the interface's hardware address, aliasing l.
func (l *Link) HWAddr() []byte { return l.Addr[:l.AddrLen] }

// DecodeLink decodes a link message into l. As with DecodeNeigh, a rejected
// message leaves only the header fields and the index in l.
func DecodeLink(m *Msg, l *Link) error {
	*l = Link{MsgType: m.Type, MsgFlags: m.Flags, Seq: m.Seq, Pid: m.Pid}
	d, err := payload(m, m.Type == unix.RTM_NEWLINK || m.Type == unix.RTM_DELLINK, ifinfomsgLen)
	if err != nil {
		return err
	}
	// NB: struct ifinfomsg is __u8 family, __u8 pad, __u16 type,
	// __s32 index, __u32 flags, __u32 change: 16 bytes in host byte order.
	l.Ifindex = int32(binary.NativeEndian.Uint32(d[4:8]))
	if err := l.decodeAttrs(d[ifinfomsgLen:]); err != nil {
		*l = Link{MsgType: l.MsgType, MsgFlags: l.MsgFlags, Seq: l.Seq, Pid: l.Pid, Ifindex: l.Ifindex}
		return err
	}
	return nil
}

// decodeAttrs decodes the attributes of a link message into l.
func (l *Link) decodeAttrs(b []byte) error {
	a := attrs{b: b}
	for {
		typ, val, ok, err := a.next()
		if !ok {
			return err
		}
		switch typ {
		case unix.IFLA_IFNAME:
			name := cString(val)
			if len(name) == 0 || len(name) >= IfNameSize {
				return ErrBadIfName
			}
			l.NameLen = uint8(copy(l.Name[:], name))
		case unix.IFLA_ADDRESS:
			if len(val) > MaxLLAddr {
				l.AddrTooLong = true
				l.AddrLen = 0
			} else {
				l.AddrLen = uint8(copy(l.Addr[:], val))
			}
		default:
			continue
		}
		if err := a.once(typ); err != nil {
			return err
		}
	}
}

// PutLinkDump encodes into b a request to dump every link and returns its
// length; b needs DumpMsgMax bytes.
func PutLinkDump(b []byte, seq uint32) (int, error) {
	return putDump(b, seq, unix.RTM_GETLINK, ifinfomsgLen, unix.AF_UNSPEC)
}
