package main

// The counters the program keeps in the cache file's state pages, so that
// arpd -s can show the statistics of the daemon that owns a file without a
// signal, and their names.

import (
	"strings"

	"arpd/internal/cache"
	"arpd/internal/frame"
)

// NB: a counter's index is its place in the file. The cache owns indices
// 0 to 6 and 8 (cache.Counter*); the program owns 7 and 9 onwards. Add new
// counters at the end (below cache.NumCounters) and never reorder or
// reuse them.
const ctrLoaded = 7 // entries loaded with -f

// The daemon's counters, named as in iproute2's statistics where it has
// them.
const (
	ctrArpNew           = cache.CounterMoves + 1 + iota // ARP frames that taught a new binding
	ctrArpChange                                        // bindings changed by ARP frames (claims accepted)
	ctrAppRecv                                          // kernel requests (INCOMPLETE) for watched interfaces
	ctrAppSuccess                                       // of which answered from the cache
	ctrAppBad                                           // kernel requests in a state we do not serve
	ctrAppNeg                                           // PROBE requests that dropped a positive entry
	ctrAppSuppressed                                    // no longer counted (dead addresses are failed: ctrAppFailed); kept for its place
	ctrKernNeg                                          // negative entries made from resolution failures
	ctrKernNew                                          // new bindings from kernel notifications
	ctrKernChange                                       // bindings changed by kernel notifications (an administrator's, or claims accepted)
	ctrProbesSent                                       // broadcast probes sent
	ctrProbesSuppressed                                 // probes the rate limit held back
	ctrProbeErrors                                      // probes that could not be sent
	ctrFlushIgnored                                     // FAILED notices from an administrator's delete or flush
	ctrNlOverruns                                       // netlink receive queue overruns (ENOBUFS)
	ctrRedumps                                          // neighbour table dumps after an overrun
	ctrNlBad                                            // netlink messages rejected as malformed
	ctrAnswerErrors                                     // answers the kernel refused
	ctrOtherIf                                          // messages and frames about unwatched interfaces
	ctrPktKernelDrops                                   // frames the kernel dropped: packet socket full
	ctrDropBase                                         // first of the frame.DropCount per-reason frame counters
)

// The daemon's counters after the per-reason frame counters.
//
// NB: frame.DropEthMismatch, the last drop reason, took the place just
// before these; a drop reason added after it needs a place of its own
// here, since the per-reason block can no longer grow into them (the
// check below fails the build until it has one).
const (
	ctrArpOffSubnet   = ctrDropBase + int(frame.DropCount) + iota // accepted frames whose sender is off every subnet of the interface
	ctrArpOwnAddr                                                 // accepted frames whose sender claims one of the router's own addresses
	ctrAppFailed                                                  // kernel requests failed at once: a live negative entry whose probes are spent
	ctrArpClaimFlood                                              // frames refused: their sender MAC claimed more than -M new addresses a minute
	ctrAppRefused                                                 // kernel requests failed at once: the rate limit could not probe them now
	ctrClaimsStarted                                              // changed bindings whose verification began (claims.go)
	ctrClaimsRefused                                              // claims refused: the known MAC answered
	ctrClaimsAccepted                                             // claims accepted: the known MAC stayed silent
	ctrClaimsDropped                                              // claims dropped unverified: table full, verification limit spent
	ctrClaimsPutback                                              // known MACs put back into the kernel after a refusal
	ctrNDNew                                                      // neighbour-discovery messages that taught a new IPv6 binding
	ctrNDChange                                                   // IPv6 bindings changed by neighbour-discovery messages (claims accepted)
	ctrNDOffLink                                                  // accepted ND messages whose address is not on the interface's link
	ctrNDOwnAddr                                                  // accepted ND messages that claim one of the router's own addresses
	ctrNDClaimFlood                                               // ND messages refused: their MAC claimed more than -M new addresses a minute
	ctrAppRecv6                                                   // of app_recv, the kernel's IPv6 requests
	ctrProbesSent6                                                // of probes_sent, Neighbor Solicitations
	ctrNDTruncated                                                // ND messages longer than the receive buffer, not decoded
	ctrNDDropBase                                                 // first of the frame.NDDropCount per-reason ND counters
)

