package main

import (
	"errors"
	"math"
	"strconv"
	"time"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
)

// usageText is the usage line printed to stderr after a command-line error
// and for -h or -?: iproute2's line, extended with the flags only this
// daemon has. It ends with a newline.
const usageText = "Usage: arpd [ -lkh?46FVsjm ] [ -a N ] [ -b dbase ] [ -B number ] [ -f file ] [ -n time ] [-p interval ] [ -R rate ] [ -C entries ] [ -M claims ] [ -P pidfile ] [ interfaces ]\n"

// defaultDB is the database path used when -b is not given, the same as
// iproute2's.
const defaultDB = "/var/lib/arpd/arpd.db"

// Limits and defaults of the numeric options.
const (
	// maxActive is the largest -a: a probe count fits in one byte.
	maxActive = 255
	// maxInt32 bounds -n and -B so that they mean the same on 32-bit
	// routers, where int has 32 bits, as on a PC.
	maxInt32 = 1<<31 - 1
	// minSync is the shortest -p, as in iproute2 ("Invalid poll timeout").
	minSync = 100 * time.Millisecond
	// defaultNegTimeout is -n's default in seconds, iproute2's.
	defaultNegTimeout = 60
	// defaultSync is -p's default, iproute2's.
	defaultSync = 30 * time.Second
)

// The probe rate limit's defaults, where iproute2 has 1/s and 3. Those
// leave most of a burst of new hosts unresolved (the kernel fails a host
// after app_solicit seconds without a probe), and a router that comes
// back up to a segment of a thousand hosts needs about a thousand probes
// at once. 1,000 back to back is 60 KB on the wire, once; after that at
// most 50 a second, a twentieth of what the kernel alone broadcasts under
// a scan. First requests get only the top quarter of the burst (250), so
// that a scan holds at most that many of the kernel's entries INCOMPLETE
// and the hosts asked about again get the rest (policy.go, probeOrFail).
const (
	defaultRate  = 50
	defaultBurst = 1000
)

// -C is bounded by cache.MinCapacity and cache.MaxCapacity, which cache.go defines.

// errHelp is returned by parseArgs for -h and -?: the caller prints
// usageText and exits.
var errHelp = errors.New("help requested")

// errUsage is wrapped by the errors after which iproute2 prints the usage
// line: an unknown option, a missing option argument and a duplicate -f.
// Errors about a bad option value do not wrap it, as iproute2 prints only
// the message for those.
var errUsage = errors.New("usage error")

// usageError is a command-line error that calls for the usage line; it
// unwraps to errUsage.
type usageError struct {
	// msg is the message without the program name, in getopt's words.
	msg string
}

// Error returns the message, in getopt's words where getopt has them.
func (e *usageError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, errUsage) true.
func (e *usageError) Unwrap() error { return errUsage }

// options holds the parsed command line.
type options struct {
	// list is -l: list the database and exit.
	list bool
	// load is the file of -f, "" when -f was not given; "-" means stdin
	// (and "--", which iproute2 also reads as stdin, is stored as "-").
	load string
	// db is the database path of -b, defaultDB when -b was not given.
	db string
	// dbDefault is true when db is the default path (given or not, as
	// iproute2 compares the strings); the caller then creates its
	// directory.
	dbDefault bool
	// active is -a: how many broadcast probes the daemon sends itself
	// before a host counts as dead, 0..255.
	active int
	// noKernel is -k: suppress the kernel's own broadcasts.
	noKernel bool
	// negTimeout is -n: the negative-cache lifetime in seconds, default
	// 60, never negative.
	negTimeout int
	// syncEvery is -p: the sync interval, default 30 s, at least 0.1 s.
	syncEvery time.Duration
	// rate is -R: broadcasts per second, default defaultRate, above zero.
	rate float64
	// burst is -B: broadcasts back to back, default defaultBurst, above
	// zero.
	burst int
	// claimsPerMinute is -M: how many new addresses one sender MAC may
	// claim a minute before its further claims are ignored; 0 for no
	// limit. Default defaultClaimsPerMinute.
	claimsPerMinute int
	// capacity is -C: cache entries when the file is created, 0 when -C
	// was not given, else 64..16777216.
	capacity int
	// foreground is -F: do not detach.
	foreground bool
	// pidFile is -P: where to write the pid, "" for none.
	pidFile string
	// version is -V: print the version and exit.
	version bool
	// stats is -s: print the statistics kept in the cache file and exit.
	stats bool
	// json is -j: -l and -s print JSON, as ip -j does (json.go).
	json bool
	// metrics is -m: print the statistics as Prometheus text and exit
	// (prom.go).
	metrics bool
	// ipv4 and ipv6 are the families served: both by default, one with
	// -4 or -6 (as ip -4 and ip -6 restrict ip to one). They choose the
	// sysctls adjusted, what the daemon resolves and learns, and the rows
	// -l lists and -f loads. Read them through serves and families.
	//
	// NB: both false, which parseArgs never returns, means both, so that
	// an options literal (as tests build them) serves both families
	// rather than none.
	ipv4, ipv6 bool
	// interfaces are the operands: the interfaces to watch, none for all.
	interfaces []string
}

