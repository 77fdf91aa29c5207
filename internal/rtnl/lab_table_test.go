package rtnl_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// TestLabNeighTableDump dumps the AF_INET neighbour tables from inside a
// network namespace, where /proc/sys/net/ipv4/neigh/default is not there,
// and finds arp_cache's gc_thresh3 equal to the global one.
func TestLabNeighTableDump(t *testing.T) {
	l := labtest.New(t)
	if !labtest.ShareGlobals(t, 60*time.Second, nil) {
		t.Skip("another test holds the global settings lock")
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	var c *rtnl.Conn
	if err := l.Do(l.Near, func() (err error) {
		c, err = rtnl.Dial(0, 1<<20)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req [64]byte
	n, _ := rtnl.PutNeighTableDump(req[:], 1, unix.AF_INET)
	if err := c.Send(req[:n]); err != nil {
		t.Fatal(err)
	}
	found := -1
	for done := false; !done; {
		b, err := recvWait(c)
		if err != nil {
			t.Fatal(err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		for it.Next(&m) {
			var tb rtnl.NeighTable
			switch {
			case m.Type == unix.NLMSG_DONE:
				done = true
			case rtnl.DecodeNeighTable(&m, &tb) == nil && tb.HasThresh3 && strings.HasPrefix(string(tb.Name[:]), "arp_cache\x00"):
				found = int(tb.Thresh3)
			}
		}
	}
	if found != want {
		t.Errorf("arp_cache gc_thresh3 %d from the dump, %d in /proc", found, want)
	}
}

// recvWait reads one datagram from c, waiting up to 5 s.
func recvWait(c *rtnl.Conn) ([]byte, error) {
	fds := []unix.PollFd{{Fd: int32(c.Fd()), Events: unix.POLLIN}}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := c.Recv()
		if err != unix.EAGAIN {
			return b, err
		}
		unix.Poll(fds, 100)
	}
	return nil, unix.ETIMEDOUT
}
