package rtnl_test

// A lab test (root) of receiving several datagrams in one system call.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// TestLabNetlinkBatch adds 20 neighbours in one burst and reads their
// notifications from a socket cut into 8 slots: one call takes 8 of them,
// and every notification comes whole and in order. A datagram larger
// than a slot, from another socket, is ErrTruncated and costs only
// itself: the datagram after it is read as it came.
func TestLabNetlinkBatch(t *testing.T) {
	l := labtest.New(t)
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	c := l.DialNetlink(unix.RTMGRP_NEIGH, 1<<20).Conn
	c.SetBatch(8)
	const hosts = 20
	var batch strings.Builder
	for i := 0; i < hosts; i++ {
		fmt.Fprintf(&batch, "neigh replace 10.77.0.%d lladdr 02:00:00:00:00:%02x nud stale dev %s\n", 20+i, i, l.NearIf)
	}
	f := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(f, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.IP(l.Near, "-batch", f)

	var got []byte
	for i := 0; i < 2*hosts; i++ {
		b, err := c.Recv()
		if i == 0 && (rtnl.Received(c) != 8 || c.Buffered() != 7) {
			t.Errorf("the first call received %d datagrams, %d left to return; want 8 and 7", rtnl.Received(c), c.Buffered())
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		var m rtnl.Msg
		var n rtnl.Neigh
		for it := rtnl.Messages(b); it.Next(&m); {
			if rtnl.DecodeNeigh(&m, &n) != nil || m.Type != unix.RTM_NEWNEIGH {
				t.Fatalf("recv %d: %+v is no neighbour", i, m)
			}
			got = append(got, n.Dst[3])
		}
	}
	var want []byte
	for i := 0; i < hosts; i++ {
		want = append(want, byte(20+i))
	}
	if string(got) != string(want) {
		t.Fatalf("notifications for 10.77.0.%v, want %v", got, want)
	}

	var other int
	if err := l.Do(l.Near, func() (err error) {
		other, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	to := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: c.Port()}
	for _, size := range []int{rtnl.RecvBufSize/8 + 1, 16} {
		if err := unix.Sendto(other, make([]byte, size), 0, to); err != nil {
			t.Fatalf("sendto our port: %v", err)
		}
	}
	for _, want := range []error{rtnl.ErrTruncated, rtnl.ErrForeign, unix.EAGAIN} {
		if _, err := c.Recv(); err != want {
			t.Errorf("Recv: %v, want %v", err, want)
		}
	}
}
