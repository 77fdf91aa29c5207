package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// overflowDaemon is a daemon run in this process inside a lab, serving the
// lab's near interface with a 4 KB netlink receive buffer, so that a burst
// of notifications overflows it while its loop is not reading. It is not
// labtest.Daemon, which runs the binary: the test sets netlinkRcvBuf and
// reads the daemon's counters in memory, which only this package can.
type overflowDaemon struct {
	*daemon
	l       *labtest.Lab
	db      string
	started bool
	stopped bool
	done    chan struct{}
}

// newOverflowDaemon starts the daemon (but not its loop) in l with addr on
// the near interface, and registers its stop and shutdown with t.Cleanup.
func newOverflowDaemon(t *testing.T, l *labtest.Lab, addr string) *overflowDaemon {
	t.Helper()
	return newLabDaemon(t, l, addr, 4096)
}

// newLabDaemon is newOverflowDaemon with a netlink receive buffer of
// rcvbuf bytes (0: the daemon's default).
func newLabDaemon(t *testing.T, l *labtest.Lab, addr string, rcvbuf int) *overflowDaemon {
	t.Helper()
	l.IP(l.Near, "addr", "add", addr, "dev", l.NearIf)
	old := netlinkRcvBuf
	netlinkRcvBuf = rcvbuf
	defer func() { netlinkRcvBuf = old }()

	od := &overflowDaemon{l: l, db: filepath.Join(t.TempDir(), "arpd.db"), done: make(chan struct{})}
	o := &options{db: od.db, negTimeout: 60, syncEvery: 30 * time.Second, rate: 1, burst: 3, interfaces: []string{l.NearIf}}
	if err := l.Do(l.Near, func() (err error) {
		od.daemon, err = newDaemon(o, newLogger("", nil))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		od.stop()
		l.Do(l.Near, od.shutdown)
	})
	return od
}

// start runs the loop on a thread inside the lab, as the daemon would run:
// it writes sysctls through /proc/sys, which shows the namespace of the
// thread that opens it.
func (od *overflowDaemon) start() {
	od.started = true
	go func() {
		od.l.Do(od.l.Near, func() error { od.loop(); return nil })
		close(od.done)
	}()
}

// stop asks the loop to return and waits until it has; it is idempotent.
func (od *overflowDaemon) stop() {
	if !od.started || od.stopped {
		return
	}
	od.stopped = true
	od.signals.Or(sigExit)
	unix.Write(od.wakeFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-od.done
}

// addNeighbours adds n permanent neighbours 10.<net>.x.y on the near
// interface in one ip -batch, the i-th with MAC 02:00:00:00:i>>8:i&0xff.
func addNeighbours(t *testing.T, l *labtest.Lab, net byte, n int) {
	t.Helper()
	var batch strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&batch, "neigh add 10.%d.%d.%d lladdr 02:00:00:00:%02x:%02x dev %s nud permanent\n", net, 1+i/250, 1+i%250, i>>8, i&0xff, l.NearIf)
	}
	if out, err := l.ExecStdin(l.Near, batch.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
}

// TestDaemonOverflowRedumps checks SPEC §2 defect 4: when the netlink
// receive queue overflows (ENOBUFS) the daemon dumps the kernel's table
// again, so nothing the kernel knew is silently lost. 1,000 neighbours
// are added while the daemon's loop is not reading.
func TestDaemonOverflowRedumps(t *testing.T) {
	l := labtest.New(t)
	d := newOverflowDaemon(t, l, "10.91.0.1/16")
	const n = 1000 // below gc_thresh3: no global setting changes
	addNeighbours(t, l, 91, n)
	d.start()

	// Watch the file from a reader of its own while the daemon works.
	r, err := cache.OpenReadOnly(d.db)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ifindex := uint32(l.Ifindex(l.Near, l.NearIf))
	missing := func() int {
		m := 0
		for i := 0; i < n; i++ {
			k := cache.KeyV4(ifindex, [4]byte{10, 91, byte(1 + i/250), byte(1 + i%250)})
			if e, ok := r.Lookup(&k); !ok || e.LLAddr[4] != byte(i>>8) || e.LLAddr[5] != byte(i&0xff) {
				m++
			}
		}
		return m
	}
	if !labtest.WaitFor(15*time.Second, func() bool { return missing() == 0 }) {
		t.Fatalf("%d of %d neighbours never reached the cache", missing(), n)
	}
	d.stop()
	if d.c.Counter(ctrNlOverruns) == 0 {
		t.Fatal("the tiny receive buffer never overflowed: the test proved nothing")
	}
	if d.c.Counter(ctrRedumps) == 0 {
		t.Fatal("overruns were counted but no dump followed")
	}
	t.Logf("overruns %d, dumps %d", d.c.Counter(ctrNlOverruns), d.c.Counter(ctrRedumps))
}

