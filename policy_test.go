package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/frame"
	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// policyRig is a daemon with a real cache and fakes in place of the
// sockets, watching interface "lan0" with index 2.
type policyRig struct {
	d    *daemon
	clk  *testClock
	req  *fakeRequester // the answers sent
	wire *fakeWire      // the probes sent
}

func newPolicyRig(t testing.TB, active int) *policyRig {
	t.Helper()
	c, clk := newTestCache(t, 1024)
	o := &options{active: active, negTimeout: 60, rate: 1, burst: 3}
	r := &policyRig{clk: clk, req: &fakeRequester{}, wire: &fakeWire{}}
	w := &watchedIf{name: "lan0", index: 2, named: true,
		info: afpacket.Iface{Name: "lan0", Index: 2, MAC: [6]byte{2, 0, 0, 0, 0, 1}}, infoOK: true}
	w.addrs.Add(ifAddr{Local: [4]byte{10, 0, 0, 1}, Peer: [4]byte{10, 0, 0, 1}, PrefixLen: 24})
	r.d = &daemon{o: o, c: c, log: newLogger("", nil), start: time.Now(), bucket: newTokenBucket(o.rate, o.burst), newPrefixes: newPrefixBucket(),
		floods: newClaimLimiter(o.claimsPerMinute, testHasher()), asked: newAskedFilter(testHasher()), holds: newHoldTracker(256, testHasher()),
		ifs:     interfaces{named: []*watchedIf{w}, links: map[int32]*watchedIf{2: w}},
		answers: answers{out: r.req, c: c}, probes: r.wire, ready: true}
	return r
}

// handleNeigh hands n to the daemon and sends the answers it queued, as
// the loop does after each read.
func (r *policyRig) handleNeigh(n *rtnl.Neigh) {
	r.d.handleNeigh(n)
	r.d.answers.flush()
}

// fakeRequester stands in for the request socket: it decodes each batch of
// answers the daemon sends and records them.
type fakeRequester struct {
	seq      uint32
	quiet    bool          // record nothing (for the allocation tests)
	answers  []string      // string(dst) + "=" + string(lladdr)
	flags    []uint8       // ndm_flags of each answer
	failed   []string      // string(dst) of each FAILED answer
	replaced []replacement // each replace message (PutNeighReplace)
}

func (f *fakeRequester) NextSeq() uint32 { f.seq++; return f.seq }

func (f *fakeRequester) Send(b []byte) error {
	if f.quiet {
		return nil
	}
	it := rtnl.Messages(b)
	var m rtnl.Msg
	for it.Next(&m) {
		var n rtnl.Neigh
		if err := rtnl.DecodeNeigh(&m, &n); err != nil {
			return err
		}
		switch {
		case m.Type == unix.RTM_NEWNEIGH && m.Flags == unix.NLM_F_REQUEST|unix.NLM_F_REPLACE && n.LLAddrLen == 6 && n.Flags&unix.NTF_ROUTER == 0:
			f.replaced = append(f.replaced, replacement{m.Seq, [4]byte(n.DstAddr()), n.State, [6]byte(n.HWAddr())})
		case m.Type == unix.RTM_NEWNEIGH && n.State == unix.NUD_STALE:
			f.answers = append(f.answers, string(n.DstAddr())+"="+string(n.HWAddr()))
			f.flags = append(f.flags, n.Flags)
		case m.Type == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED && n.LLAddrLen == 0:
			f.failed = append(f.failed, string(n.DstAddr()))
		default:
			return fmt.Errorf("not an answer: type %d state %#x", m.Type, n.State)
		}
	}
	return it.Err()
}

// fakeWire stands in for the packet socket: it records the target and the
// sender IP of each ARP probe the daemon broadcasts, and each unicast
// request apart.
type fakeWire struct {
	targets, sources [][4]byte
	unicast          []unicastRequest
	quiet            bool // record nothing (for the allocation tests)
}

