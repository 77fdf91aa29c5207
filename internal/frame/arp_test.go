package frame_test

// Unit tests of the ARP decoder and probe builder: no root, no sockets.
// The frames come from testdata/arp, captured from the kernel in the lab.

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// TestDecodeARPCaptured decodes each captured frame and checks every field.
func TestDecodeARPCaptured(t *testing.T) {
	for _, tc := range []struct {
		file string
		want arpView
	}{
		{"request.hex", arpView{Ifindex: 2, Op: frame.ARPOpRequest, PktType: unix.PACKET_BROADCAST,
			SenderMAC: testNearMAC, SenderIP: testNearIP, TargetIP: testFarIP}},
		{"reply.hex", arpView{Ifindex: 2, Op: frame.ARPOpReply, PktType: unix.PACKET_HOST,
			SenderMAC: testFarMAC, SenderIP: testFarIP, TargetMAC: testNearMAC, TargetIP: testNearIP}},
		{"gratuitous.hex", arpView{Ifindex: 2, Op: frame.ARPOpRequest, PktType: unix.PACKET_BROADCAST, Gratuitous: true,
			SenderMAC: testFarMAC, SenderIP: testFarIP, TargetIP: testFarIP}},
	} {
		c := readCapture(t, tc.file)
		if len(c.Data) != frame.ARPLen {
			t.Errorf("%s: %d bytes, want %d (veth does not pad)", tc.file, len(c.Data), frame.ARPLen)
			continue
		}
		if v := viewARP(c.Data, &c.LL); v != tc.want {
			t.Errorf("%s: holds\n%+v, want\n%+v", tc.file, v, tc.want)
		}
		var f frame.ARP
		if d := frame.DecodeARP(&f, c.Data, &c.LL); d != frame.DropNone {
			t.Errorf("%s: dropped as %v", tc.file, d)
			continue
		}
		if f != tc.want.arpOf() {
			t.Errorf("%s: decoded\n%+v, want\n%+v", tc.file, f, tc.want.arpOf())
		}
		// Ethernet pads the payload to 46 bytes; the padding is ignored.
		var g frame.ARP
		padded := append(append([]byte(nil), c.Data...), make([]byte, 46-len(c.Data))...)
		if d := frame.DecodeARP(&g, padded, &c.LL); d != frame.DropNone || g != f {
			t.Errorf("%s padded to 46 bytes: %v %+v, want accepted %+v", tc.file, d, g, f)
		}
	}
}

// TestBuildARPProbeMatchesKernel checks the builder byte for byte against
// the request the kernel itself sent in the lab, and against a hand-written
// frame.
func TestBuildARPProbeMatchesKernel(t *testing.T) {
	kernel := readCapture(t, "request.hex")
	var b [frame.ARPLen]byte
	frame.BuildARPProbe(&b, testNearMAC, testNearIP, testFarIP)
	if !bytes.Equal(b[:], kernel.Data) {
		t.Errorf("probe\n% x, the kernel's request\n% x", b[:], kernel.Data)
	}
	want := []byte{
		0x00, 0x01, // Ethernet
		0x08, 0x00, // IPv4
		6, 4, // address lengths
		0x00, 0x01, // request
		0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01, 10, 77, 0, 1, // sender
		0, 0, 0, 0, 0, 0, 10, 77, 0, 2, // target
	}
	if !bytes.Equal(b[:], want) {
		t.Errorf("probe\n% x, want\n% x", b[:], want)
	}
	// The buffer is overwritten completely, whatever it held.
	for i := range b {
		b[i] = 0xa5
	}
	frame.BuildARPProbe(&b, testNearMAC, testNearIP, testFarIP)
	if !bytes.Equal(b[:], want) {
		t.Errorf("probe over a dirty buffer\n% x, want\n% x", b[:], want)
	}
}

// linkEdit edits a frame and its link-layer address for one test case.
type linkEdit func(b []byte, ll *unix.RawSockaddrLinklayer) []byte

// set writes v at offset off of the frame.
func set(off int, v ...byte) linkEdit {
	return func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { copy(b[off:], v); return b }
}

