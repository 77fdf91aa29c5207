package main

// The router flag of IPv6 answers, against the real kernel.

import (
	"testing"
	"time"

	"arpd/internal/labtest"
)

// TestNDLabRouterFlag: a far host that forwards IPv6 advertises R=1; the
// daemon keeps that, and when the host has gone silent and the near
// kernel's entry was flushed, the daemon's answer from the cache makes
// the kernel's new entry a router's again (NTF_ROUTER), as the kernel's
// own discovery would have. A host that does not forward gets no flag.
func TestNDLabRouterFlag(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	rtr, host := labtest.Host6(0x31), labtest.Host6(0x32)
	d.AddAddr6(d.Far, d.FarIf, true, rtr, host)
	d.Sysctl(d.Far, "net/ipv6/conf/"+d.FarIf+"/forwarding", "1")
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	for i, a := range [][16]byte{rtr, host} {
		u := d.ListenUDP6(d.Far, a, 7131+i)
		d.resolve6(p, u, a, 7131+i, "learn", "while the far side forwards")
	}
	farMAC := labtest.MACString(labtest.FarMAC)
	d.waitRow6(3*time.Second, rtr, farMAC)
	d.waitRow6(3*time.Second, host, farMAC)
	// Both addresses are the far side's, which forwards: both are routers
	// to the near kernel. Stop forwarding before asking about host again:
	// what matters is what the daemon learned, checked after the flush.
	d.IP(d.Near, "-6", "neigh", "flush", "dev", d.NearIf)
	for i, a := range [][16]byte{rtr, host} {
		d.IP(d.Far, "-6", "addr", "del", labtest.IP6String(a)+"/128", "dev", d.FarIf)
		d.AddAddr6(d.Far, "lo", true, a)
		u := d.ListenUDP6(d.Far, a, 7141+i)
		d.resolve6(p, u, a, 7141+i, "again", "after the flush, the host silent")
		if n := d.nearNeigh6(a); n.MAC != farMAC || !n.Router {
			t.Errorf("near kernel entry %q, want lladdr %s and router (from the daemon's answer)", n.Line, farMAC)
		}
	}
	p.RequireRunning("after answering with the router flag")
}
