package main

// The verification of claims (issue 10, item 2; SPEC §9): a frame or a
// kernel notice that binds an address the cache holds to another MAC is a
// claim. The cache keeps serving the known MAC while the daemon asks it
// directly, with a unicast ARP request, under a limit of its own; the
// claim is refused if the known MAC answers within the window, and
// accepted if it stays silent. The tables are in claims.go.

import (
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
	"arpd/internal/rtnl"
)

// claimFrame handles an accepted frame that binds address k to mac, from
// a validated sender, k bound in the cache to known if haveKnown, and reports
// whether it is dealt with: a claim started,
// or one pending for k that the frame does not settle. A frame from the
// known MAC of a pending claim refuses it, and is then learned as usual
// (false).
func (d *daemon) claimFrame(k *cache.Key, mac, known [6]byte, haveKnown bool) bool {
	if p := d.claims.find(k); p != nil {
		if mac != p.known {
			return true // the claimant again, or a third MAC: nothing changes
		}
		d.refuse(p)
		return false
	}
	if !haveKnown || known == mac {
		return false
	}
	d.startClaim(k, known, mac, fromWire)
	return true
}

// claimNotice handles a kernel notice n with a link-layer address for k,
// and reports whether it is dealt with. A notice from the kernel itself
// (port 0) whose MAC differs from the cache's is a claim the kernel took
// (merged with a pending one for the same MAC). A notice from any other
// port (an administrator's change, or our own answer or put-back) is
// taken at once and ends a pending claim for k.
func (d *daemon) claimNotice(n *rtnl.Neigh, k *cache.Key) bool {
	mac := [6]byte(n.LLAddr[:6])
	p := d.claims.find(k)
	if n.Pid != 0 {
		if p != nil {
			d.claims.remove(p) // an administrator decided
		}
		return false
	}
	if p != nil {
		if mac == p.claimant {
			p.origin |= fromKernel
		}
		return mac != p.known
	}
	known, _, ok := d.knownBinding(k)
	if !ok || known == mac {
		return false
	}
	d.startClaim(k, known, mac, fromKernel)
	return true
}

// knownBinding returns the MAC of the cache's positive entry for k, if it
// has an Ethernet one, and whether it is a router's.
func (d *daemon) knownBinding(k *cache.Key) (mac [6]byte, router, ok bool) {
	e, ok := d.c.Lookup(k)
	if !ok || e.Kind != cache.KindPositive || e.LLLen != 6 {
		return mac, false, false
	}
	return [6]byte(e.LLAddr[:6]), e.Router, true
}

// startClaim verifies claimant's claim to k, whose known MAC is known: it
// takes a place in the table and sends the first unicast request to
// known. A claim that finds the table full, the verification limit spent
// or no way to send is dropped and counted: never accepted unverified.
func (d *daemon) startClaim(k *cache.Key, known, claimant [6]byte, origin claimOrigin) {
	now := d.monotonic()
	p := d.claims.add(k, known, claimant, origin, now)
	if p == nil {
		d.c.Add(ctrClaimsDropped, 1)
		return
	}
	if !d.tryClaim(p, now) {
		d.claims.remove(p)
		d.c.Add(ctrClaimsDropped, 1)
		return
	}
	d.c.Add(ctrClaimsStarted, 1)
}

// tryClaim sends claim p's next unicast request to its known MAC at
// monotonic time now, if the verification limit allows, and sets when the
// claim is due next: the second try claimRetry after the first, the
// verdict claimWindow after the first (and not sooner than half a retry
// after the last). The request asks the known MAC alone (the Ethernet
// destination) whether it still has the address, from the interface's
// MAC and the address probe would send from: an ARP request, or for IPv6
// a Neighbor Solicitation to the address itself (RFC 4861 7.2.2's
// unicast form).
func (d *daemon) tryClaim(p *claim, now time.Duration) bool {
	w, ok := d.asker(&p.key)
	if !ok || !d.claims.allowVerify(now) {
		return false
	}
	if err := d.ask(w, &p.key, p.known, true); err != nil {
		d.c.Add(ctrProbeErrors, 1)
		return false
	}
	p.tries++
	if p.tries < claimTries {
		p.due = p.started + claimRetry
	} else {
		p.due = max(p.started+claimWindow, now+claimRetry/2)
	}
	return true
}

