package labtest_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"arpd/internal/labtest"
)

// TestLab6 checks the IPv6 lab: Address6 leaves no address tentative and
// the link-local addresses follow the MACs, 500 far hosts are added in one
// batch quickly and each answers, Neigh6 reads the near kernel's entry,
// and NdiscStats reads the global statistics.
func TestLab6(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	l.Address()
	l.Address6()
	for _, end := range [][3]string{{l.Near, l.NearIf, labtest.IP6String(labtest.LinkLocal(labtest.NearMAC))}, {l.Far, l.FarIf, labtest.IP6String(labtest.LinkLocal(labtest.FarMAC))}} {
		out := l.IP(end[0], "-6", "addr", "show", "dev", end[1])
		if strings.Contains(out, "tentative") || !strings.Contains(out, end[2]+"/64") || strings.Count(out, "inet6") != 2 {
			t.Errorf("%s in %s after Address6: %s; want two addresses, %s among them, none tentative", end[1], end[0], out, end[2])
		}
	}
	if st := l.NdiscStats(); st["entries"] == 0 && st["allocs"] == 0 {
		t.Errorf("NdiscStats: %v", st)
	}

	start := time.Now()
	hosts := l.AddHosts6(1, 500)
	took := time.Since(start)
	if out := l.IP(l.Far, "-6", "addr", "show", "dev", l.FarIf); strings.Count(out, "inet6") != 502 {
		t.Fatalf("%d addresses on the far side, want 502", strings.Count(out, "inet6"))
	}
	t.Logf("500 addresses in %v", took)
	if took > 5*time.Second {
		t.Errorf("500 addresses took %v", took)
	}
	for _, h := range []([16]byte){hosts[0], hosts[499], labtest.FarIP6} {
		u := l.ListenUDP6(l.Far, h, 7600)
		l.SendUDP6From(l.Near, h, 7600, []byte("hi"))
		if got, ok := u.Recv(3 * time.Second); !ok || string(got) != "hi" {
			t.Errorf("[%s]:7600 got %q (%v)", labtest.IP6String(h), got, ok)
		}
		if n := l.Neigh6(l.Near, l.NearIf, h); n.MAC != labtest.MACString(labtest.FarMAC) || n.State == "" {
			t.Errorf("near entry for %s: %+v", labtest.IP6String(h), n)
		}
	}
	if n := l.Neigh6(l.Near, l.NearIf, labtest.Host6(600)); n != (labtest.Neigh6{}) {
		t.Errorf("an entry nobody made: %+v", n)
	}
}

// TestParseNeigh6 reads the lines ip -6 neigh show prints.
func TestParseNeigh6(t *testing.T) {
	for line, want := range map[string]labtest.Neigh6{
		"": {},
		"fd77::2 lladdr 02:00:00:00:02:02 REACHABLE":    {State: "REACHABLE", MAC: "02:00:00:00:02:02"},
		"fd77::2 lladdr 02:00:00:00:02:02 router STALE": {State: "STALE", MAC: "02:00:00:00:02:02", Router: true},
		"fd77::a:99 FAILED":                             {State: "FAILED"},
		"fd77::a:99 INCOMPLETE":                         {State: "INCOMPLETE"},
	} {
		want.Line = line
		if got := labtest.ParseNeigh6(line); got != want {
			t.Errorf("ParseNeigh6(%q) = %+v, want %+v", line, got, want)
		}
	}
}

// TestParseNeighStat reads a two-CPU statistics file: counters summed,
// entries taken once, a short line refused.
func TestParseNeighStat(t *testing.T) {
	const file = "entries  allocs   res_failed\n00000008 00000001 0000000a\n00000008 00000007 00000001\n"
	st, err := labtest.ParseNeighStat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st["entries"] != 8 || st["allocs"] != 8 || st["res_failed"] != 11 {
		t.Errorf("got %v, want entries 8, allocs 8, res_failed 11", st)
	}
	for _, bad := range []string{"", "entries allocs\n", "entries allocs\n00000001\n", "entries\nzz\n"} {
		if st, err := labtest.ParseNeighStat(bad); err == nil {
			t.Errorf("ParseNeighStat(%q) = %v, want an error", bad, st)
		}
	}
}

