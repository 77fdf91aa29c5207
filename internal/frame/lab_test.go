package frame_test

// The capture of the frames in testdata/arp from the lab (root), which
// the unit tests then decode without root.

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestPacketCapture writes the frames in testdata/arp from a fresh lab.
// It runs only with ARPD_CAPTURE=1, as
//
//	ARPD_CAPTURE=1 go test -count=1 -run '^TestPacketCapture$' ./internal/frame
//
// and the unit tests then decode the files without root.
func TestPacketCapture(t *testing.T) {
	if os.Getenv(labtest.CaptureEnv) == "" {
		t.Skip("capture skipped: set ARPD_CAPTURE=1 to rewrite testdata/arp from the lab")
	}
	l := labtest.New(t)
	l.Address()
	nc := l.OpenPacket(l.Near, l.NearIf)
	fc := l.OpenPacket(l.Far, l.FarIf)
	uname, _ := l.Exec(l.Near, "uname", "-r")
	how := fmt.Sprintf("Captured in the lab by TestPacketCapture (ARPD_CAPTURE=1) on Linux %s:\n"+
		"near %s 10.77.0.1/24 %s, far %s 10.77.0.2/24 %s, joined by veth\n"+
		"(which does not pad frames to 46 bytes); read from a SOCK_DGRAM\n"+
		"AF_PACKET socket bound to ETH_P_ARP, so the Ethernet header is stripped.",
		strings.TrimSpace(uname), l.NearIf, labtest.MACString(labtest.NearMAC), l.FarIf, labtest.MACString(labtest.FarMAC))

	// One datagram makes the near kernel ask for the far side.
	if err := l.Do(l.Near, func() error { return labtest.SendUDP(labtest.FarIP) }); err != nil {
		t.Fatalf("send: %v", err)
	}
	captureNext(t, fc, "request.hex", "no request on the far side",
		func(s labtest.Seen) bool { return s.Frame.Op == frame.ARPOpRequest },
		"An ARP request from the near kernel for 10.77.0.2 (triggered by a UDP\n"+
			"datagram to it), as the far side receives it.\n"+how)
	captureNext(t, nc, "reply.hex", "no reply on the near side",
		func(s labtest.Seen) bool { return s.Frame.Op == frame.ARPOpReply },
		"The far kernel's ARP reply to that request, as the near side receives it.\n"+how)

	far := l.Iface(l.Far, l.FarIf)
	if err := labtest.SendProbe(fc, &far.Iface, far.IP, far.IP); err != nil {
		t.Fatalf("send gratuitous ARP: %v", err)
	}
	captureNext(t, nc, "gratuitous.hex", "no gratuitous ARP on the near side",
		func(s labtest.Seen) bool { return s.Frame.Gratuitous },
		"A gratuitous ARP request (sender IP = target IP = 10.77.0.2) built by\n"+
			"frame.BuildARPProbe and sent by afpacket.Conn.Send in the far namespace, as the\n"+
			"near side receives it.\n"+how)
}

// captureNext waits 2 s at most for an accepted frame on c that want
// takes, and writes it to testdata/arp/name with comment; missing names
// the failure when none comes.
func captureNext(t *testing.T, c *afpacket.Conn, name, missing string, want func(labtest.Seen) bool, comment string) {
	t.Helper()
	seen, ok := labtest.WaitFrame(t, c, 2*time.Second, func(s labtest.Seen) bool { return s.Drop == frame.DropNone && want(s) })
	if !ok {
		t.Fatalf("%s: %+v", missing, seen)
	}
	writeCapture(t, name, seen[len(seen)-1], comment)
}

// writeCapture writes one captured ARP frame to testdata/arp/name (see
// writeCaptureIn).
func writeCapture(t *testing.T, name string, s labtest.Seen, comment string) {
	t.Helper()
	writeCaptureIn(t, "arp", name, s.Raw, &s.LL, comment)
}

// writeCaptureIn writes the frame raw, received with ll, to
// testdata/dir/name in the format readCaptureIn reads: "#" comment lines,
// one "sll" line with the link-layer fields and address, then the bytes in
// hex.
func writeCaptureIn(t *testing.T, dir, name string, raw []byte, ll *unix.RawSockaddrLinklayer, comment string) {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(comment, "\n") {
		b.WriteString("# " + line + "\n")
	}
	addr := make([]string, min(int(ll.Halen), len(ll.Addr)))
	for i := range addr {
		addr[i] = fmt.Sprintf("%02x", ll.Addr[i])
	}
	fmt.Fprintf(&b, "sll ifindex=%d hatype=%d pkttype=%d halen=%d addr=%s\n", ll.Ifindex, ll.Hatype, ll.Pkttype, ll.Halen, strings.Join(addr, ":"))
	for i := 0; i < len(raw); i += 8 {
		b.WriteString(hex.EncodeToString(raw[i:min(i+8, len(raw))]) + "\n")
	}
	dir = filepath.Join("testdata", dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s:\n%s", filepath.Join(dir, name), b.String())
}
