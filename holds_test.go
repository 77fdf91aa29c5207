package main

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/frame"
)

// holdKey is the key of 10.0.x.y on interface 2.
func holdKey(i int) *cache.Key {
	k := cache.KeyV4(2, [4]byte{10, 0, byte(i >> 8), byte(i)})
	return &k
}

// TestHoldTracker: limit holds within holdTime, then none until the
// oldest expires or an answer releases one; a second probe of a held
// address renews its hold rather than taking another.
func TestHoldTracker(t *testing.T) {
	tr := newHoldTracker(3, testHasher())
	for i, at := range []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond} {
		if !tr.room(at) {
			t.Fatalf("probe %d refused with room left", i)
		}
		tr.take(holdKey(i), at)
	}
	if tr.room(30 * time.Millisecond) {
		t.Fatal("a fourth hold")
	}
	if !tr.holding(holdKey(1), 25*time.Millisecond) || tr.holding(holdKey(7), 25*time.Millisecond) {
		t.Fatal("holding: wrong for a held and an unheld address")
	}
	tr.release(holdKey(1))
	if tr.holding(holdKey(1), 25*time.Millisecond) {
		t.Fatal("holding after the release")
	}
	if !tr.room(30 * time.Millisecond) {
		t.Fatal("no room after an answer released a hold")
	}
	tr.take(holdKey(3), 30*time.Millisecond)
	tr.take(holdKey(3), 40*time.Millisecond) // renewed, not a second hold
	if tr.held != 3 || tr.room(50*time.Millisecond) {
		t.Fatalf("held %d: a renewed hold counted twice, or room past the limit", tr.held)
	}
	if !tr.room(holdTime) || tr.held != 2 {
		t.Fatalf("held %d at holdTime: the first probe's hold did not expire", tr.held)
	}
	if tr.room(holdTime + 35*time.Millisecond); tr.held != 1 {
		t.Fatalf("held %d: the renewed hold expired with its first probe, or the third did not", tr.held)
	}
	if tr.room(holdTime + 45*time.Millisecond); tr.held != 0 {
		t.Fatalf("held %d after every hold expired", tr.held)
	}
	k := holdKey(9)
	if a := testing.AllocsPerRun(1000, func() { tr.room(time.Hour); tr.take(k, time.Hour); tr.release(k) }); a != 0 {
		t.Errorf("allocates %v times", a)
	}
}

// TestHoldTrackerModel drives the tracker's hash table with random
// probes, answers and time against a map that does the same, including
// the deletions that move records back in the table.
func TestHoldTrackerModel(t *testing.T) {
	tr := newHoldTracker(64, testHasher())
	model := map[int]time.Duration{} // address: time of its latest probe
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Duration(0)
	for step := 0; step < 200000; step++ {
		now += time.Duration(rng.IntN(20)) * time.Millisecond // the tracker counts in ms
		for a, at := range model {
			if now-at >= holdTime {
				delete(model, a)
			}
		}
		a := rng.IntN(300)
		switch rng.IntN(3) {
		case 0, 1:
			room := tr.room(now)
			if want := len(model) < 64; room != want {
				t.Fatalf("step %d: room %v with %d held in the model", step, room, len(model))
			}
			if room {
				if tr.n == len(tr.ring) {
					// The oldest record's hold ends early.
					old := tr.ring[tr.head]
					for b, at := range model {
						if h := uint32(tr.hash.Key(holdKey(b))) | 1; h == old.h && ms(at) == old.at {
							delete(model, b)
						}
					}
				}
				tr.take(holdKey(a), now)
				model[a] = now
			}
		case 2:
			tr.release(holdKey(a))
			delete(model, a)
		}
		if tr.room(now); tr.held != len(model) {
			t.Fatalf("step %d: held %d, the model %d", step, tr.held, len(model))
		}
	}
}

