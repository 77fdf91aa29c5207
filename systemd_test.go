package main

// The systemd unit as systemd's own tools judge it, installed by make
// install: systemd-analyze verify, and the exposure score of
// systemd-analyze security. PID 1 need not be systemd for either.

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest exposure score systemd-analyze security may
// give the unit.
const maxExposure = 1.5

// TestSystemdUnitAnalyze installs into a temporary PREFIX (so that the
// unit's ExecStart names a binary that is there, as verify checks), then
// requires systemd-analyze verify to pass without a word and
// systemd-analyze security --offline=true to rate the unit at most
// maxExposure. The unit must not make any of /proc/sys writable: arpd
// sets its sysctls over rtnetlink.
func TestSystemdUnitAnalyze(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian's systemd package has it):", err)
	}
	prefix := t.TempDir()
	if code, out := runMake(t, "install", "PREFIX="+prefix); code != 0 {
		t.Fatalf("make install: exit %d:\n%s", code, out)
	}
	unit := filepath.Join(prefix, "lib/systemd/system/arpd.service")
	text := string(readFile(t, unit))
	for _, want := range []string{"\nProtectKernelTunables=yes\n", "\nProcSubset=pid\n", "\nExecStart=" + prefix + "/sbin/arpd "} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit has no %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(text, "ReadWritePaths=") {
		t.Errorf("the unit makes paths writable again (ReadWritePaths=)")
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v:\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v:\n%s", err, out)
	}
	score, ok := exposure(string(out))
	if !ok {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	if score > maxExposure {
		t.Errorf("exposure %.1f, want at most %.1f:\n%s", score, maxExposure, out)
	}
	t.Logf("systemd-analyze security --offline=true: exposure %.1f", score)
}

// exposureLine is the closing line of systemd-analyze security.
var exposureLine = regexp.MustCompile(`Overall exposure level for arpd\.service: ([0-9]+\.[0-9])`)

// exposure returns the overall exposure level that systemd-analyze
// security printed in out.
func exposure(out string) (float64, bool) {
	m := exposureLine.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