// serves reports whether o serves family (cache.FamilyIPv4 or
// cache.FamilyIPv6).
func (o *options) serves(family uint8) bool {
	both := !o.ipv4 && !o.ipv6
	switch family {
	case cache.FamilyIPv4:
		return o.ipv4 || both
	case cache.FamilyIPv6:
		return o.ipv6 || both
	}
	return false
}

// families returns the families o serves, IPv4 first.
func (o *options) families() []uint8 {
	var f []uint8
	for _, family := range [...]uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if o.serves(family) {
			f = append(f, family)
		}
	}
	return f
}

// optionTakesArg tells, for each option letter, whether it takes an
// argument (true) or not (false); letters not in the map are not options.
// It is iproute2's option string "h?b:lf:a:n:p:kR:B:" plus
// "46FVsjmC:P:M:".
var optionTakesArg = map[byte]bool{
	'l': false, 'k': false, 'h': false, '?': false,
	'4': false, '6': false, 'F': false, 'V': false, 's': false,
	'j': false, 'm': false,
	'a': true, 'b': true, 'B': true, 'f': true, 'n': true,
	'p': true, 'R': true, 'C': true, 'P': true, 'M': true,
}

// parseArgs parses the command line (without the program name) the way
// glibc's getopt does with permutation: options may follow operands,
// options cluster ("-lk"), an argument may be attached ("-a3") or the next
// word ("-a 3", taken even when it starts with "-"), "--" ends the options
// and a lone "-" is an operand. It returns errHelp for -h and -?, an error
// wrapping errUsage for getopt-level mistakes, and a plain error naming the
// flag and the value for a bad value.
func parseArgs(args []string) (*options, error) {
	o := &options{
		db:         defaultDB,
		negTimeout: defaultNegTimeout,
		syncEvery:  defaultSync,
		rate:       defaultRate,
		burst:      defaultBurst,

		claimsPerMinute: defaultClaimsPerMinute,
		ipv4:            true,
		ipv6:            true,
	}
	haveLoad := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			o.interfaces = append(o.interfaces, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			o.interfaces = append(o.interfaces, arg)
			continue
		}
		for j := 1; j < len(arg); j++ {
			c := arg[j]
			takesArg, known := optionTakesArg[c]
			if !known {
				return nil, &usageError{"invalid option -- " + quoteOptChar(c)}
			}
			if !takesArg {
				if err := o.setFlag(c); err != nil {
					return nil, err
				}
				continue
			}
			var val string
			if j+1 < len(arg) {
				val = arg[j+1:]
			} else if i+1 < len(args) {
				i++
				val = args[i]
			} else {
				return nil, &usageError{"option requires an argument -- " + quoteOptChar(c)}
			}
			if c == 'f' {
				if haveLoad {
					return nil, &usageError{"duplicate option -f"}
				}
				haveLoad = true
			}
			if err := o.setValue(c, val); err != nil {
				return nil, err
			}
			break // the argument used up the rest of this word
		}
	}
	o.dbDefault = o.db == defaultDB
	// NB: ip takes the last of -4 and -6; here both are an error, since
	// a daemon started with both would silently serve one family.
	if !o.ipv4 && !o.ipv6 {
		return nil, &usageError{"options -4 and -6 exclude each other"}
	}
	if err := o.checkOutput(); err != nil {
		return nil, err
	}
	return o, nil
}

// checkOutput refuses -j where it would change nothing: -j is a format
// for the output of -l and -s, and a daemon or a load given -j by
// mistake should not seem to have honoured it. -m has its own format, so
// -j with it is refused too.
func (o *options) checkOutput() error {
	switch {
	case o.json && o.metrics:
		return &usageError{"options -j and -m exclude each other"}
	case o.json && !o.list && !o.stats && !o.version:
		return &usageError{"option -j formats -l and -s only"}
	}
	return nil
}

// setFlag records the option c, which takes no argument.
func (o *options) setFlag(c byte) error {
	switch c {
	case 'l':
		o.list = true
	case 'k':
		o.noKernel = true
	case 'F':
		o.foreground = true
	case 'V':
		o.version = true
	case 's':
		o.stats = true
	case 'j':
		o.json = true
	case 'm':
		o.metrics = true
	case '4': // IPv4 only: -6 as well leaves no family, an error
		o.ipv6 = false
	case '6':
		o.ipv4 = false
	default: // 'h', '?'
		return errHelp
	}
	return nil
}

