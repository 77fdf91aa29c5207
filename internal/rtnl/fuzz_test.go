package rtnl_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// The fuzz targets' seeds run as ordinary tests with go test: the captured
// messages of testdata and the malformed variants fuzzSeeds makes of them.

// seedFiles are the captured messages in testdata.
var seedFiles = []string{
	"getneigh_incomplete", "newneigh_failed_probes", "newneigh_reachable",
	"newneigh_answered", "newneigh_stale", "newneigh_failed_del",
	"newneigh_failed_flush", "delneigh", "dump_newneigh",
	"newlink", "newlink_up", "dellink", "error_enoent", "done",
	"newaddr", "newaddr_secondary", "newaddr_peer", "deladdr",
	"newaddr6_tentative", "newaddr6", "newaddr6_peer", "newaddr6_dadfailed", "deladdr6",
}

// fuzzSeeds returns the captured messages, one datagram of all of them, and
// malformed variants: cuts, lying lengths, broken attributes.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds, all [][]byte
	for _, f := range seedFiles {
		b := loadHex(t, f)
		all = append(all, b)
		seeds = append(seeds, b)
		seeds = append(seeds, mangled(b)...)
	}
	seeds = append(seeds, concat(all...))
	seeds = append(seeds, nil, []byte{0x10, 0, 0, 0})
	seeds = append(seeds,
		neighWith(unix.RTM_NEWNEIGH, unix.AF_INET6, attr(unix.NDA_DST, make([]byte, 16), 0), attr(unix.NDA_LLADDR, make([]byte, 20), 0)),
		neighWith(unix.RTM_GETNEIGH, unix.AF_INET, attr(unix.NDA_DST, []byte{10, 0, 0, 1}, 0), attr(unix.NDA_DST, []byte{10, 0, 0, 2}, 0)),
		neighWith(unix.RTM_DELNEIGH, unix.AF_BRIDGE, attr(unix.NDA_LLADDR, []byte{1, 2, 3, 4, 5, 6}, 0), attr(unix.NDA_PROBES, []byte{1}, 0)),
		addrWith(unix.RTM_NEWADDR, unix.AF_INET, 33, attr(unix.IFA_LOCAL, []byte{10, 0, 0, 1}, 0)),
		addrWith(unix.RTM_NEWADDR, unix.AF_INET, 31, attr(unix.IFA_ADDRESS, []byte{10, 0, 0, 1}, 0), attr(unix.IFA_FLAGS, []byte{1, 0}, 0)),
		addrWith(unix.RTM_DELADDR, unix.AF_INET6, 64, attr(unix.IFA_ADDRESS, make([]byte, 16), 0)),
		addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 129, attr(unix.IFA_ADDRESS, make([]byte, 16), 0)),
		addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 64, attr(unix.IFA_ADDRESS, []byte{10, 0, 0, 1}, 0)),
		addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, make([]byte, 16), 0)),
		addrWith(unix.RTM_NEWADDR, unix.AF_PACKET, 200, attr(unix.IFA_LOCAL, []byte{1}, 0)),
		concat(addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, []byte{10, 0, 0, 1}, 0)),
			addrWith(unix.RTM_NEWADDR, unix.AF_INET, 0, attr(unix.IFA_LOCAL, []byte{10, 0, 0, 2}, 0), attr(unix.IFA_LOCAL, []byte{10, 0, 0, 3}, 0))),
		extAck(unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS, unix.EINVAL, attr(unix.NLMSGERR_ATTR_MSG, []byte("no such entry\x00"), 0)),
		extAck(unix.NLM_F_ACK_TLVS, unix.EINVAL, attr(unix.NLMSGERR_ATTR_MSG, []byte("x"), 0)),
		extAck(unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS, unix.EBUSY, attr(unix.NLMSGERR_ATTR_MSG, nil, 0), attr(unix.NLMSGERR_ATTR_OFFS, nil, 200)),
		extAck(0, 0),
	)
	return seeds
}

// mangled returns broken variants of the message b.
func mangled(b []byte) [][]byte {
	var seeds [][]byte
	// Cut inside the header, inside the fixed struct, inside the first
	// attribute, and one byte short.
	for _, cut := range []int{7, hdrLen + 6, hdrLen + ifinfoLen + 2, len(b) - 1} {
		if cut < len(b) {
			seeds = append(seeds, bytes.Clone(b[:cut]))
			seeds = append(seeds, fixLen(bytes.Clone(b[:cut])))
		}
	}
	// nlmsg_len too big and too small.
	c := bytes.Clone(b)
	binary.NativeEndian.PutUint32(c, uint32(len(b)+4))
	seeds = append(seeds, c)
	c = bytes.Clone(b)
	binary.NativeEndian.PutUint32(c, 12)
	seeds = append(seeds, c)
	// The first attribute's length too big, then too small.
	off := hdrLen + ndmsgLen
	switch binary.NativeEndian.Uint16(b[4:6]) {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		off = hdrLen + ifinfoLen
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		off = hdrLen + ifaddrLen
	}
	for _, l := range []uint16{0xffff, 2} {
		if off+4 <= len(b) {
			c = bytes.Clone(b)
			binary.NativeEndian.PutUint16(c[off:], l)
			seeds = append(seeds, c)
		}
	}
	return seeds
}

