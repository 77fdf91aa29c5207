package main

// IPv6 lab tests of what the daemon learns from the wire: a far host's
// solicitation (its source and SLLAO), an unsolicited advertisement (its
// target and TLLAO), and nothing from duplicate address detection. In
// each the near kernel learns nothing itself (pinned by the labtest
// kernel tests), so what reaches the cache came from the daemon's packet
// socket.

import (
	"testing"
	"time"

	"arpd/internal/labtest"
)

// TestNDLabLearnsFromNS: a far host that resolves another far address
// solicits it from its own address with its MAC as SLLAO, to a group the
// near side has not joined; the daemon, listening to every multicast
// group, learns the solicitation's source.
func TestNDLabLearnsFromNS(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	src, absent := labtest.Host6(0x71), labtest.Host6(0x72)
	d.AddAddr6(d.Far, d.FarIf, true, src)
	p := d.startArpd(t, d.NearIf)
	before := labtest.Stats(t, d.DB)

	d.SendUDP6Src(d.Far, src, absent, 9, nil)
	d.waitRow6(5*time.Second, src, labtest.MACString(labtest.FarMAC))
	if _, ok := listDBRows(t, d.DB)[rowKey6(d.NearIdx, absent)]; ok {
		t.Errorf("an entry for the solicited target %s, which nobody has", labtest.IP6String(absent))
	}
	d.waitStats(3*time.Second, "a new binding from a solicitation", func(st map[string]uint64) bool {
		return st[statNDNew] > before[statNDNew]
	})
	p.RequireRunning("after learning from a solicitation")
}

// TestNDLabLearnsFromNA: a far host that takes an address with
// ndisc_notify=1 advertises it to ff02::1 unsolicited, with its MAC as
// TLLAO, once its duplicate address detection is over; the daemon learns
// the advertisement's target.
func TestNDLabLearnsFromNA(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	host := labtest.Host6(0x81)
	far := d.WatchND(d.Far, d.FarIf)
	p := d.startArpd(t, d.NearIf)
	before := labtest.Stats(t, d.DB)

	d.Sysctl(d.Far, "net/ipv6/conf/"+d.FarIf+"/ndisc_notify", "1")
	d.AddAddr6(d.Far, d.FarIf, false, host)
	if seen, ok := far.Wait(5*time.Second, func(m labtest.ND) bool { return m.Type == labtest.NDNeighAdvert && m.Target == host }); !ok {
		t.Fatalf("the far host never advertised %s: %+v", labtest.IP6String(host), seen)
	}
	d.waitRow6(3*time.Second, host, labtest.MACString(labtest.FarMAC))
	d.waitStats(3*time.Second, "a new binding from an advertisement", func(st map[string]uint64) bool {
		return st[statNDNew] > before[statNDNew]
	})
	p.RequireRunning("after learning from an advertisement")
}

// TestNDLabIgnoresDAD: a far host that takes an address with duplicate
// address detection (and ndisc_notify 0, so no advertisement follows)
// solicits it from ::, which binds nothing: the daemon counts it as
// dropped and learns nothing for the address.
func TestNDLabIgnoresDAD(t *testing.T) {
	t.Parallel()
	d := newDaemonLab6(t)
	host := labtest.Host6(0x91)
	far := d.WatchND(d.Far, d.FarIf)
	p := d.startArpd(t, d.NearIf)
	before := labtest.Stats(t, d.DB)

	d.AddAddr6(d.Far, d.FarIf, false, host)
	if seen, ok := far.Wait(5*time.Second, func(m labtest.ND) bool { return m.FromDAD() && m.Target == host }); !ok {
		t.Fatalf("the far host never ran duplicate address detection for %s: %+v", labtest.IP6String(host), seen)
	}
	d.waitStats(3*time.Second, "the detection's solicitation dropped", func(st map[string]uint64) bool {
		return st[statNDDropDAD] > before[statNDDropDAD]
	})
	if r, ok := listDBRows(t, d.DB)[rowKey6(d.NearIdx, host)]; ok {
		t.Errorf("an entry learned from duplicate address detection: %+v", r)
	}
	if st := labtest.Stats(t, d.DB); st[statNDNew] != before[statNDNew] {
		t.Errorf("%s went from %d to %d on a detection's solicitation", statNDNew, before[statNDNew], st[statNDNew])
	}
	p.RequireRunning("after a duplicate address detection")
}
