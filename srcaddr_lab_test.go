package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// addrIs returns a matcher for an IPv4 address message of type typ for
// local on ifindex.
func addrIs(t *testing.T, typ uint16, ifindex int32, local [4]byte) func(m *rtnl.Msg) bool {
	return func(m *rtnl.Msg) bool {
		if m.Type != typ {
			return false
		}
		var a rtnl.Addr
		if err := rtnl.DecodeAddr(m, &a); err != nil {
			t.Errorf("kernel address message rejected: %v (% x)", err, m.Data)
			return false
		}
		return a.Family == unix.AF_INET && a.Ifindex == ifindex && a.HasLocal && a.Local == local
	}
}

// TestLabNetlinkAddrCapture adds and removes addresses on the near side,
// checks the kernel's RTM_NEWADDR and RTM_DELADDR notifications and its
// address dump with the decoder, and with ARPD_CAPTURE=1 saves the
// notifications as the unit tests' testdata (internal/rtnl/testdata).
func TestLabNetlinkAddrCapture(t *testing.T) {
	l := labtest.New(t)
	nl := l.DialNetlink(unix.RTMGRP_IPV4_IFADDR, 1<<20)
	captureAddrs(t, nl)
	checkAddrDump(t, nl)
}

// rtnlTestdata is where the captures of the rtnetlink decoders' tests go.
var rtnlTestdata = filepath.Join("internal", "rtnl", "testdata")

// captureAddrs adds three addresses to NearIf and removes one, and checks
// and saves each notification.
func captureAddrs(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	nl.IP(nl.Near, "addr", "add", "10.62.0.1/24", "dev", nl.NearIf)
	m, _ := nl.Await(3*time.Second, "RTM_NEWADDR for 10.62.0.1", addrIs(t, unix.RTM_NEWADDR, ix, [4]byte{10, 62, 0, 1}))
	checkAddr(t, ix, "newaddr", m, rtnl.Addr{PrefixLen: 24, Local: [4]byte{10, 62, 0, 1}, Address: [4]byte{10, 62, 0, 1}})
	labtest.SaveCapture(t, rtnlTestdata, "newaddr", "RTM_NEWADDR from `ip addr add 10.62.0.1/24 dev vnear`: a primary address, IFA_LOCAL = IFA_ADDRESS.", m.Raw)

	nl.IP(nl.Near, "addr", "add", "10.62.0.5/24", "dev", nl.NearIf)
	m, _ = nl.Await(3*time.Second, "RTM_NEWADDR for 10.62.0.5", addrIs(t, unix.RTM_NEWADDR, ix, [4]byte{10, 62, 0, 5}))
	checkAddr(t, ix, "newaddr_secondary", m, rtnl.Addr{PrefixLen: 24, Flags: unix.IFA_F_SECONDARY, Local: [4]byte{10, 62, 0, 5}, Address: [4]byte{10, 62, 0, 5}})
	labtest.SaveCapture(t, rtnlTestdata, "newaddr_secondary", "RTM_NEWADDR from `ip addr add 10.62.0.5/24 dev vnear` after 10.62.0.1/24: IFA_F_SECONDARY.", m.Raw)

	nl.IP(nl.Near, "addr", "add", "10.63.0.1", "peer", "10.63.0.2/32", "scope", "link", "dev", nl.NearIf)
	m, _ = nl.Await(3*time.Second, "RTM_NEWADDR for 10.63.0.1", addrIs(t, unix.RTM_NEWADDR, ix, [4]byte{10, 63, 0, 1}))
	checkAddr(t, ix, "newaddr_peer", m, rtnl.Addr{PrefixLen: 32, Scope: rtScopeLink, Local: [4]byte{10, 63, 0, 1}, Address: [4]byte{10, 63, 0, 2}})
	labtest.SaveCapture(t, rtnlTestdata, "newaddr_peer", "RTM_NEWADDR from `ip addr add 10.63.0.1 peer 10.63.0.2/32 scope link dev vnear`: IFA_ADDRESS is the peer.", m.Raw)

	nl.IP(nl.Near, "addr", "del", "10.62.0.5/24", "dev", nl.NearIf)
	m, _ = nl.Await(3*time.Second, "RTM_DELADDR for 10.62.0.5", addrIs(t, unix.RTM_DELADDR, ix, [4]byte{10, 62, 0, 5}))
	checkAddr(t, ix, "deladdr", m, rtnl.Addr{PrefixLen: 24, Flags: unix.IFA_F_SECONDARY, Local: [4]byte{10, 62, 0, 5}, Address: [4]byte{10, 62, 0, 5}})
	labtest.SaveCapture(t, rtnlTestdata, "deladdr", "RTM_DELADDR from `ip addr del 10.62.0.5/24 dev vnear`.", m.Raw)
}

// checkAddr decodes the address message m and checks it against want, a
// permanent IPv4 address on ifindex with both IFA_LOCAL and IFA_ADDRESS;
// name names it in failures.
func checkAddr(t *testing.T, ifindex int32, name string, m labtest.Captured, want rtnl.Addr) {
	t.Helper()
	var a rtnl.Addr
	if err := rtnl.DecodeAddr(&m.Msg, &a); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want.MsgType, want.MsgFlags, want.Seq, want.Pid = a.MsgType, a.MsgFlags, a.Seq, a.Pid
	want.Family, want.Ifindex, want.HasLocal, want.HasAddress = unix.AF_INET, ifindex, true, true
	want.Flags |= unix.IFA_F_PERMANENT
	if a != want {
		t.Errorf("%s:\n %+v\nwant\n %+v", name, a, want)
	}
}

