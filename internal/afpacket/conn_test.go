package afpacket_test

// Tests of the packet socket against the real kernel, in a namespace of
// their own (root), and of the byte-order helper (no root).

import (
	"bytes"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestHtons checks the byte-order helper on whatever host runs it.
func TestHtons(t *testing.T) {
	v := afpacket.Htons(unix.ETH_P_ARP)
	b := (*[2]byte)(unsafe.Pointer(&v))
	if b[0] != 0x08 || b[1] != 0x06 {
		t.Errorf("Htons(0x0806) is % x in memory, want 08 06", b[:])
	}
}

// TestOpenBadIfindex: a negative index is refused before any system call.
func TestOpenBadIfindex(t *testing.T) {
	if c, err := afpacket.Open(-1, 0); err == nil {
		c.Close()
		t.Fatal("Open(-1) succeeded")
	}
}

// open opens a packet socket in n bound to ifname ("" for every
// interface), closed when the test ends, and returns it with the
// interface's index (0 for "").
func (n *netns) open(ifname string, rcvbuf int) (*afpacket.Conn, int32) {
	n.t.Helper()
	var c *afpacket.Conn
	var idx int32
	n.do(func() error {
		if ifname != "" {
			i, err := afpacket.IndexByName(ifname)
			if err != nil {
				return err
			}
			idx = int32(i)
		}
		var err error
		c, err = afpacket.Open(idx, rcvbuf)
		return err
	})
	n.t.Cleanup(func() { c.Close() })
	return c, idx
}

// received is one frame read by recvAll: a copy of its bytes and address.
type received struct {
	B  []byte
	LL unix.RawSockaddrLinklayer
}

// recvAll reads frames from c until want of them arrived or limit passed,
// polling in steps of at most 50 ms, then whatever else is queued.
func recvAll(t *testing.T, c *afpacket.Conn, want int, limit time.Duration) []received {
	t.Helper()
	var got []received
	deadline := time.Now().Add(limit)
	for {
		b, ll, err := c.Recv()
		if err == nil {
			got = append(got, received{append([]byte(nil), b...), *ll})
			continue
		}
		if err != unix.EAGAIN {
			t.Fatalf("Recv: %v", err)
		}
		left := time.Until(deadline)
		if len(got) >= want || left <= 0 {
			return got
		}
		pfd := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, min(int(left/time.Millisecond)+1, 50)); err != nil && err != unix.EINTR {
			t.Fatalf("poll: %v", err)
		}
	}
}

// TestSendRecv sends a broadcast probe and a unicast frame from one end of
// a veth pair and checks what a socket on the other end receives: the
// bytes as sent, and the link-layer address with the receiving interface,
// the packet type, Ethernet, and the frame's source MAC (sll_addr). The
// sending socket never sees its own frames, and an unbound socket sees the
// received ones with their interface.
func TestSendRecv(t *testing.T) {
	n := newNetns(t)
	a, idxA := n.open("va", 0)
	b, idxB := n.open("vb", 0)
	all, _ := n.open("", 0)

	var probe [frame.ARPLen]byte
	frame.BuildARPProbe(&probe, macA, ipA, ipB)
	if err := a.Send(probe[:], idxA, frame.BroadcastMAC); err != nil {
		t.Fatalf("send probe: %v", err)
	}
	var reply [frame.ARPLen]byte
	frame.EncodeARP(&reply, frame.ARPOpReply, macA, ipA, macB, ipB)
	if err := a.Send(reply[:], idxA, macB); err != nil {
		t.Fatalf("send reply: %v", err)
	}

	got := recvAll(t, b, 2, 2*time.Second)
	if len(got) != 2 {
		t.Fatalf("vb received %d frames, want 2: %+v", len(got), got)
	}
	for i, want := range []struct {
		b       []byte
		pkttype uint8
		op      uint16
	}{{probe[:], unix.PACKET_BROADCAST, frame.ARPOpRequest}, {reply[:], unix.PACKET_HOST, frame.ARPOpReply}} {
		r := got[i]
		if !bytes.Equal(r.B, want.b) {
			t.Errorf("frame %d: received\n% x, sent\n% x", i, r.B, want.b)
		}
		ll := r.LL
		if ll.Family != unix.AF_PACKET || ll.Protocol != afpacket.Htons(unix.ETH_P_ARP) || ll.Ifindex != idxB ||
			ll.Hatype != unix.ARPHRD_ETHER || ll.Pkttype != want.pkttype || ll.Halen != 6 || [6]byte(ll.Addr[:6]) != macA {
			t.Errorf("frame %d: link-layer address %+v, want AF_PACKET, ETH_P_ARP, ifindex %d, Ethernet, pkttype %d, source %s",
				i, ll, idxB, want.pkttype, labtest.MACString(macA))
		}
		var f frame.ARP
		if d := frame.DecodeARP(&f, r.B, &ll); d != frame.DropNone || f != (frame.ARP{Ifindex: idxB, SenderMAC: macA, SenderIP: ipA, Op: want.op, TargetIP: ipB}) {
			t.Errorf("frame %d: decoded as %v %+v", i, d, f)
		}
	}

	// Give a looped-back copy time to show up, then check none did.
	time.Sleep(100 * time.Millisecond)
	if own := recvAll(t, a, 0, 0); len(own) != 0 {
		t.Errorf("the sending socket saw %d frames: %+v", len(own), own)
	}
	seen := recvAll(t, all, 2, 2*time.Second)
	if len(seen) != 2 {
		t.Errorf("the unbound socket saw %d frames, want the 2 received on vb: %+v", len(seen), seen)
	}
	for _, r := range seen {
		if r.LL.Ifindex != idxB || r.LL.Pkttype == unix.PACKET_OUTGOING {
			t.Errorf("the unbound socket saw a frame on ifindex %d, pkttype %d; want only vb's (%d) received ones", r.LL.Ifindex, r.LL.Pkttype, idxB)
		}
	}
}

