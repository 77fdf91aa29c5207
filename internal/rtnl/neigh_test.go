package rtnl_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// The neighbour messages captured by TestLabNetlinkCapture, every field.
// The lab's near interface vnear had ifindex 2.
var capturedNeighs = []struct {
	file string
	want rtnl.Neigh
}{
	{"getneigh_incomplete", rtnl.Neigh{
		MsgType: unix.RTM_GETNEIGH, MsgFlags: unix.NLM_F_REQUEST,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_INCOMPLETE, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 99), DstLen: 4,
		Probes: 3, HasProbes: true,
	}},
	{"newneigh_failed_probes", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH,
		Family:  unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 99), DstLen: 4,
		Probes: 5, HasProbes: true,
	}},
	{"newneigh_reachable", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH,
		Family:  unix.AF_INET, Ifindex: 2, State: unix.NUD_REACHABLE, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 2), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 2, 2), LLAddrLen: 6,
		Probes: 5, HasProbes: true,
	}},
	{"newneigh_answered", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d59,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_DELAY, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 3), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 3, 3), LLAddrLen: 6,
		Probes: 4, HasProbes: true,
	}},
	{"newneigh_stale", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d71,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_STALE, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 7), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 7, 7), LLAddrLen: 6,
		Probes: 0, HasProbes: true,
	}},
	{"newneigh_failed_del", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d72,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 2), DstLen: 4,
		Probes: 5, HasProbes: true,
	}},
	{"delneigh", rtnl.Neigh{
		MsgType: unix.RTM_DELNEIGH,
		Family:  unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 2), DstLen: 4,
		Probes: 5, HasProbes: true,
	}},
	{"newneigh_failed_flush", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d73,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 7), DstLen: 4,
		Probes: 0, HasProbes: true,
	}},
	{"dump_newneigh", rtnl.Neigh{
		MsgType: unix.RTM_NEWNEIGH, MsgFlags: unix.NLM_F_MULTI, Seq: 3, Pid: 0x2d59,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_PERMANENT, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 8), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 8, 8), LLAddrLen: 6,
		Probes: 0, HasProbes: true,
	}},
}

// TestCapturedNeigh decodes every captured neighbour message and checks
// every field.
func TestCapturedNeigh(t *testing.T) {
	for _, tc := range capturedNeighs {
		t.Run(tc.file, func(t *testing.T) {
			m := only(t, loadHex(t, tc.file))
			var n rtnl.Neigh
			if err := rtnl.DecodeNeigh(&m, &n); err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("decoded\n %+v\nwant\n %+v", n, tc.want)
			}
			if !bytes.Equal(n.DstAddr(), tc.want.Dst[:4]) || len(n.HWAddr()) != int(tc.want.LLAddrLen) {
				t.Errorf("DstAddr % x HWAddr % x", n.DstAddr(), n.HWAddr())
			}
		})
	}
}

// TestResolutionFailed checks the failure test on the captured messages:
// only the timer's FAILED counts, not an administrator's delete or flush,
// whatever NDA_PROBES says.
func TestResolutionFailed(t *testing.T) {
	for _, tc := range capturedNeighs {
		m := only(t, loadHex(t, tc.file))
		var n rtnl.Neigh
		if err := rtnl.DecodeNeigh(&m, &n); err != nil {
			t.Fatal(err)
		}
		if got, want := rtnl.ResolutionFailed(&n), tc.file == "newneigh_failed_probes"; got != want {
			t.Errorf("%s: ResolutionFailed = %v, want %v", tc.file, got, want)
		}
	}
}

