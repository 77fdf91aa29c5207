package main

// The sender address of the daemon's own probes. The kernel's ARP code
// (arp_solicit, which calls inet_select_addr) sends a request from the
// interface's primary address whose subnet contains the target, or from
// the first primary address when none does. A router interface often has
// several subnets, so the daemon keeps every watched interface's IPv4
// addresses, from an RTM_GETADDR dump and the RTM_NEWADDR/RTM_DELADDR
// notifications, and makes the same choice for each probe without a system
// call.

import "encoding/binary"

// ifAddrMax is how many IPv4 addresses the daemon keeps per interface.
// Addresses past it are not kept and so never chosen; a router with more
// than 16 subnets on one port is not the case this daemon is built for.
const ifAddrMax = 16

// rtScopeLink is RT_SCOPE_LINK. Addresses with a wider scope number (host,
// nowhere) are never a probe's source, as in inet_select_addr.
const rtScopeLink = 253

// ifAddr is one IPv4 address of an interface.
type ifAddr struct {
	Local     [4]byte // IFA_LOCAL: the address, a probe's sender IP
	Peer      [4]byte // IFA_ADDRESS: the address, or the peer on a point-to-point link; the prefix is matched against it
	PrefixLen uint8
	Scope     uint8
	Secondary bool // IFA_F_SECONDARY: a further address in a primary's subnet
}

// same reports whether a and b are the same address to the kernel, which
// tells addresses apart by local address, prefix length and prefix.
func (a *ifAddr) same(b *ifAddr) bool {
	return a.Local == b.Local && a.PrefixLen == b.PrefixLen && a.Peer == b.Peer
}

// contains reports whether ip is in a's prefix (inet_ifa_match).
func (a *ifAddr) contains(ip [4]byte) bool {
	m := prefixMask(a.PrefixLen)
	return (binary.BigEndian.Uint32(ip[:])^binary.BigEndian.Uint32(a.Peer[:]))&m == 0
}

// prefixMask returns the netmask of a prefix length of at most 32.
func prefixMask(n uint8) uint32 {
	if n == 0 {
		return 0
	}
	return ^uint32(0) << (32 - uint32(min(n, 32)))
}

// ifAddrs is the set of one interface's IPv4 addresses, in the kernel's
// order: primary addresses by scope, the narrowest first (link before
// universe), each after those of the same scope that came before it, as
// __inet_insert_ifa orders its list; secondary addresses at the end.
// It is a fixed array, so the daemon's probe path reads it without
// allocating.
type ifAddrs struct {
	n int
	a [ifAddrMax]ifAddr
}

// Reset forgets every address.
func (t *ifAddrs) Reset() { t.n = 0 }

// Add adds a, or updates it when the set already holds the same address
// (a secondary promoted to primary is notified again as RTM_NEWADDR). It
// returns false when the set is full and a was not kept.
func (t *ifAddrs) Add(a ifAddr) bool {
	t.Delete(&a)
	if t.n == ifAddrMax {
		return false
	}
	// NB: the kernel puts a new primary after the last primary whose
	// scope number is at least the new one's (RT_SCOPE_LINK is 253,
	// RT_SCOPE_UNIVERSE 0: a link-scope address goes before universe
	// ones, which changes what the fallback is), and a secondary at the
	// end. The lab test TestLabNetlinkAddrCapture sees this order.
	at := t.n
	if !a.Secondary {
		at = 0
		for i := 0; i < t.n; i++ {
			if !t.a[i].Secondary && t.a[i].Scope >= a.Scope {
				at = i + 1
			}
		}
	}
	copy(t.a[at+1:t.n+1], t.a[at:t.n])
	t.a[at] = a
	t.n++
	return true
}

// Delete removes a if the set holds it.
func (t *ifAddrs) Delete(a *ifAddr) {
	for i := 0; i < t.n; i++ {
		if t.a[i].same(a) {
			copy(t.a[i:t.n-1], t.a[i+1:t.n])
			t.n--
			t.a[t.n] = ifAddr{}
			return
		}
	}
}

// Contains reports whether ip is in the prefix of one of the addresses,
// primary or secondary: on one of the interface's subnets.
func (t *ifAddrs) Contains(ip [4]byte) bool {
	for i := 0; i < t.n; i++ {
		if t.a[i].contains(ip) {
			return true
		}
	}
	return false
}

// HasLocal reports whether ip is one of the addresses themselves.
func (t *ifAddrs) HasLocal(ip [4]byte) bool {
	for i := 0; i < t.n; i++ {
		if t.a[i].Local == ip {
			return true
		}
	}
	return false
}

// Source returns the sender IP for a probe of target, chosen as the kernel
// chooses it (inet_select_addr with RT_SCOPE_LINK): the first primary
// address of at most link scope whose prefix contains target, else the
// first such primary address at all. Secondary addresses are never chosen:
// a secondary is by definition in the subnet of a primary. ok is false
// when the interface has no usable address.
func (t *ifAddrs) Source(target [4]byte) (src [4]byte, ok bool) {
	for i := 0; i < t.n; i++ {
		a := &t.a[i]
		if a.Secondary || a.Scope > rtScopeLink {
			continue
		}
		if a.contains(target) {
			return a.Local, true
		}
		if !ok {
			src, ok = a.Local, true
		}
	}
	return src, ok
}
