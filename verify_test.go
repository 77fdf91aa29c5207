package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/frame"
	"arpd/internal/rtnl"
)

// The claim tests' cast on lan0 (10.0.0.0/24, the rig's MAC 02:00:00:00:00:01
// at 10.0.0.1): the honest host owns 10.0.0.5 at honestMAC; the attacker
// and the honest host's successor claim it.
var (
	claimIP     = [4]byte{10, 0, 0, 5}
	honestMAC   = [6]byte{2, 0, 0, 0, 0, 0x05}
	attackerMAC = [6]byte{2, 0, 0, 0, 0, 0x66}
	newMAC      = [6]byte{2, 0, 0, 0, 0, 0x55}
)

// replacement is a replace message the daemon sent: a put-back or a move.
type replacement struct {
	seq   uint32
	dst   [4]byte
	state uint16
	mac   [6]byte
}

// unicastRequest is an ARP request the daemon sent to one MAC.
type unicastRequest struct {
	dst       [6]byte // Ethernet destination
	senderMAC [6]byte
	sender    [4]byte
	target    [4]byte
}

// after advances the daemon's clock by dt in steps of 10 ms, settling the
// claims due at each step as the loop would when its deadline passes.
func (r *policyRig) after(dt time.Duration) {
	for left := dt; left > 0; left -= 10 * time.Millisecond {
		step := min(left, 10*time.Millisecond)
		r.d.start = r.d.start.Add(-step)
		r.d.runClaims(r.d.monotonic())
	}
}

// logTo makes the rig's daemon log into a buffer, and returns it.
func (r *policyRig) logTo() *bytes.Buffer {
	var b bytes.Buffer
	r.d.log = newLogger("", &b)
	return &b
}

// arpFrom is an accepted ARP frame on lan0 from ip at mac.
func arpFrom(ip [4]byte, mac [6]byte) *frame.ARP {
	return &frame.ARP{Ifindex: 2, SenderIP: ip, SenderMAC: mac}
}

// served returns the MAC the cache binds ip on lan0 to, as the kernel's
// request would be answered.
func (r *policyRig) served(t *testing.T, ip [4]byte) [6]byte {
	t.Helper()
	k := cache.KeyV4(2, ip)
	e, ok := r.d.c.Lookup(&k)
	if !ok || e.Kind != cache.KindPositive {
		t.Fatalf("%s: no positive entry: %+v", ipString(ip), e)
	}
	return [6]byte(e.LLAddr[:6])
}

// counters returns the claim counters: started, refused, accepted,
// dropped, put back.
func (r *policyRig) counters() [5]uint64 {
	c := r.d.c
	return [5]uint64{c.Counter(ctrClaimsStarted), c.Counter(ctrClaimsRefused), c.Counter(ctrClaimsAccepted),
		c.Counter(ctrClaimsDropped), c.Counter(ctrClaimsPutback)}
}

// newClaimRig is a rig whose cache binds claimIP to honestMAC, learned
// from the kernel.
func newClaimRig(t *testing.T) *policyRig {
	r := newPolicyRig(t, 3)
	r.handleNeigh(notice(5, unix.NUD_REACHABLE, 0, 0, honestMAC[:]...))
	if r.served(t, claimIP) != honestMAC {
		t.Fatal("the honest binding was not learned")
	}
	return r
}