func (f *fakeWire) Send(p []byte, ifindex int32, dst [6]byte) error {
	if len(p) != frame.ARPLen || binary.BigEndian.Uint16(p[frame.ARPOffOp:]) != frame.ARPOpRequest || ifindex != 2 {
		return fmt.Errorf("not an ARP request on lan0: %x on %d", p, ifindex)
	}
	if f.quiet {
		return nil
	}
	if dst != frame.BroadcastMAC {
		f.unicast = append(f.unicast, unicastRequest{dst, [6]byte(p[frame.ARPOffSha:]), [4]byte(p[frame.ARPOffSpa:]), [4]byte(p[frame.ARPOffTpa:])})
		return nil
	}
	f.targets = append(f.targets, [4]byte(p[frame.ARPOffTpa:]))
	f.sources = append(f.sources, [4]byte(p[frame.ARPOffSpa:]))
	return nil
}

// request is the kernel's app_solicit request for 10.0.0.x on ifindex.
func request(ifindex int32, x byte, state uint16) *rtnl.Neigh {
	n := &rtnl.Neigh{MsgType: unix.RTM_GETNEIGH, MsgFlags: unix.NLM_F_REQUEST, Family: unix.AF_INET,
		Ifindex: ifindex, State: state, Type: unix.RTN_UNICAST, DstLen: 4, HasProbes: true}
	copy(n.Dst[:], []byte{10, 0, 0, x})
	return n
}

// notice is a kernel RTM_NEWNEIGH for 10.0.0.x from port pid.
func notice(x byte, state uint16, pid, probes uint32, mac ...byte) *rtnl.Neigh {
	n := &rtnl.Neigh{MsgType: unix.RTM_NEWNEIGH, Family: unix.AF_INET, Ifindex: 2, State: state,
		Type: unix.RTN_UNICAST, DstLen: 4, Pid: pid, Probes: probes, HasProbes: true}
	copy(n.Dst[:], []byte{10, 0, 0, x})
	n.LLAddrLen = uint8(copy(n.LLAddr[:], mac))
	return n
}

func TestPolicyAnswersFromCache(t *testing.T) {
	r := newPolicyRig(t, 3)
	mac := []byte{2, 0, 0, 0, 0, 7}
	r.handleNeigh(notice(7, unix.NUD_REACHABLE, 0, 0, mac...))
	r.handleNeigh(request(2, 7, unix.NUD_INCOMPLETE))
	if len(r.req.answers) != 1 || r.req.answers[0] != string([]byte{10, 0, 0, 7})+"="+string(mac) {
		t.Fatalf("answers %q", r.req.answers)
	}
	if len(r.wire.targets) != 0 {
		t.Fatalf("probed a known host: %v", r.wire.targets)
	}
	if r.d.c.Counter(ctrAppSuccess) != 1 || r.d.c.Counter(ctrKernNew) != 1 {
		t.Fatalf("app_success %d kern_new %d", r.d.c.Counter(ctrAppSuccess), r.d.c.Counter(ctrKernNew))
	}
	// Not ours: an unwatched interface, a non-request, a non-unicast type.
	r.handleNeigh(request(9, 7, unix.NUD_INCOMPLETE))
	notReq := request(2, 7, unix.NUD_INCOMPLETE)
	notReq.MsgFlags = 0
	r.handleNeigh(notReq)
	vxlan := request(2, 7, unix.NUD_STALE)
	vxlan.Type = unix.RTN_MULTICAST
	r.handleNeigh(vxlan)
	if len(r.req.answers) != 1 {
		t.Fatalf("answered a request that is not ours: %q", r.req.answers)
	}
	if r.d.c.Counter(ctrOtherIf) != 1 {
		t.Fatalf("other_if = %d", r.d.c.Counter(ctrOtherIf))
	}
}

