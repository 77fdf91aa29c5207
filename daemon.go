package main

// The daemon's state and its event loop.

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/fmtlite"
	"arpd/internal/frame"
	"arpd/internal/rtnl"
)

// Signal bits the signal goroutine sets for the loop.
const (
	sigExit uint32 = 1 << iota
	sigSync
	sigStats
)

// daemon is the running resolver: one event loop over the rtnetlink and
// packet sockets that applies SPEC §3. It allocates nothing per message
// or frame. Its fields are grouped by concern.
type daemon struct {
	o     *options
	c     *cache.File
	log   *logger
	start time.Time // for the rate limit's monotonic clock

	// The kernel side (netlink.go, dumps.go, answers.go).
	nl        *rtnl.Conn     // notifications and the kernel's requests (multicast)
	req       *rtnl.Conn     // our dumps and answers, and the replies to them
	dumps     dumps          // the dump in progress and those to make again
	answers   answers        // answers queued for the kernel, sent in batches
	params    *netlinkParams // the neighbour sysctls, read and set (neighparams.go)
	tableCap  int            // the kernel's gc_thresh3 of arp_cache, from its table dump
	tableCap6 int            // the same of ndisc_cache

	// The wire side (packet.go).
	pkt    *afpacket.Conn // receives ARP frames
	probes frameSender    // sends probes: pkt, or a fake in tests
	bucket *tokenBucket   // the probe rate limit
	asked  *askedFilter   // addresses failed lately for want of a token
	holds  *holdTracker   // kernel entries the probes hold INCOMPLETE
	holds6 *holdTracker   // the same in the IPv6 table

	// IPv6 prefixes new to the cache file (prefixlimit.go).
	newPrefixes *tokenBucket // newPrefixBucket

	// The IPv6 wire side (nd.go); nil with -4.
	nd       *afpacket.Conn // receives neighbour-discovery messages
	ndProbes frameSender    // sends solicitations: nd, or a fake in tests

	// Refused senders (validate.go, floods.go).
	reports reportLimiter // when each kind is logged next
	floods  *claimLimiter // new addresses claimed per MAC a minute (-M)

	// Changed bindings being verified (claims.go, verify.go).
	claims claims

	// The interfaces served (interfaces.go).
	ifs interfaces

	// The loop (this file).
	signals atomic.Uint32
	wakeFd  int
	poll    *poller // waits on nl, req, pkt, nd and wakeFd
	dirty   bool    // counters changed since the state was last saved
	ready   bool    // the initial dumps are done and the sysctls adjusted

	// Preallocated per-message state.
	scratch scratch
}

// scratch is where the loop decodes each message and frame, and builds
// each request and probe, so that none of them allocates.
type scratch struct {
	msg   rtnl.Msg
	neigh rtnl.Neigh
	link  rtnl.Link
	addr  rtnl.Addr
	nlerr rtnl.ErrorMsg
	table rtnl.NeighTable
	frame frame.ARP
	nd    frame.ND
	ll    [8]byte
	out   [rtnl.NeighMsgMax]byte // a dump request
	probe [frame.ARPLen]byte     // a probe or a claim's unicast request
	ns    [frame.NSLen]byte      // the same for IPv6: a Neighbor Solicitation

	replace    rtnl.Neigh             // the entry a replace message is for
	replaceMsg [rtnl.NeighMsgMax]byte // a put-back or a move
}

// monotonic returns the time since the daemon started, for the rate
// limits, the report lines and the claims.
//
// NB: not inlined: time.Since inlined into each of its callers cost about
// 2 KB of the mips binary, and a call costs a few nanoseconds.
//
//go:noinline
func (d *daemon) monotonic() time.Duration { return time.Since(d.start) }

// saveState writes the counters to the file (cheap: one page in the page
// cache) so that arpd -s shows them.
func (d *daemon) saveState() {
	d.countKernelDrops()
	if err := d.c.SaveState(); err != nil {
		d.log.logf(logErr, "%v", err)
	}
	d.dirty = false
}

// statsLine returns every counter as one line.
func (d *daemon) statsLine() string {
	b := fmtlite.Appendf(nil, "statistics: entries=%d capacity=%d", d.c.Entries(), d.c.Capacity())
	for i, name := range counterNames {
		b = fmtlite.Appendf(b, " %s=%d", name, d.c.Counter(i))
	}
	return string(b)
}

// The poller tags of the loop's descriptors.
const (
	pollNL = iota
	pollReq
	pollPkt
	pollWake
	pollND
)

// loop is the event loop: it returns when a signal asks the daemon to
// exit.
func (d *daemon) loop() {
	nextSync := time.Now().Add(d.o.syncEvery)
	nextSave := time.Now().Add(time.Second)
	for {
		if d.handleSignals() {
			return
		}
		d.dumpAgain()
		deadline := nextSave
		if nextSync.Before(deadline) {
			deadline = nextSync
		}
		if due, ok := d.claims.next(); ok && d.start.Add(due).Before(deadline) {
			deadline = d.start.Add(due)
		}
		ready, err := d.poll.wait(deadline)
		if err != nil {
			d.log.logf(logErr, "poll: %v", err)
			time.Sleep(10 * time.Millisecond)
		}
		d.serve(ready)
		d.runClaims(d.monotonic())
		now := time.Now()
		if !now.Before(nextSave) {
			if d.dirty {
				d.saveState()
			}
			nextSave = now.Add(time.Second)
		}
		if !now.Before(nextSync) {
			d.saveState()
			d.sync()
			nextSync = now.Add(d.o.syncEvery)
		}
	}
}

// handleSignals acts on the signals that arrived since the last round,
// and reports whether one of them asks the daemon to exit.
func (d *daemon) handleSignals() (exit bool) {
	sig := d.signals.Swap(0)
	if sig&(sigSync|sigStats|sigExit) != 0 {
		d.sync()
	}
	if sig&sigStats != 0 {
		d.saveState()
		d.log.logf(logInfo, "%s", d.statsLine())
	}
	return sig&sigExit != 0
}

// serve handles what the descriptors in the bit set ready have queued.
func (d *daemon) serve(ready uint32) {
	if ready&(1<<pollWake) != 0 {
		var b [8]byte
		unix.Read(d.wakeFd, b[:])
	}
	// Requests first: they are what the kernel waits on.
	if ready&(1<<pollNL) != 0 {
		d.drainNetlink(d.nl, 256)
	}
	if ready&(1<<pollReq) != 0 {
		d.drainNetlink(d.req, 256)
	}
	if ready&(1<<pollPkt) != 0 {
		d.drainPackets(256)
	}
	if ready&(1<<pollND) != 0 {
		d.drainND(256)
	}
}

// sync writes the cache file's dirty pages to the disk.
func (d *daemon) sync() {
	if err := d.c.Sync(); err != nil {
		d.log.logf(logErr, "%v", err)
	}
}
