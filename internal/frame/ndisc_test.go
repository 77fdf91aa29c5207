package frame_test

// Unit tests of the neighbour-discovery codec: no root, no sockets. The
// kernel's own messages come from testdata/nd, captured in the lab.

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// readND reads the captured message testdata/nd/name.
func readND(t testing.TB, name string) capture {
	t.Helper()
	return readCaptureIn(t, "nd", protoIPv6, name)
}

// ndCaptures are the captured messages with the verdicts and fields the
// unit tests expect of them (Ifindex as the file says).
var ndCaptures = []struct {
	file    string
	pkttype uint8
	drop    frame.NDDrop
	want    frame.ND
}{
	{"ns.hex", unix.PACKET_MULTICAST, frame.NDDropNone, frame.ND{Type: frame.NDNeighborSolicit, Src: testNearIP6,
		Dst: [16]byte{0xff, 0x02, 11: 1, 12: 0xff, 15: 2}, Target: testFarIP6, LLAddr: testNearMAC, HasLLAddr: true}},
	{"na.hex", unix.PACKET_HOST, frame.NDDropNone, frame.ND{Type: frame.NDNeighborAdvert, Src: testFarIP6, Dst: testNearIP6,
		Target: testFarIP6, LLAddr: testFarMAC, HasLLAddr: true, Solicited: true, Override: true}},
	{"na-unsolicited.hex", unix.PACKET_MULTICAST, frame.NDDropNone, frame.ND{Type: frame.NDNeighborAdvert,
		Src: [16]byte{0xfd, 0x77, 15: 3}, Dst: allNodes, Target: [16]byte{0xfd, 0x77, 15: 3}, LLAddr: testFarMAC,
		HasLLAddr: true, Override: true}},
	{"ns-dad.hex", unix.PACKET_MULTICAST, frame.NDDropDAD, frame.ND{}},
}

// TestDecodeNDCaptured decodes each message the kernel sent in the lab and
// checks the verdict and every field, also with a trailer after it.
func TestDecodeNDCaptured(t *testing.T) {
	for _, tc := range ndCaptures {
		c := readND(t, tc.file)
		if c.LL.Pkttype != tc.pkttype {
			t.Errorf("%s: pkttype %d, want %d", tc.file, c.LL.Pkttype, tc.pkttype)
		}
		want := tc.want
		if tc.drop == frame.NDDropNone {
			want.Ifindex = c.LL.Ifindex
		}
		for _, b := range [][]byte{c.Data, append(bytes.Clone(c.Data), 0, 0, 0, 0)} {
			var f frame.ND
			if d := frame.DecodeND(&f, b, &c.LL); d != tc.drop || f != want {
				t.Errorf("%s (%d bytes): %v\n%+v, want %v\n%+v", tc.file, len(b), d, f, tc.drop, want)
			}
		}
	}
}

// TestBuildNSMatchesKernel checks BuildNS byte for byte against the
// solicitation the kernel itself sent in the lab, and against bytes
// written out by hand, also over a dirty buffer; and that DecodeND
// accepts what it builds.
func TestBuildNSMatchesKernel(t *testing.T) {
	kernel := readND(t, "ns.hex")
	dst, mac := frame.SolicitedNode(testFarIP6)
	var b [frame.NSLen]byte
	frame.BuildNS(&b, testNearMAC, testNearIP6, dst, testFarIP6)
	if !bytes.Equal(b[:], kernel.Data) {
		t.Errorf("NS\n% x, the kernel's\n% x", b[:], kernel.Data)
	}
	want := []byte{
		0x60, 0, 0, 0, 0, 32, 58, 255, // IPv6, payload 32 bytes, ICMPv6, hop limit 255
		0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // fd77::1
		0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2, // ff02::1:ff00:2
		135, 0, 0x72, 0x5c, 0, 0, 0, 0, // NS, code 0, checksum, reserved
		0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // target fd77::2
		1, 1, 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01, // SLLAO
	}
	for i := range b {
		b[i] = 0xa5
	}
	frame.BuildNS(&b, testNearMAC, testNearIP6, dst, testFarIP6)
	if !bytes.Equal(b[:], want) {
		t.Errorf("NS over a dirty buffer\n% x, want\n% x", b[:], want)
	}
	ll := ndLL(unix.PACKET_MULTICAST, testNearMAC)
	var f frame.ND
	if d := frame.DecodeND(&f, b[:], &ll); d != frame.NDDropNone || f != (frame.ND{Ifindex: 2,
		Type: frame.NDNeighborSolicit, Src: testNearIP6, Dst: dst, Target: testFarIP6, LLAddr: testNearMAC, HasLLAddr: true}) {
		t.Errorf("BuildNS output decoded as %v %+v", d, f)
	}
	if mac != [6]byte{0x33, 0x33, 0xff, 0, 0, 2} {
		t.Errorf("solicited-node MAC %x", mac)
	}
}