// TestDecodeARPRejects maps each malformed or hostile variant of a captured
// frame to its drop reason, and checks that a rejected frame leaves the
// output untouched.
func TestDecodeARPRejects(t *testing.T) {
	base := readCapture(t, "request.hex")
	cases := []struct {
		name string
		edit linkEdit
		want frame.Drop
	}{
		{"as captured", set(0), frame.DropNone},
		{"padded to 46", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return append(b, make([]byte, 18)...) }, frame.DropNone},
		{"padded with junk", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte {
			return append(b, bytes.Repeat([]byte{0xee}, 100)...)
		}, frame.DropNone},
		{"empty", func([]byte, *unix.RawSockaddrLinklayer) []byte { return nil }, frame.DropShort},
		{"header only", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return b[:8] }, frame.DropShort},
		{"one byte short", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return b[:27] }, frame.DropShort},
		{"hw type IEEE 802", set(0, 0x00, 0x06), frame.DropHWType},
		{"hw type byte-swapped", set(0, 0x01, 0x00), frame.DropHWType},
		{"proto IPv6", set(2, 0x86, 0xdd), frame.DropProto},
		{"proto byte-swapped", set(2, 0x00, 0x08), frame.DropProto},
		{"hln 8", set(4, 8), frame.DropHLen},
		{"hln 0", set(4, 0), frame.DropHLen},
		{"pln 16", set(5, 16), frame.DropPLen},
		{"pln 0", set(5, 0), frame.DropPLen},
		{"op 0", set(6, 0, 0), frame.DropOp},
		{"op RARP request", set(6, 0, 3), frame.DropOp},
		{"op InARP reply", set(6, 0, 9), frame.DropOp},
		{"op byte-swapped", set(6, 1, 0), frame.DropOp},
		{"DAD probe", set(14, 0, 0, 0, 0), frame.DropDAD},
		{"sender 0.1.2.3", set(14, 0, 1, 2, 3), frame.DropSenderIP},
		{"sender loopback", set(14, 127, 0, 0, 1), frame.DropSenderIP},
		{"sender multicast", set(14, 224, 0, 0, 1), frame.DropSenderIP},
		{"sender 239.255.255.255", set(14, 239, 255, 255, 255), frame.DropSenderIP},
		{"sender broadcast", set(14, 255, 255, 255, 255), frame.DropSenderIP},
		{"sender 240.0.0.1", set(14, 240, 0, 0, 1), frame.DropNone},
		{"sender 255.255.255.254", set(14, 255, 255, 255, 254), frame.DropNone},
		{"sender MAC broadcast", set(8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), frame.DropSenderMAC},
		{"sender MAC IPv4 multicast", set(8, 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01), frame.DropSenderMAC},
		{"sender MAC IPv6 multicast", set(8, 0x33, 0x33, 0x00, 0x00, 0x00, 0x01), frame.DropSenderMAC},
		{"sender MAC zero", set(8, 0, 0, 0, 0, 0, 0), frame.DropSenderMAC},
		{"sender MAC locally administered", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte {
			copy(b[8:], []byte{0x02, 0, 0, 0, 0, 0})
			copy(ll.Addr[:], b[8:14])
			return b
		}, frame.DropNone},
		{"Ethernet source not the sender", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Addr[5] ^= 0x40; return b }, frame.DropEthMismatch},
		{"sender MAC not the Ethernet source", set(8, 0x02, 0, 0, 0, 0, 0x66), frame.DropEthMismatch},
		{"sender MAC one bit off", set(13, 0x00), frame.DropEthMismatch},
		{"Ethernet source past halen ignored", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Addr[6], ll.Addr[7] = 0xaa, 0xbb; return b }, frame.DropNone},
		{"bad sender MAC and mismatch", set(8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), frame.DropSenderMAC},
		{"bad sender IP and mismatch", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Addr[0] = 0x0e; b[14] = 127; return b }, frame.DropSenderIP},
		{"target MAC broadcast", set(18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), frame.DropNone},
		{"target IP zero", set(24, 0, 0, 0, 0), frame.DropNone},
		{"outgoing", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_OUTGOING; return b }, frame.DropOutgoing},
		{"loopback pkttype", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_LOOPBACK; return b }, frame.DropOutgoing},
		{"pkttype 255", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = 255; return b }, frame.DropOutgoing},
		{"otherhost", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_OTHERHOST; return b }, frame.DropNone},
		{"multicast pkttype", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_MULTICAST; return b }, frame.DropNone},
		{"outgoing and short", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_OUTGOING; return b[:3] }, frame.DropOutgoing},
		{"loopback interface", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Hatype = unix.ARPHRD_LOOPBACK; return b }, frame.DropLink},
		{"link halen 0", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Halen = 0; return b }, frame.DropLink},
		{"link halen 8", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Halen = 8; return b }, frame.DropLink},
		{"short and bad op", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { b[7] = 9; return b[:20] }, frame.DropShort},
		{"bad hw type and bad op", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { b[1] = 9; b[7] = 9; return b }, frame.DropHWType},
	}
	seen := map[frame.Drop]bool{}
	for _, tc := range cases {
		b := append([]byte(nil), base.Data...)
		ll := base.LL
		b = tc.edit(b, &ll)
		sentinel := frame.ARP{Ifindex: -7, SenderIP: [4]byte{0xbe, 0xef}}
		f := sentinel
		got := frame.DecodeARP(&f, b, &ll)
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if got != frame.DropNone && f != sentinel {
			t.Errorf("%s: rejected frame wrote the output: %+v", tc.name, f)
		}
		if got == frame.DropNone && f != viewARP(b, &ll).arpOf() {
			t.Errorf("%s: accepted as %+v, want %+v", tc.name, f, viewARP(b, &ll).arpOf())
		}
		seen[got] = true
	}
	for d := frame.Drop(0); d < frame.DropCount; d++ {
		if !seen[d] {
			t.Errorf("no test case gives %v", d)
		}
	}
}

