package main

// What the daemon does with each event (SPEC §3): the kernel's requests
// and notices, and the ARP frames seen on the wire.

import (
	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/frame"
	"arpd/internal/rtnl"
)

// handleNeigh applies the policy to one neighbour message.
func (d *daemon) handleNeigh(n *rtnl.Neigh) {
	var k cache.Key
	switch {
	case n.Family == unix.AF_INET && n.DstLen == 4 && d.o.serves(cache.FamilyIPv4):
		k = cache.KeyV4(uint32(n.Ifindex), [4]byte(n.Dst[:4]))
	case n.Family == unix.AF_INET6 && n.DstLen == 16 && d.o.serves(cache.FamilyIPv6):
		k = cache.Key{Family: cache.FamilyIPv6, Ifindex: uint32(n.Ifindex), Addr: n.Dst}
	default:
		return // a family not served, or a bridge entry
	}
	if !d.ifs.watched(n.Ifindex) {
		d.c.Add(ctrOtherIf, 1)
		return
	}
	switch n.MsgType {
	case unix.RTM_GETNEIGH:
		// The kernel's app_solicit requests. Other RTM_GETNEIGH on the
		// group (VXLAN misses, for one) are not ours.
		if n.MsgFlags&unix.NLM_F_REQUEST == 0 || n.Type != unix.RTN_UNICAST {
			return
		}
		d.kernelRequest(n, &k)
	case unix.RTM_NEWNEIGH:
		if n.MsgFlags&unix.NLM_F_REQUEST != 0 || n.Type != unix.RTN_UNICAST || n.Flags&unix.NTF_PROXY != 0 {
			return
		}
		d.kernelNotice(n, &k)
	}
}

// kernelRequest answers the kernel's request to resolve k.
func (d *daemon) kernelRequest(n *rtnl.Neigh, k *cache.Key) {
	switch {
	case n.State&unix.NUD_INCOMPLETE != 0:
		d.c.Add(ctrAppRecv, 1)
		if k.Family == cache.FamilyIPv6 {
			d.c.Add(ctrAppRecv6, 1)
		}
		e, ok := d.c.Lookup(k)
		if ok && e.Kind == cache.KindPositive {
			// NB: a slice of d.scratch.ll, not of e: e would escape through
			// the answer and cost an allocation per request.
			d.scratch.ll = e.LLAddr
			if err := d.answers.add(n, d.scratch.ll[:e.LLLen], e.Router); err != nil {
				d.c.Add(ctrAnswerErrors, 1)
			}
			return
		}
		liveNegative := ok && e.Kind == cache.KindNegative && !d.c.Expired(&e)
		if liveNegative && int(e.Probes) >= d.o.active {
			// Known dead: fail the kernel's entry now rather than leave it
			// INCOMPLETE for app_solicit seconds, holding a table slot
			// and the packets queued on it.
			if err := d.answers.fail(n); err != nil {
				d.c.Add(ctrAnswerErrors, 1)
			}
			return
		}
		if d.o.active > 0 {
			d.probeOrFail(n, k, &e, liveNegative)
		}
	case n.State&unix.NUD_PROBE != 0:
		// Unicast probes of a known entry failed: the host may have
		// moved. Forget what we knew.
		if e, ok := d.c.Lookup(k); ok && e.Kind == cache.KindPositive {
			d.c.Add(ctrAppNeg, 1)
		}
		d.c.Delete(k)
	default:
		d.c.Add(ctrAppBad, 1)
	}
}

// probeOrFail probes for the address of k, the kernel's request n that
// the cache cannot answer (e is its live negative entry, if liveNegative).
//
// A request the rate limit cannot probe now is failed at once, as a dead
// address is: left INCOMPLETE it would hold one of the kernel's table
// slots for app_solicit seconds, which is how a scan fills the table.
// The sender's next packet asks again, and an address asked again within
// 2 to 4 s of such a refusal (a host that someone keeps sending to) may
// take any token, while a first request may only take the top quarter of
// the bucket: under a scan, first requests drain the bucket to three
// quarters and wait for it to refill above that, while the hosts asked
// again get the three quarters kept back.
func (d *daemon) probeOrFail(n *rtnl.Neigh, k *cache.Key, e *cache.Entry, liveNegative bool) {
	now := d.monotonic()
	keep := float64(3 * d.o.burst / 4)
	if d.asked.seen(k, now) {
		keep = 0
	}
	switch d.probe(k, keep) {
	case probeSent:
		if liveNegative {
			e.Probes++
			d.put(e) // keeps its timestamps: probing does not renew it
		}
	case probeLimited:
		d.asked.add(k, now)
		d.c.Add(ctrAppRefused, 1)
		if err := d.answers.fail(n); err != nil {
			d.c.Add(ctrAnswerErrors, 1)
		}
	}
}

