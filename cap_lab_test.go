package main

// The daemon as the systemd unit and an unprivileged procd instance run
// it: a user that is not root, holding only CAP_NET_ADMIN and CAP_NET_RAW
// (as ambient capabilities, through setpriv), with its database in a
// directory of its own.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// capUID is the user the daemon runs as: nobody on Debian and OpenWrt.
const capUID = 65534

// capMask is CAP_NET_ADMIN (12) and CAP_NET_RAW (13) as a capability mask
// of /proc/PID/status.
const capMask = 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_RAW

// capSetpriv is the setpriv command line that drops to capUID with only
// CAP_NET_ADMIN and CAP_NET_RAW, effective through the ambient set.
func capSetpriv() []string {
	id := strconv.Itoa(capUID)
	return []string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups",
		"--inh-caps=-all,+net_admin,+net_raw", "--ambient-caps=-all,+net_admin,+net_raw",
		"--bounding-set=-all,+net_admin,+net_raw", "--"}
}

// capDir makes a directory that capUID can read (for the binary) and a
// database directory inside it that capUID owns, both removed when t ends.
// t.TempDir would not do: its parent is private to root.
func capDir(t *testing.T) (dir, dbDir string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "arpd-cap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dbDir = filepath.Join(dir, "db")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dbDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dbDir, capUID, capUID); err != nil {
		t.Fatal(err)
	}
	return dir, dbDir
}

