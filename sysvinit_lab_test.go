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

	"arpd/internal/labtest"

	"golang.org/x/sys/unix"
)

// sysvScript is the script under test.
const sysvScript = "contrib/sysvinit/arpd"

// TestSysvinitScriptLab runs start, status, a second start, reload, stop
// and status again inside Near, checking the pid file, the process and the
// sysctls at each step.
func TestSysvinitScriptLab(t *testing.T) {
	labtest.RequireRoot(t)
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		t.Skip("lab test skipped: start-stop-daemon is not installed")
	}
	l := labtest.New(t)
	dir := t.TempDir()
	bin := labtest.Binary(t)
	pidFile := filepath.Join(dir, "arpd.pid")
	defaults := filepath.Join(dir, "default-arpd")
	if err := os.WriteFile(defaults, []byte(
		"DAEMON="+bin+"\nPIDFILE="+pidFile+"\n"+
			"ARPD_OPTS=\"-a 2 -b "+filepath.Join(dir, "arpd.db")+"\"\n"+
			"ARPD_INTERFACES="+l.NearIf+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(sysvScript)
	if err != nil {
		t.Fatal(err)
	}
	appKey := "net/ipv4/neigh/" + l.NearIf + "/app_solicit"
	mcastKey := "net/ipv4/neigh/" + l.NearIf + "/mcast_solicit"
	l.Sysctl(l.Near, appKey, "0")
	l.Sysctl(l.Near, mcastKey, "4")

	action := func(name string) (string, int) {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", l.Near, "env", "ARPD_DEFAULTS="+defaults, "sh", script, name)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(out), code
	}
	readPid := func() int {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	alive := func(pid int) bool {
		if pid <= 0 {
			return false
		}
		exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		return err == nil && exe == bin
	}
	sysctls := func() (int, int) {
		return l.ReadSysctl(l.Near, appKey), l.ReadSysctl(l.Near, mcastKey)
	}
	t.Cleanup(func() {
		if pid := readPid(); alive(pid) {
			unix.Kill(pid, unix.SIGKILL)
		}
	})

	// start returns once the daemon is ready: pid file and sysctls set.
	if out, code := action("start"); code != 0 {
		t.Fatalf("start: exit %d: %s", code, out)
	}
	pid := readPid()
	if !alive(pid) {
		t.Fatalf("after start, pid file %s names %d, which is not %s", pidFile, pid, bin)
	}
	if a, m := sysctls(); a != 2 || m != 1 {
		t.Fatalf("after start app_solicit %d, mcast_solicit %d; want 2 and 1 for -a 2", a, m)
	}
	if out, code := action("status"); code != 0 || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Fatalf("status while running: exit %d: %q", code, out)
	}
	if out, code := action("start"); code != 0 || !strings.Contains(out, "already running") || readPid() != pid {
		t.Fatalf("second start: exit %d: %q, pid %d then %d", code, out, pid, readPid())
	}
	if out, code := action("reload"); code != 0 || !alive(pid) {
		t.Fatalf("reload: exit %d: %q, alive %v", code, out, alive(pid))
	}

	// stop waits for the daemon to go, which restores the sysctls and
	// removes its pid file.
	if out, code := action("stop"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	if !labtest.WaitFor(5*time.Second, func() bool { return !alive(pid) }) {
		t.Fatalf("pid %d still running after stop", pid)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left after stop: %v", err)
	}
	if a, m := sysctls(); a != 0 || m != 4 {
		t.Fatalf("after stop app_solicit %d, mcast_solicit %d; want the originals 0 and 4", a, m)
	}
	if out, code := action("status"); code != 3 {
		t.Fatalf("status when stopped: exit %d, want 3: %q", code, out)
	}
	if out, code := action("stop"); code != 0 || !strings.Contains(out, "not running") {
		t.Fatalf("stop when stopped: exit %d: %q", code, out)
	}
}
