package labtest_test

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

// TestBinary checks the binary builder: one binary per test binary, that
// any user can run, stamped with Version.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon; skipped with -short")
	}
	bin := labtest.Binary(t)
	if again := labtest.Binary(t); again != bin {
		t.Fatalf("Binary built twice: %s, then %s", bin, again)
	}
	if !filepath.IsAbs(bin) {
		t.Fatalf("Binary returned %q, want an absolute path", bin)
	}
	if os.Getenv(labtest.BinaryEnv) != "" {
		return // someone else's binary: its version and modes are theirs
	}
	for _, p := range []string{bin, filepath.Dir(bin)} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm()&0o005 != 0o005 {
			t.Errorf("%s: %v (%v), want it readable and executable by anyone", p, st.Mode(), err)
		}
	}
	out, err := exec.Command(bin, "-V").CombinedOutput()
	if want := "arpd " + labtest.Version + "\n"; err != nil || string(out) != want {
		t.Fatalf("arpd -V: %q (%v), want %q", out, err, want)
	}
}

// TestDaemon runs arpd in a lab in the foreground: it is ready, runs the
// Binary under the pid the Daemon holds, keeps counters that Stats reads,
// survives SIGHUP and exits 0 on SIGTERM with the sysctls it adjusted
// restored.
func TestDaemon(t *testing.T) {
	l := labtest.New(t)
	if testing.Short() {
		t.Skip("builds the daemon; skipped with -short")
	}
	app := "net/ipv4/neigh/" + l.NearIf + "/app_solicit"
	db := filepath.Join(t.TempDir(), "arpd.db")
	d := labtest.Start(t, labtest.Options{Lab: l, DB: db, Args: []string{"-a", "2", l.NearIf}})
	if !strings.Contains(d.Output(), "arpd: ready:") || d.Startup() <= 0 {
		t.Fatalf("ready after %v with output %q", d.Startup(), d.Output())
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(d.Pid()) + "/exe"); err != nil || exe != labtest.Binary(t) {
		t.Fatalf("pid %d runs %q (%v), want %s", d.Pid(), exe, err, labtest.Binary(t))
	}
	if v := l.ReadSysctl(l.Near, app); v != 2 {
		t.Fatalf("app_solicit %d while arpd -a 2 runs, want 2", v)
	}
	if st := d.Stats(); st["capacity"] == 0 {
		t.Fatalf("Stats: %v, want a capacity", st)
	}
	d.Signal(unix.SIGHUP)
	time.Sleep(100 * time.Millisecond)
	d.RequireRunning("after SIGHUP")
	if code := d.Stop(unix.SIGTERM, 5*time.Second); code != 0 || !d.Exited() {
		t.Fatalf("exit status %d (exited %v) after SIGTERM: %s", code, d.Exited(), d.Output())
	}
	if v := l.ReadSysctl(l.Near, app); v != 0 {
		t.Fatalf("app_solicit %d after SIGTERM, want the original 0", v)
	}
	d.Close() // ended already: nothing to do
}

// TestDaemonDetached runs arpd without -F: Start finds it through its pid
// file, and through the namespace's processes without one, with ReadyIf.
func TestDaemonDetached(t *testing.T) {
	for _, pidFile := range []bool{true, false} {
		t.Run("pidfile="+strconv.FormatBool(pidFile), func(t *testing.T) {
			l := labtest.New(t)
			if testing.Short() {
				t.Skip("builds the daemon; skipped with -short")
			}
			dir := t.TempDir()
			o := labtest.Options{Lab: l, DB: filepath.Join(dir, "arpd.db"), Detach: true, Args: []string{l.NearIf}}
			if pidFile {
				o.PidFile = filepath.Join(dir, "arpd.pid")
			} else {
				o.ReadyIf = l.NearIf
			}
			d := labtest.Start(t, o)
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(d.Pid()) + "/cmdline")
			if !strings.Contains(string(cmdline), l.NearIf) {
				t.Fatalf("pid %d is not the daemon: %q", d.Pid(), cmdline)
			}
			if code := d.Stop(unix.SIGTERM, 5*time.Second); code != -1 {
				t.Errorf("Stop of a detached daemon = %d, want -1", code)
			}
			if pidFile {
				if _, err := os.Stat(o.PidFile); !os.IsNotExist(err) {
					t.Errorf("the pid file is still there: %v", err)
				}
			}
		})
	}
}

// TestDaemonCleanup checks that a daemon the test leaves running is gone
// once the test has ended.
func TestDaemonCleanup(t *testing.T) {
	var pid int
	t.Run("leave", func(t *testing.T) {
		l := labtest.New(t)
		if testing.Short() {
			t.Skip("builds the daemon; skipped with -short")
		}
		pid = labtest.Start(t, labtest.Options{Lab: l, DB: filepath.Join(t.TempDir(), "arpd.db"), Args: []string{l.NearIf}}).Pid()
	})
	if pid == 0 {
		return // skipped
	}
	if err := unix.Kill(pid, 0); err != unix.ESRCH {
		t.Fatalf("pid %d after its test ended: kill 0 = %v, want ESRCH", pid, err)
	}
}
