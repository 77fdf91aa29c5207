package rtnl

// Address messages: the kernel's RTM_NEWADDR and RTM_DELADDR in, the
// address dump request out.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// An Addr is a decoded RTM_NEWADDR or RTM_DELADDR of an IPv4 or IPv6
// address. Like Link it is a fixed-size value with no reference to the
// receive buffer. Messages of other families decode only their fixed
// fields; their attributes are skipped, since the daemon keeps IPv4 and
// IPv6 addresses only.
type Addr struct {
	MsgType  uint16 // RTM_NEWADDR or RTM_DELADDR
	MsgFlags uint16
	Seq      uint32
	Pid      uint32

	Family    uint8  // ifa_family: AF_INET or AF_INET6 for the messages the daemon uses
	PrefixLen uint8  // ifa_prefixlen, at most 32 for AF_INET, 128 for AF_INET6
	Scope     uint8  // ifa_scope: RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, ...
	Flags     uint32 // IFA_FLAGS when present, else the 8-bit ifa_flags: IFA_F_SECONDARY, IFA_F_TENTATIVE, ...
	Ifindex   int32  // ifa_index

	// Local is IFA_LOCAL, the address itself, and Address is IFA_ADDRESS,
	// which differs from it only on a point-to-point link, where it is
	// the peer: the IPv4 ones in Local and Address, the IPv6 ones in
	// Local6 and Address6. HasLocal and HasAddress say which of the
	// message's family are present; every other address field is all
	// zero.
	//
	// NB: for IPv6 the kernel sends IFA_ADDRESS alone, and IFA_LOCAL as
	// well only for an address with a peer; a usable IPv6 address is one
	// without IFA_F_TENTATIVE (duplicate address detection still running)
	// and IFA_F_DADFAILED in Flags.
	Local      [4]byte
	Address    [4]byte
	Local6     [16]byte
	Address6   [16]byte
	HasLocal   bool
	HasAddress bool
}

// DecodeAddr decodes an address message into a. As with the other decoders,
// a rejected message leaves only the fixed fields in a, and none of the
// addresses.
func DecodeAddr(m *Msg, a *Addr) error {
	*a = Addr{MsgType: m.Type, MsgFlags: m.Flags, Seq: m.Seq, Pid: m.Pid}
	d, err := payload(m, m.Type == unix.RTM_NEWADDR || m.Type == unix.RTM_DELADDR, ifaddrmsgLen)
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
	maxPrefix := uint8(32)
	switch a.Family {
	case unix.AF_INET:
	case unix.AF_INET6:
		maxPrefix = 128
	default:
		return nil
	}
	if a.PrefixLen > maxPrefix {
		a.PrefixLen = 0
		return ErrBadAddr
	}
	if err := a.decodeAttrs(d[ifaddrmsgLen:]); err != nil {
		*a = Addr{MsgType: a.MsgType, MsgFlags: a.MsgFlags, Seq: a.Seq, Pid: a.Pid,
			Family: a.Family, PrefixLen: a.PrefixLen, Scope: a.Scope, Flags: uint32(d[2]), Ifindex: a.Ifindex}
		return err
	}
	return nil
}

// decodeAttrs decodes the attributes of an IPv4 or IPv6 address message
// into a, whose Family is set.
func (a *Addr) decodeAttrs(b []byte) error {
	at := attrs{b: b}
	for {
		typ, val, ok, err := at.next()
		if !ok {
			return err
		}
		switch typ {
		case unix.IFA_LOCAL, unix.IFA_ADDRESS:
			if !a.putAddress(typ, val) {
				return ErrBadAddr
			}
		case unix.IFA_FLAGS:
			if len(val) != 4 {
				return ErrBadAddrFlags
			}
			a.Flags = binary.NativeEndian.Uint32(val)
		default:
			continue
		}
		if err := at.once(typ); err != nil {
			return err
		}
	}
}

// putAddress stores val, the value of IFA_LOCAL or IFA_ADDRESS (typ), in
// the field of a's family, and reports whether it has that family's
// length.
func (a *Addr) putAddress(typ uint16, val []byte) bool {
	switch {
	case a.Family == unix.AF_INET && len(val) == 4 && typ == unix.IFA_LOCAL:
		a.Local, a.HasLocal = [4]byte(val), true
	case a.Family == unix.AF_INET && len(val) == 4:
		a.Address, a.HasAddress = [4]byte(val), true
	case a.Family == unix.AF_INET6 && len(val) == 16 && typ == unix.IFA_LOCAL:
		a.Local6, a.HasLocal = [16]byte(val), true
	case a.Family == unix.AF_INET6 && len(val) == 16:
		a.Address6, a.HasAddress = [16]byte(val), true
	default:
		return false
	}
	return true
}

// PutAddrDump encodes into b a request to dump the addresses of family
// (AF_INET or AF_INET6; AF_UNSPEC dumps every family) and returns its length; b needs DumpMsgMax bytes
// at most. Like PutNeighDump it sends a whole ifaddrmsg rather than an
// rtgenmsg.
func PutAddrDump(b []byte, seq uint32, family uint8) (int, error) {
	return putDump(b, seq, unix.RTM_GETADDR, ifaddrmsgLen, family)
}