// checkAddrDump dumps the addresses captureAddrs left: the dump lists
// them in the kernel's order (the link-scope address first), and the
// table built from it chooses as the kernel does.
func checkAddrDump(t *testing.T, nl *labtest.Netlink) {
	var req [rtnl.DumpMsgMax]byte
	k, err := rtnl.PutAddrDump(req[:], nl.Conn.NextSeq(), unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	nl.Send(req[:k])
	_, seen := nl.Await(3*time.Second, "NLMSG_DONE of the address dump", func(m *rtnl.Msg) bool { return m.Type == unix.NLMSG_DONE })
	var tab ifAddrs
	var got []string
	for _, c := range seen {
		var a rtnl.Addr
		if c.Msg.Type != unix.RTM_NEWADDR || rtnl.DecodeAddr(&c.Msg, &a) != nil || a.Ifindex != nl.NearIndex {
			continue
		}
		got = append(got, ipString(a.Local)+"/"+ipString(a.Address))
		tab.Add(ifAddr{Local: a.Local, Peer: a.Address, PrefixLen: a.PrefixLen, Scope: a.Scope, Secondary: a.Flags&unix.IFA_F_SECONDARY != 0})
	}
	if strings.Join(got, " ") != "10.63.0.1/10.63.0.2 10.62.0.1/10.62.0.1" {
		t.Errorf("dump of %s: %q", nl.NearIf, got)
	}
	for _, tc := range []struct{ target, want [4]byte }{
		{[4]byte{10, 62, 0, 9}, [4]byte{10, 62, 0, 1}},
		{[4]byte{10, 63, 0, 2}, [4]byte{10, 63, 0, 1}},
		{[4]byte{10, 63, 0, 3}, [4]byte{10, 63, 0, 1}}, // none matches: the first primary

	} {
		if src, ok := tab.Source(tc.target); !ok || src != tc.want {
			t.Errorf("source for %v: %v %v, want %v", tc.target, src, ok, tc.want)
		}
	}
}

// TestDaemonLabProbeSource runs the daemon with -a 1 -k on a near side with
// three subnets and checks on the far side's wire that each probe comes from
// the near address in the target's subnet, also for an address added while
// the daemon runs, and from the first address once the target's subnet has
// no address left.
func TestDaemonLabProbeSource(t *testing.T) {
	d := newDaemonLab(t)
	d.IP(d.Near, "addr", "add", "10.61.0.1/24", "dev", d.NearIf)
	d.IP(d.Near, "addr", "add", "10.62.0.1/24", "dev", d.NearIf)
	far := d.watchWire(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", "-B", "40", d.NearIf)

	// expect makes the near kernel resolve target and waits for the
	// daemon's probe on the wire; it must come from want, and nothing
	// else may ask for target.
	expect := func(target, want [4]byte) {
		t.Helper()
		if err := d.Do(d.Near, func() error { return labtest.SendUDP(target) }); err != nil {
			t.Fatalf("send UDP to %v: %v", target, err)
		}
		if !labtest.WaitFor(3*time.Second, func() bool {
			far.Poll()
			return len(requests(far.Frames, want, isIP(target))) > 0
		}) {
			var seen []string
			for _, f := range far.Frames {
				if f.Drop == frame.DropNone && f.F.Op == frame.ARPOpRequest {
					seen = append(seen, ipString(f.F.SenderIP)+" asks "+ipString(f.F.TargetIP))
				}
			}
			t.Errorf("no probe for %s from %s on the wire; requests seen: %q\n%s", ipString(target), ipString(want), seen, p.Output())
			return
		}
		for _, f := range far.Frames {
			if f.Drop == frame.DropNone && f.F.Op == frame.ARPOpRequest && f.F.TargetIP == target && f.F.SenderIP != want {
				t.Errorf("a request for %s from %s, want only from %s", ipString(target), ipString(f.F.SenderIP), ipString(want))
			}
		}
	}
	expect([4]byte{10, 62, 0, 9}, [4]byte{10, 62, 0, 1})
	expect([4]byte{10, 61, 0, 9}, [4]byte{10, 61, 0, 1})
	expect([4]byte{10, 77, 0, 9}, labtest.NearIP)

	// An address added now is used for the next probe.
	d.IP(d.Near, "addr", "add", "10.64.0.1/24", "dev", d.NearIf)
	expect([4]byte{10, 64, 0, 9}, [4]byte{10, 64, 0, 1})

	// Removed: its subnet is still on the link by a route, and probes for
	// it come from the first address, as the kernel's would.
	d.IP(d.Near, "addr", "del", "10.62.0.1/24", "dev", d.NearIf)
	d.IP(d.Near, "route", "add", "10.62.0.0/24", "dev", d.NearIf)
	expect([4]byte{10, 62, 0, 10}, labtest.NearIP)

	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if st := labtest.Stats(t, d.DB); st["probe_errors"] != 0 || st["probes_sent"] != 5 {
		t.Errorf("probes_sent %d probe_errors %d, want 5 and 0", st["probes_sent"], st["probe_errors"])
	}
}
