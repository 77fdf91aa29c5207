package main

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/frame"
)

// TestClaimLimiter: a MAC gets limit claims in the minute that starts at
// its first one, the rest are refused until that minute is over, and
// other MACs count apart; limit 0 allows everything.
func TestClaimLimiter(t *testing.T) {
	l := newClaimLimiter(3, testHasher())
	a, b := [6]byte{2, 0, 0, 0, 0, 0xa}, [6]byte{2, 0, 0, 0, 0, 0xb}
	type step struct {
		mac  [6]byte
		at   time.Duration
		want bool
	}
	for i, s := range []step{
		{a, 10 * time.Second, true},
		{a, 11 * time.Second, true},
		{b, 11 * time.Second, true},
		{a, 12 * time.Second, true},
		{a, 13 * time.Second, false}, // the fourth in a's minute
		{b, 13 * time.Second, true},
		{a, 69 * time.Second, false}, // a's minute runs to 70 s
		{a, 70 * time.Second, true},  // a new minute
		{a, 71 * time.Second, true},
		{a, 72 * time.Second, true},
		{a, 73 * time.Second, false},
	} {
		if got := l.allow(s.mac, s.at); got != s.want {
			t.Errorf("step %d: allow(%x, %v) = %v, want %v", i, s.mac[5], s.at, got, s.want)
		}
	}
	free := newClaimLimiter(0, testHasher())
	for i := 0; i < 1000; i++ {
		if !free.allow(a, time.Duration(i)) {
			t.Fatalf("limit 0 refused claim %d", i)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { l.allow(b, time.Hour) }); n != 0 {
		t.Errorf("allow allocates %v times", n)
	}
}

// TestClaimLimiterKeepsOffenders: a MAC over its limit is not forgotten
// when a crowd of other MACs passes through the table within its minute,
// so it cannot buy a new minute by flooding with throwaway MACs.
func TestClaimLimiterKeepsOffenders(t *testing.T) {
	l := newClaimLimiter(2, testHasher())
	bad := [6]byte{2, 0xba, 0xd0, 0, 0, 1}
	for i := 0; i < 3; i++ {
		l.allow(bad, time.Second)
	}
	// Ten times as many MACs as the table holds, each claiming once.
	for i := 0; i < 10*floodSets*floodWays; i++ {
		l.allow([6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, 2*time.Second)
	}
	if l.allow(bad, 3*time.Second) {
		t.Error("the offender was forgiven after a crowd of other MACs")
	}
}

// TestPolicyClaimFlood: through handleFrame, a MAC that claims more than
// -M new addresses a minute has the rest ignored, counted and logged once
// a minute; a refresh of a binding it already has is not a claim, and
// another MAC is not affected.
func TestPolicyClaimFlood(t *testing.T) {
	r, log := validateRig(t)
	r.d.o.claimsPerMinute = 4
	r.d.floods = newClaimLimiter(4, testHasher())
	flooder, honest := [6]byte{2, 0, 0, 0, 0, 0xf1}, [6]byte{2, 0, 0, 0, 0, 0x11}
	learned := func(ip [4]byte, mac [6]byte) bool {
		k := cache.KeyV4(2, ip)
		e, ok := r.d.c.Lookup(&k)
		return ok && [6]byte(e.LLAddr[:6]) == mac
	}
	for i := byte(1); i <= 10; i++ {
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 100 + i}, SenderMAC: flooder})
		if got, want := learned([4]byte{10, 0, 0, 100 + i}, flooder), i <= 4; got != want {
			t.Errorf("claim %d learned %v, want %v", i, got, want)
		}
	}
	// Refreshing a binding it already holds is no claim: still served.
	r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 101}, SenderMAC: flooder})
	if got := r.d.c.Counter(ctrArpClaimFlood); got != 6 {
		t.Errorf("arp_claim_flood = %d, want 6", got)
	}
	r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 50}, SenderMAC: honest})
	if !learned([4]byte{10, 0, 0, 50}, honest) {
		t.Error("another MAC was refused too")
	}
	want := "arpd: 02:00:00:00:00:f1 claims more than 4 new addresses a minute on lan0, now 10.0.0.105: ignored\n"
	if log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	advance(r, time.Minute)
	r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 120}, SenderMAC: flooder})
	if !learned([4]byte{10, 0, 0, 120}, flooder) {
		t.Error("a minute later the MAC is still refused")
	}
	if strings.Count(log.String(), "\n") != 1 {
		t.Errorf("logged again without a refusal: %q", log.String())
	}
	f := frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 130}, SenderMAC: flooder}
	if n := testing.AllocsPerRun(1000, func() { r.d.handleFrame(&f) }); n != 0 {
		t.Errorf("handleFrame allocates %v times on a claim", n)
	}
}

