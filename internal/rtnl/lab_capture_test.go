package rtnl_test

// Lab tests against the real kernel (root, network namespaces): they
// capture the messages the unit tests decode (ARPD_CAPTURE=1 writes them
// to testdata), check that the decoders understand what the kernel sends
// today, and find out which answer the kernel accepts.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// The addresses TestLabNetlinkCapture asks the near kernel about.
var (
	labUnresolved = [4]byte{10, 77, 0, 99} // nobody has it
	labFar        = [4]byte{10, 77, 0, 2}  // the far end: answers ARP
	labCached     = [4]byte{10, 77, 0, 3}  // answered by "the cache"
	labManual     = [4]byte{10, 77, 0, 7}  // set by an administrator
	labDead       = [4]byte{10, 77, 0, 98} // nobody has it: failed by "the cache"
)

// macString formats a hardware address of any length as ip(8) does.
func macString(b []byte) string {
	var s []string
	for _, c := range b {
		s = append(s, fmt.Sprintf("%02x", c))
	}
	return strings.Join(s, ":")
}

// neighIs returns a matcher for a neighbour message of type typ about dst
// on ifindex whose decoded form satisfies ok.
func neighIs(t *testing.T, typ uint16, ifindex int32, dst [4]byte, ok func(n *rtnl.Neigh) bool) func(m *rtnl.Msg) bool {
	return func(m *rtnl.Msg) bool {
		if m.Type != typ {
			return false
		}
		var n rtnl.Neigh
		if err := rtnl.DecodeNeigh(m, &n); err != nil {
			t.Errorf("kernel neighbour message rejected: %v (% x)", err, m.Data)
			return false
		}
		return n.Family == unix.AF_INET && n.Ifindex == ifindex && n.DstLen == 4 &&
			[4]byte(n.Dst[:4]) == dst && (ok == nil || ok(&n))
	}
}

// stateIs returns a test of a neighbour's state for neighIs.
func stateIs(state uint16) func(n *rtnl.Neigh) bool {
	return func(n *rtnl.Neigh) bool { return n.State == state }
}

// isLink returns a matcher for a link message of type typ about the
// interface called name.
func isLink(t *testing.T, typ uint16, name string) func(m *rtnl.Msg) bool {
	return func(m *rtnl.Msg) bool {
		if m.Type != typ {
			return false
		}
		var l rtnl.Link
		if err := rtnl.DecodeLink(m, &l); err != nil {
			t.Errorf("kernel link message rejected: %v", err)
			return false
		}
		return string(l.IfName()) == name
	}
}

// ifiType and ifiFlags read ifi_type and ifi_flags of a link message, which
// rtnl.Link does not keep (the daemon never reads them).
func ifiType(m *rtnl.Msg) uint16  { return binary.NativeEndian.Uint16(m.Data[2:4]) }
func ifiFlags(m *rtnl.Msg) uint32 { return binary.NativeEndian.Uint32(m.Data[8:12]) }

// saveCapture writes msg to testdata/name.hex when ARPD_CAPTURE=1.
func saveCapture(t *testing.T, name, how string, msg []byte) {
	t.Helper()
	labtest.SaveCapture(t, "testdata", name, how, msg)
}