// kernelNotice learns from a kernel notification or dump entry.
func (d *daemon) kernelNotice(n *rtnl.Neigh, k *cache.Key) {
	if n.State&unix.NUD_FAILED != 0 {
		// NB: an administrator's delete or flush also notifies FAILED,
		// with NDA_PROBES > 0 on this kernel; only the kernel's own
		// resolution failure (nlmsg_pid 0) means the host is dead.
		if !rtnl.ResolutionFailed(n) {
			d.c.Add(ctrFlushIgnored, 1)
			return
		}
		if e, ok := d.c.Lookup(k); ok && e.Kind == cache.KindNegative && !d.c.Expired(&e) {
			return // still dead; keep the probes already spent
		}
		e := cache.Entry{Key: *k, Kind: cache.KindNegative, Source: cache.SourceKernel}
		if r, err := d.put(&e); err == nil && r != cache.PutDropped {
			d.c.Add(ctrKernNeg, 1)
		}
		return
	}
	if n.LLAddrLen != 6 || n.State&^unix.NUD_NOARP == 0 || n.State&unix.NUD_INCOMPLETE != 0 {
		return
	}
	if n.Pid == 0 && d.floods.over([6]byte(n.LLAddr[:6]), d.monotonic()) {
		// The kernel took it from a flooding MAC's frame (a request
		// for our address): the kernel's entry is the kernel's, but
		// it is not kept.
		d.c.Add(ctrArpClaimFlood, 1)
		return
	}
	if d.claimNotice(n, k) {
		return // a claim the kernel took: verified before it is learned
	}
	e := cache.Entry{Key: *k, Kind: cache.KindPositive, Source: cache.SourceKernel, LLLen: 6,
		Router: k.Family == cache.FamilyIPv6 && n.Flags&unix.NTF_ROUTER != 0}
	copy(e.LLAddr[:], n.LLAddr[:6])
	switch r, _ := d.put(&e); r {
	case cache.PutNew:
		d.c.Add(ctrKernNew, 1)
	case cache.PutChanged:
		d.c.Add(ctrKernChange, 1)
	}
}

// handleFrame learns the sender of an accepted ARP frame, unless
// senderOK refuses it (learn does the rest).
func (d *daemon) handleFrame(f *frame.ARP) {
	if !d.ifs.watched(f.Ifindex) {
		d.c.Add(ctrOtherIf, 1)
		return
	}
	if !d.senderOK(f) {
		return
	}
	e := cache.Entry{Key: cache.KeyV4(uint32(f.Ifindex), f.SenderIP), Kind: cache.KindPositive, Source: cache.SourceARP, LLLen: 6}
	copy(e.LLAddr[:], f.SenderMAC[:])
	var to [16]byte
	copy(to[:], f.TargetIP[:])
	d.learn(&e, f.Op == frame.ARPOpReply, to, true)
}

// learn stores binding e, which an accepted frame from a validated sender
// claims, unless claimAllowed refuses it or it changes the MAC the cache
// binds the address to (claimFrame: verified first). reply says the frame
// is a reply (an ARP reply, a solicited advertisement) sent to address to
// of the same family, which makes it the answer to the router's question
// if to is one of the router's addresses (claimAllowed); saysRouter
// that the frame says whether its sender is a router (e.Router), else the
// flag the cache holds for the same MAC is kept. The cache is looked up
// once, for all of it.
func (d *daemon) learn(e *cache.Entry, reply bool, to [16]byte, saysRouter bool) {
	mac := [6]byte(e.LLAddr[:6])
	known, router, haveKnown := d.knownBinding(&e.Key)
	same := haveKnown && known == mac
	if !d.claimAllowed(&e.Key, mac, reply, to, same) {
		return
	}
	d.holdsOf(e.Family).release(&e.Key) // the kernel's entry is resolved too
	if d.claimFrame(&e.Key, mac, known, haveKnown) {
		return // a changed binding: verified before it is learned
	}
	if !saysRouter && same {
		e.Router = router
	}
	ctrNew, ctrChange := ctrArpNew, ctrArpChange
	if e.Family == cache.FamilyIPv6 {
		ctrNew, ctrChange = ctrNDNew, ctrNDChange
	}
	switch r, _ := d.put(e); r {
	case cache.PutNew:
		d.c.Add(ctrNew, 1)
	case cache.PutChanged:
		d.c.Add(ctrChange, 1)
	}
}

// claimAllowed reports whether a frame from mac may bind address k: yes
// when it refreshes the binding the cache holds, or answers the router
// about an address the daemon probed and has not heard from yet (a reply
// to to, one of the router's addresses), else when mac is within its
// claims a minute (-M). A refused claim is counted and logged at most once
// a minute.
//
// NB: the router's addresses are searched only when the cheaper checks
// leave the question open: most frames refresh a binding.
func (d *daemon) claimAllowed(k *cache.Key, mac [6]byte, reply bool, to [16]byte, refresh bool) bool {
	now := d.monotonic()
	if refresh || reply && d.holdsOf(k.Family).holding(k, now) && d.ownAddrOf(k.Family, to) {
		return true
	}
	if d.floods.allow(mac, now) {
		return true
	}
	ctr := ctrArpClaimFlood
	if k.Family == cache.FamilyIPv6 {
		ctr = ctrNDClaimFlood
	}
	d.c.Add(ctr, 1)
	d.report(reportClaimFlood, int32(k.Ifindex), k, mac, mac)
	return false
}

// keyAddrString returns k's address as text: dotted IPv4, or IPv6 in
// RFC 5952 form.
//
//go:noinline
func keyAddrString(k *cache.Key) string { return addrOf(k).String() }

// ownAddrOf reports whether to, an address of family, is one of the
// router's own.
func (d *daemon) ownAddrOf(family uint8, to [16]byte) bool {
	if family == cache.FamilyIPv6 {
		return d.ifs.ownAddr6(to)
	}
	return d.ifs.ownAddr([4]byte(to[:4]))
}

// holdsOf returns the hold tracker of family's kernel table.
func (d *daemon) holdsOf(family uint8) *holdTracker {
	if family == cache.FamilyIPv6 {
		return d.holds6
	}
	return d.holds
}
