package labtest

import (
	"bytes"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NobodyUID is the user Options.AsNobody runs the daemon as: nobody on
// Debian and OpenWrt.
const NobodyUID = 65534

// Options say how Start runs a daemon. The zero Options run the Binary in
// the foreground, in the test's own network namespace.
type Options struct {
	// Name names the daemon in failure messages; "" means "arpd".
	Name string
	// Bin is the program to run; "" means the Binary.
	Bin string
	// Lab, when set, runs the daemon inside the lab's Near namespace,
	// through "ip netns exec", which execs in place: the pid the Daemon
	// holds is the daemon's own.
	Lab *Lab
	// DB, when set, is passed as -b DB before Args; Daemon.Stats reads it.
	DB string
	// Args are the daemon's arguments, after -F (in the foreground), -b
	// DB and -P PidFile.
	Args []string
	// AsNobody runs the daemon as NobodyUID with only CAP_NET_ADMIN and
	// CAP_NET_RAW, as ambient capabilities (see AsNobody).
	AsNobody bool
	// Wrap, when set, turns the daemon's command line (after AsNobody)
	// into the one to run, for example in a mount namespace of its own.
	// The wrapper must exec the daemon in place, keeping its pid.
	Wrap func(argv []string) []string
	// Detach says that the daemon detaches, as arpd does without -F and
	// iproute2's arpd always does. Start then runs its command to its
	// end, which must exit 0 within 10 s, and finds the daemon's pid in
	// PidFile, or, when PidFile is "", among the Lab's processes by the
	// program they run.
	Detach bool
	// PidFile, when set, is passed as -P PidFile after -b DB; a detached
	// daemon's pid is read from it.
	PidFile string
	// Direct starts the daemon in the Lab's Near namespace from a thread
	// of the test that is in it, rather than through "ip netns exec",
	// which costs 12 to 17 ms on this machine (it also makes a mount
	// namespace with the namespace's /sys, which arpd does not read): a
	// startup measured then is the daemon's own.
	Direct bool
	// ReadyIf, when set, names an interface in the Lab's Near namespace:
	// the daemon is ready once that interface's app_solicit is not 0,
	// which both arpd and iproute2's arpd set once they have loaded the
	// kernel's table. Without it a foreground daemon is ready once it has
	// logged "arpd: ready:", and a detached one once its command has
	// ended.
	ReadyIf string
}

// Daemon is a daemon started by Start as a separate process. It is
// stopped, if it still runs, when the test ends.
type Daemon struct {
	t       testing.TB
	o       Options
	bin     string
	pid     int
	cmd     *exec.Cmd // the foreground daemon; nil for a detached one
	out     lockedBuffer
	done    chan struct{} // closed once the daemon has ended
	quit    chan struct{} // closed by Close: stops watching a detached daemon
	once    sync.Once
	started time.Time     // just before it was started
	startup time.Duration // from started until it was ready
}

// Start starts the daemon o describes, waits until it is ready (10 s at
// most) and registers Close with t.Cleanup. It fails t if the daemon does
// not start or does not become ready.
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	if o.Name == "" {
		o.Name = "arpd"
	}
	d := &Daemon{t: t, o: o, bin: o.Bin, done: make(chan struct{}), quit: make(chan struct{})}
	if d.bin == "" {
		d.bin = Binary(t)
	}
	if (o.ReadyIf != "" || (o.Detach && o.PidFile == "")) && o.Lab == nil {
		t.Fatalf("labtest.Start: %s needs a Lab for ReadyIf or to find a detached daemon without a pid file", o.Name)
	}
	argv := d.argv()
	if o.Detach {
		d.startDetached(argv)
	} else {
		d.startForeground(argv)
	}
	d.waitReady()
	return d
}

// argv returns the command line that runs the daemon.
func (d *Daemon) argv() []string {
	argv := []string{d.bin}
	if !d.o.Detach {
		argv = append(argv, "-F")
	}
	if d.o.DB != "" {
		argv = append(argv, "-b", d.o.DB)
	}
	if d.o.PidFile != "" {
		argv = append(argv, "-P", d.o.PidFile)
	}
	argv = append(argv, d.o.Args...)
	if d.o.AsNobody {
		argv = AsNobody(argv)
	}
	if d.o.Wrap != nil {
		argv = d.o.Wrap(argv)
	}
	if d.o.Lab != nil && !d.o.Direct {
		argv = append([]string{"ip", "netns", "exec", d.o.Lab.Near}, argv...)
	}
	return argv
}