// runClaims settles the claims due at monotonic time now: a second try
// for those with one left, acceptance for those whose known MAC stayed
// silent through the window.
func (d *daemon) runClaims(now time.Duration) {
	for p := d.claims.due(now); p != nil; p = d.claims.due(now) {
		d.dirty = true
		if p.tries >= claimTries {
			d.accept(p, now)
			continue
		}
		if !d.tryClaim(p, now) {
			d.claims.remove(p)
			d.c.Add(ctrClaimsDropped, 1)
		}
	}
}

// accept takes claim p at monotonic time now: the cache serves the claimant from now on, the
// change is logged and remembered, and a kernel that may still hold the
// known MAC is moved on to the new one.
func (d *daemon) accept(p *claim, now time.Duration) {
	e := cache.Entry{Key: p.key, Kind: cache.KindPositive, Source: cache.SourceARP, LLLen: 6}
	ctr := ctrArpChange
	if p.key.Family == cache.FamilyIPv6 {
		e.Source, ctr = cache.SourceND, ctrNDChange
	}
	if p.origin&fromKernel != 0 {
		e.Source, ctr = cache.SourceKernel, ctrKernChange
	}
	copy(e.LLAddr[:], p.claimant[:])
	if _, err := d.put(&e); err != nil {
		d.log.logf(logErr, "%v", err)
	}
	d.c.Add(ctr, 1)
	d.c.Add(ctrClaimsAccepted, 1)
	addr, known, claimant, ifname := d.claimWords(p)
	d.log.logf(logInfo, "%s moved from %s to %s on %s", addr, known, claimant, ifname)
	d.claims.remember(&p.key, p.known, now)
	if p.origin&fromKernel == 0 {
		// NB: no NLM_F_CREATE: only an entry the kernel has is moved on,
		// and ENOENT (it has none) is no error.
		d.replaceNeigh(&p.key, unix.NUD_STALE, p.claimant[:])
	}
	d.claims.remove(p)
}

// refuse refuses claim p: its known MAC answered. The known MAC stays in
// the cache; a kernel that took the claimant's MAC gets the known one
// back; the refusal is logged, at most once per address a minute.
func (d *daemon) refuse(p *claim) {
	d.dirty = true
	d.c.Add(ctrClaimsRefused, 1)
	if p.origin&fromKernel != 0 && d.replaceNeigh(&p.key, unix.NUD_REACHABLE, p.known[:]) {
		d.c.Add(ctrClaimsPutback, 1)
	}
	now := d.monotonic()
	if n, due := d.claims.noteRefusal(&p.key, now); due {
		kind := "conflict"
		if prev, ok := d.claims.previous(&p.key, now); ok && prev == p.claimant {
			kind = "flip flop"
		}
		addr, known, claimant, ifname := d.claimWords(p)
		d.log.logf(logWarning, "%s: %s: %s claims it, %s answers on %s%s",
			addr, kind, claimant, known, ifname, refusalCount(n))
	}
	d.claims.remove(p)
}

// claimWords returns claim p's address, known MAC, claimant and
// interface as the log lines name them.
//
// NB: not inlined: the formatting it holds, inlined into both callers,
// cost about 3 KB of the mips binary, which is close to its budget.
//
//go:noinline
func (d *daemon) claimWords(p *claim) (addr, known, claimant, ifname string) {
	ifindex := int32(p.key.Ifindex)
	return keyAddrString(&p.key), macString(p.known), macString(p.claimant), ifName(d.ifs.links[ifindex], ifindex)
}

// refusalCount is the end of a refusal line that stands for n refusals.
func refusalCount(n uint64) string {
	if n <= 1 {
		return ""
	}
	return fmtlite.Sprintf(" (%d claims refused since the last report)", n)
}

// replaceNeigh sends the kernel an RTM_NEWNEIGH replace (PutNeighReplace)
// for k with state and mac (6 bytes), and reports whether it went out. The kernel's
// ENOENT for it (no such entry) is expected: handleError ignores it.
func (d *daemon) replaceNeigh(k *cache.Key, state uint16, mac []byte) bool {
	n := &d.scratch.replace
	*n = rtnl.Neigh{Family: k.Family, Ifindex: int32(k.Ifindex), DstLen: 4, Dst: k.Addr}
	if k.Family == cache.FamilyIPv6 {
		n.DstLen = 16
	}
	out := d.answers.out
	seq := out.NextSeq()
	m, err := rtnl.PutNeighReplace(d.scratch.replaceMsg[:], seq, n, state, mac)
	if err == nil {
		err = out.Send(d.scratch.replaceMsg[:m])
	}
	if err != nil {
		d.c.Add(ctrAnswerErrors, 1)
		return false
	}
	d.claims.sentReplace(seq)
	return true
}
