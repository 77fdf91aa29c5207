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

// newPrefixBucket returns the new-prefix budget as a full token bucket.
func newPrefixBucket() *tokenBucket {
	return newTokenBucket(1/prefixEvery.Seconds(), prefixBurst)
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
