package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
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
	raw, err := os.ReadFile(filepath.Join("internal", "rtnl", "testdata", name+".hex"))
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
	for off := 0; off+unix.SizeofNlMsghdr <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		typ := binary.LittleEndian.Uint16(b[off+4:])
		if n < unix.SizeofNlMsghdr || off+n > len(b) {
			break
		}
		hdr(b[off:])
		d := b[off+unix.SizeofNlMsghdr : off+n]
		attrs := func(a []byte, swapVal func(typ uint16, v []byte)) {
			for len(a) >= 4 {
				l := int(binary.LittleEndian.Uint16(a))
				at := binary.LittleEndian.Uint16(a[2:])
				if l < 4 || l > len(a) {
					break
				}
				s16(a[0:])
				s16(a[2:])
				swapVal(at&0x3fff, a[4:l])
				a = a[min((l+3)&^3, len(a)):]
			}
		}
		switch typ {
		case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH, unix.RTM_GETNEIGH:
			if len(d) >= unix.SizeofNdMsg {
				s32(d[4:])
				s16(d[8:])
				attrs(d[unix.SizeofNdMsg:], func(at uint16, v []byte) {
					if at == unix.NDA_PROBES || at == unix.NDA_CACHEINFO {
						for i := 0; i+4 <= len(v); i += 4 {
							s32(v[i:])
						}
					}
				})
			}
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if len(d) >= unix.SizeofIfInfomsg {
				s16(d[2:])
				s32(d[4:])
				s32(d[8:])
				s32(d[12:])
				attrs(d[unix.SizeofIfInfomsg:], func(uint16, []byte) {})
			}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			if len(d) >= unix.SizeofIfAddrmsg {
				s32(d[4:])
				attrs(d[unix.SizeofIfAddrmsg:], func(at uint16, v []byte) {
					if at == unix.IFA_FLAGS || at == unix.IFA_CACHEINFO || at == unix.IFA_RT_PRIORITY {
						for i := 0; i+4 <= len(v); i += 4 {
							s32(v[i:])
						}
					}
				})
			}
		case unix.NLMSG_ERROR:
			if len(d) >= 4+unix.SizeofNlMsghdr {
				s32(d[0:])
				hdr(d[4:])
			}
		case unix.NLMSG_DONE:
			if len(d) >= 4 {
				s32(d[0:])
			}
		}
		off += (n + 3) &^ 3
	}
	return b
}
