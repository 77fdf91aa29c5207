package labtest_test

// The kernel's side of IPv6 neighbour discovery that the daemon relies on
// (SPEC §8), pinned in the lab: if a kernel behaves otherwise, these fail
// before the daemon's own tests do, and say which fact moved.

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// neighFor returns a matcher for neighbour messages about dst that also
// decodes the matched one into n.
func neighFor(t *testing.T, dst [16]byte, n *rtnl.Neigh, ok func(n *rtnl.Neigh) bool) func(m *rtnl.Msg) bool {
	return func(m *rtnl.Msg) bool {
		if m.Type != unix.RTM_GETNEIGH && m.Type != unix.RTM_NEWNEIGH {
			return false
		}
		var got rtnl.Neigh
		if err := rtnl.DecodeNeigh(m, &got); err != nil || got.Family != unix.AF_INET6 || [16]byte(got.Dst[:]) != dst {
			return false
		}
		if ok(&got) {
			*n = got
			return true
		}
		return false
	}
}

// TestKernel6AppSolicit: with app_solicit 3 (set over rtnetlink, as ip
// ntable does) and mcast_solicit 0, a datagram to an address nobody has
// makes the kernel send exactly 3 RTM_GETNEIGH requests, family AF_INET6,
// from port 0, state INCOMPLETE, type RTN_UNICAST, a 16-byte NDA_DST and
// no NDA_LLADDR, one every retrans_time_ms (200); then it notifies FAILED
// from port 0 with NDA_PROBES > 0, after app_solicit × retrans_time_ms,
// and puts no solicitation on the wire. The ndisc statistics, readable in
// the initial namespace only, count the failure.
func TestKernel6AppSolicit(t *testing.T) {
	t.Parallel()
	nl := labtest.NewNeighLab6(t, 1, 0)
	nl.IP(nl.Near, "ntable", "change", "name", "ndisc_cache", "dev", nl.NearIf, "app_probes", "3")
	if v := nl.ReadSysctl(nl.Near, labtest.Neigh6Key(nl.NearIf, "app_solicit")); v != 3 {
		t.Fatalf("ip ntable change name ndisc_cache app_probes 3: app_solicit reads %d", v)
	}
	if _, err := nl.Exec(nl.Near, "cat", "/proc/net/stat/ndisc_cache"); err == nil {
		t.Errorf("/proc/net/stat/ndisc_cache exists inside a lab namespace; NdiscStats says it does not")
	}
	before := nl.NdiscStats()
	far := nl.WatchND(nl.Far, nl.FarIf)
	dead := labtest.Host6(0x99)

	sent := time.Now()
	nl.SendUDP6From(nl.Near, dead, 9, nil)
	var reqs []time.Duration
	var failed time.Duration
	for failed == 0 && len(reqs) < 10 {
		var n rtnl.Neigh
		nl.Await(3*time.Second, "a request or FAILED for "+labtest.IP6String(dead), neighFor(t, dead, &n, func(n *rtnl.Neigh) bool {
			return n.MsgType == unix.RTM_GETNEIGH || n.State == unix.NUD_FAILED
		}))
		at := time.Since(sent)
		if n.MsgType == unix.RTM_NEWNEIGH {
			failed = at
			if !rtnl.ResolutionFailed(&n) {
				t.Errorf("the FAILED notice is not a resolution failure by the kernel's timer: %+v", n)
			}
			continue
		}
		reqs = append(reqs, at)
		if n.MsgFlags&unix.NLM_F_REQUEST == 0 || n.Pid != 0 || n.State != unix.NUD_INCOMPLETE ||
			n.Type != unix.RTN_UNICAST || n.DstLen != 16 || n.LLAddrLen != 0 || !n.HasProbes || n.Ifindex != nl.NearIndex {
			t.Errorf("request %d: %+v; want NLM_F_REQUEST, port 0, INCOMPLETE, RTN_UNICAST, 16-byte dst, no lladdr, NDA_PROBES, ifindex %d", len(reqs), n, nl.NearIndex)
		}
	}
	t.Logf("requests at %v, FAILED at %v", reqs, failed)
	if len(reqs) != 3 {
		t.Errorf("%d requests before FAILED, want app_solicit = 3", len(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i] - reqs[i-1]; gap < 150*time.Millisecond || gap > 800*time.Millisecond {
			t.Errorf("request %d came %v after the one before, want about retrans_time_ms = 200 ms", i+1, gap)
		}
	}
	if failed < 500*time.Millisecond || failed > 2500*time.Millisecond {
		t.Errorf("FAILED after %v, want about app_solicit × retrans_time_ms = 600 ms", failed)
	}
	if ns := labtest.Solicits(far.Poll(), dead); len(ns) != 0 {
		t.Errorf("%d solicitations for %s on the wire with mcast_solicit 0: %+v", len(ns), labtest.IP6String(dead), ns)
	}
	after := nl.NdiscStats()
	if after["res_failed"] < before["res_failed"]+1 {
		t.Errorf("ndisc res_failed went from %d to %d, want at least one more", before["res_failed"], after["res_failed"])
	}
}

// TestKernel6Answer: the answer to an AF_INET6 request is the same
// RTM_NEWNEIGH as for IPv4 (STALE, NDA_LLADDR, NLM_F_REQUEST alone): the
// kernel takes it, sends the datagram it queued at once, and has sent no
// multicast solicitation of its own (mcast_solicit 0).
func TestKernel6Answer(t *testing.T) {
	t.Parallel()
	nl := labtest.NewNeighLab6(t, 1, 0)
	// NB: the entry must still be INCOMPLETE when the answer comes: an
	// answer to a FAILED entry is taken, but its datagram is gone. A
	// whole second for it, as a loaded machine may need.
	nl.Sysctl(nl.Near, labtest.Neigh6Key(nl.NearIf, "retrans_time_ms"), "1000")
	host := labtest.Host6(5)
	nl.AddAddr6(nl.Far, nl.FarIf, true, host)
	u := nl.ListenUDP6(nl.Far, host, 7601)
	far := nl.WatchND(nl.Far, nl.FarIf)

	nl.SendUDP6From(nl.Near, host, 7601, []byte("v6"))
	var req rtnl.Neigh
	nl.Await(3*time.Second, "the request for "+labtest.IP6String(host), neighFor(t, host, &req, func(n *rtnl.Neigh) bool {
		return n.MsgType == unix.RTM_GETNEIGH
	}))
	if got := nl.Neigh6(nl.Near, nl.NearIf, host); got.State != "INCOMPLETE" {
		t.Fatalf("near entry while the kernel asks: %q, want INCOMPLETE", got.Line)
	}
	b := make([]byte, rtnl.NeighMsgMax)
	n, err := rtnl.PutNeighAnswer(b, nl.Conn.NextSeq(), &req, labtest.NeighFarMAC[:])
	if err != nil {
		t.Fatal(err)
	}
	nl.Send(b[:n])
	if got, ok := u.Recv(3 * time.Second); !ok || string(got) != "v6" {
		t.Fatalf("the host got %q (%v) after the answer; near %q", got, ok, nl.Neigh6(nl.Near, nl.NearIf, host).Line)
	}
	got := nl.Neigh6(nl.Near, nl.NearIf, host)
	if got.MAC != labtest.MACString(labtest.NeighFarMAC) || got.Router {
		t.Errorf("near entry after the answer %q, want lladdr %s, no router flag", got.Line, labtest.MACString(labtest.NeighFarMAC))
	}
	for _, s := range labtest.Solicits(far.Poll(), host) {
		if s.Dst == labtest.SolicitedNode(host) {
			t.Errorf("a multicast solicitation with mcast_solicit 0: %+v", s)
		}
	}
}

// TestKernel6Solicitation: what the kernel's own solicitation looks like
// on the wire (mcast_solicit 3, no app_solicit): hop limit 255, to the
// target's solicited-node group, from the source address of the datagram
// that needs it (not the link-local address), with the sender's MAC as
// SLLAO; and the far host's answer, a solicited Neighbor Advertisement
// (S and O, not R) unicast back, with its MAC as TLLAO.
func TestKernel6Solicitation(t *testing.T) {
	t.Parallel()
	nl := labtest.NewNeighLab6(t, 0, 3)
	host := labtest.Host6(6)
	nl.AddAddr6(nl.Far, nl.FarIf, true, host)
	far := nl.WatchND(nl.Far, nl.FarIf)

	nl.SendUDP6From(nl.Near, host, 9, nil)
	seen, ok := far.Wait(3*time.Second, func(n labtest.ND) bool { return n.Type == labtest.NDNeighAdvert && n.Target == host })
	if !ok {
		t.Fatalf("no advertisement for %s; seen %+v; near %q", labtest.IP6String(host), seen, nl.Neigh6(nl.Near, nl.NearIf, host).Line)
	}
	ns := labtest.Solicits(seen, host)
	if len(ns) == 0 {
		t.Fatalf("an advertisement without a solicitation: %+v", seen)
	}
	s, na := ns[0], seen[len(seen)-1]
	if s.HopLimit != 255 || s.Code != 0 || s.Dst != labtest.SolicitedNode(host) || s.Src != labtest.NearIP6 ||
		!s.HasLLAddr || s.LLAddr != labtest.NeighNearMAC || s.PktType != unix.PACKET_MULTICAST {
		t.Errorf("the kernel's solicitation: %+v; want hop limit 255, code 0, to %s, from %s, SLLAO %s, multicast",
			s, labtest.IP6String(labtest.SolicitedNode(host)), labtest.IP6String(labtest.NearIP6), labtest.MACString(labtest.NeighNearMAC))
	}
	if na.HopLimit != 255 || na.Src != host || na.Dst != labtest.NearIP6 || na.PktType != unix.PACKET_OUTGOING ||
		na.Flags != labtest.NAFlagSolicited|labtest.NAFlagOverride || !na.HasLLAddr || na.LLAddr != labtest.NeighFarMAC {
		t.Errorf("the host's advertisement: %+v; want hop limit 255, from the host to %s, flags S|O, TLLAO %s",
			na, labtest.IP6String(labtest.NearIP6), labtest.MACString(labtest.NeighFarMAC))
	}
	if got := nl.Neigh6(nl.Near, nl.NearIf, host); got.MAC != labtest.MACString(labtest.NeighFarMAC) {
		t.Errorf("near entry %q, want lladdr %s", got.Line, labtest.MACString(labtest.NeighFarMAC))
	}
}

// TestKernel6FarAnswers: which far addresses the far kernel answers
// solicitations for. An address it has (nodad) is answered; one it only
// routes as local (ip -6 route add local ... dev lo) is not, unlike an
// address; a proxy entry (ip -6 neigh add proxy, per address) is answered
// only with forwarding on (and R set only if the proxy entry says
// router). So a test gives the far side its hosts as addresses, with
// AddAddr6. An address on the far side's loopback is not answered on
// vfar either, though datagrams to it arrive: that silences a host.
func TestKernel6FarAnswers(t *testing.T) {
	t.Parallel()
	nl := labtest.NewNeighLab6(t, 0, 3)
	owned, routed, proxied, onLo := labtest.Host6(0x101), labtest.Host6(0x201), labtest.Host6(0x301), labtest.Host6(0x401)
	nl.AddAddr6(nl.Far, nl.FarIf, true, owned)
	nl.AddAddr6(nl.Far, "lo", true, onLo)
	nl.IP(nl.Far, "-6", "route", "add", "local", labtest.IP6String(labtest.Host6(0x200))+"/120", "dev", "lo")
	nl.Sysctl(nl.Far, "net/ipv6/conf/"+nl.FarIf+"/proxy_ndp", "1")
	nl.IP(nl.Far, "-6", "neigh", "add", "proxy", labtest.IP6String(proxied), "dev", nl.FarIf)

	resolve := func(a [16]byte) labtest.Neigh6 {
		nl.SendUDP6From(nl.Near, a, 9, nil)
		var n labtest.Neigh6
		labtest.WaitFor(3*time.Second, func() bool {
			n = nl.Neigh6(nl.Near, nl.NearIf, a)
			return n.State != "INCOMPLETE"
		})
		return n
	}
	if n := resolve(owned); n.MAC != labtest.MACString(labtest.NeighFarMAC) || n.Router {
		t.Errorf("an address of the far side: %q, want lladdr %s", n.Line, labtest.MACString(labtest.NeighFarMAC))
	}
	if n := resolve(routed); n.State != "FAILED" {
		t.Errorf("an address the far side routes as local: %q, want FAILED", n.Line)
	}
	if n := resolve(proxied); n.State != "FAILED" {
		t.Errorf("a proxy entry without forwarding: %q, want FAILED", n.Line)
	}
	if n := resolve(onLo); n.State != "FAILED" {
		t.Errorf("an address on the far side's lo: %q, want FAILED", n.Line)
	}
	u := nl.ListenUDP6(nl.Far, onLo, 7602)
	nl.IP(nl.Near, "-6", "neigh", "replace", labtest.IP6String(onLo), "lladdr", labtest.MACString(labtest.NeighFarMAC), "dev", nl.NearIf, "nud", "stale")
	nl.SendUDP6From(nl.Near, onLo, 7602, []byte("lo"))
	if got, ok := u.Recv(3 * time.Second); !ok || string(got) != "lo" {
		t.Errorf("a datagram to the address on the far side's lo, sent to its MAC: got %q (%v)", got, ok)
	}
	nl.Sysctl(nl.Far, "net/ipv6/conf/all/forwarding", "1")
	nl.IP(nl.Near, "-6", "neigh", "del", labtest.IP6String(proxied), "dev", nl.NearIf)
	// NB: a proxy answers after a random delay of up to proxy_delay
	// (0.8 s); the near kernel solicits three times, 200 ms apart.
	nl.Sysctl(nl.Far, "net/ipv6/neigh/"+nl.FarIf+"/proxy_delay", "0")
	if n := resolve(proxied); n.MAC != labtest.MACString(labtest.NeighFarMAC) || n.Router {
		t.Errorf("a proxy entry with forwarding: %q, want lladdr %s, no router", n.Line, labtest.MACString(labtest.NeighFarMAC))
	}
}

// TestKernel6FarAnnounces: what a far host sends of itself when it takes
// an address, which the daemon must tell apart. With duplicate address
// detection, a solicitation from :: to the address's solicited-node group
// with no SLLAO, hop limit 255; then, with ndisc_notify=1, once the
// detection has passed (retrans_time_ms, 1 s, later), an unsolicited
// Neighbor Advertisement to ff02::1 with O alone, TLLAO and hop limit 255.
// The near kernel learns from neither (it only updates entries it has).
// An address added with nodad is announced by nothing at all, even with
// ndisc_notify=1: the kernel advertises an address only when its
// detection ends.
func TestKernel6FarAnnounces(t *testing.T) {
	t.Parallel()
	nl := labtest.NewNeighLab6(t, 0, 3)
	far := nl.WatchND(nl.Far, nl.FarIf)
	quiet, detected := labtest.Host6(0x61), labtest.Host6(0x62)
	allNodes := [16]byte{0xff, 0x02, 15: 1}
	nl.Sysctl(nl.Far, "net/ipv6/conf/"+nl.FarIf+"/ndisc_notify", "1")

	nl.AddAddr6(nl.Far, nl.FarIf, true, quiet)
	if seen, ok := far.Wait(500*time.Millisecond, func(n labtest.ND) bool { return n.Target == quiet }); ok {
		t.Errorf("an address added with nodad was announced: %+v", seen[len(seen)-1])
	}

	nl.AddAddr6(nl.Far, nl.FarIf, false, detected)
	seen, ok := far.Wait(3*time.Second, func(n labtest.ND) bool { return n.FromDAD() && n.Target == detected })
	if !ok {
		t.Fatalf("no duplicate address detection for %s: %+v", labtest.IP6String(detected), seen)
	}
	dad := time.Now()
	if s := seen[len(seen)-1]; s.Dst != labtest.SolicitedNode(detected) || s.HasLLAddr || s.HopLimit != 255 {
		t.Errorf("the detection's solicitation: %+v; want to the solicited-node group, no SLLAO, hop limit 255", s)
	}
	seen, ok = far.Wait(3*time.Second, func(n labtest.ND) bool { return n.Type == labtest.NDNeighAdvert && n.Target == detected })
	if !ok {
		t.Fatalf("no unsolicited advertisement for %s with ndisc_notify=1 after its detection: %+v", labtest.IP6String(detected), seen)
	}
	t.Logf("advertisement %v after the detection's solicitation", time.Since(dad))
	if na := seen[len(seen)-1]; na.Dst != allNodes || na.Src != detected || na.Flags != labtest.NAFlagOverride || na.HopLimit != 255 ||
		!na.HasLLAddr || na.LLAddr != labtest.NeighFarMAC {
		t.Errorf("the unsolicited advertisement: %+v; want from the address to ff02::1, flags O, hop limit 255, TLLAO %s", na, labtest.MACString(labtest.NeighFarMAC))
	}
	for _, a := range [][16]byte{quiet, detected} {
		if n := nl.Neigh6(nl.Near, nl.NearIf, a); n.State != "" {
			t.Errorf("the near kernel has an entry %q from the far side's announcement", n.Line)
		}
	}
}

// TestKernel6ForeignSolicitation: a far host resolving another far
// address solicits it with its own address as source and its MAC as
// SLLAO, to a group the near side has not joined; the near kernel learns
// nothing from it, so whatever the daemon learns from such a solicitation
// it learned from the wire.
func TestKernel6ForeignSolicitation(t *testing.T) {
	t.Parallel()
	nl := labtest.NewNeighLab6(t, 0, 3)
	src, absent := labtest.Host6(0x71), labtest.Host6(0x72)
	nl.AddAddr6(nl.Far, nl.FarIf, true, src)
	near := nl.WatchND(nl.Near, nl.NearIf)

	nl.SendUDP6Src(nl.Far, src, absent, 9, nil)
	seen, ok := near.Wait(3*time.Second, func(n labtest.ND) bool { return n.Type == labtest.NDNeighSolicit && n.Target == absent })
	if !ok {
		t.Fatalf("no solicitation for %s reached the near side: %+v", labtest.IP6String(absent), seen)
	}
	if s := seen[len(seen)-1]; s.Src != src || !s.HasLLAddr || s.LLAddr != labtest.NeighFarMAC || s.Dst != labtest.SolicitedNode(absent) {
		t.Errorf("the far host's solicitation: %+v; want from %s with SLLAO %s", s, labtest.IP6String(src), labtest.MACString(labtest.NeighFarMAC))
	}
	time.Sleep(100 * time.Millisecond)
	if n := nl.Neigh6(nl.Near, nl.NearIf, src); n.State != "" {
		t.Errorf("the near kernel learned %q from a solicitation for another host", n.Line)
	}
}
