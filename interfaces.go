package main

// The interfaces the daemon serves: those named on the command line, or
// every link the kernel reports, followed as they come, go, come back with
// a new index and change addresses.

import (
	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/rtnl"
)

// watchedIf is an interface the daemon serves: a named one, or, without
// names, any link the kernel reported.
type watchedIf struct {
	name   string
	index  int32 // 0 while the interface does not exist
	info   afpacket.Iface
	infoOK bool     // info holds its current MAC
	named  bool     // given on the command line (its sysctls are adjusted)
	addrs  ifAddrs  // its IPv4 addresses: where probes are sent from, and the subnets senders must be on
	addrs6 ifAddrs6 // its IPv6 addresses: the link-local source of solicitations, and the prefixes senders must be on
}

// resetAddrs forgets w's addresses of both families.
func (w *watchedIf) resetAddrs() {
	w.addrs.Reset()
	w.addrs6.Reset()
}

// interfaces is the set of interfaces the daemon serves.
type interfaces struct {
	named     []*watchedIf         // interfaces on the command line; none: all
	links     map[int32]*watchedIf // every watched interface that exists, by index
	addrFull  bool                 // an interface had more than ifAddrMax IPv4 addresses (logged once)
	addrFull6 bool                 // an interface had more than ifAddr6Max IPv6 addresses (logged once)
}

// watched reports whether the daemon serves interface ifindex.
func (s *interfaces) watched(ifindex int32) bool {
	if len(s.named) == 0 {
		return true
	}
	_, ok := s.links[ifindex]
	return ok
}

// ownAddr reports whether ip is an address of one of the interfaces the
// daemon follows: one of the router's own addresses.
func (s *interfaces) ownAddr(ip [4]byte) bool {
	for _, w := range s.links {
		if w.addrs.HasLocal(ip) {
			return true
		}
	}
	return false
}

// ownAddr6 reports whether ip is an IPv6 address of one of the interfaces
// the daemon follows: one of the router's own addresses.
func (s *interfaces) ownAddr6(ip [16]byte) bool {
	for _, w := range s.links {
		if w.addrs6.HasLocal(ip) {
			return true
		}
	}
	return false
}

// isNamed reports whether name was given on the command line.
func (s *interfaces) isNamed(name string) bool {
	return s.byName(name) != nil
}

// byName returns the named interface called name, or nil.
func (s *interfaces) byName(name string) *watchedIf {
	for _, w := range s.named {
		if w.name == name {
			return w
		}
	}
	return nil
}

// resetAddrs forgets every address, before a dump of them all.
func (s *interfaces) resetAddrs() {
	for _, w := range s.links {
		w.resetAddrs()
	}
}

// String describes the served interfaces for the log.
func (s *interfaces) String() string {
	if len(s.named) == 0 {
		return "all interfaces"
	}
	t := ""
	for i, w := range s.named {
		if i > 0 {
			t += " "
		}
		t += w.name
	}
	return t
}

// handleLink follows interfaces that appear, change index or go away.
func (d *daemon) handleLink(l *rtnl.Link) {
	idx := l.Ifindex
	if len(d.ifs.named) == 0 {
		d.anyLink(l)
		return
	}
	w := d.ifs.byName(string(l.IfName()))
	switch {
	case w == nil:
	case l.MsgType == unix.RTM_DELLINK:
		if w.index == idx {
			delete(d.ifs.links, idx)
			w.index, w.infoOK = 0, false
			w.resetAddrs()
			d.log.logf(logWarning, "interface %s is gone", w.name)
		}
	case w.index == idx:
		w.infoOK = false // its MAC may have changed
	default:
		d.newIndex(w, idx)
	}
}

// anyLink follows the links when every interface is served.
func (d *daemon) anyLink(l *rtnl.Link) {
	idx := l.Ifindex
	if l.MsgType == unix.RTM_DELLINK {
		delete(d.ifs.links, idx)
	} else if w := d.ifs.links[idx]; w == nil {
		d.ifs.links[idx] = &watchedIf{name: string(l.IfName()), index: idx}
		d.joinND(idx)
	} else if w.name != string(l.IfName()) {
		// A rename keeps the index and the addresses.
		w.name, w.infoOK = string(l.IfName()), false
	}
}

