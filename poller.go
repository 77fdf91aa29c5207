package main

// Waiting for the daemon's sockets without a thread parked in poll(2).

import (
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller waits until one of a few file descriptors is readable, or until
// a deadline passes.
//
// NB: the descriptors are registered, level-triggered, with an epoll
// instance of their own, and that epoll descriptor, which is readable
// whenever one of them is, is handed to the runtime's network poller
// through os.NewFile. The loop's goroutine then parks like any goroutine
// waiting on a socket, and the thread that finds it runnable runs it: no
// hand-off between threads, as a blocking poll(2) would cause, and
// deadlines come from the runtime's timers (doc/DESIGN.md has the figures).
type poller struct {
	ep     int
	file   *os.File
	raw    syscall.RawConn
	ready  uint32    // tags of the descriptors found readable
	until  time.Time // the deadline last set on file
	events [8]unix.EpollEvent
	check  func(uintptr) bool // p.poll as a value made once: no allocation per wait
}

// newPoller returns a poller with no descriptors.
func newPoller() (*poller, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// os.NewFile hands a descriptor to the runtime's poller only when it
	// is non-blocking.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, err
	}
	p := &poller{ep: ep, file: os.NewFile(uintptr(ep), "epoll")}
	if p.raw, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, err
	}
	p.check = p.poll
	return p, nil
}

// add watches fd for input; wait reports it as bit tag (0 to 31).
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func (p *poller) add(fd int, tag uint32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tag)}
	return unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, fd, &ev)
}

// poll collects the readable descriptors without blocking, and reports
// whether there were any (if not, the runtime parks the caller until the
// epoll descriptor is readable).
//
// NB: epoll_pwait with a zero timeout and no signal mask, as a raw system
// call: it never waits, and an ordinary system call's entersyscall would
// wake the runtime's monitor thread, which sleeps whenever the daemon was
// idle, on the way to every answer after a quiet moment. (epoll_pwait
// rather than epoll_wait because arm64 and riscv64 have only the former.)
func (p *poller) poll(uintptr) bool {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.ep), uintptr(unsafe.Pointer(&p.events[0])),
		uintptr(len(p.events)), 0, 0, 0)
	if e != 0 {
		return e != unix.EINTR
	}
	n := int(r)
	for i := 0; i < n; i++ {
		p.ready |= 1 << (uint32(p.events[i].Fd) & 31)
	}
	return n > 0
}

// wait returns the tags of the readable descriptors as a bit set, once
// there is at least one or deadline has passed (then the set is empty).
// It allocates nothing.
func (p *poller) wait(deadline time.Time) (uint32, error) {
	p.ready = 0
	// NB: setting a deadline moves a runtime timer; the loop's deadline
	// changes about once a second, its waits come thousands of times
	// a second in a burst.
	if !deadline.Equal(p.until) {
		if err := p.file.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		p.until = deadline
	}
	err := p.raw.Read(p.check)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return p.ready, err
	}
	return p.ready, nil
}

// Close releases the epoll descriptor. The watched descriptors stay open.
func (p *poller) Close() error { return p.file.Close() }
