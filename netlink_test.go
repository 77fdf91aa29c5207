package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nlHostIsLE says whether this host is little-endian, as the machine that
// captured testdata/netlink was.
var nlHostIsLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// loadNetlinkHex reads testdata/netlink/name.hex (comment lines start with
// #) and returns the message in this host's byte order.
func loadNetlinkHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "netlink", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		h.WriteString(strings.TrimSpace(line))
	}
	b, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return nlFromLE(b)
}

// nlFromLE converts messages captured on a little-endian host to this
// host's byte order, so the unit tests also pass on big-endian MIPS. It
// swaps what the decoders read as host-order integers: message and
// top-level attribute headers, the fixed ndmsg/ifinfomsg/ifaddrmsg/nlmsgerr
// fields, NDA_PROBES, NDA_CACHEINFO, IFA_FLAGS and IFA_CACHEINFO. Nested attributes are left alone; nothing
// decodes them.
func nlFromLE(le []byte) []byte {
	b := bytes.Clone(le)
	if nlHostIsLE {
		return b
	}
	s16 := func(p []byte) { binary.BigEndian.PutUint16(p, binary.LittleEndian.Uint16(p)) }
	s32 := func(p []byte) { binary.BigEndian.PutUint32(p, binary.LittleEndian.Uint32(p)) }
	hdr := func(p []byte) { s32(p[0:]); s16(p[4:]); s16(p[6:]); s32(p[8:]); s32(p[12:]) }
	for off := 0; off+nlHeaderLen <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		typ := binary.LittleEndian.Uint16(b[off+4:])
		if n < nlHeaderLen || off+n > len(b) {
			break
		}
		hdr(b[off:])
		d := b[off+nlHeaderLen : off+n]
		attrs := func(a []byte, swapVal func(typ uint16, v []byte)) {
			for len(a) >= 4 {
				l := int(binary.LittleEndian.Uint16(a))
				at := binary.LittleEndian.Uint16(a[2:])
				if l < 4 || l > len(a) {
					break
				}
				s16(a[0:])
				s16(a[2:])
				swapVal(at&nlAttrTypeMask, a[4:l])
				a = a[min(nlAlign(l), len(a)):]
			}
		}
		switch typ {
		case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH, unix.RTM_GETNEIGH:
			if len(d) >= rtnlNdmsgLen {
				s32(d[4:])
				s16(d[8:])
				attrs(d[rtnlNdmsgLen:], func(at uint16, v []byte) {
					if at == unix.NDA_PROBES || at == unix.NDA_CACHEINFO {
						for i := 0; i+4 <= len(v); i += 4 {
							s32(v[i:])
						}
					}
				})
			}
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if len(d) >= rtnlIfinfoLen {
				s16(d[2:])
				s32(d[4:])
				s32(d[8:])
				s32(d[12:])
				attrs(d[rtnlIfinfoLen:], func(uint16, []byte) {})
			}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			if len(d) >= rtnlIfaddrLen {
				s32(d[4:])
				attrs(d[rtnlIfaddrLen:], func(at uint16, v []byte) {
					if at == unix.IFA_FLAGS || at == unix.IFA_CACHEINFO || at == unix.IFA_RT_PRIORITY {
						for i := 0; i+4 <= len(v); i += 4 {
							s32(v[i:])
						}
					}
				})
			}
		case unix.NLMSG_ERROR:
			if len(d) >= nlErrHeaderLen+nlHeaderLen {
				s32(d[0:])
				hdr(d[4:])
			}
		case unix.NLMSG_DONE:
			if len(d) >= 4 {
				s32(d[0:])
			}
		}
		off += nlAlign(n)
	}
	return b
}

// nlOnly frames b, which must hold exactly one message, and returns it.
func nlOnly(t testing.TB, b []byte) nlMsg {
	t.Helper()
	it := nlMessages(b)
	var m, extra nlMsg
	if !it.Next(&m) {
		t.Fatalf("no message: %v", it.Err())
	}
	if it.Next(&extra) || it.Err() != nil {
		t.Fatalf("more than one message (err %v)", it.Err())
	}
	return m
}

func ip4(a, b, c, d byte) (dst [16]byte) {
	dst[0], dst[1], dst[2], dst[3] = a, b, c, d
	return dst
}

func mac8(b ...byte) (m [8]byte) {
	copy(m[:], b)
	return m
}

