package main

import (
	"errors"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"arpd/internal/cache"
)

// defaultOptions returns what parseArgs gives for an empty command line,
// for tests to modify.
func defaultOptions() options {
	return options{
		db:         defaultDB,
		dbDefault:  true,
		negTimeout: 60,
		syncEvery:  30 * time.Second,
		rate:       50,
		burst:      1000,

		claimsPerMinute: 32,
		ipv4:            true,
		ipv6:            true,
	}
}

// parseArgsCase is a command line and how its options differ from
// defaultOptions.
type parseArgsCase struct {
	name string
	args []string
	mod  func(o *options)
}

// parseArgsFlagCases are each flag on its own, its argument attached and
// detached, and operands.
func parseArgsFlagCases() []parseArgsCase {
	return []parseArgsCase{
		{"empty", nil, func(o *options) {}},
		{"-l", []string{"-l"}, func(o *options) { o.list = true }},
		{"-k", []string{"-k"}, func(o *options) { o.noKernel = true }},
		{"-F", []string{"-F"}, func(o *options) { o.foreground = true }},
		{"-V", []string{"-V"}, func(o *options) { o.version = true }},
		{"-s", []string{"-s"}, func(o *options) { o.stats = true }},
		{"-a detached", []string{"-a", "3"}, func(o *options) { o.active = 3 }},
		{"-a attached", []string{"-a3"}, func(o *options) { o.active = 3 }},
		{"-a 0", []string{"-a", "0"}, func(o *options) { o.active = 0 }},
		{"-a 255", []string{"-a255"}, func(o *options) { o.active = 255 }},
		{"-a leading zeros", []string{"-a", "007"}, func(o *options) { o.active = 7 }},
		{"-b", []string{"-b", "/tmp/x.db"}, func(o *options) { o.db = "/tmp/x.db"; o.dbDefault = false }},
		{"-b attached", []string{"-b/tmp/x.db"}, func(o *options) { o.db = "/tmp/x.db"; o.dbDefault = false }},
		{"-b default path given", []string{"-b", defaultDB}, func(o *options) {}},
		{"-b takes a dash word", []string{"-b", "-l"}, func(o *options) { o.db = "-l"; o.dbDefault = false }},
		{"-B", []string{"-B", "10"}, func(o *options) { o.burst = 10 }},
		{"-B 1", []string{"-B1"}, func(o *options) { o.burst = 1 }},
		{"-f", []string{"-f", "in.txt"}, func(o *options) { o.load = "in.txt" }},
		{"-f stdin", []string{"-f", "-"}, func(o *options) { o.load = "-" }},
		{"-f -- is stdin", []string{"-f", "--"}, func(o *options) { o.load = "-" }},
		{"-f-- attached is stdin", []string{"-f--"}, func(o *options) { o.load = "-" }},
		{"-n", []string{"-n", "0"}, func(o *options) { o.negTimeout = 0 }},
		{"-n big", []string{"-n2147483647"}, func(o *options) { o.negTimeout = 2147483647 }},
		{"-p float", []string{"-p", "0.1"}, func(o *options) { o.syncEvery = 100 * time.Millisecond }},
		{"-p whole", []string{"-p5"}, func(o *options) { o.syncEvery = 5 * time.Second }},
		{"-p exponent", []string{"-p", "1.5e1"}, func(o *options) { o.syncEvery = 15 * time.Second }},
		{"-R float", []string{"-R", "0.5"}, func(o *options) { o.rate = 0.5 }},
		{"-R whole", []string{"-R20"}, func(o *options) { o.rate = 20 }},
		{"-C min", []string{"-C", "64"}, func(o *options) { o.capacity = 64 }},
		{"-C max", []string{"-C16777216"}, func(o *options) { o.capacity = 16777216 }},
		{"-M", []string{"-M", "1000"}, func(o *options) { o.claimsPerMinute = 1000 }},
		{"-M 0 is no limit", []string{"-M0"}, func(o *options) { o.claimsPerMinute = 0 }},
		{"-P", []string{"-P", "/run/arpd.pid"}, func(o *options) { o.pidFile = "/run/arpd.pid" }},
		{"interfaces", []string{"eth0", "eth1"}, func(o *options) { o.interfaces = []string{"eth0", "eth1"} }},
		{"-4", []string{"-4"}, func(o *options) { o.ipv6 = false }},
		{"-6", []string{"-6"}, func(o *options) { o.ipv4 = false }},
		{"-4 twice", []string{"-4", "-4"}, func(o *options) { o.ipv6 = false }},
		{"-6 in a cluster", []string{"-l6", "eth0"}, func(o *options) { o.list, o.ipv4, o.interfaces = true, false, []string{"eth0"} }},
	}
}

