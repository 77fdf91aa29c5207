package main

// The daemon as a separate process for the lab tests: the test binary runs
// itself as arpd (TestMain calls run when daemonExecEnv is set), inside a
// lab namespace through "ip netns exec", which execs in place so the pid
// the test holds is the daemon's. Helpers read its database with -l and -s
// exactly as an administrator would.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// daemonExecEnv makes the test binary behave as the arpd program. A
// detached daemon inherits it, so detaching works too.
const daemonExecEnv = "ARPD_TEST_RUN_MAIN"

// TestMain runs the program instead of the tests when daemonExecEnv is set.
func TestMain(m *testing.M) {
	if os.Getenv(daemonExecEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	removeBenchDir()
	os.Exit(code)
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// arpdCommand returns the command that runs arpd with args inside
// namespace ns.
func arpdCommand(t *testing.T, ns string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, exe}, args...)...)
	cmd.Env = append(os.Environ(), daemonExecEnv+"=1")
	return cmd
}

// runArpdIn runs arpd with args inside namespace ns to its end, at most
// limit, and returns its exit status and combined output.
func runArpdIn(t *testing.T, ns string, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	cmd := arpdCommand(t, ns, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("arpd %s did not exit within %v: %s", strings.Join(args, " "), limit, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// arpdProc is a daemon started by a test, in the foreground (-F) so that
// its stderr can be read.
type arpdProc struct {
	t      *testing.T
	DB     string
	Pid    int
	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited
}

// startArpd starts "arpd -F -b db args..." inside namespace ns and waits
// until it says it is ready. The test's cleanup kills it with SIGKILL if it
// is still running.
func startArpd(t *testing.T, ns, db string, args ...string) *arpdProc {
	t.Helper()
	p := &arpdProc{t: t, DB: db, done: make(chan struct{})}
	p.cmd = arpdCommand(t, ns, append([]string{"-F", "-b", db}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stderr, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start arpd: %v", err)
	}
	p.Pid = p.cmd.Process.Pid
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.Exited() {
			unix.Kill(p.Pid, unix.SIGKILL)
			<-p.done
		}
	})
	if !waitFor(10*time.Second, func() bool { return p.Exited() || strings.Contains(p.Stderr(), "arpd: ready:") }) || p.Exited() {
		t.Fatalf("arpd %s did not become ready (exited: %v): %s", strings.Join(args, " "), p.Exited(), p.Stderr())
	}
	return p
}

// Stderr returns what the daemon has written so far.
func (p *arpdProc) Stderr() string { return p.stderr.String() }

// Exited reports whether the process has ended.
func (p *arpdProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the daemon.
func (p *arpdProc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := unix.Kill(p.Pid, sig); err != nil {
		p.t.Fatalf("kill -%d %d: %v", sig, p.Pid, err)
	}
}

// Stop sends sig and waits for the exit, at most limit, and returns the
// exit status (-1 for a death by signal).
func (p *arpdProc) Stop(sig syscall.Signal, limit time.Duration) int {
	p.t.Helper()
	p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Fatalf("arpd did not exit within %v of signal %d: %s", limit, sig, p.Stderr())
	}
	return p.cmd.ProcessState.ExitCode()
}

// RequireRunning fails the test if the daemon has exited.
func (p *arpdProc) RequireRunning(what string) {
	p.t.Helper()
	if p.Exited() {
		p.t.Fatalf("arpd exited %s (status %d): %s", what, p.cmd.ProcessState.ExitCode(), p.Stderr())
	}
}

// dbRow is one row of arpd -l: a positive entry has MAC set, a negative
// one Failed.
type dbRow struct {
	MAC    string
	Failed bool
	Age    int // seconds, for negative entries
}

// listDBRows runs arpd -l on db (which may belong to a running daemon) and
// returns its rows by "ifindex ip".
func listDBRows(t *testing.T, db string) map[string]dbRow {
	t.Helper()
	code, out, errs := runArpd(t, "", "-l", "-b", db)
	if code != 0 {
		t.Fatalf("arpd -l -b %s: exit %d: %s", db, code, errs)
	}
	rows := map[string]dbRow{}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i == 0 {
			if line+"\n" != listHeader {
				t.Fatalf("arpd -l: header %q", line)
			}
			continue
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3:
			rows[f[0]+" "+f[1]] = dbRow{MAC: f[2]}
		case len(f) == 5 && f[2] == "FAILED:" && f[4] == "ago":
			age, _ := strconv.Atoi(strings.TrimSuffix(f[3], "sec"))
			rows[f[0]+" "+f[1]] = dbRow{Failed: true, Age: age}
		default:
			t.Fatalf("arpd -l: cannot read row %q", line)
		}
	}
	return rows
}

// rowKey is the listDBRows key of ip on interface ifindex.
func rowKey(ifindex int, ip [4]byte) string {
	return fmt.Sprintf("%d %d.%d.%d.%d", ifindex, ip[0], ip[1], ip[2], ip[3])
}

// parseStats reads the "name value" lines of arpd -s.
func parseStats(out string) map[string]uint64 {
	st := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				st[f[0]] = v
			}
		}
	}
	return st
}

// dbStats runs arpd -s on db and returns its counters by name, with
// "entries" and "capacity" among them.
func dbStats(t *testing.T, db string) map[string]uint64 {
	t.Helper()
	code, out, errs := runArpd(t, "", "-s", "-b", db)
	if code != 0 {
		t.Fatalf("arpd -s -b %s: exit %d: %s", db, code, errs)
	}
	st := parseStats(out)
	if _, ok := st["arp_accepted"]; !ok {
		t.Fatalf("arpd -s printed no counters: %s", out)
	}
	return st
}

// readSysctlIn reads an integer sysctl (a path under /proc/sys, with
// slashes) inside namespace ns.
func (l *lab) readSysctlIn(ns, key string) int {
	l.t.Helper()
	var v int
	if err := l.Do(ns, func() error {
		b, err := os.ReadFile("/proc/sys/" + key)
		if err != nil {
			return err
		}
		v, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	}); err != nil {
		l.t.Fatalf("read sysctl %s in %s: %v", key, ns, err)
	}
	return v
}
