package main

// Lab tests of what the daemon learns and answers: resolution by its own
// probe, answers from the cache, negative entries, flushes, gratuitous
// ARP, a burst of kernel updates, the initial dump and PROBE requests.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/frame"
	"arpd/internal/labtest"
)

// TestDaemonLabResolvesLiveHost: with -a 1 -k the kernel sends no
// broadcast of its own, so a live host is resolved only if the daemon
// probes for it when the kernel asks. The first datagram reaches the host,
// the kernel has its MAC and so does the cache.
func TestDaemonLabResolvesLiveHost(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	host := d.listenUDP(labtest.FarIP, 7001)
	far := d.watchWire(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	if got := d.nearSysctls(d.NearIf); got != [2]int{1, 0} {
		t.Fatalf("app_solicit, mcast_solicit = %v, want [1 0] for -a 1 -k", got)
	}

	d.sendUDPFrom(d.Near, labtest.FarIP, 7001, []byte("live"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "live" {
		t.Fatalf("the host got %q (%v), want the first datagram; near: %s; arpd: %s", got, ok, d.nearNeigh(d.NearIf, labtest.FarIP), p.Output())
	}
	if n := d.nearNeigh(d.NearIf, labtest.FarIP); !strings.Contains(n, "lladdr "+labtest.MACString(labtest.FarMAC)) {
		t.Errorf("near kernel entry %q, want lladdr %s", n, labtest.MACString(labtest.FarMAC))
	}
	d.waitRow(3*time.Second, rowKey(d.NearIdx, labtest.FarIP), labtest.MACString(labtest.FarMAC))
	if probes := requests(far.Poll(), labtest.NearIP, isIP(labtest.FarIP)); len(probes) == 0 {
		t.Errorf("no request for the host on the wire, yet it was resolved with mcast_solicit 0")
	}
	d.waitStats(3*time.Second, "a probe and a kernel request", func(st map[string]uint64) bool {
		return st["probes_sent"] >= 1 && st["app_recv"] >= 1
	})
	p.RequireRunning("after resolving a host")
}

// TestDaemonLabAnswersFromCache: once the daemon knows a host, the kernel
// gets its address from the cache even when the host answers no ARP at all
// (arp_ignore=8) and the kernel's table has been flushed, and the first
// datagram, queued by the kernel while it asked, reaches the host.
func TestDaemonLabAnswersFromCache(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	host := d.listenUDP(labtest.FarIP, 7002)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)

	// Learn the host while it still answers.
	d.sendUDPFrom(d.Near, labtest.FarIP, 7002, []byte("learn"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "learn" {
		t.Fatalf("the host never got the first datagram (%q): %s", got, p.Output())
	}
	key := rowKey(d.NearIdx, labtest.FarIP)
	d.waitRow(3*time.Second, key, labtest.MACString(labtest.FarMAC))

	d.farIgnoresARP()
	near := d.watchWire(d.Near, d.NearIf)
	d.IP(d.Near, "neigh", "flush", "dev", d.NearIf)
	if n := d.nearNeigh(d.NearIf, labtest.FarIP); n != "" && !strings.Contains(n, "FAILED") {
		t.Fatalf("the flush left %q", n)
	}
	before := labtest.Stats(t, d.DB)["app_success"]

	d.sendUDPFrom(d.Near, labtest.FarIP, 7002, []byte("first"))
	got, ok := host.recv(5 * time.Second)
	if !ok || string(got) != "first" {
		t.Fatalf("after the flush the host got %q (%v), want the first datagram; near: %s; arpd: %s",
			got, ok, d.nearNeigh(d.NearIf, labtest.FarIP), p.Output())
	}
	if n := d.nearNeigh(d.NearIf, labtest.FarIP); !strings.Contains(n, "lladdr "+labtest.MACString(labtest.FarMAC)) {
		t.Errorf("near kernel entry %q, want lladdr %s", n, labtest.MACString(labtest.FarMAC))
	}
	d.waitStats(3*time.Second, "an answer from the cache", func(st map[string]uint64) bool {
		return st["app_success"] > before
	})
	// The answer came from the cache: the host sent no ARP reply.
	for _, f := range near.Poll() {
		if f.Drop == frame.DropNone && f.F.SenderIP == labtest.FarIP {
			t.Errorf("the host answered ARP despite arp_ignore=8: %+v", f.F)
		}
	}
}

// TestDaemonLabNegativeEntry: a host that does not answer gets a negative
// entry from the kernel's resolution failure; while it lives, and once the
// -a probes it allows are spent, the daemon sends no more broadcasts for
// it (counted on the far side); after it expires (-n) it probes again.
func TestDaemonLabNegativeEntry(t *testing.T) {
	t.Parallel()
	const ttl = 8
	d := newDaemonLab(t)
	dead := [4]byte{10, 77, 0, 99}
	far := d.watchWire(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", "-n", strconv.Itoa(ttl), d.NearIf)
	probes := func() int { return len(requests(far.Poll(), labtest.NearIP, isIP(dead))) }

	d.nearCycle(dead)
	key := rowKey(d.NearIdx, dead)
	d.waitRow(3*time.Second, key, "FAILED")
	made := time.Now()
	if n := probes(); n < 1 {
		t.Fatalf("the daemon never probed for %s (-a 1): %s", ipString(dead), p.Output())
	}
	// At most the -a budget (1) of probes on the negative entry, then
	// silence: two more rounds send nothing at all.
	d.nearCycle(dead)
	spent := probes()
	if spent > 1 {
		t.Errorf("%d probes in one round for a host with a live negative entry, want at most 1 (-a 1)", spent)
	}
	for i := 0; i < 2; i++ {
		d.nearCycle(dead)
		if n := probes(); n != 0 {
			t.Errorf("round %d after the negative entry's probes were spent: %d broadcasts, want 0", i+3, n)
		}
	}
	if time.Since(made) >= ttl*time.Second {
		t.Fatalf("the rounds took %v, longer than the entry lives (%d s): the silence proves nothing", time.Since(made), ttl)
	}
	row := listDBRows(t, d.DB)[key]
	if !row.Failed {
		t.Fatalf("the negative entry is gone: %+v", row)
	}
	d.waitStats(3*time.Second, "failed requests", func(st map[string]uint64) bool {
		return st["app_failed"] >= 2 && st["kern_neg"] >= 1
	})

	// Once it has expired, the daemon probes again and renews it.
	if !labtest.WaitFor(ttl*time.Second+5*time.Second, func() bool { return listDBRows(t, d.DB)[key].Age > ttl }) {
		t.Fatalf("the negative entry never aged past %d s: %+v", ttl, listDBRows(t, d.DB)[key])
	}
	d.nearCycle(dead)
	if n := probes(); n < 1 {
		t.Errorf("no probe once the negative entry expired")
	}
	if !labtest.WaitFor(3*time.Second, func() bool { r := listDBRows(t, d.DB)[key]; return r.Failed && r.Age < ttl }) {
		t.Errorf("the expired negative entry was not renewed: %+v", listDBRows(t, d.DB)[key])
	}

	// The host comes to life and announces itself (it answers no
	// requests): the binding replaces the negative entry at once, and the
	// kernel gets it from the cache.
	d.farIgnoresARP()
	d.IP(d.Far, "addr", "add", ipString(dead)+"/24", "dev", d.FarIf)
	host := d.listenUDP(dead, 7007)
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, labtest.FarMAC, dead))
	d.waitRow(3*time.Second, key, labtest.MACString(labtest.FarMAC))
	d.sendUDPFrom(d.Near, dead, 7007, []byte("alive"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "alive" {
		t.Errorf("the revived host got %q (%v); near %q", got, ok, d.nearNeigh(d.NearIf, dead))
	}
	p.RequireRunning("at the end")
}

// TestDaemonLabDeadFailedAtOnce: once a dead host's negative entry has
// spent its -a probes, a datagram to it finds the near kernel's entry
// failed by the daemon at once (not after app_solicit × retrans_time, 1 s
// here), and the sender's connected socket (with IP_RECVERR) gets
// EHOSTUNREACH from the kernel's ICMP unreachable just as quickly, with no
// broadcast.
func TestDaemonLabDeadFailedAtOnce(t *testing.T) {
	t.Parallel()
	const limit = 200 * time.Millisecond
	d := newDaemonLab(t)
	dead := [4]byte{10, 77, 0, 98}
	far := d.watchWire(d.Far, d.FarIf)
	p := d.startArpd(t, "-a", "1", "-k", "-n", "60", d.NearIf)
	d.nearCycle(dead) // the kernel gives up: a negative entry
	d.waitRow(3*time.Second, rowKey(d.NearIdx, dead), "FAILED")
	d.nearCycle(dead) // its one probe (-a 1) is spent
	far.Poll()
	for round := 1; round <= 3; round++ {
		fd := d.connectedUDP(dead, 9)
		sent := time.Now()
		if err := unix.Send(fd, []byte("dead?"), unix.MSG_DONTWAIT); err != nil {
			t.Fatalf("round %d: send: %v", round, err)
		}
		var n string
		if !labtest.WaitFor(limit, func() bool {
			n = d.nearNeigh(d.NearIf, dead)
			return !strings.Contains(n, "INCOMPLETE")
		}) {
			t.Errorf("round %d: the near entry is %q %v after the datagram, want FAILED or gone within %v", round, n, time.Since(sent), limit)
		}
		var err error
		if !labtest.WaitFor(limit, func() bool {
			_, _, err = unix.Recvfrom(fd, make([]byte, 64), unix.MSG_DONTWAIT)
			return err != unix.EAGAIN
		}) || err != unix.EHOSTUNREACH {
			t.Errorf("round %d: the sender's socket says %v after %v, want EHOSTUNREACH within %v", round, err, time.Since(sent), limit)
		}
		t.Logf("round %d: %v after %v", round, err, time.Since(sent))
		unix.Close(fd)
	}
	if got := requests(far.Poll(), labtest.NearIP, isIP(dead)); len(got) != 0 {
		t.Errorf("%d broadcasts for a dead host whose probes are spent", len(got))
	}
	d.waitStats(3*time.Second, "three failed requests", func(st map[string]uint64) bool {
		return st["app_failed"] >= 3 && st["app_suppressed"] == 0 && st["flush_ignored"] == 0
	})
	p.RequireRunning("at the end")
}

// connectedUDP returns a UDP socket of the near namespace connected to
// dst:port, with IP_RECVERR; the caller closes it.
func (d *dlab) connectedUDP(dst [4]byte, port int) int {
	d.t.Helper()
	fd := -1
	if err := d.Do(d.Near, func() (err error) {
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		// NB: host unreachable is a soft error (RFC 1122 4.2.3.9): a UDP
		// socket reports it only with IP_RECVERR.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1); err != nil {
			return err
		}
		return unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: dst})
	}); err != nil {
		d.t.Fatalf("connect UDP to %s:%d from %s: %v", ipString(dst), port, d.Near, err)
	}
	return fd
}

// TestDaemonLabFlushIsNotDeath: "ip neigh del" and "ip neigh flush" make
// the kernel notify FAILED for every entry they remove; none of them is a
// dead host, so the cache keeps every binding it had and makes no
// negative entry (iproute2's arpd makes one for each).
func TestDaemonLabFlushIsNotDeath(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	hosts := [][4]byte{{10, 77, 0, 2}, {10, 77, 0, 3}, {10, 77, 0, 4}}
	for _, h := range hosts[1:] {
		d.IP(d.Far, "addr", "add", ipString(h)+"/24", "dev", d.FarIf)
	}
	p := d.startArpd(t, d.NearIf)
	// Resolved by the kernel (its own broadcasts: no -a).
	for _, h := range hosts {
		d.sendUDPFrom(d.Near, h, 9, nil)
	}
	for _, h := range hosts {
		d.waitRow(5*time.Second, rowKey(d.NearIdx, h), labtest.MACString(labtest.FarMAC))
	}
	// One entry the kernel never resolved: added by hand.
	manual := [4]byte{10, 77, 0, 50}
	d.IP(d.Near, "neigh", "add", ipString(manual), "lladdr", "02:00:00:00:00:50", "dev", d.NearIf, "nud", "stale")
	d.waitRow(3*time.Second, rowKey(d.NearIdx, manual), "02:00:00:00:00:50")
	before := labtest.Stats(t, d.DB)

	d.IP(d.Near, "neigh", "del", ipString(hosts[0]), "dev", d.NearIf)
	d.IP(d.Near, "neigh", "flush", "dev", d.NearIf)
	// Four FAILED notices, each either ignored or (wrongly) a negative
	// entry.
	d.waitStats(5*time.Second, "the four FAILED notices of the delete and the flush", func(st map[string]uint64) bool {
		return st["flush_ignored"]+st["kern_neg"] >= before["flush_ignored"]+before["kern_neg"]+4
	})
	rows := listDBRows(t, d.DB)
	for key, r := range rows {
		if r.Failed {
			t.Errorf("negative entry %s after a delete and a flush", key)
		}
	}
	for _, h := range hosts {
		if r := rows[rowKey(d.NearIdx, h)]; r.MAC != labtest.MACString(labtest.FarMAC) {
			t.Errorf("%s after the flush: %+v, want %s", ipString(h), r, labtest.MACString(labtest.FarMAC))
		}
	}
	if r := rows[rowKey(d.NearIdx, manual)]; r.MAC != "02:00:00:00:00:50" {
		t.Errorf("%s after the flush: %+v", ipString(manual), r)
	}
	if st := labtest.Stats(t, d.DB); st["kern_neg"] != before["kern_neg"] {
		t.Errorf("kern_neg went from %d to %d", before["kern_neg"], st["kern_neg"])
	}
	p.RequireRunning("after the flush")
}

// TestDaemonLabLearnsGratuitous: a gratuitous ARP request from the far
// side is learned, and a gratuitous reply with another MAC for the same
// address replaces it.
func TestDaemonLabLearnsGratuitous(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	p := d.startArpd(t, d.NearIf)
	in := d.injector(d.Far, d.FarIf)
	ip := [4]byte{10, 77, 0, 51}
	key := rowKey(d.NearIdx, ip)
	before := labtest.Stats(t, d.DB)

	in.send(garp(frame.ARPOpRequest, [6]byte{0x02, 0, 0, 0, 0x51, 0x01}, ip))
	d.waitRow(3*time.Second, key, "02:00:00:00:51:01")
	in.send(garp(frame.ARPOpReply, [6]byte{0x02, 0, 0, 0, 0x51, 0x02}, ip))
	d.waitRow(3*time.Second, key, "02:00:00:00:51:02")
	d.waitStats(3*time.Second, "a new and a changed binding", func(st map[string]uint64) bool {
		return st["arp_new"] >= before["arp_new"]+1 && st["arp_change"] >= before["arp_change"]+1
	})
	p.RequireRunning("after two gratuitous ARPs")
}

// TestDaemonLabBurst: 5,000 neighbours added to the kernel's table at once,
// then all 5,000 given a new MAC, and every final binding is in the cache.
// The table's cap (gc_thresh3, global) is raised for the test, and
// gc_thresh2 with it so that the forced collection it triggers does not
// touch other tests' entries; both are restored after the entries are
// gone.
func TestDaemonLabBurst(t *testing.T) {
	t.Parallel()
	labtest.RequireRoot(t)
	const n = 5000
	g := labtest.LockGlobals(t)
	g.Raise("net/ipv4/neigh/default/gc_thresh3", 16384)
	g.Raise("net/ipv4/neigh/default/gc_thresh2", 16384)
	d := newDaemonLab(t)
	// NB: registered after the raises, so it runs before they are undone:
	// the entries must be gone before the cap comes down again.
	t.Cleanup(func() {
		exec := func(args ...string) { d.Exec(d.Near, "ip", args...) }
		exec("neigh", "flush", "dev", d.NearIf, "nud", "all")
	})
	d.IP(d.Near, "addr", "add", "10.90.0.1/16", "dev", d.NearIf)
	p := d.startArpd(t, d.NearIf)

	addr := func(i int) string { return fmt.Sprintf("10.90.%d.%d", 1+i/250, 1+i%250) }
	batch := func(verb string, tag int) {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "neigh %s %s lladdr 02:00:00:%02x:%02x:%02x dev %s nud stale\n", verb, addr(i), tag, i>>8, i&0xff, d.NearIf)
		}
		if out, err := d.ExecStdin(d.Near, b.String(), "ip", "-batch", "-"); err != nil {
			t.Fatalf("ip -batch (%s): %v: %s", verb, err, out)
		}
	}
	batch("add", 1)
	batch("replace", 2)
	missing := func() (int, string) {
		rows := listDBRows(t, d.DB)
		m, first := 0, ""
		for i := 0; i < n; i++ {
			key := strconv.Itoa(d.NearIdx) + " " + addr(i)
			want := fmt.Sprintf("02:00:00:02:%02x:%02x", i>>8, i&0xff)
			if r := rows[key]; r.MAC != want {
				if m == 0 {
					first = fmt.Sprintf("%s: %+v, want %s", key, r, want)
				}
				m++
			}
		}
		return m, first
	}
	var m int
	var first string
	if !labtest.WaitFor(15*time.Second, func() bool { m, first = missing(); return m == 0 }) {
		t.Fatalf("%d of %d final bindings never reached the cache (first: %s); kernel has %d", m, n, first,
			strings.Count(d.IP(d.Near, "neigh", "show", "dev", d.NearIf), "\n"))
	}
	st := d.waitStats(3*time.Second, "the entries", func(st map[string]uint64) bool { return st["entries"] >= n })
	t.Logf("kern_new %d kern_change %d nl_overruns %d redumps %d", st["kern_new"], st["kern_change"], st["nl_overruns"], st["redumps"])
	p.RequireRunning("after the burst")

	// A daemon started on a new file now gets all 5,000 from its initial
	// dump, many datagrams long, before it says it is ready.
	if code := p.Stop(unix.SIGTERM, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d: %s", code, p.Output())
	}
	d.DB = filepath.Join(t.TempDir(), "second.db")
	d.startArpd(t, d.NearIf)
	if m, first = missing(); m != 0 {
		t.Errorf("%d of %d bindings missing from the initial dump at ready (first: %s)", m, n, first)
	}
}

