package main

// Lab tests of the interfaces the daemon serves: unwatched, unknown,
// deleted and made again, none named, and named twice.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestDaemonLabUnwatchedInterface: with vnear and vnear2 named, the
// daemon's packet socket sees every interface; frames and kernel
// neighbours on vnear3, not named, are ignored (and counted), its sysctls
// untouched, while the same events on vnear2 are learned.
func TestDaemonLabUnwatchedInterface(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	for i, pair := range [][2]string{{"vnear2", "vfar2"}, {"vnear3", "vfar3"}} {
		d.IP(d.Near, "link", "add", pair[0], "type", "veth", "peer", "name", pair[1], "netns", d.Far)
		d.IP(d.Near, "link", "set", pair[0], "up")
		d.IP(d.Far, "link", "set", pair[1], "up")
		d.IP(d.Near, "addr", "add", fmt.Sprintf("10.%d.0.1/24", 78+i), "dev", pair[0])
		d.IP(d.Far, "addr", "add", fmt.Sprintf("10.%d.0.2/24", 78+i), "dev", pair[1])
		d.waitOperUp(d.Near, pair[0])
		d.waitOperUp(d.Far, pair[1])
	}
	idx2, idx3 := d.Ifindex(d.Near, "vnear2"), d.Ifindex(d.Near, "vnear3")
	orig3 := d.nearSysctls("vnear3")
	p := d.startArpd(t, d.NearIf, "vnear2")
	if got := d.nearSysctls("vnear2"); got[0] != 1 {
		t.Fatalf("vnear2 (named) app_solicit = %d, want 1", got[0])
	}
	if got := d.nearSysctls("vnear3"); got != orig3 {
		t.Fatalf("vnear3 (not named) sysctls %v, want %v untouched", got, orig3)
	}
	before := labtest.Stats(t, d.DB)

	// On vnear3: a gratuitous ARP, a neighbour added by hand, and one the
	// kernel resolves.
	d.injector(d.Far, "vfar3").send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x79, 0x51}, [4]byte{10, 79, 0, 51}))
	d.IP(d.Near, "neigh", "add", "10.79.0.52", "lladdr", "02:00:00:00:79:52", "dev", "vnear3", "nud", "stale")
	d.sendUDPFrom(d.Near, [4]byte{10, 79, 0, 2}, 9, nil)
	if !labtest.WaitFor(5*time.Second, func() bool { return strings.Contains(d.nearNeigh("vnear3", [4]byte{10, 79, 0, 2}), "lladdr") }) {
		t.Fatalf("the near kernel never resolved 10.79.0.2 on vnear3")
	}
	// The same on vnear2. Each socket delivers in order, so once these
	// are in the cache the vnear3 events have been handled.
	d.injector(d.Far, "vfar2").send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x78, 0x51}, [4]byte{10, 78, 0, 51}))
	d.IP(d.Near, "neigh", "add", "10.78.0.52", "lladdr", "02:00:00:00:78:52", "dev", "vnear2", "nud", "stale")
	d.sendUDPFrom(d.Near, [4]byte{10, 78, 0, 2}, 9, nil)
	d.waitRow(3*time.Second, rowKey(idx2, [4]byte{10, 78, 0, 51}), "02:00:00:00:78:51")
	d.waitRow(3*time.Second, rowKey(idx2, [4]byte{10, 78, 0, 52}), "02:00:00:00:78:52")
	farMAC2 := strings.Fields(d.IP(d.Far, "-br", "link", "show", "vfar2"))[2]
	d.waitRow(5*time.Second, rowKey(idx2, [4]byte{10, 78, 0, 2}), farMAC2)

	prefix := strconv.Itoa(idx3) + " "
	for key, r := range listDBRows(t, d.DB) {
		if strings.HasPrefix(key, prefix) {
			t.Errorf("entry on the unwatched vnear3: %s %+v", key, r)
		}
	}
	d.waitStats(3*time.Second, "the vnear3 events counted as other_if", func(st map[string]uint64) bool {
		return st["other_if"] >= before["other_if"]+3
	})
	if got := d.nearSysctls("vnear3"); got != orig3 {
		t.Errorf("vnear3 sysctls %v, want %v", got, orig3)
	}
	p.RequireRunning("at the end")
}

