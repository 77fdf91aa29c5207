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

// drainPackets handles the queued ARP frames, at most max.
func (d *daemon) drainPackets(max int) {
	f := &d.scratch.frame
	for i := 0; i < max; i++ {
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

// probe broadcasts an ARP request for target on interface ifindex if the
// rate limit allows it while leaving keep tokens in the bucket, and the
// probes of the last holdTime hold fewer kernel entries than allowed. The
// request comes from the interface's address that the kernel itself would
// send it from (ifAddrs.Source); an interface without an IPv4 address
// cannot probe.
func (d *daemon) probe(k *cache.Key, keep float64) probeResult {
	ifindex, target := int32(k.Ifindex), [4]byte(k.Addr[:4])
	w, src, ok := d.requestSource(ifindex, target)
	if !ok {
		return probeFailed
	}
	now := d.monotonic()
	if !d.holds.room(now) || !d.bucket.allowKeeping(now, keep) {
		d.c.Add(ctrProbesSuppressed, 1)
		return probeLimited
	}
	d.holds.take(k, now)
	if err := d.sendRequest(w, &d.scratch.probe, src, target, frame.BroadcastMAC); err != nil {
		d.c.Add(ctrProbeErrors, 1)
		return probeFailed
	}
	d.c.Add(ctrProbesSent, 1)
	return probeSent
}

// requestSource returns the followed interface ifindex and its address
// that a request for target comes from (ifAddrs.Source), and counts a
// probe error when there is none.
func (d *daemon) requestSource(ifindex int32, target [4]byte) (w *watchedIf, src [4]byte, ok bool) {
	if w = d.ifs.links[ifindex]; w != nil {
		src, ok = w.addrs.Source(target)
	}
	if !ok {
		d.c.Add(ctrProbeErrors, 1)
	}
	return w, src, ok
}

// sendRequest builds in b the ARP request for target from w's MAC and
// src, and sends it out of w to the link-layer address dst.
func (d *daemon) sendRequest(w *watchedIf, b *[frame.ARPLen]byte, src, target [4]byte, dst [6]byte) error {
	if !w.infoOK {
		info, err := afpacket.LookupIface(w.name)
		if err != nil {
			return err
		}
		w.info, w.infoOK = info, true
	}
	frame.BuildARPProbe(b, w.info.MAC, src, target)
	return d.probes.Send(b[:], w.info.Index, dst)
}

// reopenPacketSocket binds a new packet socket to interface w, which came
// back with a new index, in place of the socket bound to the old one.
func (d *daemon) reopenPacketSocket(w *watchedIf) {
	p, err := afpacket.Open(w.index, 0)
	if err != nil {
		d.log.logf(logErr, "packet socket on %s: %v", w.name, err)
		return
	}
	d.countKernelDrops() // the old socket's last reading
	d.pkt.Close()        // which also takes it out of the poller
	d.pkt, d.probes = p, p
	if err := d.poll.add(p.Fd(), pollPkt); err != nil {
		d.log.logf(logErr, "packet socket on %s: %v", w.name, err)
	}
}

// countKernelDrops adds the frames the kernel dropped for want of room in
// the packet socket since the last reading to pkt_kernel_drops.
func (d *daemon) countKernelDrops() {
	if d.pkt == nil {
		return
	}
	if st, err := d.pkt.Stats(); err == nil {
		d.c.Add(ctrPktKernelDrops, st.Drops)
	}
}
