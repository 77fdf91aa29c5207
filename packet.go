package main

// The daemon's wire side: the ARP frames it receives, and the probes it
// broadcasts under the rate limit.

import (
	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/frame"
)

// frameSender sends a frame's payload to a link-layer address on an
// interface: an *afpacket.Conn in the daemon, a fake in tests.
type frameSender interface {
	Send(payload []byte, ifindex int32, dst [6]byte) error
}

// drainPackets handles the queued ARP frames, at most max and whatever
// else the last system call received (the loop's poll cannot see what
// waits in user space).
func (d *daemon) drainPackets(max int) {
	f := &d.scratch.frame
	for i := 0; i < max || d.pkt.Buffered() > 0; i++ {
		b, ll, err := d.pkt.Recv()
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR {
				d.log.logf(logErr, "packet receive: %v", err)
			}
			return
		}
		drop := frame.DecodeARP(f, b, ll)
		d.dirty = true
		d.c.Add(ctrDropBase+int(drop), 1)
		switch {
		case drop == frame.DropNone:
			d.handleFrame(f)
		case drop == frame.DropEthMismatch && d.ifs.watched(ll.Ifindex):
			d.reportEthMismatch(b, ll.Ifindex, [6]byte(ll.Addr[:6]))
		}
	}
}

// probeResult is what became of a probe.
type probeResult uint8

const (
	probeSent    probeResult = iota
	probeLimited             // the rate limit held it back
	probeFailed              // it could not be sent (counted as probe_errors)
)

// probe asks the segment for the address of k, if the rate limit allows
// it while leaving keep tokens in the bucket, and the probes of the last
// holdTime hold fewer of its family's kernel entries than allowed: an ARP
// request broadcast from the interface's address that the kernel itself
// would send it from (ifAddrs.Source), or a Neighbor Solicitation to the
// address's solicited-node group from the interface's link-local address.
// An interface without such an address cannot probe. Both families share
// the one rate limit (-R, -B): it bounds what the segment and the router
// see, and a solicitation costs the hosts of a segment without MLD
// snooping what a broadcast does.
func (d *daemon) probe(k *cache.Key, keep float64) probeResult {
	w, ok := d.asker(k)
	if !ok {
		return probeFailed
	}
	now := d.monotonic()
	holds := d.holdsOf(k.Family)
	if !holds.room(now) || !d.bucket.allowKeeping(now, keep) {
		d.c.Add(ctrProbesSuppressed, 1)
		return probeLimited
	}
	holds.take(k, now)
	if err := d.ask(w, k, frame.BroadcastMAC, false); err != nil {
		d.c.Add(ctrProbeErrors, 1)
		return probeFailed
	}
	d.c.Add(ctrProbesSent, 1)
	if k.Family == cache.FamilyIPv6 {
		d.c.Add(ctrProbesSent6, 1)
	}
	return probeSent
}

// asker returns the followed interface of k if it has an address to ask
// about k from, and counts a probe error when it has none.
func (d *daemon) asker(k *cache.Key) (w *watchedIf, ok bool) {
	if w = d.ifs.links[int32(k.Ifindex)]; w != nil {
		if k.Family == cache.FamilyIPv6 {
			_, ok = w.addrs6.Source()
		} else {
			_, ok = w.addrs.Source([4]byte(k.Addr[:4]))
		}
	}
	if !ok {
		d.c.Add(ctrProbeErrors, 1)
	}
	return w, ok
}

// ask sends out of w, which asker returned for k, the question for k's
// address: to the link-layer address dst (broadcast for a probe, the known
// MAC for a verification) for IPv4; for IPv6 to the solicited-node group,
// or with unicast to the address itself at dst.
func (d *daemon) ask(w *watchedIf, k *cache.Key, dst [6]byte, unicast bool) error {
	if !w.infoOK {
		info, err := afpacket.LookupIface(w.name)
		if err != nil {
			return err
		}
		w.info, w.infoOK = info, true
	}
	if k.Family == cache.FamilyIPv6 {
		return d.askND(w, k, dst, unicast)
	}
	target := [4]byte(k.Addr[:4])
	src, _ := w.addrs.Source(target)
	frame.BuildARPProbe(&d.scratch.probe, w.info.MAC, src, target)
	return d.probes.Send(d.scratch.probe[:], w.info.Index, dst)
}

// reopenPacketSocket binds a new ARP socket to interface w, which came
// back with a new index, in place of the socket bound to the old one.
func (d *daemon) reopenPacketSocket(w *watchedIf) {
	if d.reopenSocket(w, &d.pkt, afpacket.Open, pollPkt) {
		d.probes = d.pkt
	}
}

// reopenSocket opens with open a packet socket bound to w's new index in
// place of *cur, which it closes (taking it out of the poller) after its
// last drop count, and polls the new one with tag. It reports whether it
// did; a failure is logged and leaves *cur as it was.
func (d *daemon) reopenSocket(w *watchedIf, cur **afpacket.Conn, open func(int32, int) (*afpacket.Conn, error), tag uint32) bool {
	p, err := open(w.index, 0)
	if err != nil {
		d.log.logf(logErr, "packet socket on %s: %v", w.name, err)
		return false
	}
	d.countKernelDrops() // the old socket's last reading
	(*cur).Close()
	*cur = p
	if err := d.poll.add(p.Fd(), tag); err != nil {
		d.log.logf(logErr, "packet socket on %s: %v", w.name, err)
	}
	return true
}

// countKernelDrops adds the frames the kernel dropped for want of room in
// the packet socket since the last reading to pkt_kernel_drops.
func (d *daemon) countKernelDrops() {
	for _, p := range [...]*afpacket.Conn{d.pkt, d.nd} {
		if p == nil {
			continue
		}
		if st, err := p.Stats(); err == nil {
			d.c.Add(ctrPktKernelDrops, st.Drops)
		}
	}
}
