package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// nlFuzzSeeds returns the captured messages, one datagram of several, and
// malformed variants of them: cuts, lying lengths, broken attributes.
func nlFuzzSeeds(t testing.TB) [][]byte {
	files := []string{
		"getneigh_incomplete", "newneigh_failed_probes", "newneigh_reachable",
		"newneigh_answered", "newneigh_stale", "newneigh_failed_del",
		"newneigh_failed_flush", "delneigh", "dump_newneigh",
		"newlink", "newlink_up", "dellink", "error_enoent", "done",
		"newaddr", "newaddr_secondary", "newaddr_peer", "deladdr",
	}
	var seeds [][]byte
	var all [][]byte
	for _, f := range files {
		b := loadNetlinkHex(t, f)
		all = append(all, b)
		seeds = append(seeds, b)
		// Cut inside the header, inside the fixed struct, inside the
		// first attribute, and one byte short.
		for _, cut := range []int{7, nlHeaderLen + 6, nlHeaderLen + rtnlIfinfoLen + 2, len(b) - 1} {
			if cut < len(b) {
				seeds = append(seeds, bytes.Clone(b[:cut]))
				seeds = append(seeds, nlFixLen(bytes.Clone(b[:cut])))
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
		for _, l := range []uint16{0xffff, 2} {
			off := nlHeaderLen + rtnlNdmsgLen
			switch b[4] {
			case unix.RTM_NEWLINK, unix.RTM_DELLINK:
				off = nlHeaderLen + rtnlIfinfoLen
			case unix.RTM_NEWADDR, unix.RTM_DELADDR:
				off = nlHeaderLen + rtnlIfaddrLen
			}
			if off+4 <= len(b) {
				c = bytes.Clone(b)
				binary.NativeEndian.PutUint16(c[off:], l)
				seeds = append(seeds, c)
			}
		}
	}
	seeds = append(seeds, nlConcat(all...))
	seeds = append(seeds, nil, []byte{0x10, 0, 0, 0})
	seeds = append(seeds,
		nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET6, nlAttr(unix.NDA_DST, make([]byte, 16), 0), nlAttr(unix.NDA_LLADDR, make([]byte, 20), 0)),
		nlNeighWith(unix.RTM_GETNEIGH, unix.AF_INET, nlAttr(unix.NDA_DST, []byte{10, 0, 0, 1}, 0), nlAttr(unix.NDA_DST, []byte{10, 0, 0, 2}, 0)),
		nlNeighWith(unix.RTM_DELNEIGH, unix.AF_BRIDGE, nlAttr(unix.NDA_LLADDR, []byte{1, 2, 3, 4, 5, 6}, 0), nlAttr(unix.NDA_PROBES, []byte{1}, 0)),
		nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 33, nlAttr(unix.IFA_LOCAL, []byte{10, 0, 0, 1}, 0)),
		nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 31, nlAttr(unix.IFA_ADDRESS, []byte{10, 0, 0, 1}, 0), nlAttr(unix.IFA_FLAGS, []byte{1, 0}, 0)),
		nlAddrWith(unix.RTM_DELADDR, unix.AF_INET6, 64, nlAttr(unix.IFA_ADDRESS, make([]byte, 16), 0)),
		nlConcat(nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, []byte{10, 0, 0, 1}, 0)),
			nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 0, nlAttr(unix.IFA_LOCAL, []byte{10, 0, 0, 2}, 0), nlAttr(unix.IFA_LOCAL, []byte{10, 0, 0, 3}, 0))),
	)
	return seeds
}

// nlFuzzFrame frames data and checks the iterator's own properties: every
// message lies inside data, and there are no more messages than headers
// fit.
func nlFuzzFrame(t *testing.T, data []byte, each func(m *nlMsg)) {
	it := nlMessages(data)
	var m nlMsg
	count := 0
	for it.Next(&m) {
		count++
		if count > len(data)/nlHeaderLen {
			t.Fatalf("%d messages in %d bytes", count, len(data))
		}
		if len(m.Data) > len(data)-nlHeaderLen || cap(m.Data) != len(m.Data) {
			t.Fatalf("payload of %d bytes (cap %d) in %d bytes", len(m.Data), cap(m.Data), len(data))
		}
		each(&m)
	}
	if err := it.Err(); err != nil && nlReasonOf(err) == nlReasonNone {
		t.Fatalf("iterator error without a reason: %v", err)
	}
	var e nlError
	it = nlMessages(data)
	for it.Next(&m) {
		if nlDecodeError(&m, &e) == nil && len(e.Msg) > len(m.Data) {
			t.Fatalf("ext-ack message longer than its payload")
		}
		nlDecodeDone(&m)
	}
}

