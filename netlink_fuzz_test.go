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
			if b[4] == unix.RTM_NEWLINK || b[4] == unix.RTM_DELLINK {
				off = nlHeaderLen + rtnlIfinfoLen
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
