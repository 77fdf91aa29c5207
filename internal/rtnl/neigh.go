package rtnl

// Neighbour messages: the kernel's requests and notifications in, the
// daemon's answer and the neighbour dump request out.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// MaxLLAddr is the longest link-layer address the decoders keep. Ethernet
// needs 6; 8 leaves room for the odd 8-byte hardware type.
const MaxLLAddr = 8

// NeighMsgMax is the largest message PutNeigh writes: a header, an ndmsg,
// NDA_DST of 16 bytes, NDA_LLADDR of MaxLLAddr bytes and NDA_PROBES.
const NeighMsgMax = headerLen + ndmsgLen + (attrHeaderLen + 16) + (attrHeaderLen + MaxLLAddr) + (attrHeaderLen + 4)

// answerFlags are the netlink header flags of the RTM_NEWNEIGH answer.
//
// NB: NLM_F_REQUEST alone is what the kernel needs to move an existing
// INCOMPLETE entry to STALE with the given address (it then sends the
// queued packets at once, which moves the entry on to DELAY before the
// notification goes out). NLM_F_CREATE is left out on purpose: if the entry
// is gone by the time the answer arrives, the kernel no longer wants it, and
// the answer fails with ENOENT instead of planting a neighbour nobody asked
// for. NLM_F_REPLACE is left out too: without it the kernel does not
// override the address of an entry that became valid in the meantime (a
// fresh ARP reply beats the cache). NLM_F_ACK is left out because the kernel
// reports failures anyway; an ACK for every success would double the
// traffic on the receive queue exactly when it is busiest.
const answerFlags = unix.NLM_F_REQUEST

// A Neigh is a decoded RTM_NEWNEIGH, RTM_DELNEIGH or RTM_GETNEIGH. It is a
// fixed-size value: decoding fills it in place and keeps no reference to the
// receive buffer.
type Neigh struct {
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

	LLAddr    [MaxLLAddr]byte // NDA_LLADDR; the first LLAddrLen bytes
	LLAddrLen uint8           // 0 when absent

	Probes    uint32 // NDA_PROBES, valid when HasProbes
	HasProbes bool
}

// DstAddr returns the destination address, aliasing n.
func (n *Neigh) DstAddr() []byte { return n.Dst[:n.DstLen] }

// HWAddr returns the link-layer address, aliasing n.
func (n *Neigh) HWAddr() []byte { return n.LLAddr[:n.LLAddrLen] }

// ResolutionFailed reports whether n is the kernel's notice that a
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
// for it, the timer's failure with 0.
func ResolutionFailed(n *Neigh) bool {
	return n.MsgType == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED &&
		n.Pid == 0 && n.HasProbes && n.Probes > 0
}

// DecodeNeigh decodes a neighbour message into n. A message with an
// attribute that does not have the size the kernel gives it is rejected, and
// n is then left zero apart from the header fields, so a caller that ignores
// the error still finds no address in it.
//
// NDA_LLADDR longer than MaxLLAddr bytes (InfiniBand has 20) is rejected
// with ErrLongLLAddr rather than truncated: a truncated hardware address
// must never reach the cache, and the daemon serves only Ethernet.
// NDA_CACHEINFO and every other attribute are skipped unread.
func DecodeNeigh(m *Msg, n *Neigh) error {
	*n = Neigh{MsgType: m.Type, MsgFlags: m.Flags, Seq: m.Seq, Pid: m.Pid}
	d, err := payload(m, m.Type == unix.RTM_NEWNEIGH || m.Type == unix.RTM_DELNEIGH || m.Type == unix.RTM_GETNEIGH, ndmsgLen)
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
	if err := n.decodeAttrs(d[ndmsgLen:]); err != nil {
		// Keep the header fields for counting and logs, drop every
		// attribute: they cannot be trusted.
		*n = Neigh{MsgType: n.MsgType, MsgFlags: n.MsgFlags, Seq: n.Seq, Pid: n.Pid,
			Family: n.Family, Ifindex: n.Ifindex, State: n.State, Flags: n.Flags, Type: n.Type}
		return err
	}
	return nil
}