// The neighbour messages captured by TestLabNetlinkCapture, every field.
// The lab's near interface vnear had ifindex 2.
var capturedNeighs = []struct {
	file string
	want rtnlNeigh
}{
	{"getneigh_incomplete", rtnlNeigh{
		MsgType: unix.RTM_GETNEIGH, MsgFlags: unix.NLM_F_REQUEST,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_INCOMPLETE, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 99), DstLen: 4,
		Probes: 3, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 6000, Refcnt: 1}, HasCacheinfo: true,
	}},
	{"newneigh_failed_probes", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH,
		Family:  unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 99), DstLen: 4,
		Probes: 5, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 6040, Used: 40, Refcnt: 1}, HasCacheinfo: true,
	}},
	{"newneigh_reachable", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH,
		Family:  unix.AF_INET, Ifindex: 2, State: unix.NUD_REACHABLE, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 2), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 2, 2), LLAddrLen: 6,
		Probes: 5, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Refcnt: 2}, HasCacheinfo: true,
	}},
	{"newneigh_answered", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d59,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_DELAY, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 3), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 3, 3), LLAddrLen: 6,
		Probes: 4, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 6000, Refcnt: 2}, HasCacheinfo: true,
	}},
	{"newneigh_stale", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d71,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_STALE, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 7), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 7, 7), LLAddrLen: 6,
		Probes: 0, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 6000, Refcnt: 1}, HasCacheinfo: true,
	}},
	{"newneigh_failed_del", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d72,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 2), DstLen: 4,
		Probes: 5, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 132, Used: 132, Updated: 132, Refcnt: 1}, HasCacheinfo: true,
	}},
	{"delneigh", rtnlNeigh{
		MsgType: unix.RTM_DELNEIGH,
		Family:  unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 2), DstLen: 4,
		Probes: 5, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 132, Used: 132, Updated: 132, Refcnt: 0}, HasCacheinfo: true,
	}},
	{"newneigh_failed_flush", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH, Pid: 0x2d73,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_FAILED, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 7), DstLen: 4,
		Probes: 0, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{Confirmed: 6099, Used: 99, Updated: 99, Refcnt: 1}, HasCacheinfo: true,
	}},
	{"dump_newneigh", rtnlNeigh{
		MsgType: unix.RTM_NEWNEIGH, MsgFlags: unix.NLM_F_MULTI, Seq: 3, Pid: 0x2d59,
		Family: unix.AF_INET, Ifindex: 2, State: unix.NUD_PERMANENT, Type: unix.RTN_UNICAST,
		Dst: ip4(10, 77, 0, 8), DstLen: 4,
		LLAddr: mac8(2, 0, 0, 0, 8, 8), LLAddrLen: 6,
		Probes: 0, HasProbes: true,
		Cacheinfo: rtnlCacheinfo{}, HasCacheinfo: true,
	}},
}

// TestNetlinkCapturedNeigh decodes every captured neighbour message and
// checks every field.
func TestNetlinkCapturedNeigh(t *testing.T) {
	for _, tc := range capturedNeighs {
		t.Run(tc.file, func(t *testing.T) {
			m := nlOnly(t, loadNetlinkHex(t, tc.file))
			var n rtnlNeigh
			if err := rtnlDecodeNeigh(&m, &n); err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("decoded\n %+v\nwant\n %+v", n, tc.want)
			}
		})
	}
}

// TestNetlinkResolutionFailed checks the failure test on the captured
// messages: only the timer's FAILED counts, not an administrator's delete
// or flush, whatever NDA_PROBES says.
func TestNetlinkResolutionFailed(t *testing.T) {
	for _, tc := range capturedNeighs {
		m := nlOnly(t, loadNetlinkHex(t, tc.file))
		var n rtnlNeigh
		if err := rtnlDecodeNeigh(&m, &n); err != nil {
			t.Fatal(err)
		}
		if got, want := rtnlResolutionFailed(&n), tc.file == "newneigh_failed_probes"; got != want {
			t.Errorf("%s: rtnlResolutionFailed = %v, want %v", tc.file, got, want)
		}
	}
}

// TestNetlinkCapturedLink decodes the captured link messages.
func TestNetlinkCapturedLink(t *testing.T) {
	name := func(s string) (b [16]byte) {
		copy(b[:], s)
		return b
	}
	base := rtnlLink{
		Family: unix.AF_UNSPEC, HWType: unix.ARPHRD_ETHER, Ifindex: 4,
		Name: name("vcap0"), NameLen: 5,
		Addr: mac8(2, 0, 0, 0, 0x0c, 0), AddrLen: 6,
	}
	newlink := base
	newlink.MsgType = unix.RTM_NEWLINK
	newlink.IfFlags = unix.IFF_BROADCAST | unix.IFF_MULTICAST
	newlink.Change = 0xffffffff
	up := base
	up.MsgType = unix.RTM_NEWLINK
	up.IfFlags = unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST
	up.Change = unix.IFF_UP
	del := base
	del.MsgType = unix.RTM_DELLINK
	del.IfFlags = unix.IFF_BROADCAST | unix.IFF_MULTICAST
	del.Change = 0xffffffff
	for _, tc := range []struct {
		file string
		want rtnlLink
	}{{"newlink", newlink}, {"newlink_up", up}, {"dellink", del}} {
		t.Run(tc.file, func(t *testing.T) {
			m := nlOnly(t, loadNetlinkHex(t, tc.file))
			var l rtnlLink
			if err := rtnlDecodeLink(&m, &l); err != nil {
				t.Fatal(err)
			}
			if l != tc.want {
				t.Errorf("decoded\n %+v\nwant\n %+v", l, tc.want)
			}
			if string(l.IfName()) != "vcap0" || len(l.HWAddr()) != 6 {
				t.Errorf("IfName %q HWAddr % x", l.IfName(), l.HWAddr())
			}
		})
	}
}