// decodeErrs are the reasons a decoder may give.
var decodeErrs = []error{
	rtnl.ErrShortPayload, rtnl.ErrWrongType, rtnl.ErrBadAttr, rtnl.ErrDupAttr, rtnl.ErrBadDst,
	rtnl.ErrLongLLAddr, rtnl.ErrBadProbes, rtnl.ErrBadIfName, rtnl.ErrBadAddr, rtnl.ErrBadAddrFlags,
	rtnl.ErrBadLength,
}

// checkReason fails unless err is one of the sentinel errors in reasons.
func checkReason(t *testing.T, err error, reasons []error) {
	t.Helper()
	for _, r := range reasons {
		if errors.Is(err, r) {
			return
		}
	}
	t.Fatalf("error without a reason: %v", err)
}

// frame frames data, checks the iterator's own properties (every message
// lies inside data, there are no more messages than headers fit, an early
// stop has a reason) and calls each for every message.
func frame(t *testing.T, data []byte, each func(m *rtnl.Msg)) {
	it := rtnl.Messages(data)
	var m rtnl.Msg
	count := 0
	for it.Next(&m) {
		count++
		if count > len(data)/hdrLen {
			t.Fatalf("%d messages in %d bytes", count, len(data))
		}
		if len(m.Data) > len(data)-hdrLen || cap(m.Data) != len(m.Data) {
			t.Fatalf("payload of %d bytes (cap %d) in %d bytes", len(m.Data), cap(m.Data), len(data))
		}
		each(&m)
	}
	if err := it.Err(); err != nil {
		checkReason(t, err, []error{rtnl.ErrShortHeader, rtnl.ErrBadLength})
	}
}

// addSeeds adds the seed corpus to f.
func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
}

// FuzzMessages frames datagrams. Properties: no panic; every payload lies
// inside the datagram, in order and without overlap; a datagram of whole
// messages frames without error; an early stop has a reason.
func FuzzMessages(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		end := 0 // where the last payload ended, as an offset in data
		frame(t, data, func(m *rtnl.Msg) {
			if len(m.Data) == 0 {
				return
			}
			off := int(uintptrOf(m.Data) - uintptrOf(data))
			if off < end+hdrLen || off+len(m.Data) > len(data) {
				t.Fatalf("payload at %d..%d after %d in %d bytes", off, off+len(m.Data), end, len(data))
			}
			end = off + len(m.Data)
		})
		// The same messages re-packed with their padding frame whole.
		var msgs [][]byte
		it := rtnl.Messages(data)
		var m rtnl.Msg
		for it.Next(&m) {
			b := make([]byte, hdrLen, hdrLen+len(m.Data))
			binary.NativeEndian.PutUint16(b[4:6], m.Type)
			msgs = append(msgs, fixLen(append(b, m.Data...)))
		}
		it = rtnl.Messages(concat(msgs...))
		n := 0
		for it.Next(&m) {
			n++
		}
		if it.Err() != nil || n != len(msgs) {
			t.Fatalf("re-packed %d messages, framed %d (%v)", len(msgs), n, it.Err())
		}
	})
}

// FuzzDecodeNeigh feeds datagrams to the iterator and the neighbour decoder.
// Properties: no panic; decoded lengths within bounds; a rejected message
// keeps no attribute; a decoded neighbour re-encodes and decodes to the same
// fields, and so do the answer, the failure and the replacements built
// from it.
func FuzzDecodeNeigh(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		frame(t, data, func(m *rtnl.Msg) {
			var n rtnl.Neigh
			if err := rtnl.DecodeNeigh(m, &n); err != nil {
				checkReason(t, err, decodeErrs)
				if n.DstLen != 0 || n.LLAddrLen != 0 || n.HasProbes {
					t.Fatalf("rejected (%v) but kept attributes: %+v", err, n)
				}
				return
			}
			checkNeigh(t, &n)
		})
	})
}

