package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"arpd/internal/cache"
	"arpd/internal/frame"
)

// TestReportLimiter drives the limiter with a fake clock: the first frame
// of a kind is logged at once, then at most one line a minute, each with
// the frames since the last; the kinds do not share a minute.
func TestReportLimiter(t *testing.T) {
	var l reportLimiter
	type step struct {
		r     report
		at    time.Duration
		n     uint64
		due   bool
		about string
	}
	for i, s := range []step{
		{reportOwnAddr, 5 * time.Second, 1, true, "the first frame is logged"},
		{reportOwnAddr, 6 * time.Second, 0, false, "the next within a minute is not"},
		{reportOwnAddr, 64 * time.Second, 0, false, "nor one just short of the minute"},
		{reportOffSubnet, 64 * time.Second, 1, true, "another kind has its own minute"},
		{reportOwnAddr, 65 * time.Second, 3, true, "a minute on: logged, for the three frames since"},
		{reportOwnAddr, 66 * time.Second, 0, false, "the minute starts again"},
		{reportOwnAddr, time.Hour, 2, true, "after a quiet hour: the one held back and this one"},
		{reportOwnAddr, time.Hour + time.Minute, 1, true, "exactly a minute later"},
		{reportEthMismatch, time.Hour + time.Minute, 1, true, "the third kind"},
		{reportOffSubnet, time.Hour + time.Minute, 1, true, "the second kind, long after"},
	} {
		n, due := l.note(s.r, s.at)
		if n != s.n || due != s.due {
			t.Errorf("step %d (%s): n %d due %v, want n %d due %v", i, s.about, n, due, s.n, s.due)
		}
	}
	if a := testing.AllocsPerRun(1000, func() { l.note(reportOwnAddr, 2*time.Hour) }); a != 0 {
		t.Errorf("note allocates %v times", a)
	}
}

// validateRig is the policy rig with its log in a buffer, a second
// watched interface lan1 (10.1.0.1/24, index 3).
func validateRig(t *testing.T) (*policyRig, *bytes.Buffer) {
	r := newPolicyRig(t, 0)
	var log bytes.Buffer
	r.d.log = newLogger("", &log)
	w := &watchedIf{name: "lan1", index: 3, named: true}
	w.addrs.Add(ifAddr{Local: [4]byte{10, 1, 0, 1}, Peer: [4]byte{10, 1, 0, 1}, PrefixLen: 24})
	r.d.ifs.named = append(r.d.ifs.named, w)
	r.d.ifs.links[3] = w
	return r, &log
}

// advance moves the rig's daemon clock on by dt: the limiter reads the
// time since the daemon's start, so an earlier start is a later now.
func advance(r *policyRig, dt time.Duration) { r.d.start = r.d.start.Add(-dt) }

// TestPolicyRefusesOwnAddress: a sender claiming one of the router's own
// addresses, on its interface or another one, is not learned, is counted
// under arp_own_addr, and is logged as the BSDs do, once a minute.
func TestPolicyRefusesOwnAddress(t *testing.T) {
	r, log := validateRig(t)
	mac := [6]byte{2, 0, 0, 0, 0, 0x66}
	for _, ip := range [][4]byte{{10, 0, 0, 1}, {10, 1, 0, 1}, {10, 0, 0, 1}} {
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: ip, SenderMAC: mac})
		k := cache.KeyV4(2, ip)
		if _, ok := r.d.c.Lookup(&k); ok {
			t.Errorf("learned %v, one of our own addresses", ip)
		}
	}
	if got := r.d.c.Counter(ctrArpOwnAddr); got != 3 {
		t.Errorf("arp_own_addr = %d, want 3", got)
	}
	if got := r.d.c.Counter(ctrArpOffSubnet) + r.d.c.Counter(ctrArpNew); got != 0 {
		t.Errorf("also counted as off-subnet or new: %d", got)
	}
	want := "arpd: 02:00:00:00:00:66 claims our address 10.0.0.1 on lan0\n"
	if log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	advance(r, time.Minute)
	r.d.handleFrame(&frame.ARP{Ifindex: 3, SenderIP: [4]byte{10, 1, 0, 1}, SenderMAC: mac})
	want += "arpd: 02:00:00:00:00:66 claims our address 10.1.0.1 on lan1 (3 such frames since the last report)\n"
	if log.String() != want {
		t.Errorf("log a minute later %q, want %q", log.String(), want)
	}
}