// FuzzNetlinkNeigh feeds datagrams to the iterator and the neighbour
// decoder. Properties: no panic; decoded lengths within bounds; a rejected
// message keeps no attribute; a decoded neighbour re-encodes and decodes to
// the same fields, and so does the answer built from it.
func FuzzNetlinkNeigh(f *testing.F) {
	for _, s := range nlFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nlFuzzFrame(t, data, func(m *nlMsg) {
			var n rtnlNeigh
			err := rtnlDecodeNeigh(m, &n)
			if err != nil {
				if nlReasonOf(err) == nlReasonNone {
					t.Fatalf("error without a reason: %v", err)
				}
				if n.DstLen != 0 || n.LLAddrLen != 0 || n.HasProbes || n.HasCacheinfo {
					t.Fatalf("rejected (%v) but kept attributes: %+v", err, n)
				}
				return
			}
			if (n.DstLen != 0 && !rtnlDstFits(n.Family, int(n.DstLen))) || n.LLAddrLen > rtnlMaxLLAddr {
				t.Fatalf("lengths out of bounds: %+v", n)
			}
			var b [rtnlNeighMsgMax]byte
			k, err := rtnlPutNeigh(b[:], n.MsgType, n.MsgFlags, n.Seq, &n)
			if err != nil {
				t.Fatalf("re-encoding %+v: %v", n, err)
			}
			var back rtnlNeigh
			mm := nlOnly(t, b[:k])
			if err := rtnlDecodeNeigh(&mm, &back); err != nil {
				t.Fatalf("decoding the re-encoded %+v: %v", n, err)
			}
			want := n
			want.Pid, want.Cacheinfo, want.HasCacheinfo = 0, rtnlCacheinfo{}, false
			if back != want {
				t.Fatalf("round trip\n %+v\nwant\n %+v", back, want)
			}
			if n.DstLen == 0 {
				return
			}
			lladdr := n.HWAddr()
			if len(lladdr) == 0 {
				lladdr = labCacheMAC[:]
			}
			k, err = rtnlPutNeighAnswer(b[:], 5, &n, lladdr)
			if err != nil {
				t.Fatalf("answer to %+v: %v", n, err)
			}
			mm = nlOnly(t, b[:k])
			if err := rtnlDecodeNeigh(&mm, &back); err != nil {
				t.Fatalf("decoding the answer: %v", err)
			}
			if back.MsgType != unix.RTM_NEWNEIGH || back.MsgFlags != rtnlAnswerFlags || back.Seq != 5 ||
				back.Family != n.Family || back.Ifindex != n.Ifindex || back.Dst != n.Dst || back.DstLen != n.DstLen ||
				back.State != unix.NUD_STALE || back.Type != unix.RTN_UNICAST || !bytes.Equal(back.HWAddr(), lladdr) || back.HasProbes {
				t.Fatalf("answer to %+v decodes as %+v", n, back)
			}
		})
	})
}

// FuzzNetlinkLink feeds datagrams to the iterator and the link decoder.
// Properties: no panic; the name, when present, is 1 to 15 bytes without a NUL; the address
// is at most 8 bytes, and empty when flagged too long.
func FuzzNetlinkLink(f *testing.F) {
	for _, s := range nlFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nlFuzzFrame(t, data, func(m *nlMsg) {
			var l rtnlLink
			err := rtnlDecodeLink(m, &l)
			if err != nil {
				if nlReasonOf(err) == nlReasonNone {
					t.Fatalf("error without a reason: %v", err)
				}
				if l.NameLen != 0 || l.AddrLen != 0 || l.AddrTooLong {
					t.Fatalf("rejected (%v) but kept attributes: %+v", err, l)
				}
				return
			}
			if l.NameLen >= rtnlIfNameSize || bytes.IndexByte(l.IfName(), 0) >= 0 {
				t.Fatalf("bad name %q", l.IfName())
			}
			if l.AddrLen > rtnlMaxLLAddr || (l.AddrTooLong && l.AddrLen != 0) {
				t.Fatalf("bad address %+v", l)
			}
		})
	})
}

