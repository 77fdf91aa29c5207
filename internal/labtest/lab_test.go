package labtest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// TestLab checks the lab itself: both namespaces exist while the test runs,
// the veth ends see each other, sysctls land in the right namespace, and
// everything is gone afterwards.
func TestLab(t *testing.T) {
	var near, far string
	t.Run("build", func(t *testing.T) {
		l := labtest.New(t)
		near, far = l.Near, l.Far
		l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
		l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
		// One datagram makes the near kernel resolve the far end by ARP.
		if err := l.Do(l.Near, func() error { return labtest.SendUDP([4]byte{10, 77, 0, 2}) }); err != nil {
			t.Fatalf("send across the veth pair: %v", err)
		}
		if !labtest.WaitFor(2*time.Second, func() bool {
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
		if v := l.ReadSysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/app_solicit"); v != 2 {
			t.Fatalf("ReadSysctl of app_solicit in %s = %d, want 2", l.Near, v)
		}
		if v := l.ReadSysctl(l.Far, "net/ipv4/neigh/"+l.FarIf+"/app_solicit"); v != 0 {
			t.Fatalf("app_solicit in %s = %d, want the kernel's 0", l.Far, v)
		}
		out, err := l.ExecStdin(l.Far, "hello", "cat")
		if err != nil || out != "hello" {
			t.Fatalf("ExecStdin cat = %q (%v), want hello", out, err)
		}
		if code, out := l.Run(l.Near, 5*time.Second, "sh", "-c", "echo out; exit 3"); code != 3 || out != "out\n" {
			t.Fatalf("Run: exit %d, output %q; want 3 and \"out\\n\"", code, out)
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
