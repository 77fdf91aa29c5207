package main

// IPv6 lab tests of the daemon's life as a process and of its interface:
// the IPv6 sysctls given back at exit and after a crash, and the
// interface deleted and made again.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
)

// TestNDLabSysctlsRestored: the IPv6 app_solicit and mcast_solicit of a
// named interface are adjusted with the IPv4 ones and are back to their
// originals after SIGTERM; after kill -9 they stay adjusted, and a
// restarted daemon does not take them for the originals: its SIGTERM
// restores the values from before the first start.
func TestNDLabSysctlsRestored(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	d.setNearSysctls6(d.NearIf, 2, 5)
	d.setNearSysctls(d.NearIf, 3, 4)
	args := []string{"-a", "1", "-k", d.NearIf}

	p := d.startArpd(t, args...)
	if got := d.nearSysctls6(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("adjusted IPv6 sysctls %v, want [1 0]", got)
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM: %s", code, p.Output())
	}
	if got := d.nearSysctls6(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("IPv6 sysctls after SIGTERM %v, want the originals [2 5]", got)
	}

	p = d.startArpd(t, args...)
	p.Stop(unix.SIGKILL, 5*time.Second)
	if got := d.nearSysctls6(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("after kill -9 the IPv6 sysctls are %v; the test needs them left adjusted [1 0]", got)
	}
	p = d.startArpd(t, args...)
	if got := d.nearSysctls6(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("the restarted daemon's IPv6 sysctls %v, want [1 0]", got)
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM: %s", code, p.Output())
	}
	if got := d.nearSysctls6(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("IPv6 sysctls after kill -9, restart and SIGTERM %v, want the originals [2 5]", got)
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{3, 4} {
		t.Errorf("IPv4 sysctls at the end %v, want the originals [3 4]", got)
	}
}

// TestNDLabInterfaceComesBack: the watched interface is deleted and made
// again, with a new ifindex; the daemon adjusts the new one's IPv6
// sysctls and resolves IPv6 hosts on it again by its own solicitation.
func TestNDLabInterfaceComesBack(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	u := d.ListenUDP6(d.Far, labtest.FarIP6, 7131)
	d.resolve6(p, u, labtest.FarIP6, 7131, "before", "before the interface goes")

	old := d.NearIdx
	d.IP(d.Near, "link", "del", d.NearIf)
	d.IP(d.Near, "link", "add", d.NearIf, "type", "veth", "peer", "name", d.FarIf, "netns", d.Far)
	d.Address()
	d.IP(d.Near, "link", "set", d.NearIf, "up")
	d.IP(d.Far, "link", "set", d.FarIf, "up")
	d.waitOperUp(d.Near, d.NearIf)
	d.waitOperUp(d.Far, d.FarIf)
	d.Address6()
	d.NearIdx = d.Ifindex(d.Near, d.NearIf)
	if d.NearIdx == old {
		t.Fatalf("the new %s has the old ifindex %d", d.NearIf, old)
	}
	if !labtest.WaitFor(3*time.Second, func() bool { return strings.Contains(p.Output(), fmt.Sprintf("back as index %d", d.NearIdx)) }) {
		t.Fatalf("the daemon never saw %s come back: %s", d.NearIf, p.Output())
	}
	if got := d.nearSysctls6(d.NearIf); got != [2]int{1, 0} {
		t.Errorf("the new %s has IPv6 sysctls %v, want [1 0]", d.NearIf, got)
	}
	far := d.WatchND(d.Far, d.FarIf)
	u = d.ListenUDP6(d.Far, labtest.FarIP6, 7132)
	d.resolve6(p, u, labtest.FarIP6, 7132, "back", "on the new interface")
	if ns := labtest.Solicits(far.Poll(), labtest.FarIP6); len(ns) == 0 {
		t.Errorf("resolved on the new interface without a solicitation on the wire")
	}
	d.waitRow6(3*time.Second, labtest.FarIP6, labtest.MACString(labtest.FarMAC))
	p.RequireRunning("after the interface came back")
}
