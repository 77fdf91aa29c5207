package main

// The per-interface neighbour sysctls arpd adjusts, and their restoration.
//
// Only interfaces named on the command line are adjusted, for each family
// the daemon serves (IPv4 in net.ipv4.neigh, IPv6 in net.ipv6.neigh), and
// only after the initial dump of the kernel's table is in the cache. The
// values found before the first adjustment are saved in the cache file's
// header before anything is written, so that a restart after kill -9
// restores the true originals rather than the adjusted values it finds.

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
)

// sysctlRoot is where the neighbour sysctls live; tests point it elsewhere.
var sysctlRoot = "/proc/sys/net"

// sysctlDir returns the directory of interface ifname's neighbour sysctls
// of family: net/ipv4/neigh/IF or net/ipv6/neigh/IF, the same names in
// both.
func sysctlDir(family uint8, ifname string) string {
	proto := "ipv4"
	if family == cache.FamilyIPv6 {
		proto = "ipv6"
	}
	return sysctlRoot + "/" + proto + "/neigh/" + ifname
}

// sysctlPath returns the path of neighbour sysctl key of interface ifname.
func sysctlPath(family uint8, ifname, key string) string {
	return sysctlDir(family, ifname) + "/" + key
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

// adjustSysctls saves the current values of ifname's neighbour sysctls of
// family (cache.FamilyIPv4 or cache.FamilyIPv6) in the cache (unless
// values saved by an earlier run are there: those are the true originals)
// and then writes the adjusted ones.
func adjustSysctls(c *cache.File, ifname string, family uint8, active int, noKernel bool) error {
	app, mcast, setMcast := adjustedSysctls(active, noKernel)
	if _, saved := savedOriginal(c, ifname, family); !saved {
		orig := cache.SysctlOriginal{Name: ifname, Family: family, McastSolicit: notAdjusted}
		var err error
		if orig.AppSolicit, err = readSysctl(family, ifname, "app_solicit"); err != nil {
			return err
		}
		if setMcast {
			if orig.McastSolicit, err = readSysctl(family, ifname, "mcast_solicit"); err != nil {
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
		if err := writeSysctl(family, ifname, "mcast_solicit", mcast); err != nil {
			return err
		}
	}
	return writeSysctl(family, ifname, "app_solicit", app)
}

// savedOriginal returns the values saved for ifname and family, if any.
func savedOriginal(c *cache.File, ifname string, family uint8) (cache.SysctlOriginal, bool) {
	for _, o := range c.Originals() {
		if o.Family == family && o.Name == ifname {
			return o, true
		}
	}
	return cache.SysctlOriginal{}, false
}

// adjustAllSysctls adjusts ifname's sysctls for each family o serves (-4,
// -6, both by default), and restores those of a family it does not serve
// that an earlier run left adjusted. An interface without IPv6 (IPv6 off
// in the kernel, or a device the kernel gave none, such as one with an MTU
// below 1280) has no net.ipv6.neigh directory: its IPv6 is skipped with a
// line in log, not an error, since the daemon can still serve its IPv4.
func adjustAllSysctls(c *cache.File, ifname string, o *options, log *logger) error {
	for _, family := range [...]uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if !o.serves(family) {
			if saved, ok := savedOriginal(c, ifname, family); ok {
				if err := restoreSysctl(c, saved); err != nil {
					return err
				}
			}
			continue
		}
		if family == cache.FamilyIPv6 && !hasIPv6Sysctls(ifname) {
			log.logf(logWarning, "interface %s has no IPv6 (no %s): its IPv6 sysctls are left alone", ifname, sysctlDir(family, ifname))
			continue
		}
		if err := adjustSysctls(c, ifname, family, o.active, o.noKernel); err != nil {
			return err
		}
	}
	return nil
}

// hasIPv6Sysctls reports whether ifname has IPv6 neighbour sysctls. Any
// answer but "no such file" counts as yes, so that the adjustment itself
// reports a real error.
func hasIPv6Sysctls(ifname string) bool {
	// NB: reading the sysctl rather than os.Stat, whose FileInfo links
	// time's formatting into the binary (TestNoTimeFormatting), or
	// unix.Access, whose user-space fallback costs 3 KB of the mips binary.
	_, err := readSysctl(cache.FamilyIPv6, ifname, "app_solicit")
	return !errors.Is(err, unix.ENOENT)
}

// restoreSysctls writes back the saved original values, of both families,
// of every interface for which keep returns false (nil keeps none), and
// forgets them. An interface that no longer exists has nothing to
// restore. It returns the first error, after trying them all.
func restoreSysctls(c *cache.File, keep func(name string) bool) error {
	var first error
	for _, o := range c.Originals() {
		if keep != nil && keep(o.Name) {
			continue
		}
		if err := restoreSysctl(c, o); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// restoreSysctl writes back the original values o and forgets them; an
// interface that no longer exists has nothing to restore.
func restoreSysctl(c *cache.File, o cache.SysctlOriginal) error {
	err := writeSysctl(o.Family, o.Name, "app_solicit", o.AppSolicit)
	if err == nil && o.McastSolicit != notAdjusted {
		err = writeSysctl(o.Family, o.Name, "mcast_solicit", o.McastSolicit)
	}
	if err != nil && !os.IsNotExist(err) {
		return fmtlite.Errorf("restore %s sysctls of %s: %w", familyName(o.Family), o.Name, err)
	}
	return c.ClearOriginal(o.Name, o.Family)
}

// familyName names an address family in messages: "IPv4" or "IPv6".
func familyName(family uint8) string {
	if family == cache.FamilyIPv6 {
		return "IPv6"
	}
	return "IPv4"
}
