package main

// Unit tests of the ARP decoder and probe builder: no root, no sockets.
// The frames come from testdata/packet, captured from the kernel in the lab
// by TestPacketCapture.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pktCapture is one frame read from testdata/packet.
type pktCapture struct {
	Name string
	Data []byte
	LL   unix.RawSockaddrLinklayer
}

// pktReadCapture reads testdata/packet/name: "#" comment lines, one line
// "sll ifindex=N hatype=N pkttype=N halen=N", then the frame in hex.
func pktReadCapture(t testing.TB, name string) pktCapture {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "packet", name))
	if err != nil {
		t.Fatal(err)
	}
	c := pktCapture{Name: name}
	var sll bool
	var hx strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "sll "):
			var idx int32
			var hatype uint16
			var pkttype, halen uint8
			if _, err := fmt.Sscanf(line, "sll ifindex=%d hatype=%d pkttype=%d halen=%d", &idx, &hatype, &pkttype, &halen); err != nil {
				t.Fatalf("%s: bad sll line %q: %v", name, line, err)
			}
			c.LL = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: pktHtons(unix.ETH_P_ARP),
				Ifindex: idx, Hatype: hatype, Pkttype: pkttype, Halen: halen}
			sll = true
		default:
			hx.WriteString(strings.ReplaceAll(line, " ", ""))
		}
	}
	if !sll {
		t.Fatalf("%s: no sll line", name)
	}
	if c.Data, err = hex.DecodeString(hx.String()); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

var (
	pktTestNearMAC = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	pktTestFarMAC  = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02}
	pktTestNearIP  = [4]byte{10, 77, 0, 1}
	pktTestFarIP   = [4]byte{10, 77, 0, 2}
)

// TestARPDecodeCaptured decodes each captured frame and checks every field.
func TestARPDecodeCaptured(t *testing.T) {
	for _, tc := range []struct {
		file string
		want arpFrame
	}{
		{"request.hex", arpFrame{Ifindex: 2, Op: arpOpRequest, PktType: unix.PACKET_BROADCAST,
			SenderMAC: pktTestNearMAC, SenderIP: pktTestNearIP, TargetIP: pktTestFarIP}},
		{"reply.hex", arpFrame{Ifindex: 2, Op: arpOpReply, PktType: unix.PACKET_HOST,
			SenderMAC: pktTestFarMAC, SenderIP: pktTestFarIP, TargetMAC: pktTestNearMAC, TargetIP: pktTestNearIP}},
		{"gratuitous.hex", arpFrame{Ifindex: 2, Op: arpOpRequest, PktType: unix.PACKET_BROADCAST, Gratuitous: true,
			SenderMAC: pktTestFarMAC, SenderIP: pktTestFarIP, TargetIP: pktTestFarIP}},
	} {
		c := pktReadCapture(t, tc.file)
		if len(c.Data) != arpLen {
			t.Errorf("%s: %d bytes, want %d (veth does not pad)", tc.file, len(c.Data), arpLen)
		}
		var f arpFrame
		if d := arpDecode(&f, c.Data, &c.LL); d != arpDropNone {
			t.Errorf("%s: dropped as %v", tc.file, d)
			continue
		}
		if f != tc.want {
			t.Errorf("%s: decoded\n%+v, want\n%+v", tc.file, f, tc.want)
		}
		// Ethernet pads the payload to 46 bytes; the padding is ignored.
		var g arpFrame
		padded := append(append([]byte(nil), c.Data...), make([]byte, 46-len(c.Data))...)
		if d := arpDecode(&g, padded, &c.LL); d != arpDropNone || g != f {
			t.Errorf("%s padded to 46 bytes: %v %+v, want accepted %+v", tc.file, d, g, f)
		}
	}
}

