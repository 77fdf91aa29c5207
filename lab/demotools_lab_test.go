package lab

// Tools shared by the demo (TestDemo) and the lab benchmark (TestLabBench):
// a lab with many hosts on the far side, a monitor that records the
// kernel's requests and the answers on the neighbour group, a sink that
// sees which datagrams arrived, this arpd or iproute2's started through
// labtest, and interrupt handling.
//
// Every name here starts with "demo" so that it cannot clash with the lab
// helpers of other tests.

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"

	"golang.org/x/sys/unix"
)

// The lab's addresses: the near side is 10.79.0.1/16, the far side's own
// address 10.79.0.2/16, and host i is 10.79.(1+i/250).(1+i%250), so up to
// 63,500 hosts fit and an address maps back to its host without a table.
var (
	demoNearIP = [4]byte{10, 79, 0, 1}
	demoFarIP  = [4]byte{10, 79, 0, 2}
)

// demoHostsMax is the number of host addresses the scheme has room for.
const demoHostsMax = 254 * 250

// demoHostAddr returns the address of host i.
func demoHostAddr(i int) [4]byte {
	return [4]byte{10, 79, byte(1 + i/250), byte(1 + i%250)}
}

// demoHostIndex returns the host whose address is a, or -1.
func demoHostIndex(a []byte) int {
	if len(a) != 4 || a[0] != 10 || a[1] != 79 || a[2] < 1 || a[3] < 1 || a[3] > 250 {
		return -1
	}
	return int(a[2]-1)*250 + int(a[3]-1)
}

func demoIPString(a [4]byte) string {
	return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
}

// demoInterrupt turns SIGINT and SIGTERM into a flag the long loops check,
// so that an interrupted run fails through t.Fatal and its cleanups (kill
// the daemons, restore global settings, delete the namespaces) still run.
// Without it, the default action would end the process on the spot.
type demoInterrupt struct {
	hit atomic.Bool
	ch  chan os.Signal
}

// demoCatchInterrupt starts catching the signals until t ends.
func demoCatchInterrupt(t testing.TB) *demoInterrupt {
	in := &demoInterrupt{ch: make(chan os.Signal, 4)}
	signal.Notify(in.ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-in.ch:
				if !in.hit.Swap(true) {
					fmt.Fprintf(os.Stderr, "\n%v: stopping and cleaning up\n", s)
				}
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		signal.Stop(in.ch)
		close(done)
	})
	return in
}

// check fails t if a signal came.
func (in *demoInterrupt) check(t testing.TB) {
	t.Helper()
	if in.hit.Load() {
		t.Fatal("interrupted")
	}
}

// waitFor is labtest.WaitFor that also gives up when a signal came; the
// caller then calls check.
func (in *demoInterrupt) waitFor(limit time.Duration, cond func() bool) bool {
	return labtest.WaitFor(limit, func() bool { return in.hit.Load() || cond() })
}

// demoLab is a lab with n hosts on the far side.
type demoLab struct {
	*labtest.Lab
	n       int
	ifindex int32 // of NearIf in Near
}

// newDemoLab makes a lab with n host addresses on the far interface and
// the near interface's own settings in sysctls (per interface, inside the
// lab: they go away with it).
func newDemoLab(t testing.TB, n int, sysctls map[string]string) *demoLab {
	t.Helper()
	if n > demoHostsMax {
		t.Fatalf("%d hosts: at most %d fit the address scheme", n, demoHostsMax)
	}
	l := &demoLab{Lab: labtest.New(t), n: n}
	l.IP(l.Near, "addr", "add", demoIPString(demoNearIP)+"/16", "dev", l.NearIf)
	var b strings.Builder
	fmt.Fprintf(&b, "addr add %s/16 dev %s\n", demoIPString(demoFarIP), l.FarIf)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "addr add %s/16 dev %s\n", demoIPString(demoHostAddr(i)), l.FarIf)
	}
	if out, err := l.ExecStdin(l.Far, b.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("adding %d addresses in %s: %v: %s", n, l.Far, err, out)
	}
	for k, v := range sysctls {
		l.Sysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/"+k, v)
	}
	l.ifindex = int32(l.Ifindex(l.Near, l.NearIf))
	return l
}

// kernelTable returns how many IPv4 neighbours the near interface has.
func (l *demoLab) kernelTable(t testing.TB) int {
	t.Helper()
	out := l.IP(l.Near, "-4", "neigh", "show", "dev", l.NearIf)
	return strings.Count(out, "\n")
}

