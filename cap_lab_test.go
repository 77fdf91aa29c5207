package main

// The daemon as the systemd unit and an unprivileged procd instance run
// it: a user that is not root, holding only CAP_NET_ADMIN and CAP_NET_RAW
// (as ambient capabilities, through setpriv), with its database in a
// directory of its own.

import (
	"fmt"
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

// capMask is CAP_NET_ADMIN (12) and CAP_NET_RAW (13) as a capability mask
// of /proc/PID/status.
const capMask = 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_RAW

// capDir makes a directory that labtest.NobodyUID can read (for the
// binary) and a database directory inside it that labtest.NobodyUID owns,
// both removed when t ends. t.TempDir would not do: its parent is private
// to root.
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
	if err := os.Chown(dbDir, labtest.NobodyUID, labtest.NobodyUID); err != nil {
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

// TestCapDaemonLab runs the built daemon in Near as nobody with only
// CAP_NET_ADMIN and CAP_NET_RAW, once plainly and once in a mount
// namespace where all of /proc/sys is read-only, as the systemd unit's
// ProtectKernelTunables=yes and a procd jail make it. Each time it must
// adjust the sysctls of the interface it serves (over rtnetlink), answer
// the kernel from its cache for a host that nothing else can resolve, and
// restore the sysctls on SIGTERM.
func TestCapDaemonLab(t *testing.T) {
	labtest.RequireRoot(t)
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
			// is private to the daemon. Every write to a neighbour sysctl
			// must fail (exit 97), or /proc/sys was not read-only at all:
			// the daemon sets them over rtnetlink.
			script := `set -e
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
for f in /proc/sys/net/ipv4/neigh/*/app_solicit /proc/sys/net/ipv6/neigh/*/app_solicit; do
	if (cat $f > $f) 2>/dev/null; then exit 97; fi
done
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

// capLab is the lab of one run of TestCapDaemonLab: a copy of the binary
// that NobodyUID can run, and the host 10.77.0.50 in Far, which answers no
// ARP, loaded into a database that NobodyUID owns.
type capLab struct {
	*labtest.Lab
	bin, db          string
	farMAC           string
	appKey, mcastKey string // the sysctls arpd adjusts, with originals 0 and 5
}

// newCapLab makes the lab of one run.
func newCapLab(t *testing.T) *capLab {
	t.Helper()
	l := &capLab{Lab: labtest.New(t)}
	dir, dbDir := capDir(t)
	// A copy the unprivileged user can reach, wherever $ARPD_BIN is.
	l.bin = filepath.Join(dir, "arpd")
	if b, err := os.ReadFile(labtest.Binary(t)); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(l.bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	l.db = filepath.Join(dbDir, "arpd.db")

	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
	l.IP(l.Far, "addr", "add", "10.77.0.50/24", "dev", l.FarIf)
	// Far answers no ARP at all, so only arpd's cache can resolve it.
	l.Sysctl(l.Far, "net/ipv4/conf/"+l.FarIf+"/arp_ignore", "8")
	// Originals that differ from what arpd sets and from the defaults,
	// so that restoring them proves something.
	l.appKey = "net/ipv4/neigh/" + l.NearIf + "/app_solicit"
	l.mcastKey = "net/ipv4/neigh/" + l.NearIf + "/mcast_solicit"
	l.Sysctl(l.Near, l.appKey, "0")
	l.Sysctl(l.Near, l.mcastKey, "5")

	farMAC := strings.TrimSpace(l.IP(l.Far, "-br", "link", "show", l.FarIf))
	if f := strings.Fields(farMAC); len(f) >= 3 {
		l.farMAC = f[2]
	} else {
		t.Fatalf("cannot read the MAC of %s: %q", l.FarIf, farMAC)
	}
	ifindex := l.Ifindex(l.Near, l.NearIf)

	// Load the host into the database as NobodyUID, which then owns it.
	argv := labtest.AsNobody([]string{l.bin, "-b", l.db, "-f", "-"})
	load := exec.Command(argv[0], argv[1:]...)
	load.Stdin = strings.NewReader(fmt.Sprintf("%d 10.77.0.50 %s\n", ifindex, l.farMAC))
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("arpd -f as uid %d: %v: %s", labtest.NobodyUID, err, out)
	}
	return l
}

// capCheckIdentity checks that process pid runs as NobodyUID with exactly
// CAP_NET_ADMIN and CAP_NET_RAW.
func capCheckIdentity(t *testing.T, pid int) {
	t.Helper()
	st, err := procStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	id := labtest.NobodyUID
	for field, want := range map[string]string{
		"Uid":    fmt.Sprintf("%d\t%d\t%d\t%d", id, id, id, id),
		"CapEff": fmt.Sprintf("%016x", capMask),
		"CapPrm": fmt.Sprintf("%016x", capMask),
		"CapBnd": fmt.Sprintf("%016x", capMask),
	} {
		if st[field] != want {
			t.Errorf("daemon %s: %q, want %q", field, st[field], want)
		}
	}
}

// capLabRun is one run of TestCapDaemonLab; wrap turns the daemon's
// command line into the one run inside Near.
func capLabRun(t *testing.T, wrap func([]string) []string) {
	l := newCapLab(t)
	appKey, mcastKey := l.appKey, l.mcastKey

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

	d := labtest.Start(t, labtest.Options{Lab: l.Lab, Bin: l.bin, DB: l.db, AsNobody: true, Wrap: wrap,
		Args: []string{"-a", "1", "-k", l.NearIf}})

	// Running as nobody with exactly the two capabilities.
	capCheckIdentity(t, d.Pid())

	// Adjusted: app_solicit = max(1, -a 1), mcast_solicit = 0 for -k.
	if !labtest.WaitFor(10*time.Second, func() bool {
		return l.ReadSysctl(l.Near, appKey) == 1 && l.ReadSysctl(l.Near, mcastKey) == 0
	}) {
		a, m := l.ReadSysctl(l.Near, appKey), l.ReadSysctl(l.Near, mcastKey)
		t.Fatalf("sysctls not adjusted: app_solicit %d, mcast_solicit %d; daemon said:\n%s", a, m, d.Output())
	}

	neigh := capCheckAnswered(t, l, rx, d)

	// SIGTERM: exit 0 with the originals back.
	if code := d.Stop(unix.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("daemon exit status %d after SIGTERM; it said:\n%s", code, d.Output())
	}
	a, m := l.ReadSysctl(l.Near, appKey), l.ReadSysctl(l.Near, mcastKey)
	if a != 0 || m != 5 {
		t.Fatalf("after SIGTERM app_solicit %d, mcast_solicit %d; want the originals 0 and 5", a, m)
	}
	t.Logf("neighbour from the cache: %s", strings.TrimSpace(neigh))
}

// capCheckAnswered sends a datagram from Near to 10.77.0.50, which only
// the daemon d's cache can resolve, and checks that the kernel got the
// cached address and that the receiver rx in Far got the datagram. It
// returns the kernel's entry.
func capCheckAnswered(t *testing.T, l *capLab, rx int, d *labtest.Daemon) string {
	t.Helper()
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
	if !labtest.WaitFor(10*time.Second, func() bool {
		neigh = l.IP(l.Near, "neigh", "show", "10.77.0.50", "dev", l.NearIf)
		return strings.Contains(neigh, "lladdr "+l.farMAC)
	}) {
		t.Fatalf("the kernel never got the cached address: %q; daemon said:\n%s", neigh, d.Output())
	}
	buf := make([]byte, 16)
	got := false
	labtest.WaitFor(5*time.Second, func() bool {
		n, _, err := unix.Recvfrom(rx, buf, unix.MSG_DONTWAIT)
		got = err == nil && string(buf[:n]) == "cap"
		return got
	})
	if !got {
		t.Fatalf("Far never received the datagram (neighbour %q)", neigh)
	}
	return neigh
}