// TestDropNames checks that every reason has a distinct, non-empty name
// without spaces, for statistics lines, and that the names are the ones
// scripts read in the daemon's counters.
func TestDropNames(t *testing.T) {
	names := map[string]frame.Drop{}
	for d := frame.Drop(0); d < frame.DropCount; d++ {
		s := d.String()
		if s == "" || strings.ContainsAny(s, " \t\n=") {
			t.Errorf("Drop(%d) has name %q", d, s)
		}
		if o, dup := names[s]; dup {
			t.Errorf("Drop(%d) and Drop(%d) are both %q", o, d, s)
		}
		names[s] = d
	}
	if s := frame.Drop(200).String(); s != "drop(200)" {
		t.Errorf("Drop(200) = %q, want drop(200)", s)
	}
	want := []string{"accepted", "outgoing", "link", "short", "hwtype", "proto",
		"hlen", "plen", "op", "dad", "sender-ip", "sender-mac", "eth-mismatch"}
	if int(frame.DropCount) != len(want) {
		t.Fatalf("DropCount = %d, want %d", frame.DropCount, len(want))
	}
	for i, w := range want {
		if s := frame.Drop(i).String(); s != w {
			t.Errorf("Drop(%d) = %q, want %q", i, s, w)
		}
	}
}

// TestARPNoAllocs checks that decoding and building allocate nothing.
func TestARPNoAllocs(t *testing.T) {
	c := readCapture(t, "reply.hex")
	var f frame.ARP
	if a := testing.AllocsPerRun(1000, func() { frame.DecodeARP(&f, c.Data, &c.LL) }); a != 0 {
		t.Errorf("DecodeARP: %v allocations, want 0", a)
	}
	bad := append([]byte(nil), c.Data...)
	bad[14] = 0 // 0.77.0.2
	if a := testing.AllocsPerRun(1000, func() { frame.DecodeARP(&f, bad, &c.LL) }); a != 0 {
		t.Errorf("DecodeARP (rejecting): %v allocations, want 0", a)
	}
	var b [frame.ARPLen]byte
	if a := testing.AllocsPerRun(1000, func() { frame.BuildARPProbe(&b, testNearMAC, testNearIP, testFarIP) }); a != 0 {
		t.Errorf("BuildARPProbe: %v allocations, want 0", a)
	}
}
