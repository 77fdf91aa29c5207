package main

// How fast IPv6 neighbours under /64 prefixes new to the cache file are
// stored.

import (
	"time"

	"arpd/internal/cache"
)

// The new-prefix budget: prefixBurst prefixes at once, then one every
// prefixEvery.
//
// NB: a segment's neighbours share a few prefixes (fe80::/64 and the
// segment's own, a new one when the provider renumbers), so a first dump
// of the kernel's table needs a handful and a day one at most. Each new
// prefix costs the cache file a sync, and once the file's 255 are taken,
// a pass over every slot to give the thinnest one up (internal/cache
// prefix.go). A scan of an on-link prefix shorter than /64, forwarded
// into the segment, would otherwise ask for both at the scan's rate.
const (
	prefixBurst = 16
	prefixEvery = 10 * time.Second
)

// prefixLimiter is a token bucket of new prefixes; its zero value is
// full.
type prefixLimiter struct {
	spent int           // tokens taken and not yet refilled
	last  time.Duration // when a token was last refilled (or the first taken)
}

// allow reports whether a new prefix may be stored at time now, and
// takes its token if so.
func (l *prefixLimiter) allow(now time.Duration) bool {
	if l.spent > 0 {
		if n := int((now - l.last) / prefixEvery); n > 0 {
			l.spent = max(l.spent-n, 0)
			l.last += time.Duration(n) * prefixEvery
		}
	} else {
		l.last = now
	}
	if l.spent >= prefixBurst {
		return false
	}
	l.spent++
	return true
}

// put stores e in the cache file, unless it is an IPv6 entry under a /64
// prefix the file does not hold yet and the new-prefix budget is spent:
// then it is counted (nd_prefix_limited) and not stored, as a full bucket
// would drop it (PutDropped).
func (d *daemon) put(e *cache.Entry) (cache.PutResult, error) {
	if e.Family == cache.FamilyIPv6 && !d.c.PrefixKnown(&e.Key) && !d.newPrefixes.allow(d.monotonic()) {
		d.c.Add(ctrNDPrefixLimited, 1)
		return cache.PutDropped, nil
	}
	return d.c.Put(e)
}
