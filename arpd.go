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
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

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
		io.WriteString(stderr, helpText())
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
	if o.capacity != 0 && o.load == "" && (o.list || o.stats || o.metrics) {
		// NB: not an error: the command does what was asked, and -C is
		// harmless; but the operator expected it to do something.
		io.WriteString(stderr, "arpd: -C does nothing with -l, -s or -m: the capacity is set by -f or the daemon\n")
	}
	switch {
	case o.stats || o.metrics:
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

// runDaemon runs the resolver until SIGINT or SIGTERM and returns the exit
// status. Without -F it detaches first, as iproute2's arpd does, and the
// parent exits only once the daemon is ready or has failed, with its error.
func runDaemon(o *options, args []string, stderr io.Writer) int {
	if !o.foreground && os.Getenv(childEnv) == "" {
		if !syslogListens(syslogPath) {
			io.WriteString(stderr, "arpd: nothing listens on "+syslogPath+
				": the daemon's messages will be lost; run it with -F, or start a syslog daemon\n")
		}
		return detach(args, stderr)
	}
	var status *os.File
	var logw io.Writer
	if o.foreground {
		logw = stderr
	} else {
		status = os.NewFile(3, "status")
	}
	log := newLogger(syslogPath, logw)
	defer log.Close()

	// NB: the daemon is one event loop (and a goroutine that turns signals
	// into wakeups): one processor, unless the administrator set
	// GOMAXPROCS. A second one costs CPU per answer (doc/DESIGN.md).
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}

	// NB: the signals are caught from before the sysctls are adjusted:
	// one that arrived between newDaemon and signal.Notify would kill the
	// process with the sysctls adjusted. Until the loop runs they wait in
	// the channel.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	d, err := newDaemon(o, log)
	if err != nil {
		// NB: in the foreground the logger writes to stderr too: the
		// error is printed there once, by the logger.
		if status != nil {
			fmtlite.Fprintf(status, "arpd: %v\n", err)
			status.Close()
		}
		log.logf(logErr, "not started: %v", err)
		return 1
	}
	if o.pidFile != "" {
		if err := writePidFile(o.pidFile); err != nil {
			log.logf(logErr, "%v", err)
		}
		defer removePidFile(o.pidFile)
	}
	go d.forwardSignals(sigs)
	log.logf(logInfo, "ready: %d entries of %d in %s, watching %s", d.c.Entries(), d.c.Capacity(), o.db, d.ifs.String())
	if status != nil {
		status.WriteString("ok\n")
		status.Close()
	}
	d.loop()
	signal.Stop(sigs)
	if err := d.shutdown(); err != nil {
		log.logf(logErr, "%v", err)
		return 1
	}
	log.logf(logInfo, "exiting")
	return 0
}

// forwardSignals turns the signals that arrive on sigs into bits for the
// loop, and wakes it.
func (d *daemon) forwardSignals(sigs <-chan os.Signal) {
	one := [8]byte{1}
	for s := range sigs {
		switch s {
		case syscall.SIGINT, syscall.SIGTERM:
			d.signals.Or(sigExit)
		case syscall.SIGHUP:
			d.signals.Or(sigSync)
		case syscall.SIGUSR1:
			d.signals.Or(sigStats)
		}
		unix.Write(d.wakeFd, one[:])
	}
}