func TestPolicyProbesUnknownAndFailsDead(t *testing.T) {
	r := newPolicyRig(t, 2)
	// Unknown host: probed (the rate limit allows the first three).
	r.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
	if len(r.wire.targets) != 1 || r.wire.targets[0] != [4]byte{10, 0, 0, 9} {
		t.Fatalf("probes %v", r.wire.targets)
	}
	// The kernel gives up: a negative entry.
	r.handleNeigh(notice(9, unix.NUD_FAILED, 0, 3))
	k := cache.KeyV4(2, [4]byte{10, 0, 0, 9})
	if e, ok := r.d.c.Lookup(&k); !ok || e.Kind != cache.KindNegative {
		t.Fatalf("after FAILED: %+v %v", e, ok)
	}
	// While it lives: probes until -a are spent, then each request is
	// failed at once, with no probe.
	r.wire.targets = nil
	for i := 0; i < 5; i++ {
		r.d.bucket = newTokenBucket(1, 3) // the rate limit is not under test here
		r.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
		if want := max(0, i-1); len(r.req.failed) != want {
			t.Fatalf("request %d: %d failures, want %d", i+1, len(r.req.failed), want)
		}
	}
	if len(r.wire.targets) != 2 {
		t.Fatalf("%d probes for a dead host with -a 2, want 2", len(r.wire.targets))
	}
	for _, dst := range r.req.failed {
		if dst != string([]byte{10, 0, 0, 9}) {
			t.Fatalf("failed %q, want 10.0.0.9", dst)
		}
	}
	if len(r.req.answers) != 0 {
		t.Fatalf("answered a dead host: %q", r.req.answers)
	}
	if f, s, sup := r.d.c.Counter(ctrAppFailed), r.d.c.Counter(ctrAppSuccess), r.d.c.Counter(ctrAppSuppressed); f != 3 || s != 0 || sup != 0 {
		t.Fatalf("app_failed %d app_success %d app_suppressed %d, want 3, 0, 0", f, s, sup)
	}
	// A batch holding both kinds counts each under its own counter.
	r.handleNeigh(notice(7, unix.NUD_REACHABLE, 0, 0, 2, 0, 0, 0, 0, 7))
	r.d.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
	r.d.handleNeigh(request(2, 7, unix.NUD_INCOMPLETE))
	r.d.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
	r.d.answers.flush()
	if f, s := r.d.c.Counter(ctrAppFailed), r.d.c.Counter(ctrAppSuccess); f != 5 || s != 1 || len(r.req.failed) != 5 || len(r.req.answers) != 1 {
		t.Fatalf("mixed batch: app_failed %d app_success %d, failed %d answered %d; want 5, 1, 5, 1", f, s, len(r.req.failed), len(r.req.answers))
	}
	// A second FAILED while the entry lives keeps the probes spent.
	r.handleNeigh(notice(9, unix.NUD_FAILED, 0, 3))
	if e, _ := r.d.c.Lookup(&k); e.Probes != 2 {
		t.Fatalf("probes spent reset to %d", e.Probes)
	}
	// Expired: probed again.
	r.clk.set(1_000_000 + 61)
	r.wire.targets = nil
	r.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
	if len(r.wire.targets) != 1 {
		t.Fatalf("expired negative entry: %d probes, want 1", len(r.wire.targets))
	}
	// A sign of life replaces it.
	r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 9}, SenderMAC: [6]byte{2, 0, 0, 0, 0, 9}})
	if e, _ := r.d.c.Lookup(&k); e.Kind != cache.KindPositive || e.Source != cache.SourceARP {
		t.Fatalf("after an ARP reply: %+v", e)
	}
}

func TestPolicyWithoutActiveProbing(t *testing.T) {
	r := newPolicyRig(t, 0)
	r.handleNeigh(request(2, 9, unix.NUD_INCOMPLETE))
	if len(r.wire.targets) != 0 {
		t.Fatal("probed without -a")
	}
}