// flush empties the near interface's neighbour table.
func (l *demoLab) flush(t testing.TB) {
	t.Helper()
	l.IP(l.Near, "-4", "neigh", "flush", "dev", l.NearIf)
}

// Kinds of neighbour events the monitor records.
const (
	demoEvRequest     = iota + 1 // the kernel's RTM_GETNEIGH, state INCOMPLETE
	demoEvProbe                  // the kernel's RTM_GETNEIGH, state PROBE
	demoEvAnswer                 // RTM_NEWNEIGH with an address, set through rtnetlink (a daemon's answer)
	demoEvWire                   // RTM_NEWNEIGH with an address the kernel learned itself (an ARP reply)
	demoEvFailed                 // RTM_NEWNEIGH FAILED by the kernel's timer: resolution failed
	demoEvOtherFailed            // RTM_NEWNEIGH FAILED set through rtnetlink (flush, delete)
	demoEvDel                    // RTM_DELNEIGH
)

// demoEvent is one neighbour message about a host, with the time the
// monitor read it.
type demoEvent struct {
	at   time.Duration // since the monitor started
	host int32
	kind uint8
}

// demoMonitor is an rtnetlink socket in the near namespace subscribed to
// RTNLGRP_NEIGH. It sees the kernel's requests to user space and every
// change they lead to, including the daemon's answer (which the kernel
// notifies with the answering socket's port in nlmsg_pid).
//
// NB: netlink does not timestamp its messages (netlink_recvmsg passes no
// SO_TIMESTAMP control message on Linux 6.x), so the monitor reads the
// monotonic clock when recvmsg returns, up to a millisecond late (it
// polls; see newDemoMonitor). Its times order the events; the figures in
// microseconds come from the kernel's tracepoints.
type demoMonitor struct {
	fd      int
	ifindex int32
	start   time.Time
	stop    atomic.Bool
	done    chan struct{}

	mu       sync.Mutex
	events   []demoEvent
	overruns int
	badMsgs  int

	// settled, when set, gets each host whose pending request was
	// answered, resolved on the wire or failed; the send is dropped if
	// nobody is listening.
	settled chan int
}

// demoMonitorBuf is the monitor's receive buffer: a burst of 20,000 hosts
// queues about three messages per host, each costing about 1 KiB.
const demoMonitorBuf = 256 << 20

// newDemoMonitor opens the monitor in l's near namespace and starts
// reading; it stops when t ends.
//
// NB: the monitor never waits in recvfrom: it reads what is queued and
// sleeps 1 ms when nothing is, so it only counts; its read times are late
// by up to that. A listener waiting in recvfrom is woken by the kernel
// inside the very call that makes the request (the sender's sendto), often
// with an interrupt to the other CPU; on 2 CPUs that made each request
// wait 30 to 60 µs longer for a CPU. A socket nobody waits on costs the
// kernel only the copy. The timing comes from the kernel (demoTrace).
func newDemoMonitor(t testing.TB, l *demoLab) *demoMonitor {
	t.Helper()
	m := &demoMonitor{ifindex: l.ifindex, done: make(chan struct{}), settled: make(chan int, 1<<16),
		events: make([]demoEvent, 0, 4*l.n+1024)}
	if err := l.Do(l.Near, func() (err error) {
		m.fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(m.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, demoMonitorBuf); err != nil {
			return err
		}
		return unix.Bind(m.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_NEIGH})
	}); err != nil {
		t.Fatalf("neighbour monitor: %v", err)
	}
	m.start = time.Now()
	go m.read()
	t.Cleanup(m.close)
	return m
}

// close stops the reader and closes the socket.
func (m *demoMonitor) close() {
	if m.stop.Swap(true) {
		return
	}
	<-m.done
	unix.Close(m.fd)
}

// now returns the monitor's clock.
func (m *demoMonitor) now() time.Duration { return time.Since(m.start) }

// demoIdleThread locks the calling goroutine to its thread and makes the
// thread SCHED_IDLE: it runs only when a CPU has nothing else to do. The
// monitor and the sink read what the kernel already stamped or queued, so
// they can wait; at normal priority, on 2 CPUs, their wake-ups on every
// request competed with the daemon under test for a CPU and showed in its
// latency.
func demoIdleThread() {
	runtime.LockOSThread()
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
}

