package main

// The harness of the IPv6 lab tests of the daemon (daemon_nd_*_lab_test.go):
// the daemon's lab of daemon_lab_test.go with the IPv6 addresses of
// labtest.Lab.Address6 on top (fd77::1/64 near, fd77::2/64 far, nodad), and
// the IPv6 forms of its helpers.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// newDaemonLab6 makes the daemon's lab for t with IPv6 addresses on both
// ends as well (labtest.Lab.Address6), holding the global-settings lock
// shared (labtest.NewNeighLab6 says why).
func newDaemonLab6(t *testing.T) *dlab {
	t.Helper()
	labtest.RequireRoot(t)
	if !labtest.ShareGlobals(t, 5*time.Minute, nil) {
		t.Fatalf("another test held the global settings (%s) for 5 minutes", labtest.GlobalsLockPath)
	}
	d := newDaemonLab(t)
	d.Address6()
	return d
}

// rowKey6 is the listDBRows key of the IPv6 address ip on interface
// ifindex: arpd -l writes IPv6 addresses in RFC 5952 form, as ip(8) and
// labtest.IP6String do.
func rowKey6(ifindex int, ip [16]byte) string {
	return fmt.Sprintf("%d %s", ifindex, labtest.IP6String(ip))
}

// waitRow6 is waitRow for the IPv6 address ip on the near interface.
func (d *dlab) waitRow6(limit time.Duration, ip [16]byte, want string) {
	d.t.Helper()
	d.waitRow(limit, rowKey6(d.NearIdx, ip), want)
}

// nearSysctls6 returns the IPv6 app_solicit and mcast_solicit of ifname
// in Near.
func (d *dlab) nearSysctls6(ifname string) [2]int {
	d.t.Helper()
	return [2]int{d.ReadSysctl(d.Near, labtest.Neigh6Key(ifname, "app_solicit")),
		d.ReadSysctl(d.Near, labtest.Neigh6Key(ifname, "mcast_solicit"))}
}

// setNearSysctls6 sets the IPv6 app_solicit and mcast_solicit of ifname
// in Near.
func (d *dlab) setNearSysctls6(ifname string, app, mcast int) {
	d.t.Helper()
	d.Sysctl(d.Near, labtest.Neigh6Key(ifname, "app_solicit"), strconv.Itoa(app))
	d.Sysctl(d.Near, labtest.Neigh6Key(ifname, "mcast_solicit"), strconv.Itoa(mcast))
}

// nearNeigh6 returns the near kernel's entry for ip on NearIf.
func (d *dlab) nearNeigh6(ip [16]byte) labtest.Neigh6 {
	d.t.Helper()
	return d.Neigh6(d.Near, d.NearIf, ip)
}

// resolve6 sends payload to [ip]:port from Near and waits until the host
// listening there, u, gets it; what names the step in the failure, which
// shows the near kernel's entry and the daemon's output.
func (d *dlab) resolve6(p *labtest.Daemon, u *labtest.UDP6, ip [16]byte, port int, payload, what string) {
	d.t.Helper()
	d.SendUDP6From(d.Near, ip, port, []byte(payload))
	if got, ok := u.Recv(5 * time.Second); !ok || string(got) != payload {
		d.t.Fatalf("%s: the host [%s]:%d got %q (%v), want %q; near %q; arpd: %s",
			what, labtest.IP6String(ip), port, got, ok, payload, d.nearNeigh6(ip).Line, p.Output())
	}
}

// nearCycle6 sends one datagram to ip from Near and waits until the near
// kernel's resolution of ip ends without an address (FAILED, or the entry
// collected): one full round of the kernel asking the daemon.
func (d *dlab) nearCycle6(ip [16]byte) {
	d.t.Helper()
	d.SendUDP6From(d.Near, ip, 9, nil)
	var n labtest.Neigh6
	if !labtest.WaitFor(5*time.Second, func() bool {
		n = d.nearNeigh6(ip)
		return n.State != "INCOMPLETE"
	}) {
		d.t.Fatalf("the kernel never finished resolving %s: %q", labtest.IP6String(ip), n.Line)
	}
	if n.MAC != "" {
		d.t.Fatalf("%s was resolved: %q", labtest.IP6String(ip), n.Line)
	}
}

// rows6 counts the rows of the daemon's database whose address is IPv6.
func (d *dlab) rows6() int {
	d.t.Helper()
	n := 0
	for key := range listDBRows(d.t, d.DB) {
		if strings.Contains(key, ":") {
			n++
		}
	}
	return n
}

// The names, in arpd -s, of the daemon's IPv6 counters the tests read.
const (
	statNDProbes     = "probes_sent6" // Neighbor Solicitations the daemon sent
	statNDAppRecv    = "app_recv6"    // the kernel's IPv6 requests
	statNDAppSuccess = "app_success"  // requests answered from the cache, both families
	statNDNew        = "nd_new"       // bindings learned from ND messages
	statNDDropDAD    = "nd_drop_dad"  // solicitations from :: (duplicate address detection)
)
