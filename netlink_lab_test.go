package main

// Lab tests of the rtnetlink half against the real kernel: they capture the
// messages the unit tests decode (ARPD_CAPTURE=1 writes them to
// internal/rtnl/testdata), check that the decoders understand what the kernel
// sends today, and find out which answer the kernel accepts.

import (
	"arpd/internal/rtnl"

	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"

	"golang.org/x/sys/unix"
)

// Fixed hardware addresses for the lab, so that captured messages are the
// same on every run.
var (
	labNearMAC  = [6]byte{0x02, 0x00, 0x00, 0x00, 0x01, 0x01}
	labFarMAC   = [6]byte{0x02, 0x00, 0x00, 0x00, 0x02, 0x02}
	labCacheMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x03, 0x03} // what "the cache" answers
)

// nlLab is a lab with an rtnetlink socket open in its near namespace and
// the near side set to ask user space (app_solicit=1).
type nlLab struct {
	*labtest.Lab
	c      *rtnl.Conn
	nearIx int32
}

// newNLLab builds the lab: 10.77.0.1/24 near, 10.77.0.2/24 far, fixed MACs,
// app_solicit=1, and, to keep failures quick, mcast_solicit=1 and
// retrans_time_ms=200 on the near side.
func newNLLab(t *testing.T) *nlLab {
	t.Helper()
	l := labtest.New(t)
	l.IP(l.Near, "link", "set", l.NearIf, "address", macString(labNearMAC[:]))
	l.IP(l.Far, "link", "set", l.FarIf, "address", macString(labFarMAC[:]))
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
	key := "net/ipv4/neigh/" + l.NearIf + "/"
	l.Sysctl(l.Near, key+"app_solicit", "1")
	l.Sysctl(l.Near, key+"mcast_solicit", "1")
	l.Sysctl(l.Near, key+"retrans_time_ms", "200")
	nl := &nlLab{Lab: l, nearIx: int32(l.Ifindex(l.Near, l.NearIf))}
	if err := l.Do(l.Near, func() error {
		c, err := rtnl.Dial(unix.RTMGRP_NEIGH|unix.RTMGRP_LINK, 4<<20)
		nl.c = c
		return err
	}); err != nil {
		t.Fatalf("rtnl.Dial in %s: %v", l.Near, err)
	}
	t.Cleanup(func() { nl.c.Close() })
	return nl
}

func macString(b []byte) string {
	var s []string
	for _, c := range b {
		s = append(s, fmt.Sprintf("%02x", c))
	}
	return strings.Join(s, ":")
}

// capturedMsg is one message seen by the lab, with a copy of its bytes.
type capturedMsg struct {
	m   rtnl.Msg
	raw []byte
}

