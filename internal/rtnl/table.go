package rtnl

// Neighbour table messages: the tables' thresholds and per-device
// parameters read from an RTM_GETNEIGHTBL dump, and RTM_SETNEIGHTBL, which
// sets a device's app_probes and mcast_probes (the values /proc/sys shows
// as app_solicit and mcast_solicit) without a writable /proc/sys.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The attributes of a neighbour table message (include/uapi/linux/
// neighbour.h); x/sys/unix does not define them.
const (
	ndtaName    = 1 // NDTA_NAME: the table's name, NUL-terminated
	ndtaThresh3 = 4 // NDTA_THRESH3: gc_thresh3, __u32
	ndtaParms   = 6 // NDTA_PARMS: one set of parameters, nested NDTPA_*
)

// The attributes nested in NDTA_PARMS that the daemon uses.
const (
	ndtpaIfindex     = 1  // NDTPA_IFINDEX: __u32; absent from a table's defaults
	ndtpaAppProbes   = 9  // NDTPA_APP_PROBES: __u32, the sysctl app_solicit
	ndtpaMcastProbes = 11 // NDTPA_MCAST_PROBES: __u32, the sysctl mcast_solicit
)

// ndtmsgLen is the size of struct ndtmsg: __u8 family, __u8 pad1,
// __u16 pad2.
const ndtmsgLen = 4

// NeighTable is what the daemon reads of an RTM_NEWNEIGHTBL message: the
// table's family and name, its gc_thresh3 (the cap on its entries), which
// only the message for the table itself carries, and the app and mcast
// probes of the parameters the message holds: the table's defaults
// (Ifindex 0) or one device's.
//
// NB: a dump from a network namespace other than the first holds one
// message per table with the first namespace's defaults and thresholds,
// then one per device of the dumping namespace only.
type NeighTable struct {
	Family     uint8
	Name       [16]byte // "arp_cache", "ndisc_cache"; NUL-padded
	Thresh3    uint32
	HasThresh3 bool

	Ifindex     int32  // NDTPA_IFINDEX; 0 for the table's defaults
	AppProbes   uint32 // NDTPA_APP_PROBES, valid when HasProbes
	McastProbes uint32 // NDTPA_MCAST_PROBES, valid when HasProbes
	HasProbes   bool   // NDTA_PARMS carried both probes
}

// TableName returns the table's name without its NUL padding, aliasing t.
func (t *NeighTable) TableName() []byte { return cString(t.Name[:]) }

// DecodeNeighTable decodes an RTM_NEWNEIGHTBL message into t. A name longer
// than 15 bytes, or an NDTA_THRESH3 or a used NDTPA_* that is not 4 bytes,
// is rejected with ErrBadAttr, a repeated one with ErrDupAttr; other
// attributes (the statistics, the other parameters) are skipped unread.
// On error t is left empty.
//
// NB: the gc thresholds are global, not per network namespace, and a
// network namespace other than the first has no
// /proc/sys/net/ipv4/neigh/default to read them from; this message is how
// a daemon in one learns them.
func DecodeNeighTable(m *Msg, t *NeighTable) error {
	*t = NeighTable{}
	d, err := payload(m, m.Type == unix.RTM_NEWNEIGHTBL, ndtmsgLen)
	if err != nil {
		return err
	}
	if err := decodeTableAttrs(d[ndtmsgLen:], t); err != nil {
		*t = NeighTable{}
		return err
	}
	t.Family = d[0]
	return nil
}

// decodeTableAttrs decodes the attributes b of a neighbour table message
// into t.
func decodeTableAttrs(b []byte, t *NeighTable) error {
	a := attrs{b: b}
	for {
		typ, val, ok, err := a.next()
		if !ok {
			return err
		}
		switch typ {
		case ndtaName:
			name := cString(val)
			if len(name) >= len(t.Name) {
				return ErrBadAttr
			}
			copy(t.Name[:], name)
		case ndtaThresh3:
			if len(val) != 4 {
				return ErrBadAttr
			}
			t.Thresh3, t.HasThresh3 = binary.NativeEndian.Uint32(val), true
		case ndtaParms:
			if err := decodeParms(val, t); err != nil {
				return err
			}
		default:
			continue
		}
		if err := a.once(typ); err != nil {
			return err
		}
	}
}

