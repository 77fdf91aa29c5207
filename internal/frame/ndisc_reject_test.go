package frame_test

// The table of neighbour-discovery messages made from a valid one by one
// mutation, each with the verdict DecodeND must give.

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// ndCase is one test message: a base message, an edit of it and of its
// link-layer address, and the verdict. After the edit the checksum is
// recomputed, unless keepSum says not to.
type ndCase struct {
	name    string
	base    func() ([]byte, unix.RawSockaddrLinklayer)
	edit    linkEdit
	keepSum bool
	want    frame.NDDrop
}

// build returns the case's message and link-layer address.
func (tc ndCase) build() ([]byte, unix.RawSockaddrLinklayer) {
	b, ll := tc.base()
	b = tc.edit(b, &ll)
	if !tc.keepSum {
		fixChecksum(b)
	}
	return b, ll
}

// ll edits the link-layer address only.
func ll(fn func(ll *unix.RawSockaddrLinklayer)) linkEdit {
	return func(b []byte, ll *unix.RawSockaddrLinklayer) []byte { fn(ll); return b }
}

// cut keeps the first n bytes of the message.
func cut(n int) linkEdit {
	return func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return b[:n] }
}

// plen sets the payload length to the message's own length plus d, and
// cuts or extends the bytes to match when match is set.
func plen(d int, match bool) linkEdit {
	return func(b []byte, _ *unix.RawSockaddrLinklayer) []byte {
		n := len(b) - 40 + d
		b[4], b[5] = byte(n>>8), byte(n)
		if match && d < 0 {
			return b[:40+n]
		}
		if match && d > 0 {
			return append(b, make([]byte, d)...)
		}
		return b
	}
}

// appendBytes appends v to the message and counts it in the payload
// length, as an option would be.
func appendBytes(v ...byte) linkEdit {
	return func(b []byte, _ *unix.RawSockaddrLinklayer) []byte {
		b = append(b, v...)
		n := len(b) - 40
		b[4], b[5] = byte(n>>8), byte(n)
		return b
	}
}

// edits applies several edits in turn.
func edits(es ...linkEdit) linkEdit {
	return func(b []byte, ll *unix.RawSockaddrLinklayer) []byte {
		for _, e := range es {
			b = e(b, ll)
		}
		return b
	}
}

var (
	macBcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macOther = []byte{0x02, 0, 0, 0, 0, 0x66}
)

