package main

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/frame"
	"arpd/internal/rtnl"
)

// The IPv6 side of the policy rig: lan0 has fe80::1 and 2001:db8::1/64.
var (
	ndLinkLocal = ip6("fe80::1")
	ndGlobal    = ip6("2001:db8::1")
	ndHostMAC   = [6]byte{2, 0, 0, 0, 0, 0x66}
	ndOtherMAC  = [6]byte{2, 0, 0, 0, 0, 0x77}
)

// fakeNDWire stands in for the ND socket: it decodes each solicitation the
// daemon sends, as the wire would carry it, and records it.
type fakeNDWire struct {
	sent  []sentNS
	quiet bool
}

// sentNS is one Neighbor Solicitation the daemon sent.
type sentNS struct {
	dstMAC [6]byte
	nd     frame.ND
}

func (f *fakeNDWire) Send(p []byte, ifindex int32, dst [6]byte) error {
	if f.quiet {
		return nil
	}
	ll := unix.RawSockaddrLinklayer{Ifindex: ifindex, Hatype: unix.ARPHRD_ETHER, Halen: 6, Pkttype: unix.PACKET_MULTICAST}
	copy(ll.Addr[:], p[frame.NSLen-6:]) // the SLLAO: the sender's MAC
	var s sentNS
	if r := frame.DecodeND(&s.nd, p, &ll); r != frame.NDDropNone || s.nd.Type != frame.NDNeighborSolicit || ifindex != 2 {
		return fmt.Errorf("not a valid solicitation on lan0: %v, type %d on %d", r, s.nd.Type, ifindex)
	}
	s.dstMAC = dst
	f.sent = append(f.sent, s)
	return nil
}

// newNDRig is the policy rig with IPv6 served on lan0.
func newNDRig(t testing.TB, active int) (*policyRig, *fakeNDWire) {
	r := newPolicyRig(t, active)
	nd := &fakeNDWire{}
	r.d.ndProbes = nd
	r.d.holds6 = newHoldTracker(256, testHasher())
	w := r.d.ifs.links[2]
	w.addrs6.Add(addr6("fe80::1", 64, 0))
	w.addrs6.Add(addr6("2001:db8::1", 64, 0))
	return r, nd
}

// request6 is the kernel's app_solicit request for addr on lan0.
func request6(addr [16]byte) *rtnl.Neigh {
	return &rtnl.Neigh{MsgType: unix.RTM_GETNEIGH, MsgFlags: unix.NLM_F_REQUEST, Family: unix.AF_INET6,
		Ifindex: 2, State: unix.NUD_INCOMPLETE, Type: unix.RTN_UNICAST, DstLen: 16, Dst: addr, HasProbes: true}
}

// na is an accepted Neighbor Advertisement on lan0 for target at mac.
func na(target [16]byte, mac [6]byte, solicited, router bool, dst [16]byte) *frame.ND {
	return &frame.ND{Ifindex: 2, Type: frame.NDNeighborAdvert, Src: target, Dst: dst, Target: target,
		LLAddr: mac, HasLLAddr: true, Solicited: solicited, Router: router}
}

// TestNDProbeSolicits: a request the cache cannot answer sends one
// Neighbor Solicitation to the address's solicited-node group, from the
// interface's link-local address, counted as an IPv6 probe; the solicited
// answer teaches the binding, which then answers the kernel.
func TestNDProbeSolicits(t *testing.T) {
	r, nd := newNDRig(t, 3)
	host := ip6("2001:db8::abcd:1234")
	r.handleNeigh(request6(host))
	if len(nd.sent) != 1 {
		t.Fatalf("%d solicitations, want 1", len(nd.sent))
	}
	s := nd.sent[0]
	group, groupMAC := frame.SolicitedNode(host)
	if s.nd.Target != host || s.nd.Src != ndLinkLocal || s.nd.Dst != group || s.dstMAC != groupMAC ||
		s.nd.LLAddr != r.d.ifs.links[2].info.MAC {
		t.Fatalf("solicitation %+v to %x; want target %x from %x to %x at %x", s.nd, s.dstMAC, host, ndLinkLocal, group, groupMAC)
	}
	if n := r.d.c.Counter(ctrProbesSent6); n != 1 || r.d.c.Counter(ctrAppRecv6) != 1 {
		t.Fatalf("probes_sent6 %d app_recv6 %d, want 1 and 1", n, r.d.c.Counter(ctrAppRecv6))
	}
	r.d.handleND(na(host, ndHostMAC, true, false, ndLinkLocal))
	r.handleNeigh(request6(host))
	want := string(host[:]) + "=" + string(ndHostMAC[:])
	if len(r.req.answers) != 1 || r.req.answers[0] != want {
		t.Fatalf("answers %q, want the learned MAC", r.req.answers)
	}
	if r.d.c.Counter(ctrNDNew) != 1 {
		t.Fatalf("nd_new %d, want 1", r.d.c.Counter(ctrNDNew))
	}
}