// TestARPBuildProbeMatchesKernel checks the builder byte for byte against the
// request the kernel itself sent in the lab, and against a hand-written
// frame.
func TestARPBuildProbeMatchesKernel(t *testing.T) {
	kernel := pktReadCapture(t, "request.hex")
	var b [arpLen]byte
	arpBuildProbe(&b, pktTestNearMAC, pktTestNearIP, pktTestFarIP)
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
	arpBuildProbe(&b, pktTestNearMAC, pktTestNearIP, pktTestFarIP)
	if !bytes.Equal(b[:], want) {
		t.Errorf("probe over a dirty buffer\n% x, want\n% x", b[:], want)
	}
}

// TestARPDecodeRejects maps each malformed or hostile variant of a captured
// frame to its drop reason, and checks that a rejected frame leaves the
// output untouched.
func TestARPDecodeRejects(t *testing.T) {
	base := pktReadCapture(t, "request.hex")
	type variant struct {
		name string
		edit func(b []byte, ll *unix.RawSockaddrLinklayer) []byte
		want arpDrop
	}
	set := func(off int, v ...byte) func([]byte, *unix.RawSockaddrLinklayer) []byte {
		return func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { copy(b[off:], v); return b }
	}
	cases := []variant{
		{"as captured", set(0), arpDropNone},
		{"padded to 46", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return append(b, make([]byte, 18)...) }, arpDropNone},
		{"padded with junk", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte {
			return append(b, bytes.Repeat([]byte{0xee}, 100)...)
		}, arpDropNone},
		{"empty", func([]byte, *unix.RawSockaddrLinklayer) []byte { return nil }, arpDropShort},
		{"header only", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return b[:8] }, arpDropShort},
		{"one byte short", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return b[:27] }, arpDropShort},
		{"hw type IEEE 802", set(0, 0x00, 0x06), arpDropHWType},
		{"hw type byte-swapped", set(0, 0x01, 0x00), arpDropHWType},
		{"proto IPv6", set(2, 0x86, 0xdd), arpDropProto},
		{"proto byte-swapped", set(2, 0x00, 0x08), arpDropProto},
		{"hln 8", set(4, 8), arpDropHLen},
		{"hln 0", set(4, 0), arpDropHLen},
		{"pln 16", set(5, 16), arpDropPLen},
		{"pln 0", set(5, 0), arpDropPLen},
		{"op 0", set(6, 0, 0), arpDropOp},
		{"op RARP request", set(6, 0, 3), arpDropOp},
		{"op InARP reply", set(6, 0, 9), arpDropOp},
		{"op byte-swapped", set(6, 1, 0), arpDropOp},
		{"DAD probe", set(14, 0, 0, 0, 0), arpDropDAD},
		{"sender 0.1.2.3", set(14, 0, 1, 2, 3), arpDropSenderIP},
		{"sender loopback", set(14, 127, 0, 0, 1), arpDropSenderIP},
		{"sender multicast", set(14, 224, 0, 0, 1), arpDropSenderIP},
		{"sender 239.255.255.255", set(14, 239, 255, 255, 255), arpDropSenderIP},
		{"sender broadcast", set(14, 255, 255, 255, 255), arpDropSenderIP},
		{"sender 240.0.0.1", set(14, 240, 0, 0, 1), arpDropNone},
		{"sender 255.255.255.254", set(14, 255, 255, 255, 254), arpDropNone},
		{"sender MAC broadcast", set(8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), arpDropSenderMAC},
		{"sender MAC IPv4 multicast", set(8, 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01), arpDropSenderMAC},
		{"sender MAC IPv6 multicast", set(8, 0x33, 0x33, 0x00, 0x00, 0x00, 0x01), arpDropSenderMAC},
		{"sender MAC zero", set(8, 0, 0, 0, 0, 0, 0), arpDropSenderMAC},
		{"sender MAC locally administered", set(8, 0x02, 0, 0, 0, 0, 0), arpDropNone},
		{"target MAC broadcast", set(18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), arpDropNone},
		{"target IP zero", set(24, 0, 0, 0, 0), arpDropNone},
		{"outgoing", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_OUTGOING; return b }, arpDropOutgoing},
		{"loopback pkttype", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_LOOPBACK; return b }, arpDropOutgoing},
		{"pkttype 255", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = 255; return b }, arpDropOutgoing},
		{"otherhost", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_OTHERHOST; return b }, arpDropNone},
		{"multicast pkttype", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_MULTICAST; return b }, arpDropNone},
		{"outgoing and short", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Pkttype = unix.PACKET_OUTGOING; return b[:3] }, arpDropOutgoing},
		{"loopback interface", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Hatype = unix.ARPHRD_LOOPBACK; return b }, arpDropLink},
		{"link halen 0", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Halen = 0; return b }, arpDropLink},
		{"link halen 8", func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { ll.Halen = 8; return b }, arpDropLink},
		{"short and bad op", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { b[7] = 9; return b[:20] }, arpDropShort},
		{"bad hw type and bad op", func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { b[1] = 9; b[7] = 9; return b }, arpDropHWType},
	}
	seen := map[arpDrop]bool{}
	for _, tc := range cases {
		b := append([]byte(nil), base.Data...)
		ll := base.LL
		b = tc.edit(b, &ll)
		sentinel := arpFrame{Ifindex: -7, Op: 0xbeef}
		f := sentinel
		got := arpDecode(&f, b, &ll)
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if got != arpDropNone && f != sentinel {
			t.Errorf("%s: rejected frame wrote the output: %+v", tc.name, f)
		}
		if got == arpDropNone && (f.Ifindex != ll.Ifindex || f.PktType != ll.Pkttype) {
			t.Errorf("%s: accepted with link fields %+v, want ifindex %d pkttype %d", tc.name, f, ll.Ifindex, ll.Pkttype)
		}
		seen[got] = true
	}
	for d := arpDrop(0); d < arpDropCount; d++ {
		if !seen[d] {
			t.Errorf("no test case gives %v", d)
		}
	}
}

