package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	netip "arpd/internal/netiplite"
	"arpd/internal/rtnl"
)

// addr6Is returns a matcher for an IPv6 address message of type typ for ip
// on ifindex whose flags, masked with mask, are want.
func addr6Is(t *testing.T, typ uint16, ifindex int32, ip string, mask, want uint32) func(m *rtnl.Msg) bool {
	a16 := netip.MustParseAddr(ip).As16()
	return func(m *rtnl.Msg) bool {
		if m.Type != typ {
			return false
		}
		var a rtnl.Addr
		if err := rtnl.DecodeAddr(m, &a); err != nil {
			t.Errorf("kernel address message rejected: %v (% x)", err, m.Data)
			return false
		}
		return a.Family == unix.AF_INET6 && a.Ifindex == ifindex && a.HasAddress && a.Address6 == a16 && a.Flags&mask == want
	}
}

// TestLabNetlinkAddr6Capture adds and removes IPv6 addresses on the near
// side, checks the kernel's notifications with the decoder (a tentative
// address, the same once duplicate address detection is done, one with a
// peer, one whose detection failed, a removal), and with ARPD_CAPTURE=1
// saves them as the unit tests' testdata. Then it dumps the near side's
// IPv6 addresses through the daemon's handleAddr, and checks the set it
// fills: the link-local source, the prefixes on the link, the router's own
// addresses.
func TestLabNetlinkAddr6Capture(t *testing.T) {
	l := labtest.New(t)
	nl := l.DialNetlink(unix.RTMGRP_IPV6_IFADDR, 1<<20)
	captureAddrs6(t, nl)
	checkAddr6Dump(t, nl)
}

// captureAddrs6 makes the kernel notify the IPv6 address changes the
// daemon must follow, and checks and saves each notification.
func captureAddrs6(t *testing.T, nl *labtest.Netlink) {
	ix := nl.NearIndex
	const tentative = unix.IFA_F_TENTATIVE | unix.IFA_F_DADFAILED
	save := func(name, how string, m labtest.Captured) {
		labtest.SaveCapture(t, rtnlTestdata, name, how, m.Raw)
	}
	nl.IP(nl.Near, "-6", "addr", "add", "2001:db8:62::1/64", "dev", nl.NearIf)
	m, _ := nl.Await(3*time.Second, "tentative RTM_NEWADDR for 2001:db8:62::1",
		addr6Is(t, unix.RTM_NEWADDR, ix, "2001:db8:62::1", tentative, unix.IFA_F_TENTATIVE))
	save("newaddr6_tentative", "RTM_NEWADDR from `ip -6 addr add 2001:db8:62::1/64 dev vnear`: IFA_ADDRESS alone, IFA_F_TENTATIVE.", m)
	m, _ = nl.Await(5*time.Second, "RTM_NEWADDR for 2001:db8:62::1 after duplicate address detection",
		addr6Is(t, unix.RTM_NEWADDR, ix, "2001:db8:62::1", tentative, 0))
	save("newaddr6", "RTM_NEWADDR for 2001:db8:62::1/64 on vnear once duplicate address detection is done: no IFA_F_TENTATIVE.", m)

	nl.IP(nl.Near, "-6", "addr", "add", "2001:db8:63::1", "peer", "2001:db8:63::2/128", "dev", nl.NearIf, "nodad")
	m, _ = nl.Await(3*time.Second, "RTM_NEWADDR for 2001:db8:63::2 (the peer)",
		addr6Is(t, unix.RTM_NEWADDR, ix, "2001:db8:63::2", tentative, 0))
	var a rtnl.Addr
	if err := rtnl.DecodeAddr(&m.Msg, &a); err != nil || !a.HasLocal || a.Local6 != netip.MustParseAddr("2001:db8:63::1").As16() || a.PrefixLen != 128 {
		t.Errorf("peer address: %v %+v", err, a)
	}
	save("newaddr6_peer", "RTM_NEWADDR from `ip -6 addr add 2001:db8:63::1 peer 2001:db8:63::2/128 dev vnear nodad`: IFA_LOCAL and IFA_ADDRESS.", m)

	// The far side holds 2001:db8:64::1 already: the near side's
	// detection fails.
	nl.IP(nl.Far, "-6", "addr", "add", "2001:db8:64::1/64", "dev", nl.FarIf, "nodad")
	nl.IP(nl.Near, "-6", "addr", "add", "2001:db8:64::1/64", "dev", nl.NearIf)
	m, _ = nl.Await(5*time.Second, "RTM_NEWADDR for 2001:db8:64::1 with IFA_F_DADFAILED",
		addr6Is(t, unix.RTM_NEWADDR, ix, "2001:db8:64::1", unix.IFA_F_DADFAILED, unix.IFA_F_DADFAILED))
	save("newaddr6_dadfailed", "RTM_NEWADDR for 2001:db8:64::1/64 on vnear, which vfar holds: IFA_F_DADFAILED.", m)

	nl.IP(nl.Near, "-6", "addr", "del", "2001:db8:62::1/64", "dev", nl.NearIf)
	m, _ = nl.Await(3*time.Second, "RTM_DELADDR for 2001:db8:62::1",
		addr6Is(t, unix.RTM_DELADDR, ix, "2001:db8:62::1", 0, 0))
	save("deladdr6", "RTM_DELADDR from `ip -6 addr del 2001:db8:62::1/64 dev vnear`.", m)
}