func TestNeighMalformed(t *testing.T) {
	dst4 := attr(unix.NDA_DST, []byte{10, 0, 0, 1}, 0)
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"short ndmsg", fixLen(neighWith(unix.RTM_NEWNEIGH, unix.AF_INET)[:hdrLen+8]), rtnl.ErrShortPayload},
		{"wrong type", neighWith(unix.RTM_NEWLINK, unix.AF_INET), rtnl.ErrWrongType},
		{"attr len below header", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, attr(unix.NDA_DST, []byte{10, 0, 0, 1}, 3)), rtnl.ErrBadAttr},
		{"attr len past message", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, attr(unix.NDA_DST, []byte{10, 0, 0, 1}, 9)), rtnl.ErrBadAttr},
		{"attr header cut", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4[:2]), rtnl.ErrBadAttr},
		{"dst 3 bytes", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, attr(unix.NDA_DST, []byte{10, 0, 0}, 0)), rtnl.ErrBadDst},
		{"dst 16 bytes for AF_INET", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, attr(unix.NDA_DST, make([]byte, 16), 0)), rtnl.ErrBadDst},
		{"dst 4 bytes for AF_INET6", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET6, dst4), rtnl.ErrBadDst},
		{"dst 5 bytes for AF_BRIDGE", neighWith(unix.RTM_NEWNEIGH, unix.AF_BRIDGE, attr(unix.NDA_DST, make([]byte, 5), 0)), rtnl.ErrBadDst},
		{"lladdr 20 bytes", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, attr(unix.NDA_LLADDR, make([]byte, 20), 0)), rtnl.ErrLongLLAddr},
		{"probes 2 bytes", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, attr(unix.NDA_PROBES, []byte{1, 0}, 0)), rtnl.ErrBadProbes},
		{"probes 8 bytes", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, attr(unix.NDA_PROBES, make([]byte, 8), 0)), rtnl.ErrBadProbes},
		{"two dst", neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, dst4), rtnl.ErrDupAttr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := only(t, tc.msg)
			var n rtnl.Neigh
			err := rtnl.DecodeNeigh(&m, &n)
			if err != tc.want {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if n.DstLen != 0 || n.LLAddrLen != 0 || n.HasProbes {
				t.Errorf("rejected message left attributes behind: %+v", n)
			}
			if !errors.Is(err, tc.want) || err.Error() == "" {
				t.Errorf("error %q", err)
			}
		})
	}
	// Accepted: an IPv6 neighbour, an 8-byte lladdr, an unknown and a
	// flagged attribute, a cacheinfo longer than today's.
	m := only(t, neighWith(unix.RTM_NEWNEIGH, unix.AF_INET6,
		attr(unix.NDA_DST|unix.NLA_F_NET_BYTEORDER, bytes.Repeat([]byte{0xfe}, 16), 0),
		attr(unix.NDA_LLADDR, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0),
		attr(12, []byte{4}, 0), // NDA_PROTOCOL,
		attr(unix.NDA_CACHEINFO, make([]byte, 20), 0)))
	var n rtnl.Neigh
	if err := rtnl.DecodeNeigh(&m, &n); err != nil || n.DstLen != 16 || n.LLAddrLen != 8 || n.HasProbes {
		t.Errorf("IPv6 neighbour: %v %+v", err, n)
	}
	// NDA_CACHEINFO is not decoded, so no length of it rejects a
	// message, nor does a second one.
	m = only(t, neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4,
		attr(unix.NDA_CACHEINFO, make([]byte, 12), 0), attr(unix.NDA_CACHEINFO, nil, 0)))
	if err := rtnl.DecodeNeigh(&m, &n); err != nil || n.DstLen != 4 {
		t.Errorf("short cacheinfo: %v %+v", err, n)
	}
}

