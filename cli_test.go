package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
)

// TestHelp checks -h: the usage line, then a line per flag of the usage
// line, and each default as parseArgs sets it (or, for -C, as a new
// database gets it).
func TestHelp(t *testing.T) {
	code, out, errs := runArpd(t, "", "-h")
	if code != 1 || out != "" || !strings.HasPrefix(errs, usageText) {
		t.Fatalf("-h: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(errs, usageText), "\n"), "\n")
	line := map[string]string{} // flag letter (or "interfaces") to its line
	re := regexp.MustCompile(`^  (-(\S)(?:, -\S)?(?: \S+)?|interfaces) +(\S.*)$`)
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("help line %q is not \"  FLAG  meaning\"", l)
		}
		key := m[2]
		if key == "" {
			key = m[1]
		}
		line[key] = m[3]
	}
	line["?"] = line["h"]
	for c := range optionTakesArg {
		if line[string(rune(c))] == "" {
			t.Errorf("-%c has no help line", c)
		}
	}
	if line["interfaces"] == "" {
		t.Error("the interfaces have no help line")
	}
	if len(lines) != len(optionTakesArg)-1+1 { // -h and -? share one; the interfaces have one
		t.Errorf("%d help lines for %d flags", len(lines), len(optionTakesArg))
	}
	def := func(c string) string {
		m := regexp.MustCompile(`\(default ([^)]*)\)$`).FindStringSubmatch(line[c])
		if m == nil {
			return ""
		}
		return m[1]
	}
	o, err := parseArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range map[string]string{
		"a": strconv.Itoa(o.active),
		"b": o.db,
		"B": strconv.Itoa(o.burst),
		"n": strconv.Itoa(o.negTimeout),
		"p": strconv.FormatFloat(o.syncEvery.Seconds(), 'f', -1, 64),
		"R": strconv.FormatFloat(o.rate, 'f', -1, 64),
		"M": strconv.Itoa(o.claimsPerMinute),
		"C": strconv.Itoa(newDBCapacity(t)),
	} {
		if got := def(c); got != want {
			t.Errorf("-%s: help says default %q, the parser %q", c, got, want)
		}
	}
}

// newDBCapacity returns the capacity of a database made without -C.
func newDBCapacity(t *testing.T) int {
	db := filepath.Join(t.TempDir(), "arpd.db")
	if code, _, errs := runArpd(t, "", "-b", db, "-f", "/dev/null"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	c, err := cache.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Capacity()
}

// TestListMissingDirectory: -l on a path whose directory does not exist
// is an error naming it; a missing file in an existing directory is
// still an empty listing.
func TestListMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nodir", "arpd.db")
	for _, args := range [][]string{{"-l"}, {"-l", "-j"}} {
		code, out, errs := runArpd(t, "", append(args, "-b", missing)...)
		if code != 1 || out != "" || !strings.Contains(errs, filepath.Join(dir, "nodir")) {
			t.Errorf("%q on a missing directory: exit %d, %q, %q", args, code, out, errs)
		}
	}
	code, out, errs := runArpd(t, "", "-l", "-b", filepath.Join(dir, "arpd.db"))
	if code != 0 || out != listHeader || !strings.Contains(errs, "does not exist") {
		t.Errorf("missing file: exit %d, %q, %q", code, out, errs)
	}
}

