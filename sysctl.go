package main

// The per-interface neighbour sysctls arpd adjusts, and their restoration.
//
// Only interfaces named on the command line are adjusted, and only after
// the initial dump of the kernel's table is in the cache. The values found
// before the first adjustment are saved in the cache file's header before
// anything is written, so that a restart after kill -9 restores the true
// originals rather than the adjusted values it finds.

import (
	"bytes"
	"os"
	"strconv"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
)

// sysctlRoot is where the neighbour sysctls live; tests point it elsewhere.
var sysctlRoot = "/proc/sys/net"

// sysctlPath returns the path of neighbour sysctl key of interface ifname.
func sysctlPath(family uint8, ifname, key string) string {
	proto := "ipv4"
	if family == cache.FamilyIPv6 {
		proto = "ipv6"
	}
	return sysctlRoot + "/" + proto + "/neigh/" + ifname + "/" + key
}

// readSysctl reads an integer sysctl.
func readSysctl(family uint8, ifname, key string) (int32, error) {
	b, err := readSmallFile(sysctlPath(family, ifname, key))
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 32)
	if err != nil {
		return 0, fmtlite.Errorf("%s: %w", sysctlPath(family, ifname, key), err)
	}
	return int32(v), nil
}

// writeSysctl writes an integer sysctl.
func writeSysctl(family uint8, ifname, key string, v int32) error {
	f, err := os.OpenFile(sysctlPath(family, ifname, key), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(int(v)) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// adjustedSysctls returns the values arpd sets for -a active and -k, as
// iproute2's arpd does: app_solicit = max(1, active); with -a,
// mcast_solicit = 0 with -k, else 1 for active >= 2, else 2. setMcast is
// false when mcast_solicit is left alone (no -a).
func adjustedSysctls(active int, noKernel bool) (app, mcast int32, setMcast bool) {
	app = int32(max(1, active))
	if active == 0 {
		return app, 0, false
	}
	switch {
	case noKernel:
		mcast = 0
	case active >= 2:
		mcast = 1
	default:
		mcast = 2
	}
	return app, mcast, true
}

// notAdjusted in a saved McastSolicit means arpd did not change it.
const notAdjusted = -1

// adjustSysctls saves the current values of ifname's sysctls in the cache
// (unless values saved by an earlier run are there: those are the true
// originals) and then writes the adjusted ones.
func adjustSysctls(c *cache.File, ifname string, active int, noKernel bool) error {
	app, mcast, setMcast := adjustedSysctls(active, noKernel)
	saved := false
	for _, o := range c.Originals() {
		if o.Family == cache.FamilyIPv4 && o.Name == ifname {
			saved = true
		}
	}
	if !saved {
		orig := cache.SysctlOriginal{Name: ifname, Family: cache.FamilyIPv4, McastSolicit: notAdjusted}
		var err error
		if orig.AppSolicit, err = readSysctl(cache.FamilyIPv4, ifname, "app_solicit"); err != nil {
			return err
		}
		if setMcast {
			if orig.McastSolicit, err = readSysctl(cache.FamilyIPv4, ifname, "mcast_solicit"); err != nil {
				return err
			}
		}
		// NB: saved (and in the page cache) before the first write, so
		// a crash between the two cannot lose the originals.
		if err := c.SaveOriginal(orig); err != nil {
			return err
		}
	}
	if setMcast {
		if err := writeSysctl(cache.FamilyIPv4, ifname, "mcast_solicit", mcast); err != nil {
			return err
		}
	}
	return writeSysctl(cache.FamilyIPv4, ifname, "app_solicit", app)
}

// restoreSysctls writes back the saved original values of every interface
// for which keep returns false (nil keeps none), and forgets them. An
// interface that no longer exists has nothing to restore. It returns the
// first error, after trying them all.
func restoreSysctls(c *cache.File, keep func(name string) bool) error {
	var first error
	for _, o := range c.Originals() {
		if o.Family != cache.FamilyIPv4 || keep != nil && keep(o.Name) {
			continue
		}
		err := writeSysctl(o.Family, o.Name, "app_solicit", o.AppSolicit)
		if err == nil && o.McastSolicit != notAdjusted {
			err = writeSysctl(o.Family, o.Name, "mcast_solicit", o.McastSolicit)
		}
		if err != nil && !os.IsNotExist(err) {
			if first == nil {
				first = fmtlite.Errorf("restore sysctls of %s: %w", o.Name, err)
			}
			continue
		}
		if err := c.ClearOriginal(o.Name, o.Family); err != nil && first == nil {
			first = err
		}
	}
	return first
}