// decode decodes the neighbour message of c; it fails the test if the
// decoder rejects it.
func decode(t *testing.T, c labtest.Captured) rtnl.Neigh {
	t.Helper()
	var n rtnl.Neigh
	if err := rtnl.DecodeNeigh(&c.Msg, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLabNetlinkCapture drives the kernel through every message the daemon
// decodes, checks each with the decoders, and with ARPD_CAPTURE=1 saves them
// as the unit tests' testdata. Each step leaves the kernel's table as the
// next one needs it.
func TestLabNetlinkCapture(t *testing.T) {
	nl := labtest.NewNeighLab(t)
	captureFailedResolution(t, nl)
	captureReachable(t, nl)
	captureAnswer(t, nl)
	captureFailure(t, nl)
	captureAdminStale(t, nl)
	captureAdminDelete(t, nl)
	captureFlush(t, nl)
	captureLinks(t, nl)
	captureAnswerWithoutEntry(t, nl)
	captureNeighDump(t, nl)
	checkLinkDump(t, nl)
}

// captureFailedResolution: the app_solicit request for an address nobody
// has, then the resolution's failure, FAILED with NDA_PROBES > 0.
func captureFailedResolution(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	nl.SendUDP(labUnresolved)
	req, _ := nl.Await(3*time.Second, "RTM_GETNEIGH INCOMPLETE for 10.77.0.99",
		neighIs(t, unix.RTM_GETNEIGH, ix, labUnresolved, stateIs(unix.NUD_INCOMPLETE)))
	n := decode(t, req)
	if req.Msg.Flags != unix.NLM_F_REQUEST || req.Msg.Pid != 0 || !n.HasProbes || n.LLAddrLen != 0 || n.Type != unix.RTN_UNICAST {
		t.Errorf("app_solicit request: flags %#x pid %d %+v", req.Msg.Flags, req.Msg.Pid, n)
	}
	saveCapture(t, "getneigh_incomplete", "RTM_GETNEIGH from neigh_app_ns: app_solicit=1 on vnear, a UDP datagram to the unresolved 10.77.0.99; state INCOMPLETE.", req.Raw)

	failed, _ := nl.Await(5*time.Second, "RTM_NEWNEIGH FAILED for 10.77.0.99",
		neighIs(t, unix.RTM_NEWNEIGH, ix, labUnresolved, stateIs(unix.NUD_FAILED)))
	rtnl.DecodeNeigh(&failed.Msg, &n)
	if !n.HasProbes || n.Probes == 0 || n.LLAddrLen != 0 || failed.Msg.Pid != 0 || !rtnl.ResolutionFailed(&n) {
		t.Errorf("failed resolution: pid %d %+v, want NDA_PROBES > 0, no lladdr, nlmsg_pid 0", failed.Msg.Pid, n)
	}
	saveCapture(t, "newneigh_failed_probes", "RTM_NEWNEIGH after resolution of 10.77.0.99 failed (app_solicit=1, mcast_solicit=1, retrans_time_ms=200): state FAILED, NDA_PROBES > 0.", failed.Raw)
}

// captureReachable: a live host, REACHABLE with its MAC.
func captureReachable(t *testing.T, nl *labtest.Netlink) {
	nl.SendUDP(labFar)
	reach, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH REACHABLE for 10.77.0.2",
		neighIs(t, unix.RTM_NEWNEIGH, nl.NearIndex, labFar, stateIs(unix.NUD_REACHABLE)))
	var n rtnl.Neigh
	rtnl.DecodeNeigh(&reach.Msg, &n)
	if !bytes.Equal(n.HWAddr(), labtest.NeighFarMAC[:]) {
		t.Errorf("reachable: lladdr % x, want % x", n.HWAddr(), labtest.NeighFarMAC)
	}
	saveCapture(t, "newneigh_reachable", "RTM_NEWNEIGH after 10.77.0.2 (vfar, 02:00:00:00:02:02) answered ARP: state REACHABLE with lladdr.", reach.Raw)
}

// captureAnswer: the answer makes an INCOMPLETE entry STALE with our MAC.
func captureAnswer(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	nl.SendUDP(labCached)
	req, _ := nl.Await(3*time.Second, "RTM_GETNEIGH INCOMPLETE for 10.77.0.3",
		neighIs(t, unix.RTM_GETNEIGH, ix, labCached, stateIs(unix.NUD_INCOMPLETE)))
	var n rtnl.Neigh
	rtnl.DecodeNeigh(&req.Msg, &n)
	var out [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeighAnswer(out[:], nl.Conn.NextSeq(), &n, labtest.CacheMAC[:])
	if err != nil {
		t.Fatal(err)
	}
	nl.Send(out[:k])
	// NB: the kernel notifies at the end of the update, after it has
	// sent the queued datagram, which moved the entry on to DELAY: the
	// notification says DELAY, and DELAY is proof the entry was used.
	used, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH after the answer for 10.77.0.3",
		neighIs(t, unix.RTM_NEWNEIGH, ix, labCached, nil))
	rtnl.DecodeNeigh(&used.Msg, &n)
	if n.State&(unix.NUD_STALE|unix.NUD_DELAY) == 0 || !bytes.Equal(n.HWAddr(), labtest.CacheMAC[:]) || used.Msg.Pid != nl.Conn.Port() {
		t.Errorf("after the answer: pid %d (port %d) %+v, want STALE or DELAY with % x", used.Msg.Pid, nl.Conn.Port(), n, labtest.CacheMAC)
	}
	cache := labtest.MACString(labtest.CacheMAC)
	if s := nl.NeighShow("10.77.0.3"); !strings.Contains(s, "lladdr "+cache) || !(strings.Contains(s, "STALE") || strings.Contains(s, "DELAY")) {
		t.Errorf("ip neigh show after the answer: %q, want STALE or DELAY with lladdr %s", s, cache)
	}
	saveCapture(t, "newneigh_answered", "RTM_NEWNEIGH notifying our answer (RTM_NEWNEIGH NUD_STALE lladdr 02:00:00:00:03:03, NLM_F_REQUEST) to the INCOMPLETE 10.77.0.3: the queued datagram went out at once, so the state is DELAY; nlmsg_pid is our port.", used.Raw)
}

// captureFailure: the failure answer (NLM_F_REQUEST alone) makes an
// INCOMPLETE entry FAILED at once, by our port, not by the kernel's timer
// (port 0), which would take app_solicit × retrans_time.
func captureFailure(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	nl.SendUDP(labDead)
	req, _ := nl.Await(3*time.Second, "RTM_GETNEIGH INCOMPLETE for 10.77.0.98",
		neighIs(t, unix.RTM_GETNEIGH, ix, labDead, stateIs(unix.NUD_INCOMPLETE)))
	n := decode(t, req)
	var out [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeighFailure(out[:], nl.Conn.NextSeq(), &n)
	if err != nil {
		t.Fatal(err)
	}
	nl.Send(out[:k])
	failed, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH FAILED for 10.77.0.98",
		neighIs(t, unix.RTM_NEWNEIGH, ix, labDead, stateIs(unix.NUD_FAILED)))
	if failed.Msg.Pid != nl.Conn.Port() {
		t.Errorf("FAILED notified by port %d, want ours (%d): the kernel's timer failed it, not the answer", failed.Msg.Pid, nl.Conn.Port())
	}
	if s := nl.NeighShow("10.77.0.98"); strings.Contains(s, "INCOMPLETE") {
		t.Errorf("ip neigh show after the failure: %q, want FAILED or nothing", s)
	}
}

// captureAdminStale: an administrator's STALE entry, never resolved, has
// NDA_PROBES = 0.
func captureAdminStale(t *testing.T, nl *labtest.Netlink) {
	nl.IP(nl.Near, "neigh", "replace", "10.77.0.7", "lladdr", "02:00:00:00:07:07", "nud", "stale", "dev", nl.NearIf)
	stale, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH STALE for 10.77.0.7", neighIs(t, unix.RTM_NEWNEIGH, nl.NearIndex, labManual, nil))
	var n rtnl.Neigh
	rtnl.DecodeNeigh(&stale.Msg, &n)
	if n.State != unix.NUD_STALE || macString(n.HWAddr()) != "02:00:00:00:07:07" || !n.HasProbes || n.Probes != 0 {
		t.Errorf("ip neigh replace nud stale: %+v", n)
	}
	saveCapture(t, "newneigh_stale", "RTM_NEWNEIGH from `ip neigh replace 10.77.0.7 lladdr 02:00:00:00:07:07 nud stale dev vnear`: state STALE, NDA_PROBES = 0, nlmsg_pid = ip's port.", stale.Raw)
}

// captureAdminDelete: an administrator deletes the resolved 10.77.0.2:
// FAILED, then RTM_DELNEIGH.
//
// NB: NDA_PROBES is NOT 0 here: the kernel starts a resolution at
// ucast_probes (3) and never resets the count when the entry becomes
// REACHABLE. What marks the administrator is nlmsg_pid, the port of the
// tool that asked; a resolution failure comes from the kernel's timer
// with nlmsg_pid 0.
func captureAdminDelete(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	nl.IP(nl.Near, "neigh", "del", "10.77.0.2", "dev", nl.NearIf)
	flushFail, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH FAILED after ip neigh del",
		neighIs(t, unix.RTM_NEWNEIGH, ix, labFar, stateIs(unix.NUD_FAILED)))
	var n rtnl.Neigh
	rtnl.DecodeNeigh(&flushFail.Msg, &n)
	t.Logf("ip neigh del of a resolved entry: FAILED, NDA_PROBES %d, nlmsg_pid %d", n.Probes, flushFail.Msg.Pid)
	if !n.HasProbes || flushFail.Msg.Pid == 0 || rtnl.ResolutionFailed(&n) {
		t.Errorf("ip neigh del: pid %d %+v, want an administrator's FAILED", flushFail.Msg.Pid, n)
	}
	saveCapture(t, "newneigh_failed_del", "RTM_NEWNEIGH from `ip neigh del 10.77.0.2 dev vnear` (was REACHABLE after a resolution): state FAILED, NDA_PROBES = 5 (not 0!), nlmsg_pid = ip's port.", flushFail.Raw)
	del, _ := nl.Await(3*time.Second, "RTM_DELNEIGH after ip neigh del",
		neighIs(t, unix.RTM_DELNEIGH, ix, labFar, nil))
	// NB: the RTM_DELNEIGH itself comes with nlmsg_pid 0, sent when the
	// entry is released, not on behalf of ip.
	saveCapture(t, "delneigh", "RTM_DELNEIGH from `ip neigh del 10.77.0.2 dev vnear`, after the FAILED notification.", del.Raw)
}

