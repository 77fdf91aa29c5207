package rtnl

import "errors"

// Errors of the codecs. Each says why a message, an attribute or a buffer
// was rejected; compare with errors.Is. Returning one allocates nothing.
var (
	// ErrShortHeader means fewer bytes are left in the datagram than a
	// netlink header.
	ErrShortHeader = errors.New("netlink: truncated message header")
	// ErrBadLength means nlmsg_len is below a header or past the
	// datagram, or the echoed request of an NLMSG_ERROR does not fit.
	ErrBadLength = errors.New("netlink: message length out of bounds")
	// ErrShortPayload means a payload is shorter than its fixed structure.
	ErrShortPayload = errors.New("netlink: payload shorter than its fixed header")
	// ErrWrongType means the message is not of a type the decoder handles.
	ErrWrongType = errors.New("netlink: unexpected message type")
	// ErrBadAttr means an attribute's length is below its header or runs
	// past the message.
	ErrBadAttr = errors.New("netlink: attribute length out of bounds")
	// ErrDupAttr means an attribute the decoder uses appears twice.
	ErrDupAttr = errors.New("netlink: duplicate attribute")
	// ErrBadDst means NDA_DST is not 4 or 16 bytes, or does not match the
	// family.
	ErrBadDst = errors.New("netlink: NDA_DST length does not fit the family")
	// ErrLongLLAddr means NDA_LLADDR is longer than MaxLLAddr bytes.
	ErrLongLLAddr = errors.New("netlink: NDA_LLADDR longer than 8 bytes")
	// ErrBadProbes means NDA_PROBES is not 4 bytes.
	ErrBadProbes = errors.New("netlink: NDA_PROBES is not 4 bytes")
	// ErrBadIfName means IFLA_IFNAME is empty or longer than IfNameSize-1.
	ErrBadIfName = errors.New("netlink: IFLA_IFNAME empty or too long")
	// ErrBadAddr means IFA_LOCAL or IFA_ADDRESS of an AF_INET address is
	// not 4 bytes, or its prefix length is above 32.
	ErrBadAddr = errors.New("netlink: IPv4 IFA_LOCAL or IFA_ADDRESS is not 4 bytes, or prefix length above 32")
	// ErrBadAddrFlags means IFA_FLAGS is not 4 bytes.
	ErrBadAddrFlags = errors.New("netlink: IFA_FLAGS is not 4 bytes")
	// ErrShortBuffer means an encoder's output buffer is too small.
	ErrShortBuffer = errors.New("netlink: output buffer too small")
	// ErrBadInput means an encoder's input is out of range.
	ErrBadInput = errors.New("netlink: encoder input out of range")
)

// Errors that Conn.Recv returns for conditions the daemon must act on.
var (
	// ErrOverrun is ENOBUFS from recvmsg: the socket's receive queue
	// overflowed and the kernel dropped messages. The daemon re-dumps the
	// neighbour table.
	ErrOverrun = errors.New("netlink: receive queue overrun (ENOBUFS), messages lost")
	// ErrTruncated says a datagram was larger than the receive buffer and
	// its tail was lost; treat it like an overrun.
	ErrTruncated = errors.New("netlink: datagram truncated (MSG_TRUNC)")
	// ErrForeign says a datagram came from somewhere other than the
	// kernel (nl_pid not 0) and was dropped.
	ErrForeign = errors.New("netlink: datagram not from the kernel, dropped")
)
