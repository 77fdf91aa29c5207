package main

// Lab tests of the daemon's life as a process: signals, kill -9 and
// restart, what survives a kill, and detaching.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestDaemonLabSignals: SIGHUP and SIGUSR1 leave the daemon running (and
// SIGUSR1 logs one line with every counter), and SIGTERM makes it exit 0
// with the sysctls exactly as they were before it started.
func TestDaemonLabSignals(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	p := d.startArpd(t, "-a", "1", "-k", "-p", "0.2", d.NearIf)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("adjusted sysctls %v, want [1 0]", got)
	}
	in := d.injector(d.Far, d.FarIf)

	p.Signal(unix.SIGHUP)
	in.send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x48, 1}, [4]byte{10, 77, 0, 48}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 48}), "02:00:00:00:48:01")
	p.RequireRunning("after SIGHUP")

	p.Signal(unix.SIGUSR1)
	var line string
	if !labtest.WaitFor(3*time.Second, func() bool {
		for _, l := range strings.Split(p.Output(), "\n") {
			if strings.HasPrefix(l, "arpd: statistics: ") {
				line = l
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no statistics line after SIGUSR1: %s", p.Output())
	}
	logged := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "arpd: statistics: ")) {
		if k, v, ok := strings.Cut(f, "="); ok {
			logged[k] = v
		}
	}
	for _, name := range counterNames {
		if _, ok := logged[name]; !ok {
			t.Errorf("the statistics line has no %s: %s", name, line)
		}
	}
	if logged["arp_new"] != "1" || logged["entries"] != "1" {
		t.Errorf("the statistics line does not count the one gratuitous ARP: %s", line)
	}
	in.send(garp(frame.ARPOpRequest, [6]byte{2, 0, 0, 0, 0x49, 1}, [4]byte{10, 77, 0, 49}))
	d.waitRow(3*time.Second, rowKey(d.NearIdx, [4]byte{10, 77, 0, 49}), "02:00:00:00:49:01")
	p.RequireRunning("after SIGUSR1")

	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls after SIGTERM %v, want the originals [2 5]", got)
	}
	if st := labtest.Stats(t, d.DB); st["arp_new"] != 2 {
		t.Errorf("saved arp_new = %d, want 2", st["arp_new"])
	}
}

// TestDaemonLabKillRestart: after kill -9 the adjusted sysctls stay, and a
// restarted daemon must not take them for the originals: its SIGTERM
// restores the values from before the first start. A restart that no
// longer names the interface restores them at once.
func TestDaemonLabKillRestart(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	args := []string{"-a", "1", "-k", d.NearIf}
	p := d.startArpd(t, args...)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("adjusted sysctls %v, want [1 0]", got)
	}
	p.Stop(unix.SIGKILL, 5*time.Second)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("after kill -9 the sysctls are %v; the test needs them left adjusted [1 0]", got)
	}

	p = d.startArpd(t, args...)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("restarted: sysctls %v, want [1 0]", got)
	}
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Fatalf("after kill -9, restart and SIGTERM: sysctls %v, want the originals [2 5]", got)
	}

	// Crash again, then start without naming the interface: the
	// leftovers are put back at startup.
	p = d.startArpd(t, args...)
	p.Stop(unix.SIGKILL, 5*time.Second)
	p = d.startArpd(t)
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("restart without the interface: sysctls %v, want the originals [2 5] back", got)
	}
	if code := p.Stop(unix.SIGINT, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGINT: %s", code, p.Output())
	}
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls at the end %v, want [2 5]", got)
	}
}

// TestDaemonLabKillKeepsLearned: what the daemon learned is in the file
// the moment it learned it: -l on the running daemon's file shows a frame
// seen an instant earlier, with no sync in between (-p 30), and kill -9
// loses none of it.
func TestDaemonLabKillKeepsLearned(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	p := d.startArpd(t, "-p", "30", d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	const n = 50
	ip := func(i int) [4]byte { return [4]byte{10, 77, 0, byte(100 + i)} }
	mac := func(i int) string { return fmt.Sprintf("02:00:00:00:4b:%02x", i) }
	for i := 0; i < n; i++ {
		in.send(garp(frame.ARPOpReply, [6]byte{2, 0, 0, 0, 0x4b, byte(i)}, ip(i)))
	}
	// The last frame shows up in a listing while the daemon runs.
	d.waitRow(3*time.Second, rowKey(d.NearIdx, ip(n-1)), mac(n-1))
	rows := listDBRows(t, d.DB)
	if code, out, _ := runArpd(t, "", "-s", "-b", d.DB); code != 0 || !strings.Contains(out, fmt.Sprintf("owner pid %d, running since", p.Pid())) {
		t.Errorf("arpd -s on the running daemon's file: exit %d, %q; want it to name pid %d as running", code, out, p.Pid())
	}
	p.Stop(unix.SIGKILL, 5*time.Second)

	after := listDBRows(t, d.DB)
	for i := 0; i < n; i++ {
		key := rowKey(d.NearIdx, ip(i))
		if rows[key].MAC != mac(i) {
			t.Errorf("while running: %s = %+v, want %s", key, rows[key], mac(i))
		}
		if after[key].MAC != mac(i) {
			t.Errorf("after kill -9: %s = %+v, want %s", key, after[key], mac(i))
		}
	}
	code, out, _ := runArpd(t, "", "-s", "-b", d.DB)
	if code != 0 || !strings.Contains(out, "not running") {
		t.Errorf("arpd -s after kill -9: exit %d, %q; want it to say the owner is not running", code, out)
	}
	// A new daemon takes the file over with everything in it.
	p = d.startArpd(t, d.NearIf)
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	final := listDBRows(t, d.DB)
	for i := 0; i < n; i++ {
		if key := rowKey(d.NearIdx, ip(i)); final[key].MAC != mac(i) {
			t.Errorf("after a restart: %s = %+v, want %s", key, final[key], mac(i))
		}
	}
}

// TestDaemonLabDetached: without -F the daemon detaches; the command
// returns once it is ready, the pid file names it, and SIGTERM makes it
// restore the sysctls, remove the pid file and exit. (labtest.Start fails
// the test unless the command exits 0 and the pid file holds a pid.)
func TestDaemonLabDetached(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	d.setNearSysctls(d.NearIf, 2, 5)
	pidFile := filepath.Join(t.TempDir(), "arpd.pid")
	p := labtest.Start(t, labtest.Options{Lab: d.Lab, DB: d.DB, PidFile: pidFile, Detach: true, Args: []string{d.NearIf}})
	if p.Exited() {
		t.Fatalf("the detached daemon (pid %d) is not running", p.Pid())
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/cmdline")
	if !bytes.Contains(cmdline, []byte(d.NearIf)) {
		t.Fatalf("pid %d is not the daemon: %q", p.Pid(), cmdline)
	}
	if got := d.nearSysctls(d.NearIf); got[0] != 1 {
		t.Errorf("app_solicit %d while the detached daemon runs, want 1", got[0])
	}
	p.Stop(syscall.SIGTERM, 5*time.Second)
	if got := d.nearSysctls(d.NearIf); got != [2]int{2, 5} {
		t.Errorf("sysctls after SIGTERM %v, want [2 5]", got)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file is still there: %v", err)
	}
}
