package rtnl_test

import (
	"encoding/binary"
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

// labExchange sends the request req on c and returns every message of the
// reply: up to NLMSG_DONE for a dump, up to the NLMSG_ERROR for a request
// with NLM_F_ACK. Each message's data is copied.
func labExchange(t *testing.T, c *rtnl.Conn, req []byte) []rtnl.Msg {
	t.Helper()
	if err := c.Send(req); err != nil {
		t.Fatal(err)
	}
	var msgs []rtnl.Msg
	for {
		b, err := recvWait(c)
		if err != nil {
			t.Fatal(err)
		}
		it := rtnl.Messages(b)
		var m rtnl.Msg
		for it.Next(&m) {
			m.Data = append([]byte(nil), m.Data...)
			msgs = append(msgs, m)
			if m.Type == unix.NLMSG_DONE || m.Type == unix.NLMSG_ERROR {
				return msgs
			}
		}
	}
}

// labAck sends the request req on c and returns the kernel's answer.
func labAck(t *testing.T, c *rtnl.Conn, req []byte) unix.Errno {
	t.Helper()
	msgs := labExchange(t, c, req)
	var e rtnl.ErrorMsg
	if err := rtnl.DecodeError(&msgs[len(msgs)-1], &e); err != nil {
		t.Fatalf("the answer: %v", err)
	}
	return e.Errno
}

// TestLabNeighParams sets a device's app and mcast probes in both tables
// with PutNeighParams from inside a network namespace, as the daemon does,
// and checks them where the sysctls show them (/proc/sys/net/ipv{4,6}/
// neigh/IF) and in the RTM_GETNEIGHTBL dump, which from a namespace other
// than the first holds each table's defaults (no index) and then only
// the namespace's own devices. A device the table does not know is
// refused with ENOENT. ARPD_CAPTURE=1 saves a table's and a device's
// messages and the acknowledgement as testdata.
func TestLabNeighParams(t *testing.T) {
	l := labtest.New(t)
	idx := int32(l.Ifindex(l.Near, l.NearIf))
	lo := int32(l.Ifindex(l.Near, "lo"))
	var c *rtnl.Conn
	if err := l.Do(l.Near, func() (err error) {
		c, err = rtnl.Dial(0, 1<<20)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req [rtnl.NeighParamsMsgMax]byte
	for _, tc := range []struct {
		table, proto string
		p            rtnl.NeighParams
		mcast        int // the mcast_solicit expected after
	}{
		{"arp_cache", "ipv4", rtnl.NeighParams{Ifindex: idx, AppProbes: 3, McastProbes: 0, SetMcast: true}, 0},
		{"ndisc_cache", "ipv6", rtnl.NeighParams{Ifindex: idx, AppProbes: 2}, 3},
	} {
		n, err := rtnl.PutNeighParams(req[:], c.NextSeq(), tc.table, &tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if e := labAck(t, c, req[:n]); e != 0 {
			t.Fatalf("%s: %v", tc.table, e)
		}
		key := "net/" + tc.proto + "/neigh/" + l.NearIf + "/"
		if a, m := l.ReadSysctl(l.Near, key+"app_solicit"), l.ReadSysctl(l.Near, key+"mcast_solicit"); a != int(tc.p.AppProbes) || m != tc.mcast {
			t.Errorf("%s after RTM_SETNEIGHTBL: app_solicit %d mcast_solicit %d, want %d %d", key, a, m, tc.p.AppProbes, tc.mcast)
		}
	}
	n, _ := rtnl.PutNeighParams(req[:], c.NextSeq(), "arp_cache", &rtnl.NeighParams{Ifindex: 9999, AppProbes: 1})
	if e := labAck(t, c, req[:n]); e != unix.ENOENT {
		t.Errorf("a device that is not there: %v, want ENOENT", e)
	}
	labCheckTableDump(t, c, idx, lo)
}

// labCheckTableDump dumps the AF_INET tables on c and checks what a
// network namespace other than the first sees: arp_cache's defaults,
// then exactly its devices idx and lo, idx with the probes
// TestLabNeighParams set.
func labCheckTableDump(t *testing.T, c *rtnl.Conn, idx, lo int32) {
	var dump [64]byte
	n, _ := rtnl.PutNeighTableDump(dump[:], c.NextSeq(), unix.AF_INET)
	devices := map[int32]rtnl.NeighTable{}
	defaults := 0
	for _, m := range labExchange(t, c, dump[:n]) {
		var tb rtnl.NeighTable
		if m.Type == unix.NLMSG_DONE {
			break
		}
		if err := rtnl.DecodeNeighTable(&m, &tb); err != nil {
			t.Fatalf("a table message: %v", err)
		}
		if string(tb.TableName()) != "arp_cache" || !tb.HasProbes {
			t.Errorf("%+v: want arp_cache with the probes", tb)
		}
		raw := append(make([]byte, 16), m.Data...)
		binary.NativeEndian.PutUint32(raw, uint32(len(raw)))
		binary.NativeEndian.PutUint16(raw[4:], m.Type)
		binary.NativeEndian.PutUint16(raw[6:], m.Flags)
		binary.NativeEndian.PutUint32(raw[8:], m.Seq)
		binary.NativeEndian.PutUint32(raw[12:], m.Pid)
		switch {
		case tb.Ifindex == 0:
			defaults++
			saveCapture(t, "newneightbl_table", "RTM_NEWNEIGHTBL of a dump of the AF_INET tables from a network namespace: arp_cache itself, its thresholds and its defaults (NDTA_PARMS without NDTPA_IFINDEX).", raw)
		default:
			devices[tb.Ifindex] = tb
			if tb.Ifindex == idx {
				saveCapture(t, "newneightbl_dev", "RTM_NEWNEIGHTBL of the same dump: arp_cache's parameters of one device of the namespace, after app_probes 3 and mcast_probes 0 were set.", raw)
			}
		}
	}
	if defaults != 1 || len(devices) != 2 {
		t.Fatalf("dump: %d defaults, devices %v; want 1, and %d and %d only", defaults, devices, idx, lo)
	}
	if d, ok := devices[idx]; !ok || d.AppProbes != 3 || d.McastProbes != 0 {
		t.Errorf("device %d in the dump: %+v, want app 3 mcast 0", idx, d)
	}
	if _, ok := devices[lo]; !ok {
		t.Errorf("lo (%d) not in the dump: %v", lo, devices)
	}
}