// nlPutAddrTest encodes a as an IPv4 address message, for the fuzz target's
// round trip: the daemon never sends one.
func nlPutAddrTest(a *rtnlAddr) []byte {
	flags := make([]byte, 4)
	binary.NativeEndian.PutUint32(flags, a.Flags)
	var attrs [][]byte
	if a.HasAddress {
		attrs = append(attrs, nlAttr(unix.IFA_ADDRESS, a.Address[:], 0))
	}
	if a.HasLocal {
		attrs = append(attrs, nlAttr(unix.IFA_LOCAL, a.Local[:], 0))
	}
	attrs = append(attrs, nlAttr(unix.IFA_FLAGS, flags, 0))
	b := nlAddrWith(a.MsgType, a.Family, a.PrefixLen, attrs...)
	b[nlHeaderLen+2] = byte(a.Flags)
	b[nlHeaderLen+3] = a.Scope
	binary.NativeEndian.PutUint32(b[nlHeaderLen+4:], uint32(a.Ifindex))
	binary.NativeEndian.PutUint16(b[6:8], a.MsgFlags)
	binary.NativeEndian.PutUint32(b[8:12], a.Seq)
	binary.NativeEndian.PutUint32(b[12:16], a.Pid)
	return b
}

// FuzzNetlinkAddr feeds datagrams to the iterator and the address decoder,
// and what it accepts to an interface's address list. Properties: no
// panic; a rejected message keeps no address; an accepted IPv4 one has a
// prefix of at most 32 bits, encodes and decodes to the same fields; the
// list never holds more than ifAddrMax addresses, and the source it
// chooses is one of its primary addresses.
func FuzzNetlinkAddr(f *testing.F) {
	for _, s := range nlFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tab ifAddrs
		nlFuzzFrame(t, data, func(m *nlMsg) {
			var a rtnlAddr
			err := rtnlDecodeAddr(m, &a)
			if err != nil {
				if nlReasonOf(err) == nlReasonNone {
					t.Fatalf("error without a reason: %v", err)
				}
				if a.HasLocal || a.HasAddress || a.Local != [4]byte{} || a.Address != [4]byte{} {
					t.Fatalf("rejected (%v) but kept addresses: %+v", err, a)
				}
				return
			}
			if a.Family != unix.AF_INET {
				if a.HasLocal || a.HasAddress {
					t.Fatalf("family %d with IPv4 addresses: %+v", a.Family, a)
				}
				return
			}
			if a.PrefixLen > 32 || (!a.HasLocal && a.Local != [4]byte{}) || (!a.HasAddress && a.Address != [4]byte{}) {
				t.Fatalf("out of bounds: %+v", a)
			}
			mm := nlOnly(t, nlPutAddrTest(&a))
			var back rtnlAddr
			if err := rtnlDecodeAddr(&mm, &back); err != nil || back != a {
				t.Fatalf("round trip: %v\n %+v\nwant\n %+v", err, back, a)
			}
			x := ifAddr{Local: a.Local, Peer: a.Address, PrefixLen: a.PrefixLen, Scope: a.Scope, Secondary: a.Flags&unix.IFA_F_SECONDARY != 0}
			if a.MsgType == unix.RTM_DELADDR {
				tab.Delete(&x)
			} else {
				tab.Add(x)
			}
			if tab.Len() > ifAddrMax {
				t.Fatalf("%d addresses kept", tab.Len())
			}
			src, ok := tab.Source(a.Address)
			found := false
			for i := 0; i < tab.Len(); i++ {
				if p := &tab.a[i]; p.Local == src && !p.Secondary && p.Scope <= rtScopeLink {
					found = true
				}
			}
			if ok != found {
				t.Fatalf("source %v (%v) is not a usable address of %+v", src, ok, tab.a[:tab.Len()])
			}
		})
	})
}
