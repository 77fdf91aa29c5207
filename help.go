package main

// The help of -h and -?: iproute2's usage line, then a line per flag with
// its meaning and default, the defaults taken from the constants the
// parser uses so that the help cannot drift from it.

import (
	"time"

	"arpd/internal/cache"
)

// helpLine is one flag's line of the help: the flag as the usage line
// shows it, what it does, and its default: def, or when def is "" the
// number num, or none when num is negative.
type helpLine struct {
	flag, meaning, def string
	num                int
}

// helpLines are the help's lines, in the order of the usage line.
//
// NB: a table of constants, which the linker lays out as data; built
// at run time it cost 3 KB of the mips binary.
var helpLines = [...]helpLine{
	{"-l", "list the database and exit", "", -1},
	{"-k", "suppress the kernel's own broadcasts (with -a)", "", -1},
	{"-h, -?", "print this help and exit", "", -1},
	{"-4", "serve IPv4 only", "", -1},
	{"-6", "serve IPv6 only", "", -1},
	{"-F", "stay in the foreground and log to stderr as well", "", -1},
	{"-V", "print the version and exit", "", -1},
	{"-s", "print the database's statistics and exit", "", -1},
	{"-j", "print -l and -s as JSON", "", -1},
	{"-m", "print the statistics for Prometheus and exit", "", -1},
	{"-a N", "broadcast probes per host before it counts as dead", "", 0},
	{"-b dbase", "the database file", defaultDB, -1},
	{"-B number", "probes that may be sent back to back", "", defaultBurst},
	{"-f file", "load entries from file (- for stdin) and exit", "", -1},
	{"-n time", "lifetime of negative entries, seconds", "", defaultNegTimeout},
	{"-p interval", "seconds between syncs of the database", "", int(defaultSync / time.Second)},
	{"-R rate", "broadcast probes per second", "", defaultRate},
	{"-C entries", "capacity of a new database", "", cache.DefaultCapacity},
	{"-M claims", "new addresses a MAC may claim a minute, 0 for no limit", "", defaultClaimsPerMinute},
	{"-P pidfile", "write the process id to pidfile", "", -1},
	{"interfaces", "serve these only; none: all, with no sysctl changed", "", -1},
}

// helpText returns the usage line followed by a line per flag, the flags
// in a column 14 wide.
func helpText() string {
	b := outBuf(usageText)
	for i := range helpLines {
		h := &helpLines[i]
		b.raw("  ")
		b.raw(h.flag)
		b.raw("              "[min(len(h.flag), 13):])
		b.raw(h.meaning)
		if h.def != "" || h.num >= 0 {
			b.raw(" (default ")
			if h.def != "" {
				b.raw(h.def)
			} else {
				b.uint(uint64(h.num))
			}
			b.raw(")")
		}
		b.raw("\n")
	}
	return string(b)
}
