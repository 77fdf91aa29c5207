package lab

// Interrupt handling: a signal ends a long run through t.Fatal, so that
// its cleanups still run.

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// interrupt turns SIGINT and SIGTERM into a flag the long loops check,
// so that an interrupted run fails through t.Fatal and its cleanups (kill
// the daemons, restore global settings, delete the namespaces) still run.
// Without it, the default action would end the process on the spot.
type interrupt struct {
	hit atomic.Bool
	ch  chan os.Signal
}

// catchInterrupt starts catching the signals until t ends.
func catchInterrupt(t testing.TB) *interrupt {
	in := &interrupt{ch: make(chan os.Signal, 4)}
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
func (in *interrupt) check(t testing.TB) {
	t.Helper()
	if in.hit.Load() {
		t.Fatal("interrupted")
	}
}

// waitFor is labtest.WaitFor that also gives up when a signal came; the
// caller then calls check.
func (in *interrupt) waitFor(limit time.Duration, cond func() bool) bool {
	return labtest.WaitFor(limit, func() bool { return in.hit.Load() || cond() })
}
