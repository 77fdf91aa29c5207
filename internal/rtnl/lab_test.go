package rtnl_test

// Lab tests of the socket and of the answer against the real kernel
// (root, network namespaces).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// answerFlags are the netlink flags TestLabNetlinkAnswerFlags tries on
// the answer.
var answerFlags = []struct {
	name  string
	flags uint16
}{
	{"REQUEST", unix.NLM_F_REQUEST},
	{"REQUEST|REPLACE", unix.NLM_F_REQUEST | unix.NLM_F_REPLACE},
	{"REQUEST|CREATE|REPLACE", unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_REPLACE},
	{"REQUEST|ACK", unix.NLM_F_REQUEST | unix.NLM_F_ACK},
}

// cacheAnswer returns the answer for dst on ifindex: STALE with CacheMAC.
func cacheAnswer(ifindex int32, dst [4]byte) rtnl.Neigh {
	a := rtnl.Neigh{Family: unix.AF_INET, Ifindex: ifindex, State: unix.NUD_STALE, Type: unix.RTN_UNICAST, DstLen: 4, LLAddrLen: 6}
	copy(a.Dst[:], dst[:])
	copy(a.LLAddr[:], labtest.CacheMAC[:])
	return a
}

// TestLabNetlinkAnswerFlags finds out which netlink flags on the answer the
// kernel accepts for an INCOMPLETE entry, what each does to an entry that
// is already valid with another address, and to an entry that is gone.
func TestLabNetlinkAnswerFlags(t *testing.T) {
	nl := labtest.NewNeighLab(t)
	for i, tc := range answerFlags {
		answerIncomplete(t, nl, tc.name, tc.flags, byte(20+i))
	}
	// An entry that turned REACHABLE with the true MAC before our answer
	// arrived: without NLM_F_REPLACE the kernel keeps the true MAC.
	for _, tc := range answerFlags[:2] {
		answerReachable(t, nl, tc.name, tc.flags)
	}
	// An answer for a vanished entry: NLM_F_REQUEST alone gives ENOENT,
	// with NLM_F_CREATE it plants an entry nobody asked for.
	answerMissing(t, nl, unix.NLM_F_REQUEST, false)
	answerMissing(t, nl, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_REPLACE, true)
}

// answerIncomplete answers the kernel's request for 10.77.0.last with
// flags, which must make the INCOMPLETE entry usable with CacheMAC, and,
// with NLM_F_ACK, be acknowledged.
func answerIncomplete(t *testing.T, nl *labtest.Netlink, name string, flags uint16, last byte) {
	ix := nl.NearIndex
	dst := [4]byte{10, 77, 0, last}
	addr := fmt.Sprintf("10.77.0.%d", last)
	nl.SendUDP(dst)
	req, _ := nl.Await(3*time.Second, "RTM_GETNEIGH for "+addr,
		neighIs(t, unix.RTM_GETNEIGH, ix, dst, stateIs(unix.NUD_INCOMPLETE)))
	var n rtnl.Neigh
	rtnl.DecodeNeigh(&req.Msg, &n)
	a := n
	a.State, a.Type, a.LLAddrLen = unix.NUD_STALE, unix.RTN_UNICAST, 6
	a.HasProbes = false
	copy(a.LLAddr[:], labtest.CacheMAC[:])
	seq := nl.Conn.NextSeq()
	var out [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, flags, seq, &a)
	if err != nil {
		t.Fatal(err)
	}
	nl.Send(out[:k])
	got, _ := nl.Await(3*time.Second, "RTM_NEWNEIGH for "+addr, neighIs(t, unix.RTM_NEWNEIGH, ix, dst, nil))
	rtnl.DecodeNeigh(&got.Msg, &n)
	show := nl.NeighShow(addr)
	t.Logf("%s on INCOMPLETE: notification state %#x lladdr %s; ip neigh: %q", name, n.State, macString(n.HWAddr()), show)
	if n.State&(unix.NUD_STALE|unix.NUD_DELAY) == 0 || !strings.Contains(show, labtest.MACString(labtest.CacheMAC)) {
		t.Errorf("%s did not make the INCOMPLETE entry usable with our MAC: %q", name, show)
	}
	if flags&unix.NLM_F_ACK != 0 {
		ack, _ := nl.Await(3*time.Second, "ACK", func(m *rtnl.Msg) bool { return m.Type == unix.NLMSG_ERROR && m.Seq == seq })
		var e rtnl.ErrorMsg
		if err := rtnl.DecodeError(&ack.Msg, &e); err != nil || e.Errno != 0 {
			t.Errorf("ACK: %+v %v", e, err)
		}
		t.Logf("%s: the kernel acknowledged with NLMSG_ERROR 0 (%d bytes)", name, len(ack.Raw))
	}
}

