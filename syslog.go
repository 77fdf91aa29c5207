package main

// Logging to syslog through /dev/log, written directly with a datagram
// socket (the log/syslog package would pull in the net package and some
// hundreds of kilobytes with it), and to stderr as well in the foreground.

import (
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// Syslog priorities (facility daemon).
const (
	logErr     = 3<<3 | 3
	logWarning = 3<<3 | 4
	logInfo    = 3<<3 | 6
)

// syslogPath is the syslog socket; a variable so that tests can point it
// elsewhere.
var syslogPath = "/dev/log"

// syslogListens reports whether a syslog daemon takes messages at path.
func syslogListens(path string) bool {
	l := newLogger(path, nil)
	l.connect()
	defer l.Close()
	return l.fd >= 0
}

// logger writes messages to syslog and, if stderr is set, to stderr.
type logger struct {
	path    string // the syslog socket, /dev/log
	fd      int    // -1 when not connected
	stderr  io.Writer
	journal bool // stderr is systemd's journal: prefix the priority
	pid     int
	buf     []byte
}

// newLogger returns a logger for the syslog socket at path (connected
// lazily) that also writes to stderr when it is not nil.
//
// When stderr is the journal's stream (systemd's JOURNAL_STREAM names
// its device and inode), the journal already has every line, so the
// logger does not write to syslog as well, which would show each message
// twice; it prefixes each line with its priority (<3>, <4>, <6>) instead,
// which the journal reads as the message's level.
func newLogger(path string, stderr io.Writer) *logger {
	l := &logger{path: path, fd: -1, stderr: stderr, pid: os.Getpid()}
	if f, ok := stderr.(*os.File); ok && isJournalStream(f, os.Getenv("JOURNAL_STREAM")) {
		l.path, l.journal = "", true
	}
	return l
}

// isJournalStream reports whether f is the stream that journal, the value
// of JOURNAL_STREAM ("device:inode", both decimal), names.
func isJournalStream(f *os.File, journal string) bool {
	dev, ino, ok := strings.Cut(journal, ":")
	if !ok {
		return false
	}
	wantDev, ok1 := parseUint(dev)
	wantIno, ok2 := parseUint(ino)
	if !ok1 || !ok2 {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	return uint64(st.Dev) == wantDev && uint64(st.Ino) == wantIno
}

// connect opens the syslog socket. A missing syslog daemon is not an
// error: messages then go to stderr only (if set).
func (l *logger) connect() {
	if l.path == "" {
		return
	}
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_STREAM} {
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return
		}
		if unix.Connect(fd, &unix.SockaddrUnix{Name: l.path}) == nil {
			l.fd = fd
			return
		}
		unix.Close(fd)
	}
}

// logf formats and writes one message at priority pri.
func (l *logger) logf(pri int, format string, args ...any) {
	msg := fmtlite.Sprintf(format, args...)
	switch {
	case l.journal:
		fmtlite.Fprintf(l.stderr, "<%d>arpd: %s\n", pri&7, msg)
		return
	case l.stderr != nil:
		fmtlite.Fprintf(l.stderr, "arpd: %s\n", msg)
	}
	// RFC 3164 as a local client may write it: <PRI>TAG[PID]: MSG.
	// NB: no timestamp. The syslog daemon (OpenWrt's logd, busybox
	// syslogd, rsyslog, syslog-ng, journald) stamps a message that has
	// none with its own clock and zone (logd and journald ignore one
	// given anyway); formatting local time here would link Go's time
	// formatting and zone loading into the binary.
	l.buf = fmtlite.Appendf(l.buf[:0], "<%d>arpd[%d]: %s\n", pri, l.pid, msg)
	for try := 0; try < 2; try++ {
		if l.fd < 0 {
			l.connect()
			if l.fd < 0 {
				return
			}
		}
		if _, err := unix.Write(l.fd, l.buf); err == nil {
			return
		}
		// The syslog daemon restarted: reconnect once.
		unix.Close(l.fd)
		l.fd = -1
	}
}

// Close closes the syslog socket.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func (l *logger) Close() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}