// TestNoAllocs checks that sending and receiving allocate nothing: one end
// sends 51 probes (one warm-up and 50 measured calls), the other reads
// them, and then reads an empty queue.
func TestNoAllocs(t *testing.T) {
	n := newNetns(t)
	a, idxA := n.open("va", 0)
	b, _ := n.open("vb", 0)
	var probe [frame.ARPLen]byte
	frame.BuildARPProbe(&probe, macA, ipA, ipA)

	const runs = 50
	var sendErr error
	if allocs := testing.AllocsPerRun(runs, func() {
		if err := a.Send(probe[:], idxA, frame.BroadcastMAC); err != nil && sendErr == nil {
			sendErr = err
		}
	}); allocs != 0 {
		t.Errorf("Send: %v allocations per call, want 0", allocs)
	}
	if sendErr != nil {
		t.Fatalf("send: %v", sendErr)
	}
	// Wait until every frame is queued on the receiving socket.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// SIOCINQ on a packet socket gives the size of the next frame.
		if q, err := unix.IoctlGetInt(b.Fd(), unix.SIOCINQ); err == nil && q > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame reached vb")
		}
	}
	time.Sleep(100 * time.Millisecond)

	var same, errs int
	if allocs := testing.AllocsPerRun(runs, func() {
		p, _, err := b.Recv()
		switch {
		case err != nil:
			errs++
		case bytes.Equal(p, probe[:]):
			same++
		}
	}); allocs != 0 {
		t.Errorf("Recv: %v allocations per call, want 0", allocs)
	}
	if same < runs {
		t.Errorf("Recv: %d of %d reads gave the probe sent (%d errors), want at least %d", same, runs+1, errs, runs)
	}
	// And an empty queue gives EAGAIN, also without allocating.
	recvAll(t, b, 0, 0)
	if allocs := testing.AllocsPerRun(runs, func() {
		if _, _, err := b.Recv(); err != unix.EAGAIN {
			t.Errorf("Recv on an empty socket: %v, want EAGAIN", err)
		}
	}); allocs != 0 {
		t.Errorf("Recv (EAGAIN): %v allocations per call, want 0", allocs)
	}
}

