package main

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPoller checks that wait reports exactly the readable descriptors by
// their tags, returns empty at its deadline, wakes for input that arrives
// while it waits, and allocates nothing.
func TestPoller(t *testing.T) {
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var efd [3]int
	for i := range efd {
		if efd[i], err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(efd[i])
		if err := p.add(efd[i], uint32(2*i+1)); err != nil {
			t.Fatal(err)
		}
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	drain := func(fd int) {
		var b [8]byte
		unix.Read(fd, b[:])
	}

	// Nothing readable: empty at the deadline, not before it.
	start := time.Now()
	ready, err := p.wait(start.Add(50 * time.Millisecond))
	if err != nil || ready != 0 {
		t.Fatalf("idle wait = %b, %v", ready, err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatalf("idle wait returned after %v, before its deadline", time.Since(start))
	}
	// A deadline already past returns at once.
	if ready, err := p.wait(time.Now().Add(-time.Second)); err != nil || ready != 0 {
		t.Fatalf("wait past its deadline = %b, %v", ready, err)
	}

	// The loop passes the same deadline many times in a row (wait sets
	// it only when it changes): once it passed, the same one returns at
	// once, and a new one is waited for again.
	d := time.Now().Add(30 * time.Millisecond)
	if ready, err := p.wait(d); err != nil || ready != 0 {
		t.Fatalf("wait = %b, %v", ready, err)
	}
	start = time.Now()
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

	// Two readable: both tags, and only theirs.
	unix.Write(efd[0], one)
	unix.Write(efd[2], one)
	if ready, err = p.wait(time.Now().Add(time.Second)); err != nil || ready != 1<<1|1<<5 {
		t.Fatalf("wait = %b, %v; want %b", ready, err, 1<<1|1<<5)
	}
	// Level-triggered: still readable until drained.
	if ready, _ = p.wait(time.Now().Add(time.Second)); ready != 1<<1|1<<5 {
		t.Fatalf("second wait = %b, want the same descriptors again", ready)
	}
	drain(efd[0])
	drain(efd[2])

	// Input that arrives while it waits wakes it.
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(efd[1], one)
	}()
	if ready, err = p.wait(time.Now().Add(5 * time.Second)); err != nil || ready != 1<<3 {
		t.Fatalf("wait for late input = %b, %v", ready, err)
	}
	drain(efd[1])

	// A removed descriptor is not reported.
	if err := p.remove(efd[1]); err != nil {
		t.Fatal(err)
	}
	unix.Write(efd[1], one)
	if ready, _ = p.wait(time.Now().Add(20 * time.Millisecond)); ready != 0 {
		t.Fatalf("removed descriptor reported: %b", ready)
	}

	// No allocation per wait, ready or not.
	unix.Write(efd[0], one)
	if n := testing.AllocsPerRun(100, func() {
		p.wait(time.Now().Add(time.Second))
	}); n != 0 {
		t.Fatalf("wait with input allocates %.1f times", n)
	}
	drain(efd[0])
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
