package afpacket_test

// A veth pair inside a lab namespace made for one test, so that the socket
// tests send frames only where nothing else listens, and everything is
// deleted when the test ends.

import (
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// The fixed addresses of the veth pair in every test namespace.
var (
	macA = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	macB = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02}
	ipA  = [4]byte{10, 77, 0, 1}
	ipB  = [4]byte{10, 77, 0, 2}
)

// netns is the near namespace of a lab, holding a veth pair of its own,
// "va" (MAC macA) and "vb" (macB), both up and without IPv4 addresses, so
// that the kernel sends no ARP of its own on them.
type netns struct {
	t   *testing.T
	lab *labtest.Lab
}

// newNetns makes the lab for t (labtest.New skips t, saying why, unless
// the test can make namespaces) and the veth pair in its near namespace.
func newNetns(t *testing.T) *netns {
	t.Helper()
	n := &netns{t: t, lab: labtest.New(t)}
	n.ip("link", "add", "va", "address", labtest.MACString(macA), "type", "veth", "peer", "name", "vb", "address", labtest.MACString(macB))
	n.ip("link", "set", "va", "up")
	n.ip("link", "set", "vb", "up")
	n.waitUp("va")
	n.waitUp("vb")
	return n
}

// ip runs "ip -n NS args..." in the namespace and fails the test if it
// fails.
func (n *netns) ip(args ...string) string {
	n.t.Helper()
	return n.lab.IP(n.lab.Near, args...)
}

// waitUp waits until interface ifname has carrier (LOWER_UP).
func (n *netns) waitUp(ifname string) {
	n.t.Helper()
	if !labtest.WaitFor(5*time.Second, func() bool {
		return strings.Contains(n.ip("link", "show", "dev", ifname), "LOWER_UP")
	}) {
		n.t.Fatalf("%s did not come up", ifname)
	}
}

// do runs fn on a thread switched into the namespace (labtest.Lab.Do):
// sockets fn opens stay there, and can be used from any goroutine.
func (n *netns) do(fn func() error) {
	n.t.Helper()
	if err := n.lab.Do(n.lab.Near, fn); err != nil {
		n.t.Fatalf("in netns %s: %v", n.lab.Near, err)
	}
}