// TestARPDropNames checks that every reason has a distinct, non-empty name
// without spaces, for statistics lines.
func TestARPDropNames(t *testing.T) {
	names := map[string]arpDrop{}
	for d := arpDrop(0); d < arpDropCount; d++ {
		s := d.String()
		if s == "" || strings.ContainsAny(s, " \t\n=") {
			t.Errorf("arpDrop(%d) has name %q", d, s)
		}
		if o, dup := names[s]; dup {
			t.Errorf("arpDrop(%d) and arpDrop(%d) are both %q", o, d, s)
		}
		names[s] = d
	}
	if s := arpDrop(200).String(); s != "drop(200)" {
		t.Errorf("arpDrop(200) = %q, want drop(200)", s)
	}
}

// TestARPNoAllocs checks that decoding and building allocate nothing.
func TestARPNoAllocs(t *testing.T) {
	c := pktReadCapture(t, "reply.hex")
	var f arpFrame
	if a := testing.AllocsPerRun(1000, func() { arpDecode(&f, c.Data, &c.LL) }); a != 0 {
		t.Errorf("arpDecode: %v allocations, want 0", a)
	}
	bad := append([]byte(nil), c.Data...)
	bad[14] = 0 // 0.77.0.2
	if a := testing.AllocsPerRun(1000, func() { arpDecode(&f, bad, &c.LL) }); a != 0 {
		t.Errorf("arpDecode (rejecting): %v allocations, want 0", a)
	}
	var b [arpLen]byte
	if a := testing.AllocsPerRun(1000, func() { arpBuildProbe(&b, pktTestNearMAC, pktTestNearIP, pktTestFarIP) }); a != 0 {
		t.Errorf("arpBuildProbe: %v allocations, want 0", a)
	}
}

// TestPktHtons checks the byte-order helper on whatever host runs it.
func TestPktHtons(t *testing.T) {
	v := pktHtons(unix.ETH_P_ARP)
	b := (*[2]byte)(unsafe.Pointer(&v))
	if b[0] != 0x08 || b[1] != 0x06 {
		t.Errorf("pktHtons(0x0806) is % x in memory, want 08 06", b[:])
	}
}

