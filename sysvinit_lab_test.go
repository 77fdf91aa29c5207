package main

// contrib/sysvinit/arpd, run for real in the lab: start-stop-daemon starts
// the detaching daemon with a pid file, and status, reload and stop find
// it through that file.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
)

// sysvScript is the script under test.
const sysvScript = "contrib/sysvinit/arpd"

// sysvLab is the lab of TestSysvinitScriptLab: the script's defaults
// file, naming the Binary, a pid file and NearIf, in a directory of the
// test's own.
type sysvLab struct {
	*labtest.Lab
	t                *testing.T
	bin, script      string
	defaults         string
	pidFile          string
	appKey, mcastKey string // the sysctls arpd adjusts, with originals 0 and 4
}

// newSysvLab makes the lab, writes the defaults file and sets the
// original sysctls; a daemon the test leaves running is killed when it
// ends.
func newSysvLab(t *testing.T) *sysvLab {
	l := labtest.New(t)
	dir := t.TempDir()
	s := &sysvLab{Lab: l, t: t, bin: labtest.Binary(t), pidFile: filepath.Join(dir, "arpd.pid"),
		defaults: filepath.Join(dir, "default-arpd")}
	if err := os.WriteFile(s.defaults, []byte(
		"DAEMON="+s.bin+"\nPIDFILE="+s.pidFile+"\n"+
			"ARPD_OPTS=\"-a 2 -b "+filepath.Join(dir, "arpd.db")+"\"\n"+
			"ARPD_INTERFACES="+l.NearIf+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(sysvScript)
	if err != nil {
		t.Fatal(err)
	}
	s.script = script
	s.appKey = "net/ipv4/neigh/" + l.NearIf + "/app_solicit"
	s.mcastKey = "net/ipv4/neigh/" + l.NearIf + "/mcast_solicit"
	l.Sysctl(l.Near, s.appKey, "0")
	l.Sysctl(l.Near, s.mcastKey, "4")
	t.Cleanup(func() {
		if pid := s.readPid(); s.alive(pid) {
			unix.Kill(pid, unix.SIGKILL)
		}
	})
	return s
}

// action runs the script with the argument name inside Near and returns
// its output and exit status.
func (s *sysvLab) action(name string) (string, int) {
	s.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", s.Near, "env", "ARPD_DEFAULTS="+s.defaults, "sh", s.script, name)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	return string(out), code
}

// readPid returns the pid in the pid file, 0 if there is none.
func (s *sysvLab) readPid() int {
	b, err := os.ReadFile(s.pidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether process pid runs the Binary.
func (s *sysvLab) alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && exe == s.bin
}

// sysctls returns app_solicit and mcast_solicit of NearIf.
func (s *sysvLab) sysctls() (int, int) {
	return s.ReadSysctl(s.Near, s.appKey), s.ReadSysctl(s.Near, s.mcastKey)
}

// TestSysvinitScriptLab runs start, status, a second start, reload, stop
// and status again inside Near, checking the pid file, the process and the
// sysctls at each step.
func TestSysvinitScriptLab(t *testing.T) {
	labtest.RequireRoot(t)
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		t.Skip("lab test skipped: start-stop-daemon is not installed")
	}
	s := newSysvLab(t)
	pid := sysvStart(t, s)
	sysvStop(t, s, pid)
}

// sysvStart: start returns once the daemon is ready, pid file and sysctls
// set; status, a second start and reload find it. It returns its pid.
func sysvStart(t *testing.T, s *sysvLab) int {
	if out, code := s.action("start"); code != 0 {
		t.Fatalf("start: exit %d: %s", code, out)
	}
	pid := s.readPid()
	if !s.alive(pid) {
		t.Fatalf("after start, pid file %s names %d, which is not %s", s.pidFile, pid, s.bin)
	}
	if a, m := s.sysctls(); a != 2 || m != 1 {
		t.Fatalf("after start app_solicit %d, mcast_solicit %d; want 2 and 1 for -a 2", a, m)
	}
	if out, code := s.action("status"); code != 0 || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Fatalf("status while running: exit %d: %q", code, out)
	}
	if out, code := s.action("start"); code != 0 || !strings.Contains(out, "already running") || s.readPid() != pid {
		t.Fatalf("second start: exit %d: %q, pid %d then %d", code, out, pid, s.readPid())
	}
	if out, code := s.action("reload"); code != 0 || !s.alive(pid) {
		t.Fatalf("reload: exit %d: %q, alive %v", code, out, s.alive(pid))
	}
	return pid
}

// sysvStop: stop waits for the daemon pid to go, which restores the
// sysctls and removes its pid file; status and stop then say it is not
// running.
func sysvStop(t *testing.T, s *sysvLab, pid int) {
	if out, code := s.action("stop"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	if !labtest.WaitFor(5*time.Second, func() bool { return !s.alive(pid) }) {
		t.Fatalf("pid %d still running after stop", pid)
	}
	if _, err := os.Stat(s.pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left after stop: %v", err)
	}
	if a, m := s.sysctls(); a != 0 || m != 4 {
		t.Fatalf("after stop app_solicit %d, mcast_solicit %d; want the originals 0 and 4", a, m)
	}
	if out, code := s.action("status"); code != 3 {
		t.Fatalf("status when stopped: exit %d, want 3: %q", code, out)
	}
	if out, code := s.action("stop"); code != 0 || !strings.Contains(out, "not running") {
		t.Fatalf("stop when stopped: exit %d: %q", code, out)
	}
}