// TestPolicyClaimFloodKernelNotice: a binding the kernel took itself from
// a MAC over its limit (it learns the sender of a request for our address)
// is not kept, while an administrator's entry with that MAC is, and the
// kernel's notices do not count as claims themselves.
func TestPolicyClaimFloodKernelNotice(t *testing.T) {
	r, _ := validateRig(t)
	r.d.o.claimsPerMinute = 2
	r.d.floods = newClaimLimiter(2, testHasher())
	flooder := []byte{2, 0, 0, 0, 0, 0xf1}
	r.handleNeigh(notice(90, unix.NUD_STALE, 0, 0, flooder...))
	r.handleNeigh(notice(91, unix.NUD_STALE, 0, 0, flooder...))
	r.handleNeigh(notice(92, unix.NUD_STALE, 0, 0, flooder...))
	for i := byte(1); i <= 3; i++ {
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 10 + i}, SenderMAC: [6]byte(flooder)})
	}
	r.handleNeigh(notice(93, unix.NUD_STALE, 0, 0, flooder...))
	r.handleNeigh(notice(94, unix.NUD_PERMANENT, 4242, 0, flooder...))
	for x, want := range map[byte]bool{90: true, 91: true, 92: true, 11: true, 12: true, 13: false, 93: false, 94: true} {
		k := cache.KeyV4(2, [4]byte{10, 0, 0, x})
		if _, ok := r.d.c.Lookup(&k); ok != want {
			t.Errorf("10.0.0.%d learned %v, want %v", x, ok, want)
		}
	}
	if got := r.d.c.Counter(ctrArpClaimFlood); got != 2 {
		t.Errorf("arp_claim_flood = %d, want 2 (a frame and a notice)", got)
	}
}

// TestPolicyClaimFloodReplies: a reply to the router's address about an
// address the daemon just probed answers its question and is no claim; an
// unsolicited reply to the router is a claim like any other frame.
func TestPolicyClaimFloodReplies(t *testing.T) {
	r := newPolicyRig(t, 3)
	r.d.o.burst, r.d.bucket = 1000, newTokenBucket(50, 1000)
	r.d.floods = newClaimLimiter(1, testHasher())
	host := [6]byte{2, 0, 0, 0, 0, 0x42}
	reply := func(x byte) {
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, x}, SenderMAC: host,
			Op: frame.ARPOpReply, TargetIP: [4]byte{10, 0, 0, 1}})
	}
	for x := byte(20); x < 30; x++ {
		r.handleNeigh(request(2, x, unix.NUD_INCOMPLETE)) // probed
		reply(x)
	}
	reply(40) // unsolicited: the one claim -M 1 allows
	reply(41) // unsolicited: over the limit
	for x, want := range map[byte]bool{20: true, 29: true, 40: true, 41: false} {
		k := cache.KeyV4(2, [4]byte{10, 0, 0, x})
		if _, ok := r.d.c.Lookup(&k); ok != want {
			t.Errorf("10.0.0.%d learned %v, want %v", x, ok, want)
		}
	}
	if got := r.d.c.Counter(ctrArpClaimFlood); got != 1 {
		t.Errorf("arp_claim_flood = %d, want 1", got)
	}
}

// TestPolicyClaimFloodReportCount: the refusals of a flooding MAC are
// logged once a minute, and the line after the first says how many
// frames were refused since the one before.
func TestPolicyClaimFloodReportCount(t *testing.T) {
	r, log := validateRig(t)
	r.d.o.claimsPerMinute = 2
	r.d.floods = newClaimLimiter(2, testHasher())
	flooder := [6]byte{2, 0, 0, 0, 0, 0xf2}
	for i := byte(1); i <= 6; i++ { // 2 learned, 4 refused, one line
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 100 + i}, SenderMAC: flooder})
	}
	advance(r, time.Minute)
	for i := byte(7); i <= 10; i++ { // 2 learned, 2 refused: a line for the first and the 3 held back
		r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 100 + i}, SenderMAC: flooder})
	}
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "since the last report") ||
		!strings.HasSuffix(lines[1], "now 10.0.0.109: ignored (4 such frames since the last report)") {
		t.Errorf("log:\n%s", log.String())
	}
	if got := r.d.c.Counter(ctrArpClaimFlood); got != 6 {
		t.Errorf("arp_claim_flood = %d, want 6", got)
	}
}
