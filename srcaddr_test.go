package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// addr4 is an ifAddr for local/prefixLen, its own prefix address.
func addr4(a, b, c, d byte, prefixLen uint8) ifAddr {
	ip := [4]byte{a, b, c, d}
	return ifAddr{Local: ip, Peer: ip, PrefixLen: prefixLen}
}

// sourceOf returns the chosen source for target as a string, "none" when
// there is none.
func sourceOf(t *ifAddrs, target [4]byte) string {
	src, ok := t.Source(target)
	if !ok {
		return "none"
	}
	return ipString(src)
}

func TestIfAddrsSource(t *testing.T) {
	secondary := addr4(192, 168, 1, 2, 24)
	secondary.Secondary = true
	host := addr4(10, 9, 0, 1, 24)
	host.Scope = unix.RT_SCOPE_HOST
	peer := ifAddr{Local: [4]byte{10, 63, 0, 1}, Peer: [4]byte{10, 63, 0, 2}, PrefixLen: 32}
	for _, tc := range []struct {
		name   string
		addrs  []ifAddr
		target [4]byte
		want   string
	}{
		{"in the primary subnet", []ifAddr{addr4(192, 168, 1, 1, 24), addr4(10, 0, 0, 1, 24)}, [4]byte{192, 168, 1, 7}, "192.168.1.1"},
		{"in the second subnet", []ifAddr{addr4(192, 168, 1, 1, 24), addr4(10, 0, 0, 1, 24)}, [4]byte{10, 0, 0, 7}, "10.0.0.1"},
		{"in none: the first primary", []ifAddr{addr4(192, 168, 1, 1, 24), addr4(10, 0, 0, 1, 24)}, [4]byte{172, 16, 0, 7}, "192.168.1.1"},
		{"a secondary is never chosen", []ifAddr{addr4(192, 168, 1, 1, 24), secondary}, [4]byte{192, 168, 1, 7}, "192.168.1.1"},
		{"only a secondary", []ifAddr{secondary}, [4]byte{192, 168, 1, 7}, "none"},
		{"no address", nil, [4]byte{10, 0, 0, 7}, "none"},
		{"/32 matches only itself", []ifAddr{addr4(10, 0, 0, 1, 24), addr4(10, 1, 0, 1, 32)}, [4]byte{10, 1, 0, 2}, "10.0.0.1"},
		{"/32 alone is the fallback", []ifAddr{addr4(10, 1, 0, 1, 32)}, [4]byte{10, 1, 0, 2}, "10.1.0.1"},
		{"/31 holds its partner", []ifAddr{addr4(10, 0, 0, 1, 24), addr4(10, 1, 0, 4, 31)}, [4]byte{10, 1, 0, 5}, "10.1.0.4"},
		{"/31 ends there", []ifAddr{addr4(10, 0, 0, 1, 24), addr4(10, 1, 0, 4, 31)}, [4]byte{10, 1, 0, 6}, "10.0.0.1"},
		{"/0 holds everything", []ifAddr{addr4(10, 0, 0, 1, 24), addr4(10, 1, 0, 4, 0)}, [4]byte{8, 8, 8, 8}, "10.1.0.4"},
		{"a peer is matched by IFA_ADDRESS", []ifAddr{addr4(10, 0, 0, 1, 24), peer}, [4]byte{10, 63, 0, 2}, "10.63.0.1"},
		{"host scope is never chosen", []ifAddr{host, addr4(10, 0, 0, 1, 24)}, [4]byte{10, 9, 0, 7}, "10.0.0.1"},
	} {
		var tab ifAddrs
		for _, a := range tc.addrs {
			if !tab.Add(a) {
				t.Fatalf("%s: Add(%+v) refused", tc.name, a)
			}
		}
		if got := sourceOf(&tab, tc.target); got != tc.want {
			t.Errorf("%s: source for %s is %s, want %s", tc.name, ipString(tc.target), got, tc.want)
		}
	}
}

// TestIfAddrsChanges checks the table through the changes the kernel
// notifies, step by step on one table: additions and removals, a
// secondary promoted, the kernel's order, and a full table.
func TestIfAddrsChanges(t *testing.T) {
	var tab ifAddrs
	ifAddrsAddDelete(t, &tab)
	ifAddrsPromotion(t, &tab)
	ifAddrsOrder(t, &tab)
	ifAddrsFull(t, &tab)
}