// captureFlush: ip neigh flush of the never-resolved 10.77.0.7 notifies
// FAILED with NDA_PROBES = 0 (the case SPEC §1 describes), again with
// ip's port. (A flushed resolved entry shows NDA_PROBES >= 4, as in
// captureAdminDelete.)
func captureFlush(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	nl.IP(nl.Near, "neigh", "flush", "dev", nl.NearIf)
	ff, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH FAILED after ip neigh flush",
		neighIs(t, unix.RTM_NEWNEIGH, ix, labManual, stateIs(unix.NUD_FAILED)))
	var n rtnl.Neigh
	rtnl.DecodeNeigh(&ff.Msg, &n)
	if ff.Msg.Pid == 0 || rtnl.ResolutionFailed(&n) || !n.HasProbes || n.Probes != 0 {
		t.Errorf("ip neigh flush of 10.77.0.7: pid %d %+v", ff.Msg.Pid, n)
	}
	saveCapture(t, "newneigh_failed_flush", "RTM_NEWNEIGH from `ip neigh flush dev vnear` for 10.77.0.7, set by `ip neigh replace ... nud stale`: state FAILED, NDA_PROBES = 0, nlmsg_pid = ip's port.", ff.Raw)
	nl.Await(3*time.Second, "RTM_DELNEIGH after ip neigh flush", neighIs(t, unix.RTM_DELNEIGH, ix, labManual, nil))
}