// TestDaemonLabUnknownInterface: naming an interface that does not exist
// is an error, in the foreground and when detaching: a non-zero exit, a
// message naming it, no database made and no sysctl touched, not even
// those of the interface that does exist.
func TestDaemonLabUnknownInterface(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	for _, fg := range []bool{true, false} {
		args := []string{"-b", d.DB, "-a", "1", "-k", d.NearIf, "nosuchif0"}
		if fg {
			args = append([]string{"-F"}, args...)
		}
		code, out := d.Run(d.Near, 10*time.Second, labtest.Binary(t), args...)
		if code == 0 || !strings.Contains(out, "nosuchif0") || !strings.Contains(out, "no such interface") || strings.Contains(out, "panic") {
			t.Errorf("arpd %s: exit %d, output %q; want a non-zero exit and a message naming nosuchif0", strings.Join(args, " "), code, out)
		}
		if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
			t.Errorf("arpd %s: sysctls of %s now %v, want [2 5] untouched", strings.Join(args, " "), d.NearIf, got)
		}
		if _, err := os.Stat(d.DB); !os.IsNotExist(err) {
			t.Errorf("arpd %s made a database: %v", strings.Join(args, " "), err)
		}
	}
}

// TestDaemonLabInterfaceComesBack: the watched interface is deleted and
// made again, with a new ifindex; the daemon adjusts the new one's
// sysctls, learns on it and answers the kernel about it, and at exit gives
// the new interface back the values it had before the daemon touched it,
// not those of the interface that was deleted.
func TestDaemonLabInterfaceComesBack(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	// A new interface starts from the kernel's defaults: read them from
	// one the daemon does not watch.
	d.IP(d.Near, "link", "add", "vref", "type", "veth", "peer", "name", "vref1")
	fresh := d.nearSysctls("vref")
	d.setNearSysctls(d.NearIf, fresh[0]+2, fresh[1]+2)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	old := d.NearIdx
	d.IP(d.Near, "link", "del", d.NearIf)
	d.IP(d.Near, "link", "add", d.NearIf, "type", "veth", "peer", "name", d.FarIf, "netns", d.Far)
	d.Address()
	d.IP(d.Near, "link", "set", d.NearIf, "up")
	d.IP(d.Far, "link", "set", d.FarIf, "up")
	d.waitOperUp(d.Near, d.NearIf)
	d.waitOperUp(d.Far, d.FarIf)
	d.NearIdx = d.Ifindex(d.Near, d.NearIf)
	if d.NearIdx == old {
		t.Fatalf("the new %s has the old ifindex %d", d.NearIf, old)
	}
	if !labtest.WaitFor(3*time.Second, func() bool { return strings.Contains(p.Output(), fmt.Sprintf("back as index %d", d.NearIdx)) }) {
		t.Fatalf("the daemon never saw %s come back: %s", d.NearIf, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Errorf("the new %s has sysctls %v, want [1 0]", d.NearIf, got)
	}
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x60, 1}, [4]byte{10, 77, 0, 60}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 60}), "02:00:00:00:60:01")
	host := d.listenUDP(labtest.FarIP, 7004)
	d.sendUDPFrom(d.Near, labtest.FarIP, 7004, []byte("back"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "back" {
		t.Fatalf("the host on the new interface got %q (%v); near %q; counters %v; arpd: %s", got, ok, d.nearNeigh(d.NearIf, labtest.FarIP), labtest.Stats(t, d.DB), p.Output())
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != fresh {
		t.Errorf("after exit the new %s has sysctls %v, want its own originals %v", d.NearIf, got, fresh)
	}
}

// TestDaemonLabAllInterfaces: with no interface named the daemon serves
// every interface and changes no sysctl; where the administrator set
// app_solicit, it answers the kernel from what it learned.
func TestDaemonLabAllInterfaces(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.farIgnoresARP()
	orig := d.nearSysctls(d.NearIf)
	p := d.startArpd(t, "-a", "1", "-k")
	if got := d.nearSysctls(d.NearIf); got != orig {
		t.Fatalf("with no interface named, %s's sysctls went from %v to %v", d.NearIf, orig, got)
	}
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, labtest.FarMAC, labtest.FarIP))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, labtest.FarIP), labtest.MACString(labtest.FarMAC))
	d.Sysctl(d.Near, neighKey(d.NearIf, "app_solicit"), "1")
	host := d.listenUDP(labtest.FarIP, 7005)
	d.sendUDPFrom(d.Near, labtest.FarIP, 7005, []byte("all"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "all" {
		t.Fatalf("the host got %q (%v): near %q; arpd: %s", got, ok, d.nearNeigh(d.NearIf, labtest.FarIP), p.Output())
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, orig[1]} {
		t.Errorf("at exit the daemon changed sysctls it never adjusted: %v, want [1 %d]", got, orig[1])
	}
}

// TestDaemonLabDuplicateInterface: an interface named twice is served
// once, as iproute2's arpd does, not refused as missing.
func TestDaemonLabDuplicateInterface(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf, d.NearIf)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Errorf("adjusted sysctls %v, want [1 0]", got)
	}
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x70, 1}, [4]byte{10, 77, 0, 70}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 70}), "02:00:00:00:70:01")
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls after SIGTERM %v, want [2 5]", got)
	}
}
