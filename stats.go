package main

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

	numCountersUsed // the first unused index
)

// counterNames are the names arpd -s and SIGUSR1 print, by index.
var counterNames = [numCountersUsed]string{
	ctrInserts:          "inserts",
	ctrUpdates:          "updates",
	ctrDeletes:          "deletes",
	ctrEvictions:        "evictions",
	ctrEvictedNegatives: "evicted_negative",
	ctrCorruptSlots:     "corrupt_slots",
	ctrWriteErrors:      "write_errors",
	ctrLoaded:           "loaded",
	ctrMoves:            "moves",
}

// Compile-time check that the used counters fit the file's table.
var _ = [numCounters - numCountersUsed]struct{}{}