// captureLinks: a new veth pair appears, comes up and goes.
func captureLinks(t *testing.T, nl *labtest.Netlink) {
	nl.IP(nl.Near, "link", "add", "vcap0", "address", "02:00:00:00:0c:00", "type", "veth", "peer", "name", "vcap1", "address", "02:00:00:00:0c:01")
	nlink, _ := nl.Await(3*time.Second, "RTM_NEWLINK vcap0", isLink(t, unix.RTM_NEWLINK, "vcap0"))
	var lk rtnl.Link
	rtnl.DecodeLink(&nlink.Msg, &lk)
	if ifiType(&nlink.Msg) != unix.ARPHRD_ETHER || lk.Ifindex <= 0 || macString(lk.HWAddr()) != "02:00:00:00:0c:00" {
		t.Errorf("RTM_NEWLINK: %+v", lk)
	}
	saveCapture(t, "newlink", "RTM_NEWLINK for vcap0 from `ip link add vcap0 address 02:00:00:00:0c:00 type veth peer name vcap1 ...` (down).", nlink.Raw)
	nl.IP(nl.Near, "link", "set", "vcap0", "up")
	nlink, _ = nl.Await(3*time.Second, "RTM_NEWLINK vcap0 up", func(m *rtnl.Msg) bool {
		var l rtnl.Link
		return isLink(t, unix.RTM_NEWLINK, "vcap0")(m) && rtnl.DecodeLink(m, &l) == nil && ifiFlags(m)&unix.IFF_UP != 0
	})
	saveCapture(t, "newlink_up", "RTM_NEWLINK for vcap0 from `ip link set vcap0 up` (IFF_UP set).", nlink.Raw)
	nl.IP(nl.Near, "link", "del", "vcap0")
	dlink, _ := nl.Await(3*time.Second, "RTM_DELLINK vcap0", isLink(t, unix.RTM_DELLINK, "vcap0"))
	saveCapture(t, "dellink", "RTM_DELLINK for vcap0 from `ip link del vcap0`.", dlink.Raw)
}

