package main

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// eventOne is the 8-byte count 1 that makes an eventfd readable.
var eventOne = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// drainEvent reads the eventfd fd back to not readable.
func drainEvent(fd int) {
	var b [8]byte
	unix.Read(fd, b[:])
}

// newTestPoller returns a poller watching three eventfds, with tags 1, 3
// and 5, all closed when the test ends.
func newTestPoller(t *testing.T) (*poller, [3]int) {
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	var efd [3]int
	for i := range efd {
		if efd[i], err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		fd := efd[i]
		t.Cleanup(func() { unix.Close(fd) })
		if err := p.add(efd[i], uint32(2*i+1)); err != nil {
			t.Fatal(err)
		}
	}
	return p, efd
}

// TestPoller checks that wait reports exactly the readable descriptors by
// their tags, returns empty at its deadline, wakes for input that arrives
// while it waits, and allocates nothing.
func TestPoller(t *testing.T) {
	p, efd := newTestPoller(t)
	pollerIdle(t, p)
	pollerSameDeadline(t, p)
	pollerReady(t, p, efd)
	pollerRemoved(t, p, efd)
	pollerNoAllocs(t, p, efd)
}

// pollerIdle: with nothing readable, wait is empty at the deadline and
// not before it, and at once for a deadline already past.
func pollerIdle(t *testing.T, p *poller) {
	start := time.Now()
	ready, err := p.wait(start.Add(50 * time.Millisecond))
	if err != nil || ready != 0 {
		t.Fatalf("idle wait = %b, %v", ready, err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatalf("idle wait returned after %v, before its deadline", time.Since(start))
	}
	if ready, err := p.wait(time.Now().Add(-time.Second)); err != nil || ready != 0 {
		t.Fatalf("wait past its deadline = %b, %v", ready, err)
	}
}

// pollerSameDeadline: the loop passes the same deadline many times in a
// row (wait sets it only when it changes): once it passed, the same one
// returns at once, and a new one is waited for again.
func pollerSameDeadline(t *testing.T, p *poller) {
	d := time.Now().Add(30 * time.Millisecond)
	if ready, err := p.wait(d); err != nil || ready != 0 {
		t.Fatalf("wait = %b, %v", ready, err)
	}
	start := time.Now()
	if ready, err := p.wait(d); err != nil || ready != 0 || time.Since(start) > 20*time.Millisecond {
		t.Fatalf("the same, passed deadline again = %b, %v after %v; want at once", ready, err, time.Since(start))
	}
	start = time.Now()
	if ready, err := p.wait(start.Add(30 * time.Millisecond)); err != nil || ready != 0 {
		t.Fatalf("wait for a new deadline = %b, %v", ready, err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatalf("a new deadline was not waited for: returned after %v", time.Since(start))
	}
}

// pollerReady: two readable give both tags and only theirs, again until
// drained (level-triggered), and input that arrives while it waits wakes
// it.
func pollerReady(t *testing.T, p *poller, efd [3]int) {
	unix.Write(efd[0], eventOne)
	unix.Write(efd[2], eventOne)
	ready, err := p.wait(time.Now().Add(time.Second))
	if err != nil || ready != 1<<1|1<<5 {
		t.Fatalf("wait = %b, %v; want %b", ready, err, 1<<1|1<<5)
	}
	if ready, _ = p.wait(time.Now().Add(time.Second)); ready != 1<<1|1<<5 {
		t.Fatalf("second wait = %b, want the same descriptors again", ready)
	}
	drainEvent(efd[0])
	drainEvent(efd[2])

	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(efd[1], eventOne)
	}()
	if ready, err = p.wait(time.Now().Add(5 * time.Second)); err != nil || ready != 1<<3 {
		t.Fatalf("wait for late input = %b, %v", ready, err)
	}
	drainEvent(efd[1])
}

// pollerRemoved: a removed descriptor is not reported.
func pollerRemoved(t *testing.T, p *poller, efd [3]int) {
	if err := p.remove(efd[1]); err != nil {
		t.Fatal(err)
	}
	unix.Write(efd[1], eventOne)
	if ready, _ := p.wait(time.Now().Add(20 * time.Millisecond)); ready != 0 {
		t.Fatalf("removed descriptor reported: %b", ready)
	}
}

// pollerNoAllocs: no allocation per wait, ready or not.
func pollerNoAllocs(t *testing.T, p *poller, efd [3]int) {
	unix.Write(efd[0], eventOne)
	if n := testing.AllocsPerRun(100, func() {
		p.wait(time.Now().Add(time.Second))
	}); n != 0 {
		t.Fatalf("wait with input allocates %.1f times", n)
	}
	drainEvent(efd[0])
	if n := testing.AllocsPerRun(5, func() {
		p.wait(time.Now().Add(time.Millisecond))
	}); n != 0 {
		t.Fatalf("wait to its deadline allocates %.1f times", n)
	}
}

// remove stops watching fd (the daemon never needs to: closing a
// descriptor takes it out of the epoll set).
func (p *poller) remove(fd int) error {
	return unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, fd, nil)
}