// TestDaemonLabInitialDump: what the kernel knows when the daemon starts
// is in the cache by the time it says it is ready.
func TestDaemonLabInitialDump(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	for i := 0; i < 3; i++ {
		d.IP(d.Near, "neigh", "add", fmt.Sprintf("10.77.0.%d", 30+i), "lladdr", fmt.Sprintf("02:00:00:00:30:%02x", i), "dev", d.NearIf, "nud", "stale")
	}
	d.startArpd(t, d.NearIf)
	rows := listDBRows(t, d.DB)
	for i := 0; i < 3; i++ {
		key := rowKey(d.NearIdx, [4]byte{10, 77, 0, byte(30 + i)})
		if want := fmt.Sprintf("02:00:00:00:30:%02x", i); rows[key].MAC != want {
			t.Errorf("at ready %s = %+v, want %s", key, rows[key], want)
		}
	}
}

// TestDaemonLabProbeDropsEntry: when the kernel's unicast re-probes of a
// known host fail it asks in state PROBE; the host may have moved, so the
// daemon forgets it rather than hand the stale MAC back. (A second later
// the kernel gives up and notifies FAILED, which makes a negative entry:
// the test looks for the entry's absence in that second.)
func TestDaemonLabProbeDropsEntry(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	for name, v := range map[string]string{"delay_first_probe_time": "1", "ucast_solicit": "1", "retrans_time_ms": "1000"} {
		d.Sysctl(d.Near, neighKey(d.NearIf, name), v)
	}
	d.farIgnoresARP()
	host := d.listenUDP(labtest.FarIP, 7006)
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	key := rowKey(d.NearIdx, labtest.FarIP)
	d.injector(d.Far, d.FarIf).send(garp(frame.ARPOpRequest, labtest.FarMAC, labtest.FarIP))
	d.waitRow(3*time.Second, key, labtest.MACString(labtest.FarMAC))
	before := labtest.Stats(t, d.DB)

	// Answered from the cache, then unconfirmed: DELAY, PROBE, and the
	// kernel's PROBE request to the daemon.
	d.sendUDPFrom(d.Near, labtest.FarIP, 7006, []byte("once"))
	if got, ok := host.recv(5 * time.Second); !ok || string(got) != "once" {
		t.Fatalf("the host got %q (%v): %s", got, ok, p.Output())
	}
	if !labtest.WaitFor(8*time.Second, func() bool {
		_, ok := listDBRows(t, d.DB)[key]
		return !ok
	}) {
		t.Fatalf("the entry is still there after the kernel's re-probes failed: %+v; near %q", listDBRows(t, d.DB)[key], d.nearNeigh(d.NearIf, labtest.FarIP))
	}
	d.waitStats(3*time.Second, "the dropped entry", func(st map[string]uint64) bool { return st["app_neg"] > before["app_neg"] })
	p.RequireRunning("at the end")
}
