// Package rtnl speaks rtnetlink (NETLINK_ROUTE) for arpd: it frames the
// messages of a datagram, decodes the kernel's neighbour, link, address and
// error messages, encodes the answer to the kernel's neighbour requests and
// the dump requests, and owns the socket.
//
// The codecs are pure functions over byte slices, tested byte for byte
// against captured kernel messages without root; only conn.go makes system
// calls. No decoder or encoder allocates: the daemon runs them for every
// message of a storm, on routers with little memory. Decoded values are
// fixed-size structs that keep no reference to the receive buffer, except
// where a field says it aliases it.
//
// Every integer of the netlink wire format is in host byte order
// (binary.NativeEndian); addresses inside attributes are in network order
// and are kept as bytes.
package rtnl
