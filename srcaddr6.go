package main

// The IPv6 addresses of a watched interface. They give a Neighbor
// Solicitation its source (the interface's link-local address, as the
// kernel's ndisc_solicit takes it from ipv6_get_lladdr), tell which
// senders are on the interface's link, and which addresses are the
// router's own. They come, like the IPv4 ones, from an RTM_GETADDR dump and
// the RTM_NEWADDR/RTM_DELADDR notifications, and are read without a system
// call or an allocation.

import "golang.org/x/sys/unix"

// ifAddr6Max is how many IPv6 addresses the daemon keeps per interface:
// as many as the IPv4 ones, and the kernel's default
// net.ipv6.conf.*.max_addresses (16) for autoconfigured ones. Addresses
// past it are not kept.
const ifAddr6Max = 16

// ifAddr6 is one IPv6 address of an interface.
type ifAddr6 struct {
	Local     [16]byte // the address: IFA_LOCAL when present, else IFA_ADDRESS
	Peer      [16]byte // IFA_ADDRESS: the address, or the peer of a point-to-point address; the prefix is matched against it
	PrefixLen uint8
	Flags     uint32 // IFA_F_TENTATIVE, IFA_F_DADFAILED, IFA_F_OPTIMISTIC, ...
}

// notSource are the flags of an address that may not send a solicitation
// with a Source Link-Layer Address option: duplicate address detection
// has not finished (tentative, or optimistic: RFC 4429 forbids the
// option) or found another owner. The kernel's ndisc_solicit bans the
// same with ipv6_get_lladdr.
const notSource = unix.IFA_F_TENTATIVE | unix.IFA_F_OPTIMISTIC | unix.IFA_F_DADFAILED

// isLinkLocal6 reports whether ip is in fe80::/10.
func isLinkLocal6(ip *[16]byte) bool {
	return ip[0] == 0xfe && ip[1]&0xc0 == 0x80
}

// contains reports whether ip is in a's prefix.
func (a *ifAddr6) contains(ip *[16]byte) bool {
	n := int(min(a.PrefixLen, 128))
	full := n / 8
	for i := 0; i < full; i++ {
		if a.Peer[i] != ip[i] {
			return false
		}
	}
	if rest := n % 8; rest != 0 {
		m := byte(0xff) << (8 - rest)
		return (a.Peer[full]^ip[full])&m == 0
	}
	return true
}

// ifAddrs6 is the set of one interface's IPv6 addresses, in the order the
// kernel reported them. It is a fixed array, so that the daemon's per-frame
// checks read it without allocating.
type ifAddrs6 struct {
	n int
	a [ifAddr6Max]ifAddr6
}

// Reset forgets every address.
func (t *ifAddrs6) Reset() { t.n = 0 }

// Add adds a, or updates it in place when the set already holds the same
// address: the kernel notifies an address again as RTM_NEWADDR when its
// flags change, as when duplicate address detection ends and
// IFA_F_TENTATIVE goes. It returns false when the set is full and a was
// not kept.
func (t *ifAddrs6) Add(a ifAddr6) bool {
	// NB: the kernel tells an interface's IPv6 addresses apart by the
	// address alone (ipv6_add_addr refuses the same address with another
	// prefix length), so an update keeps the address's place.
	for i := 0; i < t.n; i++ {
		if t.a[i].Local == a.Local {
			t.a[i] = a
			return true
		}
	}
	if t.n == ifAddr6Max {
		return false
	}
	t.a[t.n] = a
	t.n++
	return true
}

// Delete removes a if the set holds it.
func (t *ifAddrs6) Delete(a *ifAddr6) {
	for i := 0; i < t.n; i++ {
		if t.a[i].Local == a.Local {
			copy(t.a[i:t.n-1], t.a[i+1:t.n])
			t.n--
			t.a[t.n] = ifAddr6{}
			return
		}
	}
}

// Source returns the source of the daemon's Neighbor Solicitations: the
// first link-local address (fe80::/10) that duplicate address detection
// has confirmed. ok is false when the interface has none (IPv6 disabled,
// or the link just came up and detection is still running).
func (t *ifAddrs6) Source() (src [16]byte, ok bool) {
	for i := 0; i < t.n; i++ {
		a := &t.a[i]
		if isLinkLocal6(&a.Local) && a.Flags&notSource == 0 {
			return a.Local, true
		}
	}
	return src, false
}

// OnLink reports whether a Neighbor Discovery sender ip may be learned on
// this interface: a link-local address, which is on every link, or an
// address in the prefix of one of the interface's addresses.
func (t *ifAddrs6) OnLink(ip [16]byte) bool {
	if isLinkLocal6(&ip) {
		return true
	}
	for i := 0; i < t.n; i++ {
		if t.a[i].contains(&ip) {
			return true
		}
	}
	return false
}

// HasLocal reports whether ip is one of the interface's own addresses,
// tentative ones included (the router is claiming them), but not those
// whose duplicate address detection failed: another host owns those.
func (t *ifAddrs6) HasLocal(ip [16]byte) bool {
	for i := 0; i < t.n; i++ {
		if t.a[i].Local == ip && t.a[i].Flags&unix.IFA_F_DADFAILED == 0 {
			return true
		}
	}
	return false
}