// newIndex takes named interface w, which appeared or came back, at its
// new index idx.
func (d *daemon) newIndex(w *watchedIf, idx int32) {
	if w.index != 0 {
		delete(d.ifs.links, w.index)
	}
	// NB: a new index is a new device: the addresses of the old one went
	// with it, and the new one's arrive as RTM_NEWADDR after this message.
	w.index, w.infoOK = idx, false
	w.resetAddrs()
	d.ifs.links[idx] = w
	if !d.ready {
		return // the initial link dump: newDaemon sets it up
	}
	d.log.logf(logInfo, "interface %s is back as index %d", w.name, idx)
	// NB: a new index is a new device, whose sysctls start from the
	// kernel's defaults and were never adjusted; the values saved for the
	// device that went away are no longer its originals. Forget them so
	// that adjustSysctls saves the new device's own (also when the
	// RTM_DELLINK was lost in an overrun).
	for _, family := range [...]uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if err := d.c.ClearOriginal(w.name, family); err != nil {
			d.log.logf(logErr, "%v", err)
		}
	}
	if err := adjustAllSysctls(d.c, d.params, w.name, d.o, d.log); err != nil {
		d.log.logf(logErr, "%v", err)
	}
	if len(d.ifs.named) != 1 {
		d.joinND(idx) // the sockets see every interface
	} else {
		if d.pkt != nil {
			d.reopenPacketSocket(w)
		}
		d.reopenND(w)
	}
	d.dumps.redo(dumpNeighs) // learn what the kernel already knows about it
}

// handleAddr keeps the address lists of the watched interfaces current,
// from the startup dump and the kernel's RTM_NEWADDR and RTM_DELADDR.
func (d *daemon) handleAddr(m *rtnl.Addr) {
	if !m.HasLocal && !m.HasAddress {
		return
	}
	w := d.ifs.links[m.Ifindex]
	if w == nil {
		return
	}
	switch m.Family {
	case unix.AF_INET:
		d.handleAddr4(w, m)
	case unix.AF_INET6:
		d.handleAddr6(w, m)
	}
}

// handleAddr4 applies the IPv4 address message m to w's addresses.
func (d *daemon) handleAddr4(w *watchedIf, m *rtnl.Addr) {
	a := ifAddr{Local: m.Local, Peer: m.Address, PrefixLen: m.PrefixLen, Scope: m.Scope,
		Secondary: m.Flags&unix.IFA_F_SECONDARY != 0}
	// NB: the kernel sends IFA_LOCAL and IFA_ADDRESS for every IPv4
	// address, equal unless the link is point-to-point; either alone
	// stands for both.
	if !m.HasLocal {
		a.Local = m.Address
	}
	if !m.HasAddress {
		a.Peer = m.Local
	}
	if m.MsgType == unix.RTM_DELADDR {
		w.addrs.Delete(&a)
		return
	}
	if !w.addrs.Add(a) && !d.ifs.addrFull {
		d.ifs.addrFull = true
		d.log.logf(logWarning, "interface %s has more than %d IPv4 addresses: probes are sent only from the first %d, and senders off their subnets are not learned", w.name, ifAddrMax, ifAddrMax)
	}
}

// handleAddr6 applies the IPv6 address message m to w's addresses.
func (d *daemon) handleAddr6(w *watchedIf, m *rtnl.Addr) {
	a := ifAddr6{Local: m.Local6, Peer: m.Address6, PrefixLen: m.PrefixLen, Flags: m.Flags}
	// NB: the kernel sends IFA_ADDRESS alone for an IPv6 address, and
	// IFA_LOCAL as well only for one with a peer; either alone stands for
	// both.
	if !m.HasLocal {
		a.Local = m.Address6
	}
	if !m.HasAddress {
		a.Peer = m.Local6
	}
	if m.MsgType == unix.RTM_DELADDR {
		w.addrs6.Delete(&a)
		return
	}
	if !w.addrs6.Add(a) && !d.ifs.addrFull6 {
		d.ifs.addrFull6 = true
		d.log.logf(logWarning, "interface %s has more than %d IPv6 addresses: the others are not the router's own to the daemon, and senders only on their prefixes are not learned", w.name, ifAddr6Max)
	}
}
