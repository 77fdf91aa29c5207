package main

// The per-interface neighbour sysctls arpd adjusts, and their restoration.
//
// Only interfaces named on the command line are adjusted, for each family
// the daemon serves (IPv4's arp_cache, IPv6's ndisc_cache), and only after
// the initial dump of the kernel's table is in the cache. The values are
// app_solicit and mcast_solicit of net.ipv4.neigh.IF and net.ipv6.neigh.IF,
// read and set over rtnetlink as the device's app_probes and mcast_probes
// (neighparams.go). The values found before the first adjustment are saved
// in the cache file's header before anything is set, so that a restart
// after kill -9 restores the true originals rather than the adjusted values
// it finds.

import (
	"errors"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
)

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
// and then sets the adjusted ones through p.
func adjustSysctls(c *cache.File, p paramStore, ifname string, family uint8, active int, noKernel bool) error {
	app, mcast, setMcast := adjustedSysctls(active, noKernel)
	if _, saved := savedOriginal(c, ifname, family); !saved {
		a, m, err := p.get(family, ifname)
		if err != nil {
			return paramsError("read", family, ifname, err)
		}
		orig := cache.SysctlOriginal{Name: ifname, Family: family, AppSolicit: a, McastSolicit: notAdjusted}
		if setMcast {
			orig.McastSolicit = m
		}
		// NB: saved (and in the page cache) before the first change, so
		// a crash between the two cannot lose the originals.
		if err := c.SaveOriginal(orig); err != nil {
			return err
		}
	}
	if err := p.set(family, ifname, app, mcast, setMcast); err != nil {
		return paramsError("set", family, ifname, err)
	}
	return nil
}

// paramsError says which of ifname's sysctls of family could not be read
// or set (what), keeping err for errors.Is.
func paramsError(what string, family uint8, ifname string, err error) error {
	return fmtlite.Errorf("%s %s neighbour sysctls of %s: %w", what, familyName(family), ifname, err)
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
// below 1280) has no parameters in ndisc_cache: its IPv6 is skipped with a
// line in log, not an error, since the daemon can still serve its IPv4.
func adjustAllSysctls(c *cache.File, p paramStore, ifname string, o *options, log *logger) error {
	for _, family := range [...]uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if !o.serves(family) {
			if saved, ok := savedOriginal(c, ifname, family); ok {
				if err := restoreSysctl(c, p, saved); err != nil {
					return err
				}
			}
			continue
		}
		err := adjustSysctls(c, p, ifname, family, o.active, o.noKernel)
		if family == cache.FamilyIPv6 && errors.Is(err, errNoParams) {
			log.logf(logWarning, "interface %s has no IPv6 (no parameters in ndisc_cache): its IPv6 sysctls are left alone", ifname)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// restoreSysctls sets back the saved original values, of both families,
// of every interface for which keep returns false (nil keeps none), and
// forgets them. An interface that no longer exists has nothing to
// restore. It returns the first error, after trying them all.
func restoreSysctls(c *cache.File, p paramStore, keep func(name string) bool) error {
	var first error
	for _, o := range c.Originals() {
		if keep != nil && keep(o.Name) {
			continue
		}
		if err := restoreSysctl(c, p, o); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// restoreSysctl sets back the original values o and forgets them; an
// interface that no longer exists, or no longer has the family, has
// nothing to restore.
func restoreSysctl(c *cache.File, p paramStore, o cache.SysctlOriginal) error {
	err := p.set(o.Family, o.Name, o.AppSolicit, o.McastSolicit, o.McastSolicit != notAdjusted)
	if err != nil && !errors.Is(err, errNoDevice) && !errors.Is(err, errNoParams) {
		return paramsError("restore", o.Family, o.Name, err)
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
