package main

// Lab test of the claim-flood limit (-M) against the real kernel.

import (
	"strings"
	"testing"
	"time"

	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestDaemonLabClaimFlood: one MAC announces 40 addresses of the segment
// with gratuitous ARP; with -M 8 the daemon learns the first 8 and ignores
// the other 32, counted under arp_claim_flood and logged once, while an
// honest host announcing itself afterwards is learned.
func TestDaemonLabClaimFlood(t *testing.T) {
	t.Parallel()
	const limit, claims = 8, 40
	d := newDaemonLab(t)
	p := d.startArpd(t, "-M", "8", d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	before := labtest.Stats(t, d.DB)

	flooder := [6]byte{0x02, 0, 0, 0, 0xf1, 0}
	claimed := func(i int) [4]byte { return [4]byte{10, 77, 0, byte(150 + i)} }
	for i := 0; i < claims; i++ {
		in.send(garp(frame.ARPOpRequest, flooder, claimed(i)))
	}
	in.send(garp(frame.ARPOpRequest, labtest.FarMAC, labtest.FarIP))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, labtest.FarIP), labtest.MACString(labtest.FarMAC))
	st := d.waitStats(3*time.Second, "the refused claims", func(st map[string]uint64) bool {
		return st["arp_claim_flood"]-before["arp_claim_flood"] >= claims-limit
	})
	if got := st["arp_claim_flood"] - before["arp_claim_flood"]; got != claims-limit {
		t.Errorf("arp_claim_flood grew by %d, want %d", got, claims-limit)
	}
	rows := listDBRows(t, d.DB)
	for i := 0; i < claims; i++ {
		_, ok := rows[rowKey(d.NearIdx, claimed(i))]
		if ok != (i < limit) {
			t.Errorf("%s learned %v, want %v", ipString(claimed(i)), ok, i < limit)
		}
	}
	p.RequireRunning("after the flood")
	line := "arpd: 02:00:00:00:f1:00 claims more than 8 new addresses a minute on " + d.NearIf + ", now 10.77.0.158: ignored\n"
	if n := strings.Count(p.Output(), "claims more than"); n != 1 || !strings.Contains(p.Output(), line) {
		t.Errorf("logged %d lines, want once %q:\n%s", n, line, p.Output())
	}
}