// TestPolicyHoldLimit: with a full bucket but room for 3 holds, the
// fourth request within holdTime is failed at once and counted as
// refused; a host's answer frees its hold for the next request.
func TestPolicyHoldLimit(t *testing.T) {
	r := newPolicyRig(t, 3)
	r.d.o.burst, r.d.bucket = 1000, newTokenBucket(50, 1000)
	r.d.holds = newHoldTracker(3, testHasher())
	for x := byte(10); x < 14; x++ {
		r.handleNeigh(request(2, x, unix.NUD_INCOMPLETE))
	}
	if len(r.wire.targets) != 3 || len(r.req.failed) != 1 || r.d.c.Counter(ctrAppRefused) != 1 {
		t.Fatalf("%d probes, %d failed, app_refused %d; want 3, 1, 1", len(r.wire.targets), len(r.req.failed), r.d.c.Counter(ctrAppRefused))
	}
	r.d.handleFrame(&frame.ARP{Ifindex: 2, SenderIP: [4]byte{10, 0, 0, 11}, SenderMAC: [6]byte{2, 0, 0, 0, 0, 11},
		Op: frame.ARPOpReply, TargetIP: [4]byte{10, 0, 0, 1}})
	r.handleNeigh(request(2, 13, unix.NUD_INCOMPLETE))
	if len(r.wire.targets) != 4 {
		t.Fatalf("%d probes after an answer, want 4", len(r.wire.targets))
	}
}

// TestTableCapFromDump: the arp_cache table's gc_thresh3 in a table dump
// sets the cap the holds are made from; the IPv6 table's, a parameters
// message and a malformed one do not.
func TestTableCapFromDump(t *testing.T) {
	r := newPolicyRig(t, 3)
	msg := func(name string, thresh3 []byte) []byte {
		attr := func(typ uint16, val []byte) []byte {
			b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(val)))
			b = binary.NativeEndian.AppendUint16(b, typ)
			b = append(b, val...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
			return b
		}
		body := append([]byte{unix.AF_INET, 0, 0, 0}, attr(1, []byte(name+"\x00"))...)
		if thresh3 != nil {
			body = append(body, attr(4, thresh3)...)
		}
		h := binary.NativeEndian.AppendUint32(nil, uint32(16+len(body)))
		h = binary.NativeEndian.AppendUint16(h, unix.RTM_NEWNEIGHTBL)
		h = binary.NativeEndian.AppendUint16(h, unix.NLM_F_MULTI)
		h = append(h, make([]byte, 8)...)
		return append(h, body...)
	}
	r.d.handleMessages(msg("ndisc_cache", binary.NativeEndian.AppendUint32(nil, 7)))
	r.d.handleMessages(msg("arp_cache", nil))
	r.d.handleMessages(msg("arp_cache", []byte{1, 2}))
	if r.d.tableCap != 0 {
		t.Fatalf("tableCap %d from messages that do not give arp_cache's", r.d.tableCap)
	}
	r.d.handleMessages(msg("arp_cache", binary.NativeEndian.AppendUint32(nil, 80000)))
	if r.d.tableCap != 80000 {
		t.Fatalf("tableCap %d, want 80000", r.d.tableCap)
	}
	if got := newDaemonHolds(testHasher(), r.d.tableCap).limit; got != holdMax {
		t.Errorf("holds for a cap of 80000: %d, want at most %d", got, holdMax)
	}
	if got := newDaemonHolds(testHasher(), 8000).limit; got != 2000 {
		t.Errorf("holds for a cap of 8000: %d, want 2000", got)
	}
	if got := newDaemonHolds(testHasher(), 0).limit; got != 256 {
		t.Errorf("holds for an unknown cap: %d, want 256", got)
	}
}

// TestHoldTrackerRingFull: probes answered at once do not use up the
// holds, however many; when the ring is full, the oldest record's hold,
// if it has one, ends early.
func TestHoldTrackerRingFull(t *testing.T) {
	tr := newHoldTracker(2, testHasher())
	for i := 0; i < 100; i++ {
		if !tr.room(0) {
			t.Fatalf("answered probe %d refused", i)
		}
		tr.take(holdKey(i), 0)
		tr.release(holdKey(i))
	}
	tr.take(holdKey(200), 0) // held, the oldest record
	for i := 0; i < len(tr.ring)-1; i++ {
		tr.take(holdKey(300+i), 0)
		tr.release(holdKey(300 + i))
	}
	if tr.held != 1 || tr.n != len(tr.ring) {
		t.Fatalf("held %d, ring %d of %d; want 1 and a full ring", tr.held, tr.n, len(tr.ring))
	}
	tr.take(holdKey(400), 0)
	if tr.held != 1 {
		t.Errorf("held %d after the ring overflowed: want the oldest hold ended and the new one counted", tr.held)
	}
}
