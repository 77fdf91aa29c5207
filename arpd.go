// Command arpd is a user-space ARP helper daemon for Linux routers that serve
// large Ethernet segments. It keeps a large neighbour cache in a fixed-size,
// memory-mapped hash file, answers the kernel's resolution requests from it,
// and learns from every ARP packet it sees. It is a drop-in replacement for
// iproute2's arpd without Berkeley DB.
package main

import (
	"errors"
	"io"
	"os"

	"arpd/internal/fmtlite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program behind main, with its streams passed in so that
// tests can drive it without a subprocess. It returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		io.WriteString(stderr, usageText)
		return 1
	case errors.Is(err, errUsage):
		fmtlite.Fprintf(stderr, "arpd: %v\n%s", err, usageText)
		return 1
	case err != nil:
		fmtlite.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	if o.version {
		fmtlite.Fprintf(stdout, "arpd %s\n", version)
		return 0
	}
	switch {
	case o.stats:
		err = printStats(o, stdout)
	case o.load != "" || o.list:
		err = offline(o, stdin, stdout, stderr)
	default:
		return runDaemon(o, args, stderr)
	}
	if err != nil {
		fmtlite.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	return 0
}
