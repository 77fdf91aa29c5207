package main

// The lab's view of the wire for the daemon's lab tests: a packet socket
// that records the ARP frames on an interface with the kernel's time
// stamps, and an injector that sends raw ARP payloads.

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// wireFrame is one ARP frame seen on the wire, with the kernel's receive
// time stamp.
type wireFrame struct {
	At   time.Time // the kernel's receive time stamp
	Read time.Time // when the test read it
	Drop frame.Drop
	F    labtest.ARP
}

// wire is a packet socket watching the ARP frames on one interface.
type wire struct {
	t      *testing.T
	c      *afpacket.Conn
	Frames []wireFrame
}

// watchWire opens a packet socket on ifname in namespace ns, with kernel
// time stamps turned on (SO_TIMESTAMPNS), so a frame's time is when it
// reached the interface and not when the test got round to reading it.
func (d *dlab) watchWire(ns, ifname string) *wire {
	d.t.Helper()
	c := d.OpenPacket(ns, ifname)
	if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		d.t.Fatalf("SO_TIMESTAMPNS: %v", err)
	}
	return &wire{t: d.t, c: c}
}

// requireStamps waits until frames reaching the wire's interface carry the
// kernel's time stamp of their arrival, sending test frames from the other
// end with in (a frame from 10.77.0.254, which the tests do not count).
//
// NB: the first socket to ask for time stamps turns them on through a
// deferred work item; frames that arrive before it has run are stamped
// only when read, which would make an early frame look late.
func (w *wire) requireStamps(in *injector) {
	w.t.Helper()
	probe := garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0xfe, 0xfe}, [4]byte{10, 77, 0, 254})
	for try := 0; try < 100; try++ {
		in.send(probe)
		time.Sleep(30 * time.Millisecond)
		for _, f := range w.Poll() {
			if f.Drop == frame.DropNone && f.F.SenderIP == [4]byte{10, 77, 0, 254} && f.Read.Sub(f.At) >= 20*time.Millisecond {
				w.Frames = w.Frames[:0]
				return
			}
		}
	}
	w.t.Fatalf("frames on the wire never carried their arrival time")
}

// Poll reads every frame queued now and returns the new ones.
//
// NB: the time stamp comes with each frame as an SCM_TIMESTAMPNS control
// message. SIOCGSTAMPNS would not do: with SO_TIMESTAMPNS set the kernel
// does not record the last frame's stamp for it, and without it the first
// frames may carry none.
func (w *wire) Poll() []wireFrame {
	w.t.Helper()
	start := len(w.Frames)
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	for i := 0; i < 100000; i++ {
		n, oobn, _, from, err := unix.Recvmsg(w.c.Fd(), buf, oob, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			w.t.Fatalf("wire: %v", err)
		}
		sll, ok := from.(*unix.SockaddrLinklayer)
		if !ok {
			w.t.Fatalf("wire: frame from %T", from)
		}
		ll := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: sll.Protocol, Ifindex: int32(sll.Ifindex),
			Hatype: sll.Hatype, Pkttype: sll.Pkttype, Halen: sll.Halen, Addr: sll.Addr}
		var at time.Time
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			w.t.Fatalf("wire: control messages: %v", err)
		}
		for _, m := range cmsgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				at = time.Unix(ts.Unix())
			}
		}
		if at.IsZero() {
			w.t.Fatalf("wire: a frame without a time stamp")
		}
		var f labtest.ARP
		drop := labtest.DecodeARP(&f, buf[:n], &ll)
		w.Frames = append(w.Frames, wireFrame{At: at, Read: time.Now(), Drop: drop, F: f})
	}
	return w.Frames[start:]
}

// requests returns the ARP requests among frames sent by sender for a
// target that match.
func requests(frames []wireFrame, sender [4]byte, match func(target [4]byte) bool) []wireFrame {
	var out []wireFrame
	for _, f := range frames {
		if f.Drop == frame.DropNone && f.F.Op == frame.ARPOpRequest && f.F.SenderIP == sender && match(f.F.TargetIP) {
			out = append(out, f)
		}
	}
	return out
}

// isIP returns a matcher for requests that ask for ip.
func isIP(ip [4]byte) func([4]byte) bool { return func(t [4]byte) bool { return t == ip } }

// injector sends raw ARP payloads out of an interface to the broadcast
// address, through a SOCK_RAW packet socket, so that it chooses each
// frame's Ethernet source.
type injector struct {
	t       *testing.T
	fd      int
	ifindex int
	mac     [6]byte // the interface's own MAC
}

// injector opens a packet socket in namespace ns for sending out of
// ifname, closed when the test ends.
func (d *dlab) injector(ns, ifname string) *injector {
	d.t.Helper()
	in := &injector{t: d.t, fd: -1, ifindex: d.Ifindex(ns, ifname)}
	if err := d.Do(ns, func() (err error) {
		ifc, err := afpacket.LookupIface(ifname)
		if err != nil {
			return err
		}
		in.mac = ifc.MAC
		in.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		d.t.Fatalf("packet socket in %s: %v", ns, err)
	}
	d.t.Cleanup(func() { unix.Close(in.fd) })
	return in
}

// send sends payload as the body of an Ethernet frame of type ARP from
// the Ethernet source an honest host would use: the payload's sender MAC
// when it has a usable one, else the interface's own.
func (in *injector) send(payload []byte) {
	in.t.Helper()
	src, ok := labtest.SenderMAC(payload)
	if !ok {
		src = in.mac
	}
	in.sendFrom(src, payload)
}

// sendFrom sends payload as the body of an Ethernet frame of type ARP
// with Ethernet source src.
func (in *injector) sendFrom(src [6]byte, payload []byte) {
	in.t.Helper()
	to := &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_ARP), Ifindex: in.ifindex, Halen: 6}
	copy(to.Addr[:], frame.BroadcastMAC[:])
	if err := unix.Sendto(in.fd, labtest.EtherARP(frame.BroadcastMAC, src, payload), 0, to); err != nil {
		in.t.Fatalf("inject %d bytes: %v", len(payload), err)
	}
}

// arpPayload returns an Ethernet/IPv4 ARP payload.
func arpPayload(op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	var b [frame.ARPLen]byte
	frame.EncodeARP(&b, op, sha, spa, tha, tpa)
	return b[:]
}

// garp returns a gratuitous ARP announcing ip at mac.
func garp(op uint16, mac [6]byte, ip [4]byte) []byte {
	return arpPayload(op, mac, ip, [6]byte{}, ip)
}
