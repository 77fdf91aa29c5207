package rtnl_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"arpd/internal/rtnl"

	"golang.org/x/sys/unix"
)

// Sizes of the wire format, as the tests build messages by hand.
const (
	hdrLen     = unix.SizeofNlMsghdr
	attrHdrLen = unix.SizeofNlAttr
	ndmsgLen   = unix.SizeofNdMsg
	ifinfoLen  = unix.SizeofIfInfomsg
	ifaddrLen  = unix.SizeofIfAddrmsg
	errHdrLen  = 4 // the int error of struct nlmsgerr
	typeMask   = 0x3fff
)

// cacheMAC is the address "the cache" answers with, as in the root's lab
// tests that captured testdata.
var cacheMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x03, 0x03}

func align(n int) int { return (n + 3) &^ 3 }

// hostIsLE says whether this host is little-endian, as the machine that
// captured testdata was.
var hostIsLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// loadHex reads testdata/name.hex (comment lines start with #) and returns
// the message in this host's byte order.
func loadHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".hex"))
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
	return fromLE(b)
}

// fromLE converts messages captured on a little-endian host to this host's
// byte order, so the unit tests also pass on big-endian MIPS. It swaps what
// the decoders read as host-order integers: message and top-level attribute
// headers, the fixed ndmsg/ifinfomsg/ifaddrmsg/nlmsgerr fields, NDA_PROBES,
// NDA_CACHEINFO, IFA_FLAGS and IFA_CACHEINFO. Nested attributes are left
// alone; nothing decodes them.
func fromLE(le []byte) []byte {
	b := bytes.Clone(le)
	if hostIsLE {
		return b
	}
	for off := 0; off+hdrLen <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		typ := binary.LittleEndian.Uint16(b[off+4:])
		if n < hdrLen || off+n > len(b) {
			break
		}
		swapHeader(b[off:])
		swapPayload(typ, b[off+hdrLen:off+n])
		off += align(n)
	}
	return b
}

func swap16(p []byte) { binary.BigEndian.PutUint16(p, binary.LittleEndian.Uint16(p)) }
func swap32(p []byte) { binary.BigEndian.PutUint32(p, binary.LittleEndian.Uint32(p)) }

func swapHeader(p []byte) { swap32(p[0:]); swap16(p[4:]); swap16(p[6:]); swap32(p[8:]); swap32(p[12:]) }

// swapWords swaps every whole 32-bit word of v.
func swapWords(v []byte) {
	for i := 0; i+4 <= len(v); i += 4 {
		swap32(v[i:])
	}
}

// swapAttrs swaps the headers of the attributes in a, and the values that
// swapVal picks.
func swapAttrs(a []byte, swapVal func(typ uint16) bool) {
	for len(a) >= 4 {
		l := int(binary.LittleEndian.Uint16(a))
		at := binary.LittleEndian.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		swap16(a[0:])
		swap16(a[2:])
		if swapVal(at & typeMask) {
			swapWords(a[4:l])
		}
		a = a[min(align(l), len(a)):]
	}
}

// swapPayload swaps the host-order integers of the payload d of a message
// of type typ.
func swapPayload(typ uint16, d []byte) {
	switch typ {
	case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH, unix.RTM_GETNEIGH:
		if len(d) >= ndmsgLen {
			swap32(d[4:])
			swap16(d[8:])
			swapAttrs(d[ndmsgLen:], func(at uint16) bool { return at == unix.NDA_PROBES || at == unix.NDA_CACHEINFO })
		}
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(d) >= ifinfoLen {
			swap16(d[2:])
			swap32(d[4:])
			swap32(d[8:])
			swap32(d[12:])
			swapAttrs(d[ifinfoLen:], func(uint16) bool { return false })
		}
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		if len(d) >= ifaddrLen {
			swap32(d[4:])
			swapAttrs(d[ifaddrLen:], func(at uint16) bool {
				return at == unix.IFA_FLAGS || at == unix.IFA_CACHEINFO || at == unix.IFA_RT_PRIORITY
			})
		}
	case unix.NLMSG_ERROR:
		if len(d) >= errHdrLen+hdrLen {
			swap32(d[0:])
			swapHeader(d[4:])
		}
	case unix.NLMSG_DONE:
		if len(d) >= 4 {
			swap32(d[0:])
		}
	}
}

// leHex decodes a hex string of a message written in little-endian and
// returns it in host order.
func leHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return fromLE(b)
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
