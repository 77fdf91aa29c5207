package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDaemonOverflowRedumps checks SPEC §2 defect 4: when the netlink
// receive queue overflows (ENOBUFS) the daemon dumps the kernel's table
// again, so nothing the kernel knew is silently lost. The daemon runs in
// this process, inside the lab, with a tiny receive buffer; 1,000
// neighbours are added while its loop is not reading.
func TestDaemonOverflowRedumps(t *testing.T) {
	l := newLab(t)
	l.IP(l.Near, "addr", "add", "10.91.0.1/16", "dev", l.NearIf)
	old := netlinkRcvBuf
	netlinkRcvBuf = 4096
	defer func() { netlinkRcvBuf = old }()

	db := filepath.Join(t.TempDir(), "arpd.db")
	o := &options{db: db, negTimeout: 60, syncEvery: 30 * time.Second, rate: 1, burst: 3, interfaces: []string{l.NearIf}}
	var d *daemon
	if err := l.Do(l.Near, func() (err error) {
		d, err = newDaemon(o, newLogger("", nil))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		d.signals.Or(sigExit)
		unix.Write(d.wakeFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
	done := make(chan struct{})
	defer func() {
		stop()
		<-done
		l.Do(l.Near, d.shutdown)
	}()

	const n = 1000 // below gc_thresh3: no global setting changes
	var batch strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&batch, "neigh add 10.91.%d.%d lladdr 02:00:00:00:%02x:%02x dev %s nud permanent\n", 1+i/250, 1+i%250, i>>8, i&0xff, l.NearIf)
	}
	if out, err := l.ExecStdin(l.Near, batch.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	go func() { d.loop(); close(done) }()

	// Watch the file from a reader of its own while the daemon works.
	r, err := OpenCacheReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ifindex := uint32(l.Ifindex(l.Near, l.NearIf))
	missing := func() int {
		m := 0
		for i := 0; i < n; i++ {
			k := keyV4(ifindex, [4]byte{10, 91, byte(1 + i/250), byte(1 + i%250)})
			if e, ok := r.Lookup(&k); !ok || e.LLAddr[4] != byte(i>>8) || e.LLAddr[5] != byte(i&0xff) {
				m++
			}
		}
		return m
	}
	if !waitFor(15*time.Second, func() bool { return missing() == 0 }) {
		t.Fatalf("%d of %d neighbours never reached the cache", missing(), n)
	}
	stop()
	<-done
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
	l := newLab(t)
	l.IP(l.Near, "addr", "add", "10.92.0.1/16", "dev", l.NearIf)
	old := netlinkRcvBuf
	netlinkRcvBuf = 4096
	defer func() { netlinkRcvBuf = old }()

	db := filepath.Join(t.TempDir(), "arpd.db")
	o := &options{db: db, negTimeout: 60, syncEvery: 30 * time.Second, rate: 1, burst: 3, interfaces: []string{l.NearIf}}
	var d *daemon
	if err := l.Do(l.Near, func() (err error) {
		d, err = newDaemon(o, newLogger("", nil))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	started := false
	defer func() {
		if started {
			d.signals.Or(sigExit)
			unix.Write(d.wakeFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
			<-done
		}
		l.Do(l.Near, d.shutdown)
	}()
	appSolicit := func() string {
		var b []byte
		l.Do(l.Near, func() (err error) {
			b, err = os.ReadFile("/proc/sys/net/ipv4/neigh/" + l.NearIf + "/app_solicit")
			return err
		})
		return strings.TrimSpace(string(b))
	}
	if got := appSolicit(); got != "1" {
		t.Fatalf("app_solicit of the served interface is %q at start, want 1", got)
	}
	oldIndex := l.Ifindex(l.Near, l.NearIf)

	// Overflow the daemon's queue first, so that what follows is lost.
	var batch strings.Builder
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&batch, "neigh add 10.92.%d.%d lladdr 02:00:00:00:%02x:%02x dev %s nud permanent\n", 1+i/250, 1+i%250, i>>8, i&0xff, l.NearIf)
	}
	if out, err := l.ExecStdin(l.Near, batch.String(), "ip", "-batch", "-"); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	l.IP(l.Near, "link", "del", l.NearIf)
	l.IP(l.Near, "link", "add", l.NearIf, "type", "veth", "peer", "name", l.FarIf, "netns", l.Far)
	l.IP(l.Near, "link", "set", l.NearIf, "up")
	if l.Ifindex(l.Near, l.NearIf) == oldIndex {
		t.Fatalf("the new %s has the old index %d", l.NearIf, oldIndex)
	}
	if got := appSolicit(); got != "0" {
		t.Fatalf("the new %s starts with app_solicit %q, want the kernel's 0", l.NearIf, got)
	}

	started = true
	// NB: the loop runs on a thread inside the lab, as the daemon would:
	// it writes the sysctls through /proc/sys, which shows the namespace
	// of the thread that opens it.
	go func() {
		l.Do(l.Near, func() error { d.loop(); return nil })
		close(done)
	}()
	if !waitFor(10*time.Second, func() bool { return appSolicit() == "1" }) {
		t.Fatalf("the daemon never found the new %s: its app_solicit is %q", l.NearIf, appSolicit())
	}
	if d.c.Counter(ctrNlOverruns) == 0 {
		t.Fatal("the receive queue never overflowed: the test proved nothing")
	}
}