// TestNetlinkCapturedErrorDone decodes the kernel's error and done messages.
func TestNetlinkCapturedErrorDone(t *testing.T) {
	m := nlOnly(t, loadNetlinkHex(t, "error_enoent"))
	if m.Type != unix.NLMSG_ERROR || m.Flags != unix.NLM_F_CAPPED || m.Seq != 2 || m.Pid != 0x2d59 {
		t.Errorf("error header %+v", m)
	}
	var e nlError
	if err := nlDecodeError(&m, &e); err != nil {
		t.Fatal(err)
	}
	if want := (nlError{Errno: unix.ENOENT, Seq: 2, Type: unix.RTM_NEWNEIGH}); e.Errno != want.Errno || e.Seq != want.Seq || e.Type != want.Type || e.Pid != 0 || e.Msg != nil {
		t.Errorf("error %+v, want %+v", e, want)
	}
	d := nlOnly(t, loadNetlinkHex(t, "done"))
	if d.Type != unix.NLMSG_DONE || d.Flags != unix.NLM_F_MULTI || d.Seq != 3 {
		t.Errorf("done header %+v", d)
	}
	if errno, err := nlDecodeDone(&d); err != nil || errno != 0 {
		t.Errorf("done: %v %v", errno, err)
	}
	if _, err := nlDecodeDone(&m); err != nlReasonWrongType {
		t.Errorf("nlDecodeDone(error) = %v", err)
	}
	if err := nlDecodeError(&d, &e); err != nlReasonWrongType {
		t.Errorf("nlDecodeError(done) = %v", err)
	}
}

// TestNetlinkExtAck decodes an error with an extended acknowledgement, as
// the kernel builds it (NLM_F_CAPPED|NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG).
func TestNetlinkExtAck(t *testing.T) {
	b := make([]byte, 0, 64)
	msg := "no such entry\x00"
	size := nlHeaderLen + 4 + nlHeaderLen + nlAttrHeaderLen + nlAlign(len(msg))
	b = binary.NativeEndian.AppendUint32(b, uint32(size))
	b = binary.NativeEndian.AppendUint16(b, unix.NLMSG_ERROR)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS)
	b = binary.NativeEndian.AppendUint32(b, 9)
	b = binary.NativeEndian.AppendUint32(b, 77)
	einval := -int32(unix.EINVAL)
	b = binary.NativeEndian.AppendUint32(b, uint32(einval))
	b = binary.NativeEndian.AppendUint32(b, 48) // the request's length
	b = binary.NativeEndian.AppendUint16(b, unix.RTM_NEWNEIGH)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST)
	b = binary.NativeEndian.AppendUint32(b, 9)
	b = binary.NativeEndian.AppendUint32(b, 77)
	b = binary.NativeEndian.AppendUint16(b, uint16(nlAttrHeaderLen+len(msg)))
	b = binary.NativeEndian.AppendUint16(b, unix.NLMSGERR_ATTR_MSG)
	b = append(b, msg...)
	b = append(b, make([]byte, nlAlign(len(msg))-len(msg))...)
	m := nlOnly(t, b)
	var e nlError
	if err := nlDecodeError(&m, &e); err != nil {
		t.Fatal(err)
	}
	if e.Errno != unix.EINVAL || e.Seq != 9 || e.Pid != 77 || string(e.Msg) != "no such entry" {
		t.Errorf("ext ack: %+v %q", e, e.Msg)
	}
	// Uncapped: the TLVs come after the whole request, whose length
	// must fit.
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_ACK_TLVS)
	m = nlOnly(t, b)
	if err := nlDecodeError(&m, &e); err != nlReasonBadLength {
		t.Errorf("uncapped with a lying request length: %v", err)
	}
}

// nlConcat joins messages as the kernel packs them into one datagram.
func nlConcat(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
		b = append(b, make([]byte, nlAlign(len(m))-len(m))...)
	}
	return b
}

// TestNetlinkIter frames a datagram of several messages, then every
// truncation of it, and a lying length.
func TestNetlinkIter(t *testing.T) {
	msgs := [][]byte{
		loadNetlinkHex(t, "dump_newneigh"),
		loadNetlinkHex(t, "newlink"),
		loadNetlinkHex(t, "done"),
	}
	b := nlConcat(msgs...)
	it := nlMessages(b)
	var m nlMsg
	var types []uint16
	for it.Next(&m) {
		types = append(types, m.Type)
	}
	if it.Err() != nil || len(types) != 3 || types[0] != unix.RTM_NEWNEIGH || types[1] != unix.RTM_NEWLINK || types[2] != unix.NLMSG_DONE {
		t.Fatalf("types %v err %v", types, it.Err())
	}
	// Every prefix: whole messages before the cut, then a reason.
	for cut := 0; cut < len(b); cut++ {
		it := nlMessages(b[:cut])
		count := 0
		for it.Next(&m) {
			count++
			if count > 3 {
				t.Fatalf("cut %d: too many messages", cut)
			}
		}
		if cut == 0 && it.Err() != nil {
			t.Errorf("empty buffer: %v", it.Err())
		}
		if cut > 0 && cut != len(msgs[0]) && cut != len(msgs[0])+len(msgs[1]) && it.Err() == nil {
			t.Errorf("cut %d: no error", cut)
		}
		if err := it.Err(); err != nil && err != nlReasonShortHeader && err != nlReasonBadLength {
			t.Errorf("cut %d: %v", cut, err)
		}
	}
	// A length that points past the buffer, and one below a header.
	for _, n := range []uint32{uint32(len(b) + 1), 0xffffffff, 15, 0} {
		c := bytes.Clone(b)
		binary.NativeEndian.PutUint32(c[0:4], n)
		it := nlMessages(c)
		if it.Next(&m) || it.Err() != nlReasonBadLength {
			t.Errorf("nlmsg_len %d: err %v", n, it.Err())
		}
		if nlReasonOf(it.Err()) != nlReasonBadLength {
			t.Errorf("nlReasonOf = %v", nlReasonOf(it.Err()))
		}
	}
	// The last message may lack its padding.
	d := loadNetlinkHex(t, "newlink")[:nlHeaderLen+rtnlIfinfoLen+3]
	binary.NativeEndian.PutUint32(d[0:4], uint32(len(d)))
	it = nlMessages(d)
	if !it.Next(&m) || it.Next(&m) || it.Err() != nil {
		t.Errorf("unpadded last message: %v", it.Err())
	}
}