// setValue records the option c with its argument val, checking the value.
func (o *options) setValue(c byte, val string) error {
	var err error
	switch c {
	case 'f':
		if val == "--" { // iproute2 reads stdin for "--" too
			val = "-"
		}
		o.load, err = nonEmpty(c, val)
	case 'b':
		o.db, err = nonEmpty(c, val)
	case 'P':
		o.pidFile, err = nonEmpty(c, val)
	case 'a':
		o.active, err = parseIntOpt(c, val, 0, maxActive)
	case 'n':
		o.negTimeout, err = parseIntOpt(c, val, 0, maxInt32)
	case 'B':
		o.burst, err = parseIntOpt(c, val, 1, maxInt32)
		if err != nil {
			err = errors.New("invalid ARP burst: " + err.Error())
		}
	case 'C':
		o.capacity, err = parseIntOpt(c, val, cache.MinCapacity, cache.MaxCapacity)
	case 'M':
		o.claimsPerMinute, err = parseIntOpt(c, val, 0, maxInt32)
	case 'p':
		o.syncEvery, err = parseSyncOpt(val)
	case 'R':
		o.rate, err = parseRateOpt(val)
	}
	return err
}

// nonEmpty returns val, or an error when it is empty: an empty file name
// cannot be opened, and "" would read as "not given" in options.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func nonEmpty(c byte, val string) (string, error) {
	if val == "" {
		return "", errors.New("option -" + string(rune(c)) + ": empty file name")
	}
	return val, nil
}

// parseIntOpt parses val as a plain decimal number (ASCII digits only: no
// sign, spaces, underscores or trailing garbage) in lo..hi for option c.
func parseIntOpt(c byte, val string, lo, hi int) (int, error) {
	bad := func() (int, error) {
		return 0, optError("", c, val, "invalid value ",
			": want a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	if val == "" || len(val) > 20 {
		return bad()
	}
	for i := 0; i < len(val); i++ {
		if val[i] < '0' || val[i] > '9' {
			return bad()
		}
	}
	n, ok := parseUint(val)
	if !ok || n < uint64(lo) || n > uint64(hi) {
		return bad()
	}
	return int(n), nil
}

// parseFloatOpt parses val as a finite decimal number with nothing after
// it, for option c (parseDecimal: strtod's decimal form; its hexadecimal
// form, infinities and NaN are refused).
func parseFloatOpt(c byte, val string) (float64, error) {
	f, ok := parseDecimal(val)
	if !ok {
		return 0, optError("", c, val, "invalid number ", "")
	}
	return f, nil
}

// maxSyncSeconds is the longest -p that fits in a time.Duration, rounded
// down to a whole number of seconds.
const maxSyncSeconds = float64(math.MaxInt64 / int64(time.Second))

// parseSyncOpt parses the -p interval in seconds: at least 0.1, as in
// iproute2, and small enough for a time.Duration.
func parseSyncOpt(val string) (time.Duration, error) {
	f, err := parseFloatOpt('p', val)
	if err != nil {
		return 0, errors.New("invalid poll timeout: " + err.Error())
	}
	if f > maxSyncSeconds {
		return 0, optError("invalid poll timeout: ", 'p', val, "", " seconds is too long")
	}
	d := time.Duration(math.Round(f * float64(time.Second)))
	if d < minSync {
		return 0, optError("invalid poll timeout: ", 'p', val, "", " is shorter than 0.1 seconds")
	}
	return d, nil
}

// parseRateOpt parses the -R rate in broadcasts per second, which must be
// above zero. Unlike iproute2, which takes a whole number of at most 1000,
// it takes any positive number, so "0.5" means one broadcast every two
// seconds.
func parseRateOpt(val string) (float64, error) {
	f, err := parseFloatOpt('R', val)
	if err != nil {
		return 0, errors.New("invalid ARP rate: " + err.Error())
	}
	if !(f > 0) {
		return 0, optError("invalid ARP rate: ", 'R', val, "", " is not above zero")
	}
	return f, nil
}

// optError returns the error prefix + "option -c: " + before + val quoted
// + after. One function builds every message about a bad value, which
// keeps the binary smaller than building each in place.
func optError(prefix string, c byte, val, before, after string) error {
	return errors.New(prefix + "option -" + string(rune(c)) + ": " + before + fmtlite.Quote(val) + after)
}

// quoteOptChar formats an option byte the way getopt's messages do ('Z'),
// escaping bytes that are not printable ASCII ('\xc3').
func quoteOptChar(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	const hex = "0123456789abcdef"
	return `'\x` + string(hex[c>>4]) + string(hex[c&15]) + "'"
}
