package afpacket_test

// A lab test of the packet socket between two addressed namespaces
// (root), where the far kernel answers ARP.

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestPacketProbeLab sends a probe, built by frame.BuildARPProbe and sent
// with afpacket.Conn.Send, from the near namespace, sees it on a packet
// socket in the far namespace, and receives and decodes the far kernel's
// reply in the near namespace. Along the way it checks that a socket bound
// to ETH_P_ARP never sees our own outgoing frames, that an unbound socket
// sees the same frames with the right ifindex, and that the kernel's
// counters are readable.
func TestPacketProbeLab(t *testing.T) {
	l := labtest.New(t)
	l.Address()
	nearIdx := int32(l.Ifindex(l.Near, l.NearIf))
	farIdx := int32(l.Ifindex(l.Far, l.FarIf))

	near := l.Iface(l.Near, l.NearIf)
	if near.Index != nearIdx || near.MAC != labtest.NearMAC || near.IP != labtest.NearIP {
		t.Fatalf("labtest.LookupIface(%s) = %+v, want ifindex %d, MAC %s, IP %v", l.NearIf, near, nearIdx, labtest.MACString(labtest.NearMAC), labtest.NearIP)
	}
	nc := l.OpenPacket(l.Near, l.NearIf)
	nall := l.OpenPacket(l.Near, "")
	fc := l.OpenPacket(l.Far, l.FarIf)

	if err := labtest.SendProbe(nc, &near.Iface, near.IP, labtest.FarIP); err != nil {
		t.Fatalf("send probe: %v", err)
	}
	probeSeenFar(t, fc, farIdx)
	seen := replySeenNear(t, nc, nearIdx)
	noOwnFrames(t, nc, nall, seen, nearIdx)
	statsReadable(t, nc)
}

// probeSeenFar: the far side sees our request, broadcast.
func probeSeenFar(t *testing.T, fc *afpacket.Conn, farIdx int32) {
	seen, ok := labtest.WaitFrame(t, fc, 2*time.Second, func(s labtest.Seen) bool {
		return s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpRequest && s.Frame.SenderIP == labtest.NearIP
	})
	if !ok {
		t.Fatalf("the far side never saw the probe; it saw %+v", seen)
	}
	got := seen[len(seen)-1].Frame
	want := labtest.ARP{Ifindex: farIdx, Op: frame.ARPOpRequest, PktType: unix.PACKET_BROADCAST,
		SenderMAC: labtest.NearMAC, SenderIP: labtest.NearIP, TargetIP: labtest.FarIP}
	if got != want {
		t.Errorf("far side decoded the probe as\n%+v, want\n%+v", got, want)
	}
}

// replySeenNear: the near side gets the far kernel's reply, and returns
// every frame it read up to it.
func replySeenNear(t *testing.T, nc *afpacket.Conn, nearIdx int32) []labtest.Seen {
	seen, ok := labtest.WaitFrame(t, nc, 2*time.Second, func(s labtest.Seen) bool {
		return s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpReply
	})
	if !ok {
		t.Fatalf("no reply from the far kernel; near saw %+v", seen)
	}
	got := seen[len(seen)-1].Frame
	want := labtest.ARP{Ifindex: nearIdx, Op: frame.ARPOpReply, PktType: unix.PACKET_HOST,
		SenderMAC: labtest.FarMAC, SenderIP: labtest.FarIP, TargetMAC: labtest.NearMAC, TargetIP: labtest.NearIP}
	if got != want {
		t.Errorf("near side decoded the reply as\n%+v, want\n%+v", got, want)
	}
	return seen
}

// noOwnFrames gives a looped-back copy of the probe time to show up, then
// checks that none did, on the bound socket nc (which has read seen so
// far) and the unbound nall alike, and that nall saw the reply once, on
// nearIdx.
func noOwnFrames(t *testing.T, nc, nall *afpacket.Conn, seen []labtest.Seen, nearIdx int32) {
	time.Sleep(100 * time.Millisecond)
	more, _ := labtest.WaitFrame(t, nc, 0, func(labtest.Seen) bool { return false })
	for _, s := range append(seen, more...) {
		if s.Drop == frame.DropOutgoing || s.Frame.SenderMAC == labtest.NearMAC {
			t.Errorf("the near socket saw its own frame: %+v", s)
		}
	}
	all, _ := labtest.WaitFrame(t, nall, 0, func(labtest.Seen) bool { return false })
	var replies int
	for _, s := range all {
		if s.Drop == frame.DropOutgoing || s.Frame.SenderMAC == labtest.NearMAC {
			t.Errorf("the unbound near socket saw its own frame: %+v", s)
		}
		if s.Drop == frame.DropNone && s.Frame.Op == frame.ARPOpReply {
			replies++
			if s.Frame.Ifindex != nearIdx {
				t.Errorf("unbound socket: reply on ifindex %d, want %d", s.Frame.Ifindex, nearIdx)
			}
		}
	}
	if replies != 1 {
		t.Errorf("unbound near socket saw %d replies, want 1: %+v", replies, all)
	}
}

// statsReadable: the kernel counted at least the reply and dropped
// nothing, and a second call reports what is new since the first.
func statsReadable(t *testing.T, nc *afpacket.Conn) {
	st, err := nc.Stats()
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st.Packets < 1 || st.Drops != 0 {
		t.Errorf("near stats = %+v, want packets ≥ 1 and no drops", st)
	}
	st2, err := nc.Stats()
	if err != nil || st2.Packets > st.Packets {
		t.Errorf("stats are not deltas: %+v then %+v (%v)", st, st2, err)
	}
}
