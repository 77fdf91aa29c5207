package main

import "testing"

// FuzzAddrList drives an interface's address list with additions and
// removals made of the fuzzer's bytes (13 bytes an operation: kind, local,
// peer, prefix length, scope, flags) and checks after each that it keeps
// at most ifAddrMax addresses, no two the same, primaries before
// secondaries, and that Source only ever returns a usable primary.
func FuzzAddrList(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 1, 10, 0, 0, 1, 24, 0, 0, 10, 0, 0, 2})
	f.Add([]byte{0, 10, 0, 0, 1, 10, 0, 0, 1, 24, 0, 0, 1, 10, 0, 0, 1, 10, 0, 0, 1, 24, 0, 0, 0})
	f.Add([]byte{0, 169, 254, 0, 1, 169, 254, 0, 1, 16, 253, 0, 0, 10, 0, 0, 1, 10, 0, 0, 1, 8, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tab ifAddrs
		for len(data) >= 13 {
			op := data[:13]
			data = data[13:]
			a := ifAddr{Local: [4]byte(op[1:5]), Peer: [4]byte(op[5:9]), PrefixLen: op[9] % 33,
				Scope: op[10], Secondary: op[11]&1 != 0}
			if op[0]&1 == 0 {
				tab.Add(a)
			} else {
				tab.Delete(&a)
			}
			checkAddrList(t, &tab, [4]byte(op[1:5]))
		}
	})
}

// checkAddrList checks the invariants of tab, and Source for target.
func checkAddrList(t *testing.T, tab *ifAddrs, target [4]byte) {
	t.Helper()
	if tab.n < 0 || tab.n > ifAddrMax {
		t.Fatalf("%d addresses kept", tab.n)
	}
	for i := 0; i < tab.n; i++ {
		for j := i + 1; j < tab.n; j++ {
			if tab.a[i].same(&tab.a[j]) {
				t.Fatalf("address %+v kept twice", tab.a[i])
			}
		}
		if i > 0 && tab.a[i-1].Secondary && !tab.a[i].Secondary {
			t.Fatalf("primary %+v after a secondary", tab.a[i])
		}
	}
	src, ok := tab.Source(target)
	found := false
	for i := 0; i < tab.n; i++ {
		if p := &tab.a[i]; p.Local == src && !p.Secondary && p.Scope <= rtScopeLink {
			found = true
		}
	}
	if ok != found {
		t.Fatalf("source %v (%v) is not a usable address of %+v", src, ok, tab.a[:tab.n])
	}
}
