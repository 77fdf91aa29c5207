// Command arpd is a user-space ARP helper daemon for Linux routers that serve
// large Ethernet segments. It keeps a large neighbour cache in a fixed-size,
// memory-mapped hash file, answers the kernel's resolution requests from it,
// and learns from every ARP packet it sees. It is a drop-in replacement for
// iproute2's arpd without Berkeley DB.
package main

import (
	"arpd/internal/afpacket"
	"arpd/internal/frame"
	"arpd/internal/rtnl"

	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	fmt "arpd/internal/fmtlite"
	netip "arpd/internal/netiplite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program behind main, with its streams passed in so that
// tests can drive it without a subprocess. It returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		io.WriteString(stderr, usageText)
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "arpd: %v\n%s", err, usageText)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	if o.version {
		fmt.Fprintf(stdout, "arpd %s\n", version)
		return 0
	}
	switch {
	case o.stats:
		err = printStats(o, stdout)
	case o.load != "" || o.list:
		err = offline(o, stdin, stdout, stderr)
	default:
		return runDaemon(o, args, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	return 0
}

// offline does what iproute2's arpd does with -f and -l: load the file
// into the database, then list the database, then exit.
func offline(o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	if o.load != "" {
		n, dropped, err := loadFile(o, stdin)
		if err != nil {
			return err
		}
		if dropped > 0 {
			fmt.Fprintf(stderr, "arpd: %s: %d of %d loaded entries did not fit in the database; raise its capacity with -C\n", o.db, dropped, n)
		}
	}
	if o.list {
		return listDB(o, stdout, stderr)
	}
	return nil
}

// openWritable opens the database for writing, creating the default
// directory when the default path is used (as iproute2 does).
func openWritable(o *options) (*Cache, error) {
	if o.dbDefault {
		if err := os.MkdirAll(filepath.Dir(o.db), 0o755); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	return OpenCache(o.db, CacheOptions{Capacity: o.capacity, NegativeTTL: uint32(o.negTimeout)})
}

// loadFile loads the -f file into the database, all or nothing. The whole
// file is read and checked before the database is opened, so a bad line
// leaves the database byte for byte as it was (and creates none); the
// entries then go into a copy of the database that replaces it only when
// every write succeeded. It returns the number of entries read and how
// many of them did not fit.
func loadFile(o *options, stdin io.Reader) (n, dropped int, err error) {
	name := o.load
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		r = f
	}
	// NB: Entry is 48 bytes; a million-line file needs 48 MB here, which
	// is the price of leaving the database untouched by a bad last line.
	var entries []Entry
	err = parseLoad(r, name, func(line int, rec loadRecord) error {
		e := Entry{Key: keyOf(rec.Ifindex, rec.Addr), Kind: KindPositive, Source: SourceLoad, LLLen: 6}
		copy(e.LLAddr[:], rec.MAC[:])
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	c, err := openWritable(o)
	if err != nil {
		return 0, 0, err
	}
	err = c.Rebuild(0, func(nc *Cache) error {
		before := nc.Counter(ctrEvictions)
		for i := range entries {
			res, err := nc.Put(&entries[i])
			if err != nil {
				return err
			}
			if res == PutDropped {
				dropped++
			}
		}
		dropped += int(nc.Counter(ctrEvictions) - before)
		nc.Count(ctrLoaded, uint64(len(entries)))
		return nil
	})
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return len(entries), dropped, err
}

// keyOf returns the cache key of addr on interface ifindex.
func keyOf(ifindex uint32, addr netip.Addr) Key {
	if addr.Is4() {
		return keyV4(ifindex, addr.As4())
	}
	return Key{Family: familyIPv6, Ifindex: ifindex, Addr: addr.As16()}
}

// addrOf returns the address of a cache key.
func addrOf(k *Key) netip.Addr {
	if k.Family == familyIPv4 {
		return netip.AddrFrom4([4]byte(k.Addr[:4]))
	}
	return netip.AddrFrom16(k.Addr)
}

// listDB writes the database in iproute2's -l format. With interfaces on
// the command line, only their entries are listed. It reads a running
// daemon's file without disturbing it.
func listDB(o *options, stdout, stderr io.Writer) error {
	only := map[uint32]bool{}
	for _, name := range o.interfaces {
		idx, err := afpacket.IndexByName(name)
		if err != nil {
			return err
		}
		only[idx] = true
	}
	w := bufio.NewWriter(stdout)
	w.WriteString(listHeader)
	c, err := OpenCacheReadOnly(o.db)
	if errors.Is(err, unix.ENOENT) {
		// Like iproute2's empty database: a header and no rows.
		fmt.Fprintf(stderr, "arpd: %s does not exist yet\n", o.db)
		return w.Flush()
	}
	if err != nil {
		return err
	}
	defer c.Close()
	now := time.Now().Unix()
	row := make([]byte, 0, 128)
	damaged := c.Range(func(e *Entry) bool {
		if len(only) > 0 && !only[e.Ifindex] {
			return true
		}
		if e.Kind == KindNegative {
			row = appendFailedRow(row[:0], e.Ifindex, addrOf(&e.Key), now-int64(e.Updated))
		} else {
			row = appendListRow(row[:0], e.Ifindex, addrOf(&e.Key), e.LLAddr[:e.LLLen])
		}
		w.Write(row)
		return true
	})
	if damaged > 0 {
		fmt.Fprintf(stderr, "arpd: %s: skipped %d damaged entries\n", o.db, damaged)
	}
	return w.Flush()
}

// printStats prints the statistics that the daemon owning the database
// saved in it, without signalling the daemon.
func printStats(o *options, stdout io.Writer) error {
	c, err := OpenCacheReadOnly(o.db)
	if err != nil {
		return err
	}
	defer c.Close()
	w := bufio.NewWriter(stdout)
	pid, started, open := c.Owner()
	fmt.Fprintf(w, "database %s\n", o.db)
	switch {
	case open && pid != 0 && unix.Kill(int(pid), 0) == nil:
		fmt.Fprintf(w, "owner pid %d, running since %s\n", pid, started.UTC().Format(time.RFC3339))
	case open:
		fmt.Fprintf(w, "owner pid %d, not running: it did not close the database cleanly\n", pid)
	default:
		fmt.Fprintf(w, "owner none: closed cleanly\n")
	}
	fmt.Fprintf(w, "capacity %d\nentries %d\n", c.Capacity(), c.Entries())
	for i, name := range counterNames {
		fmt.Fprintf(w, "%s %d\n", name, c.Counter(i))
	}
	return w.Flush()
}

// The daemon: one event loop over the rtnetlink and packet sockets that
// applies SPEC §3. It allocates nothing per message or frame.

// watchedIf is an interface the daemon serves: a named one, or, without
// names, any link the kernel reported.
type watchedIf struct {
	name   string
	index  int32 // 0 while the interface does not exist
	info   afpacket.Iface
	infoOK bool    // info holds its current MAC
	named  bool    // given on the command line (its sysctls are adjusted)
	addrs  ifAddrs // its IPv4 addresses, where probes are sent from
}

// Signal bits the signal goroutine sets for the loop.
const (
	sigExit uint32 = 1 << iota
	sigSync
	sigStats
)

// daemon is the running resolver.
type daemon struct {
	o      *options
	c      *Cache
	log    *logger
	nl     *rtnl.Conn // notifications and the kernel's requests (multicast)
	req    *rtnl.Conn // our dumps and answers, and the replies to them
	pkt    *afpacket.Conn
	bucket *tokenBucket
	start  time.Time

	named []*watchedIf         // interfaces on the command line; none: all
	links map[int32]*watchedIf // every watched interface that exists, by index

	pendingSeq  uint32   // sequence number of the dump in progress
	pending     dumpKind // the dump in progress, 0 if none
	pendingDone bool     // the dump last in progress has ended
	again       dumpKind // the dumps to make again when possible
	addrFull    bool     // an interface had more than ifAddrMax addresses (logged once)
	dirty       bool     // counters changed since the state was last saved
	ready       bool     // the initial dumps are done and the sysctls adjusted

	signals atomic.Uint32
	wakeFd  int
	poll    *poller // waits on nl, req, pkt and wakeFd

	// Hooks for tests; nil in the daemon, which then uses the sockets.
	answerHook func(req *rtnl.Neigh, lladdr []byte) error
	probeHook  func(w *watchedIf, src, target [4]byte) error

	// Preallocated per-message state.
	msg      rtnl.Msg
	neigh    rtnl.Neigh
	link     rtnl.Link
	addr     rtnl.Addr
	frame    frame.ARP
	probeBuf [frame.ARPLen]byte
	nlerr    rtnl.ErrorMsg
	ll       [8]byte
	out      [rtnl.NeighMsgMax]byte

	// Answers not yet sent: a burst of requests is answered with one
	// write per answerBatch answers, not one each. The kernel handles the
	// messages of a datagram one after the other, as if sent apart.
	batch    [answerBatch * rtnl.NeighMsgMax]byte
	batchLen int // bytes of batch in use
	batchN   int // answers in batch
}

// answerBatch is the most answers sent in one write. A batch is also sent
// whenever the notification socket has nothing more queued, so an answer
// waits at most for the requests read after it in the same burst (about
// 1 µs each); the first datagram after the loop wakes up is answered on
// its own, at once.
const answerBatch = 32

// isWatched reports whether the daemon serves interface ifindex.
func (d *daemon) isWatched(ifindex int32) bool {
	if len(d.named) == 0 {
		return true
	}
	_, ok := d.links[ifindex]
	return ok
}

// monotonic returns the time since the daemon started, for the rate limit.
func (d *daemon) monotonic() time.Duration { return time.Since(d.start) }

// handleNeigh applies the policy to one neighbour message.
func (d *daemon) handleNeigh(n *rtnl.Neigh) {
	if n.Family != unix.AF_INET || n.DstLen != 4 {
		return // IPv6 and bridge entries are not ours (yet)
	}
	if !d.isWatched(n.Ifindex) {
		d.c.Count(ctrOtherIf, 1)
		return
	}
	k := keyV4(uint32(n.Ifindex), [4]byte(n.Dst[:4]))
	switch n.MsgType {
	case unix.RTM_GETNEIGH:
		// The kernel's app_solicit requests. Other RTM_GETNEIGH on the
		// group (VXLAN misses, for one) are not ours.
		if n.MsgFlags&unix.NLM_F_REQUEST == 0 || n.Type != unix.RTN_UNICAST {
			return
		}
		d.kernelRequest(n, &k)
	case unix.RTM_NEWNEIGH:
		if n.MsgFlags&unix.NLM_F_REQUEST != 0 || n.Type != unix.RTN_UNICAST || n.Flags&unix.NTF_PROXY != 0 {
			return
		}
		d.kernelNotice(n, &k)
	}
}

// kernelRequest answers the kernel's request to resolve k.
func (d *daemon) kernelRequest(n *rtnl.Neigh, k *Key) {
	switch {
	case n.State&unix.NUD_INCOMPLETE != 0:
		d.c.Count(ctrAppRecv, 1)
		e, ok := d.c.Lookup(k)
		if ok && e.Kind == KindPositive {
			// NB: a slice of d.ll, not of e: e would escape through
			// the answer and cost an allocation per request.
			d.ll = e.LLAddr
			if err := d.answer(n, d.ll[:e.LLLen]); err != nil {
				d.c.Count(ctrAnswerErrors, 1)
			}
			return
		}
		liveNegative := ok && e.Kind == KindNegative && !d.c.Expired(&e)
		if liveNegative && int(e.Probes) >= d.o.active {
			d.c.Count(ctrAppSuppressed, 1)
			return
		}
		if d.o.active > 0 && d.probe(n.Ifindex, [4]byte(k.Addr[:4])) && liveNegative {
			e.Probes++
			d.c.Put(&e) // keeps its timestamps: probing does not renew it
		}
	case n.State&unix.NUD_PROBE != 0:
		// Unicast probes of a known entry failed: the host may have
		// moved. Forget what we knew.
		if e, ok := d.c.Lookup(k); ok && e.Kind == KindPositive {
			d.c.Count(ctrAppNeg, 1)
		}
		d.c.Delete(k)
	default:
		d.c.Count(ctrAppBad, 1)
	}
}

// kernelNotice learns from a kernel notification or dump entry.
func (d *daemon) kernelNotice(n *rtnl.Neigh, k *Key) {
	if n.State&unix.NUD_FAILED != 0 {
		// NB: an administrator's delete or flush also notifies FAILED,
		// with NDA_PROBES > 0 on this kernel; only the kernel's own
		// resolution failure (nlmsg_pid 0) means the host is dead.
		if !rtnl.ResolutionFailed(n) {
			d.c.Count(ctrFlushIgnored, 1)
			return
		}
		if e, ok := d.c.Lookup(k); ok && e.Kind == KindNegative && !d.c.Expired(&e) {
			return // still dead; keep the probes already spent
		}
		e := Entry{Key: *k, Kind: KindNegative, Source: SourceKernel}
		if _, err := d.c.Put(&e); err == nil {
			d.c.Count(ctrKernNeg, 1)
		}
		return
	}
	if n.LLAddrLen != 6 || n.State&^unix.NUD_NOARP == 0 || n.State&unix.NUD_INCOMPLETE != 0 {
		return
	}
	e := Entry{Key: *k, Kind: KindPositive, Source: SourceKernel, LLLen: 6}
	copy(e.LLAddr[:], n.LLAddr[:6])
	switch r, _ := d.c.Put(&e); r {
	case PutNew:
		d.c.Count(ctrKernNew, 1)
	case PutChanged:
		d.c.Count(ctrKernChange, 1)
	}
}

// handleFrame learns the sender of an accepted ARP frame.
func (d *daemon) handleFrame(f *frame.ARP) {
	if !d.isWatched(f.Ifindex) {
		d.c.Count(ctrOtherIf, 1)
		return
	}
	e := Entry{Key: keyV4(uint32(f.Ifindex), f.SenderIP), Kind: KindPositive, Source: SourceARP, LLLen: 6}
	copy(e.LLAddr[:], f.SenderMAC[:])
	switch r, _ := d.c.Put(&e); r {
	case PutNew:
		d.c.Count(ctrArpNew, 1)
	case PutChanged:
		d.c.Count(ctrArpChange, 1)
	}
}

// answer tells the kernel the link-layer address of the requested entry:
// it queues the answer in the batch, which flushAnswers sends.
func (d *daemon) answer(req *rtnl.Neigh, lladdr []byte) error {
	if d.answerHook != nil {
		if err := d.answerHook(req, lladdr); err != nil {
			return err
		}
		d.c.Count(ctrAppSuccess, 1)
		return nil
	}
	n, err := rtnl.PutNeighAnswer(d.batch[d.batchLen:], d.req.NextSeq(), req, lladdr)
	if err != nil {
		return err
	}
	d.batchLen += n
	d.batchN++
	if d.batchN == answerBatch {
		d.flushAnswers()
	}
	return nil
}

// flushAnswers sends the queued answers, in one write, and counts them.
// The kernel reports an answer it refuses (ENOENT: the entry went away)
// on the request socket, where handleMessages counts it.
func (d *daemon) flushAnswers() {
	if d.batchN == 0 {
		return
	}
	if err := d.req.Send(d.batch[:d.batchLen]); err != nil {
		d.c.Count(ctrAnswerErrors, uint64(d.batchN))
	} else {
		d.c.Count(ctrAppSuccess, uint64(d.batchN))
	}
	d.batchLen, d.batchN = 0, 0
}

// probe broadcasts an ARP request for target on interface ifindex if the
// rate limit allows, and reports whether it was sent. The request comes
// from the interface's address that the kernel itself would send it from
// (ifAddrs.Source); an interface without an IPv4 address cannot probe.
func (d *daemon) probe(ifindex int32, target [4]byte) bool {
	w := d.links[ifindex]
	if w == nil {
		d.c.Count(ctrProbeErrors, 1)
		return false
	}
	src, ok := w.addrs.Source(target)
	if !ok {
		d.c.Count(ctrProbeErrors, 1)
		return false
	}
	if !d.bucket.allow(d.monotonic()) {
		d.c.Count(ctrProbesSuppressed, 1)
		return false
	}
	var err error
	if d.probeHook != nil {
		err = d.probeHook(w, src, target)
	} else {
		if !w.infoOK {
			if w.info, err = afpacket.LookupIface(w.name); err == nil {
				w.infoOK = true
			}
		}
		if err == nil {
			frame.BuildARPProbe(&d.probeBuf, w.info.MAC, src, target)
			err = d.pkt.Send(d.probeBuf[:], w.info.Index, frame.BroadcastMAC)
		}
	}
	if err != nil {
		d.c.Count(ctrProbeErrors, 1)
		return false
	}
	d.c.Count(ctrProbesSent, 1)
	return true
}

// handleLink follows interfaces that appear, change index or go away.
func (d *daemon) handleLink(l *rtnl.Link) {
	idx := l.Ifindex
	if len(d.named) == 0 {
		if l.MsgType == unix.RTM_DELLINK {
			delete(d.links, idx)
		} else if w := d.links[idx]; w == nil {
			d.links[idx] = &watchedIf{name: string(l.IfName()), index: idx}
		} else if w.name != string(l.IfName()) {
			// A rename keeps the index and the addresses.
			w.name, w.infoOK = string(l.IfName()), false
		}
		return
	}
	var w *watchedIf
	for _, n := range d.named {
		if n.name == string(l.IfName()) {
			w = n
		}
	}
	if w == nil {
		return
	}
	if l.MsgType == unix.RTM_DELLINK {
		if w.index == idx {
			delete(d.links, idx)
			w.index, w.infoOK = 0, false
			w.addrs.Reset()
			d.log.logf(logWarning, "interface %s is gone", w.name)
		}
		return
	}
	if w.index == idx {
		w.infoOK = false // its MAC may have changed
		return
	}
	if w.index != 0 {
		delete(d.links, w.index)
	}
	// NB: a new index is a new device: the addresses of the old one went
	// with it, and the new one's arrive as RTM_NEWADDR after this message.
	w.index, w.infoOK = idx, false
	w.addrs.Reset()
	d.links[idx] = w
	if !d.ready {
		return // the initial link dump: newDaemon sets it up
	}
	d.log.logf(logInfo, "interface %s is back as index %d", w.name, idx)
	// NB: a new index is a new device, whose sysctls start from the
	// kernel's defaults and were never adjusted; the values saved for the
	// device that went away are no longer its originals. Forget them so
	// that adjustSysctls saves the new device's own (also when the
	// RTM_DELLINK was lost in an overrun).
	if err := d.c.ClearOriginal(w.name, familyIPv4); err != nil {
		d.log.logf(logErr, "%v", err)
	}
	if err := adjustSysctls(d.c, w.name, d.o.active, d.o.noKernel); err != nil {
		d.log.logf(logErr, "adjust sysctls of %s: %v", w.name, err)
	}
	if len(d.named) == 1 && d.pkt != nil {
		if p, err := afpacket.Open(idx, 0); err == nil {
			d.pkt.Close() // which also takes it out of the poller
			d.pkt = p
			if err := d.poll.add(p.Fd(), pollPkt); err != nil {
				d.log.logf(logErr, "packet socket on %s: %v", w.name, err)
			}
		} else {
			d.log.logf(logErr, "packet socket on %s: %v", w.name, err)
		}
	}
	d.again |= dumpNeighs // learn what the kernel already knows about it
}

// handleAddr keeps the address lists of the watched interfaces current,
// from the startup dump and the kernel's RTM_NEWADDR and RTM_DELADDR.
func (d *daemon) handleAddr(m *rtnl.Addr) {
	if m.Family != unix.AF_INET || (!m.HasLocal && !m.HasAddress) {
		return
	}
	w := d.links[m.Ifindex]
	if w == nil {
		return
	}
	a := ifAddr{Local: m.Local, Peer: m.Address, PrefixLen: m.PrefixLen, Scope: m.Scope,
		Secondary: m.Flags&unix.IFA_F_SECONDARY != 0}
	// NB: the kernel sends IFA_LOCAL and IFA_ADDRESS for every IPv4
	// address, equal unless the link is point-to-point; either alone
	// stands for both.
	if !m.HasLocal {
		a.Local = m.Address
	}
	if !m.HasAddress {
		a.Peer = m.Local
	}
	if m.MsgType == unix.RTM_DELADDR {
		w.addrs.Delete(&a)
		return
	}
	if !w.addrs.Add(a) && !d.addrFull {
		d.addrFull = true
		d.log.logf(logWarning, "interface %s has more than %d IPv4 addresses: probes are sent only from the first %d", w.name, ifAddrMax, ifAddrMax)
	}
}

// handleMessages handles every message of one netlink datagram.
func (d *daemon) handleMessages(b []byte) {
	it := rtnl.Messages(b)
	for it.Next(&d.msg) {
		m := &d.msg
		if d.pending != 0 && m.Seq == d.pendingSeq && m.Flags&unix.NLM_F_DUMP_INTR != 0 {
			d.again |= d.pending // the table changed during the dump
		}
		switch m.Type {
		case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH, unix.RTM_GETNEIGH:
			if err := rtnl.DecodeNeigh(m, &d.neigh); err != nil {
				d.c.Count(ctrNlBad, 1)
				continue
			}
			d.handleNeigh(&d.neigh)
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if err := rtnl.DecodeLink(m, &d.link); err != nil {
				d.c.Count(ctrNlBad, 1)
				continue
			}
			d.handleLink(&d.link)
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			if err := rtnl.DecodeAddr(m, &d.addr); err != nil {
				d.c.Count(ctrNlBad, 1)
				continue
			}
			d.handleAddr(&d.addr)
		case unix.NLMSG_DONE:
			if d.pending != 0 && m.Seq == d.pendingSeq {
				d.pending, d.pendingDone = 0, true
			}
		case unix.NLMSG_ERROR:
			if err := rtnl.DecodeError(m, &d.nlerr); err != nil {
				d.c.Count(ctrNlBad, 1)
				continue
			}
			if d.nlerr.Errno == 0 {
				continue
			}
			if d.pending != 0 && d.nlerr.Seq == d.pendingSeq {
				// EBUSY and the like: try again.
				d.again |= d.pending
				d.pending = 0
				continue
			}
			d.c.Count(ctrAnswerErrors, 1) // ENOENT: the entry went away first
		case unix.NLMSG_OVERRUN:
			d.again = dumpAll
		}
	}
	if it.Err() != nil {
		d.c.Count(ctrNlBad, 1)
	}
}

// drainNetlink handles what is queued on conn, at most max datagrams, and
// then sends the answers it queued.
func (d *daemon) drainNetlink(conn *rtnl.Conn, max int) {
	defer d.flushAnswers()
	for i := 0; i < max; i++ {
		b, err := conn.Recv()
		switch {
		case err == nil:
			d.handleMessages(b)
			d.dirty = true
			if i == 0 {
				// The first request after a quiet moment is
				// answered at once, not after the read that
				// finds nothing more; a burst is batched.
				d.flushAnswers()
			}
		case err == unix.EAGAIN || err == unix.EINTR:
			return
		case err == rtnl.ErrOverrun || err == rtnl.ErrTruncated:
			// Messages were lost: what the kernel told us is
			// incomplete, so dump its table again.
			d.c.Count(ctrNlOverruns, 1)
			d.again = dumpAll
		case err == rtnl.ErrForeign:
		default:
			d.log.logf(logErr, "netlink receive: %v", err)
			return
		}
	}
}

// drainPackets handles the queued ARP frames, at most max.
func (d *daemon) drainPackets(max int) {
	for i := 0; i < max; i++ {
		b, ll, err := d.pkt.Recv()
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR {
				d.log.logf(logErr, "packet receive: %v", err)
			}
			return
		}
		drop := frame.DecodeARP(&d.frame, b, ll)
		d.dirty = true
		d.c.Count(ctrDropBase+int(drop), 1)
		if drop == frame.DropNone {
			d.handleFrame(&d.frame)
		}
	}
}

// A dumpKind names one of the kernel's tables that the daemon dumps, as a
// bit, so that a set of them fits in one value.
type dumpKind uint8

const (
	dumpLinks dumpKind = 1 << iota
	dumpAddrs
	dumpNeighs
	dumpAll = dumpLinks | dumpAddrs | dumpNeighs
)

// String names the table, for errors.
func (k dumpKind) String() string {
	switch k {
	case dumpLinks:
		return "link"
	case dumpAddrs:
		return "address"
	}
	return "neighbour"
}

// requestDump asks the kernel for table k: its links, IPv4 addresses or
// IPv4 neighbours. The replies are handled as they come, in
// handleMessages, which sets pendingDone at the end.
//
// NB: an address dump rebuilds the address lists from scratch; until its
// replies are in (a few milliseconds), probes find no address and count
// as errors, which is the price of not keeping a second copy of every
// list.
func (d *daemon) requestDump(k dumpKind) error {
	seq := d.req.NextSeq()
	var n int
	var err error
	switch k {
	case dumpLinks:
		n, err = rtnl.PutLinkDump(d.out[:], seq)
	case dumpAddrs:
		n, err = rtnl.PutAddrDump(d.out[:], seq, unix.AF_INET)
	default:
		n, err = rtnl.PutNeighDump(d.out[:], seq, unix.AF_INET)
	}
	if err == nil {
		err = d.req.Send(d.out[:n])
	}
	if err != nil {
		return fmt.Errorf("%s dump: %w", k, err)
	}
	if k == dumpAddrs {
		for _, w := range d.links {
			w.addrs.Reset()
		}
	}
	d.pendingSeq, d.pending, d.pendingDone = seq, k, false
	d.again &^= k
	return nil
}

// dumpNow runs dump k to its end before returning, handling the replies
// (and nothing else) as they come.
func (d *daemon) dumpNow(k dumpKind) error {
	if err := d.requestDump(k); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	fds := []unix.PollFd{{Fd: int32(d.req.Fd()), Events: unix.POLLIN}}
	for !d.pendingDone {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s dump: the kernel did not finish it in 30 s", k)
		}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("%s dump: %w", k, err)
		}
		d.drainNetlink(d.req, 1<<20)
		if d.pending == 0 && !d.pendingDone {
			return fmt.Errorf("%s dump: the kernel refused it", k)
		}
	}
	return nil
}