// TestPolicyFlushIsNotDeath: an administrator's delete or flush notifies
// FAILED with the port of ip's socket (and, on Linux 6.x, NDA_PROBES > 0);
// it must not make a negative entry, nor drop a positive one.
func TestPolicyFlushIsNotDeath(t *testing.T) {
	r := newPolicyRig(t, 3)
	mac := []byte{2, 0, 0, 0, 0, 5}
	r.handleNeigh(notice(5, unix.NUD_REACHABLE, 0, 0, mac...))
	r.handleNeigh(notice(5, unix.NUD_FAILED, 4242, 4))
	r.handleNeigh(notice(6, unix.NUD_FAILED, 4242, 0))
	k5, k6 := cache.KeyV4(2, [4]byte{10, 0, 0, 5}), cache.KeyV4(2, [4]byte{10, 0, 0, 6})
	if e, ok := r.d.c.Lookup(&k5); !ok || e.Kind != cache.KindPositive {
		t.Fatalf("a flush changed a known host: %+v %v", e, ok)
	}
	if _, ok := r.d.c.Lookup(&k6); ok {
		t.Fatal("a flush made a negative entry")
	}
	if got := r.d.c.Counter(ctrFlushIgnored); got != 2 {
		t.Fatalf("flush_ignored = %d, want 2", got)
	}
	// The kernel's own failure with no probe counted is not death either.
	r.handleNeigh(notice(6, unix.NUD_FAILED, 0, 0))
	if _, ok := r.d.c.Lookup(&k6); ok {
		t.Fatal("FAILED with NDA_PROBES = 0 made a negative entry")
	}
}

func TestPolicyProbeStateDropsEntry(t *testing.T) {
	r := newPolicyRig(t, 3)
	r.handleNeigh(notice(8, unix.NUD_STALE, 0, 0, 2, 0, 0, 0, 0, 8))
	r.handleNeigh(request(2, 8, unix.NUD_PROBE))
	k := cache.KeyV4(2, [4]byte{10, 0, 0, 8})
	if _, ok := r.d.c.Lookup(&k); ok {
		t.Fatal("a PROBE request left the entry")
	}
	if r.d.c.Counter(ctrAppNeg) != 1 {
		t.Fatalf("app_neg = %d", r.d.c.Counter(ctrAppNeg))
	}
}

func TestPolicyLearnsAndCountsChanges(t *testing.T) {
	r := newPolicyRig(t, 0)
	f := frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 3}, SenderMAC: [6]byte{2, 0, 0, 0, 0, 3}}
	r.d.handleFrame(&f)
	r.d.handleFrame(&f)
	f.SenderMAC[5] = 4
	r.d.handleFrame(&f) // a claim: counted as a change once accepted
	r.after(claimWindow)
	if r.d.c.Counter(ctrArpNew) != 1 || r.d.c.Counter(ctrArpChange) != 1 {
		t.Fatalf("arp_new %d arp_change %d", r.d.c.Counter(ctrArpNew), r.d.c.Counter(ctrArpChange))
	}
	f.Ifindex = 5
	r.d.handleFrame(&f)
	k := cache.KeyV4(5, f.SenderIP)
	if _, ok := r.d.c.Lookup(&k); ok {
		t.Fatal("learned from an unwatched interface")
	}
	// Without names every interface is watched: the daemon follows every
	// link and its addresses, and a sender on index 5's subnet is learned.
	r.d.ifs.named = nil
	w5 := &watchedIf{name: "lan5", index: 5}
	w5.addrs.Add(ifAddr{Local: [4]byte{10, 0, 0, 254}, Peer: [4]byte{10, 0, 0, 254}, PrefixLen: 24})
	r.d.ifs.links[5] = w5
	r.d.handleFrame(&f)
	if _, ok := r.d.c.Lookup(&k); !ok {
		t.Fatal("without interface names, a frame on index 5 was not learned")
	}
}

