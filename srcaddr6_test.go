package main

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	netip "arpd/internal/netiplite"
	"arpd/internal/rtnl"
)

// addr6 is an ifAddr6 for s ("2001:db8::1/64"), its own prefix address,
// with flags.
func addr6(s string, prefixLen uint8, flags uint32) ifAddr6 {
	ip := netip.MustParseAddr(s).As16()
	return ifAddr6{Local: ip, Peer: ip, PrefixLen: prefixLen, Flags: flags}
}

// ip6 is the 16 bytes of s.
func ip6(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// source6Of returns the chosen source as a string, "none" when there is
// none.
func source6Of(t *ifAddrs6) string {
	src, ok := t.Source()
	if !ok {
		return "none"
	}
	return netip.AddrFrom16(src).String()
}

func TestIfAddrs6Source(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs []ifAddr6
		want  string
	}{
		{"link-local", []ifAddr6{addr6("2001:db8::1", 64, 0), addr6("fe80::1", 64, 0)}, "fe80::1"},
		{"no link-local", []ifAddr6{addr6("2001:db8::1", 64, 0)}, "none"},
		{"none at all", nil, "none"},
		{"tentative", []ifAddr6{addr6("fe80::1", 64, unix.IFA_F_TENTATIVE)}, "none"},
		{"optimistic", []ifAddr6{addr6("fe80::1", 64, unix.IFA_F_OPTIMISTIC)}, "none"},
		{"detection failed", []ifAddr6{addr6("fe80::1", 64, unix.IFA_F_DADFAILED|unix.IFA_F_TENTATIVE)}, "none"},
		{"the first usable one", []ifAddr6{addr6("fe80::1", 64, unix.IFA_F_TENTATIVE), addr6("fe80::2", 64, unix.IFA_F_PERMANENT), addr6("fe80::3", 64, 0)}, "fe80::2"},
		{"deprecated is usable", []ifAddr6{addr6("fe80::1", 64, unix.IFA_F_DEPRECATED)}, "fe80::1"},
		{"all of fe80::/10", []ifAddr6{addr6("febf::1", 64, 0)}, "febf::1"},
		{"fec0:: is not link-local", []ifAddr6{addr6("fec0::1", 64, 0)}, "none"},
	} {
		var tab ifAddrs6
		for _, a := range tc.addrs {
			if !tab.Add(a) {
				t.Fatalf("%s: Add(%+v) refused", tc.name, a)
			}
		}
		if got := source6Of(&tab); got != tc.want {
			t.Errorf("%s: source %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestIfAddrs6OnLinkAndLocal(t *testing.T) {
	var tab ifAddrs6
	peer := ifAddr6{Local: ip6("2001:db8:63::1"), Peer: ip6("2001:db8:63::2"), PrefixLen: 128}
	for _, a := range []ifAddr6{addr6("2001:db8:1::1", 64, 0), addr6("2001:db8:2::1", 61, 0), addr6("2001:db8:3::1", 128, 0),
		addr6("2001:db8:4::1", 64, unix.IFA_F_DADFAILED), addr6("2001:db8:5::1", 64, unix.IFA_F_TENTATIVE), peer} {
		tab.Add(a)
	}
	for _, tc := range []struct {
		ip            string
		onLink, local bool
	}{
		{"2001:db8:1::1", true, true},
		{"2001:db8:1::ffff", true, false},
		{"2001:db8:1:1::1", false, false},
		{"2001:db8:2:7::9", true, false}, // 2001:db8:2::/61 holds 2001:db8:2:0:: to 2001:db8:2:7::
		{"2001:db8:2:8::9", false, false},
		{"2001:db8:3::1", true, true}, // a /128 holds itself only
		{"2001:db8:3::2", false, false},
		{"2001:db8:4::1", true, false}, // detection failed: another host's
		{"2001:db8:5::1", true, true},  // tentative: the router's, being claimed
		{"2001:db8:63::2", true, false},
		{"2001:db8:63::1", false, true}, // a peer address is matched by the peer
		{"fe80::1234", true, false},     // link-local: on every link
		{"::", false, false},
		{"2001:db9::1", false, false},
	} {
		ip := ip6(tc.ip)
		if tab.OnLink(ip) != tc.onLink || tab.HasLocal(ip) != tc.local {
			t.Errorf("%s: on link %v, local %v; want %v, %v", tc.ip, tab.OnLink(ip), tab.HasLocal(ip), tc.onLink, tc.local)
		}
	}
	var all ifAddrs6
	all.Add(addr6("2001:db8::1", 0, 0))
	if !all.OnLink(ip6("2600::1")) {
		t.Errorf("::/0 does not hold 2600::1")
	}
}

// TestIfAddrs6Changes: an address notified again (detection done) is
// updated in place, a removal removes only its address, a full set
// refuses more and says so, and Reset empties it.
func TestIfAddrs6Changes(t *testing.T) {
	var tab ifAddrs6
	tab.Add(addr6("2001:db8::1", 64, 0))
	tab.Add(addr6("fe80::1", 64, unix.IFA_F_TENTATIVE))
	if got := source6Of(&tab); got != "none" {
		t.Errorf("tentative: %s", got)
	}
	tab.Add(addr6("fe80::1", 64, unix.IFA_F_PERMANENT))
	if got := source6Of(&tab); got != "fe80::1" || tab.n != 2 {
		t.Errorf("after detection: %s, %d addresses", got, tab.n)
	}
	d := addr6("fe80::1", 64, 0)
	tab.Delete(&d)
	if got := source6Of(&tab); got != "none" || tab.n != 1 || !tab.HasLocal(ip6("2001:db8::1")) {
		t.Errorf("after removing fe80::1: %s, %d addresses", got, tab.n)
	}
	tab.Delete(&d) // not there: nothing happens
	if tab.n != 1 {
		t.Errorf("removing a missing address removed another")
	}
	tab.Reset()
	for i := 0; i < ifAddr6Max; i++ {
		if !tab.Add(addr6("2001:db8:"+itoa(i+1)+"::1", 64, 0)) {
			t.Fatalf("address %d refused", i)
		}
	}
	if tab.Add(addr6("fe80::1", 64, 0)) || tab.n != ifAddr6Max || tab.OnLink(ip6("2001:db8:99::9")) {
		t.Errorf("a 17th address was kept")
	}
	if !tab.Add(addr6("2001:db8:1::1", 64, unix.IFA_F_DEPRECATED)) {
		t.Errorf("a full set refused an update of an address it holds")
	}
	tab.Reset()
	if tab.n != 0 || tab.HasLocal(ip6("2001:db8:1::1")) {
		t.Errorf("Reset left %d addresses", tab.n)
	}
}

// TestHandleAddr6 feeds the daemon's handleAddr IPv6 messages as the
// kernel sends them: IFA_ADDRESS alone, and with IFA_LOCAL for a peer; it
// checks the set, the IPv4 set left alone, and the one warning for a full
// set.
func TestHandleAddr6(t *testing.T) {
	w := &watchedIf{name: "lan0", index: 2}
	d := &daemon{ifs: interfaces{links: map[int32]*watchedIf{2: w}}, log: newLogger("", nil)}
	msg := func(typ uint16, ip string, flags uint32) *rtnl.Addr {
		return &rtnl.Addr{MsgType: typ, Family: unix.AF_INET6, PrefixLen: 64, Ifindex: 2, Flags: flags,
			HasAddress: true, Address6: ip6(ip)}
	}
	d.handleAddr(msg(unix.RTM_NEWADDR, "fe80::1", unix.IFA_F_TENTATIVE))
	d.handleAddr(msg(unix.RTM_NEWADDR, "2001:db8::1", 0))
	d.handleAddr(msg(unix.RTM_NEWADDR, "2001:db8:9::1", 0))
	other := msg(unix.RTM_NEWADDR, "2001:db8:5::1", 0)
	other.Ifindex = 3 // not watched
	d.handleAddr(other)
	peer := &rtnl.Addr{MsgType: unix.RTM_NEWADDR, Family: unix.AF_INET6, PrefixLen: 128, Ifindex: 2,
		HasLocal: true, Local6: ip6("2001:db8:63::1"), HasAddress: true, Address6: ip6("2001:db8:63::2")}
	d.handleAddr(peer)
	if _, ok := w.addrs6.Source(); ok || !d.ifs.ownAddr6(ip6("2001:db8::1")) || d.ifs.ownAddr6(ip6("2001:db8:5::1")) {
		t.Errorf("after the first messages: %+v", w.addrs6.a[:w.addrs6.n])
	}
	if !d.ifs.ownAddr6(ip6("2001:db8:63::1")) || d.ifs.ownAddr6(ip6("2001:db8:63::2")) || !w.addrs6.OnLink(ip6("2001:db8:63::2")) {
		t.Errorf("peer address: %+v", w.addrs6.a[:w.addrs6.n])
	}
	d.handleAddr(msg(unix.RTM_NEWADDR, "fe80::1", unix.IFA_F_PERMANENT))
	d.handleAddr(msg(unix.RTM_DELADDR, "2001:db8:9::1", 0))
	if src, ok := w.addrs6.Source(); !ok || src != ip6("fe80::1") || w.addrs6.OnLink(ip6("2001:db8:9::2")) || w.addrs.Len() != 0 {
		t.Errorf("after detection and a removal: %+v", w.addrs6.a[:w.addrs6.n])
	}
	w.resetAddrs()
	if w.addrs6.n != 0 {
		t.Errorf("resetAddrs left IPv6 addresses")
	}
	var logs strings.Builder
	d.log = newLogger("", &logs)
	for i := 0; i < ifAddr6Max+3; i++ {
		d.handleAddr(msg(unix.RTM_NEWADDR, "2001:db8:"+itoa(i+1)+"::1", 0))
	}
	if want := "arpd: interface lan0 has more than 16 IPv6 addresses: the others are not the router's own to the daemon, and senders only on their prefixes are not learned\n"; logs.String() != want || !d.ifs.addrFull6 {
		t.Errorf("log %q, want %q", logs.String(), want)
	}
}

func TestIfAddrs6NoAllocs(t *testing.T) {
	var tab ifAddrs6
	for i := 0; i < ifAddr6Max-1; i++ {
		tab.Add(addr6("2001:db8:"+itoa(i+1)+"::1", 64, 0))
	}
	tab.Add(addr6("fe80::1", 64, 0))
	probe := ip6("2001:db8:99::1")
	var ok bool
	if a := testing.AllocsPerRun(100, func() {
		_, ok = tab.Source()
		ok = ok && !tab.OnLink(probe) && !tab.HasLocal(probe)
	}); a != 0 || !ok {
		t.Errorf("%v allocations, %v", a, ok)
	}
}

// FuzzAddrList6 drives an interface's IPv6 address set with additions and
// removals made of the fuzzer's bytes (35 bytes an operation: kind,
// address, peer, prefix length, flags) and checks after each that it keeps
// at most ifAddr6Max addresses, no address twice, that Source returns only
// a usable link-local one of them, and that every address is on the link.
func FuzzAddrList6(f *testing.F) {
	ll, g := ip6("fe80::1"), ip6("2001:db8::1")
	op := func(kind byte, a, p [16]byte, plen, flags byte) []byte {
		b := append([]byte{kind}, a[:]...)
		return append(append(b, p[:]...), plen, flags)
	}
	f.Add(append(op(0, ll, ll, 64, 0x40), op(0, ll, ll, 64, 0x80)...))
	f.Add(append(op(0, g, g, 64, 0), op(1, g, g, 64, 0)...))
	f.Add(append(op(0, g, ll, 200, 0x08), op(0, ll, g, 10, 0x04)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tab ifAddrs6
		for len(data) >= 35 {
			o := data[:35]
			data = data[35:]
			a := ifAddr6{Local: [16]byte(o[1:17]), Peer: [16]byte(o[17:33]), PrefixLen: o[33] % 129, Flags: uint32(o[34])}
			if o[0]&1 == 0 {
				tab.Add(a)
			} else {
				tab.Delete(&a)
			}
			checkAddrList6(t, &tab)
		}
	})
}

// checkAddrList6 checks the invariants of tab.
func checkAddrList6(t *testing.T, tab *ifAddrs6) {
	t.Helper()
	if tab.n < 0 || tab.n > ifAddr6Max {
		t.Fatalf("%d addresses kept", tab.n)
	}
	for i := 0; i < tab.n; i++ {
		for j := i + 1; j < tab.n; j++ {
			if tab.a[i].Local == tab.a[j].Local {
				t.Fatalf("address %+v kept twice", tab.a[i])
			}
		}
		if !tab.OnLink(tab.a[i].Peer) {
			t.Fatalf("%+v is not on its own link", tab.a[i])
		}
	}
	src, ok := tab.Source()
	found := false
	for i := 0; i < tab.n; i++ {
		if p := &tab.a[i]; p.Local == src && isLinkLocal6(&p.Local) && p.Flags&notSource == 0 {
			found = true
		}
	}
	if ok != found {
		t.Fatalf("source %v (%v) is not a usable address of %+v", src, ok, tab.a[:tab.n])
	}
}