// answerReachable answers with flags for 10.77.0.2 once the kernel has
// resolved it: the true MAC must stay unless flags hold NLM_F_REPLACE.
func answerReachable(t *testing.T, nl *labtest.Netlink, name string, flags uint16) {
	ix := nl.NearIndex
	far := [4]byte{10, 77, 0, 2}
	nl.SendUDP(far)
	nl.Await(3*time.Second, "REACHABLE 10.77.0.2", neighIs(t, unix.RTM_NEWNEIGH, ix, far, stateIs(unix.NUD_REACHABLE)))
	a := cacheAnswer(ix, far)
	var out [rtnl.NeighMsgMax]byte
	k, _ := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, flags, nl.Conn.NextSeq(), &a)
	nl.Send(out[:k])
	time.Sleep(50 * time.Millisecond)
	show := nl.NeighShow("10.77.0.2")
	t.Logf("%s on REACHABLE with another MAC: %q", name, show)
	keeps := strings.Contains(show, labtest.MACString(labtest.NeighFarMAC))
	if want := flags&unix.NLM_F_REPLACE == 0; keeps != want {
		t.Errorf("%s on a REACHABLE entry: %q; keeps the true MAC = %v, want %v", name, show, keeps, want)
	}
	nl.IP(nl.Near, "neigh", "del", "10.77.0.2", "dev", nl.NearIf)
	// Drain what the deletion and the overwrite notified.
	nl.Await(3*time.Second, "RTM_DELNEIGH 10.77.0.2", neighIs(t, unix.RTM_DELNEIGH, ix, far, nil))
}

// answerMissing answers with flags for 10.77.0.60, which has no entry:
// the answer must create one exactly when create says so.
func answerMissing(t *testing.T, nl *labtest.Netlink, flags uint16, create bool) {
	a := cacheAnswer(nl.NearIndex, [4]byte{10, 77, 0, 60})
	var out [rtnl.NeighMsgMax]byte
	k, _ := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, flags, nl.Conn.NextSeq(), &a)
	nl.Send(out[:k])
	time.Sleep(50 * time.Millisecond)
	show := nl.NeighShow("10.77.0.60")
	t.Logf("flags %#x on a missing entry: %q", flags, show)
	if (show != "") != create {
		t.Errorf("flags %#x on a missing entry: %q", flags, show)
	}
	if show != "" {
		nl.IP(nl.Near, "neigh", "del", "10.77.0.60", "dev", nl.NearIf)
	}
}

