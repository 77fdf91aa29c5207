package frame

// The reasons DecodeND drops a neighbour-discovery message, and their
// names in statistics.

import "arpd/internal/fmtlite"

// NDDrop says why a neighbour-discovery message was not accepted;
// NDDropNone means it was. Like Drop, the values are dense so that the
// daemon can keep one counter per value, indexed by it, and NDDropCount
// sizes that array.
type NDDrop uint8

// The drop reasons, in the order DecodeND checks them: a message with
// several faults is counted under the first.
//
// NB: the daemon keeps a counter per reason at a fixed place in its cache
// file, so a new reason goes at the end, just before NDDropCount.
const (
	NDDropNone           NDDrop = iota // accepted
	NDDropOutgoing                     // not received from the wire: the rule of Drop's DropOutgoing
	NDDropLink                         // the receiving interface is not Ethernet (sll_hatype ≠ ARPHRD_ETHER or sll_halen ≠ 6)
	NDDropShort                        // fewer than 44 bytes: no room for an IPv6 header and an ICMPv6 header
	NDDropVersion                      // the IP version is not 6
	NDDropNextHeader                   // the next header is not ICMPv6 (58); extension headers are not followed
	NDDropLength                       // the payload length says more bytes than arrived, or fewer than an ICMPv6 header
	NDDropHopLimit                     // the hop limit is not 255: the message was routed, so it is not from this link
	NDDropType                         // the ICMPv6 type is not Router Advertisement, Neighbor Solicitation or Neighbor Advertisement
	NDDropCode                         // the ICMPv6 code is not 0
	NDDropChecksum                     // the ICMPv6 checksum over the pseudo-header and the message is wrong
	NDDropBody                         // the message is too short for its type's fixed fields
	NDDropOption                       // an option has length 0, or the options do not end exactly at the message's end
	NDDropDAD                          // a Neighbor Solicitation from :: (duplicate address detection): it binds no address
	NDDropSource                       // the source cannot be a neighbour (::, ::1, multicast, IPv4-mapped), or a Router Advertisement's is not link-local
	NDDropTarget                       // the target of a solicitation or advertisement is ::, ::1, multicast or IPv4-mapped
	NDDropSolicitedMcast               // a Neighbor Advertisement with S=1 sent to a multicast destination
	NDDropNoLLAddr                     // no link-layer address option to learn from (SLLAO for NS and RA, TLLAO for NA)
	NDDropLLAddr                       // the link-layer address option is not 8 bytes, or its address is multicast, broadcast or zero
	NDDropEthMismatch                  // the link-layer address option is not the frame's Ethernet source (sll_addr)
	NDDropCount                        // the number of values above; not a reason
)

// ndDropNames are the names of the drop reasons in statistics lines:
// short, lower case, hyphenated, stable (the daemon names its counters
// "nd_drop_" and the name, and scripts read them).
var ndDropNames = [NDDropCount]string{
	NDDropNone:           "accepted",
	NDDropOutgoing:       "outgoing",
	NDDropLink:           "link",
	NDDropShort:          "short",
	NDDropVersion:        "version",
	NDDropNextHeader:     "next-header",
	NDDropLength:         "length",
	NDDropHopLimit:       "hop-limit",
	NDDropType:           "type",
	NDDropCode:           "code",
	NDDropChecksum:       "checksum",
	NDDropBody:           "body",
	NDDropOption:         "option",
	NDDropDAD:            "dad",
	NDDropSource:         "source",
	NDDropTarget:         "target",
	NDDropSolicitedMcast: "solicited-mcast",
	NDDropNoLLAddr:       "no-lladdr",
	NDDropLLAddr:         "lladdr",
	NDDropEthMismatch:    "eth-mismatch",
}

// String returns the reason's name for statistics, or "nd-drop(N)" for a
// value outside the enum.
func (d NDDrop) String() string {
	if d < NDDropCount {
		return ndDropNames[d]
	}
	return fmtlite.Sprintf("nd-drop(%d)", uint8(d))
}