// parseArgsCommandLineCases are clusters, permutation, "--" and whole
// command lines.
func parseArgsCommandLineCases() []parseArgsCase {
	return []parseArgsCase{
		{"cluster of flags", []string{"-lkFVs"}, func(o *options) {
			o.list, o.noKernel, o.foreground, o.version, o.stats = true, true, true, true, true
		}},
		{"cluster ending in attached argument", []string{"-lka3"}, func(o *options) {
			o.list, o.noKernel, o.active = true, true, 3
		}},
		{"cluster ending in detached argument", []string{"-lb", "file"}, func(o *options) {
			o.list, o.db, o.dbDefault = true, "file", false
		}},
		{"argument swallows rest of cluster", []string{"-bkl"}, func(o *options) {
			o.db, o.dbDefault = "kl", false
		}},
		{"permutation", []string{"eth0", "-a", "3"}, func(o *options) {
			o.active, o.interfaces = 3, []string{"eth0"}
		}},
		{"permutation interleaved", []string{"eth0", "-k", "eth1", "-a3", "eth2"}, func(o *options) {
			o.noKernel, o.active, o.interfaces = true, 3, []string{"eth0", "eth1", "eth2"}
		}},
		{"-- ends options", []string{"-k", "--", "-l", "eth0"}, func(o *options) {
			o.noKernel, o.interfaces = true, []string{"-l", "eth0"}
		}},
		{"-- after operand", []string{"eth0", "--", "-a"}, func(o *options) {
			o.interfaces = []string{"eth0", "-a"}
		}},
		{"second -- is an operand", []string{"--", "--"}, func(o *options) {
			o.interfaces = []string{"--"}
		}},
		{"lone dash is an operand", []string{"-", "-l"}, func(o *options) {
			o.list, o.interfaces = true, []string{"-"}
		}},
		{"last value wins", []string{"-a1", "-a", "2", "-b", "x", "-b", "y"}, func(o *options) {
			o.active, o.db, o.dbDefault = 2, "y", false
		}},
		{"iproute2 example", []string{"-b", "/var/tmp/arpd.db", "-a", "3", "-k", "eth0", "eth1"}, func(o *options) {
			o.db, o.dbDefault, o.active, o.noKernel = "/var/tmp/arpd.db", false, 3, true
			o.interfaces = []string{"eth0", "eth1"}
		}},
		{"list and load", []string{"-l", "-f", "-", "-b", "/tmp/a.db"}, func(o *options) {
			o.list, o.load, o.db, o.dbDefault = true, "-", "/tmp/a.db", false
		}},
	}
}

// TestParseArgs checks every flag, clusters, attached and detached
// arguments, permutation and "--" against the options they must produce.
func TestParseArgs(t *testing.T) {
	for _, tc := range append(parseArgsFlagCases(), parseArgsCommandLineCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tc.args, err)
			}
			want := defaultOptions()
			tc.mod(&want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("parseArgs(%q)\n got %+v\nwant %+v", tc.args, *got, want)
			}
		})
	}
}

// parseArgsErrorCase is a command line parseArgs refuses, and how.
type parseArgsErrorCase struct {
	name  string
	args  []string
	want  string // exact message
	usage bool   // wraps errUsage
	help  bool   // is errHelp
}