// procStatus returns the fields of /proc/PID/status.
func procStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// readLabSysctl reads an integer sysctl inside namespace ns.
func readLabSysctl(l *lab, ns, key string) (int, error) {
	var v int
	err := l.Do(ns, func() error {
		b, err := os.ReadFile("/proc/sys/" + key)
		if err != nil {
			return err
		}
		v, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return v, err
}

// capLabDaemon is the daemon running in the lab as capUID.
type capLabDaemon struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	// exited is closed once the process has been waited for; err is
	// then its exit error.
	exited chan struct{}
	err    error
}

// log returns what the daemon wrote to stderr so far.
func (d *capLabDaemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// TestCapDaemonLab runs the built daemon in Near as nobody with only
// CAP_NET_ADMIN and CAP_NET_RAW, once plainly and once in a mount
// namespace where /proc/sys is read-only but for /proc/sys/net/ipv4/neigh,
// as the systemd unit's ProtectKernelTunables=yes with ReadWritePaths=
// arranges it. Each time it must adjust the sysctls of the interface it
// serves, answer the kernel from its cache for a host that nothing else
// can resolve, and restore the sysctls on SIGTERM.
func TestCapDaemonLab(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("lab test skipped: setpriv (util-linux) is not installed")
	}
	for _, tc := range []struct {
		name string
		wrap func(argv []string) []string
	}{
		{"plain", func(argv []string) []string { return argv }},
		{"read-only-proc-sys", func(argv []string) []string {
			// ip netns exec has made a mount namespace already; this one
			// is private to the daemon. The write to forwarding must fail
			// (exit 97), or /proc/sys was not read-only at all.
			script := `set -e
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net/ipv4/neigh /proc/sys/net/ipv4/neigh
mount -o remount,bind,rw /proc/sys/net/ipv4/neigh
if (echo 0 > /proc/sys/net/ipv4/conf/all/forwarding) 2>/dev/null; then exit 97; fi
exec "$@"`
			return append([]string{"unshare", "--mount", "--", "sh", "-c", script, "sh"}, argv...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "plain" {
				if _, err := exec.LookPath("unshare"); err != nil {
					t.Skip("lab test skipped: unshare (util-linux) is not installed")
				}
			}
			capLabRun(t, tc.wrap)
		})
	}
}

// capLabRun is one run of TestCapDaemonLab; wrap turns the daemon's
// command line into the one run inside Near.
func capLabRun(t *testing.T, wrap func([]string) []string) {
	l := newLab(t)
	dir, dbDir := capDir(t)
	bin := buildArpd(t, dir, "captest")
	db := filepath.Join(dbDir, "arpd.db")

	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
	l.IP(l.Far, "addr", "add", "10.77.0.50/24", "dev", l.FarIf)
	// Far answers no ARP at all, so only arpd's cache can resolve it.
	l.Sysctl(l.Far, "net/ipv4/conf/"+l.FarIf+"/arp_ignore", "8")
	// Originals that differ from what arpd sets and from the defaults,
	// so that restoring them proves something.
	appKey := "net/ipv4/neigh/" + l.NearIf + "/app_solicit"
	mcastKey := "net/ipv4/neigh/" + l.NearIf + "/mcast_solicit"
	l.Sysctl(l.Near, appKey, "0")
	l.Sysctl(l.Near, mcastKey, "5")

	farMAC := strings.TrimSpace(l.IP(l.Far, "-br", "link", "show", l.FarIf))
	if f := strings.Fields(farMAC); len(f) >= 3 {
		farMAC = f[2]
	} else {
		t.Fatalf("cannot read the MAC of %s: %q", l.FarIf, farMAC)
	}
	ifindex := l.Ifindex(l.Near, l.NearIf)

	// Load the host into the database as capUID, which then owns it.
	load := exec.Command(capSetpriv()[0], append(capSetpriv()[1:], bin, "-b", db, "-f", "-")...)
	load.Stdin = strings.NewReader(fmt.Sprintf("%d 10.77.0.50 %s\n", ifindex, farMAC))
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("arpd -f as uid %d: %v: %s", capUID, err, out)
	}

	// The receiver in Far.
	var rx int
	if err := l.Do(l.Far, func() (err error) {
		rx, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Bind(rx, &unix.SockaddrInet4{Port: 7777, Addr: [4]byte{10, 77, 0, 50}})
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rx)

	argv := wrap(append(capSetpriv(), bin, "-F", "-a", "1", "-k", "-b", db, l.NearIf))
	d := capStart(t, l, argv)

	// Running as nobody with exactly the two capabilities.
	st, err := procStatus(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"Uid":    fmt.Sprintf("%d\t%d\t%d\t%d", capUID, capUID, capUID, capUID),
		"CapEff": fmt.Sprintf("%016x", capMask),
		"CapPrm": fmt.Sprintf("%016x", capMask),
		"CapBnd": fmt.Sprintf("%016x", capMask),
	} {
		if st[field] != want {
			t.Errorf("daemon %s: %q, want %q", field, st[field], want)
		}
	}

	// Adjusted: app_solicit = max(1, -a 1), mcast_solicit = 0 for -k.
	if !waitFor(10*time.Second, func() bool {
		a, err1 := readLabSysctl(l, l.Near, appKey)
		m, err2 := readLabSysctl(l, l.Near, mcastKey)
		return err1 == nil && err2 == nil && a == 1 && m == 0
	}) {
		a, _ := readLabSysctl(l, l.Near, appKey)
		m, _ := readLabSysctl(l, l.Near, mcastKey)
		t.Fatalf("sysctls not adjusted: app_solicit %d, mcast_solicit %d; daemon said:\n%s", a, m, d.log())
	}

	// The kernel asks arpd, arpd answers from the cache, the datagram
	// leaves at once and Far receives it.
	if err := l.Do(l.Near, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, []byte("cap"), unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: 7777, Addr: [4]byte{10, 77, 0, 50}})
	}); err != nil {
		t.Fatal(err)
	}
	var neigh string
	if !waitFor(10*time.Second, func() bool {
		neigh = l.IP(l.Near, "neigh", "show", "10.77.0.50", "dev", l.NearIf)
		return strings.Contains(neigh, "lladdr "+farMAC)
	}) {
		t.Fatalf("the kernel never got the cached address: %q; daemon said:\n%s", neigh, d.log())
	}
	buf := make([]byte, 16)
	got := false
	waitFor(5*time.Second, func() bool {
		n, _, err := unix.Recvfrom(rx, buf, unix.MSG_DONTWAIT)
		got = err == nil && string(buf[:n]) == "cap"
		return got
	})
	if !got {
		t.Fatalf("Far never received the datagram (neighbour %q)", neigh)
	}

	// SIGTERM: exit 0 with the originals back.
	if err := d.cmd.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
		if d.err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v; it said:\n%s", d.err, d.log())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon still running 10 s after SIGTERM; it said:\n%s", d.log())
	}
	a, err1 := readLabSysctl(l, l.Near, appKey)
	m, err2 := readLabSysctl(l, l.Near, mcastKey)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if a != 0 || m != 5 {
		t.Fatalf("after SIGTERM app_solicit %d, mcast_solicit %d; want the originals 0 and 5", a, m)
	}
	t.Logf("neighbour from the cache: %s", strings.TrimSpace(neigh))
}

// capStart starts argv inside Near and returns once the daemon process is
// running; it is killed, if still running, when t ends.
func capStart(t *testing.T, l *lab, argv []string) *capLabDaemon {
	t.Helper()
	d := &capLabDaemon{exited: make(chan struct{})}
	// ip netns exec and setpriv exec in place, so the pid is the daemon's
	// once it has started.
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", l.Near}, argv...)...)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			d.mu.Lock()
			d.stderr.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	go func() {
		<-copied
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	// Wait until the exec chain has reached the daemon.
	if !waitFor(10*time.Second, func() bool {
		st, err := procStatus(d.cmd.Process.Pid)
		return err == nil && st["Name"] == "arpd"
	}) {
		t.Fatalf("the daemon never started; it said:\n%s", d.log())
	}
	return d
}
