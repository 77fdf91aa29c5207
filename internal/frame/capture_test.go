package frame_test

// The captured frames in testdata/arp and testdata/nd, and what the tests
// read from them.

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
)

// capture is one frame read from testdata/arp or testdata/nd.
type capture struct {
	Name string
	Data []byte
	LL   unix.RawSockaddrLinklayer
}

// protoARP is ETH_P_ARP in network byte order, as sll_protocol holds it.
var protoARP = binary.NativeEndian.Uint16([]byte{0x08, 0x06})

// readCapture reads the ARP frame testdata/arp/name (see readCaptureIn).
func readCapture(t testing.TB, name string) capture {
	t.Helper()
	return readCaptureIn(t, "arp", protoARP, name)
}

// readCaptureIn reads testdata/dir/name: "#" comment lines, one line
// "sll ifindex=N hatype=N pkttype=N halen=N addr=XX:..." (addr: the
// sll_addr bytes, the Ethernet source), then the frame in hex. proto is
// the sll_protocol it came with, in network byte order.
func readCaptureIn(t testing.TB, dir string, proto uint16, name string) capture {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	c := capture{Name: name}
	var sll bool
	var hx strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "sll "):
			var idx int32
			var hatype uint16
			var pkttype, halen uint8
			var addr string
			if _, err := fmt.Sscanf(line, "sll ifindex=%d hatype=%d pkttype=%d halen=%d addr=%s", &idx, &hatype, &pkttype, &halen, &addr); err != nil {
				t.Fatalf("%s: bad sll line %q: %v", name, line, err)
			}
			c.LL = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: proto,
				Ifindex: idx, Hatype: hatype, Pkttype: pkttype, Halen: halen}
			a, err := hex.DecodeString(strings.ReplaceAll(addr, ":", ""))
			if err != nil || len(a) > len(c.LL.Addr) {
				t.Fatalf("%s: bad sll address %q", name, addr)
			}
			copy(c.LL.Addr[:], a)
			sll = true
		default:
			hx.WriteString(strings.ReplaceAll(line, " ", ""))
		}
	}
	if !sll {
		t.Fatalf("%s: no sll line", name)
	}
	if c.Data, err = hex.DecodeString(hx.String()); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// arpView is every field of an Ethernet/IPv4 ARP frame and of the
// link-layer address it came with, read from the bytes apart from the
// decoder, for the tests that check what frame.ARP does not keep.
type arpView struct {
	Ifindex    int32
	Op         uint16
	PktType    uint8
	Gratuitous bool // sender IP == target IP
	SenderMAC  [6]byte
	SenderIP   [4]byte
	TargetMAC  [6]byte
	TargetIP   [4]byte
}

// viewARP reads the fields of the first frame.ARPLen bytes of b.
func viewARP(b []byte, ll *unix.RawSockaddrLinklayer) arpView {
	v := arpView{
		Ifindex:   ll.Ifindex,
		Op:        binary.BigEndian.Uint16(b[frame.ARPOffOp:]),
		PktType:   ll.Pkttype,
		SenderMAC: [6]byte(b[frame.ARPOffSha:]),
		SenderIP:  [4]byte(b[frame.ARPOffSpa:]),
		TargetMAC: [6]byte(b[frame.ARPOffTha:]),
		TargetIP:  [4]byte(b[frame.ARPOffTpa:]),
	}
	v.Gratuitous = v.SenderIP == v.TargetIP
	return v
}

// arpOf is the part of v that frame.DecodeARP keeps.
func (v arpView) arpOf() frame.ARP {
	return frame.ARP{Ifindex: v.Ifindex, SenderMAC: v.SenderMAC, SenderIP: v.SenderIP, Op: v.Op, TargetIP: v.TargetIP}
}

var (
	testNearMAC = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	testFarMAC  = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02}
	testNearIP  = [4]byte{10, 77, 0, 1}
	testFarIP   = [4]byte{10, 77, 0, 2}
)