// TestSolicitedNode checks the group of an address with every low byte
// set, and that the bytes above the low 24 bits do not matter.
func TestSolicitedNode(t *testing.T) {
	a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 8: 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}
	ip, mac := frame.SolicitedNode(a)
	if want := [16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: 0xbc, 14: 0xde, 15: 0xf0}; ip != want {
		t.Errorf("SolicitedNode(%x) = %x, want %x", a, ip, want)
	}
	if want := [6]byte{0x33, 0x33, 0xff, 0xbc, 0xde, 0xf0}; mac != want {
		t.Errorf("SolicitedNode(%x) MAC = %x, want %x", a, mac, want)
	}
	a[12] = 0x77
	if ip2, _ := frame.SolicitedNode(a); ip2 != ip {
		t.Errorf("byte 12 changed the group: %x", ip2)
	}
	if m := frame.MulticastMAC(allNodes); m != [6]byte{0x33, 0x33, 0, 0, 0, 1} {
		t.Errorf("MulticastMAC(ff02::1) = %x", m)
	}
}

// TestICMPv6Checksum checks the checksum against answers computed apart
// from this package: an NS from a link-local address (0x6806, computed by
// hand with a separate program), the kernel's own checksums in the
// captures, and the RFC 1071 reference over messages of every length up
// to 80 bytes, odd ones included.
func TestICMPv6Checksum(t *testing.T) {
	sn, _ := frame.SolicitedNode(testFarIP6)
	msg := []byte{135, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		1, 1, 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	if c := frame.ICMPv6Checksum(testNearLL6, sn, msg); c != 0x6806 {
		t.Errorf("checksum %#04x, want 0x6806", c)
	}
	for _, tc := range ndCaptures {
		c := readND(t, tc.file)
		m := bytes.Clone(c.Data[40:])
		if got := frame.ICMPv6Checksum([16]byte(c.Data[8:]), [16]byte(c.Data[24:]), m); got != 0 {
			t.Errorf("%s: checksum over the kernel's message %#04x, want 0", tc.file, got)
		}
		want := uint16(m[2])<<8 | uint16(m[3])
		m[2], m[3] = 0, 0
		if got := frame.ICMPv6Checksum([16]byte(c.Data[8:]), [16]byte(c.Data[24:]), m); got != want {
			t.Errorf("%s: checksum %#04x, the kernel's %#04x", tc.file, got, want)
		}
	}
	m := make([]byte, 80)
	for i := range m {
		m[i] = byte(i*37 + 11)
	}
	for n := 0; n <= len(m); n++ {
		if got, want := frame.ICMPv6Checksum(testFarIP6, sn, m[:n]), refChecksum(testFarIP6, sn, m[:n]); got != want {
			t.Errorf("%d bytes: %#04x, reference %#04x", n, got, want)
		}
	}
}

// TestNDDropNames checks that every reason has a distinct name without
// spaces, and that the names are the ones the daemon's nd_drop_ counters
// and the scripts reading them use.
func TestNDDropNames(t *testing.T) {
	want := []string{"accepted", "outgoing", "link", "short", "version", "next-header", "length",
		"hop-limit", "type", "code", "checksum", "body", "option", "dad", "source", "target",
		"solicited-mcast", "no-lladdr", "lladdr", "eth-mismatch"}
	if int(frame.NDDropCount) != len(want) {
		t.Fatalf("NDDropCount = %d, want %d", frame.NDDropCount, len(want))
	}
	names := map[string]bool{}
	for i, w := range want {
		s := frame.NDDrop(i).String()
		if s != w {
			t.Errorf("NDDrop(%d) = %q, want %q", i, s, w)
		}
		if s == "" || strings.ContainsAny(s, " \t\n=_") || names[s] {
			t.Errorf("NDDrop(%d) has name %q: empty, spaced, underscored or a duplicate", i, s)
		}
		names[s] = true
	}
	if s := frame.NDDrop(200).String(); s != "nd-drop(200)" {
		t.Errorf("NDDrop(200) = %q, want nd-drop(200)", s)
	}
}

// TestNDNoAllocs checks that decoding, accepting or rejecting, and
// building allocate nothing.
func TestNDNoAllocs(t *testing.T) {
	ra, rall := baseRA()
	na := readND(t, "na.hex")
	bad := bytes.Clone(na.Data)
	bad[50] ^= 1 // the checksum no longer matches
	var f frame.ND
	for _, tc := range []struct {
		name string
		b    []byte
		ll   *unix.RawSockaddrLinklayer
		want frame.NDDrop
	}{{"NA", na.Data, &na.LL, frame.NDDropNone}, {"RA", ra, &rall, frame.NDDropNone}, {"bad checksum", bad, &na.LL, frame.NDDropChecksum}} {
		var d frame.NDDrop
		if a := testing.AllocsPerRun(1000, func() { d = frame.DecodeND(&f, tc.b, tc.ll) }); a != 0 || d != tc.want {
			t.Errorf("DecodeND (%s): %v allocations, %v; want 0, %v", tc.name, a, d, tc.want)
		}
	}
	var b [frame.NSLen]byte
	if a := testing.AllocsPerRun(1000, func() {
		dst, _ := frame.SolicitedNode(testFarIP6)
		frame.BuildNS(&b, testNearMAC, testNearLL6, dst, testFarIP6)
	}); a != 0 {
		t.Errorf("BuildNS: %v allocations, want 0", a)
	}
}

// BenchmarkDecodeND decodes the far kernel's captured NA.
func BenchmarkDecodeND(b *testing.B) {
	c := readND(b, "na.hex")
	var f frame.ND
	b.ReportAllocs()
	b.SetBytes(int64(len(c.Data)))
	for i := 0; i < b.N; i++ {
		if frame.DecodeND(&f, c.Data, &c.LL) != frame.NDDropNone {
			b.Fatal("dropped")
		}
	}
}
