package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestLab checks the lab itself: both namespaces exist while the test runs,
// the veth ends see each other, sysctls land in the right namespace, and
// everything is gone afterwards.
func TestLab(t *testing.T) {
	var near, far string
	t.Run("build", func(t *testing.T) {
		l := newLab(t)
		near, far = l.Near, l.Far
		l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
		l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
		// One datagram makes the near kernel resolve the far end by ARP.
		if err := l.Do(l.Near, func() error { return sendUDP([4]byte{10, 77, 0, 2}) }); err != nil {
			t.Fatalf("send across the veth pair: %v", err)
		}
		if !waitFor(2*time.Second, func() bool {
			out := l.IP(l.Near, "neigh", "show", "10.77.0.2", "dev", l.NearIf)
			return strings.Contains(out, "lladdr")
		}) {
			t.Fatalf("the near side never resolved 10.77.0.2: %s", l.IP(l.Near, "neigh", "show"))
		}
		if idx := l.Ifindex(l.Near, l.NearIf); idx <= 1 {
			t.Fatalf("ifindex of %s = %d, want > 1", l.NearIf, idx)
		}
		l.Sysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/app_solicit", "2")
		got, err := l.Exec(l.Near, "cat", "/proc/sys/net/ipv4/neigh/"+l.NearIf+"/app_solicit")
		if err != nil || strings.TrimSpace(got) != "2" {
			t.Fatalf("app_solicit in %s = %q (%v), want 2", l.Near, got, err)
		}
	})
	if near == "" {
		return // skipped
	}
	for _, ns := range []string{near, far} {
		if _, err := os.Stat("/run/netns/" + ns); !os.IsNotExist(err) {
			t.Errorf("namespace %s still exists after the test: %v", ns, err)
		}
	}
}