// AsNobody returns argv run through setpriv as NobodyUID, with no groups
// and only CAP_NET_ADMIN and CAP_NET_RAW, effective through the ambient
// set, as the systemd unit and an unprivileged procd instance run arpd.
// setpriv execs argv in place.
func AsNobody(argv []string) []string {
	id := strconv.Itoa(NobodyUID)
	return append([]string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups",
		"--inh-caps=-all,+net_admin,+net_raw", "--ambient-caps=-all,+net_admin,+net_raw",
		"--bounding-set=-all,+net_admin,+net_raw", "--"}, argv...)
}

// command returns the command for argv, in a process group of its own: a
// Ctrl-C reaches the test alone, which then stops the daemon itself, in
// order.
func (d *Daemon) command(argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &d.out, &d.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Name returns the daemon's name in messages (Options.Name).
func (d *Daemon) Name() string { return d.o.Name }

// Pid returns the daemon's process id.
func (d *Daemon) Pid() int { return d.pid }

// Output returns what the daemon (or, for a detached one, its command)
// has written to stdout and stderr so far.
func (d *Daemon) Output() string { return d.out.String() }

// Startup returns how long the daemon took from its start until it was
// ready, as far as Start could see.
func (d *Daemon) Startup() time.Duration { return d.startup }

// Exited reports whether the daemon has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// RequireRunning fails the test if the daemon has ended; what says when.
func (d *Daemon) RequireRunning(what string) {
	d.t.Helper()
	if d.Exited() {
		d.t.Fatalf("%s exited %s (status %d): %s", d.o.Name, what, d.exitCode(), d.Output())
	}
}

// Signal sends sig to the daemon, by its pid. It fails the test if the
// daemon has ended.
func (d *Daemon) Signal(sig syscall.Signal) {
	d.t.Helper()
	if d.Exited() {
		d.t.Fatalf("%s (pid %d) has exited, so cannot take signal %d: %s", d.o.Name, d.pid, sig, d.Output())
	}
	if err := unix.Kill(d.pid, sig); err != nil {
		d.t.Fatalf("kill -%d %d: %v", sig, d.pid, err)
	}
}

// Stop sends sig, waits at most limit for the daemon to end and returns
// its exit status: -1 for a death by signal, and for a detached daemon,
// whose status only its parent sees. It fails the test if the daemon is
// still running after limit.
func (d *Daemon) Stop(sig syscall.Signal, limit time.Duration) int {
	d.t.Helper()
	d.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(limit):
		d.t.Fatalf("%s did not exit within %v of signal %d: %s", d.o.Name, limit, sig, d.Output())
	}
	return d.exitCode()
}

// exitCode returns the exit status of an ended daemon, as Stop does.
func (d *Daemon) exitCode() int {
	if d.cmd == nil || d.cmd.ProcessState == nil {
		return -1
	}
	return d.cmd.ProcessState.ExitCode()
}

// Stats returns the counters in the daemon's database (Options.DB), as
// the package function Stats reads them.
func (d *Daemon) Stats() map[string]uint64 {
	d.t.Helper()
	if d.o.DB == "" {
		d.t.Fatalf("%s: Stats needs Options.DB", d.o.Name)
	}
	return Stats(d.t, d.o.DB)
}

// Close ends the daemon if it still runs: SIGTERM, then SIGKILL if it has
// not ended within 5 s, then 5 s more at most, each by pid. Start
// registers it with t.Cleanup; a test may call it earlier, as often as it
// likes.
func (d *Daemon) Close() {
	d.once.Do(func() {
		defer close(d.quit)
		if d.Exited() {
			return
		}
		unix.Kill(d.pid, unix.SIGTERM)
		select {
		case <-d.done:
			return
		case <-time.After(5 * time.Second):
		}
		d.t.Logf("%s (pid %d) ignored SIGTERM for 5 s: killing it", d.o.Name, d.pid)
		unix.Kill(d.pid, unix.SIGKILL)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			d.t.Errorf("%s (pid %d) still runs after SIGKILL", d.o.Name, d.pid)
		}
	})
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
