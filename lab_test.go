package main

// The lab: network namespaces made by a test, joined by a veth pair, and
// always deleted when the test ends. Every privileged test builds on it, so
// traffic never leaves namespaces the test made itself.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// labSeq makes namespace names unique within one test binary; the pid makes
// them unique across binaries running at once.
var labSeq atomic.Uint32

// lab is two network namespaces, Near and Far, joined by a veth pair:
// NearIf in Near and FarIf in Far. Near is where arpd runs; Far holds the
// hosts it resolves.
type lab struct {
	t             testing.TB
	Near, Far     string // namespace names
	NearIf, FarIf string // interface names inside each namespace
}

// requireRoot skips t, saying why, unless the test can make network
// namespaces: it needs root and the ip command.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab test skipped: needs root to make network namespaces (run make test as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("lab test skipped: the ip command (iproute2) is not installed")
	}
	if os.Getenv("ARPD_NO_LAB") != "" {
		t.Skip("lab test skipped: ARPD_NO_LAB is set (for example under qemu-user, which has no rtnetlink neighbour support)")
	}
}

// newLab makes a lab for t and registers its removal with t.Cleanup, so the
// namespaces go away even when the test fails. Both ends are up; nothing is
// addressed yet.
func newLab(t testing.TB) *lab {
	t.Helper()
	requireRoot(t)
	n := labSeq.Add(1)
	base := fmt.Sprintf("arpdt%d-%d", os.Getpid(), n)
	l := &lab{t: t, Near: base + "-n", Far: base + "-f", NearIf: "vnear", FarIf: "vfar"}
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
func (l *lab) destroy() {
	for _, ns := range []string{l.Near, l.Far} {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Logf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

// IP runs "ip -n ns args..." and fails the test if it fails.
func (l *lab) IP(ns string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Exec runs a command inside namespace ns and returns its combined output.
func (l *lab) Exec(ns, name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}

// Sysctl writes value to /proc/sys/<key> inside namespace ns; key uses
// slashes, as in "net/ipv4/neigh/vnear/app_solicit".
func (l *lab) Sysctl(ns, key, value string) {
	l.t.Helper()
	if err := l.Do(ns, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	}); err != nil {
		l.t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns, err)
	}
}

// Do runs fn on a locked OS thread switched into namespace ns. Sockets that
// fn opens stay in ns after Do returns, so a test can open its sockets in
// the lab and use them from any goroutine.
func (l *lab) Do(ns string, fn func() error) error {
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

// Ifindex returns the index of interface name in namespace ns. It asks the
// kernel with SIOCGIFINDEX on a socket made inside ns (sysfs would show the
// test process's own namespace, not ns).
func (l *lab) Ifindex(ns, name string) int {
	l.t.Helper()
	var idx int
	if err := l.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
			return err
		}
		idx = int(ifr.Uint32())
		return nil
	}); err != nil {
		l.t.Fatalf("ifindex of %s in %s: %v", name, ns, err)
	}
	return idx
}

// sendUDP sends one empty datagram to port 9 (discard) of dst from the
// calling thread's namespace; call it inside lab.Do.
func sendUDP(dst [4]byte) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Sendto(fd, nil, unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: 9, Addr: dst})
}

// waitFor polls cond every 10 ms until it holds or limit passes, and says
// whether it held. Every wait in the lab is bounded this way.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ExecStdin runs a command inside namespace ns with stdin as its input and
// returns its combined output.
func (l *lab) ExecStdin(ns, stdin, name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
