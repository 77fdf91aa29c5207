package labtest

// The IPv6 counterpart of NewNeighLab: a lab whose near kernel asks user
// space about its IPv6 neighbours, for the tests that pin the kernel's
// side of IPv6 neighbour discovery.

import (
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NewNeighLab6 makes a lab where the near kernel asks user space about
// its IPv6 neighbours: the MACs NeighNearMAC and NeighFarMAC, the
// addresses of Address6 (fd77::1/64 near, fd77::2/64 far, nodad), and on
// the near side app_solicit=app, mcast_solicit=mcast and, to keep
// failures quick, retrans_time_ms=200. Its socket listens to the
// neighbour and link groups with a 4 MiB buffer. It skips t as New does.
//
// NB: it holds the global-settings lock shared while t runs. The kernel
// has one ndisc table for all namespaces; while it is full (gc_thresh3,
// which a test elsewhere may lower under the exclusive lock) the kernel
// can make no neighbour entry, not even the one a multicast solicitation
// needs: sendto(2) fails with EINVAL and nothing goes on the wire.
func NewNeighLab6(t testing.TB, app, mcast int) *Netlink {
	t.Helper()
	RequireRoot(t)
	if !ShareGlobals(t, 5*time.Minute, nil) {
		t.Fatalf("another test held the global settings (%s) for 5 minutes", GlobalsLockPath)
	}
	l := New(t)
	l.IP(l.Near, "link", "set", l.NearIf, "address", MACString(NeighNearMAC))
	l.IP(l.Far, "link", "set", l.FarIf, "address", MACString(NeighFarMAC))
	l.Address6()
	l.Sysctl(l.Near, Neigh6Key(l.NearIf, "app_solicit"), strconv.Itoa(app))
	l.Sysctl(l.Near, Neigh6Key(l.NearIf, "mcast_solicit"), strconv.Itoa(mcast))
	l.Sysctl(l.Near, Neigh6Key(l.NearIf, "retrans_time_ms"), "200")
	return l.DialNetlink(unix.RTMGRP_NEIGH|unix.RTMGRP_LINK, 4<<20)
}

// SendUDP6Src sends one datagram with payload from [src]:0 to [dst]:port
// in namespace ns; src must be an address of ns. A kernel that has to
// resolve dst solicits it from src, so a test chooses the solicitation's
// source this way. It fails the test if the datagram cannot be sent.
func (l *Lab) SendUDP6Src(ns string, src, dst [16]byte, port int, payload []byte) {
	l.t.Helper()
	if err := l.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: src}); err != nil {
			return err
		}
		return unix.Sendto(fd, payload, unix.MSG_DONTWAIT, &unix.SockaddrInet6{Port: port, Addr: dst})
	}); err != nil {
		l.t.Fatalf("send UDP from [%s] to [%s]:%d in %s: %v", IP6String(src), IP6String(dst), port, ns, err)
	}
}