// decodeAttrs decodes the attributes of a neighbour message into n.
func (n *Neigh) decodeAttrs(b []byte) error {
	a := attrs{b: b}
	for {
		typ, val, ok, err := a.next()
		if !ok {
			return err
		}
		switch typ {
		case unix.NDA_DST:
			if !dstFits(n.Family, len(val)) {
				return ErrBadDst
			}
			n.DstLen = uint8(copy(n.Dst[:], val))
		case unix.NDA_LLADDR:
			if len(val) > MaxLLAddr {
				return ErrLongLLAddr
			}
			n.LLAddrLen = uint8(copy(n.LLAddr[:], val))
		case unix.NDA_PROBES:
			if len(val) != 4 {
				return ErrBadProbes
			}
			n.Probes = binary.NativeEndian.Uint32(val)
			n.HasProbes = true
		default:
			continue // NDA_CACHEINFO, NDA_PROTOCOL, ...: not ours
		}
		if err := a.once(typ); err != nil {
			return err
		}
	}
}

// dstFits reports whether an NDA_DST of size bytes fits family: 4 for
// AF_INET, 16 for AF_INET6, either for the others (bridge FDB entries carry
// the remote's IPv4 or IPv6 address).
func dstFits(family uint8, size int) bool {
	switch family {
	case unix.AF_INET:
		return size == 4
	case unix.AF_INET6:
		return size == 16
	}
	return size == 4 || size == 16
}

// PutNeigh encodes n as a neighbour message of type typ into b and returns
// its length. It writes the ndmsg from n, then NDA_DST when DstLen is not 0,
// NDA_LLADDR when LLAddrLen is not 0 and NDA_PROBES when HasProbes; nothing
// else. b needs at most NeighMsgMax bytes.
func PutNeigh(b []byte, typ, flags uint16, seq uint32, n *Neigh) (int, error) {
	if (n.DstLen != 0 && !dstFits(n.Family, int(n.DstLen))) || n.LLAddrLen > MaxLLAddr {
		return 0, ErrBadInput
	}
	size := headerLen + ndmsgLen
	if n.DstLen != 0 {
		size += attrHeaderLen + align(int(n.DstLen))
	}
	if n.LLAddrLen != 0 {
		size += attrHeaderLen + align(int(n.LLAddrLen))
	}
	if n.HasProbes {
		size += attrHeaderLen + 4
	}
	if len(b) < size {
		return 0, ErrShortBuffer
	}
	putHeader(b, size, typ, flags, seq)
	d := b[headerLen:]
	d[0] = n.Family
	d[1], d[2], d[3] = 0, 0, 0 // ndm_pad1, ndm_pad2
	binary.NativeEndian.PutUint32(d[4:8], uint32(n.Ifindex))
	binary.NativeEndian.PutUint16(d[8:10], n.State)
	d[10] = n.Flags
	d[11] = n.Type
	off := headerLen + ndmsgLen
	if n.DstLen != 0 {
		off = putAttr(b, off, unix.NDA_DST, n.Dst[:n.DstLen])
	}
	if n.LLAddrLen != 0 {
		off = putAttr(b, off, unix.NDA_LLADDR, n.LLAddr[:n.LLAddrLen])
	}
	if n.HasProbes {
		var p [4]byte
		binary.NativeEndian.PutUint32(p[:], n.Probes)
		off = putAttr(b, off, unix.NDA_PROBES, p[:])
	}
	return off, nil
}

// PutNeighAnswer encodes into b the answer to the kernel's request req: an
// RTM_NEWNEIGH for req's family, interface and destination, state
// NUD_STALE, type RTN_UNICAST, with link-layer address lladdr (1 to
// MaxLLAddr bytes), and flags NLM_F_REQUEST alone. It returns the message's
// length; b needs at most NeighMsgMax bytes.
func PutNeighAnswer(b []byte, seq uint32, req *Neigh, lladdr []byte) (int, error) {
	return PutNeighAnswerFlags(b, seq, req, lladdr, 0)
}

// PutNeighAnswerFlags is PutNeighAnswer with ndm_flags ntf: NTF_ROUTER for
// an IPv6 neighbour that said it is a router, which the kernel keeps on
// the entry.
//
// NB: the kernel applies NTF_ROUTER to an entry it already has (the
// INCOMPLETE one the request is about) only with NLM_F_REPLACE: without it
// neigh_add clears NEIGH_UPDATE_F_OVERRIDE_ISROUTER. So an answer with
// flags carries NLM_F_REPLACE, which for an INCOMPLETE entry changes
// nothing else (there is no address yet to override).
func PutNeighAnswerFlags(b []byte, seq uint32, req *Neigh, lladdr []byte, ntf uint8) (int, error) {
	if req.DstLen == 0 || len(lladdr) == 0 || len(lladdr) > MaxLLAddr {
		return 0, ErrBadInput
	}
	a := Neigh{
		Family:  req.Family,
		Ifindex: req.Ifindex,
		State:   unix.NUD_STALE,
		Flags:   ntf,
		Type:    unix.RTN_UNICAST,
		Dst:     req.Dst,
		DstLen:  req.DstLen,
	}
	a.LLAddrLen = uint8(copy(a.LLAddr[:], lladdr))
	flags := uint16(answerFlags)
	if ntf != 0 {
		flags |= unix.NLM_F_REPLACE
	}
	return PutNeigh(b, unix.RTM_NEWNEIGH, flags, seq, &a)
}