// checkNeigh checks the bounds of a decoded neighbour n and that it and the
// answer to it survive a round trip.
func checkNeigh(t *testing.T, n *rtnl.Neigh) {
	fits := n.DstLen == 0 || (n.Family == unix.AF_INET && n.DstLen == 4) || (n.Family == unix.AF_INET6 && n.DstLen == 16) ||
		(n.Family != unix.AF_INET && n.Family != unix.AF_INET6 && (n.DstLen == 4 || n.DstLen == 16))
	if !fits || n.LLAddrLen > rtnl.MaxLLAddr {
		t.Fatalf("lengths out of bounds: %+v", n)
	}
	var b [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeigh(b[:], n.MsgType, n.MsgFlags, n.Seq, n)
	if err != nil {
		t.Fatalf("re-encoding %+v: %v", n, err)
	}
	var back rtnl.Neigh
	mm := only(t, b[:k])
	if err := rtnl.DecodeNeigh(&mm, &back); err != nil {
		t.Fatalf("decoding the re-encoded %+v: %v", n, err)
	}
	want := *n
	want.Pid = 0
	if back != want {
		t.Fatalf("round trip\n %+v\nwant\n %+v", back, want)
	}
	if n.DstLen == 0 {
		return
	}
	lladdr := n.HWAddr()
	if len(lladdr) == 0 {
		lladdr = cacheMAC[:]
	}
	k, err = rtnl.PutNeighAnswer(b[:], 5, n, lladdr)
	if err != nil {
		t.Fatalf("answer to %+v: %v", n, err)
	}
	mm = only(t, b[:k])
	if err := rtnl.DecodeNeigh(&mm, &back); err != nil {
		t.Fatalf("decoding the answer: %v", err)
	}
	if back.MsgType != unix.RTM_NEWNEIGH || back.MsgFlags != rtnl.AnswerFlags || back.Seq != 5 ||
		back.Family != n.Family || back.Ifindex != n.Ifindex || back.Dst != n.Dst || back.DstLen != n.DstLen ||
		back.State != unix.NUD_STALE || back.Type != unix.RTN_UNICAST || !bytes.Equal(back.HWAddr(), lladdr) || back.HasProbes {
		t.Fatalf("answer to %+v decodes as %+v", n, back)
	}
	k, err = rtnl.PutNeighFailure(b[:], 6, n)
	if err != nil {
		t.Fatalf("failure answer to %+v: %v", n, err)
	}
	mm = only(t, b[:k])
	if err := rtnl.DecodeNeigh(&mm, &back); err != nil {
		t.Fatalf("decoding the failure answer: %v", err)
	}
	if back.MsgType != unix.RTM_NEWNEIGH || back.MsgFlags != rtnl.AnswerFlags || back.Seq != 6 ||
		back.Family != n.Family || back.Ifindex != n.Ifindex || back.Dst != n.Dst || back.DstLen != n.DstLen ||
		back.State != unix.NUD_FAILED || back.Type != unix.RTN_UNICAST || back.LLAddrLen != 0 || back.HasProbes {
		t.Fatalf("failure answer to %+v decodes as %+v", n, back)
	}
	for _, state := range []uint16{unix.NUD_REACHABLE, unix.NUD_STALE} {
		k, err = rtnl.PutNeighReplace(b[:], 7, n, state, lladdr)
		if err != nil {
			t.Fatalf("replace for %+v: %v", n, err)
		}
		mm = only(t, b[:k])
		if err := rtnl.DecodeNeigh(&mm, &back); err != nil {
			t.Fatalf("decoding the replace: %v", err)
		}
		if back.MsgType != unix.RTM_NEWNEIGH || back.MsgFlags != rtnl.ReplaceFlags || back.Seq != 7 ||
			back.Family != n.Family || back.Ifindex != n.Ifindex || back.Dst != n.Dst || back.DstLen != n.DstLen ||
			back.State != state || back.Type != unix.RTN_UNICAST || !bytes.Equal(back.HWAddr(), lladdr) || back.HasProbes {
			t.Fatalf("replace for %+v decodes as %+v", n, back)
		}
	}
}

// FuzzDecodeLink feeds datagrams to the iterator and the link decoder.
// Properties: no panic; the name, when present, is 1 to 15 bytes without a
// NUL; the address is at most MaxLLAddr bytes, and empty when flagged too
// long.
func FuzzDecodeLink(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		frame(t, data, func(m *rtnl.Msg) {
			var l rtnl.Link
			if err := rtnl.DecodeLink(m, &l); err != nil {
				checkReason(t, err, decodeErrs)
				if l.NameLen != 0 || l.AddrLen != 0 || l.AddrTooLong {
					t.Fatalf("rejected (%v) but kept attributes: %+v", err, l)
				}
				return
			}
			if l.NameLen >= rtnl.IfNameSize || bytes.IndexByte(l.IfName(), 0) >= 0 {
				t.Fatalf("bad name %q", l.IfName())
			}
			if l.AddrLen > rtnl.MaxLLAddr || (l.AddrTooLong && l.AddrLen != 0) {
				t.Fatalf("bad address %+v", l)
			}
		})
	})
}