// TestPolicyRefusesOffSubnet: a sender outside every subnet of the
// receiving interface is not learned, even when it is on another watched
// interface's subnet, is counted under arp_off_subnet, and is logged once
// a minute; senders on a secondary address's subnet or a point-to-point
// peer are learned.
func TestPolicyRefusesOffSubnet(t *testing.T) {
	r, log := validateRig(t)
	mac := [6]byte{2, 0, 0, 0, 0, 0x77}
	for _, ip := range [][4]byte{{10, 0, 1, 5}, {10, 1, 0, 5}, {192, 168, 0, 5}} {
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: ip, SenderMAC: mac})
		k := cache.KeyV4(2, ip)
		if _, ok := r.d.c.Lookup(&k); ok {
			t.Errorf("learned %v, off lan0's subnets", ip)
		}
	}
	// An interface the daemon watches but has no address for yet.
	r.d.ifs.named = nil
	r.d.handleFrame(&frame.ARP{Ifindex: 9, SenderIP: [4]byte{10, 0, 0, 5}, SenderMAC: mac})
	if got := r.d.c.Counter(ctrArpOffSubnet); got != 4 {
		t.Errorf("arp_off_subnet = %d, want 4", got)
	}
	want := "arpd: 10.0.1.5 at 02:00:00:00:00:77 is off every subnet of lan0: not learned\n"
	if log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	// A secondary subnet and a point-to-point peer are the interface's.
	w := r.d.ifs.links[2]
	w.addrs.Add(ifAddr{Local: [4]byte{10, 0, 1, 1}, Peer: [4]byte{10, 0, 1, 1}, PrefixLen: 24, Secondary: true})
	w.addrs.Add(ifAddr{Local: [4]byte{192, 168, 9, 1}, Peer: [4]byte{192, 168, 0, 5}, PrefixLen: 32})
	for _, ip := range [][4]byte{{10, 0, 1, 5}, {192, 168, 0, 5}, {10, 0, 0, 5}} {
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: ip, SenderMAC: mac})
		k := cache.KeyV4(2, ip)
		if _, ok := r.d.c.Lookup(&k); !ok {
			t.Errorf("did not learn %v, on lan0's subnets", ip)
		}
	}
	if got := r.d.c.Counter(ctrArpNew); got != 3 {
		t.Errorf("arp_new = %d, want 3", got)
	}
	advance(r, time.Minute)
	r.d.handleFrame(&frame.ARP{Ifindex: 9, SenderIP: [4]byte{10, 0, 0, 5}, SenderMAC: mac})
	if !strings.HasSuffix(log.String(), "arpd: 10.0.0.5 at 02:00:00:00:00:77 is off every subnet of ifindex 9: not learned (4 such frames since the last report)\n") {
		t.Errorf("log a minute later %q", log.String())
	}
}

// TestReportEthMismatch: the decoder's Ethernet mismatch is logged with
// both MACs, once a minute.
func TestReportEthMismatch(t *testing.T) {
	r, log := validateRig(t)
	var b [frame.ARPLen]byte
	frame.EncodeARP(&b, frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0, 0x66}, [4]byte{10, 0, 0, 9}, [6]byte{}, [4]byte{10, 0, 0, 1})
	src := [6]byte{2, 0, 0, 0, 0, 0x55}
	r.d.reportEthMismatch(b[:], 2, src)
	r.d.reportEthMismatch(b[:], 2, src)
	want := "arpd: ethernet mismatch: 02:00:00:00:00:55 sent 10.0.0.9 at 02:00:00:00:00:66 on lan0: not learned\n"
	if log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	if a := testing.AllocsPerRun(1000, func() { r.d.reportEthMismatch(b[:], 2, src) }); a != 0 {
		t.Errorf("a mismatch not due allocates %v times", a)
	}
}