// ndCases are the table of TestDecodeNDRejects, also the fuzz seeds.
func ndCases() []ndCase {
	ns, na, ra := baseNS, baseNA, baseRA
	c := []ndCase{
		{"NS as built", ns, set(0), false, frame.NDDropNone},
		{"NA as built", na, set(0), false, frame.NDDropNone},
		{"RA as built", ra, set(0), false, frame.NDDropNone},
		{"NS trailer past the payload length", ns, func(b []byte, _ *unix.RawSockaddrLinklayer) []byte { return append(b, 0xde, 0xad, 0xbe, 0xef) }, true, frame.NDDropNone},
		{"NA flags R", na, set(offFlags, 0xe0), false, frame.NDDropNone},
		{"NA unsolicited to all nodes", na, set(offFlags, 0x20, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x02), false, frame.NDDropNone},
		{"NA from another address than the target", na, set(offSrc+15, 9), false, frame.NDDropNone},
		{"NS unicast", ns, set(offDst, testNearIP6[:]...), false, frame.NDDropNone},
		{"NS unknown option first", ns, func(b []byte, _ *unix.RawSockaddrLinklayer) []byte {
			b = appendBytes(0, 0, 0, 0, 0, 0, 0, 0)(b, nil)
			copy(b[offNSOpt+8:], b[offNSOpt:offNSOpt+8])
			copy(b[offNSOpt:], []byte{99, 1, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee})
			return b
		}, false, frame.NDDropNone},
		{"NS second SLLAO ignored", ns, appendBytes(1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), false, frame.NDDropNone},
		{"NS SLLAO locally administered", ns, func(b []byte, ll *unix.RawSockaddrLinklayer) []byte {
			copy(b[offNSOpt+2:], macOther)
			copy(ll.Addr[:], macOther)
			return b
		}, false, frame.NDDropNone},
		{"RA from fe80::/10's top", ra, set(offSrc, 0xfe, 0xbf), false, frame.NDDropNone},
		{"RA with R flags", ra, set(45, 0xc0), false, frame.NDDropNone},
		{"otherhost", ns, ll(func(ll *unix.RawSockaddrLinklayer) { ll.Pkttype = unix.PACKET_OTHERHOST }), false, frame.NDDropNone},

		{"outgoing", ns, ll(func(ll *unix.RawSockaddrLinklayer) { ll.Pkttype = unix.PACKET_OUTGOING }), false, frame.NDDropOutgoing},
		{"loopback pkttype", na, ll(func(ll *unix.RawSockaddrLinklayer) { ll.Pkttype = unix.PACKET_LOOPBACK }), false, frame.NDDropOutgoing},
		{"outgoing and short", ns, edits(cut(3), ll(func(ll *unix.RawSockaddrLinklayer) { ll.Pkttype = unix.PACKET_OUTGOING })), false, frame.NDDropOutgoing},
		{"loopback interface", ns, ll(func(ll *unix.RawSockaddrLinklayer) { ll.Hatype = unix.ARPHRD_LOOPBACK }), false, frame.NDDropLink},
		{"link halen 0", ra, ll(func(ll *unix.RawSockaddrLinklayer) { ll.Halen = 0 }), false, frame.NDDropLink},
		{"empty", ns, cut(0), false, frame.NDDropShort},
		{"IPv6 header only", ns, cut(40), false, frame.NDDropShort},
		{"43 bytes", ns, cut(43), false, frame.NDDropShort},
		{"version 4", ns, set(0, 0x45), false, frame.NDDropVersion},
		{"version 0", na, set(0, 0x06), false, frame.NDDropVersion},
		{"hop-by-hop header", ns, set(offNext, 0), false, frame.NDDropNextHeader},
		{"UDP", na, set(offNext, 17), false, frame.NDDropNextHeader},
		{"payload length one more", ns, plen(1, false), true, frame.NDDropLength},
		{"last byte missing", ns, cut(71), true, frame.NDDropLength},
		{"payload length 3", ns, plen(3-32, false), true, frame.NDDropLength},
		{"payload length 0 (jumbo)", ra, plen(-56, false), true, frame.NDDropLength},
		{"hop limit 254", ns, set(offHop, 254), false, frame.NDDropHopLimit},
		{"hop limit 64", na, set(offHop, 64), false, frame.NDDropHopLimit},
		{"hop limit 1", ra, set(offHop, 1), false, frame.NDDropHopLimit},
		{"router solicitation", ns, set(offType, 133), false, frame.NDDropType},
		{"redirect", na, set(offType, 137), false, frame.NDDropType},
		{"echo request", ns, set(offType, 128), false, frame.NDDropType},
		{"code 1", ns, set(offCode, 1), false, frame.NDDropCode},
		{"code 255", ra, set(offCode, 255), false, frame.NDDropCode},
		{"checksum zero", ns, set(offCsum, 0, 0), true, frame.NDDropChecksum},
		{"target changed after checksum", ns, set(offTarget+15, 7), true, frame.NDDropChecksum},
		{"flags changed after checksum", na, set(offFlags, 0xe0), true, frame.NDDropChecksum},
		{"checksum over a shorter payload length", ns, plen(-8, false), true, frame.NDDropChecksum},
		{"NS body 20 bytes", ns, plen(-12, true), false, frame.NDDropBody},
		{"NA body 23 bytes", na, plen(-9, true), false, frame.NDDropBody},
		{"RA body 12 bytes", ra, plen(-44, true), false, frame.NDDropBody},
		{"option length 0", ns, set(offNSOpt+1, 0), false, frame.NDDropOption},
		{"option past the end", ns, set(offNSOpt+1, 2), false, frame.NDDropOption},
		{"one byte after the options", na, appendBytes(2), false, frame.NDDropOption},
		{"seven bytes after the options", ns, appendBytes(1, 1, 2, 3, 4, 5, 6), false, frame.NDDropOption},
		{"RA prefix option length 0", ra, set(offRAOpt+1, 0), false, frame.NDDropOption},
		{"DAD", ns, set(offSrc, make([]byte, 16)...), false, frame.NDDropDAD},
		{"DAD with a bad option", ns, edits(set(offSrc, make([]byte, 16)...), set(offNSOpt+1, 0)), false, frame.NDDropOption},
		{"NS from a multicast source", ns, set(offSrc, allNodes[:]...), false, frame.NDDropSource},
		{"NS from its own target", ns, set(offSrc, testNearIP6[:]...), false, frame.NDDropNone},
		{"NS from ::1", ns, set(offSrc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), false, frame.NDDropSource},
		{"NA from ::", na, set(offSrc, make([]byte, 16)...), false, frame.NDDropSource},
		{"NA from IPv4-mapped", na, set(offSrc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1), false, frame.NDDropSource},
		{"RA from a global address", ra, set(offSrc, testFarIP6[:]...), false, frame.NDDropSource},
		{"RA from fec0::", ra, set(offSrc, 0xfe, 0xc0), false, frame.NDDropSource},
		{"source and target multicast", ns, edits(set(offSrc, allNodes[:]...), set(offTarget, allNodes[:]...)), false, frame.NDDropSource},
		{"NS target multicast", ns, set(offTarget, allNodes[:]...), false, frame.NDDropTarget},
		{"NS target ::", ns, set(offTarget, make([]byte, 16)...), false, frame.NDDropTarget},
		{"NA target ::1", na, set(offTarget, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), false, frame.NDDropTarget},
		{"solicited NA to all nodes", na, set(offDst, allNodes[:]...), false, frame.NDDropSolicitedMcast},
		{"solicited NA to all nodes, no TLLAO", na, edits(set(offDst, allNodes[:]...), plen(-8, true)), false, frame.NDDropSolicitedMcast},
		{"NS without options", ns, plen(-8, true), false, frame.NDDropNoLLAddr},
		{"NS with a TLLAO", ns, set(offNSOpt, 2), false, frame.NDDropNoLLAddr},
		{"NA with an SLLAO", na, set(offNSOpt, 1), false, frame.NDDropNoLLAddr},
		{"RA with a prefix only", ra, plen(-8, true), false, frame.NDDropNoLLAddr},
		{"NS SLLAO 16 bytes", ns, edits(appendBytes(0, 0, 0, 0, 0, 0, 0, 0), set(offNSOpt+1, 2)), false, frame.NDDropLLAddr},
		{"NS SLLAO broadcast", ns, set(offNSOpt+2, macBcast...), false, frame.NDDropLLAddr},
		{"NA TLLAO IPv6 multicast", na, set(offNSOpt+2, 0x33, 0x33, 0, 0, 0, 1), false, frame.NDDropLLAddr},
		{"RA SLLAO zero", ra, set(offRAOpt+32+2, 0, 0, 0, 0, 0, 0), false, frame.NDDropLLAddr},
		{"lladdr broadcast from broadcast", ns, edits(set(offNSOpt+2, macBcast...), ll(func(ll *unix.RawSockaddrLinklayer) { copy(ll.Addr[:], macBcast) })), false, frame.NDDropLLAddr},
		{"NS SLLAO not the Ethernet source", ns, set(offNSOpt+2, macOther...), false, frame.NDDropEthMismatch},
		{"NA Ethernet source not the TLLAO", na, ll(func(ll *unix.RawSockaddrLinklayer) { ll.Addr[5] ^= 0x40 }), false, frame.NDDropEthMismatch},
		{"RA SLLAO one bit off", ra, set(offRAOpt+32+7, 0x03), false, frame.NDDropEthMismatch},
		{"NS second SLLAO matches, first not", ns, edits(set(offNSOpt+2, macOther...), appendBytes(llOpt(1, testFarMAC)...)), false, frame.NDDropEthMismatch},
	}
	return c
}