// decodeParms decodes the NDTPA_* attributes b nested in NDTA_PARMS into
// t.
func decodeParms(b []byte, t *NeighTable) error {
	a := attrs{b: b}
	var app, mcast bool
	for {
		typ, val, ok, err := a.next()
		if !ok {
			t.HasProbes = err == nil && app && mcast
			return err
		}
		if typ != ndtpaIfindex && typ != ndtpaAppProbes && typ != ndtpaMcastProbes {
			continue
		}
		if len(val) != 4 {
			return ErrBadAttr
		}
		if err := a.once(typ); err != nil {
			return err
		}
		v := binary.NativeEndian.Uint32(val)
		switch typ {
		case ndtpaIfindex:
			t.Ifindex = int32(v)
		case ndtpaAppProbes:
			t.AppProbes, app = v, true
		default:
			t.McastProbes, mcast = v, true
		}
	}
}

// PutNeighTableDump writes into b a request to dump the neighbour tables
// of family (their parameters and thresholds), and returns its length.
func PutNeighTableDump(b []byte, seq uint32, family uint8) (int, error) {
	return putDump(b, seq, unix.RTM_GETNEIGHTBL, ndtmsgLen, family)
}

// NeighParams are the parameters of one device in one neighbour table
// that PutNeighParams sets: app_probes always, mcast_probes when
// SetMcast.
type NeighParams struct {
	Ifindex     int32
	AppProbes   uint32
	McastProbes uint32
	SetMcast    bool
}

// NeighParamsMsgMax is the size of the largest message PutNeighParams
// writes: a header, an ndtmsg, NDTA_NAME of at most 16 bytes and NDTA_PARMS
// holding three 4-byte attributes.
const NeighParamsMsgMax = headerLen + ndtmsgLen + (attrHeaderLen + 16) + attrHeaderLen + 3*(attrHeaderLen+4)

// paramsFlags are the netlink header flags of PutNeighParams's message:
// those `ip ntable change` sends. NLM_F_ACK makes the kernel answer a
// success too, so that the daemon knows the value is set before it goes
// on; the kernel ignores NLM_F_REPLACE for this message.
const paramsFlags = unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_REPLACE

// PutNeighParams writes into b an RTM_SETNEIGHTBL message that sets p in
// the neighbour table called table ("arp_cache" or "ndisc_cache"), and
// returns its length. The message is byte for byte the one `ip ntable
// change name TABLE dev IF app_probes N mcast_probes M` sends: family
// AF_UNSPEC (the name chooses the table), the name with its NUL, then
// NDTA_PARMS with the index and the probes. An empty or longer than 15
// bytes table name, or an index below 1, is ErrBadInput.
func PutNeighParams(b []byte, seq uint32, table string, p *NeighParams) (int, error) {
	if len(table) == 0 || len(table) > 15 || p.Ifindex < 1 {
		return 0, ErrBadInput
	}
	parms := attrHeaderLen + 2*(attrHeaderLen+4)
	if p.SetMcast {
		parms += attrHeaderLen + 4
	}
	nameEnd := headerLen + ndtmsgLen + align(attrHeaderLen+len(table)+1)
	n := nameEnd + parms
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	putHeader(b, n, unix.RTM_SETNEIGHTBL, paramsFlags, seq)
	clear(b[headerLen:nameEnd])
	// The name and its NUL, written in place (no string-to-slice copy).
	off := headerLen + ndtmsgLen
	binary.NativeEndian.PutUint16(b[off:], uint16(attrHeaderLen+len(table)+1))
	binary.NativeEndian.PutUint16(b[off+2:], ndtaName)
	copy(b[off+attrHeaderLen:], table)
	off = nameEnd
	// NB: NDTA_PARMS without NLA_F_NESTED, as ip sends it; the kernel
	// parses it as nested either way.
	binary.NativeEndian.PutUint16(b[off:], uint16(parms))
	binary.NativeEndian.PutUint16(b[off+2:], ndtaParms)
	off += attrHeaderLen
	var v [4]byte
	binary.NativeEndian.PutUint32(v[:], uint32(p.Ifindex))
	off = putAttr(b, off, ndtpaIfindex, v[:])
	binary.NativeEndian.PutUint32(v[:], p.AppProbes)
	off = putAttr(b, off, ndtpaAppProbes, v[:])
	if p.SetMcast {
		binary.NativeEndian.PutUint32(v[:], p.McastProbes)
		putAttr(b, off, ndtpaMcastProbes, v[:])
	}
	return n, nil
}