// TestClaimRefused: a frame binding a known address to another MAC is
// not learned; the known MAC is asked with a unicast request and keeps
// being served; its answer refuses the claim, logged as a conflict.
func TestClaimRefused(t *testing.T) {
	r := newClaimRig(t)
	log := r.logTo()
	r.d.handleFrame(arpFrom(claimIP, attackerMAC))
	want := unicastRequest{dst: honestMAC, senderMAC: [6]byte{2, 0, 0, 0, 0, 1}, sender: [4]byte{10, 0, 0, 1}, target: claimIP}
	if len(r.wire.unicast) != 1 || r.wire.unicast[0] != want || len(r.wire.targets) != 0 {
		t.Fatalf("unicast %+v, broadcast %v; want one %+v", r.wire.unicast, r.wire.targets, want)
	}
	// Pending: the kernel is answered with the known MAC, and more frames
	// from the claimant change nothing and ask nothing more.
	r.after(200 * time.Millisecond)
	for i := 0; i < 5; i++ {
		r.d.handleFrame(arpFrom(claimIP, attackerMAC))
	}
	r.handleNeigh(request(2, 5, unix.NUD_INCOMPLETE))
	if len(r.req.answers) != 1 || r.req.answers[0] != string(claimIP[:])+"="+string(honestMAC[:]) {
		t.Fatalf("answers while pending: %q", r.req.answers)
	}
	if len(r.wire.unicast) != 1 || r.served(t, claimIP) != honestMAC {
		t.Fatalf("after the claimant's frames: %d requests, serving %x", len(r.wire.unicast), r.served(t, claimIP))
	}
	// The honest host answers.
	r.d.handleFrame(arpFrom(claimIP, honestMAC))
	if got := r.counters(); got != [5]uint64{1, 1, 0, 0, 0} {
		t.Fatalf("counters %v, want 1 started, 1 refused", got)
	}
	if len(r.req.replaced) != 0 {
		t.Fatalf("a claim only seen on the wire put back %+v", r.req.replaced)
	}
	line := "arpd: 10.0.0.5: conflict: 02:00:00:00:00:66 claims it, 02:00:00:00:00:05 answers on lan0\n"
	if log.String() != line {
		t.Fatalf("log %q, want %q", log.String(), line)
	}
	// Settled: the window passes and nothing changes.
	r.after(3 * claimWindow)
	if r.served(t, claimIP) != honestMAC || len(r.wire.unicast) != 1 || r.d.claims.n != 0 {
		t.Fatalf("after the window: serving %x, %d requests, %d pending", r.served(t, claimIP), len(r.wire.unicast), r.d.claims.n)
	}
	// Refused again within the minute: counted, not logged; a minute on,
	// one line says how many.
	for i := 0; i < 3; i++ {
		r.d.handleFrame(arpFrom(claimIP, attackerMAC))
		r.d.handleFrame(arpFrom(claimIP, honestMAC))
	}
	if strings.Count(log.String(), "\n") != 1 {
		t.Fatalf("logged again within the minute: %q", log.String())
	}
	r.after(conflictEvery)
	r.d.handleFrame(arpFrom(claimIP, attackerMAC))
	r.d.handleFrame(arpFrom(claimIP, honestMAC))
	if !strings.HasSuffix(log.String(), "answers on lan0 (4 claims refused since the last report)\n") {
		t.Fatalf("a minute on: %q", log.String())
	}
	if got := r.counters(); got != [5]uint64{5, 5, 0, 0, 0} {
		t.Fatalf("counters %v, want 5 started, 5 refused", got)
	}
}