// TestEncode checks the answer and the dump requests byte for byte.
func TestEncode(t *testing.T) {
	req := only(t, loadHex(t, "getneigh_incomplete"))
	var n rtnl.Neigh
	if err := rtnl.DecodeNeigh(&req, &n); err != nil {
		t.Fatal(err)
	}
	var b [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeighAnswer(b[:], 0x01020304, &n, cacheMAC[:])
	if err != nil {
		t.Fatal(err)
	}
	want := leHex(t, "30000000 1c00 0100 04030201 00000000"+ // len 48, RTM_NEWNEIGH, NLM_F_REQUEST, seq, pid 0
		"02 00 0000 02000000 0400 00 01"+ // AF_INET, ifindex 2, NUD_STALE, flags 0, RTN_UNICAST
		"0800 0100 0a4d0063"+ // NDA_DST 10.77.0.99
		"0a00 0200 020000000303 0000") // NDA_LLADDR and padding
	if !bytes.Equal(b[:k], want) {
		t.Errorf("answer\n% x\nwant\n% x", b[:k], want)
	}
	k, err = rtnl.PutNeighFailure(b[:], 0x01020304, &n)
	if err != nil {
		t.Fatal(err)
	}
	want = leHex(t, "24000000 1c00 0100 04030201 00000000"+ // len 36, RTM_NEWNEIGH, NLM_F_REQUEST, seq, pid 0
		"02 00 0000 02000000 2000 00 01"+ // AF_INET, ifindex 2, NUD_FAILED, flags 0, RTN_UNICAST
		"0800 0100 0a4d0063") // NDA_DST 10.77.0.99, and no NDA_LLADDR
	if !bytes.Equal(b[:k], want) {
		t.Errorf("failure\n% x\nwant\n% x", b[:k], want)
	}
	k, err = rtnl.PutNeighReplace(b[:], 0x01020304, &n, unix.NUD_REACHABLE, cacheMAC[:])
	if err != nil {
		t.Fatal(err)
	}
	want = leHex(t, "30000000 1c00 0101 04030201 00000000"+ // len 48, RTM_NEWNEIGH, NLM_F_REQUEST|NLM_F_REPLACE, seq, pid 0
		"02 00 0000 02000000 0200 00 01"+ // AF_INET, ifindex 2, NUD_REACHABLE, flags 0, RTN_UNICAST
		"0800 0100 0a4d0063"+ // NDA_DST 10.77.0.99
		"0a00 0200 020000000303 0000") // NDA_LLADDR and padding
	if !bytes.Equal(b[:k], want) {
		t.Errorf("replace\n% x\nwant\n% x", b[:k], want)
	}
	k, err = rtnl.PutNeighDump(b[:], 7, unix.AF_INET)
	if want := leHex(t, "1c000000 1e00 0103 07000000 00000000 02000000 00000000 00000000"); err != nil || !bytes.Equal(b[:k], want) {
		t.Errorf("neighbour dump\n% x\nwant\n% x (%v)", b[:k], want, err)
	}
	k, err = rtnl.PutNeighDump(b[:], 8, unix.AF_INET6)
	if err != nil || b[hdrLen] != unix.AF_INET6 || k != 28 {
		t.Errorf("IPv6 dump: % x %v", b[:k], err)
	}
	var lb [rtnl.DumpMsgMax]byte
	k, err = rtnl.PutLinkDump(lb[:], 9)
	if want := leHex(t, "20000000 1200 0103 09000000 00000000 00000000 00000000 00000000 00000000"); err != nil || !bytes.Equal(lb[:k], want) {
		t.Errorf("link dump\n% x\nwant\n% x (%v)", lb[:k], want, err)
	}

	// Errors: short buffers and bad input.
	if _, err := rtnl.PutNeighAnswer(b[:47], 1, &n, cacheMAC[:]); err != rtnl.ErrShortBuffer {
		t.Errorf("short buffer: %v", err)
	}
	if _, err := rtnl.PutNeighAnswer(b[:], 1, &n, make([]byte, 9)); err != rtnl.ErrBadInput {
		t.Errorf("9-byte lladdr: %v", err)
	}
	if _, err := rtnl.PutNeighAnswer(b[:], 1, &n, nil); err != rtnl.ErrBadInput {
		t.Errorf("no lladdr: %v", err)
	}
	if _, err := rtnl.PutNeighAnswer(b[:], 1, &rtnl.Neigh{Family: unix.AF_INET}, cacheMAC[:]); err != rtnl.ErrBadInput {
		t.Errorf("no dst: %v", err)
	}
	if _, err := rtnl.PutNeighFailure(b[:35], 1, &n); err != rtnl.ErrShortBuffer {
		t.Errorf("short failure buffer: %v", err)
	}
	if _, err := rtnl.PutNeighFailure(b[:], 1, &rtnl.Neigh{Family: unix.AF_INET}); err != rtnl.ErrBadInput {
		t.Errorf("failure without dst: %v", err)
	}
	if _, err := rtnl.PutNeighReplace(b[:47], 1, &n, unix.NUD_STALE, cacheMAC[:]); err != rtnl.ErrShortBuffer {
		t.Errorf("short replace buffer: %v", err)
	}
	for _, bad := range []struct {
		what   string
		to     *rtnl.Neigh
		state  uint16
		lladdr []byte
	}{
		{"no dst", &rtnl.Neigh{Family: unix.AF_INET}, unix.NUD_STALE, cacheMAC[:]},
		{"no lladdr", &n, unix.NUD_STALE, nil},
		{"9-byte lladdr", &n, unix.NUD_STALE, make([]byte, 9)},
		{"NUD_FAILED", &n, unix.NUD_FAILED, cacheMAC[:]},
		{"NUD_INCOMPLETE", &n, unix.NUD_INCOMPLETE, cacheMAC[:]},
		{"no state", &n, 0, cacheMAC[:]},
	} {
		if _, err := rtnl.PutNeighReplace(b[:], 1, bad.to, bad.state, bad.lladdr); err != rtnl.ErrBadInput {
			t.Errorf("replace with %s: %v", bad.what, err)
		}
	}
	if _, err := rtnl.PutNeighDump(b[:27], 1, unix.AF_INET); err != rtnl.ErrShortBuffer {
		t.Errorf("short dump buffer: %v", err)
	}
	if _, err := rtnl.PutLinkDump(lb[:31], 1); err != rtnl.ErrShortBuffer {
		t.Errorf("short link dump buffer: %v", err)
	}
	// The largest message fits NeighMsgMax exactly.
	big := rtnl.Neigh{Family: unix.AF_INET6, DstLen: 16, LLAddrLen: 8, HasProbes: true}
	if k, err := rtnl.PutNeigh(b[:], unix.RTM_NEWNEIGH, 0, 0, &big); err != nil || k != rtnl.NeighMsgMax {
		t.Errorf("largest message: %d %v", k, err)
	}
}

// TestRoundTrip encodes every captured neighbour and decodes it again.
func TestRoundTrip(t *testing.T) {
	for _, tc := range capturedNeighs {
		var b [rtnl.NeighMsgMax]byte
		n := tc.want
		k, err := rtnl.PutNeigh(b[:], n.MsgType, n.MsgFlags, n.Seq, &n)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		m := only(t, b[:k])
		var got rtnl.Neigh
		if err := rtnl.DecodeNeigh(&m, &got); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		n.Pid = 0
		if got != n {
			t.Errorf("%s: round trip\n %+v\nwant\n %+v", tc.file, got, n)
		}
	}
}

// BenchmarkAnswer decodes the kernel's RTM_GETNEIGH and encodes the answer,
// the daemon's path for a cache hit.
func BenchmarkAnswer(b *testing.B) {
	req := loadHex(b, "getneigh_incomplete")
	var out [rtnl.NeighMsgMax]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for i := 0; i < b.N; i++ {
		it := rtnl.Messages(req)
		var m rtnl.Msg
		var n rtnl.Neigh
		for it.Next(&m) {
			if rtnl.DecodeNeigh(&m, &n) != nil || n.State != unix.NUD_INCOMPLETE {
				b.Fatal("bad request")
			}
			if _, err := rtnl.PutNeighAnswer(out[:], 1, &n, cacheMAC[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestEncodeIPv6RouterAnswer checks the answer to an IPv6 request for a
// router byte for byte: family AF_INET6, a 16-byte NDA_DST, NTF_ROUTER in
// ndm_flags, and NLM_F_REPLACE, without which the kernel does not apply
// the flag to its INCOMPLETE entry (TestNDLabRouterFlag).
func TestEncodeIPv6RouterAnswer(t *testing.T) {
	n := rtnl.Neigh{MsgType: unix.RTM_GETNEIGH, Family: unix.AF_INET6, Ifindex: 2,
		State: unix.NUD_INCOMPLETE, Type: unix.RTN_UNICAST, DstLen: 16,
		Dst: [16]byte{0xfe, 0x80, 15: 0x09}}
	var b [rtnl.NeighMsgMax]byte
	k, err := rtnl.PutNeighAnswerFlags(b[:], 0x01020304, &n, cacheMAC[:], unix.NTF_ROUTER)
	if err != nil {
		t.Fatal(err)
	}
	want := leHex(t, "3c000000 1c00 0101 04030201 00000000"+ // len 60, RTM_NEWNEIGH, NLM_F_REQUEST|NLM_F_REPLACE, seq, pid 0
		"0a 00 0000 02000000 0400 80 01"+ // AF_INET6, ifindex 2, NUD_STALE, NTF_ROUTER, RTN_UNICAST
		"1400 0100 fe800000000000000000000000000009"+ // NDA_DST fe80::9
		"0a00 0200 020000000303 0000") // NDA_LLADDR and padding
	if !bytes.Equal(b[:k], want) {
		t.Errorf("answer\n% x\nwant\n% x", b[:k], want)
	}
	k, err = rtnl.PutNeighAnswer(b[:], 0x01020304, &n, cacheMAC[:])
	if hf := binary.NativeEndian.Uint16(b[6:8]); err != nil || b[headerLenForTest+10] != 0 || hf != unix.NLM_F_REQUEST || k != len(want) {
		t.Errorf("PutNeighAnswer: ndm_flags %#x, header flags %#x, %d bytes, %v; want none and NLM_F_REQUEST alone", b[headerLenForTest+10], hf, k, err)
	}
}

// headerLenForTest is the length of struct nlmsghdr.
const headerLenForTest = 16
