// Package frame decodes and builds the frames arpd exchanges on the wire:
// ARP for IPv4 (DecodeARP, BuildARPProbe) and IPv6 neighbour discovery
// (DecodeND, BuildNS).
//
// It holds pure codecs over byte slices and fixed arrays: no system call,
// no allocation, so everything here is tested and fuzzed without root.
// Frames arrive as a SOCK_DGRAM AF_PACKET socket delivers them (package
// afpacket): the link-layer header stripped, and the kernel's link-layer
// address (struct sockaddr_ll) beside the payload. A decoder turns one into
// the facts the cache learns, or into the reason it was dropped (Drop for
// ARP, NDDrop for neighbour discovery, each counted by the daemon).
package frame

import (
	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// etherAddrLen is the length of an Ethernet address.
const etherAddrLen = 6

// BroadcastMAC is the Ethernet broadcast address, where probes go.
var BroadcastMAC = [etherAddrLen]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Drop says why a frame was not accepted; DropNone means it was. The
// daemon keeps one counter per value, indexed by it, so the values are
// dense and DropCount sizes the counter array.
type Drop uint8

// The drop reasons, in the order the decoders check them: a frame with
// several faults is counted under the first.
//
// NB: the daemon keeps a counter per reason at a fixed place in its cache
// file, so a new reason goes at the end, just before DropCount.
const (
	DropNone        Drop = iota // accepted
	DropOutgoing                // not received from the wire: PACKET_OUTGOING (our own frames looped back) or another non-receive pkttype
	DropLink                    // the receiving interface is not Ethernet (sll_hatype ≠ ARPHRD_ETHER or sll_halen ≠ 6)
	DropShort                   // fewer than 28 bytes
	DropHWType                  // ar_hrd is not Ethernet (1)
	DropProto                   // ar_pro is not IPv4 (0x0800)
	DropHLen                    // ar_hln is not 6
	DropPLen                    // ar_pln is not 4
	DropOp                      // ar_op is neither request (1) nor reply (2)
	DropDAD                     // sender IP 0.0.0.0: an address probe (RFC 5227), it binds no address
	DropSenderIP                // sender IP is not a unicast host address: 0/8, 127/8, 224/4 multicast, 255.255.255.255
	DropSenderMAC               // sender MAC is broadcast, multicast (group bit) or all zero
	DropEthMismatch             // sender MAC is not the frame's Ethernet source (sll_addr)
	DropCount                   // the number of values above; not a reason
)

// dropNames are the names of the drop reasons in statistics lines: short,
// lower case, no spaces, stable (scripts read them, and the daemon names
// its counters "drop_" and the name).
var dropNames = [DropCount]string{
	DropNone:        "accepted",
	DropOutgoing:    "outgoing",
	DropLink:        "link",
	DropShort:       "short",
	DropHWType:      "hwtype",
	DropProto:       "proto",
	DropHLen:        "hlen",
	DropPLen:        "plen",
	DropOp:          "op",
	DropDAD:         "dad",
	DropSenderIP:    "sender-ip",
	DropSenderMAC:   "sender-mac",
	DropEthMismatch: "eth-mismatch",
}

// String returns the reason's name for statistics, or "drop(N)" for a value
// outside the enum.
func (d Drop) String() string {
	if d < DropCount {
		return dropNames[d]
	}
	return fmtlite.Sprintf("drop(%d)", uint8(d))
}

// checkLink applies the rules every protocol shares to the link-layer
// address the kernel returned with a frame: the frame was received from
// the wire, on an Ethernet interface. It returns DropNone when both hold.
func checkLink(ll *unix.RawSockaddrLinklayer) Drop {
	switch ll.Pkttype {
	case unix.PACKET_HOST, unix.PACKET_BROADCAST, unix.PACKET_MULTICAST, unix.PACKET_OTHERHOST:
	default:
		return DropOutgoing
	}
	// NB: sll_hatype is in host byte order, unlike sll_protocol.
	if ll.Hatype != unix.ARPHRD_ETHER || ll.Halen != etherAddrLen {
		return DropLink
	}
	return DropNone
}
