package afpacket_test

// A network namespace made for one test, so that the socket tests send
// frames only where nothing else listens and delete everything when done.

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

// nsSeq makes namespace names unique within one test binary; the pid makes
// them unique across binaries running at once.
var nsSeq atomic.Uint32

// The fixed addresses of the veth pair in every test namespace.
var (
	macA = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	macB = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02}
	ipA  = [4]byte{10, 77, 0, 1}
	ipB  = [4]byte{10, 77, 0, 2}
)

// netns is a network namespace holding a veth pair "va" (MAC macA) and
// "vb" (macB), both up and without IPv4 addresses, so that the kernel
// sends no ARP of its own there.
type netns struct {
	t    *testing.T
	name string
}

// newNetns makes a namespace for t and deletes it when t ends. It skips t,
// saying why, unless the test can make namespaces: it needs root and the
// ip command, and ARPD_NO_LAB unset (qemu-user sets it).
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to make a network namespace (run the tests as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: the ip command (iproute2) is not installed")
	}
	if os.Getenv("ARPD_NO_LAB") != "" {
		t.Skip("skipped: ARPD_NO_LAB is set")
	}
	n := &netns{t: t, name: fmt.Sprintf("arpdafp%d-%d", os.Getpid(), nsSeq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	n.ip("link", "add", "va", "address", macString(macA), "type", "veth", "peer", "name", "vb", "address", macString(macB))
	n.ip("link", "set", "va", "up")
	n.ip("link", "set", "vb", "up")
	n.waitUp("va")
	n.waitUp("vb")
	return n
}

// ip runs "ip -n NS args..." and fails the test if it fails.
func (n *netns) ip(args ...string) string {
	n.t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ip -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitUp waits until interface ifname has carrier (LOWER_UP).
func (n *netns) waitUp(ifname string) {
	n.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(n.ip("link", "show", "dev", ifname), "LOWER_UP") {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s did not come up", ifname)
		}
	}
}

// do runs fn on a locked OS thread switched into the namespace. Sockets
// fn opens stay in the namespace after do returns, and can be used from
// any goroutine.
func (n *netns) do(fn func() error) {
	n.t.Helper()
	target, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		n.t.Fatalf("open netns %s: %v", n.name, err)
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
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", n.name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		n.t.Fatalf("in netns %s: %v", n.name, err)
	}
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