// TestNDRouterFlag: a host that advertised R=1 is answered with
// NTF_ROUTER; its later solicitation (which says nothing about routing)
// keeps the flag, and an NA with R=0 clears it.
func TestNDRouterFlag(t *testing.T) {
	r, _ := newNDRig(t, 3)
	rtr := ip6("fe80::99")
	r.d.handleND(na(rtr, ndHostMAC, false, true, ip6("ff02::1")))
	r.d.handleND(&frame.ND{Ifindex: 2, Type: frame.NDNeighborSolicit, Src: rtr, Dst: ndLinkLocal,
		Target: ndLinkLocal, LLAddr: ndHostMAC, HasLLAddr: true})
	r.handleNeigh(request6(rtr))
	if len(r.req.flags) != 1 || r.req.flags[0]&unix.NTF_ROUTER == 0 {
		t.Fatalf("answer flags %v, want NTF_ROUTER", r.req.flags)
	}
	r.clk.set(r.clk.now() + 120)
	r.d.handleND(na(rtr, ndHostMAC, false, false, ip6("ff02::1")))
	r.handleNeigh(request6(rtr))
	if len(r.req.flags) != 2 || r.req.flags[1]&unix.NTF_ROUTER != 0 {
		t.Fatalf("answer flags %v, want no NTF_ROUTER after R=0", r.req.flags)
	}
}

// TestNDSendersChecked: an address off the interface's link, or one of
// the router's own, is not learned, and each is counted.
func TestNDSendersChecked(t *testing.T) {
	r, _ := newNDRig(t, 3)
	off := ip6("2001:db9::5")
	r.d.handleND(na(off, ndHostMAC, false, false, ip6("ff02::1")))
	r.d.handleND(na(ndGlobal, ndHostMAC, false, false, ip6("ff02::1")))
	for _, a := range [][16]byte{off, ndGlobal} {
		k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: a}
		if _, ok := r.d.c.Lookup(&k); ok {
			t.Errorf("%x learned", a)
		}
	}
	if r.d.c.Counter(ctrNDOffLink) != 1 || r.d.c.Counter(ctrNDOwnAddr) != 1 {
		t.Fatalf("nd_off_link %d nd_own_addr %d, want 1 and 1", r.d.c.Counter(ctrNDOffLink), r.d.c.Counter(ctrNDOwnAddr))
	}
}

// TestNDClaimVerified: an advertisement that binds a cached IPv6 address
// to another MAC is a claim: the cache keeps the known MAC and asks it
// with a unicast solicitation to the address itself; the known MAC's
// answer refuses the claim.
func TestNDClaimVerified(t *testing.T) {
	r, nd := newNDRig(t, 3)
	host := ip6("2001:db8::7")
	r.d.handleND(na(host, ndHostMAC, false, false, ip6("ff02::1")))
	r.d.handleND(na(host, ndOtherMAC, false, false, ip6("ff02::1")))
	if len(nd.sent) != 1 {
		t.Fatalf("%d solicitations for the claim, want 1", len(nd.sent))
	}
	s := nd.sent[0]
	if s.dstMAC != ndHostMAC || s.nd.Dst != host || s.nd.Target != host {
		t.Fatalf("verification to %x (%x) for %x, want unicast to %x at the address", s.dstMAC, s.nd.Dst, s.nd.Target, ndHostMAC)
	}
	k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: host}
	if e, _ := r.d.c.Lookup(&k); [6]byte(e.LLAddr[:6]) != ndHostMAC {
		t.Fatalf("the cache serves %x during the claim, want the known MAC", e.LLAddr)
	}
	r.d.handleND(na(host, ndHostMAC, true, false, ndLinkLocal))
	if r.d.c.Counter(ctrClaimsRefused) != 1 {
		t.Fatalf("claims_refused %d, want 1", r.d.c.Counter(ctrClaimsRefused))
	}
}

// TestNDFamilies: with -4 the daemon leaves IPv6 requests to the kernel,
// with -6 IPv4 ones.
func TestNDFamilies(t *testing.T) {
	r, nd := newNDRig(t, 3)
	r.d.o.ipv4 = true
	r.handleNeigh(request6(ip6("2001:db8::8")))
	if len(nd.sent) != 0 || r.d.c.Counter(ctrAppRecv) != 0 {
		t.Fatalf("-4: %d solicitations, app_recv %d; want none", len(nd.sent), r.d.c.Counter(ctrAppRecv))
	}
	r.d.o.ipv4, r.d.o.ipv6 = false, true
	r.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
	if len(r.wire.targets) != 0 || r.d.c.Counter(ctrAppRecv) != 0 {
		t.Fatalf("-6: %d ARP probes, app_recv %d; want none", len(r.wire.targets), r.d.c.Counter(ctrAppRecv))
	}
}