// ifAddrsAddDelete adds and removes addresses on the empty tab, and leaves
// it empty.
func ifAddrsAddDelete(t *testing.T, tab *ifAddrs) {
	a, b := addr4(192, 168, 1, 1, 24), addr4(10, 0, 0, 1, 24)
	tab.Add(a)
	tab.Add(b)
	tab.Add(a) // notified again: not kept twice
	if tab.Len() != 2 {
		t.Fatalf("%d addresses, want 2", tab.Len())
	}
	target := [4]byte{10, 0, 0, 7}
	tab.Delete(&b)
	if got := sourceOf(tab, target); got != "192.168.1.1" {
		t.Errorf("after removing 10.0.0.1/24: %s, want the first primary", got)
	}
	// Another prefix length is another address.
	other := addr4(192, 168, 1, 1, 16)
	tab.Delete(&other)
	if tab.Len() != 1 {
		t.Errorf("removing %+v removed %+v", other, a)
	}
	tab.Delete(&a)
	if got := sourceOf(tab, target); got != "none" || tab.Len() != 0 {
		t.Errorf("after removing every address: %s, %d left", got, tab.Len())
	}
}

// ifAddrsPromotion: a secondary promoted when its primary goes is
// notified again as a primary, and replaces its secondary self. tab must
// be empty.
func ifAddrsPromotion(t *testing.T, tab *ifAddrs) {
	target := [4]byte{10, 0, 0, 7}
	p, s := addr4(10, 0, 0, 1, 24), addr4(10, 0, 0, 2, 24)
	s.Secondary = true
	tab.Add(p)
	tab.Add(s)
	tab.Delete(&p)
	if got := sourceOf(tab, target); got != "none" {
		t.Errorf("only a secondary left: %s", got)
	}
	s.Secondary = false
	tab.Add(s)
	if got := sourceOf(tab, target); got != "10.0.0.2" || tab.Len() != 1 {
		t.Errorf("after the promotion: %s, %d addresses", got, tab.Len())
	}
}

// ifAddrsOrder: the kernel's order, a link-scope primary before universe
// ones and secondaries after every primary, so the fallback is the link
// one.
func ifAddrsOrder(t *testing.T, tab *ifAddrs) {
	tab.Reset()
	link := addr4(10, 63, 0, 1, 24)
	link.Scope = rtScopeLink
	sec := addr4(192, 168, 1, 9, 24)
	sec.Secondary = true
	tab.Add(addr4(192, 168, 1, 1, 24))
	tab.Add(sec)
	tab.Add(link)
	tab.Add(addr4(172, 16, 0, 1, 24))
	want := []string{"10.63.0.1", "192.168.1.1", "172.16.0.1", "192.168.1.9"}
	for i := range want {
		if i >= tab.Len() || ipString(tab.a[i].Local) != want[i] {
			t.Fatalf("order %+v, want %v", tab.a[:tab.Len()], want)
		}
	}
	if got := sourceOf(tab, [4]byte{8, 8, 8, 8}); got != "10.63.0.1" {
		t.Errorf("fallback %s, want the link-scope address first in the list", got)
	}
}

// ifAddrsFull: the 17th address is refused, the first 16 still work.
func ifAddrsFull(t *testing.T, tab *ifAddrs) {
	tab.Reset()
	for i := 0; i < ifAddrMax; i++ {
		if !tab.Add(addr4(10, byte(i), 0, 1, 24)) {
			t.Fatalf("address %d refused", i)
		}
	}
	if tab.Add(addr4(10, 99, 0, 1, 24)) || tab.Len() != ifAddrMax {
		t.Errorf("a 17th address was kept")
	}
	if got := sourceOf(tab, [4]byte{10, 15, 0, 9}); got != "10.15.0.1" {
		t.Errorf("full table: %s", got)
	}
	if got := sourceOf(tab, [4]byte{10, 99, 0, 9}); got != "10.0.0.1" {
		t.Errorf("full table, the refused subnet: %s", got)
	}
}

func TestIfAddrsNoAllocs(t *testing.T) {
	var tab ifAddrs
	for i := 0; i < ifAddrMax; i++ {
		tab.Add(addr4(10, byte(i), 0, 1, 24))
	}
	var src [4]byte
	if a := testing.AllocsPerRun(100, func() {
		src, _ = tab.Source([4]byte{10, 15, 0, 9})
	}); a != 0 || src != [4]byte{10, 15, 0, 1} {
		t.Errorf("Source: %v allocations, %v", a, src)
	}
}

func TestPrefixMask(t *testing.T) {
	for n, want := range map[uint8]uint32{0: 0, 1: 0x80000000, 24: 0xffffff00, 31: 0xfffffffe, 32: 0xffffffff, 40: 0xffffffff} {
		if got := prefixMask(n); got != want {
			t.Errorf("prefixMask(%d) = %#x, want %#x", n, got, want)
		}
	}
}

// Len returns the number of addresses kept (the daemon never asks).
func (t *ifAddrs) Len() int { return t.n }