// checkAddr6Dump dumps the near side's IPv6 addresses into a daemon's
// interface set through handleAddr, as the daemon's startup dump does.
func checkAddr6Dump(t *testing.T, nl *labtest.Netlink) {
	// NB: the link-local address's detection starts when the link comes
	// up, after a random delay of up to a second; until it ends the
	// interface has no source for solicitations.
	if !labtest.WaitFor(5*time.Second, func() bool {
		out := nl.IP(nl.Near, "-6", "-o", "addr", "show", "dev", nl.NearIf, "scope", "link")
		return strings.Contains(out, "fe80:") && !strings.Contains(out, "tentative")
	}) {
		t.Fatalf("the link-local address of %s stays tentative", nl.NearIf)
	}
	w := &watchedIf{name: nl.NearIf, index: nl.NearIndex}
	d := &daemon{ifs: interfaces{links: map[int32]*watchedIf{nl.NearIndex: w}}, log: newLogger("", nil)}
	var req [rtnl.DumpMsgMax]byte
	k, err := rtnl.PutAddrDump(req[:], nl.Conn.NextSeq(), unix.AF_INET6)
	if err != nil {
		t.Fatal(err)
	}
	nl.Send(req[:k])
	_, seen := nl.Await(3*time.Second, "NLMSG_DONE of the address dump", func(m *rtnl.Msg) bool { return m.Type == unix.NLMSG_DONE })
	for _, c := range seen {
		var a rtnl.Addr
		if c.Msg.Type == unix.RTM_NEWADDR && rtnl.DecodeAddr(&c.Msg, &a) == nil {
			d.handleAddr(&a)
		}
	}
	src, ok := w.addrs6.Source()
	// The kernel's own choice: the link-local address ip shows.
	out := nl.IP(nl.Near, "-6", "-o", "addr", "show", "dev", nl.NearIf, "scope", "link")
	if !ok || !isLinkLocal6(&src) || !slices.Contains(strings.Fields(out), netip.AddrFrom16(src).String()+"/64") {
		t.Errorf("source %v (%v), want the link-local address of\n%s", netip.AddrFrom16(src), ok, out)
	}
	for _, tc := range []struct {
		ip              string
		onLink, ownAddr bool
	}{
		{"2001:db8:63::1", false, true}, // a /128 with a peer: only the peer is on the link
		{"2001:db8:63::2", true, false},
		{"2001:db8:64::9", true, false}, // on the prefix, whoever owns the address
		{"2001:db8:64::1", true, false}, // detection failed: vfar's
		{"2001:db8:62::9", false, false},
		{"fe80::99", true, false},
		{netip.AddrFrom16(src).String(), true, true},
	} {
		ip := netip.MustParseAddr(tc.ip).As16()
		if w.addrs6.OnLink(ip) != tc.onLink || d.ifs.ownAddr6(ip) != tc.ownAddr {
			t.Errorf("%s: on link %v, own %v; want %v, %v", tc.ip, w.addrs6.OnLink(ip), d.ifs.ownAddr6(ip), tc.onLink, tc.ownAddr)
		}
	}
	if w.addrs.Len() != 0 {
		t.Errorf("an IPv6 dump filled the IPv4 set: %+v", w.addrs.a[:w.addrs.n])
	}
}
