package lab

// The netlink monitor: the kernel's requests and the answers on the
// neighbour group, as the demo and the benchmark count them.

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// Kinds of neighbour events the monitor records.
const (
	evRequest     = iota + 1 // the kernel's RTM_GETNEIGH, state INCOMPLETE
	evProbe                  // the kernel's RTM_GETNEIGH, state PROBE
	evAnswer                 // RTM_NEWNEIGH with an address, set through rtnetlink (a daemon's answer)
	evWire                   // RTM_NEWNEIGH with an address the kernel learned itself (an ARP reply)
	evFailed                 // RTM_NEWNEIGH FAILED by the kernel's timer: resolution failed
	evOtherFailed            // RTM_NEWNEIGH FAILED set through rtnetlink (flush, delete)
	evDel                    // RTM_DELNEIGH
)

// neighEvent is one neighbour message about a host, with the time the
// monitor read it.
type neighEvent struct {
	at   time.Duration // since the monitor started
	host int32
	kind uint8
}

// monitor is an rtnetlink socket in the near namespace subscribed to
// RTNLGRP_NEIGH. It sees the kernel's requests to user space and every
// change they lead to, including the daemon's answer (which the kernel
// notifies with the answering socket's port in nlmsg_pid).
//
// NB: netlink does not timestamp its messages (netlink_recvmsg passes no
// SO_TIMESTAMP control message on Linux 6.x), so the monitor reads the
// monotonic clock when recvmsg returns, up to a millisecond late (it
// polls; see newMonitor). Its times order the events; the figures in
// microseconds come from the kernel's tracepoints.
type monitor struct {
	fd      int
	ifindex int32
	family  uint8 // AF_INET or AF_INET6: the lab's hosts
	start   time.Time
	stop    atomic.Bool
	done    chan struct{}

	// caughtUp is the monitor's clock when the reader last found
	// nothing queued on the socket.
	caughtUp atomic.Int64

	mu       sync.Mutex
	events   []neighEvent
	overruns int

	// settled, when set, gets each host whose pending request was
	// answered, resolved on the wire or failed; the send is dropped if
	// nobody is listening.
	settled chan int
}

// monitorBuf returns the monitor's receive buffer for n hosts: a burst
// queues about three messages per host, each costing about 1 KiB; 256 MiB
// at least, 1 GiB at most.
func monitorBuf(n int) int { return min(max(256<<20, 4*n<<10), 1<<30) }

// newMonitor opens the monitor in l's near namespace and starts
// reading; it stops when t ends.
//
// NB: the monitor never waits in recvfrom: it reads what is queued and
// sleeps 1 ms when nothing is, so it only counts; its read times are late
// by up to that. A listener waiting in recvfrom is woken by the kernel
// inside the very call that makes the request (the sender's sendto), often
// with an interrupt to the other CPU; on 2 CPUs that made each request
// wait 30 to 60 µs longer for a CPU. A socket nobody waits on costs the
// kernel only the copy. The timing comes from the kernel (neighTrace).
func newMonitor(t testing.TB, l *hostLab) *monitor {
	t.Helper()
	m := &monitor{ifindex: l.ifindex, family: unix.AF_INET, done: make(chan struct{}), settled: make(chan int, 1<<16),
		events: make([]neighEvent, 0, 4*l.n+1024)}
	if l.v6 {
		m.family = unix.AF_INET6
	}
	if err := l.Do(l.Near, func() (err error) {
		m.fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(m.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, monitorBuf(l.n)); err != nil {
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
func (m *monitor) close() {
	if m.stop.Swap(true) {
		return
	}
	<-m.done
	unix.Close(m.fd)
}

// now returns the monitor's clock.
func (m *monitor) now() time.Duration { return time.Since(m.start) }

// idleThread locks the calling goroutine to its thread and makes the
// thread SCHED_IDLE: it runs only when a CPU has nothing else to do. The
// monitor and the sink read what the kernel already stamped or queued, so
// they can wait; at normal priority, on 2 CPUs, their wake-ups on every
// request competed with the daemon under test for a CPU and showed in its
// latency.
func idleThread() {
	runtime.LockOSThread()
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
}

// read records events until stopped.
func (m *monitor) read() {
	defer close(m.done)
	idleThread()
	buf := make([]byte, 1<<16)
	var msg rtnl.Msg
	var n rtnl.Neigh
	pending := map[int32]bool{}
	for !m.stop.Load() {
		k, _, err := unix.Recvfrom(m.fd, buf, unix.MSG_DONTWAIT)
		at := m.now()
		if err != nil {
			if err == unix.EAGAIN {
				m.caughtUp.Store(int64(at))
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
			if rtnl.DecodeNeigh(&msg, &n) != nil || n.Family != m.family || n.Ifindex != m.ifindex {
				continue
			}
			h := hostIndex(n.DstAddr())
			if kind := neighKind(&n); h >= 0 && kind != 0 {
				m.record(neighEvent{at: at, host: int32(h), kind: kind}, pending)
			}
		}
	}
}

// neighKind returns the kind of event n is, or 0 for none the monitor
// records.
func neighKind(n *rtnl.Neigh) uint8 {
	switch {
	case n.MsgType == unix.RTM_GETNEIGH && n.MsgFlags&unix.NLM_F_REQUEST != 0 && n.State&unix.NUD_INCOMPLETE != 0:
		return evRequest
	case n.MsgType == unix.RTM_GETNEIGH && n.MsgFlags&unix.NLM_F_REQUEST != 0 && n.State&unix.NUD_PROBE != 0:
		return evProbe
	case n.MsgType == unix.RTM_DELNEIGH:
		return evDel
	case n.MsgType == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED && n.Pid == 0:
		return evFailed
	case n.MsgType == unix.RTM_NEWNEIGH && n.State == unix.NUD_FAILED:
		return evOtherFailed
	case n.MsgType == unix.RTM_NEWNEIGH && n.LLAddrLen == 6 && n.Pid != 0:
		return evAnswer
	case n.MsgType == unix.RTM_NEWNEIGH && n.LLAddrLen == 6:
		return evWire
	}
	return 0
}

// record adds e to the events and, when it settles a request of its host
// that is pending (in pending, which read keeps), passes the host on to
// settled.
func (m *monitor) record(e neighEvent, pending map[int32]bool) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	switch e.kind {
	case evRequest:
		pending[e.host] = true
	case evAnswer, evWire, evFailed:
		if pending[e.host] {
			delete(pending, e.host)
			select {
			case m.settled <- int(e.host):
			default:
			}
		}
	}
}

// snapshot returns a copy of the events so far and the overrun count,
// once the reader has read everything the kernel queued before the call
// (or after 10 s without that).
//
// NB: the reader runs SCHED_IDLE (idleThread), so on a busy machine (go
// test ./... builds and runs other packages beside this one) it can be
// seconds behind the kernel; without the wait, a pass's last requests and
// answers were missing from its figures.
func (m *monitor) snapshot(t testing.TB) ([]neighEvent, int) {
	t.Helper()
	since := m.now()
	if !labtest.WaitFor(10*time.Second, func() bool { return time.Duration(m.caughtUp.Load()) > since }) {
		t.Logf("the neighbour monitor is still behind after 10 s: its figures are incomplete")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events), m.overruns
}