// TestPolicyZeroAllocs: a kernel request answered from the cache or failed,
// a notification and an ARP frame allocate nothing.
func TestPolicyZeroAllocs(t *testing.T) {
	r := newPolicyRig(t, 3)
	r.req.quiet = true
	r.handleNeigh(notice(7, unix.NUD_REACHABLE, 0, 0, 2, 0, 0, 0, 0, 7))
	req := request(2, 7, unix.NUD_INCOMPLETE)
	if a := testing.AllocsPerRun(1000, func() { r.handleNeigh(req) }); a != 0 {
		t.Errorf("answering a request allocates %v times", a)
	}
	n := notice(9, unix.NUD_STALE, 0, 0, 2, 0, 0, 0, 0, 9)
	if a := testing.AllocsPerRun(1000, func() { r.handleNeigh(n) }); a != 0 {
		t.Errorf("a notification allocates %v times", a)
	}
	f := frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 3}, SenderMAC: [6]byte{2, 0, 0, 0, 0, 3}}
	if a := testing.AllocsPerRun(1000, func() { r.d.handleFrame(&f) }); a != 0 {
		t.Errorf("an ARP frame allocates %v times", a)
	}
	// Refused senders: the first of each kind is logged (in the warm-up
	// run), the rest are only counted.
	for _, ip := range [][4]byte{{10, 0, 0, 1}, {10, 9, 0, 3}} {
		g := frame.ARP{Ifindex: 2, SenderIP: ip, SenderMAC: [6]byte{2, 0, 0, 0, 0, 0x66}}
		if a := testing.AllocsPerRun(1000, func() { r.d.handleFrame(&g) }); a != 0 {
			t.Errorf("a frame from %v allocates %v times", ip, a)
		}
	}
	if r.d.c.Counter(ctrArpOwnAddr) != 1001 || r.d.c.Counter(ctrArpOffSubnet) != 1001 {
		t.Errorf("arp_own_addr %d arp_off_subnet %d, want 1001 each", r.d.c.Counter(ctrArpOwnAddr), r.d.c.Counter(ctrArpOffSubnet))
	}
	// A request for a dead address whose probes are spent (-a 3 and three
	// spent): failed at once.
	dead := cache.Entry{Key: cache.KeyV4(2, [4]byte{10, 0, 0, 8}), Kind: cache.KindNegative, Source: cache.SourceKernel, Probes: 3}
	if _, err := r.d.c.Put(&dead); err != nil {
		t.Fatal(err)
	}
	failed := r.d.c.Counter(ctrAppFailed)
	deadReq := request(2, 8, unix.NUD_INCOMPLETE)
	if a := testing.AllocsPerRun(1000, func() { r.handleNeigh(deadReq) }); a != 0 {
		t.Errorf("failing a request allocates %v times", a)
	}
	if got := r.d.c.Counter(ctrAppFailed) - failed; got != 1001 {
		t.Errorf("app_failed grew by %d, want 1001", got)
	}
	// The whole path from bytes: decode and handle a datagram.
	var buf [256]byte
	m, err := rtnl.PutNeigh(buf[:], unix.RTM_NEWNEIGH, 0, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(1000, func() { r.d.handleMessages(buf[:m]) }); a != 0 {
		t.Errorf("handling a netlink datagram allocates %v times", a)
	}
}

// TestDaemonStartupErrors: an interface that does not exist or a database
// that cannot be made is a clear error and exit status 1, never a crash,
// and leaves no database behind.
func TestDaemonStartupErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-F", "-b", filepath.Join(dir, "a.db"), "no-such-if0"}, "no-such-if0"},
		{[]string{"-F", "-b", filepath.Join(dir, "missing", "dir", "a.db"), "lo"}, "missing/dir/a.db"},
	} {
		code, _, errs := runArpd(t, "", tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) || strings.Contains(errs, "panic") {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); !os.IsNotExist(err) {
		t.Error("a failed start left a database")
	}
}

// requestFor is the kernel's INCOMPLETE request for ip on ifindex 2.
func requestFor(ip [4]byte) *rtnl.Neigh {
	n := request(2, 0, unix.NUD_INCOMPLETE)
	copy(n.Dst[:], ip[:])
	return n
}