// PutNeighFailure encodes into b the failure answer to the kernel's request
// req: an RTM_NEWNEIGH for req's family, interface and destination, state
// NUD_FAILED, type RTN_UNICAST, no link-layer address, and flags
// NLM_F_REQUEST alone. It returns the message's length; b needs at most
// NeighMsgMax bytes.
//
// NB: the kernel takes NUD_FAILED on an INCOMPLETE entry as a failed
// resolution: it stops the entry's timer, sends the packets queued on it
// back as ICMP host unreachable and leaves the entry to the garbage
// collector. NLM_F_REPLACE, which `ip neigh change` sets, only matters for
// a valid state's link-layer address, and NLM_F_CREATE is left out as for
// PutNeighAnswer: an entry already gone is not made again just to fail.
func PutNeighFailure(b []byte, seq uint32, req *Neigh) (int, error) {
	if req.DstLen == 0 {
		return 0, ErrBadInput
	}
	a := Neigh{
		Family:  req.Family,
		Ifindex: req.Ifindex,
		State:   unix.NUD_FAILED,
		Type:    unix.RTN_UNICAST,
		Dst:     req.Dst,
		DstLen:  req.DstLen,
	}
	return PutNeigh(b, unix.RTM_NEWNEIGH, answerFlags, seq, &a)
}

// PutNeighDump encodes into b a request to dump the neighbour table of
// family (AF_INET, AF_INET6, or AF_UNSPEC for all) and returns its length;
// b needs DumpMsgMax bytes at most.
//
// NB: the payload is a whole ndmsg, not the short rtgenmsg of old tools, so
// the request stays valid if the socket ever turns on NETLINK_GET_STRICT_CHK.
func PutNeighDump(b []byte, seq uint32, family uint8) (int, error) {
	return putDump(b, seq, unix.RTM_GETNEIGH, ndmsgLen, family)
}

// replaceFlags are the netlink header flags of PutNeighReplace.
//
// NB: NLM_F_REPLACE is what lets the kernel override the link-layer
// address of a valid entry (without it, neigh_add drops
// NEIGH_UPDATE_F_OVERRIDE and a different address is ignored); an
// administrator's change is not held back by locktime. NLM_F_CREATE is
// left out: an entry the kernel no longer has is not made again, and the
// message fails with ENOENT, which is not an error for the daemon.
const replaceFlags = unix.NLM_F_REQUEST | unix.NLM_F_REPLACE

// nudValid is the kernel's NUD_VALID: the states that hold a link-layer
// address (include/net/neighbour.h); x/sys/unix does not define it.
const nudValid = unix.NUD_PERMANENT | unix.NUD_NOARP | unix.NUD_REACHABLE | unix.NUD_PROBE | unix.NUD_STALE | unix.NUD_DELAY

// PutNeighReplace encodes into b an RTM_NEWNEIGH that sets the link-layer
// address of the kernel's existing entry for to's family, interface and
// destination: state (NUD_REACHABLE to put a verified address back,
// NUD_STALE to move the entry on to an accepted new one), type
// RTN_UNICAST, link-layer address lladdr (1 to MaxLLAddr bytes), and flags
// NLM_F_REQUEST|NLM_F_REPLACE without NLM_F_CREATE. It returns the
// message's length; b needs at most NeighMsgMax bytes.
func PutNeighReplace(b []byte, seq uint32, to *Neigh, state uint16, lladdr []byte) (int, error) {
	if to.DstLen == 0 || len(lladdr) == 0 || len(lladdr) > MaxLLAddr || state&nudValid == 0 {
		return 0, ErrBadInput
	}
	a := Neigh{
		Family:  to.Family,
		Ifindex: to.Ifindex,
		State:   state,
		Type:    unix.RTN_UNICAST,
		Dst:     to.Dst,
		DstLen:  to.DstLen,
	}
	a.LLAddrLen = uint8(copy(a.LLAddr[:], lladdr))
	return PutNeigh(b, unix.RTM_NEWNEIGH, replaceFlags, seq, &a)
}
