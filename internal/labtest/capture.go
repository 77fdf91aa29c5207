package labtest

// Netlink messages captured in the lab, as the unit tests of
// internal/rtnl and of the daemon read them: "#" comment lines, then the
// bytes in hex, as a little-endian host received them.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// CaptureEnv names the environment variable that makes SaveCapture write:
// the lab tests that capture testdata rewrite it when it is "1".
const CaptureEnv = "ARPD_CAPTURE"

// SaveCapture writes the netlink message msg to dir/name.hex when
// ARPD_CAPTURE=1, and does nothing otherwise. how says where the message
// came from; the file also names the test t that captured it and the
// kernel it ran on.
func SaveCapture(t testing.TB, dir, name, how string, msg []byte) {
	t.Helper()
	if os.Getenv(CaptureEnv) != "1" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", how)
	fmt.Fprintf(&b, "# Captured by %s (%s=1 go test -run %s) on Linux %s, %s host byte order.\n",
		t.Name(), CaptureEnv, t.Name(), KernelRelease(), "little-endian")
	for i := 0; i < len(msg); i += 16 {
		j := min(i+16, len(msg))
		b.WriteString(hex.EncodeToString(msg[i:j]))
		b.WriteByte('\n')
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".hex"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// KernelRelease returns the running kernel's release, as uname -r prints
// it, or "?".
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return string(bytes.TrimRight(u.Release[:], "\x00"))
}

// ReadNetlinkHex reads the messages that SaveCapture wrote to path and
// returns them in this host's byte order (see NetlinkFromLE). It fails
// the test if the file cannot be read or is not hex.
func ReadNetlinkHex(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
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
		t.Fatalf("%s: %v", path, err)
	}
	return NetlinkFromLE(b)
}

// hostIsLE says whether this host is little-endian, as the machine that
// captured the testdata was.
var hostIsLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// NetlinkFromLE returns a copy of the netlink messages le, captured on a
// little-endian host, in this host's byte order, so that the unit tests
// also pass on big-endian MIPS. It swaps what the decoders read as
// host-order integers: message and top-level attribute headers, the fixed
// ndmsg/ifinfomsg/ifaddrmsg/nlmsgerr fields, NDA_PROBES, NDA_CACHEINFO,
// IFA_FLAGS, IFA_CACHEINFO and IFA_RT_PRIORITY. Nested attributes are
// left alone; nothing decodes them.
func NetlinkFromLE(le []byte) []byte {
	b := bytes.Clone(le)
	if hostIsLE {
		return b
	}
	for off := 0; off+unix.SizeofNlMsghdr <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		typ := binary.LittleEndian.Uint16(b[off+4:])
		if n < unix.SizeofNlMsghdr || off+n > len(b) {
			break
		}
		swapHeader(b[off:])
		swapPayload(typ, b[off+unix.SizeofNlMsghdr:off+n])
		off += (n + 3) &^ 3
	}
	return b
}

func swap16(p []byte) { binary.BigEndian.PutUint16(p, binary.LittleEndian.Uint16(p)) }
func swap32(p []byte) { binary.BigEndian.PutUint32(p, binary.LittleEndian.Uint32(p)) }

// swapHeader swaps the fields of the netlink message header at p.
func swapHeader(p []byte) { swap32(p[0:]); swap16(p[4:]); swap16(p[6:]); swap32(p[8:]); swap32(p[12:]) }

// swapWords swaps every whole 32-bit word of v.
func swapWords(v []byte) {
	for i := 0; i+4 <= len(v); i += 4 {
		swap32(v[i:])
	}
}

// attrTypeMask keeps the type of an attribute header, without the
// NLA_F_NESTED and NLA_F_NET_BYTEORDER flags.
const attrTypeMask = 0x3fff

// swapAttrs swaps the headers of the attributes in a, and the values that
// swapVal picks by attribute type.
func swapAttrs(a []byte, swapVal func(typ uint16) bool) {
	for len(a) >= unix.SizeofNlAttr {
		l := int(binary.LittleEndian.Uint16(a))
		at := binary.LittleEndian.Uint16(a[2:])
		if l < unix.SizeofNlAttr || l > len(a) {
			break
		}
		swap16(a[0:])
		swap16(a[2:])
		if swapVal(at & attrTypeMask) {
			swapWords(a[unix.SizeofNlAttr:l])
		}
		a = a[min((l+3)&^3, len(a)):]
	}
}

// swapPayload swaps the host-order integers of the payload d of a message
// of type typ.
func swapPayload(typ uint16, d []byte) {
	switch typ {
	case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH, unix.RTM_GETNEIGH:
		if len(d) >= unix.SizeofNdMsg {
			swap32(d[4:])
			swap16(d[8:])
			swapAttrs(d[unix.SizeofNdMsg:], func(at uint16) bool { return at == unix.NDA_PROBES || at == unix.NDA_CACHEINFO })
		}
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(d) >= unix.SizeofIfInfomsg {
			swap16(d[2:])
			swap32(d[4:])
			swap32(d[8:])
			swap32(d[12:])
			swapAttrs(d[unix.SizeofIfInfomsg:], func(uint16) bool { return false })
		}
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		if len(d) >= unix.SizeofIfAddrmsg {
			swap32(d[4:])
			swapAttrs(d[unix.SizeofIfAddrmsg:], func(at uint16) bool {
				return at == unix.IFA_FLAGS || at == unix.IFA_CACHEINFO || at == unix.IFA_RT_PRIORITY
			})
		}
	case unix.RTM_NEWNEIGHTBL, unix.RTM_SETNEIGHTBL:
		if len(d) >= 4 {
			swapTableAttrs(d[4:])
		}
	case unix.NLMSG_ERROR:
		if len(d) >= 4+unix.SizeofNlMsghdr {
			swap32(d[0:])
			swapHeader(d[4:])
		}
	case unix.NLMSG_DONE:
		if len(d) >= 4 {
			swap32(d[0:])
		}
	}
}

// swapTableAttrs swaps the attributes a of a neighbour table message: the
// headers, the thresholds NDTA_THRESH1..3 (2, 3, 4), and inside NDTA_PARMS
// (6) the nested headers and each 4-byte value (NDTPA_IFINDEX, the probes
// and the other __u32 parameters); the nested 8-byte times and the
// statistics, which nothing decodes, are left alone.
func swapTableAttrs(a []byte) {
	swapAttrs(a, func(at uint16) bool { return at >= 2 && at <= 4 })
	for len(a) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(a))
		if l < unix.SizeofNlAttr || l > len(a) {
			break
		}
		if binary.NativeEndian.Uint16(a[2:])&attrTypeMask == 6 {
			p := a[unix.SizeofNlAttr:l]
			swapAttrs(p, func(uint16) bool { return false })
			for len(p) >= unix.SizeofNlAttr {
				pl := int(binary.NativeEndian.Uint16(p))
				if pl < unix.SizeofNlAttr || pl > len(p) {
					break
				}
				if pl == unix.SizeofNlAttr+4 {
					swap32(p[unix.SizeofNlAttr:])
				}
				p = p[min((pl+3)&^3, len(p)):]
			}
		}
		a = a[min((l+3)&^3, len(a)):]
	}
}
