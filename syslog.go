package main

// Logging to syslog through /dev/log, written directly with a datagram
// socket (the log/syslog package would pull in the net package and some
// hundreds of kilobytes with it), and to stderr as well in the foreground.

import (
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	fmt "arpd/internal/fmtlite"
)

// Syslog priorities (facility daemon).
const (
	logErr     = 3<<3 | 3
	logWarning = 3<<3 | 4
	logInfo    = 3<<3 | 6
)

// logger writes messages to syslog and, if stderr is set, to stderr.
type logger struct {
	path   string // the syslog socket, /dev/log
	fd     int    // -1 when not connected
	stderr io.Writer
	pid    int
	buf    []byte
}

// newLogger returns a logger for the syslog socket at path (connected
// lazily) that also writes to stderr when it is not nil.
func newLogger(path string, stderr io.Writer) *logger {
	return &logger{path: path, fd: -1, stderr: stderr, pid: os.Getpid()}
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
	msg := fmt.Sprintf(format, args...)
	if l.stderr != nil {
		fmt.Fprintf(l.stderr, "arpd: %s\n", msg)
	}
	// RFC 3164 as syslog(3) writes it locally: <PRI>TIMESTAMP TAG[PID]: MSG
	l.buf = fmt.Appendf(l.buf[:0], "<%d>%s arpd[%d]: %s\n", pri, time.Now().Format(time.Stamp), l.pid, msg)
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
func (l *logger) Close() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}