// putAddr encodes a as an IPv4 or IPv6 address message, for the fuzz
// target's round trip: the daemon never sends one.
func putAddr(a *rtnl.Addr) []byte {
	flags := make([]byte, 4)
	binary.NativeEndian.PutUint32(flags, a.Flags)
	local, address := a.Local[:], a.Address[:]
	if a.Family == unix.AF_INET6 {
		local, address = a.Local6[:], a.Address6[:]
	}
	var attrs [][]byte
	if a.HasAddress {
		attrs = append(attrs, attr(unix.IFA_ADDRESS, address, 0))
	}
	if a.HasLocal {
		attrs = append(attrs, attr(unix.IFA_LOCAL, local, 0))
	}
	attrs = append(attrs, attr(unix.IFA_FLAGS, flags, 0))
	b := addrWith(a.MsgType, a.Family, a.PrefixLen, attrs...)
	b[hdrLen+2] = byte(a.Flags)
	b[hdrLen+3] = a.Scope
	binary.NativeEndian.PutUint32(b[hdrLen+4:], uint32(a.Ifindex))
	binary.NativeEndian.PutUint16(b[6:8], a.MsgFlags)
	binary.NativeEndian.PutUint32(b[8:12], a.Seq)
	binary.NativeEndian.PutUint32(b[12:16], a.Pid)
	return b
}

// FuzzDecodeAddr feeds datagrams to the iterator and the address decoder.
// Properties: no panic; a rejected message keeps no address; a message of
// another family no address; an accepted IPv4 one has a prefix of at most
// 32 bits and no IPv6 address, an IPv6 one at most 128 and no IPv4
// address; an accepted one encodes and decodes to the same fields.
func FuzzDecodeAddr(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		frame(t, data, func(m *rtnl.Msg) {
			var a rtnl.Addr
			err := rtnl.DecodeAddr(m, &a)
			if err != nil {
				checkReason(t, err, decodeErrs)
			}
			v4 := a.Local != [4]byte{} || a.Address != [4]byte{}
			v6 := a.Local6 != [16]byte{} || a.Address6 != [16]byte{}
			switch {
			case err != nil && (a.HasLocal || a.HasAddress || v4 || v6):
				t.Fatalf("rejected (%v) but kept addresses: %+v", err, a)
			case err != nil:
				return
			case a.Family != unix.AF_INET && a.Family != unix.AF_INET6:
				if a.HasLocal || a.HasAddress || v4 || v6 {
					t.Fatalf("family %d with addresses: %+v", a.Family, a)
				}
				return
			case a.Family == unix.AF_INET && (a.PrefixLen > 32 || v6),
				a.Family == unix.AF_INET6 && (a.PrefixLen > 128 || v4):
				t.Fatalf("out of bounds: %+v", a)
			case !a.HasLocal && (a.Local != [4]byte{} || a.Local6 != [16]byte{}),
				!a.HasAddress && (a.Address != [4]byte{} || a.Address6 != [16]byte{}):
				t.Fatalf("an address without its Has flag: %+v", a)
			}
			mm := only(t, putAddr(&a))
			var back rtnl.Addr
			if err := rtnl.DecodeAddr(&mm, &back); err != nil || back != a {
				t.Fatalf("round trip: %v\n %+v\nwant\n %+v", err, back, a)
			}
		})
	})
}

// FuzzDecodeError feeds datagrams to the iterator and the NLMSG_ERROR
// decoder. Properties: no panic; the extended-ack message lies inside the
// payload and holds no NUL; a rejected message keeps no message.
func FuzzDecodeError(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		frame(t, data, func(m *rtnl.Msg) {
			var e rtnl.ErrorMsg
			if err := rtnl.DecodeError(m, &e); err != nil {
				checkReason(t, err, decodeErrs)
				if e.Msg != nil {
					t.Fatalf("rejected (%v) but kept a message: %q", err, e.Msg)
				}
				return
			}
			if len(e.Msg) > len(m.Data) || bytes.IndexByte(e.Msg, 0) >= 0 {
				t.Fatalf("ext-ack message %q in a payload of %d bytes", e.Msg, len(m.Data))
			}
			if len(e.Msg) > 0 {
				if off := uintptrOf(e.Msg) - uintptrOf(m.Data); off > uintptr(len(m.Data)-len(e.Msg)) {
					t.Fatalf("ext-ack message outside the payload")
				}
			}
		})
	})
}