// nlNeighWith builds a neighbour message from an ndmsg and raw attributes.
func nlNeighWith(typ uint16, family uint8, attrs ...[]byte) []byte {
	b := make([]byte, nlHeaderLen+rtnlNdmsgLen)
	b[nlHeaderLen] = family
	binary.NativeEndian.PutUint32(b[nlHeaderLen+4:], 2)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	return b
}

// nlFixLen sets nlmsg_len of the message b to len(b).
func nlFixLen(b []byte) []byte {
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	return b
}

// nlAttr builds an attribute with its padding; a negative length fixes the
// header's length field to -length instead of the true one.
func nlAttr(typ uint16, val []byte, lie int) []byte {
	n := nlAttrHeaderLen + len(val)
	b := make([]byte, nlAlign(n))
	if lie != 0 {
		n = lie
	}
	binary.NativeEndian.PutUint16(b[0:2], uint16(n))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], val)
	return b
}

func TestNetlinkNeighMalformed(t *testing.T) {
	dst4 := nlAttr(unix.NDA_DST, []byte{10, 0, 0, 1}, 0)
	for _, tc := range []struct {
		name string
		msg  []byte
		want nlReason
	}{
		{"short ndmsg", nlFixLen(nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET)[:nlHeaderLen+8]), nlReasonShortPayload},
		{"wrong type", nlNeighWith(unix.RTM_NEWLINK, unix.AF_INET), nlReasonWrongType},
		{"attr len below header", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, nlAttr(unix.NDA_DST, []byte{10, 0, 0, 1}, 3)), nlReasonBadAttr},
		{"attr len past message", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, nlAttr(unix.NDA_DST, []byte{10, 0, 0, 1}, 9)), nlReasonBadAttr},
		{"attr header cut", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4[:2]), nlReasonBadAttr},
		{"dst 3 bytes", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, nlAttr(unix.NDA_DST, []byte{10, 0, 0}, 0)), nlReasonBadDst},
		{"dst 16 bytes for AF_INET", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, nlAttr(unix.NDA_DST, make([]byte, 16), 0)), nlReasonBadDst},
		{"dst 4 bytes for AF_INET6", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET6, dst4), nlReasonBadDst},
		{"dst 5 bytes for AF_BRIDGE", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_BRIDGE, nlAttr(unix.NDA_DST, make([]byte, 5), 0)), nlReasonBadDst},
		{"lladdr 20 bytes", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, nlAttr(unix.NDA_LLADDR, make([]byte, 20), 0)), nlReasonLongLLAddr},
		{"probes 2 bytes", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, nlAttr(unix.NDA_PROBES, []byte{1, 0}, 0)), nlReasonBadProbes},
		{"probes 8 bytes", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, nlAttr(unix.NDA_PROBES, make([]byte, 8), 0)), nlReasonBadProbes},
		{"cacheinfo 12 bytes", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, nlAttr(unix.NDA_CACHEINFO, make([]byte, 12), 0)), nlReasonBadCacheinfo},
		{"two dst", nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, dst4, dst4), nlReasonDupAttr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := nlOnly(t, tc.msg)
			var n rtnlNeigh
			err := rtnlDecodeNeigh(&m, &n)
			if err != tc.want {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if n.DstLen != 0 || n.LLAddrLen != 0 || n.HasProbes || n.HasCacheinfo {
				t.Errorf("rejected message left attributes behind: %+v", n)
			}
			if !errors.Is(err, tc.want) || err.Error() == "" {
				t.Errorf("error %q", err)
			}
		})
	}
	// Accepted: an IPv6 neighbour, an 8-byte lladdr, an unknown and a
	// flagged attribute, a cacheinfo longer than today's.
	m := nlOnly(t, nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET6,
		nlAttr(unix.NDA_DST|unix.NLA_F_NET_BYTEORDER, bytes.Repeat([]byte{0xfe}, 16), 0),
		nlAttr(unix.NDA_LLADDR, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0),
		nlAttr(12, []byte{4}, 0), // NDA_PROTOCOL,
		nlAttr(unix.NDA_CACHEINFO, make([]byte, 20), 0)))
	var n rtnlNeigh
	if err := rtnlDecodeNeigh(&m, &n); err != nil || n.DstLen != 16 || n.LLAddrLen != 8 || !n.HasCacheinfo || n.HasProbes {
		t.Errorf("IPv6 neighbour: %v %+v", err, n)
	}
}

