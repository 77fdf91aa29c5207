package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSyslog receives what the logger writes on a datagram socket standing
// in for /dev/log, and checks the stderr copy.
func TestSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	l := newLogger(path, &stderr)
	defer l.Close()
	l.logf(logInfo, "hello %d", 42)

	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	buf := make([]byte, 512)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^<30>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d arpd\[\d+\]: hello 42\n$`)
	if !re.Match(buf[:n]) {
		t.Fatalf("syslog message %q", buf[:n])
	}
	if stderr.String() != "arpd: hello 42\n" {
		t.Fatalf("stderr %q", stderr.String())
	}
	// No syslog daemon: stderr still works and nothing blocks.
	l2 := newLogger(filepath.Join(t.TempDir(), "none"), &stderr)
	start := time.Now()
	l2.logf(logErr, "still here")
	if time.Since(start) > time.Second || !strings.Contains(stderr.String(), "still here") {
		t.Fatal("logging without a syslog daemon failed or blocked")
	}
}
