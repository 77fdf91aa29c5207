package main

// Tests of the built binary: the version stamped in at link time, and
// what it links.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// TestVersionFlag builds the daemon with a version of its own and checks
// that -V prints exactly that, also when clustered with another flag.
func TestVersionFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon; skipped with -short")
	}
	version := "1.2.3-test+" + strconv.Itoa(os.Getpid())
	bin := labtest.Build(t, t.TempDir(), version)
	out, err := exec.Command(bin, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("arpd -V: %v: %s", err, out)
	}
	if want := "arpd " + version + "\n"; string(out) != want {
		t.Fatalf("arpd -V printed %q, want %q", out, want)
	}
	// The same binary with another flag cluster: -V wins and exits 0.
	out, err = exec.Command(bin, "-lV").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Fatalf("arpd -lV: %v: %q", err, out)
	}
}

// heavyPackages are standard packages the daemon must not link: each costs
// tens to hundreds of kilobytes on mips (fmt with the reflect code it keeps
// alive, net with its resolver, net/netip with unique), which the 2 MB
// flash budget of a small router cannot spare. internal/fmtlite and
// internal/netiplite stand in for the parts of fmt and net/netip arpd uses.
var heavyPackages = []string{"fmt", "net", "net/netip", "log", "log/syslog", "encoding/json", "os/user", "text/template"}

// TestNoHeavyDependencies lists what the daemon links and fails if one of
// heavyPackages is among it, naming the import path that pulls it in.
func TestNoHeavyDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	out, err := exec.Command(labtest.GoTool(t), "list", "-deps", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	importers := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			importers[imp] = append(importers[imp], pkg)
		}
	}
	if len(importers["golang.org/x/sys/unix"]) == 0 {
		t.Fatalf("go list shows nothing importing golang.org/x/sys/unix: the listing is wrong\n%s", out)
	}
	for _, p := range heavyPackages {
		if by := importers[p]; len(by) > 0 {
			t.Errorf("the daemon links %s (imported by %s); use the internal stand-ins or the unix package", p, strings.Join(by, ", "))
		}
	}
}

// TestNoTimeFormatting builds the daemon and checks that time's
// formatting and zone loading are not in it: they cost about 50 KB on mips,
// and come back with any use of os's FileInfo (os.ReadFile, os.Stat,
// os.Rename, os.MkdirAll) or of time.Time's Format or String.
func TestNoTimeFormatting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "arpd")
	if out, err := exec.Command(labtest.GoTool(t), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(labtest.GoTool(t), "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	for _, sym := range []string{" time.Time.appendFormat", " time.LoadLocationFromTZData", " os.(*File).Stat"} {
		if strings.Contains(string(out), sym+"\n") {
			t.Errorf("the daemon links%s", sym)
		}
	}
	if !strings.Contains(string(out), " main.main\n") {
		t.Fatal("go tool nm lists no main.main: the check is blind")
	}
}
