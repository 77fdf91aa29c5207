package rtnl_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// rtScopeLink is RT_SCOPE_LINK.
const rtScopeLink = 253

// TestCapturedAddr decodes the kernel's address notifications as the root's
// TestLabNetlinkAddrCapture saved them, field by field.
func TestCapturedAddr(t *testing.T) {
	base := rtnl.Addr{MsgType: unix.RTM_NEWADDR, MsgFlags: 0, Seq: 0x6b0efefb, Family: unix.AF_INET, PrefixLen: 24,
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
		want rtnl.Addr
	}{{"newaddr", primary}, {"newaddr_secondary", secondary}, {"newaddr_peer", peer}, {"deladdr", del}} {
		t.Run(tc.file, func(t *testing.T) {
			b := loadHex(t, tc.file)
			m := only(t, b)
			var a rtnl.Addr
			if err := rtnl.DecodeAddr(&m, &a); err != nil {
				t.Fatal(err)
			}
			if a != tc.want {
				t.Errorf("decoded\n %+v\nwant\n %+v", a, tc.want)
			}
			// NB: the 8-bit ifa_flags and the 32-bit IFA_FLAGS agree
			// on every flag the daemon reads.
			if uint32(b[hdrLen+2]) != a.Flags&0xff {
				t.Errorf("ifa_flags %#x, IFA_FLAGS %#x", b[hdrLen+2], a.Flags)
			}
		})
	}
}

// TestCapturedAddr6 decodes the kernel's IPv6 address notifications as
// the root's TestLabNetlinkAddr6Capture saved them, field by field: the
// address in Address6 alone unless there is a peer, and the flags of
// duplicate address detection.
func TestCapturedAddr6(t *testing.T) {
	ip := func(last byte, net byte) [16]byte { return [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, net, 15: last} }
	base := rtnl.Addr{MsgType: unix.RTM_NEWADDR, Family: unix.AF_INET6, PrefixLen: 64, Ifindex: 2,
		Flags: unix.IFA_F_PERMANENT, HasAddress: true, Address6: ip(1, 0x62)}
	tentative := base
	tentative.Flags |= unix.IFA_F_TENTATIVE
	peer := base
	peer.PrefixLen, peer.Flags, peer.HasLocal = 128, unix.IFA_F_PERMANENT|unix.IFA_F_NODAD, true
	peer.Local6, peer.Address6 = ip(1, 0x63), ip(2, 0x63)
	failed := base
	failed.Flags |= unix.IFA_F_TENTATIVE | unix.IFA_F_DADFAILED
	failed.Address6 = ip(1, 0x64)
	del := base
	del.MsgType = unix.RTM_DELADDR
	for _, tc := range []struct {
		file string
		want rtnl.Addr
	}{{"newaddr6_tentative", tentative}, {"newaddr6", base}, {"newaddr6_peer", peer}, {"newaddr6_dadfailed", failed}, {"deladdr6", del}} {
		t.Run(tc.file, func(t *testing.T) {
			m := only(t, loadHex(t, tc.file))
			var a rtnl.Addr
			if err := rtnl.DecodeAddr(&m, &a); err != nil {
				t.Fatal(err)
			}
			if a != tc.want {
				t.Errorf("decoded\n %+v\nwant\n %+v", a, tc.want)
			}
		})
	}
}

// TestAddrMalformed checks that a malformed address message is rejected
// with its reason and keeps no address, and what is accepted.
func TestAddrMalformed(t *testing.T) {
	ip := []byte{10, 0, 0, 1}
	flags := make([]byte, 4)
	binary.NativeEndian.PutUint32(flags, unix.IFA_F_PERMANENT)
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"short ifaddrmsg", fixLen(addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24)[:hdrLen+7]), rtnl.ErrShortPayload},
		{"wrong type", addrWith(unix.RTM_GETADDR, unix.AF_INET, 24), rtnl.ErrWrongType},
		{"prefix 33", addrWith(unix.RTM_NEWADDR, unix.AF_INET, 33, attr(unix.IFA_LOCAL, ip, 0)), rtnl.ErrBadAddr},
		{"16-byte local", addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, make([]byte, 16), 0)), rtnl.ErrBadAddr},
		{"3-byte address", addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, ip, 0), attr(unix.IFA_ADDRESS, ip[:3], 0)), rtnl.ErrBadAddr},
		{"two locals", addrWith(unix.RTM_DELADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, ip, 0), attr(unix.IFA_LOCAL, ip, 0)), rtnl.ErrDupAttr},
		{"2-byte flags", addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, ip, 0), attr(unix.IFA_FLAGS, flags[:2], 0)), rtnl.ErrBadAddrFlags},
		{"bad attr", addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, ip, 200)), rtnl.ErrBadAttr},
	} {
		m := only(t, tc.msg)
		var a rtnl.Addr
		if err := rtnl.DecodeAddr(&m, &a); err != tc.want || a.HasLocal || a.HasAddress || a.Local != [4]byte{} || a.Address != [4]byte{} {
			t.Errorf("%s: %v, want %v (%+v)", tc.name, err, tc.want, a)
		}
	}
	// IFA_FLAGS wins over the 8-bit ifa_flags; unknown attributes are
	// skipped; IFA_ADDRESS alone is fine.
	m := only(t, addrWith(unix.RTM_NEWADDR, unix.AF_INET, 31, attr(unix.IFA_LABEL, []byte("x\x00"), 0),
		attr(unix.IFA_ADDRESS, ip, 0), attr(unix.IFA_FLAGS, flags, 0)))
	var a rtnl.Addr
	if err := rtnl.DecodeAddr(&m, &a); err != nil || a.Flags != unix.IFA_F_PERMANENT || !a.HasAddress || a.HasLocal ||
		a.Address != [4]byte(ip) || a.PrefixLen != 31 || a.Ifindex != 3 {
		t.Errorf("address alone: %v %+v", err, a)
	}
	// Another family decodes its fixed fields and skips its attributes.
	m = only(t, addrWith(unix.RTM_NEWADDR, unix.AF_PACKET, 200, attr(unix.IFA_ADDRESS, ip[:3], 0)))
	if err := rtnl.DecodeAddr(&m, &a); err != nil || a.Family != unix.AF_PACKET || a.PrefixLen != 200 || a.HasAddress {
		t.Errorf("AF_PACKET address: %v %+v", err, a)
	}
}

