package lab

// The segment side of the scan lab: one packet socket that plays every
// live host (it answers ARP for their addresses with made-up MACs) and
// counts what the router sends onto the segment.

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// responder is a packet socket on the segment's interface (FarIf, in the
// Far namespace, which has no address of its own), reading every frame
// the router sends. It answers ARP requests and Neighbor Solicitations
// for live hosts' addresses as those hosts, and records, relative to t0:
// when each live datagram first arrived, and when the router broadcast an
// ARP request (or multicast a solicitation).
type responder struct {
	fd      int
	ifindex int
	cfg     *scanConfig
	t0      time.Time
	stop    atomic.Bool
	done    chan struct{}

	mu      sync.Mutex
	got     []time.Duration // by live datagram (round × live + host): first arrival, 0 if none
	bcasts  []time.Duration // the router's broadcast ARP requests, or multicast NS
	unicast int             // the router's unicast ARP requests or NS (a kernel confirming a host)
	dead    int             // datagrams to addresses no live host has: none can arrive
	replies int             // ARP replies or NA sent as live hosts
	sendErr int             // replies the socket refused
}

// newResponder opens the responder in l's segment and starts it; it
// stops when t ends.
func newResponder(t testing.TB, l *scanLab, t0 time.Time) *responder {
	t.Helper()
	r := &responder{cfg: l.cfg, t0: t0, done: make(chan struct{}),
		got: make([]time.Duration, l.cfg.rounds()*l.cfg.live())}
	r.ifindex = l.Ifindex(l.Far, l.FarIf)
	if err := l.Do(l.Far, func() (err error) {
		r.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(afpacket.Htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
			return err
		}
		tv := unix.Timeval{Usec: 100000}
		if err := unix.SetsockoptTimeval(r.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(r.fd, &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_ALL), Ifindex: r.ifindex})
	}); err != nil {
		t.Fatalf("responder: %v", err)
	}
	go r.read()
	t.Cleanup(func() {
		if !r.stop.Swap(true) {
			<-r.done
			unix.Close(r.fd)
		}
	})
	return r
}

func (r *responder) read() {
	defer close(r.done)
	buf := make([]byte, 2048)
	for !r.stop.Load() {
		n, from, err := unix.Recvfrom(r.fd, buf, 0)
		if err != nil {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING || n < 14 {
			continue
		}
		at := time.Since(r.t0)
		switch binary.BigEndian.Uint16(buf[12:]) {
		case unix.ETH_P_ARP:
			r.arp(buf[:n], at)
		case unix.ETH_P_IP:
			r.ipv4(buf[:n], at)
		case unix.ETH_P_IPV6:
			r.ipv6(buf[:n], at)
		}
	}
}

// arp counts an ARP request from the router and answers it when it asks
// for a live host.
func (r *responder) arp(f []byte, at time.Duration) {
	const arpLen = 28
	if len(f) < 14+arpLen || binary.BigEndian.Uint16(f[14+6:]) != 1 || [6]byte(f[6:12]) != scanRouterMAC {
		return
	}
	a := f[14:]
	r.mu.Lock()
	if [6]byte(f[0:6]) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
		r.bcasts = append(r.bcasts, at)
	} else {
		r.unicast++
	}
	r.mu.Unlock()
	h := r.cfg.liveIndex([4]byte(a[24:28]))
	if h < 0 {
		return
	}
	reply := arpFrame(2, [6]byte(a[8:14]), liveMAC(h), r.cfg.liveAddr(h), [6]byte(a[8:14]), [4]byte(a[14:18]))
	ok := r.send(reply, [6]byte(a[8:14]))
	r.mu.Lock()
	if ok {
		r.replies++
	} else {
		r.sendErr++
	}
	r.mu.Unlock()
}

// ipv4 records a UDP datagram to port 9 of a live host.
func (r *responder) ipv4(f []byte, at time.Duration) {
	ip := f[14:]
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != unix.IPPROTO_UDP {
		return
	}
	hl := int(ip[0]&15) * 4
	if len(ip) < hl+8 {
		return
	}
	r.datagram(r.cfg.liveIndex([4]byte(ip[16:20])), ip[hl+8:], at)
}

// datagram records a UDP datagram, its payload p, to live host h, or to a
// dead address (h < 0).
func (r *responder) datagram(h int, p []byte, at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h < 0 {
		r.dead++
		return
	}
	// The payload is the datagram's number: round × live + host.
	if len(p) < 4 {
		return
	}
	k := int(binary.BigEndian.Uint32(p))
	if k < len(r.got) && k%r.cfg.live() == h && r.got[k] == 0 {
		r.got[k] = at
	}
}

// send sends the Ethernet frame f to dst out of the segment's interface
// and reports whether the socket took it.
func (r *responder) send(f []byte, dst [6]byte) bool {
	to := &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_ARP), Ifindex: r.ifindex, Halen: 6}
	copy(to.Addr[:], dst[:])
	return unix.Sendto(r.fd, f, 0, to) == nil
}

// warmUp has each known host broadcast an ARP request for the router's
// address, 1 ms apart, as a host does before its first packet.
func (r *responder) warmUp(t testing.TB) {
	t.Helper()
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for i := 0; i < r.cfg.known; i++ {
		f := arpFrame(1, bcast, liveMAC(i), r.cfg.liveAddr(i), [6]byte{}, scanRouterIP)
		if !r.send(f, bcast) {
			t.Fatalf("warm-up: the packet socket refused host %d's ARP request", i)
		}
		time.Sleep(time.Millisecond)
	}
}

// arpFrame returns an Ethernet ARP frame to dst, of operation op (1
// request, 2 reply), from sha/spa about tha/tpa; its Ethernet source is
// sha.
func arpFrame(op uint16, dst, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	f := make([]byte, 0, 42)
	f = append(f, dst[:]...)
	f = append(f, sha[:]...)
	f = binary.BigEndian.AppendUint16(f, unix.ETH_P_ARP)
	f = append(f, 0, 1, 8, 0, 6, 4) // Ethernet, IPv4, their lengths
	f = binary.BigEndian.AppendUint16(f, op)
	f = append(f, sha[:]...)
	f = append(f, spa[:]...)
	f = append(f, tha[:]...)
	return append(f, tpa[:]...)
}

// segmentCounts is what the responder saw, read once the run is over.
type segmentCounts struct {
	got        []time.Duration
	broadcasts int // within the scan's window
	unicast    int
	dead       int
	replies    int
}

// counts returns what the responder saw; broadcasts are those within
// [from, to].
func (r *responder) counts(from, to time.Duration) segmentCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := segmentCounts{got: append([]time.Duration(nil), r.got...), unicast: r.unicast, dead: r.dead, replies: r.replies}
	for _, at := range r.bcasts {
		if at >= from && at <= to {
			c.broadcasts++
		}
	}
	return c
}
