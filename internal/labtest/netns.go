package labtest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// Do runs fn on a locked OS thread switched into namespace ns. Sockets that
// fn opens stay in ns after Do returns, so a test can open its sockets in
// the lab and use them from any goroutine. Do may be called from any
// goroutine: it fails no test itself.
func (l *Lab) Do(ns string, fn func() error) error {
	target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer unix.Close(target)

	errc := make(chan error, 1)
	go func() {
		// NB: the thread is never unlocked if switching back fails, so
		// the runtime retires it instead of reusing a thread that sits
		// in the wrong namespace.
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Ifindex returns the index of interface name in namespace ns, asked of
// the kernel inside ns with afpacket.IndexByName (sysfs would show the
// test process's own namespace, not ns).
func (l *Lab) Ifindex(ns, name string) int {
	l.t.Helper()
	var idx uint32
	if err := l.Do(ns, func() (err error) {
		idx, err = afpacket.IndexByName(name)
		return err
	}); err != nil {
		l.t.Fatalf("ifindex of %s in %s: %v", name, ns, err)
	}
	return int(idx)
}