// TestAddr6 checks the decoding of IPv6 address messages: the 16-byte
// addresses in Local6 and Address6, the IPv4 fields left zero, the flags
// of duplicate address detection, and what is rejected.
func TestAddr6(t *testing.T) {
	ip := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	peer := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
	flags := make([]byte, 4)
	binary.NativeEndian.PutUint32(flags, unix.IFA_F_TENTATIVE|unix.IFA_F_PERMANENT|unix.IFA_F_NOPREFIXROUTE)
	m := only(t, addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 128, attr(unix.IFA_ADDRESS, ip[:], 0), attr(unix.IFA_FLAGS, flags, 0)))
	var a rtnl.Addr
	if err := rtnl.DecodeAddr(&m, &a); err != nil || !a.HasAddress || a.HasLocal || a.Address6 != ip || a.Local6 != [16]byte{} ||
		a.Address != [4]byte{} || a.PrefixLen != 128 || a.Flags != unix.IFA_F_TENTATIVE|unix.IFA_F_PERMANENT|unix.IFA_F_NOPREFIXROUTE {
		t.Errorf("IPv6 address alone: %v %+v", err, a)
	}
	m = only(t, addrWith(unix.RTM_DELADDR, unix.AF_INET6, 64, attr(unix.IFA_LOCAL, ip[:], 0), attr(unix.IFA_ADDRESS, peer[:], 0)))
	if err := rtnl.DecodeAddr(&m, &a); err != nil || !a.HasAddress || !a.HasLocal || a.Local6 != ip || a.Address6 != peer ||
		a.Local != [4]byte{} || a.MsgType != unix.RTM_DELADDR || a.Flags != unix.IFA_F_SECONDARY {
		t.Errorf("IPv6 address with a peer: %v %+v", err, a)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"prefix 129", addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 129, attr(unix.IFA_ADDRESS, ip[:], 0)), rtnl.ErrBadAddr},
		{"4-byte address", addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 64, attr(unix.IFA_ADDRESS, ip[:4], 0)), rtnl.ErrBadAddr},
		{"17-byte local", addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 64, attr(unix.IFA_ADDRESS, ip[:], 0), attr(unix.IFA_LOCAL, make([]byte, 17), 0)), rtnl.ErrBadAddr},
		{"two addresses", addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 64, attr(unix.IFA_ADDRESS, ip[:], 0), attr(unix.IFA_ADDRESS, peer[:], 0)), rtnl.ErrDupAttr},
		{"3-byte flags", addrWith(unix.RTM_NEWADDR, unix.AF_INET6, 64, attr(unix.IFA_ADDRESS, ip[:], 0), attr(unix.IFA_FLAGS, flags[:3], 0)), rtnl.ErrBadAddrFlags},
	} {
		m := only(t, tc.msg)
		if err := rtnl.DecodeAddr(&m, &a); err != tc.want || a.HasLocal || a.HasAddress || a.Local6 != [16]byte{} || a.Address6 != [16]byte{} {
			t.Errorf("%s: %v, want %v (%+v)", tc.name, err, tc.want, a)
		}
	}
}

// TestAddrDump checks the address dump request byte for byte, and that
// decoding addresses of both families allocates nothing.
func TestAddrDump(t *testing.T) {
	var b [rtnl.DumpMsgMax]byte
	k, err := rtnl.PutAddrDump(b[:], 10, unix.AF_INET)
	if want := leHex(t, "18000000 1600 0103 0a000000 00000000 02000000 00000000"); err != nil || !bytes.Equal(b[:k], want) {
		t.Errorf("address dump\n% x\nwant\n% x (%v)", b[:k], want, err)
	}
	if _, err := rtnl.PutAddrDump(b[:23], 1, unix.AF_INET); err != rtnl.ErrShortBuffer {
		t.Errorf("short address dump buffer: %v", err)
	}
	var datagram []byte
	for _, f := range []string{"newaddr", "newaddr_secondary", "newaddr_peer", "deladdr", "newaddr6", "newaddr6_peer", "deladdr6"} {
		datagram = append(datagram, loadHex(t, f)...)
	}
	bad := addrWith(unix.RTM_NEWADDR, unix.AF_INET, 24, attr(unix.IFA_LOCAL, make([]byte, 16), 0))
	var errs, good int
	allocs := testing.AllocsPerRun(200, func() {
		var m rtnl.Msg
		var a rtnl.Addr
		for _, d := range [][]byte{datagram, bad} {
			it := rtnl.Messages(d)
			for it.Next(&m) {
				if err := rtnl.DecodeAddr(&m, &a); err != nil {
					errs++
				} else {
					good++
				}
			}
		}
		rtnl.PutAddrDump(b[:], 2, unix.AF_INET)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
	if errs == 0 || good != 7*errs {
		t.Errorf("%d decoded, %d rejected, want 7 to 1", good, errs)
	}
}
