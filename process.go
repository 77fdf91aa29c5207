package main

// The daemon as a process: startup in an order that touches no sysctl
// before everything that can fail has been checked, the orderly exit,
// detaching and the pid file.

import (
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/fmtlite"
	"arpd/internal/rtnl"
)

// childEnv marks the detached child, which reports on fd 3 when it is
// ready (or why it is not) and then carries on alone.
const childEnv = "ARPD_DETACHED"

// netlinkRcvBuf is the receive buffer of the socket the kernel's requests
// arrive on, 0 for notifyRcvBuf's.
var netlinkRcvBuf = 0

// notifyRcvBuf returns the receive buffer for the socket the kernel's
// requests arrive on, for a machine of totalram bytes: a sixteenth of
// it, at least 16 MiB and at most 256 MiB. It is a bound, not an
// allocation: the kernel charges it only for what is queued while the
// daemon catches up with a burst.
//
// NB: once the queue is full, the kernel drops every notification until
// the daemon has read the queue empty (NETLINK_S_CONGESTED), its retries
// of the lost requests included. A cold burst of 200,000 hosts (make
// bench-lab) overran 16 MiB four times and 64 MiB twice, each time
// losing tens of thousands of hosts; 256 MiB took it whole. A 128 MiB
// router keeps 16 MiB, and its kernel table (gc_thresh3) bounds the
// requests it can be sent.
func notifyRcvBuf(totalram uint64) int {
	return int(min(max(totalram/16, 16<<20), 256<<20))
}

// notifyBatch is how many notifications one system call reads: a system
// call costs 1.1 µs on the benchmark's machine, more than handling a
// request, and 8 slots of 8 KiB fit any notification of a link without
// SR-IOV functions.
const notifyBatch = 8

// newDaemon opens everything, loads the kernel's table into the cache and
// then adjusts the sysctls. On error, everything it did is undone.
func newDaemon(o *options, log *logger) (_ *daemon, err error) {
	// NB: d is not the named result: "return nil, err" must not clear it
	// before the deferred cleanup runs.
	d := &daemon{o: o, log: log, start: time.Now(), wakeFd: -1,
		ifs: interfaces{links: map[int32]*watchedIf{}}, bucket: newTokenBucket(o.rate, o.burst),
		newPrefixes: newPrefixBucket()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	h, err := cache.NewHasher()
	if err != nil {
		return nil, err
	}
	d.asked, d.floods = newAskedFilter(h), newClaimLimiter(o.claimsPerMinute, h)
	for _, name := range o.interfaces {
		if _, err := afpacket.IndexByName(name); err != nil {
			return nil, err
		}
		// NB: a name given twice is served once. Two entries would
		// both wait for the same link, and only one gets its index.
		if !d.ifs.isNamed(name) {
			d.ifs.named = append(d.ifs.named, &watchedIf{name: name, named: true})
		}
	}
	if d.c, err = openWritable(o, nil); err != nil {
		return nil, err
	}
	if v := d.c.MigratedFrom(); v != 0 {
		log.logf(logInfo, "%s: converted from format version %d, %d entries kept", o.db, v, d.c.Entries())
	}
	d.answers.c = d.c
	if err := d.openNetlink(); err != nil {
		return nil, err
	}
	// Values saved by an earlier run for interfaces this one does not
	// adjust are that run's leftovers after a crash: put them back.
	if err := restoreSysctls(d.c, d.params, d.ifs.isNamed); err != nil {
		log.logf(logWarning, "%v", err)
	}
	if err := d.loadKernelTables(); err != nil {
		return nil, err
	}
	d.holds, d.holds6 = newDaemonHolds(h, d.tableCap), newDaemonHolds(h, d.tableCap6)
	// Now the cache mirrors the kernel's table: take over resolution.
	for _, w := range d.ifs.named {
		if err := adjustAllSysctls(d.c, d.params, w.name, o, log); err != nil {
			restoreSysctls(d.c, d.params, nil)
			return nil, err
		}
	}
	d.ready = true
	d.saveState()
	return d, nil
}

// openNetlink opens the three rtnetlink sockets (notifications, requests,
// neighbour parameters) and the loop's wakeup descriptor.
func (d *daemon) openNetlink() (err error) {
	groups := uint32(unix.RTMGRP_NEIGH | unix.RTMGRP_LINK)
	if d.o.serves(cache.FamilyIPv4) {
		groups |= unix.RTMGRP_IPV4_IFADDR
	}
	if d.o.serves(cache.FamilyIPv6) {
		groups |= unix.RTMGRP_IPV6_IFADDR
	}
	rcvbuf := netlinkRcvBuf
	if rcvbuf == 0 {
		var si unix.Sysinfo_t
		unix.Sysinfo(&si)
		rcvbuf = notifyRcvBuf(uint64(si.Totalram) * uint64(si.Unit))
	}
	if d.nl, err = rtnl.Dial(groups, rcvbuf); err != nil {
		return fmtlite.Errorf("netlink socket: %w", err)
	}
	// Notifications only: a burst is read 8 at a time.
	d.nl.SetBatch(notifyBatch)
	if d.req, err = rtnl.Dial(0, 1<<20); err != nil {
		return fmtlite.Errorf("netlink socket: %w", err)
	}
	d.answers.out = d.req
	// NB: no receive buffer beyond the default: one request at a time,
	// whose replies are read as they come.
	pc, err := rtnl.Dial(0, 0)
	if err != nil {
		return fmtlite.Errorf("netlink socket: %w", err)
	}
	d.params = &netlinkParams{conn: pc}
	// Without the filter the daemon reads the echo of every answer it
	// gives, which is slower but still right.
	if err := d.nl.IgnorePort(d.req.Port()); err != nil {
		d.log.logf(logWarning, "netlink socket filter: %v", err)
	}
	if d.wakeFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmtlite.Errorf("eventfd: %w", err)
	}
	return nil
}