// read records events until stopped.
func (m *demoMonitor) read() {
	defer close(m.done)
	demoIdleThread()
	buf := make([]byte, 1<<16)
	var msg rtnl.Msg
	var n rtnl.Neigh
	pending := map[int32]bool{}
	for !m.stop.Load() {
		k, _, err := unix.Recvfrom(m.fd, buf, unix.MSG_DONTWAIT)
		at := m.now()
		if err != nil {
			if err == unix.EAGAIN {
				time.Sleep(time.Millisecond)
			}
			if err == unix.ENOBUFS {
				m.mu.Lock()
				m.overruns++
				m.mu.Unlock()
			}
			continue
		}
		it := rtnl.Messages(buf[:k])
		for it.Next(&msg) {
			if msg.Type != unix.RTM_NEWNEIGH && msg.Type != unix.RTM_GETNEIGH && msg.Type != unix.RTM_DELNEIGH {
				continue
			}
			if rtnl.DecodeNeigh(&msg, &n) != nil {
				m.mu.Lock()
				m.badMsgs++
				m.mu.Unlock()
				continue
			}
			if n.Family != unix.AF_INET || n.Ifindex != m.ifindex {
				continue
			}
			h := demoHostIndex(n.DstAddr())
			if h < 0 {
				continue
			}
			var kind uint8
			switch {
			case n.MsgType == unix.RTM_GETNEIGH && n.MsgFlags&unix.NLM_F_REQUEST != 0 && n.State&unix.NUD_INCOMPLETE != 0:
				kind = demoEvRequest
			case n.MsgType == unix.RTM_GETNEIGH && n.MsgFlags&unix.NLM_F_REQUEST != 0 && n.State&unix.NUD_PROBE != 0:
				kind = demoEvProbe
			case n.MsgType == unix.RTM_DELNEIGH:
				kind = demoEvDel
			case n.MsgType == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED && n.Pid == 0:
				kind = demoEvFailed
			case n.MsgType == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED:
				kind = demoEvOtherFailed
			case n.MsgType == unix.RTM_NEWNEIGH && n.LLAddrLen == 6 && n.Pid != 0:
				kind = demoEvAnswer
			case n.MsgType == unix.RTM_NEWNEIGH && n.LLAddrLen == 6:
				kind = demoEvWire
			default:
				continue
			}
			m.mu.Lock()
			m.events = append(m.events, demoEvent{at: at, host: int32(h), kind: kind})
			m.mu.Unlock()
			switch kind {
			case demoEvRequest:
				pending[int32(h)] = true
			case demoEvAnswer, demoEvWire, demoEvFailed:
				if pending[int32(h)] {
					delete(pending, int32(h))
					select {
					case m.settled <- h:
					default:
					}
				}
			}
		}
	}
}

// snapshot returns a copy of the events so far and the overrun count.
func (m *demoMonitor) snapshot() ([]demoEvent, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events), m.overruns
}

// demoHostStats is what the monitor saw of one pass over a set of hosts.
type demoHostStats struct {
	hosts        int
	requests     int             // the kernel's INCOMPLETE requests
	askedAgain   int             // hosts with more than one request
	answered     int             // hosts resolved by a daemon's answer
	wire         int             // hosts resolved by an ARP reply the kernel saw
	failed       int             // hosts whose resolution failed (kernel timer)
	unresolved   int             // hosts with a request but no outcome at all
	notAsked     int             // hosts the kernel never asked about
	turnaround   []time.Duration // last request → answer or ARP resolution
	wait         []time.Duration // send → resolution (includes the kernel's 1 s retries)
	lag          []time.Duration // send → monitor read of the first request
	peakTable    int             // most entries seen at once in the kernel table
	outOfOrder   int             // answers the monitor read before their request
	monitorLoss  int             // monitor overruns during the pass
	probeRequest int             // PROBE requests (confirmation of known entries failed)
}