func TestNetlinkLinkMalformed(t *testing.T) {
	link := func(attrs ...[]byte) []byte {
		b := make([]byte, nlHeaderLen+rtnlIfinfoLen)
		binary.NativeEndian.PutUint16(b[nlHeaderLen+2:], unix.ARPHRD_INFINIBAND)
		binary.NativeEndian.PutUint32(b[nlHeaderLen+4:], 7)
		for _, a := range attrs {
			b = append(b, a...)
		}
		binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
		binary.NativeEndian.PutUint16(b[4:6], unix.RTM_NEWLINK)
		return b
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want nlReason
	}{
		{"short ifinfomsg", nlFixLen(link()[:nlHeaderLen+12]), nlReasonShortPayload},
		{"empty name", link(nlAttr(unix.IFLA_IFNAME, []byte{0}, 0)), nlReasonBadIfName},
		{"16-byte name", link(nlAttr(unix.IFLA_IFNAME, []byte("abcdefghijklmnop"), 0)), nlReasonBadIfName},
		{"two names", link(nlAttr(unix.IFLA_IFNAME, []byte("a\x00"), 0), nlAttr(unix.IFLA_IFNAME, []byte("b\x00"), 0)), nlReasonDupAttr},
		{"bad attr", link(nlAttr(unix.IFLA_IFNAME, []byte("a\x00"), 200)), nlReasonBadAttr},
	} {
		m := nlOnly(t, tc.msg)
		var l rtnlLink
		if err := rtnlDecodeLink(&m, &l); err != tc.want || l.NameLen != 0 {
			t.Errorf("%s: %v, want %v (%+v)", tc.name, err, tc.want, l)
		}
	}
	// InfiniBand: a 20-byte address is flagged, not kept, and the
	// message is still good.
	m := nlOnly(t, link(nlAttr(unix.IFLA_IFNAME, []byte("ib0\x00"), 0), nlAttr(unix.IFLA_ADDRESS, make([]byte, 20), 0)))
	var l rtnlLink
	if err := rtnlDecodeLink(&m, &l); err != nil || !l.AddrTooLong || l.AddrLen != 0 || string(l.IfName()) != "ib0" || l.Ifindex != 7 || l.HWType != unix.ARPHRD_INFINIBAND {
		t.Errorf("InfiniBand link: %v %+v", err, l)
	}
	// A name of 15 bytes without its NUL is taken.
	m = nlOnly(t, link(nlAttr(unix.IFLA_IFNAME, []byte("abcdefghijklmno"), 0)))
	if err := rtnlDecodeLink(&m, &l); err != nil || string(l.IfName()) != "abcdefghijklmno" {
		t.Errorf("15-byte name: %v %q", err, l.IfName())
	}
}

// leHex decodes a hex string of a message written in little-endian and
// returns it in host order.
func leHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return nlFromLE(b)
}

// TestNetlinkEncode checks the answer and the dump requests byte for byte.
func TestNetlinkEncode(t *testing.T) {
	req := nlOnly(t, loadNetlinkHex(t, "getneigh_incomplete"))
	var n rtnlNeigh
	if err := rtnlDecodeNeigh(&req, &n); err != nil {
		t.Fatal(err)
	}
	var b [rtnlNeighMsgMax]byte
	k, err := rtnlPutNeighAnswer(b[:], 0x01020304, &n, labCacheMAC[:])
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
	k, err = rtnlPutNeighDump(b[:], 7, unix.AF_INET)
	if want := leHex(t, "1c000000 1e00 0103 07000000 00000000 02000000 00000000 00000000"); err != nil || !bytes.Equal(b[:k], want) {
		t.Errorf("neighbour dump\n% x\nwant\n% x (%v)", b[:k], want, err)
	}
	k, err = rtnlPutNeighDump(b[:], 8, unix.AF_INET6)
	if err != nil || b[nlHeaderLen] != unix.AF_INET6 || k != 28 {
		t.Errorf("IPv6 dump: % x %v", b[:k], err)
	}
	var lb [rtnlDumpMsgMax]byte
	k, err = rtnlPutLinkDump(lb[:], 9)
	if want := leHex(t, "20000000 1200 0103 09000000 00000000 00000000 00000000 00000000 00000000"); err != nil || !bytes.Equal(lb[:k], want) {
		t.Errorf("link dump\n% x\nwant\n% x (%v)", lb[:k], want, err)
	}

	// Errors: short buffers and bad input.
	if _, err := rtnlPutNeighAnswer(b[:47], 1, &n, labCacheMAC[:]); err != nlReasonShortBuffer {
		t.Errorf("short buffer: %v", err)
	}
	if _, err := rtnlPutNeighAnswer(b[:], 1, &n, make([]byte, 9)); err != nlReasonBadInput {
		t.Errorf("9-byte lladdr: %v", err)
	}
	if _, err := rtnlPutNeighAnswer(b[:], 1, &n, nil); err != nlReasonBadInput {
		t.Errorf("no lladdr: %v", err)
	}
	if _, err := rtnlPutNeighAnswer(b[:], 1, &rtnlNeigh{Family: unix.AF_INET}, labCacheMAC[:]); err != nlReasonBadInput {
		t.Errorf("no dst: %v", err)
	}
	if _, err := rtnlPutNeighDump(b[:27], 1, unix.AF_INET); err != nlReasonShortBuffer {
		t.Errorf("short dump buffer: %v", err)
	}
	if _, err := rtnlPutLinkDump(lb[:31], 1); err != nlReasonShortBuffer {
		t.Errorf("short link dump buffer: %v", err)
	}
	// The largest message fits rtnlNeighMsgMax exactly.
	big := rtnlNeigh{Family: unix.AF_INET6, DstLen: 16, LLAddrLen: 8, HasProbes: true}
	if k, err := rtnlPutNeigh(b[:], unix.RTM_NEWNEIGH, 0, 0, &big); err != nil || k != rtnlNeighMsgMax {
		t.Errorf("largest message: %d %v", k, err)
	}
}

// TestNetlinkRoundTrip encodes every captured neighbour and decodes it again.
func TestNetlinkRoundTrip(t *testing.T) {
	for _, tc := range capturedNeighs {
		var b [rtnlNeighMsgMax]byte
		n := tc.want
		k, err := rtnlPutNeigh(b[:], n.MsgType, n.MsgFlags, n.Seq, &n)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		m := nlOnly(t, b[:k])
		var got rtnlNeigh
		if err := rtnlDecodeNeigh(&m, &got); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		n.Pid, n.Cacheinfo, n.HasCacheinfo = 0, rtnlCacheinfo{}, false
		if got != n {
			t.Errorf("%s: round trip\n %+v\nwant\n %+v", tc.file, got, n)
		}
	}
}

