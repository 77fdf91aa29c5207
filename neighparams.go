package main

// The neighbour parameters arpd adjusts, app_probes and mcast_probes of a
// device (shown in /proc/sys as app_solicit and mcast_solicit), read from
// the kernel's RTM_GETNEIGHTBL dump and set with RTM_SETNEIGHTBL, so that
// the daemon needs no writable /proc/sys (a systemd unit with
// ProtectKernelTunables=, a procd jail).

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/fmtlite"
	"arpd/internal/rtnl"
)

// errNoDevice says the interface does not exist (anymore).
var errNoDevice = errors.New("no such interface")

// errNoParams says the family's table has no parameters for the
// interface: a device without IPv6 (IPv6 off in the kernel, or a device
// the kernel gave none, such as one with an MTU below 1280).
var errNoParams = errors.New("no neighbour parameters")

// A paramStore reads and sets an interface's two neighbour parameters in
// the table of one family (cache.FamilyIPv4 or cache.FamilyIPv6): the
// rtnetlink one in the daemon, a fake in tests. Its errors are
// errNoDevice and errNoParams, or say why.
type paramStore interface {
	get(family uint8, ifname string) (app, mcast int32, err error)
	set(family uint8, ifname string, app, mcast int32, setMcast bool) error
}

// tableTimeout bounds one request to the kernel's neighbour tables.
const tableTimeout = 5 * time.Second

// netlinkParams is the paramStore over an rtnetlink socket of its own,
// used one request at a time, waiting for each answer.
//
// NB: not the daemon's request socket: a request made while the loop runs
// (an interface that came back) would have to wait there among the
// answers' errors and the dumps' replies that the loop reads, and hand
// those on from inside the handler of a message.
type netlinkParams struct {
	conn *rtnl.Conn
	buf  [rtnl.NeighParamsMsgMax]byte
}

// tableName names the kernel's neighbour table of family.
func tableName(family uint8) string {
	if family == cache.FamilyIPv6 {
		return "ndisc_cache"
	}
	return "arp_cache"
}

// index returns the index of interface ifname, or errNoDevice.
//
// NB: SIOCGIFINDEX on the netlink socket: the kernel answers the
// interface ioctls on a socket of any family, so the daemon needs no
// AF_INET socket for it.
func (p *netlinkParams) index(ifname string) (int32, error) {
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return 0, errNoDevice
	}
	if err := unix.IoctlIfreq(p.conn.Fd(), unix.SIOCGIFINDEX, ifr); err != nil {
		if err == unix.ENODEV {
			return 0, errNoDevice
		}
		return 0, err
	}
	return int32(ifr.Uint32()), nil
}

// get returns the probes of ifname in family's table, from a dump of
// the family's tables.
func (p *netlinkParams) get(family uint8, ifname string) (app, mcast int32, err error) {
	idx, err := p.index(ifname)
	if err != nil {
		return 0, 0, err
	}
	seq := p.conn.NextSeq()
	n, err := rtnl.PutNeighTableDump(p.buf[:], seq, family)
	if err != nil {
		return 0, 0, err
	}
	found := false
	var t rtnl.NeighTable
	err = p.exchange(p.buf[:n], seq, func(m *rtnl.Msg) {
		if rtnl.DecodeNeighTable(m, &t) == nil && t.HasProbes && t.Ifindex == idx &&
			string(t.TableName()) == tableName(family) {
			app, mcast, found = clampInt32(t.AppProbes), clampInt32(t.McastProbes), true
		}
	})
	if err == nil && !found {
		err = errNoParams
	}
	return app, mcast, err
}

// set sets the probes of ifname in family's table: app, and mcast when
// setMcast, in one message.
func (p *netlinkParams) set(family uint8, ifname string, app, mcast int32, setMcast bool) error {
	idx, err := p.index(ifname)
	if err != nil {
		return err
	}
	seq := p.conn.NextSeq()
	n, err := rtnl.PutNeighParams(p.buf[:], seq, tableName(family), &rtnl.NeighParams{
		Ifindex: idx, AppProbes: uint32(max(app, 0)), McastProbes: uint32(max(mcast, 0)), SetMcast: setMcast})
	if err != nil {
		return err
	}
	err = p.exchange(p.buf[:n], seq, nil)
	if err == unix.ENOENT {
		// The index names no device of this table: gone since, or
		// without this family.
		return errNoParams
	}
	return err
}

// clampInt32 returns v as an int32, capped at its largest value.
func clampInt32(v uint32) int32 { return int32(min(v, 1<<31-1)) }

// exchange sends the request req, numbered seq, and reads the replies
// until its acknowledgement (the kernel's error, or nil) or the end of its
// dump, handing every other reply to it to each. Replies to earlier
// requests (one that timed out) are skipped.
func (p *netlinkParams) exchange(req []byte, seq uint32, each func(m *rtnl.Msg)) error {
	if err := p.conn.Send(req); err != nil {
		return err
	}
	deadline := time.Now().Add(tableTimeout)
	fds := []unix.PollFd{{Fd: int32(p.conn.Fd()), Events: unix.POLLIN}}
	var m rtnl.Msg
	var e rtnl.ErrorMsg
	for {
		b, err := p.conn.Recv()
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			left := time.Until(deadline)
			if left <= 0 {
				return fmtlite.Errorf("the kernel did not answer in %v", tableTimeout)
			}
			if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
				return err
			}
			continue
		case err != nil:
			return err
		}
		for it := rtnl.Messages(b); it.Next(&m); {
			switch {
			case m.Seq != seq:
			case m.Type == unix.NLMSG_DONE:
				return nil
			case m.Type == unix.NLMSG_ERROR:
				if err := rtnl.DecodeError(&m, &e); err != nil {
					return err
				}
				if e.Errno != 0 {
					return e.Errno
				}
				return nil
			case each != nil:
				each(&m)
			}
		}
	}
}