// loadKernelTables dumps the kernel's table cap, links and addresses, opens the
// packet socket and the poller, and then dumps the kernel's neighbours
// into the cache, so that nothing learned in between is missed.
func (d *daemon) loadKernelTables() (err error) {
	// The kernel's table cap, for the probes' holds (holds.go).
	if err := d.dumpNow(dumpTables); err != nil {
		d.log.logf(logWarning, "%v: taking the kernel's table cap as 1024", err)
	}
	if err := d.dumpNow(dumpLinks); err != nil {
		return err
	}
	var bind int32
	for _, w := range d.ifs.named {
		if w.index == 0 {
			return fmtlite.Errorf("interface %s: no such interface", w.name)
		}
		bind = w.index
	}
	// NB: after the links, so that every address finds its interface.
	// A change between the two dumps arrives as a notification.
	if err := d.dumpNow(dumpAddrs); err != nil {
		return err
	}
	if len(d.ifs.named) != 1 {
		bind = 0
	}
	if err := d.openPacketSockets(bind); err != nil {
		return err
	}
	if err := d.dumpNow(dumpNeighs); err != nil {
		return err
	}
	d.dumps.again = 0 // anything lost during the dumps shows as an overrun later
	return nil
}

// openPacketSockets opens the packet sockets of the families served, bound
// to interface bind (0 for all), and the poller over every descriptor.
func (d *daemon) openPacketSockets(bind int32) (err error) {
	if d.o.serves(cache.FamilyIPv4) {
		if d.pkt, err = afpacket.Open(bind, 0); err != nil {
			return packetError(err)
		}
		d.probes = d.pkt
	}
	if d.o.serves(cache.FamilyIPv6) {
		if err := d.openND(bind); err != nil {
			return packetError(err)
		}
	}
	if d.poll, err = newPoller(); err != nil {
		return fmtlite.Errorf("epoll: %w", err)
	}
	for _, w := range [...]struct {
		fd  int
		tag uint32
	}{{d.nl.Fd(), pollNL}, {d.req.Fd(), pollReq}, {d.wakeFd, pollWake}, {sockFd(d.pkt), pollPkt}, {sockFd(d.nd), pollND}} {
		if w.fd < 0 {
			continue // a family not served
		}
		if err := d.poll.add(w.fd, w.tag); err != nil {
			return fmtlite.Errorf("epoll: %w", err)
		}
	}
	return nil
}

// sockFd returns c's descriptor, or -1 for no socket.
func sockFd(c *afpacket.Conn) int {
	if c == nil {
		return -1
	}
	return c.Fd()
}

// packetError says what a packet socket that could not be opened needs.
func packetError(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmtlite.Errorf("packet socket: %w (arpd needs CAP_NET_RAW and CAP_NET_ADMIN)", err)
	}
	return fmtlite.Errorf("packet socket: %w", err)
}

// shutdown restores the sysctls, saves and syncs the cache and closes
// everything.
func (d *daemon) shutdown() error {
	err := restoreSysctls(d.c, d.params, nil)
	d.saveState()
	if cerr := d.c.Close(); err == nil {
		err = cerr
	}
	d.c = nil
	d.close()
	return err
}

// close releases whatever is open, without restoring or syncing.
func (d *daemon) close() {
	if d.poll != nil {
		d.poll.Close()
	}
	if d.pkt != nil {
		d.pkt.Close()
	}
	if d.nd != nil {
		d.nd.Close()
	}
	if d.nl != nil {
		d.nl.Close()
	}
	if d.req != nil {
		d.req.Close()
	}
	if d.params != nil {
		d.params.conn.Close()
	}
	if d.wakeFd >= 0 {
		unix.Close(d.wakeFd)
	}
	if d.c != nil {
		d.c.Close()
	}
}

// detach starts the daemon again as a child in its own session, with
// /dev/null for its standard streams and a pipe on fd 3, and waits until
// the child says it is ready (exit 0) or why it failed (exit 1).
func detach(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmtlite.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmtlite.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	argv := append([]string{exe}, args...)
	_, err = syscall.ForkExec(exe, argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   append(os.Environ(), childEnv+"=1"),
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd(), w.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	w.Close()
	null.Close()
	if err != nil {
		fmtlite.Fprintf(stderr, "arpd: start daemon: %v\n", err)
		return 1
	}
	msg, _ := io.ReadAll(r)
	r.Close()
	switch {
	case string(msg) == "ok\n":
		return 0
	case len(msg) == 0:
		fmtlite.Fprintln(stderr, "arpd: the daemon exited during startup")
	default:
		stderr.Write(msg)
	}
	return 1
}

// writePidFile writes our pid to path, atomically.
func writePidFile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmtlite.Errorf("pid file: %w", err)
	}
	if err := renameFile(tmp, path); err != nil {
		os.Remove(tmp)
		return fmtlite.Errorf("pid file: %w", err)
	}
	return nil
}

// removePidFile removes path if it still names this process.
func removePidFile(path string) {
	if b, err := readSmallFile(path); err == nil && string(b) == strconv.Itoa(os.Getpid())+"\n" {
		os.Remove(path)
	}
}