// addrMsg is a kernel address notification for local/prefixLen on ifindex.
func addrMsg(typ uint16, ifindex int32, local [4]byte, prefixLen uint8) *rtnl.Addr {
	return &rtnl.Addr{MsgType: typ, Family: unix.AF_INET, PrefixLen: prefixLen, Ifindex: ifindex,
		Flags: unix.IFA_F_PERMANENT, Local: local, Address: local, HasLocal: true, HasAddress: true}
}

// TestPolicyProbeSource follows the rig's interface through address
// notifications (one of them the kernel's own bytes) and checks the sender
// IP handed to every probe.
func TestPolicyProbeSource(t *testing.T) {
	r := newPolicyRig(t, 3)
	r.d.bucket = newTokenBucket(1000, 1000) // the rate limit is not under test
	// The captured RTM_NEWADDR of 10.62.0.1/24 on ifindex 2.
	r.d.handleMessages(labtest.ReadNetlinkHex(t, filepath.Join("internal", "rtnl", "testdata", "newaddr.hex")))
	// Not ours: another interface's address, an IPv6 one.
	r.d.handleAddr(addrMsg(unix.RTM_NEWADDR, 9, [4]byte{10, 99, 0, 1}, 24))
	v6 := addrMsg(unix.RTM_NEWADDR, 2, [4]byte{10, 99, 0, 1}, 24)
	v6.Family = unix.AF_INET6
	r.d.handleAddr(v6)
	if r.d.c.Counter(ctrNlBad) != 0 {
		t.Fatalf("the captured RTM_NEWADDR was counted bad")
	}

	step := func(target, want [4]byte) {
		t.Helper()
		n := len(r.wire.targets)
		r.handleNeigh(requestFor(target))
		if len(r.wire.targets) != n+1 || r.wire.targets[n] != target || r.wire.sources[n] != want {
			t.Fatalf("request for %s: probes %v from %v, want one more from %s", ipString(target), r.wire.targets, r.wire.sources, ipString(want))
		}
	}
	step([4]byte{10, 62, 0, 7}, [4]byte{10, 62, 0, 1}) // the second subnet
	step([4]byte{10, 0, 0, 7}, [4]byte{10, 0, 0, 1})   // the first one
	step([4]byte{10, 99, 0, 7}, [4]byte{10, 0, 0, 1})  // neither: the first primary

	// Removed: its subnet falls back to the first address.
	r.d.handleAddr(addrMsg(unix.RTM_DELADDR, 2, [4]byte{10, 62, 0, 1}, 24))
	step([4]byte{10, 62, 0, 8}, [4]byte{10, 0, 0, 1})

	// No address left: no probe, a probe error, and no token spent.
	r.d.handleAddr(addrMsg(unix.RTM_DELADDR, 2, [4]byte{10, 0, 0, 1}, 24))
	errs, suppressed := r.d.c.Counter(ctrProbeErrors), r.d.c.Counter(ctrProbesSuppressed)
	r.handleNeigh(requestFor([4]byte{10, 0, 0, 9}))
	if len(r.wire.targets) != 4 || r.d.c.Counter(ctrProbeErrors) != errs+1 || r.d.c.Counter(ctrProbesSuppressed) != suppressed {
		t.Fatalf("without an address: probes %v, probe_errors %d (was %d)", r.wire.targets, r.d.c.Counter(ctrProbeErrors), errs)
	}

	// An address added later is used at once.
	r.d.handleAddr(addrMsg(unix.RTM_NEWADDR, 2, [4]byte{10, 64, 0, 1}, 24))
	step([4]byte{10, 0, 0, 9}, [4]byte{10, 64, 0, 1})

	// The interface comes back as a new device: the old addresses went
	// with the old one.
	r.d.ready = false // no sysctls, no packet socket in the rig
	r.d.handleLink(&rtnl.Link{MsgType: unix.RTM_NEWLINK, Ifindex: 5, Name: [16]byte{'l', 'a', 'n', '0'}, NameLen: 4})
	if w := r.d.ifs.links[5]; w == nil || w.addrs.Len() != 0 {
		t.Fatalf("lan0 as index 5: %+v", w)
	}
}