// TestClaimAccepted: a known MAC silent through the window gets a second
// try after claimRetry, and the claim is accepted after claimWindow: the
// cache serves the new MAC, the move is logged, and the kernel, which did
// not take the change itself, is moved on with a replace without create.
func TestClaimAccepted(t *testing.T) {
	r := newClaimRig(t)
	log := r.logTo()
	r.d.handleFrame(arpFrom(claimIP, newMAC))
	r.after(claimRetry - 20*time.Millisecond)
	if len(r.wire.unicast) != 1 {
		t.Fatalf("%d requests before the retry, want 1", len(r.wire.unicast))
	}
	r.after(40 * time.Millisecond)
	if len(r.wire.unicast) != 2 || r.wire.unicast[1].dst != honestMAC {
		t.Fatalf("after the retry: %+v", r.wire.unicast)
	}
	r.after(claimWindow - claimRetry - 40*time.Millisecond)
	if r.served(t, claimIP) != honestMAC || r.d.c.Counter(ctrClaimsAccepted) != 0 {
		t.Fatalf("accepted before the window ended: serving %x", r.served(t, claimIP))
	}
	r.after(40 * time.Millisecond)
	if r.served(t, claimIP) != newMAC {
		t.Fatalf("after the window: serving %x, want %x", r.served(t, claimIP), newMAC)
	}
	if got := r.counters(); got != [5]uint64{1, 0, 1, 0, 0} || r.d.c.Counter(ctrArpChange) != 1 {
		t.Fatalf("counters %v arp_change %d, want 1 started, 1 accepted, 1 change", got, r.d.c.Counter(ctrArpChange))
	}
	if len(r.wire.unicast) != 2 {
		t.Fatalf("%d requests, want 2 at most", len(r.wire.unicast))
	}
	want := replacement{seq: r.req.seq, dst: claimIP, state: unix.NUD_STALE, mac: newMAC}
	if len(r.req.replaced) != 1 || r.req.replaced[0] != want {
		t.Fatalf("replaced %+v, want %+v", r.req.replaced, want)
	}
	line := "arpd: 10.0.0.5 moved from 02:00:00:00:00:05 to 02:00:00:00:00:55 on lan0\n"
	if log.String() != line {
		t.Fatalf("log %q, want %q", log.String(), line)
	}
	// The kernel had no entry: its ENOENT is not an error; another
	// error is.
	r.d.handleError(&rtnl.ErrorMsg{Errno: unix.ENOENT, Seq: want.seq})
	if got := r.d.c.Counter(ctrAnswerErrors); got != 0 {
		t.Fatalf("ENOENT of the move counted: answer_errors %d", got)
	}
	r.d.handleError(&rtnl.ErrorMsg{Errno: unix.EINVAL, Seq: want.seq})
	r.d.handleError(&rtnl.ErrorMsg{Errno: unix.ENOENT, Seq: want.seq + 100})
	if got := r.d.c.Counter(ctrAnswerErrors); got != 2 {
		t.Fatalf("answer_errors %d, want 2", got)
	}
}

// TestClaimFlipFlop: after an accepted move, the previous MAC claims the
// address back while the new one is alive: refused, and logged as a flip
// flop. Ten minutes on, the move is forgotten and the same is a conflict.
func TestClaimFlipFlop(t *testing.T) {
	r := newClaimRig(t)
	r.d.handleFrame(arpFrom(claimIP, newMAC))
	r.after(claimWindow + 50*time.Millisecond)
	if r.served(t, claimIP) != newMAC {
		t.Fatal("the move was not accepted")
	}
	log := r.logTo()
	r.d.handleFrame(arpFrom(claimIP, honestMAC))
	r.d.handleFrame(arpFrom(claimIP, newMAC))
	line := "arpd: 10.0.0.5: flip flop: 02:00:00:00:00:05 claims it, 02:00:00:00:00:55 answers on lan0\n"
	if log.String() != line || r.served(t, claimIP) != newMAC {
		t.Fatalf("log %q, want %q; serving %x", log.String(), line, r.served(t, claimIP))
	}
	// A third MAC is a conflict, not a flip flop (a minute on, so it is
	// logged).
	r.after(conflictEvery)
	log.Reset()
	r.d.handleFrame(arpFrom(claimIP, attackerMAC))
	r.d.handleFrame(arpFrom(claimIP, newMAC))
	if !strings.Contains(log.String(), ": conflict: 02:00:00:00:00:66 claims it") {
		t.Fatalf("a third MAC: %q", log.String())
	}
	r.after(moveMemory)
	log.Reset()
	r.d.handleFrame(arpFrom(claimIP, honestMAC))
	r.d.handleFrame(arpFrom(claimIP, newMAC))
	if !strings.Contains(log.String(), ": conflict: 02:00:00:00:00:05 claims it") {
		t.Fatalf("ten minutes after the move: %q", log.String())
	}
}