// parseArgsGetoptErrors are the help request and getopt's own errors:
// unknown options, missing arguments, and a repeated -f.
func parseArgsGetoptErrors() []parseArgsErrorCase {
	return []parseArgsErrorCase{
		{"-h", []string{"-h"}, errHelp.Error(), false, true},
		{"-?", []string{"-?"}, errHelp.Error(), false, true},
		{"-h in a cluster", []string{"-lh"}, errHelp.Error(), false, true},
		{"-h after operand", []string{"eth0", "-h"}, errHelp.Error(), false, true},
		{"unknown option", []string{"-Z"}, "invalid option -- 'Z'", true, false},
		{"unknown option in cluster", []string{"-lZk"}, "invalid option -- 'Z'", true, false},
		{"long option", []string{"--help"}, "invalid option -- '-'", true, false},
		{"non-ASCII option", []string{"-\xc3\xa9"}, `invalid option -- '\xc3'`, true, false},
		{"colon is not an option", []string{"-:"}, "invalid option -- ':'", true, false},
		{"missing argument", []string{"-a"}, "option requires an argument -- 'a'", true, false},
		{"missing argument in cluster", []string{"-lb"}, "option requires an argument -- 'b'", true, false},
		{"missing argument after operand", []string{"eth0", "-C"}, "option requires an argument -- 'C'", true, false},
		{"duplicate -f", []string{"-f", "a", "-f", "b"}, "duplicate option -f", true, false},
		{"duplicate -f same file", []string{"-fa", "-fa"}, "duplicate option -f", true, false},
		{"duplicate -f stdin", []string{"-f", "-", "-l", "-f-"}, "duplicate option -f", true, false},
		{"first error wins", []string{"-Z", "-a"}, "invalid option -- 'Z'", true, false},
		{"-4 and -6", []string{"-4", "eth0", "-6"}, "options -4 and -6 exclude each other", true, false},
		{"-46 clustered", []string{"-46"}, "options -4 and -6 exclude each other", true, false},
	}
}

// parseArgsValueErrors are the arguments an option refuses.
func parseArgsValueErrors() []parseArgsErrorCase {
	return []parseArgsErrorCase{
		{"empty -f", []string{"-f", ""}, "option -f: empty file name", false, false},
		{"empty -b", []string{"-b", ""}, "option -b: empty file name", false, false},
		{"empty -P", []string{"-P", ""}, "option -P: empty file name", false, false},
		{"-a too big", []string{"-a", "256"}, `option -a: invalid value "256": want a whole number from 0 to 255`, false, false},
		{"-a negative", []string{"-a", "-1"}, `option -a: invalid value "-1": want a whole number from 0 to 255`, false, false},
		{"-a plus sign", []string{"-a", "+1"}, `option -a: invalid value "+1": want a whole number from 0 to 255`, false, false},
		{"-a trailing garbage", []string{"-a3x"}, `option -a: invalid value "3x": want a whole number from 0 to 255`, false, false},
		{"-a space", []string{"-a", " 3"}, `option -a: invalid value " 3": want a whole number from 0 to 255`, false, false},
		{"-a empty", []string{"-a", ""}, `option -a: invalid value "": want a whole number from 0 to 255`, false, false},
		{"-a huge", []string{"-a", "99999999999999999999999"}, `option -a: invalid value "99999999999999999999999": want a whole number from 0 to 255`, false, false},
		{"-n negative", []string{"-n", "-5"}, `option -n: invalid value "-5": want a whole number from 0 to 2147483647`, false, false},
		{"-n float", []string{"-n", "1.5"}, `option -n: invalid value "1.5": want a whole number from 0 to 2147483647`, false, false},
		{"-n too big", []string{"-n", "2147483648"}, `option -n: invalid value "2147483648": want a whole number from 0 to 2147483647`, false, false},
		{"-B zero", []string{"-B", "0"}, `invalid ARP burst: option -B: invalid value "0": want a whole number from 1 to 2147483647`, false, false},
		{"-B garbage", []string{"-B", "3s"}, `invalid ARP burst: option -B: invalid value "3s": want a whole number from 1 to 2147483647`, false, false},
		{"-C too small", []string{"-C", "63"}, `option -C: invalid value "63": want a whole number from 64 to 16777216`, false, false},
		{"-C too big", []string{"-C", "16777217"}, `option -C: invalid value "16777217": want a whole number from 64 to 16777216`, false, false},
		{"-C zero", []string{"-C0"}, `option -C: invalid value "0": want a whole number from 64 to 16777216`, false, false},
		{"-M negative", []string{"-M", "-1"}, `option -M: invalid value "-1": want a whole number from 0 to 2147483647`, false, false},
		{"-p too short", []string{"-p", "0.05"}, `invalid poll timeout: option -p: "0.05" is shorter than 0.1 seconds`, false, false},
		{"-p zero", []string{"-p", "0"}, `invalid poll timeout: option -p: "0" is shorter than 0.1 seconds`, false, false},
		{"-p negative", []string{"-p", "-1"}, `invalid poll timeout: option -p: "-1" is shorter than 0.1 seconds`, false, false},
		{"-p garbage", []string{"-p", "1s"}, `invalid poll timeout: option -p: invalid number "1s"`, false, false},
		{"-p empty", []string{"-p", ""}, `invalid poll timeout: option -p: invalid number ""`, false, false},
		{"-p NaN", []string{"-p", "NaN"}, `invalid poll timeout: option -p: invalid number "NaN"`, false, false},
		{"-p inf", []string{"-p", "inf"}, `invalid poll timeout: option -p: invalid number "inf"`, false, false},
		{"-p overflow", []string{"-p", "1e300"}, `invalid poll timeout: option -p: "1e300" seconds is too long`, false, false},
		{"-R zero", []string{"-R", "0"}, `invalid ARP rate: option -R: "0" is not above zero`, false, false},
		{"-R negative", []string{"-R", "-2"}, `invalid ARP rate: option -R: "-2" is not above zero`, false, false},
		{"-R garbage", []string{"-R", "1/s"}, `invalid ARP rate: option -R: invalid number "1/s"`, false, false},
		{"-R infinite", []string{"-R", "+Inf"}, `invalid ARP rate: option -R: invalid number "+Inf"`, false, false},
		{"-R underscore", []string{"-R", "1_000"}, `invalid ARP rate: option -R: invalid number "1_000"`, false, false},
	}
}