// demoAnalyze reads the events between from and to for hosts [lo, hi),
// each sent at sent[h-lo] on the monitor's clock (sent may be nil).
//
// A request is settled by the daemon's answer (RTM_NEWNEIGH with the
// answering socket's port), by an ARP reply (the kernel's own RTM_NEWNEIGH
// with an address) or by a failure. NB: the kernel notifies the answer
// only after it has sent the queued datagram, so the states that datagram
// leads to (DELAY, PROBE, REACHABLE on a unicast reply, all notified with
// port 0) can be read before the answer itself; an answer that comes before
// the host's next request or removal therefore wins over them.
func demoAnalyze(events []demoEvent, from, to time.Duration, lo, hi int, sent []time.Duration) demoHostStats {
	s := demoHostStats{hosts: hi - lo}
	type hostState struct {
		requests int
		last     time.Duration // latest request
		pending  bool          // a request not yet answered
		wireAt   time.Duration // an address the kernel learned since the request
		wire     bool
		early    bool // an answer read before any request
		earlyAt  time.Duration
		resolved bool
		failed   bool
		inTable  bool
	}
	st := make([]hostState, hi-lo)
	inTable := 0
	settleWire := func(h *hostState, host int) {
		if h.wire && !h.resolved {
			h.resolved, h.pending, h.wire = true, false, false
			s.wireResolved(h.wireAt-h.last, sent, host-lo, h.wireAt)
		}
		h.wire = false
	}
	for _, e := range events {
		if e.at < from || e.at > to || int(e.host) < lo || int(e.host) >= hi {
			continue
		}
		h := &st[int(e.host)-lo]
		switch e.kind {
		case demoEvRequest:
			settleWire(h, int(e.host))
			s.requests++
			if h.early && !h.resolved && e.at-h.earlyAt < 10*time.Millisecond {
				// NB: the kernel multicasts a request to one listener
				// after another; when it is preempted in between, the
				// daemon can answer before the monitor has the
				// request, and the monitor reads the answer first. The
				// turnaround is then below what can be seen: count 0.
				h.early, h.resolved = false, true
				h.requests++
				s.answered++
				s.outOfOrder++
				s.turnaround = append(s.turnaround, 0)
				if sent != nil {
					s.lag = append(s.lag, e.at-sent[int(e.host)-lo])
					s.wait = append(s.wait, h.earlyAt-sent[int(e.host)-lo])
				}
				break
			}
			if h.requests == 0 && sent != nil {
				s.lag = append(s.lag, e.at-sent[int(e.host)-lo])
			}
			h.requests++
			h.last, h.pending = e.at, true
		case demoEvProbe:
			s.probeRequest++
		case demoEvAnswer:
			if !h.pending && !h.wire && !h.resolved && h.requests == 0 {
				h.early, h.earlyAt = true, e.at
			}
			if (h.pending || h.wire) && !h.resolved {
				h.pending, h.wire, h.resolved = false, false, true
				s.answered++
				s.turnaround = append(s.turnaround, e.at-h.last)
				if sent != nil {
					s.wait = append(s.wait, e.at-sent[int(e.host)-lo])
				}
			}
		case demoEvWire:
			if h.pending && !h.wire && !h.resolved {
				h.wire, h.wireAt = true, e.at
			}
		case demoEvFailed:
			if h.pending && !h.resolved {
				h.pending, h.failed = false, true
			}
		case demoEvDel:
			settleWire(h, int(e.host))
		}
		// The table: an entry exists from the first request (the kernel
		// made it INCOMPLETE) until its RTM_DELNEIGH.
		if e.kind == demoEvDel {
			if h.inTable {
				h.inTable = false
				inTable--
			}
		} else if !h.inTable {
			h.inTable = true
			inTable++
			s.peakTable = max(s.peakTable, inTable)
		}
	}
	for i := range st {
		h := &st[i]
		settleWire(h, lo+i)
		switch {
		case h.requests == 0:
			s.notAsked++
		case h.failed && !h.resolved:
			s.failed++
		case !h.resolved:
			s.unresolved++
		}
		if h.requests > 1 {
			s.askedAgain++
		}
	}
	return s
}

// wireResolved records a host resolved by an ARP reply.
func (s *demoHostStats) wireResolved(turnaround time.Duration, sent []time.Duration, i int, at time.Duration) {
	s.wire++
	s.turnaround = append(s.turnaround, turnaround)
	if sent != nil {
		s.wait = append(s.wait, at-sent[i])
	}
}

// demoPercentile returns the p-th percentile (0–100) of d, sorting it.
func demoPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1)*p/100 + 0.5)
	return d[i]
}