// TestClaimDropped: a claim that finds the verification limit spent or
// the table full is dropped and counted, and never accepted.
func TestClaimDropped(t *testing.T) {
	r := newClaimRig(t)
	r.d.claims.verify = *newTokenBucket(verifyRate, verifyBurst)
	r.d.claims.verify.tokens = 0
	r.d.handleFrame(arpFrom(claimIP, newMAC))
	if got := r.counters(); got != [5]uint64{0, 0, 0, 1, 0} || len(r.wire.unicast) != 0 || r.d.claims.n != 0 {
		t.Fatalf("limit spent: counters %v, %d requests, %d pending", got, len(r.wire.unicast), r.d.claims.n)
	}
	r.after(2 * claimWindow)
	if r.served(t, claimIP) != honestMAC {
		t.Fatal("a dropped claim was accepted")
	}
	// The limit's own figures: a burst of verifyBurst, then verifyRate a
	// second. claimsMax known hosts claimed at once fill the table.
	r = newPolicyRig(t, 3)
	for i := 0; i <= claimsMax; i++ {
		ip := [4]byte{10, 0, 0, 100 + byte(i)}
		r.handleNeigh(noticeFor(ip, honestMAC))
		r.d.handleFrame(arpFrom(ip, newMAC))
	}
	if got := r.counters(); got != [5]uint64{verifyBurst, 0, 0, claimsMax + 1 - verifyBurst, 0} {
		t.Fatalf("%d claims at once: counters %v, want %d started", claimsMax+1, got, verifyBurst)
	}
	r.d.claims.verify = *newTokenBucket(1e6, 1e6) // the table, not the limit, under test now
	for i := 0; i <= claimsMax; i++ {
		r.d.handleFrame(arpFrom([4]byte{10, 0, 0, 100 + byte(i)}, newMAC))
	}
	if got := r.counters(); got != [5]uint64{claimsMax, 0, 0, claimsMax + 2 - verifyBurst, 0} || r.d.claims.n != claimsMax {
		t.Fatalf("table full: counters %v, %d pending", got, r.d.claims.n)
	}
	r.after(2 * claimWindow)
	if got := r.d.c.Counter(ctrClaimsAccepted); got != claimsMax {
		t.Fatalf("%d accepted, want the %d in the table", got, claimsMax)
	}
	if r.served(t, [4]byte{10, 0, 0, 100 + claimsMax}) != honestMAC {
		t.Fatal("the claim the full table dropped was accepted")
	}
}

// noticeFor is a kernel notice (port 0, REACHABLE) binding ip to mac.
func noticeFor(ip [4]byte, mac [6]byte) *rtnl.Neigh {
	n := notice(0, unix.NUD_REACHABLE, 0, 0, mac[:]...)
	copy(n.Dst[:], ip[:])
	return n
}

