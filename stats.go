package main

import (
	"strings"

	"arpd/internal/frame"
)

// Counters kept in the cache file's state pages, so that arpd -s can show
// the statistics of the daemon that owns a file without a signal.
//
// NB: a counter's index is its place in the file. Add new counters at the
// end (before numCounters is reached) and never reorder or reuse them.
const (
	ctrInserts          = iota // new keys stored
	ctrUpdates                 // stored keys rewritten
	ctrDeletes                 // entries removed
	ctrEvictions               // entries pushed out of a full bucket
	ctrEvictedNegatives        // of which expired negative entries
	ctrCorruptSlots            // damaged slots dropped
	ctrWriteErrors             // failed writes to the file
	ctrLoaded                  // entries loaded with -f
	ctrMoves                   // entries moved to their other bucket to make room

	// The daemon's, named as in iproute2's statistics where it has them.
	ctrArpNew           // ARP frames that taught a new binding
	ctrArpChange        // ARP frames that changed a binding
	ctrAppRecv          // kernel requests (INCOMPLETE) for watched interfaces
	ctrAppSuccess       // of which answered from the cache
	ctrAppBad           // kernel requests in a state we do not serve
	ctrAppNeg           // PROBE requests that dropped a positive entry
	ctrAppSuppressed    // requests left unanswered: a live negative entry
	ctrKernNeg          // negative entries made from resolution failures
	ctrKernNew          // new bindings from kernel notifications
	ctrKernChange       // bindings changed by kernel notifications
	ctrProbesSent       // broadcast probes sent
	ctrProbesSuppressed // probes the rate limit held back
	ctrProbeErrors      // probes that could not be sent
	ctrFlushIgnored     // FAILED notices from an administrator's delete or flush
	ctrNlOverruns       // netlink receive queue overruns (ENOBUFS)
	ctrRedumps          // neighbour table dumps after an overrun
	ctrNlBad            // netlink messages rejected as malformed
	ctrAnswerErrors     // answers the kernel refused
	ctrOtherIf          // messages and frames about unwatched interfaces
	ctrPktKernelDrops   // frames the kernel dropped: packet socket full
	ctrDropBase         // first of the frame.DropCount per-reason frame counters

	numCountersUsed = ctrDropBase + int(frame.DropCount)
)

// counterNames are the names arpd -s and SIGUSR1 print, by index.
var counterNames = func() [numCountersUsed]string {
	n := [numCountersUsed]string{
		ctrInserts:          "inserts",
		ctrUpdates:          "updates",
		ctrDeletes:          "deletes",
		ctrEvictions:        "evictions",
		ctrEvictedNegatives: "evicted_negative",
		ctrCorruptSlots:     "corrupt_slots",
		ctrWriteErrors:      "write_errors",
		ctrLoaded:           "loaded",
		ctrMoves:            "moves",
		ctrArpNew:           "arp_new",
		ctrArpChange:        "arp_change",
		ctrAppRecv:          "app_recv",
		ctrAppSuccess:       "app_success",
		ctrAppBad:           "app_bad",
		ctrAppNeg:           "app_neg",
		ctrAppSuppressed:    "app_suppressed",
		ctrKernNeg:          "kern_neg",
		ctrKernNew:          "kern_new",
		ctrKernChange:       "kern_change",
		ctrProbesSent:       "probes_sent",
		ctrProbesSuppressed: "probes_suppressed",
		ctrProbeErrors:      "probe_errors",
		ctrFlushIgnored:     "flush_ignored",
		ctrNlOverruns:       "nl_overruns",
		ctrRedumps:          "redumps",
		ctrNlBad:            "nl_bad",
		ctrAnswerErrors:     "answer_errors",
		ctrOtherIf:          "other_if",
		ctrPktKernelDrops:   "pkt_kernel_drops",
	}
	for d := frame.Drop(0); d < frame.DropCount; d++ {
		n[ctrDropBase+int(d)] = "drop_" + strings.ReplaceAll(d.String(), "-", "_")
	}
	n[ctrDropBase+int(frame.DropNone)] = "arp_accepted"
	return n
}()

// Compile-time check that the used counters fit the file's table.
var _ = [numCounters - numCountersUsed]struct{}{}
