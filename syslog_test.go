package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSyslog receives what the logger writes on a datagram socket standing
// in for /dev/log, and checks the stderr copy.
func TestSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	fd := bindDgram(t, path)
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
	re := regexp.MustCompile(`^<30>arpd\[\d+\]: hello 42\n$`)
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

// TestSyslogJournal checks that a logger whose stderr is the stream that
// JOURNAL_STREAM names writes each message once, to that stream, with its
// priority as a prefix, and does not touch the syslog socket.
func TestSyslogJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	stream := strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10)

	for _, tc := range []struct {
		env     string
		journal bool
	}{
		{stream, true},
		{"", false},
		{strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino)+1, 10), false},
		{"garbage", false},
	} {
		t.Setenv("JOURNAL_STREAM", tc.env)
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		f.Seek(0, 0)
		l := newLogger(path, f)
		l.logf(logWarning, "interface %s is gone", "lan0")
		l.Close()
		got, _ := os.ReadFile(f.Name())
		buf := make([]byte, 512)
		n, _, rerr := unix.Recvfrom(fd, buf, 0)
		if tc.journal {
			if string(got) != "<4>arpd: interface lan0 is gone\n" {
				t.Errorf("JOURNAL_STREAM=%q: stderr %q, want the message with its priority", tc.env, got)
			}
			if rerr == nil {
				t.Errorf("JOURNAL_STREAM=%q: the message also went to syslog: %q", tc.env, buf[:n])
			}
			continue
		}
		if string(got) != "arpd: interface lan0 is gone\n" {
			t.Errorf("JOURNAL_STREAM=%q: stderr %q", tc.env, got)
		}
		if rerr != nil || !strings.Contains(string(buf[:n]), "arpd[") {
			t.Errorf("JOURNAL_STREAM=%q: nothing went to syslog (%v)", tc.env, rerr)
		}
	}
}

// bindDgram binds a Unix datagram socket, closed when t ends, at path,
// standing in for /dev/log, and returns it.
func bindDgram(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	return fd
}
