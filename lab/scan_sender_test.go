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
	s := &scanSender{cfg: cfg, order: order, t0: t0, dead: cfg.deadAddrs(),
		rng: rand.New(rand.NewPCG(cfg.seed, 0)), liveAt: make([]time.Duration, cfg.rounds()*cfg.live())}
	if order == "perm" {
		s.perm = s.rng.Perm(len(s.dead))
	}
	return s
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

// liveDue returns when live datagram k is due, from the scan's start:
// host k%live at its own offset in second k/live.
func (s *scanSender) liveDue(k int) time.Duration {
	n := s.cfg.live()
	return time.Duration(k/n)*time.Second + time.Duration(k%n)*time.Second/time.Duration(n)
}

// run sends the run's datagrams from a UDP socket opened in the calling
// thread's namespace (call it inside Lab.Do, which locks the goroutine to
// that thread): the scan at cfg.rate for cfg.dur, in steps of at least
// half a millisecond, and the live datagrams as they fall due. After a
// stall it catches up at most 50 ms of the scan at once and leaves out the
// rest (counted), so that a burst does not overflow the router's backlog.
func (s *scanSender) run(in *interrupt) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20); err != nil {
		return err
	}
	gap := time.Second / time.Duration(s.cfg.rate)
	maxBurst := s.cfg.rate / 20
	nLive := len(s.liveAt)
	scanTo := &unix.SockaddrInet4{Port: 9}
	liveTo := &unix.SockaddrInet4{Port: 9}
	payload := make([]byte, 4)
	start := time.Now()
	s.from = start.Sub(s.t0)
	k := 0
	for !in.hit.Load() {
		el := time.Since(start)
		if el >= s.cfg.dur {
			break
		}
		due := int(el/gap) + 1
		if behind := due - s.scanSent - s.scanErrs - s.skipped; behind > maxBurst {
			s.skipped += behind - maxBurst
		}
		for s.scanSent+s.scanErrs+s.skipped < due {
			scanTo.Addr = s.next()
			if unix.Sendto(fd, payload[:1], unix.MSG_DONTWAIT, scanTo) != nil {
				s.scanErrs++
			} else {
				s.scanSent++
			}
		}
		for ; k < nLive && s.liveDue(k) <= el; k++ {
			liveTo.Addr = s.cfg.liveAddr(k % s.cfg.live())
			binary.BigEndian.PutUint32(payload, uint32(k))
			at := time.Since(s.t0)
			if unix.Sendto(fd, payload, unix.MSG_DONTWAIT, liveTo) != nil {
				s.liveErrs++
				continue
			}
			s.liveAt[k] = at
		}
		wake := time.Duration(due) * gap
		if k < nLive {
			wake = min(wake, s.liveDue(k))
		}
		time.Sleep(max(wake-time.Since(start), 500*time.Microsecond))
	}
	s.to = time.Since(s.t0)
	return nil
}

// achieved returns the scan's rate as sent: datagrams the kernel took per
// second of the scan.
func (s *scanSender) achieved() float64 {
	if d := s.to - s.from; d > 0 {
		return float64(s.scanSent) / d.Seconds()
	}
	return 0
}
