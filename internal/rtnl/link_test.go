package rtnl_test

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// TestCapturedLink decodes the captured link messages.
func TestCapturedLink(t *testing.T) {
	name := func(s string) (b [16]byte) {
		copy(b[:], s)
		return b
	}
	base := rtnl.Link{
		Ifindex: 4,
		Name:    name("vcap0"), NameLen: 5,
		Addr: mac8(2, 0, 0, 0, 0x0c, 0), AddrLen: 6,
	}
	newlink := base
	newlink.MsgType = unix.RTM_NEWLINK
	up := base
	up.MsgType = unix.RTM_NEWLINK
	del := base
	del.MsgType = unix.RTM_DELLINK
	for _, tc := range []struct {
		file string
		want rtnl.Link
	}{{"newlink", newlink}, {"newlink_up", up}, {"dellink", del}} {
		t.Run(tc.file, func(t *testing.T) {
			m := only(t, loadHex(t, tc.file))
			var l rtnl.Link
			if err := rtnl.DecodeLink(&m, &l); err != nil {
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

func TestLinkMalformed(t *testing.T) {
	link := func(attrs ...[]byte) []byte {
		b := make([]byte, hdrLen+ifinfoLen)
		binary.NativeEndian.PutUint16(b[hdrLen+2:], unix.ARPHRD_INFINIBAND)
		binary.NativeEndian.PutUint32(b[hdrLen+4:], 7)
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
		want error
	}{
		{"short ifinfomsg", fixLen(link()[:hdrLen+12]), rtnl.ErrShortPayload},
		{"empty name", link(attr(unix.IFLA_IFNAME, []byte{0}, 0)), rtnl.ErrBadIfName},
		{"16-byte name", link(attr(unix.IFLA_IFNAME, []byte("abcdefghijklmnop"), 0)), rtnl.ErrBadIfName},
		{"two names", link(attr(unix.IFLA_IFNAME, []byte("a\x00"), 0), attr(unix.IFLA_IFNAME, []byte("b\x00"), 0)), rtnl.ErrDupAttr},
		{"bad attr", link(attr(unix.IFLA_IFNAME, []byte("a\x00"), 200)), rtnl.ErrBadAttr},
	} {
		m := only(t, tc.msg)
		var l rtnl.Link
		if err := rtnl.DecodeLink(&m, &l); err != tc.want || l.NameLen != 0 {
			t.Errorf("%s: %v, want %v (%+v)", tc.name, err, tc.want, l)
		}
	}
	// InfiniBand: a 20-byte address is flagged, not kept, and the
	// message is still good.
	m := only(t, link(attr(unix.IFLA_IFNAME, []byte("ib0\x00"), 0), attr(unix.IFLA_ADDRESS, make([]byte, 20), 0)))
	var l rtnl.Link
	if err := rtnl.DecodeLink(&m, &l); err != nil || !l.AddrTooLong || l.AddrLen != 0 || string(l.IfName()) != "ib0" || l.Ifindex != 7 {
		t.Errorf("InfiniBand link: %v %+v", err, l)
	}
	// A name of 15 bytes without its NUL is taken.
	m = only(t, link(attr(unix.IFLA_IFNAME, []byte("abcdefghijklmno"), 0)))
	if err := rtnl.DecodeLink(&m, &l); err != nil || string(l.IfName()) != "abcdefghijklmno" {
		t.Errorf("15-byte name: %v %q", err, l.IfName())
	}
}
