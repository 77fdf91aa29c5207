package main

// IPv6 lab tests of the daemon as the kernel's resolver: resolution by its
// own Neighbor Solicitation, negative entries, and answers from the cache
// for a host that has gone silent.

import (
	"testing"
	"time"

	"arpd/internal/labtest"
)

// TestNDLabResolves: with -a 1 -k the kernel sends no solicitation of its
// own (mcast_solicit 0 for IPv6 too), so a far IPv6 host is reached only
// if the daemon solicits it when the kernel asks: the first datagram gets
// through, to two hosts in turn, the near kernel has the far MAC and so
// has the cache. The solicitations on the wire are the daemon's: from the
// near link-local address, with its MAC as SLLAO, to each target's
// solicited-node group.
func TestNDLabResolves(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	second := labtest.Host6(1)
	d.AddAddr6(d.Far, d.FarIf, true, second)
	far := d.WatchND(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	if got := d.nearSysctls6(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("IPv6 app_solicit, mcast_solicit = %v, want [1 0] for -a 1 -k", got)
	}
	farMAC := labtest.MACString(labtest.FarMAC)
	for i, host := range [][16]byte{labtest.FarIP6, second} {
		u := d.ListenUDP6(d.Far, host, 7101+i)
		d.resolve6(p, u, host, 7101+i, "live6", "host "+labtest.IP6String(host))
		if n := d.nearNeigh6(host); n.MAC != farMAC {
			t.Errorf("near kernel entry %q, want lladdr %s", n.Line, farMAC)
		}
		d.waitRow6(3*time.Second, host, farMAC)
		ns := labtest.Solicits(far.Poll(), host)
		if len(ns) == 0 {
			t.Fatalf("no solicitation for %s on the wire, yet it was resolved with mcast_solicit 0", labtest.IP6String(host))
		}
		if s := ns[0]; s.Src != labtest.LinkLocal(labtest.NearMAC) || s.Dst != labtest.SolicitedNode(host) ||
			s.HopLimit != 255 || !s.HasLLAddr || s.LLAddr != labtest.NearMAC {
			t.Errorf("the daemon's solicitation for %s: %+v; want from %s to %s, hop limit 255, SLLAO %s", labtest.IP6String(host), s,
				labtest.IP6String(labtest.LinkLocal(labtest.NearMAC)), labtest.IP6String(labtest.SolicitedNode(host)), labtest.MACString(labtest.NearMAC))
		}
	}
	d.waitStats(3*time.Second, "two IPv6 probes and kernel requests", func(st map[string]uint64) bool {
		return st[statNDProbes] >= 2 && st[statNDAppRecv] >= 2
	})
	p.RequireRunning("after resolving two IPv6 hosts")
}

// TestNDLabNegativeEntry: an IPv6 address nobody has becomes a negative
// entry (FAILED in arpd -l) once the kernel's resolution fails, after the
// daemon's one solicitation (-a 1) went unanswered.
func TestNDLabNegativeEntry(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	dead := labtest.Host6(0x99)
	far := d.WatchND(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", "-n", "60", d.NearIf)

	d.nearCycle6(dead)
	d.waitRow6(3*time.Second, dead, "FAILED")
	if ns := labtest.Solicits(far.Poll(), dead); len(ns) == 0 {
		t.Errorf("the daemon never solicited %s (-a 1) before taking it for dead", labtest.IP6String(dead))
	}
	p.RequireRunning("after a negative entry")
}

// TestNDLabAnswersFromCache: once the daemon knows an IPv6 host, the
// kernel gets its MAC from the cache though the host has gone silent (its
// address moved to the far side's loopback: it still takes datagrams, but
// answers no solicitation on the link) and the near kernel's entry has
// been flushed. The entry comes back at once, STALE with the host's MAC,
// from the daemon's answer (the host sent no advertisement), and the
// first datagram gets through.
func TestNDLabAnswersFromCache(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	host := labtest.Host6(0x21)
	d.AddAddr6(d.Far, d.FarIf, true, host)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	u := d.ListenUDP6(d.Far, host, 7121)
	d.resolve6(p, u, host, 7121, "learn", "while the host answers")
	farMAC := labtest.MACString(labtest.FarMAC)
	d.waitRow6(3*time.Second, host, farMAC)

	// Silence the host: on lo it is still the far side's address, but the
	// kernel answers solicitations on vfar only for vfar's own.
	d.IP(d.Far, "-6", "addr", "del", labtest.IP6String(host)+"/128", "dev", d.FarIf)
	d.AddAddr6(d.Far, "lo", true, host)
	u = d.ListenUDP6(d.Far, host, 7122)
	far := d.WatchND(d.Far, d.FarIf)
	d.IP(d.Near, "-6", "neigh", "flush", "dev", d.NearIf)
	if n := d.nearNeigh6(host); n.MAC != "" {
		t.Fatalf("the flush left %q", n.Line)
	}
	before := labtest.Stats(t, d.DB)

	d.resolve6(p, u, host, 7122, "first", "after the flush, the host silent")
	if n := d.nearNeigh6(host); n.MAC != farMAC || (n.State != "STALE" && n.State != "DELAY") {
		t.Errorf("near kernel entry %q, want lladdr %s, STALE or DELAY (from the daemon's answer)", n.Line, farMAC)
	}
	d.waitStats(3*time.Second, "an IPv6 answer from the cache", func(st map[string]uint64) bool {
		return st[statNDAppSuccess] > before[statNDAppSuccess]
	})
	for _, m := range far.Poll() {
		if m.Type == labtest.NDNeighAdvert && m.Target == host {
			t.Errorf("the silenced host advertised itself: %+v", m)
		}
	}
	p.RequireRunning("after answering from the cache")
}
