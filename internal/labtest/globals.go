package labtest

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// GlobalsLockPath is where every test that changes a global kernel
// setting (gc_thresh2, gc_thresh3: the neighbour table is one for all
// namespaces) holds an exclusive flock for as long as the setting is
// changed, and where a test that relies on a global setting holds a
// shared one. It serves all test binaries on the machine at once.
const GlobalsLockPath = "/run/arpd-test-global.lock"

// Globals is the exclusive hold of the global-settings lock, taken by
// LockGlobals.
type Globals struct {
	t  testing.TB
	fd int
}

// LockGlobals takes the global-settings lock exclusively, waiting for
// other holders as long as they hold it, and releases it when t ends,
// after the settings changed through it are restored.
func LockGlobals(t testing.TB) *Globals {
	t.Helper()
	fd, err := unix.Open(GlobalsLockPath, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("global lock: %v", err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		t.Fatalf("global lock: %v", err)
	}
	// NB: registered first, so it runs after every restore.
	t.Cleanup(func() { unix.Close(fd) })
	return &Globals{t: t, fd: fd}
}

// Set writes value to the global sysctl /proc/sys/<key> (in the test
// process's namespace) and restores the value it had when t ends. The
// original is read under the lock, so it is the true one; settings are
// restored in the reverse order of their Sets.
func (g *Globals) Set(key, value string) {
	g.t.Helper()
	path := "/proc/sys/" + key
	orig, err := os.ReadFile(path)
	if err != nil {
		g.t.Fatalf("read %s: %v", key, err)
	}
	g.t.Cleanup(func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			g.t.Errorf("restore %s to %s: %v", key, strings.TrimSpace(string(orig)), err)
		}
	})
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		g.t.Fatalf("set %s=%s: %v", key, value, err)
	}
}

// Raise is Set for an integer sysctl that is left alone when it is at
// least v already.
func (g *Globals) Raise(key string, v int) {
	g.t.Helper()
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		g.t.Fatalf("read %s: %v", key, err)
	}
	if o, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && o >= v {
		return
	}
	g.Set(key, strconv.Itoa(v))
}

// ShareGlobals takes the global-settings lock shared, so that no other
// test changes a global setting while t relies on it, and releases it when
// t ends. It waits up to limit for the tests that hold it exclusively, and
// gives up early once stop (which may be nil) reports true. It reports
// whether it got the lock.
func ShareGlobals(t testing.TB, limit time.Duration, stop func() bool) bool {
	t.Helper()
	fd, err := unix.Open(GlobalsLockPath, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("global lock: %v", err)
	}
	got := false
	WaitFor(limit, func() bool {
		got = unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) == nil
		return got || (stop != nil && stop())
	})
	if !got {
		unix.Close(fd)
		return false
	}
	t.Cleanup(func() { unix.Close(fd) })
	return true
}
