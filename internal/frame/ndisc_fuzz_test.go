package frame_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// FuzzDecodeND feeds arbitrary packets and link-layer fields to DecodeND.
// The seed corpus is the kernel's captured messages and every case of
// TestDecodeNDRejects, so it runs as an ordinary test. Properties: no
// panic; the verdict is a known reason; a rejected message leaves the
// output alone; an accepted one satisfies every acceptance rule, checked
// apart from the decoder, and holds what the bytes say; and an NS built
// from an accepted message's fields decodes to the same fields.
func FuzzDecodeND(f *testing.F) {
	add := func(b []byte, ll unix.RawSockaddrLinklayer) {
		f.Add(b, ll.Ifindex, ll.Hatype, ll.Pkttype, ll.Halen, append([]byte(nil), ll.Addr[:min(int(ll.Halen), 8)]...))
	}
	for _, tc := range ndCaptures {
		c := readND(f, tc.file)
		add(c.Data, c.LL)
	}
	for _, tc := range ndCases() {
		add(tc.build())
	}
	f.Fuzz(func(t *testing.T, data []byte, ifindex int32, hatype uint16, pkttype, halen uint8, src []byte) {
		ll := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: protoIPv6,
			Ifindex: ifindex, Hatype: hatype, Pkttype: pkttype, Halen: halen}
		copy(ll.Addr[:], src)
		sentinel := frame.ND{Ifindex: -7, Type: 99}
		nd := sentinel
		d := frame.DecodeND(&nd, data, &ll)
		if d >= frame.NDDropCount {
			t.Fatalf("unknown verdict %d", d)
		}
		if d != frame.NDDropNone {
			if nd != sentinel {
				t.Fatalf("rejected (%v) but wrote %+v", d, nd)
			}
			return
		}
		checkNDAccepted(t, &nd, data, &ll)
		checkNSRoundTrip(t, &nd, &ll)
	})
}

// checkNDAccepted checks the acceptance rules on a message DecodeND
// accepted, apart from the decoder, and the fields it decoded.
func checkNDAccepted(t *testing.T, nd *frame.ND, b []byte, ll *unix.RawSockaddrLinklayer) {
	t.Helper()
	switch ll.Pkttype {
	case unix.PACKET_HOST, unix.PACKET_BROADCAST, unix.PACKET_MULTICAST, unix.PACKET_OTHERHOST:
	default:
		t.Fatalf("accepted pkttype %d", ll.Pkttype)
	}
	if ll.Hatype != unix.ARPHRD_ETHER || ll.Halen != 6 || len(b) < 40+16 {
		t.Fatalf("accepted link %d/%d, %d bytes", ll.Hatype, ll.Halen, len(b))
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	switch {
	case b[0]>>4 != 6 || b[6] != 58 || b[7] != 255:
		t.Fatalf("accepted header % x", b[:8])
	case 40+plen > len(b):
		t.Fatalf("accepted payload length %d of %d bytes", plen, len(b))
	case refChecksum([16]byte(b[8:]), [16]byte(b[24:]), b[40:40+plen]) != 0:
		t.Fatalf("accepted a bad checksum: % x", b)
	case b[41] != 0 || b[40] < 134 || b[40] > 136:
		t.Fatalf("accepted type %d code %d", b[40], b[41])
	case !nd.HasLLAddr || nd.LLAddr[0]&1 != 0 || nd.LLAddr == [6]byte{} || !bytes.Equal(nd.LLAddr[:], ll.Addr[:6]):
		t.Fatalf("accepted link-layer address %x from %x", nd.LLAddr, ll.Addr[:6])
	case nd.Src[0] == 0xff || nd.Src == [16]byte{} || nd.Type == frame.NDRouterAdvert && (nd.Src[0] != 0xfe || nd.Src[1]&0xc0 != 0x80):
		t.Fatalf("accepted source %x", nd.Src)
	case nd.Type != frame.NDRouterAdvert && (nd.Target[0] == 0xff || nd.Target == [16]byte{}):
		t.Fatalf("accepted target %x", nd.Target)
	case nd.Solicited && nd.Dst[0] == 0xff:
		t.Fatalf("accepted a solicited NA to %x", nd.Dst)
	}
	if v := viewND(b, ll); v != *nd {
		t.Fatalf("decoded\n%+v, the bytes hold\n%+v", nd, v)
	}
}

// checkNSRoundTrip checks that an NS from an accepted message's source,
// link-layer address and target decodes to those.
func checkNSRoundTrip(t *testing.T, nd *frame.ND, ll *unix.RawSockaddrLinklayer) {
	t.Helper()
	target := nd.Target
	if nd.Type == frame.NDRouterAdvert {
		target = nd.Src
	}
	dst, _ := frame.SolicitedNode(target)
	var b [frame.NSLen]byte
	frame.BuildNS(&b, nd.LLAddr, nd.Src, dst, target)
	var p frame.ND
	if d := frame.DecodeND(&p, b[:], ll); d != frame.NDDropNone {
		t.Fatalf("NS built from %+v dropped as %v", nd, d)
	}
	want := frame.ND{Ifindex: nd.Ifindex, Type: frame.NDNeighborSolicit, Src: nd.Src, Dst: dst,
		Target: target, LLAddr: nd.LLAddr, HasLLAddr: true}
	if p != want {
		t.Fatalf("NS decoded as %+v, want %+v", p, want)
	}
}