// demoDur formats a duration in µs below 10 ms, else in ms or s.
func demoDur(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// demoPcts formats the p50 and p99 of d, or "-" without samples.
func demoPcts(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	return demoDur(demoPercentile(d, 50)) + " / " + demoDur(demoPercentile(d, 99))
}

// demoSink is a UDP socket on port 9 of the far side that records which
// hosts' datagrams arrived, and when: the kernel's receive timestamp
// (SO_TIMESTAMPNS, CLOCK_REALTIME), taken as the datagram comes off the
// veth pair, not when the sink gets to read it.
//
// NB: the datagram waits in its INCOMPLETE neighbour's queue and leaves
// inside the daemon's sendmsg of the answer (the kernel flushes the queue
// while it applies the RTM_NEWNEIGH), so its arrival marks the answer to
// within the veth's few microseconds, whoever the scheduler runs first.
type demoSink struct {
	fd   int
	stop atomic.Bool
	done chan struct{}

	mu   sync.Mutex
	got  []bool
	at   []int64 // Unix nanoseconds of the first arrival, by host
	seen int
}

// newDemoSink opens the sink in l's far namespace; it stops when t ends.
func newDemoSink(t testing.TB, l *demoLab) *demoSink {
	t.Helper()
	s := &demoSink{done: make(chan struct{}), got: make([]bool, l.n), at: make([]int64, l.n)}
	if err := l.Do(l.Far, func() (err error) {
		s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return err
		}
		tv := unix.Timeval{Usec: 100000}
		if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
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

func (s *demoSink) read() {
	defer close(s.done)
	demoIdleThread()
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
				h = demoHostIndex(pi.Addr[:])
			case c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_TIMESTAMPNS && len(c.Data) >= int(unsafe.Sizeof(unix.Timespec{})):
				ts := (*unix.Timespec)(unsafe.Pointer(&c.Data[0]))
				at = ts.Nano()
			}
		}
		s.mu.Lock()
		if h >= 0 && h < len(s.got) && !s.got[h] {
			s.got[h] = true
			s.at[h] = at
			s.seen++
		}
		s.mu.Unlock()
	}
}

// reset forgets what arrived, for the next pass.
func (s *demoSink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.got)
	clear(s.at)
	s.seen = 0
}