// await reads messages until match accepts one, for at most limit and at
// most 10,000 messages, and returns it with every message read before it.
func (nl *nlLab) await(t *testing.T, limit time.Duration, what string, match func(m *rtnl.Msg) bool) (capturedMsg, []capturedMsg) {
	t.Helper()
	var seen []capturedMsg
	deadline := time.Now().Add(limit)
	for i := 0; i < 10000; i++ {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		fds := []unix.PollFd{{Fd: int32(nl.c.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			t.Fatalf("poll: %v", err)
		}
		b, err := nl.c.Recv()
		if err == unix.EAGAIN {
			continue
		}
		if err != nil {
			t.Fatalf("recv while waiting for %s: %v", what, err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		var hit *capturedMsg
		for it.Next(&m) {
			raw := bytes.Clone(msgBytes(b, &m))
			cm := capturedMsg{m: m, raw: raw}
			cm.m.Data = raw[unix.SizeofNlMsghdr:]
			if hit == nil && match(&cm.m) {
				hit = &cm
				continue
			}
			seen = append(seen, cm)
		}
		if err := it.Err(); err != nil {
			t.Fatalf("framing a datagram from the kernel: %v", err)
		}
		if hit != nil {
			return *hit, seen
		}
	}
	t.Fatalf("no %s within %v", what, limit)
	return capturedMsg{}, nil
}

// msgBytes returns the whole message m (header and payload) from the
// datagram b that m was framed from.
func msgBytes(b []byte, m *rtnl.Msg) []byte {
	for off := 0; off+unix.SizeofNlMsghdr <= len(b); {
		n := int(binary.NativeEndian.Uint32(b[off:]))
		if n < unix.SizeofNlMsghdr || off+n > len(b) {
			break
		}
		if n-unix.SizeofNlMsghdr == len(m.Data) && (len(m.Data) == 0 || &b[off+unix.SizeofNlMsghdr] == &m.Data[0]) {
			return b[off : off+n]
		}
		off += (n + 3) &^ 3
	}
	panic("message not in datagram")
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

// saveCapture writes msg to internal/rtnl/testdata/name.hex when ARPD_CAPTURE=1.
func saveCapture(t *testing.T, name, how string, msg []byte) {
	t.Helper()
	if os.Getenv("ARPD_CAPTURE") != "1" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", how)
	fmt.Fprintf(&b, "# Captured by TestLabNetlinkCapture (ARPD_CAPTURE=1 go test -run TestLabNetlinkCapture) on Linux %s, %s host byte order.\n", kernelRelease(), "little-endian")
	for i := 0; i < len(msg); i += 16 {
		j := min(i+16, len(msg))
		b.WriteString(hex.EncodeToString(msg[i:j]))
		b.WriteByte('\n')
	}
	dir := filepath.Join("internal", "rtnl", "testdata")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".hex"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return string(bytes.TrimRight(u.Release[:], "\x00"))
}

func (nl *nlLab) neighShow(addr string) string {
	return strings.TrimSpace(nl.IP(nl.Near, "neigh", "show", addr, "dev", nl.NearIf))
}

func (nl *nlLab) send(t *testing.T, b []byte) {
	t.Helper()
	if err := nl.c.Send(b); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (nl *nlLab) udp(t *testing.T, dst [4]byte) {
	t.Helper()
	if err := nl.Do(nl.Near, func() error { return labtest.SendUDP(dst) }); err != nil {
		t.Fatalf("send UDP to %v: %v", dst, err)
	}
}

// TestLabNetlinkCapture drives the kernel through every message the daemon
// decodes, checks each with the decoders, and with ARPD_CAPTURE=1 saves them
// as the unit tests' testdata.
func TestLabNetlinkCapture(t *testing.T) {
	nl := newNLLab(t)
	ix := nl.nearIx
	unresolved := [4]byte{10, 77, 0, 99}
	far := [4]byte{10, 77, 0, 2}
	cached := [4]byte{10, 77, 0, 3}

	// 1. The app_solicit request for an address nobody has.
	nl.udp(t, unresolved)
	req, _ := nl.await(t, 3*time.Second, "RTM_GETNEIGH INCOMPLETE for 10.77.0.99",
		neighIs(t, unix.RTM_GETNEIGH, ix, unresolved, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_INCOMPLETE }))
	var n rtnl.Neigh
	if err := rtnl.DecodeNeigh(&req.m, &n); err != nil {
		t.Fatal(err)
	}
	if req.m.Flags != unix.NLM_F_REQUEST || req.m.Pid != 0 || !n.HasProbes || n.LLAddrLen != 0 || n.Type != unix.RTN_UNICAST {
		t.Errorf("app_solicit request: flags %#x pid %d %+v", req.m.Flags, req.m.Pid, n)
	}
	saveCapture(t, "getneigh_incomplete", "RTM_GETNEIGH from neigh_app_ns: app_solicit=1 on vnear, a UDP datagram to the unresolved 10.77.0.99; state INCOMPLETE.", req.raw)

	// 2. Resolution fails: FAILED with NDA_PROBES > 0.
	failed, _ := nl.await(t, 5*time.Second, "RTM_NEWNEIGH FAILED for 10.77.0.99",
		neighIs(t, unix.RTM_NEWNEIGH, ix, unresolved, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_FAILED }))
	rtnl.DecodeNeigh(&failed.m, &n)
	if !n.HasProbes || n.Probes == 0 || n.LLAddrLen != 0 || failed.m.Pid != 0 || !rtnl.ResolutionFailed(&n) {
		t.Errorf("failed resolution: pid %d %+v, want NDA_PROBES > 0, no lladdr, nlmsg_pid 0", failed.m.Pid, n)
	}
	saveCapture(t, "newneigh_failed_probes", "RTM_NEWNEIGH after resolution of 10.77.0.99 failed (app_solicit=1, mcast_solicit=1, retrans_time_ms=200): state FAILED, NDA_PROBES > 0.", failed.raw)

	// 3. A live host: REACHABLE with its MAC.
	nl.udp(t, far)
	reach, _ := nl.await(t, 3*time.Second, "RTM_NEWNEIGH REACHABLE for 10.77.0.2",
		neighIs(t, unix.RTM_NEWNEIGH, ix, far, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_REACHABLE }))
	rtnl.DecodeNeigh(&reach.m, &n)
	if !bytes.Equal(n.HWAddr(), labFarMAC[:]) {
		t.Errorf("reachable: lladdr % x, want % x", n.HWAddr(), labFarMAC)
	}
	saveCapture(t, "newneigh_reachable", "RTM_NEWNEIGH after 10.77.0.2 (vfar, 02:00:00:00:02:02) answered ARP: state REACHABLE with lladdr.", reach.raw)

	// 4. The answer: an INCOMPLETE entry becomes STALE with our MAC.
	nl.udp(t, cached)
	req, _ = nl.await(t, 3*time.Second, "RTM_GETNEIGH INCOMPLETE for 10.77.0.3",
		neighIs(t, unix.RTM_GETNEIGH, ix, cached, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_INCOMPLETE }))
	rtnl.DecodeNeigh(&req.m, &n)
	var out [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeighAnswer(out[:], nl.c.NextSeq(), &n, labCacheMAC[:])
	if err != nil {
		t.Fatal(err)
	}
	nl.send(t, out[:k])
	// NB: the kernel notifies at the end of the update, after it has
	// sent the queued datagram, which moved the entry on to DELAY: the
	// notification says DELAY, and DELAY is proof the entry was used.
	used, _ := nl.await(t, 3*time.Second, "RTM_NEWNEIGH after the answer for 10.77.0.3",
		neighIs(t, unix.RTM_NEWNEIGH, ix, cached, nil))
	rtnl.DecodeNeigh(&used.m, &n)
	if n.State&(unix.NUD_STALE|unix.NUD_DELAY) == 0 || !bytes.Equal(n.HWAddr(), labCacheMAC[:]) || used.m.Pid != nl.c.Port() {
		t.Errorf("after the answer: pid %d (port %d) %+v, want STALE or DELAY with % x", used.m.Pid, nl.c.Port(), n, labCacheMAC)
	}
	if s := nl.neighShow("10.77.0.3"); !strings.Contains(s, "lladdr "+macString(labCacheMAC[:])) || !(strings.Contains(s, "STALE") || strings.Contains(s, "DELAY")) {
		t.Errorf("ip neigh show after the answer: %q, want STALE or DELAY with lladdr %s", s, macString(labCacheMAC[:]))
	}
	saveCapture(t, "newneigh_answered", "RTM_NEWNEIGH notifying our answer (RTM_NEWNEIGH NUD_STALE lladdr 02:00:00:00:03:03, NLM_F_REQUEST) to the INCOMPLETE 10.77.0.3: the queued datagram went out at once, so the state is DELAY; nlmsg_pid is our port.", used.raw)

	// An administrator's STALE entry, never resolved: NDA_PROBES = 0.
	manual := [4]byte{10, 77, 0, 7}
	nl.IP(nl.Near, "neigh", "replace", "10.77.0.7", "lladdr", "02:00:00:00:07:07", "nud", "stale", "dev", nl.NearIf)
	stale, _ := nl.await(t, 3*time.Second, "RTM_NEWNEIGH STALE for 10.77.0.7", neighIs(t, unix.RTM_NEWNEIGH, ix, manual, nil))
	rtnl.DecodeNeigh(&stale.m, &n)
	if n.State != unix.NUD_STALE || macString(n.HWAddr()) != "02:00:00:00:07:07" || !n.HasProbes || n.Probes != 0 {
		t.Errorf("ip neigh replace nud stale: %+v", n)
	}
	saveCapture(t, "newneigh_stale", "RTM_NEWNEIGH from `ip neigh replace 10.77.0.7 lladdr 02:00:00:00:07:07 nud stale dev vnear`: state STALE, NDA_PROBES = 0, nlmsg_pid = ip's port.", stale.raw)

	// 5. An administrator deletes the resolved 10.77.0.2: FAILED, then
	// RTM_DELNEIGH. NB: NDA_PROBES is NOT 0 here: the kernel starts a
	// resolution at ucast_probes (3) and never resets the count when the
	// entry becomes REACHABLE. What marks the administrator is nlmsg_pid,
	// the port of the tool that asked; a resolution failure comes from
	// the kernel's timer with nlmsg_pid 0.
	nl.IP(nl.Near, "neigh", "del", "10.77.0.2", "dev", nl.NearIf)
	flushFail, _ := nl.await(t, 3*time.Second, "RTM_NEWNEIGH FAILED after ip neigh del",
		neighIs(t, unix.RTM_NEWNEIGH, ix, far, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_FAILED }))
	rtnl.DecodeNeigh(&flushFail.m, &n)
	t.Logf("ip neigh del of a resolved entry: FAILED, NDA_PROBES %d, nlmsg_pid %d", n.Probes, flushFail.m.Pid)
	if !n.HasProbes || flushFail.m.Pid == 0 || rtnl.ResolutionFailed(&n) {
		t.Errorf("ip neigh del: pid %d %+v, want an administrator's FAILED", flushFail.m.Pid, n)
	}
	saveCapture(t, "newneigh_failed_del", "RTM_NEWNEIGH from `ip neigh del 10.77.0.2 dev vnear` (was REACHABLE after a resolution): state FAILED, NDA_PROBES = 5 (not 0!), nlmsg_pid = ip's port.", flushFail.raw)
	del, _ := nl.await(t, 3*time.Second, "RTM_DELNEIGH after ip neigh del",
		neighIs(t, unix.RTM_DELNEIGH, ix, far, nil))
	// NB: the RTM_DELNEIGH itself comes with nlmsg_pid 0, sent when the
	// entry is released, not on behalf of ip.
	saveCapture(t, "delneigh", "RTM_DELNEIGH from `ip neigh del 10.77.0.2 dev vnear`, after the FAILED notification.", del.raw)

	// 6. ip neigh flush of the never-resolved 10.77.0.7: FAILED with
	// NDA_PROBES = 0 (the case SPEC §1 describes), again with ip's port.
	// (A flushed resolved entry shows NDA_PROBES >= 4, as in 5.)
	nl.IP(nl.Near, "neigh", "flush", "dev", nl.NearIf)
	ff, _ := nl.await(t, 3*time.Second, "RTM_NEWNEIGH FAILED after ip neigh flush",
		neighIs(t, unix.RTM_NEWNEIGH, ix, manual, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_FAILED }))
	rtnl.DecodeNeigh(&ff.m, &n)
	if ff.m.Pid == 0 || rtnl.ResolutionFailed(&n) || !n.HasProbes || n.Probes != 0 {
		t.Errorf("ip neigh flush of 10.77.0.7: pid %d %+v", ff.m.Pid, n)
	}
	saveCapture(t, "newneigh_failed_flush", "RTM_NEWNEIGH from `ip neigh flush dev vnear` for 10.77.0.7, set by `ip neigh replace ... nud stale`: state FAILED, NDA_PROBES = 0, nlmsg_pid = ip's port.", ff.raw)
	nl.await(t, 3*time.Second, "RTM_DELNEIGH after ip neigh flush", neighIs(t, unix.RTM_DELNEIGH, ix, manual, nil))

	// 7. Links: a new veth pair appears and goes.
	nl.IP(nl.Near, "link", "add", "vcap0", "address", "02:00:00:00:0c:00", "type", "veth", "peer", "name", "vcap1", "address", "02:00:00:00:0c:01")
	isLink := func(typ uint16, name string) func(m *rtnl.Msg) bool {
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
	nlink, _ := nl.await(t, 3*time.Second, "RTM_NEWLINK vcap0", isLink(unix.RTM_NEWLINK, "vcap0"))
	var lk rtnl.Link
	rtnl.DecodeLink(&nlink.m, &lk)
	if ifiType(&nlink.m) != unix.ARPHRD_ETHER || lk.Ifindex <= 0 || macString(lk.HWAddr()) != "02:00:00:00:0c:00" {
		t.Errorf("RTM_NEWLINK: %+v", lk)
	}
	saveCapture(t, "newlink", "RTM_NEWLINK for vcap0 from `ip link add vcap0 address 02:00:00:00:0c:00 type veth peer name vcap1 ...` (down).", nlink.raw)
	nl.IP(nl.Near, "link", "set", "vcap0", "up")
	nlink, _ = nl.await(t, 3*time.Second, "RTM_NEWLINK vcap0 up", func(m *rtnl.Msg) bool {
		var l rtnl.Link
		return isLink(unix.RTM_NEWLINK, "vcap0")(m) && rtnl.DecodeLink(m, &l) == nil && ifiFlags(m)&unix.IFF_UP != 0
	})
	saveCapture(t, "newlink_up", "RTM_NEWLINK for vcap0 from `ip link set vcap0 up` (IFF_UP set).", nlink.raw)
	nl.IP(nl.Near, "link", "del", "vcap0")
	dlink, _ := nl.await(t, 3*time.Second, "RTM_DELLINK vcap0", isLink(unix.RTM_DELLINK, "vcap0"))
	saveCapture(t, "dellink", "RTM_DELLINK for vcap0 from `ip link del vcap0`.", dlink.raw)

	// 8. An answer for an address the kernel has no entry for: the
	// kernel refuses it (no NLM_F_CREATE) with an error, unasked.
	n = rtnl.Neigh{Family: unix.AF_INET, Ifindex: ix, DstLen: 4}
	copy(n.Dst[:], []byte{10, 77, 0, 50})
	seq := nl.c.NextSeq()
	k, _ = rtnl.PutNeighAnswer(out[:], seq, &n, labCacheMAC[:])
	nl.send(t, out[:k])
	emsg, _ := nl.await(t, 3*time.Second, "NLMSG_ERROR for the answer to 10.77.0.50", func(m *rtnl.Msg) bool {
		return m.Type == unix.NLMSG_ERROR && m.Seq == seq
	})
	var e rtnl.ErrorMsg
	if err := rtnl.DecodeError(&emsg.m, &e); err != nil || e.Errno != unix.ENOENT || e.Seq != seq || e.Type != unix.RTM_NEWNEIGH {
		t.Errorf("answer without an entry: %+v, %v; want ENOENT", e, err)
	}
	if s := nl.neighShow("10.77.0.50"); s != "" {
		t.Errorf("answer without an entry created one: %q", s)
	}
	saveCapture(t, "error_enoent", "NLMSG_ERROR ENOENT answering our RTM_NEWNEIGH (NLM_F_REQUEST only) for 10.77.0.50, which has no kernel entry; NETLINK_EXT_ACK and NETLINK_CAP_ACK set.", emsg.raw)

	// 9. A dump returns the table and ends with NLMSG_DONE.
	nl.IP(nl.Near, "neigh", "replace", "10.77.0.7", "lladdr", "02:00:00:00:07:07", "nud", "stale", "dev", nl.NearIf)
	nl.IP(nl.Near, "neigh", "replace", "10.77.0.8", "lladdr", "02:00:00:00:08:08", "nud", "permanent", "dev", nl.NearIf)
	seq = nl.c.NextSeq()
	k, _ = rtnl.PutNeighDump(out[:], seq, unix.AF_INET)
	nl.send(t, out[:k])
	done, before := nl.await(t, 3*time.Second, "NLMSG_DONE of the neighbour dump", func(m *rtnl.Msg) bool {
		return m.Type == unix.NLMSG_DONE && m.Seq == seq
	})
	found := map[string]string{}
	for _, cm := range before {
		if cm.m.Type != unix.RTM_NEWNEIGH || cm.m.Seq != seq {
			continue
		}
		if cm.m.Pid != nl.c.Port() || cm.m.Flags&unix.NLM_F_MULTI == 0 {
			t.Errorf("dump reply header: pid %d (port %d) flags %#x", cm.m.Pid, nl.c.Port(), cm.m.Flags)
		}
		if err := rtnl.DecodeNeigh(&cm.m, &n); err != nil {
			t.Errorf("dump reply rejected: %v", err)
			continue
		}
		if n.DstLen == 4 {
			found[fmt.Sprintf("%d.%d.%d.%d", n.Dst[0], n.Dst[1], n.Dst[2], n.Dst[3])] = macString(n.HWAddr())
		}
		if cm.m.Seq == seq && found["10.77.0.7"] != "" && len(before) > 0 && cm.raw != nil {
			saveCapture(t, "dump_newneigh", "RTM_NEWNEIGH in the reply to our RTM_GETNEIGH dump (AF_INET): NLM_F_MULTI, nlmsg_pid = our port.", cm.raw)
		}
	}
	if found["10.77.0.7"] != "02:00:00:00:07:07" || found["10.77.0.8"] != "02:00:00:00:08:08" {
		t.Errorf("dump found %v, want 10.77.0.7 and 10.77.0.8", found)
	}
	if len(done.m.Data) < 4 || binary.NativeEndian.Uint32(done.m.Data) != 0 {
		t.Errorf("NLMSG_DONE: % x", done.m.Data)
	}
	saveCapture(t, "done", "NLMSG_DONE ending the reply to our RTM_GETNEIGH dump.", done.raw)

	// 10. The link dump lists vnear.
	seq = nl.c.NextSeq()
	k, _ = rtnl.PutLinkDump(out[:], seq)
	nl.send(t, out[:k])
	_, before = nl.await(t, 3*time.Second, "NLMSG_DONE of the link dump", func(m *rtnl.Msg) bool {
		return m.Type == unix.NLMSG_DONE && m.Seq == seq
	})
	var names []string
	for _, cm := range before {
		if cm.m.Type == unix.RTM_NEWLINK && cm.m.Seq == seq {
			if err := rtnl.DecodeLink(&cm.m, &lk); err != nil {
				t.Errorf("link dump reply rejected: %v", err)
				continue
			}
			names = append(names, string(lk.IfName()))
			if string(lk.IfName()) == nl.NearIf && (lk.Ifindex != ix || !bytes.Equal(lk.HWAddr(), labNearMAC[:]) || ifiFlags(&cm.m)&unix.IFF_UP == 0) {
				t.Errorf("link dump: %s = %+v", nl.NearIf, lk)
			}
		}
	}
	if !strings.Contains(strings.Join(names, " "), nl.NearIf) {
		t.Errorf("link dump names %v, want %s", names, nl.NearIf)
	}
}

// TestLabNetlinkAnswerFlags finds out which netlink flags on the answer the
// kernel accepts for an INCOMPLETE entry, and what each does to an entry that
// is already valid with another address.
func TestLabNetlinkAnswerFlags(t *testing.T) {
	nl := newNLLab(t)
	ix := nl.nearIx
	cases := []struct {
		name  string
		flags uint16
	}{
		{"REQUEST", unix.NLM_F_REQUEST},
		{"REQUEST|REPLACE", unix.NLM_F_REQUEST | unix.NLM_F_REPLACE},
		{"REQUEST|CREATE|REPLACE", unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_REPLACE},
		{"REQUEST|ACK", unix.NLM_F_REQUEST | unix.NLM_F_ACK},
	}
	var out [rtnl.NeighMsgMax]byte
	for i, tc := range cases {
		dst := [4]byte{10, 77, 0, byte(20 + i)}
		addr := fmt.Sprintf("10.77.0.%d", 20+i)
		nl.udp(t, dst)
		req, _ := nl.await(t, 3*time.Second, "RTM_GETNEIGH for "+addr,
			neighIs(t, unix.RTM_GETNEIGH, ix, dst, func(n *rtnl.Neigh) bool { return n.State == unix.NUD_INCOMPLETE }))
		var n rtnl.Neigh
		rtnl.DecodeNeigh(&req.m, &n)
		a := n
		a.State, a.Type, a.LLAddrLen = unix.NUD_STALE, unix.RTN_UNICAST, 6
		a.HasProbes = false
		copy(a.LLAddr[:], labCacheMAC[:])
		seq := nl.c.NextSeq()
		k, err := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, tc.flags, seq, &a)
		if err != nil {
			t.Fatal(err)
		}
		nl.send(t, out[:k])
		got, _ := nl.await(t, 3*time.Second, "RTM_NEWNEIGH for "+addr, neighIs(t, unix.RTM_NEWNEIGH, ix, dst, nil))
		rtnl.DecodeNeigh(&got.m, &n)
		show := nl.neighShow(addr)
		t.Logf("%s on INCOMPLETE: notification state %#x lladdr %s; ip neigh: %q", tc.name, n.State, macString(n.HWAddr()), show)
		if n.State&(unix.NUD_STALE|unix.NUD_DELAY) == 0 || !strings.Contains(show, macString(labCacheMAC[:])) {
			t.Errorf("%s did not make the INCOMPLETE entry usable with our MAC: %q", tc.name, show)
		}
		if tc.flags&unix.NLM_F_ACK != 0 {
			ack, _ := nl.await(t, 3*time.Second, "ACK", func(m *rtnl.Msg) bool { return m.Type == unix.NLMSG_ERROR && m.Seq == seq })
			var e rtnl.ErrorMsg
			if err := rtnl.DecodeError(&ack.m, &e); err != nil || e.Errno != 0 {
				t.Errorf("ACK: %+v %v", e, err)
			}
			t.Logf("%s: the kernel acknowledged with NLMSG_ERROR 0 (%d bytes)", tc.name, len(ack.raw))
		}
	}

	// An entry that turned REACHABLE with the true MAC before our answer
	// arrived: without NLM_F_REPLACE the kernel keeps the true MAC.
	for _, tc := range cases[:2] {
		nl.udp(t, [4]byte{10, 77, 0, 2})
		nl.await(t, 3*time.Second, "REACHABLE 10.77.0.2", neighIs(t, unix.RTM_NEWNEIGH, ix, [4]byte{10, 77, 0, 2},
			func(n *rtnl.Neigh) bool { return n.State == unix.NUD_REACHABLE }))
		a := rtnl.Neigh{Family: unix.AF_INET, Ifindex: ix, State: unix.NUD_STALE, Type: unix.RTN_UNICAST, DstLen: 4, LLAddrLen: 6}
		copy(a.Dst[:], []byte{10, 77, 0, 2})
		copy(a.LLAddr[:], labCacheMAC[:])
		k, _ := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, tc.flags, nl.c.NextSeq(), &a)
		nl.send(t, out[:k])
		time.Sleep(50 * time.Millisecond)
		show := nl.neighShow("10.77.0.2")
		t.Logf("%s on REACHABLE with another MAC: %q", tc.name, show)
		keeps := strings.Contains(show, macString(labFarMAC[:]))
		if want := tc.flags&unix.NLM_F_REPLACE == 0; keeps != want {
			t.Errorf("%s on a REACHABLE entry: %q; keeps the true MAC = %v, want %v", tc.name, show, keeps, want)
		}
		nl.IP(nl.Near, "neigh", "del", "10.77.0.2", "dev", nl.NearIf)
		// Drain what the deletion and the overwrite notified.
		nl.await(t, 3*time.Second, "RTM_DELNEIGH 10.77.0.2", neighIs(t, unix.RTM_DELNEIGH, ix, [4]byte{10, 77, 0, 2}, nil))
	}

	// An answer for a vanished entry: NLM_F_REQUEST alone gives ENOENT,
	// with NLM_F_CREATE it plants an entry nobody asked for.
	for _, tc := range []struct {
		flags  uint16
		create bool
	}{{unix.NLM_F_REQUEST, false}, {unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_REPLACE, true}} {
		a := rtnl.Neigh{Family: unix.AF_INET, Ifindex: ix, State: unix.NUD_STALE, Type: unix.RTN_UNICAST, DstLen: 4, LLAddrLen: 6}
		copy(a.Dst[:], []byte{10, 77, 0, 60})
		copy(a.LLAddr[:], labCacheMAC[:])
		k, _ := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, tc.flags, nl.c.NextSeq(), &a)
		nl.send(t, out[:k])
		time.Sleep(50 * time.Millisecond)
		show := nl.neighShow("10.77.0.60")
		t.Logf("flags %#x on a missing entry: %q", tc.flags, show)
		if (show != "") != tc.create {
			t.Errorf("flags %#x on a missing entry: %q", tc.flags, show)
		}
		if show != "" {
			nl.IP(nl.Near, "neigh", "del", "10.77.0.60", "dev", nl.NearIf)
		}
	}
}

