package main

// Lab tests of the neighbour parameters over rtnetlink, against the
// kernel's own view of them in /proc/sys.

import (
	"errors"
	"strconv"
	"testing"

	"arpd/internal/cache"
	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// TestNetlinkParamsLab reads and sets an interface's app_solicit and
// mcast_solicit of both families through netlinkParams, from inside a
// network namespace, and checks every value against /proc/sys. An
// interface whose MTU is below IPv6's minimum has no IPv6 parameters
// (errNoParams), and one that does not exist is errNoDevice.
func TestNetlinkParamsLab(t *testing.T) {
	l := labtest.New(t)
	var p *netlinkParams
	if err := l.Do(l.Near, func() error {
		c, err := rtnl.Dial(0, 0)
		p = &netlinkParams{conn: c}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	proc := func(family uint8, key string) int {
		return l.ReadSysctl(l.Near, "net/"+map[uint8]string{cache.FamilyIPv4: "ipv4", cache.FamilyIPv6: "ipv6"}[family]+"/neigh/"+l.NearIf+"/"+key)
	}
	for i, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		l.Sysctl(l.Near, "net/"+[]string{"ipv4", "ipv6"}[i]+"/neigh/"+l.NearIf+"/app_solicit", strconv.Itoa(4+i))
		l.Sysctl(l.Near, "net/"+[]string{"ipv4", "ipv6"}[i]+"/neigh/"+l.NearIf+"/mcast_solicit", strconv.Itoa(6+i))
		if a, m, err := p.get(f, l.NearIf); err != nil || a != int32(4+i) || m != int32(6+i) {
			t.Errorf("%s get: %d %d %v, want %d %d", familyName(f), a, m, err, 4+i, 6+i)
		}
		if err := p.set(f, l.NearIf, 1, 0, true); err != nil {
			t.Fatalf("%s set: %v", familyName(f), err)
		}
		if a, m := proc(f, "app_solicit"), proc(f, "mcast_solicit"); a != 1 || m != 0 {
			t.Errorf("%s after set 1 0: /proc/sys shows %d %d", familyName(f), a, m)
		}
		if err := p.set(f, l.NearIf, 3, 9, false); err != nil {
			t.Fatalf("%s set: %v", familyName(f), err)
		}
		if a, m := proc(f, "app_solicit"), proc(f, "mcast_solicit"); a != 3 || m != 0 {
			t.Errorf("%s after set of app_solicit 3 alone: /proc/sys shows %d %d, want 3 0", familyName(f), a, m)
		}
	}
	if _, _, err := p.get(cache.FamilyIPv4, "nosuch0"); !errors.Is(err, errNoDevice) {
		t.Errorf("get of a missing interface: %v", err)
	}
	if err := p.set(cache.FamilyIPv6, "nosuch0", 1, 1, true); !errors.Is(err, errNoDevice) {
		t.Errorf("set of a missing interface: %v", err)
	}
	// Below 1280 bytes the kernel takes IPv6 away from the device.
	l.IP(l.Near, "link", "set", l.NearIf, "mtu", "1200")
	if _, _, err := p.get(cache.FamilyIPv6, l.NearIf); !errors.Is(err, errNoParams) {
		t.Errorf("get of IPv6 on a device without it: %v", err)
	}
	if err := p.set(cache.FamilyIPv6, l.NearIf, 1, 1, true); !errors.Is(err, errNoParams) {
		t.Errorf("set of IPv6 on a device without it: %v", err)
	}
	if _, _, err := p.get(cache.FamilyIPv4, l.NearIf); err != nil {
		t.Errorf("get of IPv4 on a device without IPv6: %v", err)
	}
}
