package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// labSeq makes namespace names unique within one test binary; the pid makes
// them unique across binaries running at once.
var labSeq atomic.Uint32

// Lab is two network namespaces, Near and Far, joined by a veth pair:
// NearIf in Near and FarIf in Far. Near is where arpd runs; Far holds the
// hosts it resolves. Its methods fail the test that made it when a command
// they run fails.
type Lab struct {
	t             testing.TB
	Near, Far     string // namespace names
	NearIf, FarIf string // interface names inside each namespace
}

// New makes a lab for t and registers its removal with t.Cleanup, so the
// namespaces go away even when the test fails. Both ends are up; nothing is
// addressed yet. It skips t as RequireRoot does.
func New(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	n := labSeq.Add(1)
	base := fmt.Sprintf("arpdt%d-%d", os.Getpid(), n)
	l := &Lab{t: t, Near: base + "-n", Far: base + "-f", NearIf: "vnear", FarIf: "vfar"}
	t.Cleanup(l.destroy)
	for _, ns := range []string{l.Near, l.Far} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
	}
	l.IP(l.Near, "link", "add", l.NearIf, "type", "veth", "peer", "name", l.FarIf, "netns", l.Far)
	l.IP(l.Near, "link", "set", "lo", "up")
	l.IP(l.Far, "link", "set", "lo", "up")
	l.IP(l.Near, "link", "set", l.NearIf, "up")
	l.IP(l.Far, "link", "set", l.FarIf, "up")
	return l
}

// destroy deletes both namespaces; deleting a namespace deletes the veth
// pair with it.
func (l *Lab) destroy() {
	for _, ns := range []string{l.Near, l.Far} {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Logf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

// IP runs "ip -n ns args..." and returns its output; it fails the test if
// the command fails.
func (l *Lab) IP(ns string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Exec runs a command inside namespace ns and returns its combined output.
func (l *Lab) Exec(ns, name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}

// ExecStdin runs a command inside namespace ns with stdin as its input and
// returns its combined output.
func (l *Lab) ExecStdin(ns, stdin, name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Run runs a command inside namespace ns to its end and returns its exit
// status and combined output. It kills the command and fails the test if
// the command has not ended within limit.
func (l *Lab) Run(ns string, limit time.Duration, name string, args ...string) (int, string) {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		l.t.Fatalf("%s %s did not exit within %v: %s", name, strings.Join(args, " "), limit, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// Sysctl writes value to /proc/sys/<key> inside namespace ns; key uses
// slashes, as in "net/ipv4/neigh/vnear/app_solicit".
func (l *Lab) Sysctl(ns, key, value string) {
	l.t.Helper()
	if err := l.Do(ns, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	}); err != nil {
		l.t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns, err)
	}
}

// ReadSysctl reads the integer sysctl /proc/sys/<key> inside namespace ns;
// key is written as for Sysctl. It fails the test if the value cannot be
// read or is no integer.
func (l *Lab) ReadSysctl(ns, key string) int {
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