// TestDaemonOverflowFindsNewLink checks that the dump after a netlink
// overflow covers links too: the served interface is deleted and made
// again (a new index) while the daemon's receive queue is overflowing, so
// the link notifications are lost, and the daemon must still find the new
// interface and adjust its sysctls.
func TestDaemonOverflowFindsNewLink(t *testing.T) {
	l := labtest.New(t)
	d := newOverflowDaemon(t, l, "10.92.0.1/16")
	appSolicit := func() int { return l.ReadSysctl(l.Near, "net/ipv4/neigh/"+l.NearIf+"/app_solicit") }
	if got := appSolicit(); got != 1 {
		t.Fatalf("app_solicit of the served interface is %d at start, want 1", got)
	}
	oldIndex := l.Ifindex(l.Near, l.NearIf)

	// Overflow the daemon's queue first, so that what follows is lost.
	addNeighbours(t, l, 92, 600)
	l.IP(l.Near, "link", "del", l.NearIf)
	l.IP(l.Near, "link", "add", l.NearIf, "type", "veth", "peer", "name", l.FarIf, "netns", l.Far)
	l.IP(l.Near, "link", "set", l.NearIf, "up")
	if l.Ifindex(l.Near, l.NearIf) == oldIndex {
		t.Fatalf("the new %s has the old index %d", l.NearIf, oldIndex)
	}
	if got := appSolicit(); got != 0 {
		t.Fatalf("the new %s starts with app_solicit %d, want the kernel's 0", l.NearIf, got)
	}

	d.start()
	if !labtest.WaitFor(10*time.Second, func() bool { return appSolicit() == 1 }) {
		t.Fatalf("the daemon never found the new %s: its app_solicit is %d", l.NearIf, appSolicit())
	}
	d.stop()
	if d.c.Counter(ctrNlOverruns) == 0 {
		t.Fatal("the receive queue never overflowed: the test proved nothing")
	}
}

// TestDaemonDrainLeavesNothingBuffered: a drain that reaches its bound
// in the middle of what one system call received goes on to the end of
// it, since the loop's poll cannot see frames already in user space. 20
// ARP replies are queued; a drain bounded at 1 frame handles the 16 of
// the first call, and the next one the other 4. Then 20 neighbours are
// added: a netlink drain bounded at 1 datagram leaves none of its call's
// in user space. The daemon runs with the default notification queue,
// sized from the machine's memory.
func TestDaemonDrainLeavesNothingBuffered(t *testing.T) {
	l := labtest.New(t)
	l.Address()
	d := newLabDaemon(t, l, "10.93.0.1/16", 0)
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	want := notifyRcvBuf(uint64(si.Totalram) * uint64(si.Unit))
	if got, err := unix.GetsockoptInt(d.nl.Fd(), unix.SOL_SOCKET, unix.SO_RCVBUF); err != nil || got < want {
		t.Errorf("the notification socket's receive buffer is %d (%v), want %d at least", got, err, want)
	}
	farIdx := int32(l.Ifindex(l.Far, l.FarIf))
	var far *afpacket.Conn
	if err := l.Do(l.Far, func() (err error) { far, err = afpacket.Open(farIdx, 0); return err }); err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	for i := 0; i < 20; i++ {
		var f [frame.ARPLen]byte
		frame.EncodeARP(&f, frame.ARPOpReply, labtest.FarMAC, [4]byte{10, 93, 1, byte(i)}, labtest.NearMAC, [4]byte{10, 93, 0, 1})
		if err := far.Send(f[:], farIdx, labtest.NearMAC); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	accepted := func() uint64 { return d.c.Counter(ctrDropBase + int(frame.DropNone)) }
	if !labtest.WaitFor(2*time.Second, func() bool {
		q, err := unix.IoctlGetInt(d.pkt.Fd(), unix.SIOCINQ)
		return err == nil && q > 0
	}) {
		t.Fatal("nothing queued")
	}
	time.Sleep(50 * time.Millisecond)
	d.drainPackets(1)
	if n, b := accepted(), d.pkt.Buffered(); n != 16 || b != 0 {
		t.Fatalf("after a drain of 1: %d frames handled, %d left in user space; want 16 and 0", n, b)
	}
	d.drainPackets(1)
	if n := accepted(); n != 20 {
		t.Fatalf("after a second drain: %d frames handled, want 20", n)
	}

	// The same on the notification socket, 8 datagrams a call.
	addNeighbours(t, l, 93, 20)
	time.Sleep(50 * time.Millisecond)
	d.drainNetlink(d.nl, 1)
	if b := d.nl.Buffered(); b != 0 {
		t.Fatalf("after a netlink drain of 1: %d datagrams left in user space, want 0", b)
	}
}