// TestNetlinkNoAllocs asserts that framing, decoding and encoding allocate
// nothing.
func TestNetlinkNoAllocs(t *testing.T) {
	var datagram []byte
	for _, f := range []string{"getneigh_incomplete", "newneigh_reachable", "newlink", "error_enoent", "done"} {
		datagram = append(datagram, loadNetlinkHex(t, f)...)
	}
	bad := nlNeighWith(unix.RTM_NEWNEIGH, unix.AF_INET, nlAttr(unix.NDA_LLADDR, make([]byte, 20), 0))
	var out [rtnlNeighMsgMax]byte
	var errs [nlReasonCount]int
	allocs := testing.AllocsPerRun(200, func() {
		it := nlMessages(datagram)
		var m nlMsg
		var n rtnlNeigh
		var l rtnlLink
		var e nlError
		for it.Next(&m) {
			switch m.Type {
			case unix.RTM_GETNEIGH, unix.RTM_NEWNEIGH:
				if err := rtnlDecodeNeigh(&m, &n); err != nil {
					errs[nlReasonOf(err)]++
				}
				if _, err := rtnlPutNeighAnswer(out[:], 1, &n, labCacheMAC[:]); err != nil {
					errs[nlReasonOf(err)]++
				}
			case unix.RTM_NEWLINK:
				rtnlDecodeLink(&m, &l)
			case unix.NLMSG_ERROR:
				nlDecodeError(&m, &e)
			case unix.NLMSG_DONE:
				nlDecodeDone(&m)
			}
		}
		it = nlMessages(bad)
		for it.Next(&m) {
			if err := rtnlDecodeNeigh(&m, &n); err != nil {
				errs[nlReasonOf(err)]++
			}
		}
		it = nlMessages(datagram[:20])
		for it.Next(&m) {
		}
		if it.Err() != nil {
			errs[nlReasonOf(it.Err())]++
		}
		rtnlPutNeighDump(out[:], 2, unix.AF_INET)
		rtnlPutLinkDump(out[:], 3)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
	if errs[nlReasonLongLLAddr] == 0 || errs[nlReasonBadLength] == 0 {
		t.Errorf("reasons not counted: %v", errs)
	}
}

// TestRtnlConnNoAlloc sends a link dump on a real socket (no root needed:
// reading the link table is allowed to anyone) and checks that sending and
// receiving allocate nothing and that the replies come from the kernel.
func TestRtnlConnNoAlloc(t *testing.T) {
	c, err := rtnlDial(0, 1<<20)
	if err != nil {
		t.Fatalf("rtnlDial: %v", err)
	}
	defer c.Close()
	if c.Port() == 0 {
		t.Errorf("port ID 0")
	}
	if v, err := unix.GetsockoptInt(c.Fd(), unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS); err != nil || v != 0 {
		t.Errorf("NETLINK_NO_ENOBUFS = %d (%v), want 0", v, err)
	}
	if rb, err := c.RcvBuf(); err != nil || rb < 1<<16 {
		t.Logf("receive buffer %d (%v)", rb, err)
	}
	var req [rtnlDumpMsgMax]byte
	links, failures := 0, 0
	allocs := testing.AllocsPerRun(20, func() {
		seq := c.NextSeq()
		k, _ := rtnlPutLinkDump(req[:], seq)
		if err := c.Send(req[:k]); err != nil {
			failures++
			return
		}
		// The kernel fills the queue during Send; bounded reads.
		for i := 0; i < 1000; i++ {
			b, err := c.Recv()
			if err != nil {
				failures++
				return
			}
			it := nlMessages(b)
			var m nlMsg
			for it.Next(&m) {
				if m.Seq != seq || m.Pid != c.Port() {
					failures++
				}
				if m.Type == unix.NLMSG_DONE {
					return
				}
				if m.Type == unix.RTM_NEWLINK {
					links++
				}
			}
		}
		failures++
	})
	if failures != 0 || links == 0 {
		t.Fatalf("%d failures, %d links", failures, links)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per dump, want 0", allocs)
	}
	if _, err := c.Recv(); err != unix.EAGAIN {
		t.Errorf("empty queue: %v, want EAGAIN", err)
	}
	if c.Stats.Datagrams == 0 || c.Stats.Bytes == 0 {
		t.Errorf("stats %+v", c.Stats)
	}
	if err := c.Close(); err != nil || c.Close() != nil {
		t.Errorf("close: %v", err)
	}
}

// BenchmarkNetlinkAnswer decodes the kernel's RTM_GETNEIGH and encodes the
// answer, the daemon's path for a cache hit.
func BenchmarkNetlinkAnswer(b *testing.B) {
	req := loadNetlinkHex(b, "getneigh_incomplete")
	var out [rtnlNeighMsgMax]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for i := 0; i < b.N; i++ {
		it := nlMessages(req)
		var m nlMsg
		var n rtnlNeigh
		for it.Next(&m) {
			if rtnlDecodeNeigh(&m, &n) != nil || n.State != unix.NUD_INCOMPLETE {
				b.Fatal("bad request")
			}
			if _, err := rtnlPutNeighAnswer(out[:], 1, &n, labCacheMAC[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestNetlinkControlTypes frames NLMSG_NOOP and NLMSG_OVERRUN, which carry
// no payload the decoders need, and checks that the decoders refuse them.
func TestNetlinkControlTypes(t *testing.T) {
	var b []byte
	for _, typ := range []uint16{unix.NLMSG_NOOP, unix.NLMSG_OVERRUN} {
		h := make([]byte, nlHeaderLen)
		binary.NativeEndian.PutUint32(h[0:4], nlHeaderLen)
		binary.NativeEndian.PutUint16(h[4:6], typ)
		b = append(b, h...)
	}
	it := nlMessages(b)
	var m nlMsg
	var types []uint16
	for it.Next(&m) {
		types = append(types, m.Type)
		var n rtnlNeigh
		var l rtnlLink
		var e nlError
		if rtnlDecodeNeigh(&m, &n) != nlReasonWrongType || rtnlDecodeLink(&m, &l) != nlReasonWrongType || nlDecodeError(&m, &e) != nlReasonWrongType {
			t.Errorf("type %d accepted by a decoder", m.Type)
		}
	}
	if it.Err() != nil || len(types) != 2 || types[1] != unix.NLMSG_OVERRUN {
		t.Errorf("types %v err %v", types, it.Err())
	}
}

// TestNetlinkCapturedAddr decodes the kernel's address notifications as
// TestLabNetlinkAddrCapture saved them, field by field.
func TestNetlinkCapturedAddr(t *testing.T) {
	base := rtnlAddr{MsgType: unix.RTM_NEWADDR, MsgFlags: 0, Seq: 0x6b0efefb, Family: unix.AF_INET, PrefixLen: 24,
		Ifindex: 2, Flags: unix.IFA_F_PERMANENT, HasLocal: true, HasAddress: true}
	primary := base
	primary.Pid = 0x5a52
	primary.Local, primary.Address = [4]byte{10, 62, 0, 1}, [4]byte{10, 62, 0, 1}
	secondary := base
	secondary.Pid = 0x5a53
	secondary.Flags |= unix.IFA_F_SECONDARY
	secondary.Local, secondary.Address = [4]byte{10, 62, 0, 5}, [4]byte{10, 62, 0, 5}
	peer := base
	peer.Pid, peer.PrefixLen, peer.Scope = 0x5a54, 32, rtScopeLink
	peer.Local, peer.Address = [4]byte{10, 63, 0, 1}, [4]byte{10, 63, 0, 2}
	del := secondary
	del.MsgType, del.Pid = unix.RTM_DELADDR, 0x5a55
	for _, tc := range []struct {
		file string
		want rtnlAddr
	}{{"newaddr", primary}, {"newaddr_secondary", secondary}, {"newaddr_peer", peer}, {"deladdr", del}} {
		t.Run(tc.file, func(t *testing.T) {
			b := loadNetlinkHex(t, tc.file)
			m := nlOnly(t, b)
			var a rtnlAddr
			if err := rtnlDecodeAddr(&m, &a); err != nil {
				t.Fatal(err)
			}
			if a != tc.want {
				t.Errorf("decoded\n %+v\nwant\n %+v", a, tc.want)
			}
			// NB: the 8-bit ifa_flags and the 32-bit IFA_FLAGS agree
			// on every flag the daemon reads.
			if uint32(b[nlHeaderLen+2]) != a.Flags&0xff {
				t.Errorf("ifa_flags %#x, IFA_FLAGS %#x", b[nlHeaderLen+2], a.Flags)
			}
		})
	}
}

// nlAddrWith builds an address message of type typ and family with the
// given prefix length on ifindex 3.
func nlAddrWith(typ uint16, family, prefixLen uint8, attrs ...[]byte) []byte {
	b := make([]byte, nlHeaderLen+rtnlIfaddrLen)
	b[nlHeaderLen] = family
	b[nlHeaderLen+1] = prefixLen
	b[nlHeaderLen+2] = unix.IFA_F_SECONDARY
	binary.NativeEndian.PutUint32(b[nlHeaderLen+4:], 3)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	return b
}

// TestNetlinkAddrMalformed checks that a malformed address message is
// rejected with its reason and keeps no address, and what is accepted.
func TestNetlinkAddrMalformed(t *testing.T) {
	ip := []byte{10, 0, 0, 1}
	flags := make([]byte, 4)
	binary.NativeEndian.PutUint32(flags, unix.IFA_F_PERMANENT)
	for _, tc := range []struct {
		name string
		msg  []byte
		want nlReason
	}{
		{"short ifaddrmsg", nlFixLen(nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24)[:nlHeaderLen+7]), nlReasonShortPayload},
		{"wrong type", nlAddrWith(unix.RTM_GETADDR, unix.AF_INET, 24), nlReasonWrongType},
		{"prefix 33", nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 33, nlAttr(unix.IFA_LOCAL, ip, 0)), nlReasonBadIfaAddr},
		{"16-byte local", nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, make([]byte, 16), 0)), nlReasonBadIfaAddr},
		{"3-byte address", nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, ip, 0), nlAttr(unix.IFA_ADDRESS, ip[:3], 0)), nlReasonBadIfaAddr},
		{"two locals", nlAddrWith(unix.RTM_DELADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, ip, 0), nlAttr(unix.IFA_LOCAL, ip, 0)), nlReasonDupAttr},
		{"2-byte flags", nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, ip, 0), nlAttr(unix.IFA_FLAGS, flags[:2], 0)), nlReasonBadIfaFlags},
		{"bad attr", nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, ip, 200)), nlReasonBadAttr},
	} {
		m := nlOnly(t, tc.msg)
		var a rtnlAddr
		if err := rtnlDecodeAddr(&m, &a); err != tc.want || a.HasLocal || a.HasAddress || a.Local != [4]byte{} || a.Address != [4]byte{} {
			t.Errorf("%s: %v, want %v (%+v)", tc.name, err, tc.want, a)
		}
	}
	// IFA_FLAGS wins over the 8-bit ifa_flags; unknown attributes are
	// skipped; IFA_ADDRESS alone is fine.
	m := nlOnly(t, nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 31, nlAttr(unix.IFA_LABEL, []byte("x\x00"), 0),
		nlAttr(unix.IFA_ADDRESS, ip, 0), nlAttr(unix.IFA_FLAGS, flags, 0)))
	var a rtnlAddr
	if err := rtnlDecodeAddr(&m, &a); err != nil || a.Flags != unix.IFA_F_PERMANENT || !a.HasAddress || a.HasLocal ||
		a.Address != [4]byte(ip) || a.PrefixLen != 31 || a.Ifindex != 3 {
		t.Errorf("address alone: %v %+v", err, a)
	}
	// An IPv6 message decodes its fixed fields and skips the 16-byte
	// addresses the IPv4 rules would reject.
	m = nlOnly(t, nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET6, 64, nlAttr(unix.IFA_ADDRESS, make([]byte, 16), 0)))
	if err := rtnlDecodeAddr(&m, &a); err != nil || a.Family != unix.AF_INET6 || a.PrefixLen != 64 || a.HasAddress {
		t.Errorf("IPv6 address: %v %+v", err, a)
	}
}