// TestClaimKernelPutBack: the kernel took a claimant's gratuitous ARP and
// notified it (port 0). The cache is not changed; the same frame seen on
// the wire joins the claim; the known MAC answers, and the kernel gets it
// back (RTM_NEWNEIGH replace, NUD_REACHABLE).
func TestClaimKernelPutBack(t *testing.T) {
	r := newClaimRig(t)
	r.handleNeigh(noticeFor(claimIP, attackerMAC))
	r.d.handleFrame(arpFrom(claimIP, attackerMAC))
	if r.served(t, claimIP) != honestMAC || len(r.wire.unicast) != 1 || r.d.claims.n != 1 {
		t.Fatalf("kernel claim: serving %x, %d requests, %d pending", r.served(t, claimIP), len(r.wire.unicast), r.d.claims.n)
	}
	r.d.handleFrame(arpFrom(claimIP, honestMAC))
	want := replacement{seq: r.req.seq, dst: claimIP, state: unix.NUD_REACHABLE, mac: honestMAC}
	if len(r.req.replaced) != 1 || r.req.replaced[0] != want {
		t.Fatalf("put back %+v, want %+v", r.req.replaced, want)
	}
	if got := r.counters(); got != [5]uint64{1, 1, 0, 0, 1} {
		t.Fatalf("counters %v, want 1 started, refused, put back", got)
	}
	// The put-back's own notice comes back with our port: not a claim.
	r.handleNeigh(notice(5, unix.NUD_REACHABLE, 777, 0, honestMAC[:]...))
	if r.d.claims.n != 0 || r.served(t, claimIP) != honestMAC {
		t.Fatal("our own put-back's notice started a claim")
	}
	// Accepted instead: the kernel already holds the new MAC, so nothing
	// is sent to it.
	r.handleNeigh(noticeFor(claimIP, newMAC))
	r.after(claimWindow + 50*time.Millisecond)
	if r.served(t, claimIP) != newMAC || len(r.req.replaced) != 1 || r.d.c.Counter(ctrKernChange) != 1 {
		t.Fatalf("kernel claim accepted: serving %x, replaced %+v, kern_change %d", r.served(t, claimIP), r.req.replaced, r.d.c.Counter(ctrKernChange))
	}
}

// TestClaimAdminTakenAtOnce: a change from a netlink port other than 0
// (an administrator's ip neigh replace) is no claim: taken at once, and it
// ends a claim pending for the address.
func TestClaimAdminTakenAtOnce(t *testing.T) {
	r := newClaimRig(t)
	r.handleNeigh(notice(5, unix.NUD_PERMANENT, 4242, 0, newMAC[:]...))
	if r.served(t, claimIP) != newMAC || len(r.wire.unicast) != 0 || r.d.c.Counter(ctrClaimsStarted) != 0 {
		t.Fatalf("admin change: serving %x, %d requests", r.served(t, claimIP), len(r.wire.unicast))
	}
	r.d.handleFrame(arpFrom(claimIP, attackerMAC))
	if r.d.claims.n != 1 {
		t.Fatal("no claim pending")
	}
	r.handleNeigh(notice(5, unix.NUD_PERMANENT, 4242, 0, honestMAC[:]...))
	r.after(2 * claimWindow)
	if r.served(t, claimIP) != honestMAC || r.d.claims.n != 0 || r.d.c.Counter(ctrClaimsAccepted) != 0 {
		t.Fatalf("after the administrator's second change: serving %x, %d pending", r.served(t, claimIP), r.d.claims.n)
	}
}

// TestClaimZeroAllocs: frames that start a claim, hit it (the claimant
// again) and refuse it (the known MAC), and a kernel claim put back,
// allocate nothing once the first refusal has been logged.
func TestClaimZeroAllocs(t *testing.T) {
	r := newClaimRig(t)
	r.req.quiet, r.wire.quiet = true, true
	r.d.claims.verify = *newTokenBucket(1e9, 1e9) // the limit is not under test
	claimant, known := arpFrom(claimIP, attackerMAC), arpFrom(claimIP, honestMAC)
	kernel := noticeFor(claimIP, attackerMAC)
	if a := testing.AllocsPerRun(1000, func() {
		r.d.handleFrame(claimant)
		r.d.handleFrame(claimant)
		r.d.handleNeigh(kernel)
		r.d.handleFrame(known)
	}); a != 0 {
		t.Errorf("a claim started, hit and refused allocates %v times", a)
	}
	if got := r.counters(); got != [5]uint64{1001, 1001, 0, 0, 1001} {
		t.Errorf("counters %v, want 1001 started, refused and put back", got)
	}
	// The second try, due claimRetry after the first.
	r.d.handleFrame(claimant)
	now := r.d.monotonic() + claimRetry
	if a := testing.AllocsPerRun(1000, func() { r.d.runClaims(now) }); a != 0 {
		t.Errorf("a round of the claims allocates %v times", a)
	}
}