// captureAnswerWithoutEntry: an answer for an address the kernel has no
// entry for is refused (no NLM_F_CREATE) with an error, unasked.
func captureAnswerWithoutEntry(t *testing.T, nl *labtest.Netlink) {
	n := rtnl.Neigh{Family: unix.AF_INET, Ifindex: nl.NearIndex, DstLen: 4}
	copy(n.Dst[:], []byte{10, 77, 0, 50})
	seq := nl.Conn.NextSeq()
	var out [rtnl.NeighMsgMax]byte
	k, _ := rtnl.PutNeighAnswer(out[:], seq, &n, labtest.CacheMAC[:])
	nl.Send(out[:k])
	emsg, _ := nl.Await(3*time.Second, "NLMSG_ERROR for the answer to 10.77.0.50", func(m *rtnl.Msg) bool {
		return m.Type == unix.NLMSG_ERROR && m.Seq == seq
	})
	var e rtnl.ErrorMsg
	if err := rtnl.DecodeError(&emsg.Msg, &e); err != nil || e.Errno != unix.ENOENT || e.Seq != seq || e.Type != unix.RTM_NEWNEIGH {
		t.Errorf("answer without an entry: %+v, %v; want ENOENT", e, err)
	}
	if s := nl.NeighShow("10.77.0.50"); s != "" {
		t.Errorf("answer without an entry created one: %q", s)
	}
	saveCapture(t, "error_enoent", "NLMSG_ERROR ENOENT answering our RTM_NEWNEIGH (NLM_F_REQUEST only) for 10.77.0.50, which has no kernel entry; NETLINK_EXT_ACK and NETLINK_CAP_ACK set.", emsg.Raw)
}

