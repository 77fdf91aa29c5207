package main

// Lab tests of claims (issue 10, item 2) against the real kernel: a
// segment of namespaces on one bridge, the router running arpd, an
// honest host, an attacker, and the host the honest host's address moves
// to.

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// The segment's hosts: the honest host owns segHonestIP at the start; the
// attacker claims it; the mover takes it over in a genuine move.
var (
	segHonestIP  = [4]byte{10, 77, 0, 2}
	segHonestMAC = [6]byte{0x02, 0, 0, 0, 0x0a, 0x02}
	segAttackMAC = [6]byte{0x02, 0, 0, 0, 0x0a, 0x66}
	segMoverMAC  = [6]byte{0x02, 0, 0, 0, 0x0a, 0x03}
)

// segment is a dlab whose far namespace is a switch: vfar is a port of
// the bridge br0 there, and each host is a namespace of its own with an
// eth0 on another port. The router is the near namespace, vnear
// 10.77.0.1/24, where arpd runs.
type segment struct {
	*dlab
	hosts map[string]string // host name to its namespace
}

// newSegment makes the segment with the named hosts, each with its MAC;
// no host has an address yet.
func newSegment(t *testing.T, macs map[string][6]byte) *segment {
	t.Helper()
	// NB: the kernel's neighbour table is one for all namespaces; a test
	// elsewhere that shrinks it (gc_thresh3) holds the global lock
	// exclusively, and could leave no room for the segment's entries.
	if !labtest.ShareGlobals(t, 5*time.Minute, nil) {
		t.Fatalf("another test held the global settings (%s) for 5 minutes", labtest.GlobalsLockPath)
	}
	d := newDaemonLab(t)
	s := &segment{dlab: d, hosts: map[string]string{}}
	d.IP(d.Far, "addr", "flush", "dev", d.FarIf)
	d.IP(d.Far, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
	d.IP(d.Far, "link", "set", d.FarIf, "master", "br0")
	d.IP(d.Far, "link", "set", "br0", "up")
	for name, mac := range macs {
		ns := d.Far + "-" + name
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		port := "p" + name
		d.IP(d.Far, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		d.IP(d.Far, "link", "set", port, "master", "br0", "up")
		d.IP(ns, "link", "set", "lo", "up")
		d.IP(ns, "link", "set", "eth0", "address", labtest.MACString(mac), "up")
		d.waitOperUp(ns, "eth0")
		d.waitOperUp(d.Far, port)
		s.hosts[name] = ns
	}
	d.waitOperUp(d.Far, "br0")
	return s
}

// own gives host the address ip/24, or takes it away.
func (s *segment) own(host string, ip [4]byte, yes bool) {
	s.t.Helper()
	verb := "del"
	if yes {
		verb = "add"
	}
	s.IP(s.hosts[host], "addr", verb, ipString(ip)+"/24", "dev", "eth0")
}

// inject sends an ARP payload out of host's eth0, from its sender MAC.
func (s *segment) inject(host string, payload []byte) {
	s.t.Helper()
	s.injector(s.hosts[host], "eth0").send(payload)
}

// routerMAC returns the MAC the router's kernel binds ip to ("" if none).
func (s *segment) routerMAC(ip [4]byte) string {
	f := strings.Fields(s.nearNeigh(s.NearIf, ip))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// waitRouterMAC waits until the router's kernel binds ip to mac and
// returns when it saw it; it fails the test after limit.
func (s *segment) waitRouterMAC(ip [4]byte, mac [6]byte, limit time.Duration) time.Time {
	s.t.Helper()
	want := labtest.MACString(mac)
	if !labtest.WaitFor(limit, func() bool { return s.routerMAC(ip) == want }) {
		s.t.Fatalf("the router's kernel binds %s to %q after %v, want %s", ipString(ip), s.routerMAC(ip), limit, want)
	}
	return time.Now()
}

// knowHonest makes the honest host own segHonestIP and announce it, and
// the router send it a datagram, so that both arpd and the router's kernel
// bind it to segHonestMAC.
func (s *segment) knowHonest() {
	s.t.Helper()
	s.own("honest", segHonestIP, true)
	s.inject("honest", garp(frame.ARPOpRequest, segHonestMAC, segHonestIP))
	s.waitRow(3*time.Second, rowKey(s.NearIdx, segHonestIP), labtest.MACString(segHonestMAC))
	s.sendUDPFrom(s.Near, segHonestIP, 9, nil)
	s.waitRouterMAC(segHonestIP, segHonestMAC, 3*time.Second)
}

// neighMAC is a matcher for the router's notices that bind ip to mac.
func neighMAC(ip [4]byte, mac [6]byte) func(m *rtnl.Msg) bool {
	return func(m *rtnl.Msg) bool {
		var n rtnl.Neigh
		return m.Type == unix.RTM_NEWNEIGH && rtnl.DecodeNeigh(m, &n) == nil && n.DstLen == 4 &&
			[4]byte(n.Dst[:4]) == ip && n.LLAddrLen == 6 && [6]byte(n.LLAddr[:6]) == mac
	}
}

// TestDaemonLabClaimRefused: an attacker claims the honest host's address
// with a gratuitous ARP, then with replies. The router's kernel takes
// the gratuitous ARP (and the replies past locktime); arpd asks the
// honest host, which answers, so every claim is refused: arpd keeps
// serving the honest MAC, puts it back into the kernel, within 2 s of the
// gratuitous ARP, and logs one conflict line.
func TestDaemonLabClaimRefused(t *testing.T) {
	t.Parallel()
	s := newSegment(t, map[string][6]byte{"honest": segHonestMAC, "attacker": segAttackMAC})
	p := s.startArpd(t, s.NearIf)
	s.knowHonest()
	nl := s.DialNetlink(unix.RTMGRP_NEIGH, 1<<20)
	before := labtest.Stats(t, s.DB)
	key := rowKey(s.NearIdx, segHonestIP)
	honest := labtest.MACString(segHonestMAC)

	start := time.Now()
	s.inject("attacker", garp(frame.ARPOpRequest, segAttackMAC, segHonestIP))
	nl.Await(2*time.Second, "notice of the kernel taking the gratuitous ARP", neighMAC(segHonestIP, segAttackMAC))
	took := time.Since(start)
	nl.Await(2*time.Second, "notice of the honest MAC put back", neighMAC(segHonestIP, segHonestMAC))
	back := time.Since(start)
	t.Logf("the kernel took the attacker's MAC after %v; the honest MAC was back after %v", took, back)
	if r := listDBRows(t, s.DB)[key]; r.MAC != honest {
		t.Fatalf("arpd serves %+v during the attack, want %s", r, honest)
	}
	// Replies claiming the address, each past the kernel's locktime (1 s)
	// so that it takes them too.
	reply := arpPayload(frame.ARPOpReply, segAttackMAC, segHonestIP, labtest.NearMAC, labtest.NearIP)
	for i := 0; i < 2; i++ {
		time.Sleep(1200 * time.Millisecond)
		s.inject("attacker", reply)
	}
	last := time.Now()
	s.waitRouterMAC(segHonestIP, segHonestMAC, 2*time.Second)
	t.Logf("after the last reply the kernel held the honest MAC again within %v", time.Since(last))
	// Past every window: the honest MAC is still what arpd serves and
	// what the kernel holds.
	time.Sleep(claimWindow + 500*time.Millisecond)
	if r := listDBRows(t, s.DB)[key]; r.MAC != honest {
		t.Fatalf("arpd serves %+v after the attack, want %s", r, honest)
	}
	if got := s.routerMAC(segHonestIP); got != honest {
		t.Fatalf("the router's kernel binds %q after the attack, want %s", got, honest)
	}
	st := s.waitStats(3*time.Second, "the refusals", func(st map[string]uint64) bool {
		return st["claims_refused"]-before["claims_refused"] >= 3 && st["claims_putback"]-before["claims_putback"] >= 1
	})
	if st["claims_accepted"] != before["claims_accepted"] {
		t.Errorf("claims accepted: %d", st["claims_accepted"]-before["claims_accepted"])
	}
	p.RequireRunning("after the attack")
	line := "arpd: 10.77.0.2: conflict: " + labtest.MACString(segAttackMAC) + " claims it, " + honest + " answers on " + s.NearIf + "\n"
	if n := strings.Count(p.Output(), line); n != 1 {
		t.Errorf("logged %d times, want once: %q\narpd: %s", n, line, p.Output())
	}
	t.Logf("claims started %d, refused %d, put back %d", st["claims_started"]-before["claims_started"],
		st["claims_refused"]-before["claims_refused"], st["claims_putback"]-before["claims_putback"])
}

// TestDaemonLabClaimMoveAndFlipFlop: the honest host's address moves to
// another host (a new MAC) that announces it with a gratuitous ARP, while
// the router's kernel has no entry for it and so does not take it. The
// router sends a datagram meanwhile, which arpd answers with the old MAC
// until the claim is accepted; then arpd moves the kernel on to the new
// MAC, within 3 s of the gratuitous ARP. Then the old MAC claims the
// address back while the new one is alive: refused, logged as a flip
// flop, and the kernel gets the new MAC back.
func TestDaemonLabClaimMoveAndFlipFlop(t *testing.T) {
	t.Parallel()
	s := newSegment(t, map[string][6]byte{"honest": segHonestMAC, "mover": segMoverMAC})
	p := s.startArpd(t, s.NearIf)
	s.knowHonest()
	key := rowKey(s.NearIdx, segHonestIP)
	honest, mover := labtest.MACString(segHonestMAC), labtest.MACString(segMoverMAC)

	// The move: the kernel's entry is gone (an administrator's flush,
	// which arpd does not take for a death) when the announcement comes.
	s.own("honest", segHonestIP, false)
	s.own("mover", segHonestIP, true)
	s.IP(s.Near, "neigh", "flush", "dev", s.NearIf)
	start := time.Now()
	s.inject("mover", garp(frame.ARPOpRequest, segMoverMAC, segHonestIP))
	s.sendUDPFrom(s.Near, segHonestIP, 9, nil)
	reached := s.waitRouterMAC(segHonestIP, segMoverMAC, 3*time.Second)
	t.Logf("the move reached the router's kernel %v after the gratuitous ARP", reached.Sub(start))
	s.waitRow(time.Second, key, mover)
	moved := "arpd: 10.77.0.2 moved from " + honest + " to " + mover + " on " + s.NearIf + "\n"
	if !labtest.WaitFor(time.Second, func() bool { return strings.Contains(p.Output(), moved) }) {
		t.Fatalf("no line %q: %s", moved, p.Output())
	}

	// The flip flop: the old MAC announces the address again.
	time.Sleep(time.Second) // past the kernel's locktime
	start = time.Now()
	s.inject("honest", garp(frame.ARPOpRequest, segHonestMAC, segHonestIP))
	flip := "arpd: 10.77.0.2: flip flop: " + honest + " claims it, " + mover + " answers on " + s.NearIf + "\n"
	if !labtest.WaitFor(2*time.Second, func() bool { return strings.Contains(p.Output(), flip) }) {
		t.Fatalf("no line %q: %s", flip, p.Output())
	}
	t.Logf("the flip flop was refused %v after the gratuitous ARP", time.Since(start))
	s.waitRouterMAC(segHonestIP, segMoverMAC, 2*time.Second)
	time.Sleep(claimWindow + 500*time.Millisecond)
	if r := listDBRows(t, s.DB)[key]; r.MAC != mover {
		t.Fatalf("arpd serves %+v after the flip flop, want %s", r, mover)
	}
	if got := s.routerMAC(segHonestIP); got != mover {
		t.Fatalf("the router's kernel binds %q after the flip flop, want %s", got, mover)
	}
	p.RequireRunning("after the move and the flip flop")
}
