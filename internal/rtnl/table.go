package rtnl

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The attributes of a neighbour table message (include/uapi/linux/
// neighbour.h); x/sys/unix does not define them.
const (
	ndtaName    = 1 // NDTA_NAME: the table's name, NUL-terminated
	ndtaThresh3 = 4 // NDTA_THRESH3: gc_thresh3, __u32
)

// ndtmsgLen is the size of struct ndtmsg: __u8 family, __u8 pad1,
// __u16 pad2.
const ndtmsgLen = 4

// NeighTable is what the daemon reads of an RTM_NEWNEIGHTBL message: the
// table's family and name, and its gc_thresh3 (the cap on its entries),
// which only the message for the table itself carries, not those for its
// interfaces' parameters.
type NeighTable struct {
	Family     uint8
	Name       [16]byte // "arp_cache", "ndisc_cache"; NUL-padded
	Thresh3    uint32
	HasThresh3 bool
}

// DecodeNeighTable decodes an RTM_NEWNEIGHTBL message into t. A name longer
// than 15 bytes or an NDTA_THRESH3 that is not 4 bytes is rejected with
// ErrBadAttr; other attributes (the parameters, the statistics) are
// skipped unread.
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
	family := d[0]
	a := attrs{b: d[ndtmsgLen:]}
	for {
		typ, val, ok, err := a.next()
		if !ok {
			if err == nil {
				t.Family = family
			} else {
				*t = NeighTable{}
			}
			return err
		}
		switch typ {
		case ndtaName:
			name := cString(val)
			if len(name) >= len(t.Name) {
				*t = NeighTable{}
				return ErrBadAttr
			}
			copy(t.Name[:], name)
		case ndtaThresh3:
			if len(val) != 4 {
				*t = NeighTable{}
				return ErrBadAttr
			}
			t.Thresh3, t.HasThresh3 = binary.NativeEndian.Uint32(val), true
		default:
			continue
		}
		if err := a.once(typ); err != nil {
			*t = NeighTable{}
			return err
		}
	}
}

// PutNeighTableDump writes into b a request to dump the neighbour tables
// of family (their parameters and thresholds), and returns its length.
func PutNeighTableDump(b []byte, seq uint32, family uint8) (int, error) {
	return putDump(b, seq, unix.RTM_GETNEIGHTBL, ndtmsgLen, family)
}
