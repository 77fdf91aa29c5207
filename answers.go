package main

// The daemon's answers to the kernel, sent in batches.

import (
	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/rtnl"
)

// answerBatchMax is the most answers sent in one write. A batch is also
// sent whenever the notification socket has nothing more queued, so an
// answer waits at most for the requests read after it in the same burst
// (about 1 µs each); the first datagram after the loop wakes up is
// answered on its own, at once.
const answerBatchMax = 32

// requester is the request socket as the answer batch uses it: an
// *rtnl.Conn in the daemon, a fake in tests.
type requester interface {
	Send(b []byte) error
	NextSeq() uint32
}

// answers holds answers to the kernel not yet sent. A burst of requests is
// answered with one write per answerBatchMax answers, not one each: the
// kernel handles the messages of a datagram one after the other, as if
// sent apart.
type answers struct {
	out    requester   // where batches go
	c      *cache.File // where answers sent and refused are counted
	buf    [answerBatchMax * rtnl.NeighMsgMax]byte
	used   int // bytes of buf in use
	n      int // answers in buf
	failed int // of which failures (PutNeighFailure), counted apart
}

// add queues the answer to req, the link-layer address lladdr (of a
// router, flagged NTF_ROUTER, if router), and sends the batch once it is
// full.
func (a *answers) add(req *rtnl.Neigh, lladdr []byte, router bool) error {
	var ntf uint8
	if router {
		ntf = unix.NTF_ROUTER
	}
	m, err := rtnl.PutNeighAnswerFlags(a.buf[a.used:], a.out.NextSeq(), req, lladdr, ntf)
	if err != nil {
		return err
	}
	a.queued(m)
	return nil
}

// fail queues the answer that fails req (the address is known dead), and
// sends the batch once it is full.
func (a *answers) fail(req *rtnl.Neigh) error {
	m, err := rtnl.PutNeighFailure(a.buf[a.used:], a.out.NextSeq(), req)
	if err != nil {
		return err
	}
	a.failed++
	a.queued(m)
	return nil
}

// queued takes note of an answer of m bytes just written into buf.
func (a *answers) queued(m int) {
	a.used += m
	a.n++
	if a.n == answerBatchMax {
		a.flush()
	}
}

// flush sends the queued answers, in one write, and counts them: the
// addresses as app_success, the failures as app_failed. The kernel reports
// an answer it refuses (ENOENT: the entry went away) on the request socket,
// where handleMessages counts it.
func (a *answers) flush() {
	if a.n == 0 {
		return
	}
	if err := a.out.Send(a.buf[:a.used]); err != nil {
		a.c.Add(ctrAnswerErrors, uint64(a.n))
	} else {
		a.c.Add(ctrAppSuccess, uint64(a.n-a.failed))
		a.c.Add(ctrAppFailed, uint64(a.failed))
	}
	a.used, a.n, a.failed = 0, 0, 0
}
