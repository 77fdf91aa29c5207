package main

// The daemon's kernel side: reading the rtnetlink sockets and handing each
// message to the code that owns it.

import (
	"bytes"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// drainNetlink handles what is queued on conn, at most max datagrams and
// whatever else the last system call received (the loop's poll cannot see
// what waits in user space). The answers it queues are sent after the
// first datagram (the first request after a quiet moment is answered at
// once, not after the read that finds nothing more) and when it stops; in
// between, a burst is answered in batches.
func (d *daemon) drainNetlink(conn *rtnl.Conn, max int) {
	for i := 0; ; i++ {
		b, err := conn.Recv()
		more := d.netlinkRead(b, err)
		last := !more || (i >= max-1 && conn.Buffered() == 0)
		if i == 0 || last {
			d.answers.flush()
		}
		if last {
			return
		}
	}
}

// netlinkRead handles the outcome of one read of a netlink socket, and
// reports whether the socket may hold more.
func (d *daemon) netlinkRead(b []byte, err error) (more bool) {
	switch {
	case err == nil:
		d.handleMessages(b)
		d.dirty = true
	case err == unix.EAGAIN || err == unix.EINTR:
		return false
	case err == rtnl.ErrOverrun || err == rtnl.ErrTruncated:
		// Messages were lost: what the kernel told us is incomplete,
		// so dump its table again.
		d.c.Add(ctrNlOverruns, 1)
		d.dumps.redo(dumpAll)
	case err == rtnl.ErrForeign:
	default:
		d.log.logf(logErr, "netlink receive: %v", err)
		return false
	}
	return true
}

// handleMessages handles every message of one netlink datagram.
func (d *daemon) handleMessages(b []byte) {
	s := &d.scratch
	it := rtnl.Messages(b)
	for it.Next(&s.msg) {
		m := &s.msg
		d.dumps.reply(m)
		var err error
		switch m.Type {
		case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH, unix.RTM_GETNEIGH:
			if err = rtnl.DecodeNeigh(m, &s.neigh); err == nil {
				d.handleNeigh(&s.neigh)
			}
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if err = rtnl.DecodeLink(m, &s.link); err == nil {
				d.handleLink(&s.link)
			}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			if err = rtnl.DecodeAddr(m, &s.addr); err == nil {
				d.handleAddr(&s.addr)
			}
		case unix.RTM_NEWNEIGHTBL:
			if err = rtnl.DecodeNeighTable(m, &s.table); err == nil {
				d.handleTable(&s.table)
			}
		case unix.NLMSG_DONE:
			d.dumps.end(m.Seq)
		case unix.NLMSG_ERROR:
			if err = rtnl.DecodeError(m, &s.nlerr); err == nil {
				d.handleError(&s.nlerr)
			}
		case unix.NLMSG_OVERRUN:
			d.dumps.redo(dumpAll)
		}
		if err != nil {
			d.c.Add(ctrNlBad, 1)
		}
	}
	if it.Err() != nil {
		d.c.Add(ctrNlBad, 1)
	}
}

// handleTable takes the table cap (gc_thresh3) of the kernel's ARP and
// neighbour-discovery tables from their dump, for the probes' holds.
func (d *daemon) handleTable(t *rtnl.NeighTable) {
	if !t.HasThresh3 {
		return
	}
	name := t.Name[:]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	switch string(name) {
	case "arp_cache":
		d.tableCap = int(min(t.Thresh3, 1<<30))
	case "ndisc_cache":
		d.tableCap6 = int(min(t.Thresh3, 1<<30))
	}
}

// handleError handles the kernel's acknowledgement of one of our requests:
// a refused dump is made again; a refused answer is counted (ENOENT: the
// entry went away first), except the ENOENT of a claim's replace message.
func (d *daemon) handleError(e *rtnl.ErrorMsg) {
	if e.Errno == 0 {
		return
	}
	if d.dumps.refused(e.Seq) {
		return // EBUSY and the like: it is made again
	}
	if e.Errno == unix.ENOENT && d.claims.isReplace(e.Seq) {
		return // a put-back or a move for an entry the kernel no longer has
	}
	d.c.Add(ctrAnswerErrors, 1)
}
