package lab

// The traffic: a sender of one datagram per host on the near side, and a
// sink on the far side that records which arrived, and when.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// farSink is a UDP socket on port 9 of the far side that records which
// hosts' datagrams arrived, and when: the kernel's receive timestamp
// (SO_TIMESTAMPNS, CLOCK_REALTIME), taken as the datagram comes off the
// veth pair, not when the sink gets to read it.
//
// NB: the datagram waits in its INCOMPLETE neighbour's queue and leaves
// inside the daemon's sendmsg of the answer (the kernel flushes the queue
// while it applies the RTM_NEWNEIGH), so its arrival marks the answer to
// within the veth's few microseconds, whoever the scheduler runs first.
type farSink struct {
	fd   int
	stop atomic.Bool
	done chan struct{}

	mu  sync.Mutex
	got []bool
	at  []int64 // Unix nanoseconds of the first arrival, by host
}

// newFarSink opens the sink in l's far namespace; it stops when t ends.
func newFarSink(t testing.TB, l *hostLab) *farSink {
	t.Helper()
	s := &farSink{done: make(chan struct{}), got: make([]bool, l.n), at: make([]int64, l.n)}
	if err := l.Do(l.Far, func() (err error) {
		if l.v6 {
			s.fd, err = sinkSocket6()
			return err
		}
		s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := sinkOptions(s.fd, l.n); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
			return err
		}
		return unix.Bind(s.fd, &unix.SockaddrInet4{Port: 9})
	}); err != nil {
		t.Fatalf("sink: %v", err)
	}
	go s.read()
	t.Cleanup(func() {
		if !s.stop.Swap(true) {
			<-s.done
			unix.Close(s.fd)
		}
	})
	return s
}

// sinkOptions sets what the sink's socket of either family needs for n
// hosts: a receive buffer with room for every host's datagram (64 MiB at
// least; a queued datagram costs about 1 KiB), receive timestamps and a
// timeout that lets read see stop.
func sinkOptions(fd, n int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, max(64<<20, n<<10)); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return err
	}
	tv := unix.Timeval{Usec: 100000}
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

func (s *farSink) read() {
	defer close(s.done)
	idleThread()
	buf := make([]byte, 64)
	oob := make([]byte, 128)
	for !s.stop.Load() {
		_, oobn, _, _, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			continue
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			continue
		}
		h, at := -1, int64(0)
		for _, c := range msgs {
			switch {
			case c.Header.Level == unix.IPPROTO_IP && c.Header.Type == unix.IP_PKTINFO && len(c.Data) >= unix.SizeofInet4Pktinfo:
				pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&c.Data[0]))
				h = hostIndex(pi.Addr[:])
			case c.Header.Level == unix.IPPROTO_IPV6 && c.Header.Type == unix.IPV6_PKTINFO && len(c.Data) >= unix.SizeofInet6Pktinfo:
				pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&c.Data[0]))
				h = hostIndex(pi.Addr[:])
			case c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_TIMESTAMPNS && len(c.Data) >= int(unsafe.Sizeof(unix.Timespec{})):
				ts := (*unix.Timespec)(unsafe.Pointer(&c.Data[0]))
				at = ts.Nano()
			}
		}
		s.mu.Lock()
		if h >= 0 && h < len(s.got) && !s.got[h] {
			s.got[h] = true
			s.at[h] = at
		}
		s.mu.Unlock()
	}
}

// reset forgets what arrived, for the next pass.
func (s *farSink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.got)
	clear(s.at)
}

// latencies returns, for each of hosts [lo, hi) whose datagram arrived,
// the time from its send (sentWall[h-lo], Unix nanoseconds taken just
// before the call that sent it) to its arrival.
func (s *farSink) latencies(lo, hi int, sentWall []int64) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d []time.Duration
	for h := lo; h < hi; h++ {
		if s.got[h] && s.at[h] != 0 && sentWall[h-lo] != 0 {
			d = append(d, time.Duration(s.at[h]-sentWall[h-lo]))
		}
	}
	return d
}

// lastArrival returns the latest arrival (Unix nanoseconds) among hosts
// [lo, hi), or 0 if none arrived.
func (s *farSink) lastArrival(lo, hi int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last int64
	for h := lo; h < hi; h++ {
		if s.got[h] {
			last = max(last, s.at[h])
		}
	}
	return last
}

// delivered returns how many of hosts [lo, hi) got their datagram.
func (s *farSink) delivered(lo, hi int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.got[lo:hi] {
		if g {
			n++
		}
	}
	return n
}

// nearSender is a UDP socket in the near namespace that sends one datagram
// to a host. Its send buffer is large, because every datagram stays
// charged to it while it waits in its INCOMPLETE neighbour's queue, and it
// has IP_RECVERR, so that a datagram the kernel could not make a neighbour
// for (table full, ENOBUFS) fails the send instead of vanishing.
type nearSender struct {
	fd     int
	v6     bool
	errors map[unix.Errno]int
	batch  sendBatch
}

func newNearSender(t testing.TB, l *hostLab) *nearSender {
	t.Helper()
	s := &nearSender{v6: l.v6, errors: map[unix.Errno]int{}}
	if err := l.Do(l.Near, func() (err error) {
		if l.v6 {
			s.fd, err = senderSocket6()
			return err
		}
		s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		// NB: 128 MiB, or 2 KiB a host for more than 65,536 hosts: a
		// burst to every host keeps each datagram charged here until its
		// neighbour is resolved.
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, max(128<<20, l.n<<11)); err != nil {
			return err
		}
		return unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
	}); err != nil {
		t.Fatalf("sender: %v", err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

// send sends one datagram to host h and reports whether the kernel took it.
//
// NB: with IP_RECVERR, a host that failed to resolve earlier leaves an
// error (EHOSTUNREACH) on the socket, and the next send returns it instead
// of sending; the error is cleared by being returned, so that send is made
// again. Only ENOBUFS (no neighbour entry could be made; EINVAL for IPv6,
// see senderSocket6) is this send's own.
func (s *nearSender) send(h int) bool {
	var to unix.Sockaddr = &unix.SockaddrInet4{Port: 9, Addr: hostAddr(h)}
	if s.v6 {
		to = &unix.SockaddrInet6{Port: 9, Addr: hostAddr6(h)}
	}
	err := unix.Sendto(s.fd, []byte{'x'}, unix.MSG_DONTWAIT, to)
	for i := 0; i < 4 && err != nil && err != unix.ENOBUFS && err != unix.EAGAIN && err != unix.EINVAL; i++ {
		err = unix.Sendto(s.fd, []byte{'x'}, unix.MSG_DONTWAIT, to)
	}
	if err != nil {
		var en unix.Errno
		if errors.As(err, &en) {
			s.errors[en]++
		} else {
			s.errors[unix.EIO]++
		}
		return false
	}
	return true
}

// sendErrors describes the failed sends, e.g. "12 (ENOBUFS)".
func (s *nearSender) sendErrors() string {
	total := 0
	var parts []string
	for e, n := range s.errors {
		total += n
		parts = append(parts, fmt.Sprintf("%d %s", n, unix.ErrnoName(e)))
	}
	slices.Sort(parts)
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// reset forgets the errors, for the next pass.
func (s *nearSender) reset() { clear(s.errors) }