// TestNDZeroAllocs: an IPv6 request answered from the cache, a probe and
// an advertisement learned allocate nothing.
func TestNDZeroAllocs(t *testing.T) {
	r, nd := newNDRig(t, 3)
	r.req.quiet, nd.quiet = true, true
	known, unknown := ip6("2001:db8::10"), ip6("2001:db8::11")
	r.d.handleND(na(known, ndHostMAC, false, false, ip6("ff02::1")))
	reqKnown, reqUnknown := request6(known), request6(unknown)
	adv := na(known, ndHostMAC, false, false, ip6("ff02::1"))
	if a := testing.AllocsPerRun(1000, func() {
		r.handleNeigh(reqKnown)
		r.handleNeigh(reqUnknown)
		r.d.handleND(adv)
	}); a != 0 {
		t.Fatalf("%v allocations per round, want 0", a)
	}
}

// TestNDClaimFlood: with -M 2, one MAC's advertisements bind two new
// addresses a minute and no more (nd_claim_flood), while its solicited
// answers to the router's probes are answers, not claims: a host with
// many addresses is still resolved.
func TestNDClaimFlood(t *testing.T) {
	r, _ := newNDRig(t, 3)
	r.d.o.claimsPerMinute = 2
	r.d.floods = newClaimLimiter(2, testHasher())
	r.d.bucket = newTokenBucket(100, 100) // every request probed
	var addrs [][16]byte
	for i := byte(1); i <= 3; i++ {
		a := ip6("2001:db8::100")
		a[15] = i
		addrs = append(addrs, a)
		r.d.handleND(na(a, ndOtherMAC, false, false, ip6("ff02::1")))
	}
	for i := byte(4); i <= 6; i++ {
		a := ip6("2001:db8::100")
		a[15] = i
		addrs = append(addrs, a)
		r.handleNeigh(request6(a))
		r.d.handleND(na(a, ndOtherMAC, true, false, ndLinkLocal))
	}
	for i, a := range addrs {
		k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: a}
		_, ok := r.d.c.Lookup(&k)
		if want := i != 2; ok != want {
			t.Errorf("address %d learned %v, want %v", i+1, ok, want)
		}
	}
	if n := r.d.c.Counter(ctrNDClaimFlood); n != 1 {
		t.Errorf("nd_claim_flood %d, want 1", n)
	}
}

// TestNDFrameFromBytes: a solicitation on the wire, as the ND socket
// delivers it, is decoded, counted as accepted and its source learned; the
// same bytes from another Ethernet source are counted as a mismatch and
// logged once a minute, and an off-link source is logged as such.
func TestNDFrameFromBytes(t *testing.T) {
	r, log := validateRig(t)
	r.d.holds6 = newHoldTracker(256, testHasher())
	r.d.ifs.links[2].addrs6.Add(addr6("fe80::1", 64, 0))
	host := ip6("fe80::5")
	var b [frame.NSLen]byte
	frame.BuildNS(&b, ndHostMAC, host, ndLinkLocal, ndLinkLocal)
	ll := unix.RawSockaddrLinklayer{Ifindex: 2, Hatype: unix.ARPHRD_ETHER, Halen: 6, Pkttype: unix.PACKET_HOST}
	copy(ll.Addr[:], ndHostMAC[:])
	var f frame.ND
	r.d.ndFrame(&f, b[:], &ll)
	k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: host}
	if e, ok := r.d.c.Lookup(&k); !ok || [6]byte(e.LLAddr[:6]) != ndHostMAC || e.Source != cache.SourceND {
		t.Fatalf("after the solicitation: %+v, %v; want its source learned from ND", e, ok)
	}
	if r.d.c.Counter(ctrNDDropBase+int(frame.NDDropNone)) != 1 {
		t.Fatalf("nd_accepted %d, want 1", r.d.c.Counter(ctrNDDropBase+int(frame.NDDropNone)))
	}
	copy(ll.Addr[:], ndOtherMAC[:])
	r.d.ndFrame(&f, b[:], &ll)
	r.d.ndFrame(&f, b[:], &ll)
	if n := r.d.c.Counter(ctrNDDropBase + int(frame.NDDropEthMismatch)); n != 2 {
		t.Fatalf("nd_drop_eth_mismatch %d, want 2", n)
	}
	want := "arpd: ethernet mismatch: 02:00:00:00:00:77 sent a neighbour-discovery message for another MAC on lan0: not learned\n"
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
	log.Reset()
	frame.BuildNS(&b, ndHostMAC, ip6("2001:db9::5"), ndLinkLocal, ndLinkLocal)
	copy(ll.Addr[:], ndHostMAC[:])
	r.d.ndFrame(&f, b[:], &ll)
	want = "arpd: 2001:db9::5 at 02:00:00:00:00:66 is not on the link of lan0: not learned\n"
	if log.String() != want || r.d.c.Counter(ctrNDOffLink) != 1 {
		t.Fatalf("log %q, nd_off_link %d; want %q and 1", log.String(), r.d.c.Counter(ctrNDOffLink), want)
	}
}
