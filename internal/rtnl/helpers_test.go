package rtnl_test

import (
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// Sizes of the wire format, as the tests build messages by hand.
const (
	hdrLen     = unix.SizeofNlMsghdr
	attrHdrLen = unix.SizeofNlAttr
	ndmsgLen   = unix.SizeofNdMsg
	ifinfoLen  = unix.SizeofIfInfomsg
	ifaddrLen  = unix.SizeofIfAddrmsg
	errHdrLen  = 4 // the int error of struct nlmsgerr
)

// cacheMAC is the address "the cache" answers with, as in the lab tests
// that captured testdata.
var cacheMAC = labtest.CacheMAC

func align(n int) int { return (n + 3) &^ 3 }

// loadHex reads testdata/name.hex, as captured in the lab, and returns the
// message in this host's byte order.
func loadHex(t testing.TB, name string) []byte {
	t.Helper()
	return labtest.ReadNetlinkHex(t, filepath.Join("testdata", name+".hex"))
}

// leHex decodes a hex string of a message written in little-endian and
// returns it in host order.
func leHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return labtest.NetlinkFromLE(b)
}

// only frames b, which must hold exactly one message, and returns it.
func only(t testing.TB, b []byte) rtnl.Msg {
	t.Helper()
	it := rtnl.Messages(b)
	var m, extra rtnl.Msg
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

// concat joins messages as the kernel packs them into one datagram.
func concat(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
		b = append(b, make([]byte, align(len(m))-len(m))...)
	}
	return b
}

// neighWith builds a neighbour message from an ndmsg and raw attributes.
func neighWith(typ uint16, family uint8, attrs ...[]byte) []byte {
	b := make([]byte, hdrLen+ndmsgLen)
	b[hdrLen] = family
	binary.NativeEndian.PutUint32(b[hdrLen+4:], 2)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	return b
}

// addrWith builds an address message of type typ and family with the given
// prefix length on ifindex 3.
func addrWith(typ uint16, family, prefixLen uint8, attrs ...[]byte) []byte {
	b := make([]byte, hdrLen+ifaddrLen)
	b[hdrLen] = family
	b[hdrLen+1] = prefixLen
	b[hdrLen+2] = unix.IFA_F_SECONDARY
	binary.NativeEndian.PutUint32(b[hdrLen+4:], 3)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	return b
}

// fixLen sets nlmsg_len of the message b to len(b).
func fixLen(b []byte) []byte {
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	return b
}

// attr builds an attribute with its padding; a non-zero lie is written as
// the header's length instead of the true one.
func attr(typ uint16, val []byte, lie int) []byte {
	n := attrHdrLen + len(val)
	b := make([]byte, align(n))
	if lie != 0 {
		n = lie
	}
	binary.NativeEndian.PutUint16(b[0:2], uint16(n))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], val)
	return b
}

// uintptrOf returns the address of the first byte of b, which must not be
// empty, to tell where a slice lies in another.
func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