// FuzzARPFrame feeds arbitrary payloads and link-layer fields to arpDecode.
// The seed corpus is the captured frames and malformed variants of them, so
// it runs as an ordinary test. Properties: no panic; the verdict is a known
// reason; an accepted frame satisfies every acceptance rule; a rejected one
// leaves the output alone; a probe built from an accepted frame's fields,
// and a frame re-encoded from all of them, decode to the same fields.
func FuzzARPFrame(f *testing.F) {
	for _, name := range []string{"request.hex", "reply.hex", "gratuitous.hex"} {
		c := pktReadCapture(f, name)
		add := func(b []byte, ll unix.RawSockaddrLinklayer) {
			f.Add(b, ll.Ifindex, ll.Hatype, ll.Pkttype, ll.Halen)
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
	}
	f.Fuzz(func(t *testing.T, data []byte, ifindex int32, hatype uint16, pkttype, halen uint8) {
		ll := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: pktHtons(unix.ETH_P_ARP),
			Ifindex: ifindex, Hatype: hatype, Pkttype: pkttype, Halen: halen}
		sentinel := arpFrame{Ifindex: -7, Op: 0xbeef}
		fr := sentinel
		d := arpDecode(&fr, data, &ll)
		if d >= arpDropCount {
			t.Fatalf("unknown verdict %d", d)
		}
		if d != arpDropNone {
			if fr != sentinel {
				t.Fatalf("rejected (%v) but wrote %+v", d, fr)
			}
			return
		}
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
		}
		if fr.Ifindex != ifindex || fr.PktType != pkttype || uint16(data[7]) != fr.Op ||
			!bytes.Equal(fr.SenderMAC[:], data[8:14]) || !bytes.Equal(fr.SenderIP[:], data[14:18]) ||
			!bytes.Equal(fr.TargetMAC[:], data[18:24]) || !bytes.Equal(fr.TargetIP[:], data[24:28]) ||
			fr.Gratuitous != (fr.SenderIP == fr.TargetIP) {
			t.Fatalf("decoded %+v from % x", fr, data)
		}

		// Re-encoding every field gives the first 28 bytes back.
		var b [arpLen]byte
		arpEncode(&b, fr.Op, fr.SenderMAC, fr.SenderIP, fr.TargetMAC, fr.TargetIP)
		if !bytes.Equal(b[:], data[:arpLen]) {
			t.Fatalf("re-encoded\n% x, was\n% x", b[:], data[:arpLen])
		}
		// A probe from the sender to the target decodes to those fields.
		arpBuildProbe(&b, fr.SenderMAC, fr.SenderIP, fr.TargetIP)
		var p arpFrame
		if d := arpDecode(&p, b[:], &ll); d != arpDropNone {
			t.Fatalf("probe built from %+v dropped as %v", fr, d)
		}
		want := fr
		want.Op, want.TargetMAC = arpOpRequest, [6]byte{}
		if p != want {
			t.Fatalf("probe decoded as %+v, want %+v", p, want)
		}
	})
}

// Benchmark sinks: results go to package variables so that the compiler
// cannot drop the work being measured.
var (
	pktBenchFrame arpFrame
	pktBenchProbe [arpLen]byte
	pktBenchDrop  arpDrop
)

// BenchmarkARPDecode decodes one captured reply.
func BenchmarkARPDecode(b *testing.B) {
	c := pktReadCapture(b, "reply.hex")
	b.ReportAllocs()
	b.SetBytes(int64(len(c.Data)))
	for i := 0; i < b.N; i++ {
		pktBenchDrop |= arpDecode(&pktBenchFrame, c.Data, &c.LL)
	}
	if pktBenchDrop != arpDropNone {
		b.Fatal("dropped")
	}
}

// BenchmarkARPBuildProbe builds one probe into a fixed buffer, a different
// target each time.
func BenchmarkARPBuildProbe(b *testing.B) {
	target := pktTestFarIP
	b.ReportAllocs()
	b.SetBytes(arpLen)
	for i := 0; i < b.N; i++ {
		target[3] = byte(i)
		arpBuildProbe(&pktBenchProbe, pktTestNearMAC, pktTestNearIP, target)
	}
}
