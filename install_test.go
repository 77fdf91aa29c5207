package main

// make install and make uninstall, run for real into temporary
// directories: the files, their modes, the unit's ExecStart, and the
// refusal to replace another program's arpd (Debian's iproute2 has one in
// /usr/sbin).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runMake runs make with args in the source tree and returns its exit
// code (0, or -1 when it could not run) and its output. It skips t when
// make is not installed.
func runMake(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed:", err)
	}
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		return -1, err.Error()
	}
	return 0, string(out)
}

// installed lists the files make install writes under a root for PREFIX
// /usr/local, with their modes.
var installed = []struct {
	path string
	mode os.FileMode
}{
	{"usr/local/sbin/arpd", 0o755},
	{"usr/local/share/man/man8/arpd.8", 0o644},
	{"usr/local/lib/systemd/system/arpd.service", 0o644},
}

// TestMakeInstall installs into a DESTDIR with the default PREFIX, checks
// each file and its mode, the man page and the binary against the tree's,
// and the unit's ExecStart naming the installed binary; then installs
// again over its own files (allowed), and make uninstall removes them.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	dest := t.TempDir()
	if code, out := runMake(t, "install", "DESTDIR="+dest); code != 0 {
		t.Fatalf("make install: exit %d:\n%s", code, out)
	}
	for _, f := range installed {
		st, err := os.Stat(filepath.Join(dest, f.path))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, st.Mode(), f.mode)
		}
	}
	if a, b := readFile(t, "doc/arpd.8"), readFile(t, filepath.Join(dest, installed[1].path)); !bytes.Equal(a, b) {
		t.Errorf("the installed man page differs from doc/arpd.8")
	}
	if a, b := readFile(t, "arpd"), readFile(t, filepath.Join(dest, installed[0].path)); !bytes.Equal(a, b) {
		t.Errorf("the installed binary differs from the one built")
	}
	unit := string(readFile(t, filepath.Join(dest, installed[2].path)))
	if !strings.Contains(unit, "\nExecStart=/usr/local/sbin/arpd -F $ARPD_OPTS $ARPD_INTERFACES\n") || strings.Contains(unit, "@SBINDIR@") {
		t.Errorf("the installed unit's ExecStart is not the installed binary's:\n%s", unit)
	}
	if code, out := runMake(t, "install", "DESTDIR="+dest); code != 0 {
		t.Fatalf("make install over its own files: exit %d:\n%s", code, out)
	}
	if code, out := runMake(t, "uninstall", "DESTDIR="+dest); code != 0 {
		t.Fatalf("make uninstall: exit %d:\n%s", code, out)
	}
	for _, f := range installed {
		if _, err := os.Lstat(filepath.Join(dest, f.path)); !os.IsNotExist(err) {
			t.Errorf("%s after make uninstall: %v", f.path, err)
		}
	}
}

// TestMakeInstallRefuses: make install with PREFIX=/usr over an arpd that
// is not this one (a stand-in for iproute2's) fails before writing
// anything, saying why, and make uninstall leaves that file alone. Where
// Debian's iproute2 owns /usr/sbin/arpd, install-check (what make install
// runs first, writing nothing) refuses PREFIX=/usr on this very system.
func TestMakeInstallRefuses(t *testing.T) {
	dest := t.TempDir()
	other := filepath.Join(dest, "usr/sbin/arpd")
	foreign := []byte("#!/bin/sh\necho 'Usage: arpd [ -lkh? ] [ -a N ] [ -b dbase ]'\n")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out := runMake(t, "install-check", "PREFIX=/usr", "DESTDIR="+dest)
	if code == 0 || !strings.Contains(out, other+" is another program's arpd") || !strings.Contains(out, "README.md") {
		t.Fatalf("make install-check over another arpd: exit %d:\n%s", code, out)
	}
	if testing.Short() {
		return
	}
	code, out = runMake(t, "install", "PREFIX=/usr", "DESTDIR="+dest)
	if code == 0 || !strings.Contains(out, "not replacing it") {
		t.Fatalf("make install over another arpd: exit %d:\n%s", code, out)
	}
	if !bytes.Equal(readFile(t, other), foreign) {
		t.Errorf("the other arpd was changed")
	}
	for _, p := range []string{"usr/share/man/man8/arpd.8", "usr/lib/systemd/system/arpd.service"} {
		if _, err := os.Lstat(filepath.Join(dest, p)); !os.IsNotExist(err) {
			t.Errorf("%s written by a refused install: %v", p, err)
		}
	}
	if code, out := runMake(t, "uninstall", "PREFIX=/usr", "DESTDIR="+dest); code != 0 || !bytes.Equal(readFile(t, other), foreign) {
		t.Errorf("make uninstall over another arpd: exit %d, file kept %v:\n%s", code, bytes.Equal(readFile(t, other), foreign), out)
	}
	pkg, err := exec.Command("dpkg", "-S", "/usr/sbin/arpd").Output()
	if err != nil {
		t.Logf("the refusal of Debian's own /usr/sbin/arpd is not checked here: dpkg -S /usr/sbin/arpd: %v", err)
		return
	}
	code, out = runMake(t, "install-check", "PREFIX=/usr")
	owner, _, _ := strings.Cut(string(pkg), ":")
	if code == 0 || !strings.Contains(out, "/usr/sbin/arpd belongs to the Debian package "+owner) {
		t.Errorf("make install-check PREFIX=/usr with %s's /usr/sbin/arpd: exit %d:\n%s", owner, code, out)
	}
}

// readFile returns the contents of path, failing t if it cannot.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
