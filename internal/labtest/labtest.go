// Package labtest is the lab the tests of arpd run in: two network
// namespaces joined by a veth pair, made by a test and always deleted
// when it ends (Lab); the arpd binary, built once per test binary or
// taken from $ARPD_BIN (Binary); the daemon started from it as a
// separate process and always stopped (Daemon); the lock that tests
// which change a global kernel setting hold around the change
// (LockGlobals, ShareGlobals); and what the tests of the daemon and of
// the packages share to look at the wire and at rtnetlink in a lab: fixed
// addresses (Lab.Address), packet sockets and the ARP frames they read
// (Lab.OpenPacket, WaitFrame, DecodeARP), an rtnetlink socket and the
// messages it reads (Lab.DialNetlink, NewNeighLab, Netlink.Await), and the
// messages captured as testdata (SaveCapture, ReadNetlinkHex).
//
// Only tests import this package; the daemon never does. Every test that
// needs root skips, saying why, when it does not run as root or when
// ARPD_NO_LAB is set (RequireRoot). Every wait is bounded (WaitFor).
package labtest

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequireRoot skips t, saying why, unless the test can make network
// namespaces: it needs root and the ip command, and ARPD_NO_LAB unset.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab test skipped: needs root to make network namespaces (run make test as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("lab test skipped: the ip command (iproute2) is not installed")
	}
	if os.Getenv("ARPD_NO_LAB") != "" {
		t.Skip("lab test skipped: ARPD_NO_LAB is set (for example under qemu-user, which has no rtnetlink neighbour support)")
	}
}

// WaitFor polls cond every 10 ms until it holds or limit passes, and says
// whether it held. Every wait in the lab is bounded this way.
func WaitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SendUDP sends one empty datagram to port 9 (discard) of dst from the
// calling thread's namespace; call it inside Lab.Do.
func SendUDP(dst [4]byte) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Sendto(fd, nil, unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: 9, Addr: dst})
}