// captureNeighDump: a dump returns the table and ends with NLMSG_DONE.
func captureNeighDump(t *testing.T, nl *labtest.Netlink) {
	nl.IP(nl.Near, "neigh", "replace", "10.77.0.7", "lladdr", "02:00:00:00:07:07", "nud", "stale", "dev", nl.NearIf)
	nl.IP(nl.Near, "neigh", "replace", "10.77.0.8", "lladdr", "02:00:00:00:08:08", "nud", "permanent", "dev", nl.NearIf)
	seq := nl.Conn.NextSeq()
	var out [rtnl.NeighMsgMax]byte
	k, _ := rtnl.PutNeighDump(out[:], seq, unix.AF_INET)
	nl.Send(out[:k])
	done, before := nl.Await(3*time.Second, "NLMSG_DONE of the neighbour dump", func(m *rtnl.Msg) bool {
		return m.Type == unix.NLMSG_DONE && m.Seq == seq
	})
	found := map[string]string{}
	for _, cm := range before {
		if cm.Msg.Type != unix.RTM_NEWNEIGH || cm.Msg.Seq != seq {
			continue
		}
		if cm.Msg.Pid != nl.Conn.Port() || cm.Msg.Flags&unix.NLM_F_MULTI == 0 {
			t.Errorf("dump reply header: pid %d (port %d) flags %#x", cm.Msg.Pid, nl.Conn.Port(), cm.Msg.Flags)
		}
		var n rtnl.Neigh
		if err := rtnl.DecodeNeigh(&cm.Msg, &n); err != nil {
			t.Errorf("dump reply rejected: %v", err)
			continue
		}
		if n.DstLen == 4 {
			found[fmt.Sprintf("%d.%d.%d.%d", n.Dst[0], n.Dst[1], n.Dst[2], n.Dst[3])] = macString(n.HWAddr())
		}
		if cm.Msg.Seq == seq && found["10.77.0.7"] != "" && len(before) > 0 && cm.Raw != nil {
			saveCapture(t, "dump_newneigh", "RTM_NEWNEIGH in the reply to our RTM_GETNEIGH dump (AF_INET): NLM_F_MULTI, nlmsg_pid = our port.", cm.Raw)
		}
	}
	if found["10.77.0.7"] != "02:00:00:00:07:07" || found["10.77.0.8"] != "02:00:00:00:08:08" {
		t.Errorf("dump found %v, want 10.77.0.7 and 10.77.0.8", found)
	}
	if len(done.Msg.Data) < 4 || binary.NativeEndian.Uint32(done.Msg.Data) != 0 {
		t.Errorf("NLMSG_DONE: % x", done.Msg.Data)
	}
	saveCapture(t, "done", "NLMSG_DONE ending the reply to our RTM_GETNEIGH dump.", done.Raw)
}

// checkLinkDump: the link dump lists vnear, up, with its index and MAC.
func checkLinkDump(t *testing.T, nl *labtest.Netlink) {
	seq := nl.Conn.NextSeq()
	var out [rtnl.DumpMsgMax]byte
	k, _ := rtnl.PutLinkDump(out[:], seq)
	nl.Send(out[:k])
	_, before := nl.Await(3*time.Second, "NLMSG_DONE of the link dump", func(m *rtnl.Msg) bool {
		return m.Type == unix.NLMSG_DONE && m.Seq == seq
	})
	var names []string
	for _, cm := range before {
		if cm.Msg.Type != unix.RTM_NEWLINK || cm.Msg.Seq != seq {
			continue
		}
		var lk rtnl.Link
		if err := rtnl.DecodeLink(&cm.Msg, &lk); err != nil {
			t.Errorf("link dump reply rejected: %v", err)
			continue
		}
		names = append(names, string(lk.IfName()))
		if string(lk.IfName()) == nl.NearIf && (lk.Ifindex != nl.NearIndex || !bytes.Equal(lk.HWAddr(), labtest.NeighNearMAC[:]) || ifiFlags(&cm.Msg)&unix.IFF_UP == 0) {
			t.Errorf("link dump: %s = %+v", nl.NearIf, lk)
		}
	}
	if !strings.Contains(strings.Join(names, " "), nl.NearIf) {
		t.Errorf("link dump names %v, want %s", names, nl.NearIf)
	}
}
