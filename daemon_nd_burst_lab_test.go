package main

// IPv6 lab tests of a burst of kernel neighbour updates: through the
// daemon's binary, and through a daemon whose netlink receive queue is
// made to overflow, so that only its dump of the table again can bring
// the IPv6 entries it lost.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"arpd/internal/cache"
	"arpd/internal/labtest"
)

// ndBurst is the number of IPv6 neighbours of a burst: permanent entries,
// which the kernel's garbage collection neither counts against the global
// gc_thresh3 nor collects, so no global setting changes.
const ndBurst = 800

// host6Burst is the i-th neighbour of a burst: fd77::b:i.
func host6Burst(i int) [16]byte {
	return [16]byte{0xfd, 0x77, 13: 0x0b, 14: byte(i >> 8), 15: byte(i)}
}

// mac6Burst is the MAC of the i-th neighbour of a burst with tag.
func mac6Burst(tag, i int) string { return fmt.Sprintf("02:00:06:%02x:%02x:%02x", tag, i>>8, i&0xff) }

// replaceNeighbours6 replaces (creating where missing) the n neighbours
// host6Burst(i) on the near interface with MAC mac6Burst(tag, i), in one
// ip -batch.
func replaceNeighbours6(t *testing.T, l *labtest.Lab, tag, n int) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "neigh replace %s lladdr %s dev %s nud permanent\n", labtest.IP6String(host6Burst(i)), mac6Burst(tag, i), l.NearIf)
	}
	if out, err := l.ExecStdin(l.Near, b.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
}

// TestNDLabBurst: 800 IPv6 neighbours replaced in a burst, then all 800
// given a new MAC, and every final binding is in the cache (arpd -l).
func TestNDLabBurst(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	t.Cleanup(func() { d.Exec(d.Near, "ip", "-6", "neigh", "flush", "dev", d.NearIf, "nud", "all") })
	p := d.startArpd(t, d.NearIf)
	replaceNeighbours6(t, d.Lab, 1, ndBurst)
	replaceNeighbours6(t, d.Lab, 2, ndBurst)
	missing := func() (int, string) {
		rows := listDBRows(t, d.DB)
		m, first := 0, ""
		for i := 0; i < ndBurst; i++ {
			key, want := rowKey6(d.NearIdx, host6Burst(i)), mac6Burst(2, i)
			if r := rows[key]; r.MAC != want {
				if m == 0 {
					first = fmt.Sprintf("%s: %+v, want %s", key, r, want)
				}
				m++
			}
		}
		return m, first
	}
	var m int
	var first string
	if !labtest.WaitFor(15*time.Second, func() bool { m, first = missing(); return m == 0 }) {
		t.Fatalf("%d of %d final IPv6 bindings never reached the cache (first: %s)", m, ndBurst, first)
	}
	p.RequireRunning("after the burst")
}

// TestNDOverflowRedumps: the netlink receive queue of a daemon with a 4 KB
// buffer overflows while 800 IPv6 neighbours are added; the dump that
// follows the overflow covers IPv6, so every one reaches the cache.
func TestNDOverflowRedumps(t *testing.T) {
	l := labtest.New(t)
	d := newOverflowDaemon(t, l, "10.93.0.1/16")
	replaceNeighbours6(t, l, 3, ndBurst)
	d.start()

	r, err := cache.OpenReadOnly(d.db)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ifindex := uint32(l.Ifindex(l.Near, l.NearIf))
	missing := func() int {
		m := 0
		for i := 0; i < ndBurst; i++ {
			k := cache.Key{Family: cache.FamilyIPv6, Ifindex: ifindex, Addr: host6Burst(i)}
			if e, ok := r.Lookup(&k); !ok || e.LLAddr[4] != byte(i>>8) || e.LLAddr[5] != byte(i&0xff) {
				m++
			}
		}
		return m
	}
	if !labtest.WaitFor(15*time.Second, func() bool { return missing() == 0 }) {
		t.Fatalf("%d of %d IPv6 neighbours never reached the cache", missing(), ndBurst)
	}
	d.stop()
	if d.c.Counter(ctrNlOverruns) == 0 {
		t.Fatal("the tiny receive buffer never overflowed: the test proved nothing")
	}
	t.Logf("overruns %d, dumps %d", d.c.Counter(ctrNlOverruns), d.c.Counter(ctrRedumps))
}