// TestDecodeNDRejects maps each variant of a valid message to its verdict,
// checks that a rejected message leaves the output untouched and that an
// accepted one holds what the bytes say, and that every reason is reached.
func TestDecodeNDRejects(t *testing.T) {
	seen := map[frame.NDDrop]bool{}
	for _, tc := range ndCases() {
		b, ll := tc.build()
		sentinel := frame.ND{Ifindex: -7, Type: 99}
		f := sentinel
		got := frame.DecodeND(&f, b, &ll)
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if got != frame.NDDropNone && f != sentinel {
			t.Errorf("%s: rejected message wrote the output: %+v", tc.name, f)
		}
		if got == frame.NDDropNone && f != viewND(b, &ll) {
			t.Errorf("%s: accepted as\n%+v, want\n%+v", tc.name, f, viewND(b, &ll))
		}
		seen[got] = true
	}
	for d := frame.NDDrop(0); d < frame.NDDropCount; d++ {
		if !seen[d] {
			t.Errorf("no test case gives %v", d)
		}
	}
}

// TestDecodeNDFields checks the decoded fields of the three base messages
// against values written out, not read from the bytes.
func TestDecodeNDFields(t *testing.T) {
	sn, _ := frame.SolicitedNode(testNearIP6)
	for _, tc := range []struct {
		name string
		base func() ([]byte, unix.RawSockaddrLinklayer)
		want frame.ND
	}{
		{"NS", baseNS, frame.ND{Ifindex: 2, Type: frame.NDNeighborSolicit, Src: testFarIP6, Dst: sn,
			Target: testNearIP6, LLAddr: testFarMAC, HasLLAddr: true}},
		{"NA", baseNA, frame.ND{Ifindex: 2, Type: frame.NDNeighborAdvert, Src: testFarIP6, Dst: testNearIP6,
			Target: testFarIP6, LLAddr: testFarMAC, HasLLAddr: true, Solicited: true, Override: true}},
		{"RA", baseRA, frame.ND{Ifindex: 2, Type: frame.NDRouterAdvert, Src: testFarLL6, Dst: allNodes,
			LLAddr: testFarMAC, HasLLAddr: true, Router: true}},
	} {
		b, ll := tc.base()
		var f frame.ND
		if d := frame.DecodeND(&f, b, &ll); d != frame.NDDropNone || f != tc.want {
			t.Errorf("%s: %v\n%+v, want accepted\n%+v", tc.name, d, f, tc.want)
		}
		// Decoding over an earlier message leaves nothing of it behind.
		g := frame.ND{Ifindex: 9, Type: 1, Target: allNodes, Router: true, Solicited: true, Override: true}
		if frame.DecodeND(&g, b, &ll); g != tc.want {
			t.Errorf("%s over another: %+v", tc.name, g)
		}
		if !bytes.Equal(b[:1], []byte{0x60}) {
			t.Errorf("%s: the decoder changed the bytes", tc.name)
		}
	}
}
