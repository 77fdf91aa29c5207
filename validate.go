package main

// The checks an accepted ARP frame's sender must pass before the daemon
// learns it, and the rate-limited reports of the frames that fail them
// (the decoder's own check, the Ethernet mismatch, is reported here too).

import (
	"strconv"
	"time"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
	"arpd/internal/frame"
	"arpd/internal/netiplite"
)

// report is a kind of refused frame that the daemon logs.
type report uint8

// The kinds of refused frames that are logged.
const (
	reportEthMismatch report = iota // sender MAC is not the Ethernet source
	reportOffSubnet                 // sender IP off every subnet of the interface
	reportOwnAddr                   // sender IP is one of the router's own addresses
	reportClaimFlood                // sender MAC over its new addresses a minute (floods.go)
	numReports
)

// reportEvery is how often at most one kind of refused frame is logged.
const reportEvery = time.Minute

// reportLimiter decides when a refused frame is logged: at most one line
// per kind and reportEvery, each with the number of frames of its kind
// since the line before. It is a fixed array, so counting a frame
// allocates nothing; the line itself is built only when it is due.
type reportLimiter struct {
	slot [numReports]struct {
		last   time.Duration // monotonic time of the last line
		n      uint64        // frames since the last line, this one included
		logged bool          // a line has been logged
	}
}

// note counts one frame of kind r at monotonic time now, and reports
// whether a line is due; n is then how many frames that line stands for
// (this one and those not logged since the last line).
func (l *reportLimiter) note(r report, now time.Duration) (n uint64, due bool) {
	s := &l.slot[r]
	s.n++
	if s.logged && now-s.last < reportEvery {
		return 0, false
	}
	n, s.n, s.last, s.logged = s.n, 0, now, true
	return n, true
}

// senderOK applies the checks that need the interfaces' addresses to the
// sender of an accepted frame on a watched interface, and reports whether
// it may be learned. A refused frame is counted, and logged if due.
//
// NB: the kernel alone does not learn a binding for a host it never asked
// about, and never takes one for its own address; every binding arpd
// learns is served to the kernel and kept across restarts. So a sender
// that claims the router's own address, or that is off every subnet of
// the interface, where the kernel would not have asked, is refused.
func (d *daemon) senderOK(f *frame.ARP) bool {
	w := d.ifs.links[f.Ifindex]
	switch {
	case d.ifs.ownAddr(f.SenderIP):
		d.refuseSender(reportOwnAddr, ctrArpOwnAddr, f.Ifindex, cache.KeyV4(0, f.SenderIP), f.SenderMAC)
		return false
	case w == nil || !w.addrs.Contains(f.SenderIP):
		d.refuseSender(reportOffSubnet, ctrArpOffSubnet, f.Ifindex, cache.KeyV4(0, f.SenderIP), f.SenderMAC)
		return false
	}
	return true
}

// refuseSender counts under ctr a frame on interface ifindex that binds
// k's address to mac, refused as r (reportOwnAddr or reportOffSubnet), and
// logs it if due (report).
func (d *daemon) refuseSender(r report, ctr int, ifindex int32, k cache.Key, mac [6]byte) {
	d.c.Add(ctr, 1)
	d.report(r, ifindex, &k, mac, mac)
}

// reportEthMismatch logs, if due, a frame on interface ifindex whose ARP
// sender MAC in b is not its Ethernet source src.
func (d *daemon) reportEthMismatch(b []byte, ifindex int32, src [6]byte) {
	k := cache.KeyV4(uint32(ifindex), [4]byte(b[frame.ARPOffSpa:]))
	d.report(reportEthMismatch, ifindex, &k, [6]byte(b[frame.ARPOffSha:]), src)
}

// report logs, if due, a refused frame of kind r on interface ifindex
// that binds k's address to mac (an IPv6 Ethernet mismatch, whose message
// was not decoded, has a zero k), sent from Ethernet source src: one line
// a minute for each kind, whatever the family, with the count since the
// last line.
//
// NB: not inlined, and the lines are joined rather than formatted: the
// formatting of each kind inlined into its callers of both families cost
// about 8 KB of the mips binary.
//
//go:noinline
func (d *daemon) report(r report, ifindex int32, k *cache.Key, mac, src [6]byte) {
	n, due := d.reports.note(r, d.monotonic())
	if !due {
		return
	}
	ifn := ifName(d.ifs.links[ifindex], ifindex)
	var line string
	switch {
	case r == reportOwnAddr:
		line = macString(mac) + " claims our address " + keyAddrString(k) + " on " + ifn
	case r == reportClaimFlood:
		line = macString(mac) + " claims more than " + strconv.Itoa(d.o.claimsPerMinute) +
			" new addresses a minute on " + ifn + ", now " + keyAddrString(k) + ": ignored"
	case r == reportEthMismatch && k.Family == 0:
		line = "ethernet mismatch: " + macString(src) + " sent a neighbour-discovery message for another MAC on " + ifn + ": not learned"
	case r == reportEthMismatch:
		line = "ethernet mismatch: " + macString(src) + " sent " + keyAddrString(k) + " at " + macString(mac) + " on " + ifn + ": not learned"
	case k.Family == cache.FamilyIPv6:
		line = keyAddrString(k) + " at " + macString(mac) + " is not on the link of " + ifn + ": not learned"
	default:
		line = keyAddrString(k) + " at " + macString(mac) + " is off every subnet of " + ifn + ": not learned"
	}
	d.log.logf(logWarning, "%s%s", line, reportCount(n))
}

// reportCount is the end of a report line that stands for n frames.
func reportCount(n uint64) string {
	if n <= 1 {
		return ""
	}
	return fmtlite.Sprintf(" (%d such frames since the last report)", n)
}

// ifName names interface w, or ifindex when it is not followed.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func ifName(w *watchedIf, ifindex int32) string {
	if w == nil {
		return fmtlite.Sprintf("ifindex %d", ifindex)
	}
	return w.name
}

// macString formats an Ethernet address as ip(8) does.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func macString(m [6]byte) string { return string(appendMAC(nil, m[:])) }

// ipString formats an IPv4 address in dotted quad.
func ipString(ip [4]byte) string { return netiplite.AddrFrom4(ip).String() }
