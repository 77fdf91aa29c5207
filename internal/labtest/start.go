package labtest

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startForeground starts argv and has the daemon's end close d.done.
func (d *Daemon) startForeground(argv []string) {
	d.t.Helper()
	d.cmd = d.command(argv)
	if err := d.run(d.cmd.Start); err != nil {
		d.t.Fatalf("start %s: %v", d.o.Name, err)
	}
	d.pid = d.cmd.Process.Pid
	go func() { d.cmd.Wait(); close(d.done) }()
	d.t.Cleanup(d.Close)
}

// run sets d.started and calls start, which starts the daemon's command:
// for a Direct daemon, from a thread in the Lab's Near namespace, whose
// network namespace the child inherits.
func (d *Daemon) run(start func() error) error {
	if !d.o.Direct || d.o.Lab == nil {
		d.started = time.Now()
		return start()
	}
	return d.o.Lab.Do(d.o.Lab.Near, func() error {
		d.started = time.Now()
		return start()
	})
}

// startDetached runs argv to its end, finds the daemon it left running
// and watches for that daemon's end, which closes d.done.
func (d *Daemon) startDetached(argv []string) {
	d.t.Helper()
	var before []int
	if d.o.PidFile == "" {
		before = netnsPids(d.t, d.o.Lab.Near)
	}
	cmd := d.command(argv)
	if err := d.run(cmd.Start); err != nil {
		d.t.Fatalf("start %s: %v", d.o.Name, err)
	}
	ended := make(chan struct{})
	go func() { cmd.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-ended
		d.t.Fatalf("%s %s did not detach within 10 s: %s", d.o.Name, strings.Join(d.o.Args, " "), d.Output())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		d.t.Fatalf("%s detaching: exit %d: %s", d.o.Name, code, d.Output())
	}
	if d.o.PidFile != "" {
		d.pid = d.readPidFile()
	} else {
		d.pid = d.findPid(before)
	}
	go func() {
		// Not our child: poll for its end until Close gives up on it.
		for !gone(d.pid) {
			select {
			case <-d.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		close(d.done)
	}()
	d.t.Cleanup(d.Close)
	if gone(d.pid) {
		d.t.Fatalf("the detached %s (pid %d) is not running: %s", d.o.Name, d.pid, d.Output())
	}
}

// readPidFile returns the pid in Options.PidFile.
func (d *Daemon) readPidFile() int {
	d.t.Helper()
	b, err := os.ReadFile(d.o.PidFile)
	if err != nil {
		d.t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		d.t.Fatalf("pid file holds %q", b)
	}
	return pid
}

// findPid returns the process in the Lab's Near namespace, not among
// before, that runs the daemon's program; it waits for it 5 s at most.
func (d *Daemon) findPid(before []int) int {
	d.t.Helper()
	pid := 0
	if !WaitFor(5*time.Second, func() bool {
		for _, p := range netnsPids(d.t, d.o.Lab.Near) {
			if slices.Contains(before, p) {
				continue
			}
			if exe, err := os.Readlink("/proc/" + strconv.Itoa(p) + "/exe"); err == nil && exe == d.bin {
				pid = p
				return true
			}
		}
		return false
	}) {
		d.t.Fatalf("%s started but no process of it is in %s", d.bin, d.o.Lab.Near)
	}
	return pid
}

// netnsPids lists the processes in namespace ns.
func netnsPids(t testing.TB, ns string) []int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// gone reports whether process pid has ended. A zombie, which waits for
// its new parent to reap it, has.
func gone(pid int) bool {
	s, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// NB: the command name (field 2) is in parentheses and may hold
	// spaces; the state (field 3) follows the last ')'.
	f := bytes.Fields(s[bytes.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && string(f[0]) == "Z"
}

// waitReady waits, 10 s from the start at most, until the daemon is ready
// as Options.ReadyIf says, and records how long that took.
func (d *Daemon) waitReady() {
	d.t.Helper()
	if d.o.ReadyIf != "" {
		d.waitAppSolicit()
		return
	}
	if d.o.Detach {
		d.startup = time.Since(d.started)
		return
	}
	if !WaitFor(10*time.Second, func() bool { return d.Exited() || strings.Contains(d.Output(), "arpd: ready:") }) || d.Exited() {
		d.t.Fatalf("%s %s did not become ready (exited: %v): %s", d.o.Name, strings.Join(d.o.Args, " "), d.Exited(), d.Output())
	}
	d.startup = time.Since(d.started)
}

// waitAppSolicit waits until app_solicit of ReadyIf in the Lab's Near
// namespace is not 0. It reads the sysctl every millisecond, so Startup
// is measured to about that.
func (d *Daemon) waitAppSolicit() {
	d.t.Helper()
	key := "/proc/sys/net/ipv4/neigh/" + d.o.ReadyIf + "/app_solicit"
	var ready bool
	// NB: one thread in the namespace for the whole wait, instead of a
	// setns per read.
	if err := d.o.Lab.Do(d.o.Lab.Near, func() error {
		deadline := d.started.Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if d.Exited() {
				return nil
			}
			v, err := os.ReadFile(key)
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(v)) != "0" {
				d.startup, ready = time.Since(d.started), true
				return nil
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}); err != nil {
		d.t.Fatalf("%s: reading %s: %v", d.o.Name, key, err)
	}
	if d.Exited() {
		d.t.Fatalf("%s exited at startup; its output: %s", d.o.Name, d.Output())
	}
	if !ready {
		d.t.Fatalf("%s did not set %s within 10 s; its output: %s", d.o.Name, key, d.Output())
	}
}