// latencies returns, for each of hosts [lo, hi) whose datagram arrived,
// the time from its send (sentWall[h-lo], Unix nanoseconds taken just
// before sendto) to its arrival.
func (s *demoSink) latencies(lo, hi int, sentWall []int64) []time.Duration {
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
func (s *demoSink) lastArrival(lo, hi int) int64 {
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
func (s *demoSink) delivered(lo, hi int) int {
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

// demoSender is a UDP socket in the near namespace that sends one datagram
// to a host. Its send buffer is large, because every datagram stays
// charged to it while it waits in its INCOMPLETE neighbour's queue, and it
// has IP_RECVERR, so that a datagram the kernel could not make a neighbour
// for (table full, ENOBUFS) fails the send instead of vanishing.
type demoSender struct {
	fd     int
	errors map[unix.Errno]int
}

func newDemoSender(t testing.TB, l *demoLab) *demoSender {
	t.Helper()
	s := &demoSender{errors: map[unix.Errno]int{}}
	if err := l.Do(l.Near, func() (err error) {
		s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 128<<20); err != nil {
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
// again. Only ENOBUFS (no neighbour entry could be made) is this send's own.
func (s *demoSender) send(h int) bool {
	to := &unix.SockaddrInet4{Port: 9, Addr: demoHostAddr(h)}
	err := unix.Sendto(s.fd, []byte{'x'}, unix.MSG_DONTWAIT, to)
	for i := 0; i < 4 && err != nil && err != unix.ENOBUFS && err != unix.EAGAIN; i++ {
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
func (s *demoSender) sendErrors() string {
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
func (s *demoSender) reset() { clear(s.errors) }

// demoArpCacheStats returns the kernel's global ARP table counters from
// /proc/net/stat/arp_cache: entries (all namespaces) and table_fulls
// (neighbours refused because the table was at gc_thresh3).
func demoArpCacheStats() (entries, tableFulls int64, err error) {
	b, err := os.ReadFile("/proc/net/stat/arp_cache")
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return 0, 0, errors.New("/proc/net/stat/arp_cache: no data")
	}
	names := strings.Fields(lines[0])
	ie, it := slices.Index(names, "entries"), slices.Index(names, "table_fulls")
	if ie < 0 || it < 0 {
		return 0, 0, errors.New("/proc/net/stat/arp_cache: no entries or table_fulls column")
	}
	// One line per CPU; entries is the same on each, the others are per CPU.
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= max(ie, it) {
			continue
		}
		v, _ := strconv.ParseInt(f[it], 16, 64)
		tableFulls += v
		if i == 0 {
			entries, _ = strconv.ParseInt(f[ie], 16, 64)
		}
	}
	return entries, tableFulls, nil
}

// startOurDaemon runs this arpd -F -b db args... in the near namespace
// and waits until it has taken over resolution (app_solicit set).
func startOurDaemon(t testing.TB, l *demoLab, db string, args ...string) *labtest.Daemon {
	t.Helper()
	return labtest.Start(t, labtest.Options{Name: "arpd (this)", Lab: l.Lab, DB: db, Args: args, ReadyIf: l.NearIf})
}

// startIproute2Daemon runs iproute2's arpd -b db args... in the near
// namespace and waits until it has taken over resolution. It detaches and
// writes no pid file, so its pid is found among the processes in the
// namespace, which only this test starts.
func startIproute2Daemon(t testing.TB, l *demoLab, db string, args ...string) *labtest.Daemon {
	t.Helper()
	return labtest.Start(t, labtest.Options{Name: "iproute2 arpd", Bin: iproute2Arpd, Lab: l.Lab, DB: db,
		Args: args, Detach: true, ReadyIf: l.NearIf})
}

// demoCPU returns the daemon's user plus system time so far, from
// /proc/<pid>/stat (clock ticks of 10 ms).
func demoCPU(t testing.TB, d *labtest.Daemon) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.Pid()))
	if err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	// NB: the command name (field 2) is in parentheses and may hold
	// spaces; the fields after the last ')' start with field 3.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("%s: short /proc/pid/stat: %q", d.Name(), s)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const userHZ = 100                          // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(utime+stime) * time.Second / userHZ
}

// TestDemoAnalyze checks how the demo and the benchmark read the monitor's
// events, without root: an answer, an ARP reply, a retry, a failure, an
// answer read after the port-0 notices of the datagram it released, and an
// answer read before its request.
func TestDemoAnalyze(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	ev := []demoEvent{
		{us(100), 0, demoEvRequest}, {us(130), 0, demoEvAnswer}, // answered in 30 µs
		{us(200), 1, demoEvRequest}, {us(400), 1, demoEvWire}, // an ARP reply after 200 µs
		{us(300), 2, demoEvRequest}, {us(1000300), 2, demoEvRequest}, {us(1000350), 2, demoEvAnswer}, // asked again
		{us(400), 3, demoEvRequest}, {us(1000400), 3, demoEvRequest}, {us(2000400), 3, demoEvRequest}, {us(3000400), 3, demoEvFailed},
		{us(500), 4, demoEvRequest}, {us(600), 4, demoEvWire}, {us(610), 4, demoEvAnswer}, // the answer wins
		{us(700), 5, demoEvAnswer}, {us(705), 5, demoEvRequest}, // read out of order
		{us(800), 6, demoEvDel},
	}
	sent := []time.Duration{us(90), us(190), us(290), us(390), us(490), us(690), 0, 0}
	s := demoAnalyze(ev, 0, time.Hour, 0, 8, sent)
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"hosts", s.hosts, 8},
		{"answered", s.answered, 4},
		{"wire", s.wire, 1},
		{"failed", s.failed, 1},
		{"asked again", s.askedAgain, 2},
		{"requests", s.requests, 9},
		{"not asked", s.notAsked, 2},
		{"unresolved", s.unresolved, 0},
		{"out of order", s.outOfOrder, 1},
		{"turnaround samples", len(s.turnaround), 5},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	want := []time.Duration{0, us(30), us(50), us(110), us(200)}
	slices.Sort(s.turnaround)
	if !slices.Equal(s.turnaround, want) {
		t.Errorf("turnarounds %v, want %v", s.turnaround, want)
	}
	if s.peakTable != 6 { // hosts 0–5; host 6 was never seen before its removal
		t.Errorf("peak table %d, want 6", s.peakTable)
	}
	if got := demoPercentile([]time.Duration{5, 1, 4, 2, 3}, 50); got != 3 {
		t.Errorf("p50 of 1..5 = %v, want 3", got)
	}
}