// ndPacket builds an IPv6 packet holding an ICMPv6 message of type typ:
// body after the 4-byte type, code and checksum, then opts.
func ndPacket(src, dst [16]byte, typ uint8, body, opts []byte) []byte {
	m := append(append([]byte{typ, 0, 0, 0}, body...), opts...)
	b := make([]byte, 40, 40+len(m))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(m)))
	b[6], b[7] = 58, 255
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	return append(b, m...)
}

// ndSeeds are the packets TestParseND checks and FuzzParseND starts from.
func ndSeeds() map[string]struct {
	b    []byte
	ok   bool
	want labtest.ND
} {
	mac := labtest.FarMAC
	host := labtest.Host6(5)
	target := append(make([]byte, 4), host[:]...)
	sllao := append([]byte{1, 1}, mac[:]...)
	tllao := append([]byte{2, 1}, mac[:]...)
	na := append([]byte{labtest.NAFlagSolicited | labtest.NAFlagOverride, 0, 0, 0}, host[:]...)
	snm := labtest.SolicitedNode(host)
	type seed = struct {
		b    []byte
		ok   bool
		want labtest.ND
	}
	return map[string]seed{
		"ns": {ndPacket(labtest.NearIP6, snm, 135, target, sllao), true,
			labtest.ND{HopLimit: 255, Src: labtest.NearIP6, Dst: snm, Type: 135, Target: host, LLAddr: mac, HasLLAddr: true}},
		"dad": {ndPacket([16]byte{}, snm, 135, target, nil), true,
			labtest.ND{HopLimit: 255, Dst: snm, Type: 135, Target: host}},
		"na": {ndPacket(host, labtest.NearIP6, 136, na, tllao), true,
			labtest.ND{HopLimit: 255, Src: host, Dst: labtest.NearIP6, Type: 136, Flags: 0x60, Target: host, LLAddr: mac, HasLLAddr: true}},
		"na with sllao only": {ndPacket(host, labtest.NearIP6, 136, na, sllao), true,
			labtest.ND{HopLimit: 255, Src: host, Dst: labtest.NearIP6, Type: 136, Flags: 0x60, Target: host}},
		"ns padded, zero-length option": {append(ndPacket(labtest.NearIP6, snm, 135, target, []byte{1, 0, 1, 2, 3, 4, 5, 6}), 0, 0), true,
			labtest.ND{HopLimit: 255, Src: labtest.NearIP6, Dst: snm, Type: 135, Target: host}},
		"rs": {ndPacket(labtest.NearIP6, [16]byte{0xff, 2, 15: 2}, 133, make([]byte, 4), sllao), true,
			labtest.ND{HopLimit: 255, Src: labtest.NearIP6, Dst: [16]byte{0xff, 2, 15: 2}, Type: 133, LLAddr: mac, HasLLAddr: true}},
		"payload length short": {func() []byte {
			b := ndPacket(labtest.NearIP6, snm, 135, target, sllao)
			binary.BigEndian.PutUint16(b[4:], 4)
			return b
		}(), false, labtest.ND{}},
		"ns short":     {ndPacket(labtest.NearIP6, snm, 135, target[:10], nil), false, labtest.ND{}},
		"echo request": {ndPacket(labtest.NearIP6, host, 128, make([]byte, 4), nil), false, labtest.ND{}},
		"ipv4":         {append([]byte{0x45}, make([]byte, 60)...), false, labtest.ND{}},
	}
}

// TestParseND reads neighbour discovery messages and refuses the rest.
func TestParseND(t *testing.T) {
	for name, s := range ndSeeds() {
		got, ok := labtest.ParseND(s.b)
		if ok != s.ok || (ok && got != s.want) {
			t.Errorf("%s: ParseND = %+v, %v; want %+v, %v", name, got, ok, s.want, s.ok)
		}
	}
}

// FuzzParseND: ParseND never panics, and what it accepts is a message of
// one of the four types.
func FuzzParseND(f *testing.F) {
	for _, s := range ndSeeds() {
		f.Add(s.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := labtest.ParseND(b)
		if ok && (n.Type < labtest.NDRouterSolicit || n.Type > labtest.NDNeighAdvert) {
			t.Errorf("accepted type %d", n.Type)
		}
	})
}
