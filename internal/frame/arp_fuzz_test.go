package frame_test

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// FuzzDecodeARP feeds arbitrary payloads and link-layer fields to
// DecodeARP. The seed corpus is the captured frames and malformed variants
// of them, so it runs as an ordinary test. Properties: no panic; the
// verdict is a known reason; an accepted frame satisfies every acceptance
// rule; a rejected one leaves the output alone; a frame re-encoded from its
// fields gives the same bytes, and a probe built from an accepted frame's
// fields decodes to the same fields.
func FuzzDecodeARP(f *testing.F) {
	addARPSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, ifindex int32, hatype uint16, pkttype, halen uint8, src []byte) {
		ll := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: protoARP,
			Ifindex: ifindex, Hatype: hatype, Pkttype: pkttype, Halen: halen}
		copy(ll.Addr[:], src)
		sentinel := frame.ARP{Ifindex: -7, SenderIP: [4]byte{0xbe, 0xef}}
		fr := sentinel
		d := frame.DecodeARP(&fr, data, &ll)
		if d >= frame.DropCount {
			t.Fatalf("unknown verdict %d", d)
		}
		if d != frame.DropNone {
			if fr != sentinel {
				t.Fatalf("rejected (%v) but wrote %+v", d, fr)
			}
			return
		}
		checkAccepted(t, &fr, data, &ll)
		checkRoundTrip(t, &fr, data, &ll)
	})
}

// addARPSeeds adds the captures to f, whole, padded and cut short, with
// one field at a time made wrong, and with a wrong link type, direction or
// Ethernet source.
func addARPSeeds(f *testing.F) {
	for _, name := range []string{"request.hex", "reply.hex", "gratuitous.hex"} {
		c := readCapture(f, name)
		add := func(b []byte, ll unix.RawSockaddrLinklayer) {
			f.Add(b, ll.Ifindex, ll.Hatype, ll.Pkttype, ll.Halen, append([]byte(nil), ll.Addr[:ll.Halen]...))
		}
		add(c.Data, c.LL)
		add(append(append([]byte(nil), c.Data...), make([]byte, 18)...), c.LL)
		add(c.Data[:27], c.LL)
		for _, edit := range []struct {
			off int
			v   []byte
		}{
			{0, []byte{0, 6}}, {2, []byte{0x86, 0xdd}}, {4, []byte{8}}, {5, []byte{16}},
			{6, []byte{0, 3}}, {14, []byte{0, 0, 0, 0}}, {14, []byte{224, 0, 0, 1}},
			{8, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, {8, []byte{1, 0, 0x5e, 0, 0, 1}},
			{8, []byte{0, 0, 0, 0, 0, 0}},
		} {
			b := append([]byte(nil), c.Data...)
			copy(b[edit.off:], edit.v)
			add(b, c.LL)
		}
		ll := c.LL
		ll.Pkttype = unix.PACKET_OUTGOING
		add(c.Data, ll)
		ll = c.LL
		ll.Hatype = unix.ARPHRD_LOOPBACK
		add(c.Data, ll)
		ll = c.LL
		ll.Addr[5] ^= 0x40
		add(c.Data, ll)
	}
}

// checkAccepted checks every acceptance rule on a frame DecodeARP accepted,
// independently of the decoder, and the fields it decoded.
func checkAccepted(t *testing.T, fr *frame.ARP, data []byte, ll *unix.RawSockaddrLinklayer) {
	t.Helper()
	ifindex, hatype, pkttype, halen := ll.Ifindex, ll.Hatype, ll.Pkttype, ll.Halen
	// Every acceptance rule, checked independently of the decoder.
	switch {
	case pkttype != unix.PACKET_HOST && pkttype != unix.PACKET_BROADCAST &&
		pkttype != unix.PACKET_MULTICAST && pkttype != unix.PACKET_OTHERHOST:
		t.Fatalf("accepted pkttype %d", pkttype)
	case hatype != 1 || halen != 6:
		t.Fatalf("accepted link hatype %d halen %d", hatype, halen)
	case len(data) < 28:
		t.Fatalf("accepted %d bytes", len(data))
	case data[0] != 0 || data[1] != 1 || data[2] != 8 || data[3] != 0:
		t.Fatalf("accepted header % x", data[:4])
	case data[4] != 6 || data[5] != 4:
		t.Fatalf("accepted lengths %d/%d", data[4], data[5])
	case data[6] != 0 || (data[7] != 1 && data[7] != 2):
		t.Fatalf("accepted opcode % x", data[6:8])
	case fr.SenderIP == [4]byte{} || fr.SenderIP[0] == 0 || fr.SenderIP[0] == 127 ||
		fr.SenderIP[0] >= 224 && fr.SenderIP[0] < 240 || fr.SenderIP == [4]byte{255, 255, 255, 255}:
		t.Fatalf("accepted sender IP %v", fr.SenderIP)
	case fr.SenderMAC[0]&1 != 0 || fr.SenderMAC == [6]byte{}:
		t.Fatalf("accepted sender MAC % x", fr.SenderMAC)
	case !bytes.Equal(data[8:14], ll.Addr[:6]):
		t.Fatalf("accepted sender MAC % x from Ethernet source % x", data[8:14], ll.Addr[:6])
	}
	if fr.Ifindex != ifindex || !bytes.Equal(fr.SenderMAC[:], data[8:14]) || !bytes.Equal(fr.SenderIP[:], data[14:18]) {
		t.Fatalf("decoded %+v from % x", fr, data)
	}
}

// checkRoundTrip checks that an accepted frame's fields encode back to its
// first 28 bytes, and that a probe built from them decodes to the same.
func checkRoundTrip(t *testing.T, fr *frame.ARP, data []byte, ll *unix.RawSockaddrLinklayer) {
	t.Helper()
	// Re-encoding every field gives the first 28 bytes back.
	v := viewARP(data, ll)
	if v.arpOf() != *fr {
		t.Fatalf("decoded %+v, the bytes hold %+v", fr, v)
	}
	var b [frame.ARPLen]byte
	frame.EncodeARP(&b, v.Op, v.SenderMAC, v.SenderIP, v.TargetMAC, v.TargetIP)
	if !bytes.Equal(b[:], data[:frame.ARPLen]) {
		t.Fatalf("re-encoded\n% x, was\n% x", b[:], data[:frame.ARPLen])
	}
	// A probe from the sender to the target decodes to those fields.
	frame.BuildARPProbe(&b, fr.SenderMAC, fr.SenderIP, v.TargetIP)
	var p frame.ARP
	if d := frame.DecodeARP(&p, b[:], ll); d != frame.DropNone {
		t.Fatalf("probe built from %+v dropped as %v", fr, d)
	}
	if wantP := (frame.ARP{Ifindex: fr.Ifindex, SenderMAC: fr.SenderMAC, SenderIP: fr.SenderIP,
		Op: frame.ARPOpRequest, TargetIP: fr.TargetIP}); p != wantP {
		t.Fatalf("probe decoded as %+v, want %+v", p, wantP)
	}
	want := v
	want.Op, want.TargetMAC = frame.ARPOpRequest, [6]byte{}
	if pv := viewARP(b[:], ll); pv != want {
		t.Fatalf("probe holds %+v, want %+v", pv, want)
	}
}