// TestNetlinkAddrDump checks the address dump request byte for byte, and
// that decoding addresses allocates nothing.
func TestNetlinkAddrDump(t *testing.T) {
	var b [rtnlDumpMsgMax]byte
	k, err := rtnlPutAddrDump(b[:], 10, unix.AF_INET)
	if want := leHex(t, "18000000 1600 0103 0a000000 00000000 02000000 00000000"); err != nil || !bytes.Equal(b[:k], want) {
		t.Errorf("address dump\n% x\nwant\n% x (%v)", b[:k], want, err)
	}
	if _, err := rtnlPutAddrDump(b[:23], 1, unix.AF_INET); err != nlReasonShortBuffer {
		t.Errorf("short address dump buffer: %v", err)
	}
	var datagram []byte
	for _, f := range []string{"newaddr", "newaddr_secondary", "newaddr_peer", "deladdr"} {
		datagram = append(datagram, loadNetlinkHex(t, f)...)
	}
	bad := nlAddrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, nlAttr(unix.IFA_LOCAL, make([]byte, 16), 0))
	var errs, good int
	allocs := testing.AllocsPerRun(200, func() {
		var m nlMsg
		var a rtnlAddr
		for _, d := range [][]byte{datagram, bad} {
			it := nlMessages(d)
			for it.Next(&m) {
				if err := rtnlDecodeAddr(&m, &a); err != nil {
					errs++
				} else {
					good++
				}
			}
		}
		rtnlPutAddrDump(b[:], 2, unix.AF_INET)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
	if errs == 0 || good != 4*errs {
		t.Errorf("%d decoded, %d rejected, want 4 to 1", good, errs)
	}
}

// TestRtnlPortFilter runs IgnorePort's program the way the kernel's
// classic BPF does (word loads are big-endian) over notifications in this
// machine's byte order, so that under qemu it is checked on big-endian
// mips too: a message from the port is dropped, from any other port or
// from the kernel kept whole, and a datagram too short to hold a header
// dropped.
func TestRtnlPortFilter(t *testing.T) {
	run := func(prog [4]unix.SockFilter, pkt []byte) uint32 {
		var a uint32
		for pc := 0; pc < len(prog); pc++ {
			in := prog[pc]
			switch in.Code {
			case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
				if int(in.K)+4 > len(pkt) {
					return 0 // the kernel ends the program: drop
				}
				a = binary.BigEndian.Uint32(pkt[in.K:])
			case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
				if a == in.K {
					pc += int(in.Jt)
				} else {
					pc += int(in.Jf)
				}
			case unix.BPF_RET | unix.BPF_K:
				return in.K
			default:
				t.Fatalf("instruction %d: code %#x this test does not know", pc, in.Code)
			}
		}
		t.Fatal("the program ran off its end")
		return 0
	}
	msg := func(pid uint32) []byte {
		var b [nlHeaderLen + rtnlNdmsgLen]byte
		nlPutHeader(b[:], len(b), unix.RTM_NEWNEIGH, 0, 7)
		binary.NativeEndian.PutUint32(b[12:16], pid)
		return b[:]
	}
	for _, port := range []uint32{1, 0x1234, 0xdeadbeef, 3141592653} {
		prog := rtnlPortFilter(port)
		if got := run(prog, msg(port)); got != 0 {
			t.Errorf("port %#x: its own notification kept (%d), want dropped", port, got)
		}
		for _, other := range []uint32{0, port + 1, port ^ 0xff000000} {
			if got := run(prog, msg(other)); got < uint32(len(msg(other))) {
				t.Errorf("port %#x: a notification from %#x kept %d bytes, want all", port, other, got)
			}
		}
		if got := run(prog, msg(port)[:12]); got != 0 {
			t.Errorf("port %#x: a 12-byte datagram kept, want dropped", port)
		}
	}
}