// TestLabNetlinkOverrun overflows a small receive queue with a burst of
// neighbour notifications and checks that Recv reports the overrun once,
// keeps working, and that a dump then recovers the whole table.
func TestLabNetlinkOverrun(t *testing.T) {
	l := labtest.New(t)
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	// The kernel raises 1 byte to its minimum, a few KiB.
	c := l.DialNetlink(unix.RTMGRP_NEIGH, 1).Conn
	const hosts = 200
	var batch strings.Builder
	for i := 0; i < hosts; i++ {
		fmt.Fprintf(&batch, "neigh replace 10.77.0.%d lladdr 02:00:00:00:%02x:%02x nud stale dev %s\n", 20+i, i>>8, i&0xff, l.NearIf)
	}
	f := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(f, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.IP(l.Near, "-batch", f)

	// Read what is queued: the overrun comes first, then what fitted.
	overruns, seen := readOverrun(t, c, 10*hosts)
	if overruns != 1 || seen >= hosts {
		t.Fatalf("overruns %d, %d of %d notifications seen; want one overrun and losses", overruns, seen, hosts)
	}
	t.Logf("burst of %d: one ENOBUFS, %d notifications kept", hosts, seen)

	// Re-dump: every entry comes back, through the same small queue.
	if done, got := redump(t, c); !done || got < hosts {
		t.Fatalf("dump: done %v, %d entries, want %d", done, got, hosts)
	}
}

// readOverrun reads what is queued on c, at most reads datagrams, and
// counts the overruns reported and the messages read.
func readOverrun(t *testing.T, c *rtnl.Conn, reads int) (overruns, seen int) {
	for i := 0; i < reads; i++ {
		b, err := c.Recv()
		if err == unix.EAGAIN {
			break
		}
		if err == rtnl.ErrOverrun {
			overruns++
			continue
		}
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		for it.Next(&m) {
			seen++
		}
	}
	return overruns, seen
}

// redump dumps the IPv4 neighbours through c, for 5 s at most, and says
// whether the dump ended and how many distinct addresses it listed.
func redump(t *testing.T, c *rtnl.Conn) (done bool, entries int) {
	var req [rtnl.DumpMsgMax]byte
	seq := c.NextSeq()
	k, _ := rtnl.PutNeighDump(req[:], seq, unix.AF_INET)
	if err := c.Send(req[:k]); err != nil {
		t.Fatal(err)
	}
	got := map[[4]byte]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 100000 && !done && time.Now().Before(deadline); i++ {
		b, err := c.Recv()
		if err == unix.EAGAIN {
			fds := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
			unix.Poll(fds, 100)
			continue
		}
		if err != nil {
			t.Fatalf("recv during the dump: %v", err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		var n rtnl.Neigh
		for it.Next(&m) {
			if m.Seq != seq {
				continue
			}
			if m.Type == unix.NLMSG_DONE {
				done = true
			} else if rtnl.DecodeNeigh(&m, &n) == nil && n.DstLen == 4 {
				got[[4]byte(n.Dst[:4])] = true
			}
		}
	}
	return done, len(got)
}

// TestLabNetlinkForeign sends datagrams to the daemon's socket from another
// socket: Recv drops them, and counts a datagram too big for its buffer as
// truncated.
func TestLabNetlinkForeign(t *testing.T) {
	l := labtest.New(t)
	var c *rtnl.Conn
	var other int
	if err := l.Do(l.Near, func() (err error) {
		if c, err = rtnl.Dial(0, 4<<20); err != nil {
			return err
		}
		other, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer unix.Close(other)
	to := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: c.Port()}
	fake := loadHex(t, "getneigh_incomplete")
	if err := unix.Sendto(other, fake, 0, to); err != nil {
		t.Fatalf("sendto our port: %v", err)
	}
	if b, err := c.Recv(); err != rtnl.ErrForeign || b != nil {
		t.Errorf("forged request: %v", err)
	}
	if err := unix.SetsockoptInt(other, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<20); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, rtnl.RecvBufSize+4096)
	if err := unix.Sendto(other, big, 0, to); err != nil {
		t.Fatalf("sendto our port: %v", err)
	}
	if _, err := c.Recv(); err != rtnl.ErrTruncated {
		t.Errorf("oversized datagram: %v", err)
	}
	if _, err := c.Recv(); err != unix.EAGAIN {
		t.Errorf("after: %v", err)
	}
}

// TestLabNetlinkIgnorePort checks the filter that keeps the echo of the
// daemon's own answers off its notification socket: a neighbour added
// through the filtered port is notified to a plain listener and not to the
// filtered one, while one added by another process (ip) reaches both.
func TestLabNetlinkIgnorePort(t *testing.T) {
	nl := labtest.NewNeighLab(t)
	req := nl.DialNetlink(0, 0).Conn
	plain := nl.DialNetlink(unix.RTMGRP_NEIGH, 1<<20).Conn
	if err := nl.Conn.IgnorePort(req.Port()); err != nil {
		t.Fatalf("IgnorePort(%d): %v", req.Port(), err)
	}
	ours, theirs := [4]byte{10, 77, 0, 50}, [4]byte{10, 77, 0, 51}
	a := rtnl.Neigh{Family: unix.AF_INET, Ifindex: nl.NearIndex, State: unix.NUD_PERMANENT, Type: unix.RTN_UNICAST,
		DstLen: 4, LLAddrLen: 6}
	copy(a.Dst[:], ours[:])
	copy(a.LLAddr[:], labtest.CacheMAC[:])
	var out [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeigh(out[:], unix.RTM_NEWNEIGH, unix.NLM_F_REQUEST|unix.NLM_F_CREATE, req.NextSeq(), &a)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Send(out[:k]); err != nil {
		t.Fatalf("add 10.77.0.50: %v", err)
	}
	nl.IP(nl.Near, "neigh", "add", "10.77.0.51", "lladdr", labtest.MACString(labtest.NeighFarMAC), "dev", nl.NearIf)

	// The filtered socket: 10.77.0.51 arrives, 10.77.0.50 never did.
	_, before := nl.Await(3*time.Second, "RTM_NEWNEIGH for 10.77.0.51",
		neighIs(t, unix.RTM_NEWNEIGH, nl.NearIndex, theirs, nil))
	for _, m := range before {
		var n rtnl.Neigh
		if rtnl.DecodeNeigh(&m.Msg, &n) == nil && [4]byte(n.Dst[:4]) == ours {
			t.Errorf("the filtered socket got the notification of its own port's neighbour (nlmsg_pid %d)", m.Msg.Pid)
		}
	}
	// The plain socket: both, ours with our port in nlmsg_pid.
	seen := notifiedPids(t, plain, 2)
	if pid, ok := seen[ours]; !ok || pid != req.Port() {
		t.Errorf("plain listener: notification of 10.77.0.50 %v with nlmsg_pid %d, want one with %d", ok, pid, req.Port())
	}
	if _, ok := seen[theirs]; !ok {
		t.Errorf("plain listener: no notification of 10.77.0.51")
	}
}

// notifiedPids reads RTM_NEWNEIGH notifications from c until it has seen
// want IPv4 addresses or 3 s have passed, and returns the nlmsg_pid of the
// last notification of each address.
func notifiedPids(t *testing.T, c *rtnl.Conn, want int) map[[4]byte]uint32 {
	seen := map[[4]byte]uint32{}
	deadline := time.Now().Add(3 * time.Second)
	for len(seen) < want && time.Now().Before(deadline) {
		b, err := c.Recv()
		if err == unix.EAGAIN {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		for it.Next(&m) {
			var n rtnl.Neigh
			if m.Type == unix.RTM_NEWNEIGH && rtnl.DecodeNeigh(&m, &n) == nil && n.DstLen == 4 {
				seen[[4]byte(n.Dst[:4])] = m.Pid
			}
		}
	}
	return seen
}