// TestStatsDelta fills a socket's smallest receive buffer and checks that
// Stats reports what the kernel counted since the previous call: summed,
// the deltas count every frame sent, some of them dropped; a call with
// nothing new reports zero; and the frames read plus the drops are the
// frames sent.
func TestStatsDelta(t *testing.T) {
	n := newNetns(t)
	a, idxA := n.open("va", 0)
	b, _ := n.open("vb", 1) // the kernel raises it to its minimum
	var probe [frame.ARPLen]byte
	frame.BuildARPProbe(&probe, macA, ipA, ipB)

	if st, err := b.Stats(); err != nil || st != (afpacket.Stats{}) {
		t.Fatalf("Stats before any frame = %+v, %v; want zero", st, err)
	}
	const sent = 200
	for i := 0; i < sent; i++ {
		if err := a.Send(probe[:], idxA, frame.BroadcastMAC); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var total afpacket.Stats
	var calls int
	for deadline := time.Now().Add(3 * time.Second); total.Packets < sent && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		st, err := b.Stats()
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		total.Packets += st.Packets
		total.Drops += st.Drops
		calls++
	}
	if total.Packets != sent || total.Drops == 0 || total.Drops >= sent {
		t.Fatalf("Stats summed over %d calls = %+v, want %d packets, some but not all dropped", calls, total, sent)
	}
	if st, err := b.Stats(); err != nil || st != (afpacket.Stats{}) {
		t.Errorf("Stats with nothing new = %+v, %v; want zero", st, err)
	}
	if read := len(recvAll(t, b, 0, 0)); uint64(read)+total.Drops != sent {
		t.Errorf("read %d frames and %d were dropped, want %d in all", read, total.Drops, sent)
	}
}

// TestRecvLinkDown checks that a link going down and up is no receive
// error: the kernel reports ENETDOWN once on the bound socket, which Recv
// reads as nothing queued, and the socket receives again once the link is
// up.
func TestRecvLinkDown(t *testing.T) {
	n := newNetns(t)
	a, idxA := n.open("va", 0)
	b, _ := n.open("vb", 0)
	n.ip("link", "set", "dev", "vb", "down")
	for i := 0; i < 3; i++ {
		if _, _, err := b.Recv(); err != unix.EAGAIN {
			t.Fatalf("Recv %d with the link down: %v, want EAGAIN", i, err)
		}
	}
	n.ip("link", "set", "dev", "vb", "up")
	n.waitUp("vb")
	n.waitUp("va")
	var probe [frame.ARPLen]byte
	frame.BuildARPProbe(&probe, macA, ipA, ipB)
	if err := a.Send(probe[:], idxA, frame.BroadcastMAC); err != nil {
		t.Fatalf("send probe: %v", err)
	}
	if got := recvAll(t, b, 1, 2*time.Second); len(got) != 1 || !bytes.Equal(got[0].B, probe[:]) {
		t.Fatalf("after the link came up, vb received %+v, want the probe", got)
	}
}

// TestRecvBatch sends 20 ARP replies, each for another address, before
// the other end reads any: its first call takes 16 of them, and Recv
// hands out all 20 whole and in order, each with its own source address,
// then EAGAIN.
func TestRecvBatch(t *testing.T) {
	n := newNetns(t)
	a, idxA := n.open("va", 0)
	b, idxB := n.open("vb", 0)
	var sent [][frame.ARPLen]byte
	for i := 0; i < 20; i++ {
		var f [frame.ARPLen]byte
		frame.EncodeARP(&f, frame.ARPOpReply, macA, [4]byte{10, 9, 0, byte(i)}, macB, ipB)
		if err := a.Send(f[:], idxA, macB); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		sent = append(sent, f)
	}
	if !labtest.WaitFor(2*time.Second, func() bool {
		q, err := unix.IoctlGetInt(b.Fd(), unix.SIOCINQ)
		return err == nil && q > 0
	}) {
		t.Fatal("nothing queued")
	}
	time.Sleep(50 * time.Millisecond)
	for i, f := range sent {
		p, ll, err := b.Recv()
		if i == 0 && (afpacket.Received(b) != 16 || b.Buffered() != 15) {
			t.Errorf("the first call received %d frames, %d left to return; want 16 and 15", afpacket.Received(b), b.Buffered())
		}
		if err != nil || !bytes.Equal(p, f[:]) || ll.Ifindex != idxB || [6]byte(ll.Addr[:6]) != macA {
			t.Fatalf("frame %d: % x from %+v (%v), want % x from %v on %d", i, p, ll, err, f, macA, idxB)
		}
	}
	if _, _, err := b.Recv(); err != unix.EAGAIN {
		t.Errorf("after the 20: %v, want EAGAIN", err)
	}
}
