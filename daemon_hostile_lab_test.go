package main

// Lab tests of the daemon on a hostile segment: malformed and forged
// frames, and storms of requests against the probe rate limit.

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// The hostile frames' addresses: every frame asks for an address the near
// side does not have, so the near kernel learns nothing from them either.
var (
	hostileNobody = [4]byte{10, 77, 0, 250}
	hostileMAC    = [6]byte{0x02, 0, 0, 0, 0x66, 0}
)

// hostileSender is the sender address of the hostile frame i.
func hostileSender(i byte) [4]byte { return [4]byte{10, 77, 0, 100 + i} }

// hostileValid is a well-formed request from hostileSender(i), which the
// hostile frames are made from.
func hostileValid(i byte) []byte {
	return arpPayload(frame.ARPOpRequest, hostileMAC, hostileSender(i), [6]byte{}, hostileNobody)
}

// hostile is a frame the daemon must drop, and the reason it counts it
// under (its counter without "drop_").
type hostile struct {
	reason string
	frame  []byte
}

// hostileFrames returns one malformed or forged frame for each way the
// decoder refuses one.
func hostileFrames() []hostile {
	valid, mac, nobody, sender := hostileValid, hostileMAC, hostileNobody, hostileSender
	with := func(b []byte, f func(b []byte)) []byte { f(b); return b }
	return []hostile{
		{"short", valid(0)[:20]},
		{"short", valid(1)[:27]},
		{"hwtype", with(valid(2), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffHrd:], 6) })},
		{"proto", with(valid(3), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffPro:], 0x86dd) })},
		{"hlen", with(valid(4), func(b []byte) { b[frame.ARPOffHln] = 8 })},
		{"plen", with(valid(5), func(b []byte) { b[frame.ARPOffPln] = 16 })},
		{"op", with(valid(6), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffOp:], 3) })},
		{"op", with(valid(7), func(b []byte) { binary.BigEndian.PutUint16(b[frame.ARPOffOp:], 0) })},
		{"dad", arpPayload(frame.ARPOpRequest, mac, [4]byte{}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{127, 0, 0, 1}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{224, 0, 0, 5}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{255, 255, 255, 255}, [6]byte{}, nobody)},
		{"sender_ip", arpPayload(frame.ARPOpReply, mac, [4]byte{0, 1, 2, 3}, [6]byte{}, nobody)},
		{"sender_mac", arpPayload(frame.ARPOpReply, frame.BroadcastMAC, sender(8), [6]byte{}, nobody)},
		{"sender_mac", arpPayload(frame.ARPOpReply, [6]byte{0x01, 0, 0x5e, 0, 0, 1}, sender(9), [6]byte{}, nobody)},
		{"sender_mac", arpPayload(frame.ARPOpReply, [6]byte{}, sender(10), [6]byte{}, nobody)},
	}
}

// injectGarbage sends n frames of random bytes of random lengths, short
// or with a hardware type that is not Ethernet, and adds each to the
// counter it must be dropped under in want.
func injectGarbage(in *injector, n int, want map[string]uint64) {
	r := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < n; i++ {
		b := make([]byte, 1+r.IntN(64))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		b[0] |= 0x80 // hardware type ≥ 0x8000
		in.send(b)
		if len(b) < frame.ARPLen {
			want["drop_short"]++
		} else {
			want["drop_hwtype"]++
		}
	}
}

