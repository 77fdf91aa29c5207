package lab

// The scanner: dead addresses of the segment at a fixed rate, in one of
// two orders, and one datagram a second to each live host, all from the
// scanner's namespace through the router.

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// scanSender sends one run's datagrams. Times are relative to t0, the
// clock the responder stamps arrivals with.
type scanSender struct {
	cfg   *scanConfig
	order string // "perm": a random permutation of the dead addresses per sweep, as zmap and masscan scan; "random": each independently
	t0    time.Time
	dead  [][4]byte
	rng   *rand.Rand
	perm  []int
	pos   int
	slots []int // the live hosts in the order they are sent each second

	scanTo, liveTo   unix.SockaddrInet4
	scanTo6, liveTo6 unix.SockaddrInet6 // over IPv6 (cfg.v6)
	payload          [4]byte

	liveAt   []time.Duration // by live datagram (round × live + host): when it was sent, 0 if not
	scanSent int             // scan datagrams the kernel took
	scanErrs int             // scan datagrams it refused
	liveErrs int             // live datagrams it refused
	skipped  int             // scan datagrams left out to keep the pace after a stall
	from, to time.Duration   // the scan's start and end
}

// newScanSender returns the sender of a run with cfg in order, its
// times relative to t0. Every run with the same seed sends the same
// addresses in the same order.
func newScanSender(cfg *scanConfig, order string, t0 time.Time) *scanSender {
	s := &scanSender{cfg: cfg, order: order, t0: t0,
		rng: rand.New(rand.NewPCG(cfg.seed, 0)), liveAt: make([]time.Duration, cfg.rounds()*cfg.live()),
		scanTo: unix.SockaddrInet4{Port: 9}, liveTo: unix.SockaddrInet4{Port: 9},
		scanTo6: unix.SockaddrInet6{Port: 9}, liveTo6: unix.SockaddrInet6{Port: 9}}
	if !cfg.v6 {
		s.dead = cfg.deadAddrs()
	}
	// NB: each host at a random place in the second, known and new
	// mixed, and not from the scan's own stream: the kernel retries each
	// 1 s, so a scan that fills the table frees it again at the same
	// places of every second; hosts sent in a fixed order (the known
	// first) would meet those places or miss them together.
	s.slots = rand.New(rand.NewPCG(cfg.seed, 1)).Perm(cfg.live())
	if order == "perm" && !cfg.v6 {
		s.perm = s.rng.Perm(len(s.dead))
	}
	return s
}

// next6 returns the next dead IPv6 address to send to: one at random in
// the /64, as a scan of a /64 can only be (it never meets an address
// twice, so the order perm is the same).
func (s *scanSender) next6() [16]byte {
	for {
		if a, ok := s.cfg.deadAddr6(s.rng.Uint64()); ok {
			return a
		}
	}
}

// next returns the next dead address to send to.
func (s *scanSender) next() [4]byte {
	if s.order != "perm" {
		return s.dead[s.rng.IntN(len(s.dead))]
	}
	if s.pos == len(s.perm) {
		s.perm, s.pos = s.rng.Perm(len(s.dead)), 0
	}
	s.pos++
	return s.dead[s.perm[s.pos-1]]
}

// liveDue returns when the q-th live datagram sent is due, from the
// scan's start: the one in slot q%live of second q/live.
func (s *scanSender) liveDue(q int) time.Duration {
	n := s.cfg.live()
	return time.Duration(q/n)*time.Second + time.Duration(q%n)*time.Second/time.Duration(n)
}

// run sends the run's datagrams from a UDP socket opened in the calling
// thread's namespace (call it inside Lab.Do, which locks the goroutine to
// that thread): the scan at cfg.rate for cfg.dur and the live datagrams,
// each as it falls due, in steps of at least half a millisecond.
//
// NB: within a step the datagrams go in the order they fell due, not the
// scan first: under a full table the kernel frees room (expired entries)
// only when a new neighbour is asked for, and the first datagrams after
// a pause take it. Sending the scan's share of a step first would hand
// the scan every such room, which no real segment does.
//
// After a stall it catches up at most 50 ms of the scan (50 datagrams
// at least) at once and leaves out the rest (counted), so that a burst
// does not overflow the router's backlog.
func (s *scanSender) run(in *interrupt) error {
	family := unix.AF_INET
	if s.cfg.v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20); err != nil {
		return err
	}
	gap := time.Second / time.Duration(s.cfg.rate)
	maxBurst := max(s.cfg.rate/20, 50)
	start := time.Now()
	s.from = start.Sub(s.t0)
	q := 0 // the next live datagram, in the order they are sent
	for !in.hit.Load() {
		el := time.Since(start)
		if el >= s.cfg.dur {
			break
		}
		if behind := int(el/gap) + 1 - s.scanIndex(); behind > maxBurst {
			s.skipped += behind - maxBurst
		}
		for {
			scanDue := time.Duration(s.scanIndex()) * gap
			if q < len(s.liveAt) && s.liveDue(q) <= min(el, scanDue) {
				s.sendLive(fd, q)
				q++
			} else if scanDue <= el {
				s.sendScan(fd)
			} else {
				break
			}
		}
		wake := time.Duration(s.scanIndex()) * gap
		if q < len(s.liveAt) {
			wake = min(wake, s.liveDue(q))
		}
		time.Sleep(max(wake-time.Since(start), 500*time.Microsecond))
	}
	s.to = time.Since(s.t0)
	return nil
}

// scanIndex returns the number of the next scan datagram: those sent,
// refused and left out so far.
func (s *scanSender) scanIndex() int { return s.scanSent + s.scanErrs + s.skipped }

// sendScan sends the next scan datagram.
func (s *scanSender) sendScan(fd int) {
	var to unix.Sockaddr = &s.scanTo
	if s.cfg.v6 {
		s.scanTo6.Addr, to = s.next6(), &s.scanTo6
	} else {
		s.scanTo.Addr = s.next()
	}
	if unix.Sendto(fd, s.payload[:1], unix.MSG_DONTWAIT, to) != nil {
		s.scanErrs++
		return
	}
	s.scanSent++
}

// sendLive sends the q-th live datagram, which carries its number k
// (round × live + host), and records when.
func (s *scanSender) sendLive(fd, q int) {
	n := s.cfg.live()
	h := s.slots[q%n]
	k := q/n*n + h
	var to unix.Sockaddr = &s.liveTo
	if s.cfg.v6 {
		s.liveTo6.Addr, to = s.cfg.liveAddr6(h), &s.liveTo6
	} else {
		s.liveTo.Addr = s.cfg.liveAddr(h)
	}
	binary.BigEndian.PutUint32(s.payload[:], uint32(k))
	at := time.Since(s.t0)
	if unix.Sendto(fd, s.payload[:], unix.MSG_DONTWAIT, to) != nil {
		s.liveErrs++
		return
	}
	s.liveAt[k] = at
}

// achieved returns the scan's rate as sent: datagrams the kernel took per
// second of the scan.
func (s *scanSender) achieved() float64 {
	if d := s.to - s.from; d > 0 {
		return float64(s.scanSent) / d.Seconds()
	}
	return 0
}
