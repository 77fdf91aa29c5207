package main

// The daemon's dumps of the kernel's tables: the initial ones at startup,
// and those made again after an overrun, a refusal or an interface that
// came back.

import (
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
	"arpd/internal/rtnl"
)

// A dumpKind names one of the kernel's tables that the daemon dumps, as a
// bit, so that a set of them fits in one value.
type dumpKind uint8

const (
	dumpLinks dumpKind = 1 << iota
	dumpAddrs
	dumpNeighs
	dumpTables // the neighbour tables' settings: only at startup
	dumpAll    = dumpLinks | dumpAddrs | dumpNeighs
)

// String names the table, for errors.
func (k dumpKind) String() string {
	switch k {
	case dumpLinks:
		return "link"
	case dumpAddrs:
		return "address"
	case dumpTables:
		return "neighbour table"
	}
	return "neighbour"
}

// dumps is the state of the daemon's dumps: at most one in progress (the
// kernel serves one dump per socket at a time), and a set to make again.
type dumps struct {
	seq     uint32   // sequence number of the dump in progress
	pending dumpKind // the dump in progress, 0 if none
	done    bool     // the dump last in progress has ended
	again   dumpKind // the dumps to make again when possible
}

// started records that dump k was asked for with sequence number seq.
func (s *dumps) started(k dumpKind, seq uint32) {
	s.seq, s.pending, s.done = seq, k, false
	s.again &^= k
}

// reply notes a message that may belong to the dump in progress: one
// flagged NLM_F_DUMP_INTR means the table changed during the dump, which
// is then made again.
func (s *dumps) reply(m *rtnl.Msg) {
	if s.pending != 0 && m.Seq == s.seq && m.Flags&unix.NLM_F_DUMP_INTR != 0 {
		s.again |= s.pending
	}
}

// end notes the NLMSG_DONE of sequence number seq.
func (s *dumps) end(seq uint32) {
	if s.pending != 0 && seq == s.seq {
		s.pending, s.done = 0, true
	}
}

// refused notes an error for sequence number seq, and reports whether it
// was the dump in progress, which is then made again.
func (s *dumps) refused(seq uint32) bool {
	if s.pending == 0 || seq != s.seq {
		return false
	}
	s.again |= s.pending
	s.pending = 0
	return true
}

// redo asks for the dumps in k to be made again.
func (s *dumps) redo(k dumpKind) { s.again |= k }

// next returns the dump to make now: none while one is in progress, else
// the lowest bit of again first (links, then addresses, then neighbours,
// each of which hangs off the one before).
func (s *dumps) next() dumpKind {
	if s.pending != 0 {
		return 0
	}
	return s.again & -s.again
}

// dumpAgain asks for the next dump that is to be made again, if any.
func (d *daemon) dumpAgain() {
	k := d.dumps.next()
	if k == 0 {
		return
	}
	if err := d.requestDump(k); err != nil {
		d.log.logf(logErr, "%v", err)
	} else if k == dumpNeighs {
		d.c.Add(ctrRedumps, 1)
	}
}

// requestDump asks the kernel for table k: its links, IPv4 addresses or
// IPv4 neighbours. The replies are handled as they come, in
// handleMessages, which notes the end of the dump.
//
// NB: an address dump rebuilds the address lists from scratch; until its
// replies are in (a few milliseconds), probes find no address and count
// as errors, which is the price of not keeping a second copy of every
// list.
func (d *daemon) requestDump(k dumpKind) error {
	out := d.scratch.out[:]
	seq := d.req.NextSeq()
	var n int
	var err error
	switch k {
	case dumpLinks:
		n, err = rtnl.PutLinkDump(out, seq)
	case dumpAddrs:
		n, err = rtnl.PutAddrDump(out, seq, d.dumpFamily())
	case dumpTables:
		n, err = rtnl.PutNeighTableDump(out, seq, d.dumpFamily())
	default:
		n, err = rtnl.PutNeighDump(out, seq, d.dumpFamily())
	}
	if err == nil {
		err = d.req.Send(out[:n])
	}
	if err != nil {
		return fmtlite.Errorf("%s dump: %w", k, err)
	}
	if k == dumpAddrs {
		d.ifs.resetAddrs()
	}
	d.dumps.started(k, seq)
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
	for !d.dumps.done {
		left := time.Until(deadline)
		if left <= 0 {
			return fmtlite.Errorf("%s dump: the kernel did not finish it in 30 s", k)
		}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fmtlite.Errorf("%s dump: %w", k, err)
		}
		d.drainNetlink(d.req, 1<<20)
		if d.dumps.pending == 0 && !d.dumps.done {
			return fmtlite.Errorf("%s dump: the kernel refused it", k)
		}
	}
	return nil
}

// dumpFamily is the family of the daemon's dumps: AF_UNSPEC for both
// (the kernel then dumps its ARP and neighbour-discovery tables, and the
// addresses of both families, in one), or the one family served.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func (d *daemon) dumpFamily() uint8 {
	switch {
	case !d.o.serves(unix.AF_INET6):
		return unix.AF_INET
	case !d.o.serves(unix.AF_INET):
		return unix.AF_INET6
	}
	return unix.AF_UNSPEC
}