// TestParseArgsErrors checks every error: its message, and whether it
// calls for the usage line (errUsage) or is the help request (errHelp).
func TestParseArgsErrors(t *testing.T) {
	for _, tc := range append(parseArgsGetoptErrors(), parseArgsValueErrors()...) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if err == nil {
				t.Fatalf("parseArgs(%q) = %+v, want error %q", tc.args, *got, tc.want)
			}
			if got != nil {
				t.Errorf("parseArgs(%q) returned options with error %v", tc.args, err)
			}
			if err.Error() != tc.want {
				t.Errorf("parseArgs(%q) error %q, want %q", tc.args, err, tc.want)
			}
			if errors.Is(err, errUsage) != tc.usage {
				t.Errorf("parseArgs(%q): errors.Is(err, errUsage) = %v, want %v", tc.args, !tc.usage, tc.usage)
			}
			if (err == errHelp) != tc.help {
				t.Errorf("parseArgs(%q): err == errHelp is %v, want %v", tc.args, !tc.help, tc.help)
			}
		})
	}
}

// TestParseArgsDoesNotModifyArgs checks that parsing leaves the caller's
// slice alone: getopt permutes argv in place, this parser must not.
func TestParseArgsDoesNotModifyArgs(t *testing.T) {
	args := []string{"eth0", "-a", "3", "eth1", "--", "-k"}
	saved := append([]string(nil), args...)
	o, err := parseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, saved) {
		t.Errorf("args changed to %q, was %q", args, saved)
	}
	o.interfaces[0] = "changed"
	if args[0] != "eth0" {
		t.Errorf("options.interfaces shares memory with args")
	}
}

// TestSyncEveryRounding checks that -p keeps sub-second precision and
// rounds to the nanosecond rather than truncating.
func TestSyncEveryRounding(t *testing.T) {
	for val, want := range map[string]time.Duration{
		"0.1":         100 * time.Millisecond,
		"0.3":         300 * time.Millisecond,
		"2.5":         2500 * time.Millisecond,
		"0.123456789": 123456789 * time.Nanosecond,
		"1.25e-1":     125 * time.Millisecond,
	} {
		o, err := parseArgs([]string{"-p", val})
		if err != nil {
			t.Errorf("-p %s: %v", val, err)
			continue
		}
		if o.syncEvery != want {
			t.Errorf("-p %s: syncEvery %v, want %v", val, o.syncEvery, want)
		}
	}
}