// TestLabNetlinkOverrun overflows a small receive queue with a burst of
// neighbour notifications and checks that Recv reports the overrun once,
// keeps working, and that a dump then recovers the whole table.
func TestLabNetlinkOverrun(t *testing.T) {
	l := labtest.New(t)
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	var c *rtnl.Conn
	if err := l.Do(l.Near, func() (err error) {
		// The kernel raises 1 byte to its minimum, a few KiB.
		c, err = rtnl.Dial(unix.RTMGRP_NEIGH, 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const hosts = 200
	var batch strings.Builder
	for i := 0; i < hosts; i++ {
		fmt.Fprintf(&batch, "neigh replace 10.77.0.%d lladdr 02:00:00:00:%02x:%02x nud stale dev %s\n", 20+i, i>>8, i&0xff, l.NearIf)
	}
	f := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(f, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.IP(l.Near, "-batch", f)

	// Read what is queued: the overrun comes first, then what fitted.
	overruns, seen := 0, 0
	for i := 0; i < 10*hosts; i++ {
		b, err := c.Recv()
		if err == unix.EAGAIN {
			break
		}
		if err == rtnl.ErrOverrun {
			overruns++
			continue
		}
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		for it.Next(&m) {
			seen++
		}
	}
	if overruns != 1 || seen >= hosts {
		t.Fatalf("overruns %d, %d of %d notifications seen; want one overrun and losses", overruns, seen, hosts)
	}
	t.Logf("burst of %d: one ENOBUFS, %d notifications kept", hosts, seen)

	// Re-dump: every entry comes back, through the same small queue.
	var req [rtnl.DumpMsgMax]byte
	seq := c.NextSeq()
	k, _ := rtnl.PutNeighDump(req[:], seq, unix.AF_INET)
	if err := c.Send(req[:k]); err != nil {
		t.Fatal(err)
	}
	got := map[[4]byte]bool{}
	done := false
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 100000 && !done && time.Now().Before(deadline); i++ {
		b, err := c.Recv()
		if err == unix.EAGAIN {
			fds := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
			unix.Poll(fds, 100)
			continue
		}
		if err != nil {
			t.Fatalf("recv during the dump: %v", err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		var n rtnl.Neigh
		for it.Next(&m) {
			if m.Seq != seq {
				continue
			}
			if m.Type == unix.NLMSG_DONE {
				done = true
			} else if rtnl.DecodeNeigh(&m, &n) == nil && n.DstLen == 4 {
				got[[4]byte(n.Dst[:4])] = true
			}
		}
	}
	if !done || len(got) < hosts {
		t.Fatalf("dump: done %v, %d entries, want %d", done, len(got), hosts)
	}
}

// TestLabNetlinkForeign sends datagrams to the daemon's socket from another
// socket: Recv drops them, and counts a datagram too big for its buffer as
// truncated.
func TestLabNetlinkForeign(t *testing.T) {
	l := labtest.New(t)
	var c *rtnl.Conn
	var other int
	if err := l.Do(l.Near, func() (err error) {
		if c, err = rtnl.Dial(0, 4<<20); err != nil {
			return err
		}
		other, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer unix.Close(other)
	to := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: c.Port()}
	fake := loadNetlinkHex(t, "getneigh_incomplete")
	if err := unix.Sendto(other, fake, 0, to); err != nil {
		t.Fatalf("sendto our port: %v", err)
	}
	if b, err := c.Recv(); err != rtnl.ErrForeign || b != nil {
		t.Errorf("forged request: %v", err)
	}
	if err := unix.SetsockoptInt(other, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<20); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, rtnl.RecvBufSize+4096)
	if err := unix.Sendto(other, big, 0, to); err != nil {
		t.Fatalf("sendto our port: %v", err)
	}
	if _, err := c.Recv(); err != rtnl.ErrTruncated {
		t.Errorf("oversized datagram: %v", err)
	}
	if _, err := c.Recv(); err != unix.EAGAIN {
		t.Errorf("after: %v", err)
	}
}

// TestLabNetlinkIgnorePort checks the filter that keeps the echo of the
// daemon's own answers off its notification socket: a neighbour added
// through the filtered port is notified to a plain listener and not to the
// filtered one, while one added by another process (ip) reaches both.
func TestLabNetlinkIgnorePort(t *testing.T) {
	nl := newNLLab(t)
	var req, plain *rtnl.Conn
	if err := nl.Do(nl.Near, func() (err error) {
		if req, err = rtnl.Dial(0, 0); err != nil {
			return err
		}
		plain, err = rtnl.Dial(unix.RTMGRP_NEIGH, 1<<20)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { req.Close(); plain.Close() })
	if err := nl.c.IgnorePort(req.Port()); err != nil {
		t.Fatalf("IgnorePort(%d): %v", req.Port(), err)
	}
	ours, theirs := [4]byte{10, 77, 0, 50}, [4]byte{10, 77, 0, 51}
	a := rtnl.Neigh{Family: unix.AF_INET, Ifindex: nl.nearIx, State: unix.NUD_PERMANENT, Type: unix.RTN_UNICAST,
		DstLen: 4, LLAddrLen: 6}
	copy(a.Dst[:], ours[:])
	copy(a.LLAddr[:], labCacheMAC[:])
	var out [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, unix.NLM_F_REQUEST|unix.NLM_F_CREATE, req.NextSeq(), &a)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Send(out[:k]); err != nil {
		t.Fatalf("add 10.77.0.50: %v", err)
	}
	nl.IP(nl.Near, "neigh", "add", "10.77.0.51", "lladdr", macString(labFarMAC[:]), "dev", nl.NearIf)

	// The filtered socket: 10.77.0.51 arrives, 10.77.0.50 never did.
	_, before := nl.await(t, 3*time.Second, "RTM_NEWNEIGH for 10.77.0.51",
		neighIs(t, unix.RTM_NEWNEIGH, nl.nearIx, theirs, nil))
	for _, m := range before {
		var n rtnl.Neigh
		if rtnl.DecodeNeigh(&m.m, &n) == nil && [4]byte(n.Dst[:4]) == ours {
			t.Errorf("the filtered socket got the notification of its own port's neighbour (nlmsg_pid %d)", m.m.Pid)
		}
	}
	// The plain socket: both, ours with our port in nlmsg_pid.
	seen := map[[4]byte]uint32{}
	deadline := time.Now().Add(3 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		b, err := plain.Recv()
		if err == unix.EAGAIN {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		for it.Next(&m) {
			var n rtnl.Neigh
			if m.Type == unix.RTM_NEWNEIGH && rtnl.DecodeNeigh(&m, &n) == nil && n.DstLen == 4 {
				seen[[4]byte(n.Dst[:4])] = m.Pid
			}
		}
	}
	if pid, ok := seen[ours]; !ok || pid != req.Port() {
		t.Errorf("plain listener: notification of 10.77.0.50 %v with nlmsg_pid %d, want one with %d", ok, pid, req.Port())
	}
	if _, ok := seen[theirs]; !ok {
		t.Errorf("plain listener: no notification of 10.77.0.51")
	}
}

// TestLabAnswerBatch checks that answers sent several to a datagram are
// each applied by the kernel: 40 INCOMPLETE entries, answered through
// the answer batch (32 sent when the batch is full, the other 8 by its
// flush), all end up with the cache's MAC, and app_success counts
// them.
func TestLabAnswerBatch(t *testing.T) {
	nl := newNLLab(t)
	// Time to answer 40 before the kernel gives up on the first.
	nl.Sysctl(nl.Near, "net/ipv4/neigh/"+nl.NearIf+"/retrans_time_ms", "2000")
	c, _ := newTestCache(t, 1024)
	var req *rtnl.Conn
	if err := nl.Do(nl.Near, func() (err error) {
		req, err = rtnl.Dial(0, 1<<20)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { req.Close() })
	a := &answers{out: req, c: c}
	const n = 40
	dst := func(i int) [4]byte { return [4]byte{10, 77, 0, byte(100 + i)} }
	for i := 0; i < n; i++ {
		nl.udp(t, dst(i))
	}
	reqs := map[[4]byte]rtnl.Neigh{}
	deadline := time.Now().Add(5 * time.Second)
	for len(reqs) < n && time.Now().Before(deadline) {
		m, _ := nl.await(t, time.Until(deadline), "RTM_GETNEIGH", func(m *rtnl.Msg) bool { return m.Type == unix.RTM_GETNEIGH })
		var r rtnl.Neigh
		if rtnl.DecodeNeigh(&m.m, &r) == nil && r.DstLen == 4 && r.State == unix.NUD_INCOMPLETE {
			reqs[[4]byte(r.Dst[:4])] = r
		}
	}
	if len(reqs) != n {
		t.Fatalf("the kernel asked about %d of %d addresses", len(reqs), n)
	}
	for i := 0; i < n; i++ {
		r := reqs[dst(i)]
		if err := a.add(&r, labCacheMAC[:]); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if i == answerBatchMax-1 && a.n != 0 {
			t.Errorf("after %d answers, %d are still queued: a full batch should have been sent", answerBatchMax, a.n)
		}
	}
	if a.n != n-answerBatchMax {
		t.Errorf("%d answers queued before the flush, want %d", a.n, n-answerBatchMax)
	}
	a.flush()
	if got := c.Counter(ctrAppSuccess); got != n {
		t.Errorf("app_success = %d, want %d", got, n)
	}
	for i := 0; i < n; i++ {
		a := fmt.Sprintf("10.77.0.%d", 100+i)
		if show := nl.neighShow(a); !strings.Contains(show, macString(labCacheMAC[:])) {
			t.Errorf("%s after the batched answers: %q, want lladdr %s", a, show, macString(labCacheMAC[:]))
		}
	}
	// Queuing and sending answers allocates nothing.
	r := reqs[dst(0)]
	if allocs := testing.AllocsPerRun(100, func() {
		a.add(&r, labCacheMAC[:])
		a.flush()
	}); allocs != 0 {
		t.Errorf("answers.add and flush: %v allocations, want 0", allocs)
	}
}

// ifiType and ifiFlags read ifi_type and ifi_flags of a link message, which
// rtnl.Link does not keep (the daemon never reads them).
func ifiType(m *rtnl.Msg) uint16  { return binary.NativeEndian.Uint16(m.Data[2:4]) }
func ifiFlags(m *rtnl.Msg) uint32 { return binary.NativeEndian.Uint32(m.Data[8:12]) }