// saveState writes the counters to the file (cheap: one page in the page
// cache) so that arpd -s shows them.
func (d *daemon) saveState() {
	if d.pkt != nil {
		if st, err := d.pkt.Stats(); err == nil {
			d.c.state.counters[ctrPktKernelDrops] += st.Drops
		}
	}
	if err := d.c.SaveState(); err != nil {
		d.log.logf(logErr, "%v", err)
	}
	d.dirty = false
}

// statsLine returns every counter as one line.
func (d *daemon) statsLine() string {
	b := fmt.Appendf(nil, "statistics: entries=%d capacity=%d", d.c.Entries(), d.c.Capacity())
	for i, name := range counterNames {
		b = fmt.Appendf(b, " %s=%d", name, d.c.Counter(i))
	}
	return string(b)
}

// The poller tags of the loop's descriptors.
const (
	pollNL = iota
	pollReq
	pollPkt
	pollWake
)

// loop is the event loop: it returns when a signal asks the daemon to
// exit.
func (d *daemon) loop() {
	syncEvery := d.o.syncEvery
	nextSync := time.Now().Add(syncEvery)
	nextSave := time.Now().Add(time.Second)
	for {
		if sig := d.signals.Swap(0); sig != 0 {
			if sig&(sigSync|sigStats|sigExit) != 0 {
				if err := d.c.Sync(); err != nil {
					d.log.logf(logErr, "%v", err)
				}
			}
			if sig&sigStats != 0 {
				d.saveState()
				d.log.logf(logInfo, "%s", d.statsLine())
			}
			if sig&sigExit != 0 {
				return
			}
		}
		if d.again != 0 && d.pending == 0 {
			// The lowest bit first: links, then addresses, then
			// neighbours, each of which hangs off the one before.
			k := d.again & -d.again
			if err := d.requestDump(k); err != nil {
				d.log.logf(logErr, "%v", err)
			} else if k == dumpNeighs {
				d.c.Count(ctrRedumps, 1)
			}
		}
		deadline := nextSave
		if nextSync.Before(deadline) {
			deadline = nextSync
		}
		ready, err := d.poll.wait(deadline)
		if err != nil {
			d.log.logf(logErr, "poll: %v", err)
			time.Sleep(10 * time.Millisecond)
		}
		if ready&(1<<pollWake) != 0 {
			var b [8]byte
			unix.Read(d.wakeFd, b[:])
		}
		// Requests first: they are what the kernel waits on.
		if ready&(1<<pollNL) != 0 {
			d.drainNetlink(d.nl, 256)
		}
		if ready&(1<<pollReq) != 0 {
			d.drainNetlink(d.req, 256)
		}
		if ready&(1<<pollPkt) != 0 {
			d.drainPackets(256)
		}
		now := time.Now()
		if !now.Before(nextSave) {
			if d.dirty {
				d.saveState()
			}
			nextSave = now.Add(time.Second)
		}
		if !now.Before(nextSync) {
			d.saveState()
			if err := d.c.Sync(); err != nil {
				d.log.logf(logErr, "%v", err)
			}
			nextSync = now.Add(syncEvery)
		}
	}
}