// Counters after the per-reason ND block.
const (
	ctrNDPrefixLimited = ctrNDDropBase + int(frame.NDDropCount) + iota // IPv6 entries not stored: their /64 prefix was new to the file and the new-prefix budget spent
)

// numCountersUsed is the number of counter places in use.
//
// NB: the per-reason ND block is the last; a counter added after it takes
// the place after its end, and a reason added to frame.NDDrop then needs
// a block of its own.
const numCountersUsed = ctrNDPrefixLimited + 1

// counterNames are the names arpd -s and SIGUSR1 print, by index.
var counterNames = func() [numCountersUsed]string {
	n := [numCountersUsed]string{
		cache.CounterInserts:          "inserts",
		cache.CounterUpdates:          "updates",
		cache.CounterDeletes:          "deletes",
		cache.CounterEvictions:        "evictions",
		cache.CounterEvictedNegatives: "evicted_negative",
		cache.CounterCorruptSlots:     "corrupt_slots",
		cache.CounterWriteErrors:      "write_errors",
		ctrLoaded:                     "loaded",
		cache.CounterMoves:            "moves",
		ctrArpNew:                     "arp_new",
		ctrArpChange:                  "arp_change",
		ctrAppRecv:                    "app_recv",
		ctrAppSuccess:                 "app_success",
		ctrAppBad:                     "app_bad",
		ctrAppNeg:                     "app_neg",
		ctrAppSuppressed:              "app_suppressed",
		ctrKernNeg:                    "kern_neg",
		ctrKernNew:                    "kern_new",
		ctrKernChange:                 "kern_change",
		ctrProbesSent:                 "probes_sent",
		ctrProbesSuppressed:           "probes_suppressed",
		ctrProbeErrors:                "probe_errors",
		ctrFlushIgnored:               "flush_ignored",
		ctrNlOverruns:                 "nl_overruns",
		ctrRedumps:                    "redumps",
		ctrNlBad:                      "nl_bad",
		ctrAnswerErrors:               "answer_errors",
		ctrOtherIf:                    "other_if",
		ctrPktKernelDrops:             "pkt_kernel_drops",
	}
	for d := frame.Drop(0); d < frame.DropCount; d++ {
		n[ctrDropBase+int(d)] = "drop_" + strings.ReplaceAll(d.String(), "-", "_")
	}
	n[ctrDropBase+int(frame.DropNone)] = "arp_accepted"
	n[ctrArpOffSubnet] = "arp_off_subnet"
	n[ctrArpOwnAddr] = "arp_own_addr"
	n[ctrAppFailed] = "app_failed"
	n[ctrArpClaimFlood] = "arp_claim_flood"
	n[ctrAppRefused] = "app_refused"
	n[ctrClaimsStarted] = "claims_started"
	n[ctrClaimsRefused] = "claims_refused"
	n[ctrClaimsAccepted] = "claims_accepted"
	n[ctrClaimsDropped] = "claims_dropped"
	n[ctrClaimsPutback] = "claims_putback"
	n[ctrNDNew] = "nd_new"
	n[ctrNDChange] = "nd_change"
	n[ctrNDOffLink] = "nd_off_link"
	n[ctrNDOwnAddr] = "nd_own_addr"
	n[ctrNDClaimFlood] = "nd_claim_flood"
	n[ctrAppRecv6] = "app_recv6"
	n[ctrProbesSent6] = "probes_sent6"
	n[ctrNDTruncated] = "nd_truncated"
	for r := frame.NDDrop(0); r < frame.NDDropCount; r++ {
		n[ctrNDDropBase+int(r)] = "nd_drop_" + strings.ReplaceAll(r.String(), "-", "_")
	}
	n[ctrNDDropBase+int(frame.NDDropNone)] = "nd_accepted"
	n[ctrNDPrefixLimited] = "nd_prefix_limited"
	return n
}()

// Compile-time checks that the used counters fit the file's table, and
// that the per-reason block still ends where ctrArpOffSubnet begins.
var (
	_ = [cache.NumCounters - numCountersUsed]struct{}{}
	_ = [1]struct{}{}[frame.DropCount-frame.DropEthMismatch-1]
)
