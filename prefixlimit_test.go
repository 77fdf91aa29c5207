package main

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/rtnl"
)

// TestPrefixBucket: a full bucket of prefixBurst tokens, then one token
// every prefixEvery, never more than prefixBurst.
func TestPrefixBucket(t *testing.T) {
	l := newPrefixBucket()
	now := time.Hour
	for i := 0; i < prefixBurst; i++ {
		if !l.allow(now) {
			t.Fatalf("token %d of a full bucket refused", i+1)
		}
	}
	if l.allow(now) || l.allow(now+prefixEvery-time.Millisecond) {
		t.Fatal("a token past the burst allowed before prefixEvery")
	}
	if !l.allow(now+prefixEvery) || l.allow(now+prefixEvery) {
		t.Fatal("want exactly one token after prefixEvery")
	}
	now += 100 * prefixEvery
	for i := 0; i < prefixBurst; i++ {
		if !l.allow(now) {
			t.Fatalf("after a long pause, token %d refused", i+1)
		}
	}
	if l.allow(now) {
		t.Fatal("after a long pause, more than prefixBurst tokens")
	}
}

// failed6 is the kernel's own resolution failure of addr on lan0.
func failed6(addr [16]byte) *rtnl.Neigh {
	return &rtnl.Neigh{MsgType: unix.RTM_NEWNEIGH, Family: unix.AF_INET6, Ifindex: 2, State: unix.NUD_FAILED,
		Type: unix.RTN_UNICAST, DstLen: 16, Dst: addr, Probes: 3, HasProbes: true}
}

// TestNDPrefixLimited: the kernel's failures of addresses under 40 /64
// prefixes new to the cache file, as a scan of an on-link prefix shorter
// than /64 makes them: the first prefixBurst are stored, the others are
// counted and not stored, while addresses under a prefix the file holds
// still are; prefixEvery later one more new prefix is.
func TestNDPrefixLimited(t *testing.T) {
	r, _ := newNDRig(t, 3)
	addr := func(p, host uint16) [16]byte {
		a := ip6("2001:db8::")
		binary.BigEndian.PutUint16(a[6:], p)
		binary.BigEndian.PutUint16(a[14:], host)
		return a
	}
	stored := func(a [16]byte) bool {
		k := cache.Key{Family: cache.FamilyIPv6, Ifindex: 2, Addr: a}
		_, ok := r.d.c.Lookup(&k)
		return ok
	}
	for p := uint16(1); p <= 40; p++ {
		r.handleNeigh(failed6(addr(p, 1)))
	}
	n := 0
	for p := uint16(1); p <= 40; p++ {
		if stored(addr(p, 1)) {
			n++
		}
	}
	if n != prefixBurst || r.d.c.Counter(ctrNDPrefixLimited) != 40-prefixBurst {
		t.Errorf("%d prefixes stored, nd_prefix_limited %d; want %d and %d", n, r.d.c.Counter(ctrNDPrefixLimited), prefixBurst, 40-prefixBurst)
	}
	r.handleNeigh(failed6(addr(1, 2)))
	if !stored(addr(1, 2)) {
		t.Error("an address under a prefix the file holds was not stored")
	}
	r.d.start = r.d.start.Add(-prefixEvery)
	r.handleNeigh(failed6(addr(41, 1)))
	r.handleNeigh(failed6(addr(42, 1)))
	if !stored(addr(41, 1)) || stored(addr(42, 1)) {
		t.Errorf("after prefixEvery: stored %v and %v, want one new prefix", stored(addr(41, 1)), stored(addr(42, 1)))
	}
}
