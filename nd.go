package main

// The daemon's IPv6 wire side (SPEC §8): the neighbour-discovery messages
// it learns from, the checks their addresses must pass, and the Neighbor
// Solicitations it sends as probes and verifications.

import (
	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/frame"
)

// drainND handles the queued neighbour-discovery messages, at most max
// and whatever else the last system call received (the loop's poll cannot
// see what waits in user space).
func (d *daemon) drainND(max int) {
	f := &d.scratch.nd
	for i := 0; i < max || d.nd.Buffered() > 0; i++ {
		b, ll, err := d.nd.Recv()
		switch {
		case err == afpacket.ErrTruncated:
			d.dirty = true
			d.c.Add(ctrNDTruncated, 1)
			continue
		case err != nil:
			if err != unix.EAGAIN && err != unix.EINTR {
				d.log.logf(logErr, "neighbour discovery receive: %v", err)
			}
			return
		}
		d.ndFrame(f, b, ll)
	}
}

// ndFrame decodes into f the message b that arrived with link-layer
// address ll, counts it by verdict, and learns it if accepted. A message
// whose link-layer option is not its Ethernet source is reported (at most
// one line a minute, shared with ARP's).
func (d *daemon) ndFrame(f *frame.ND, b []byte, ll *unix.RawSockaddrLinklayer) {
	drop := frame.DecodeND(f, b, ll)
	d.dirty = true
	d.c.Add(ctrNDDropBase+int(drop), 1)
	switch {
	case drop == frame.NDDropNone:
		d.handleND(f)
	case drop == frame.NDDropEthMismatch && d.ifs.watched(ll.Ifindex):
		d.report(reportEthMismatch, ll.Ifindex, &cache.Key{}, [6]byte{}, [6]byte(ll.Addr[:6]))
	}
}

// handleND learns the binding an accepted neighbour-discovery message
// claims: a solicitation's source, an advertisement's target, a router
// advertisement's source (a router), each with the link-layer address of
// its option. An advertisement that answers the router (solicited, to one
// of its addresses) counts as the answer to a probe.
func (d *daemon) handleND(f *frame.ND) {
	if !d.ifs.watched(f.Ifindex) {
		d.c.Add(ctrOtherIf, 1)
		return
	}
	ip := f.Src
	if f.Type == frame.NDNeighborAdvert {
		ip = f.Target
	}
	if !d.senderOK6(f.Ifindex, ip, f.LLAddr) {
		return
	}
	e := cache.Entry{Key: cache.Key{Family: cache.FamilyIPv6, Ifindex: uint32(f.Ifindex), Addr: ip},
		Kind: cache.KindPositive, Source: cache.SourceND, LLLen: 6, Router: f.Router}
	copy(e.LLAddr[:], f.LLAddr[:])
	reply := f.Type == frame.NDNeighborAdvert && f.Solicited
	d.learn(&e, reply, f.Dst, f.Type != frame.NDNeighborSolicit)
}

// senderOK6 applies the checks that need the interfaces' addresses to the
// address ip that an accepted message on watched interface ifindex binds
// to mac, and reports whether it may be learned. As for ARP (senderOK), a
// message that claims one of the router's own addresses, or an address
// that is not on the interface's link (neither link-local nor in the
// prefix of one of its addresses), is refused, counted, and logged if due.
func (d *daemon) senderOK6(ifindex int32, ip [16]byte, mac [6]byte) bool {
	w := d.ifs.links[ifindex]
	k := cache.Key{Family: cache.FamilyIPv6, Addr: ip}
	switch {
	case d.ifs.ownAddr6(ip):
		d.refuseSender(reportOwnAddr, ctrNDOwnAddr, ifindex, k, mac)
		return false
	case w == nil || !w.addrs6.OnLink(ip):
		d.refuseSender(reportOffSubnet, ctrNDOffLink, ifindex, k, mac)
		return false
	}
	return true
}

// askND sends out of w a Neighbor Solicitation for k's address, from w's
// link-local address: to the address's solicited-node group, or with
// unicast to the address itself at the link-layer address dst.
func (d *daemon) askND(w *watchedIf, k *cache.Key, dst [6]byte, unicast bool) error {
	src, _ := w.addrs6.Source()
	to := k.Addr
	if !unicast {
		to, dst = frame.SolicitedNode(k.Addr)
	}
	frame.BuildNS(&d.scratch.ns, w.info.MAC, src, to, k.Addr)
	return d.ndProbes.Send(d.scratch.ns[:], w.info.Index, dst)
}

// openND opens the neighbour-discovery socket, bound to interface bind (0
// for all), and joins all multicast on every followed interface: other
// hosts' solicitations go to groups the router has not joined.
func (d *daemon) openND(bind int32) (err error) {
	if d.nd, err = afpacket.OpenND(bind, 0); err != nil {
		return err
	}
	d.ndProbes = d.nd
	for idx := range d.ifs.links {
		d.joinND(idx)
	}
	return nil
}

// joinND joins all multicast on interface idx for the ND socket, if there
// is one. A failure costs only the other hosts' solicitations, which are
// logged rather than fatal.
func (d *daemon) joinND(idx int32) {
	if d.nd == nil {
		return
	}
	if err := d.nd.JoinAllMulti(idx); err != nil {
		d.log.logf(logWarning, "all-multicast on interface %d: %v: solicitations between other hosts are not seen", idx, err)
	}
}

// reopenND binds a new ND socket to interface w, which came back with a
// new index, in place of the socket bound to the old one.
func (d *daemon) reopenND(w *watchedIf) {
	if d.nd != nil && d.reopenSocket(w, &d.nd, afpacket.OpenND, pollND) {
		d.ndProbes = d.nd
		d.joinND(w.index)
	}
}