// TestHexFloatsRefused: strtod's hexadecimal form, which iproute2 takes
// for -p and -R without saying so, is refused with a clear error (the
// parser that takes it costs 10 KB of the mips binary).
func TestHexFloatsRefused(t *testing.T) {
	for _, args := range [][]string{{"-p", "0x1p-3"}, {"-R", "0x10"}} {
		if _, err := parseArgs(args); err == nil || !strings.Contains(err.Error(), "invalid number") {
			t.Errorf("%q: %v, want invalid number", args, err)
		}
	}
}

// TestUsageText checks that the usage line is iproute2's with our flags
// added in the same style, and that it names every option parseArgs takes.
func TestUsageText(t *testing.T) {
	const want = "Usage: arpd [ -lkh?46FVsjm ] [ -a N ] [ -b dbase ] [ -B number ] [ -f file ] [ -n time ] [-p interval ] [ -R rate ] [ -C entries ] [ -M claims ] [ -P pidfile ] [ interfaces ]\n"
	if usageText != want {
		t.Errorf("usageText = %q, want %q", usageText, want)
	}
	for c, takesArg := range optionTakesArg {
		mention := "-" + string(rune(c))
		if !takesArg {
			if !strings.Contains(usageText, string(rune(c))) {
				t.Errorf("usageText does not mention %s", mention)
			}
			continue
		}
		if !strings.Contains(usageText, "[ "+mention+" ") && !strings.Contains(usageText, "["+mention+" ") {
			t.Errorf("usageText does not mention %s", mention)
		}
	}
}

// TestUsageTextExtendsIproute2 checks, where iproute2's arpd is installed,
// that its usage line is ours without the flags only we have.
func TestUsageTextExtendsIproute2(t *testing.T) {
	path, err := exec.LookPath("arpd")
	if err != nil {
		t.Skip("iproute2 arpd not installed:", err)
	}
	out, _ := exec.Command(path, "-h").CombinedOutput() // exits 1 by design
	theirs := strings.Replace(usageText, "-lkh?46FVsjm", "-lkh?", 1)
	theirs = strings.Replace(theirs, "[ -C entries ] [ -M claims ] [ -P pidfile ] ", "", 1)
	if string(out) != theirs {
		t.Errorf("iproute2 arpd -h prints %q, want %q", out, theirs)
	}
}

// TestGetoptMessagesMatchIproute2 checks, where iproute2's arpd is
// installed, that our getopt-level messages are glibc's (the first line of
// its output, after "arpd: ").
func TestGetoptMessagesMatchIproute2(t *testing.T) {
	path, err := exec.LookPath("arpd")
	if err != nil {
		t.Skip("iproute2 arpd not installed:", err)
	}
	for _, args := range [][]string{{"-Z"}, {"-a"}, {"-lb"}, {"--help"}} {
		cmd := exec.Command(path, args...)
		cmd.Args[0] = "arpd" // glibc names the program by argv[0]
		out, _ := cmd.CombinedOutput()
		first, _, _ := strings.Cut(string(out), "\n")
		_, err := parseArgs(args)
		if err == nil {
			t.Errorf("parseArgs(%q) succeeded", args)
			continue
		}
		if want := "arpd: " + err.Error(); first != want {
			t.Errorf("%q: iproute2 says %q, we say %q", args, first, want)
		}
	}
}

// TestFamilies checks what serves and families say for both families, -4,
// -6, and an options literal that sets neither field (both).
func TestFamilies(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []uint8
	}{
		{nil, []uint8{cache.FamilyIPv4, cache.FamilyIPv6}},
		{[]string{"-4"}, []uint8{cache.FamilyIPv4}},
		{[]string{"-6"}, []uint8{cache.FamilyIPv6}},
		{[]string{"literal"}, []uint8{cache.FamilyIPv4, cache.FamilyIPv6}},
	} {
		o, err := parseArgs(tc.args)
		if len(tc.args) > 0 && tc.args[0] == "literal" { // options{} as tests build them
			o, err = &options{}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := o.families(); !slices.Equal(got, tc.want) {
			t.Errorf("%q: families %v, want %v", tc.args, got, tc.want)
		}
		for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6, 0} {
			if o.serves(f) != slices.Contains(tc.want, f) {
				t.Errorf("%q: serves(%d) = %v", tc.args, f, o.serves(f))
			}
		}
	}
}