// TestCapacityWithoutEffect: -C with -l, -s or -m alone says it does
// nothing and still does the job; with -f it says nothing.
func TestCapacityWithoutEffect(t *testing.T) {
	db := filepath.Join(t.TempDir(), "arpd.db")
	if code, _, errs := runArpd(t, "", "-b", db, "-f", "/dev/null"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, job := range []string{"-l", "-s", "-m"} {
		code, out, errs := runArpd(t, "", job, "-C", "128", "-b", db)
		if code != 0 || out == "" || !strings.Contains(errs, "-C does nothing") {
			t.Errorf("%s -C: exit %d, stdout %d bytes, stderr %q", job, code, len(out), errs)
		}
	}
	if code, _, errs := runArpd(t, "", "-l", "-C", "128", "-f", "/dev/null", "-b", db); code != 0 || strings.Contains(errs, "does nothing") {
		t.Errorf("-l -f -C: exit %d, %q", code, errs)
	}
}

// openPty opens a pseudo-terminal and returns its two ends, the terminal
// (what a program's stderr would be) first.
func openPty(t *testing.T) (tty, master *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminals:", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return s, m
}

// TestProgress runs a load and a rebuild with stderr a terminal, showing
// every step, and reads the lines from the terminal; with stderr a pipe
// or a buffer nothing is shown.
func TestProgress(t *testing.T) {
	tty, master := openPty(t)
	if !isTerminal(int(tty.Fd())) {
		t.Fatal("isTerminal is false on a pseudo-terminal")
	}
	old := progressStride
	progressStride = 1000
	defer func() { progressStride = old }()
	// NB: read while the jobs write: a terminal's buffer holds a few
	// kilobytes, and a writer blocks when it is full.
	shownc := make(chan string)
	go func() {
		var b []byte
		buf := make([]byte, 1<<16)
		for {
			n, err := master.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				shownc <- string(b)
				return
			}
		}
	}()
	var in strings.Builder
	for i := 0; i < 70000; i++ {
		in.WriteString("2 10." + strconv.Itoa(i>>16) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + " 00:11:22:33:44:55\n")
	}
	db := filepath.Join(t.TempDir(), "arpd.db")
	var out bytes.Buffer
	if code := run([]string{"-b", db, "-C", "100000", "-f", "-"}, strings.NewReader(in.String()), &out, tty); code != 0 {
		t.Fatalf("load: exit %d", code)
	}
	// A rebuild to another capacity copies the 70,000 entries.
	if code := run([]string{"-b", db, "-C", "200000", "-f", "/dev/null"}, strings.NewReader(""), &out, tty); code != 0 {
		t.Fatalf("rebuild: exit %d", code)
	}
	tty.Close() // the master's read then fails
	shown := <-shownc
	for _, want := range []string{"\rarpd: reading stdin: 69000\x1b[K", "\rarpd: loading: 69000 of 70000 (98%)\x1b[K",
		"\rarpd: rebuilding " + db + ": 65536 of 70000 (93%)\x1b[K", "\r\x1b[K"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the terminal shows no %q", want)
		}
	}
	// Not a terminal: nothing.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if code := run([]string{"-b", db, "-f", "/dev/null"}, strings.NewReader(""), &out, w); code != 0 {
		t.Fatalf("exit %d", code)
	}
	w.Close()
	if b, _ := readAll(r); len(b) != 0 {
		t.Errorf("a pipe got %q", b)
	}
	if isTerminal(int(r.Fd())) {
		t.Error("isTerminal is true on a pipe")
	}
}

// readAll reads f to its end.
func readAll(f *os.File) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.Bytes(), err
}

// TestForegroundErrorOnce: under -F a daemon that cannot start prints
// its error once on stderr (the logger writes it there), not twice.
func TestForegroundErrorOnce(t *testing.T) {
	t.Setenv("GOMAXPROCS", strconv.Itoa(runtime.GOMAXPROCS(0))) // keep this process's
	old := syslogPath
	syslogPath = filepath.Join(t.TempDir(), "no-syslog")
	defer func() { syslogPath = old }()
	db := filepath.Join(t.TempDir(), "nodir", "arpd.db")
	code, _, errs := runArpd(t, "", "-F", "-b", db, "lo")
	if code != 1 || strings.Count(errs, "nodir") != 1 {
		t.Errorf("exit %d, stderr %q: want the error once", code, errs)
	}
}

// TestSyslogListens: the check made before detaching sees a listening
// socket, and no socket or a file that is not one.
func TestSyslogListens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	if syslogListens(path) {
		t.Error("a missing socket listens")
	}
	bindDgram(t, path)
	if !syslogListens(path) {
		t.Error("a bound datagram socket does not listen")
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	if syslogListens(filepath.Join(dir, "file")) {
		t.Error("a plain file listens")
	}
}