// TestDaemonLabHostileFrames: malformed and hostile frames injected from
// the far side are dropped, each counted under its reason, none of them is
// learned, and the daemon keeps running and still answers the kernel.
func TestDaemonLabHostileFrames(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.farIgnoresARP()
	host := d.listenUDP(labtest.FarIP, 7003)
	p := d.startArpd(t, d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	before := labtest.Stats(t, d.DB)

	frames := hostileFrames()
	want := map[string]uint64{}
	for _, h := range frames {
		in.send(h.frame)
		want["drop_"+h.reason]++
	}
	const garbage = 300
	injectGarbage(in, garbage, want)
	// An oversized but well-formed frame is accepted: bytes past the
	// first 28 are padding.
	long := append(hostileValid(20), make([]byte, 400)...)
	in.send(long)
	// Last, the sentinel: the host announces itself.
	in.send(garp(frame.ARPOpRequest, labtest.FarMAC, labtest.FarIP))
	sent := uint64(len(frames) + garbage + 2)
	d.waitRow(3*time.Second, rowKey(d.NearIdx, labtest.FarIP), labtest.MACString(labtest.FarMAC))

	st := d.waitStats(3*time.Second, "every injected frame", func(st map[string]uint64) bool {
		var n uint64
		for name, v := range st {
			if strings.HasPrefix(name, "drop_") || name == "arp_accepted" {
				n += v - before[name]
			}
		}
		return n >= sent
	})
	p.RequireRunning("after the hostile frames")
	checkHostileCounts(t, st, before, want)
	checkHostileRows(t, d)

	// It still works: the host answers no ARP, so only the cache can
	// get this datagram through.
	d.sendUDPFrom(d.Near, labtest.FarIP, 7003, []byte("still"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "still" {
		t.Fatalf("after the hostile frames the host got %q (%v); near: %s; arpd: %s", got, ok, d.nearNeigh(d.NearIf, labtest.FarIP), p.Output())
	}
}

// checkHostileCounts checks that the counters st grew from before by want
// for each reason, and by 2 accepted frames, with no frame lost by the
// kernel.
func checkHostileCounts(t *testing.T, st, before, want map[string]uint64) {
	t.Helper()
	for name, w := range want {
		if got := st[name] - before[name]; got != w {
			t.Errorf("%s: %d frames counted, want %d", name, got, w)
		}
	}
	if got := st["arp_accepted"] - before["arp_accepted"]; got != 2 {
		t.Errorf("arp_accepted grew by %d, want 2 (the long frame and the sentinel)", got)
	}
	if got := st["pkt_kernel_drops"]; got != 0 {
		t.Errorf("the kernel dropped %d frames: the counts above may be short", got)
	}
}

// checkHostileRows checks that the database holds no hostile sender and
// no forged address, and holds the long frame's sender.
func checkHostileRows(t *testing.T, d *dlab) {
	t.Helper()
	rows := listDBRows(t, d.DB)
	for i := byte(0); i < 20; i++ {
		if r, ok := rows[rowKey(d.NearIdx, hostileSender(i))]; ok {
			t.Errorf("hostile sender %s learned: %+v", ipString(hostileSender(i)), r)
		}
	}
	for key, r := range rows {
		if r.MAC == "ff:ff:ff:ff:ff:ff" || r.MAC == "00:00:00:00:00:00" || strings.HasPrefix(key, fmt.Sprint(d.NearIdx)+" 127.") {
			t.Errorf("hostile row %s %+v", key, r)
		}
	}
	if r := rows[rowKey(d.NearIdx, hostileSender(20))]; r.MAC != labtest.MACString(hostileMAC) {
		t.Errorf("the long frame's sender: %+v, want %s", r, labtest.MACString(hostileMAC))
	}
}

// stormTarget is the address nobody has that a storm asks about i-th.
func stormTarget(i int) [4]byte { return [4]byte{10, 77, 0, byte(101 + i)} }

// settle waits until no resolution is running in Near, so the kernel
// asks nothing more.
func (d *dlab) settle() {
	d.t.Helper()
	if !labtest.WaitFor(5*time.Second, func() bool {
		return !strings.Contains(d.IP(d.Near, "neigh", "show", "dev", d.NearIf), "INCOMPLETE")
	}) {
		d.t.Fatalf("resolutions still running 5 s after a storm")
	}
}

// storm makes the near kernel ask about stormTarget(0..hosts-1) every
// 100 ms for length, reading the far wire as it goes.
func (d *dlab) storm(far *wire, hosts int, length time.Duration) {
	d.t.Helper()
	start := time.Now()
	for round := 0; time.Since(start) < length && round < 100; round++ {
		if err := d.Do(d.Near, func() error {
			for i := 0; i < hosts; i++ {
				// NB: an error here is an earlier datagram's
				// ICMP report or a full queue; neither matters.
				labtest.SendUDP(stormTarget(i))
			}
			return nil
		}); err != nil {
			d.t.Fatalf("round %d: %v", round, err)
		}
		far.Poll()
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDaemonLabRateLimit: with -R 5 -B 3, storms of requests for 100
// addresses nobody has put at most 3 + 5·T of the daemon's broadcasts on
// the wire over every interval T, measured on the far side with the
// kernel's time stamps; -k keeps the kernel's own broadcasts off the wire.
// The near side retransmits every 100 ms so that the kernel keeps asking
// all the time, and the bucket's rate, not only its burst, is what holds
// the daemon back. Two storms with a quiet second and a half between them
// check that the bucket does not save up more than its burst.
//
// It does not run in parallel with the other tests, so that the daemon is
// not kept from its CPU between taking a token and sending the probe (the
// slack below covers only a short delay).
func TestDaemonLabRateLimit(t *testing.T) {
	const (
		rate, burst = 5, 3
		hosts       = 100
		storm       = 1500 * time.Millisecond
		quiet       = 1500 * time.Millisecond
		// slack covers the time between the daemon's clock read and
		// the frame reaching the far interface.
		slack = 50 * time.Millisecond
	)
	d := newDaemonLab(t)
	d.Sysctl(d.Near, neighKey(d.NearIf, "retrans_time_ms"), "100")
	far := d.watchWire(d.Far, d.FarIf)
	far.requireStamps(d.injector(d.Near, d.NearIf))
	p := d.startArpd(t, "-a", "3", "-k", "-R", strconv.Itoa(rate), "-B", strconv.Itoa(burst), d.NearIf)
	inRange := func(ip [4]byte) bool {
		return ip[0] == 10 && ip[1] == 77 && ip[2] == 0 && ip[3] >= 101 && ip[3] < 101+hosts
	}
	start := time.Now()
	d.storm(far, hosts, storm)
	d.settle()
	time.Sleep(quiet)
	d.storm(far, hosts, storm)
	// NB: SIGTERM restores mcast_solicit, and the kernel would then
	// broadcast for every entry still INCOMPLETE; let them all fail
	// first, so that every request on the wire is the daemon's.
	d.settle()
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	far.Poll()
	probes := requests(far.Frames, labtest.NearIP, inRange)
	st := labtest.Stats(t, d.DB)
	t.Logf("%d probes on the wire in %v; probes_sent %d, probes_suppressed %d", len(probes), time.Since(start), st["probes_sent"], st["probes_suppressed"])
	if uint64(len(probes)) != st["probes_sent"] {
		t.Errorf("%d probes on the wire, the daemon counted %d sent", len(probes), st["probes_sent"])
	}
	if len(probes) < 2*(burst+2) || st["probes_suppressed"] == 0 {
		t.Fatalf("%d probes, %d suppressed: the storms never made the bucket refill and refuse", len(probes), st["probes_suppressed"])
	}
	checkRateBound(t, probes, burst, rate, slack)
}

// checkRateBound checks that no interval T between two of probes holds
// more than burst + rate·(T+slack) of them, and logs by how much the
// tightest interval exceeds the bound without slack.
func checkRateBound(t *testing.T, probes []wireFrame, burst, rate int, slack time.Duration) {
	t.Helper()
	worst := 0.0
	for i := range probes {
		for j := i; j < len(probes); j++ {
			span := probes[j].At.Sub(probes[i].At)
			allowed := float64(burst) + float64(rate)*(span+slack).Seconds()
			count := float64(j - i + 1)
			if count > allowed {
				t.Errorf("%d probes in %v (probes %d..%d, read %v and %v after their stamps), more than %d + %d·T = %.2f",
					j-i+1, span, i, j, probes[i].Read.Sub(probes[i].At), probes[j].Read.Sub(probes[j].At), burst, rate, allowed)
			}
			worst = max(worst, count-float64(burst)-float64(rate)*span.Seconds())
		}
	}
	t.Logf("tightest window: %.3f probes over the bound without slack", worst)
}

// TestDaemonLabValidation: frames that are well formed but must not be
// learned (issue 10, item 1), injected twice each from the far side: an
// Ethernet source that is not the sender MAC, a sender off the near
// interface's subnet, and a sender claiming the near side's own address.
// Each is dropped, counted under its name in arpd -s, absent from arpd -l,
// and logged once (the second frame of each falls within the minute).
func TestDaemonLabValidation(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	p := d.startArpd(t, d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	before := labtest.Stats(t, d.DB)

	forged := [6]byte{0x02, 0, 0, 0, 0, 0x66}
	mismatched, offSubnet := [4]byte{10, 77, 0, 61}, [4]byte{10, 99, 0, 5}
	for i := 0; i < 2; i++ {
		in.sendFrom(labtest.FarMAC, garp(frame.ARPOpRequest, forged, mismatched))
		in.send(garp(frame.ARPOpRequest, [6]byte{0x02, 0, 0, 0, 0, 0x67}, offSubnet))
		in.send(garp(frame.ARPOpReply, forged, labtest.NearIP))
	}
	in.send(garp(frame.ARPOpRequest, labtest.FarMAC, labtest.FarIP))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, labtest.FarIP), labtest.MACString(labtest.FarMAC))

	want := map[string]uint64{"drop_eth_mismatch": 2, "arp_off_subnet": 2, "arp_own_addr": 2, "arp_accepted": 5, "arp_new": 1}
	st := d.waitStats(3*time.Second, "the refused frames", func(st map[string]uint64) bool {
		for name, w := range want {
			if st[name]-before[name] < w {
				return false
			}
		}
		return true
	})
	for name, w := range want {
		if got := st[name] - before[name]; got != w {
			t.Errorf("%s grew by %d, want %d", name, got, w)
		}
	}
	rows := listDBRows(t, d.DB)
	for _, ip := range [][4]byte{mismatched, offSubnet, labtest.NearIP} {
		if r, ok := rows[rowKey(d.NearIdx, ip)]; ok {
			t.Errorf("%s learned: %+v", ipString(ip), r)
		}
	}
	p.RequireRunning("after the refused frames")
	out := p.Output()
	for _, line := range []string{
		"arpd: ethernet mismatch: " + labtest.MACString(labtest.FarMAC) + " sent 10.77.0.61 at 02:00:00:00:00:66 on " + d.NearIf + ": not learned\n",
		"arpd: 10.99.0.5 at 02:00:00:00:00:67 is off every subnet of " + d.NearIf + ": not learned\n",
		"arpd: 02:00:00:00:00:66 claims our address 10.77.0.1 on " + d.NearIf + "\n",
	} {
		if n := strings.Count(out, line); n != 1 {
			t.Errorf("logged %d times, want once: %q\narpd: %s", n, line, out)
		}
	}
}
