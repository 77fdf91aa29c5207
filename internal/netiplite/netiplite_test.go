package netiplite

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// same checks that ours and theirs are the same address in every way the
// package offers.
func same(t *testing.T, what string, ours Addr, theirs netip.Addr) {
	t.Helper()
	if ours.IsValid() != theirs.IsValid() || ours.Is4() != theirs.Is4() || ours.Is6() != theirs.Is6() ||
		ours.Is4In6() != theirs.Is4In6() || ours.String() != theirs.String() ||
		string(ours.AppendTo([]byte("x"))) != string(theirs.AppendTo([]byte("x"))) {
		t.Fatalf("%s: ours %v (4 %v, 6 %v, 4in6 %v), netip %v (4 %v, 6 %v, 4in6 %v)", what,
			ours, ours.Is4(), ours.Is6(), ours.Is4In6(), theirs, theirs.Is4(), theirs.Is6(), theirs.Is4In6())
	}
	if ours.IsValid() && ours.As16() != theirs.As16() {
		t.Fatalf("%s: As16 %v, netip %v", what, ours.As16(), theirs.As16())
	}
	if ours.Is4() || ours.Is4In6() {
		if ours.As4() != theirs.As4() {
			t.Fatalf("%s: As4 %v, netip %v", what, ours.As4(), theirs.As4())
		}
	}
	if u, v := ours.Unmap(), theirs.Unmap(); u.String() != v.String() || u.Is4() != v.Is4() {
		t.Fatalf("%s: Unmap %v, netip %v", what, u, v)
	}
}

// TestParseLikeNetip parses texts that are addresses and texts that are
// not, and compares with netip.
func TestParseLikeNetip(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "10.0.0.1", "255.255.255.255", "1.2.3.4", "192.168.001.1", "256.1.1.1",
		"1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "01.2.3.4", "1.2.3.04", "1.2.3.0",
		"1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "+1.2.3.4", "1.2.3.4a", "", "a", "12345",
		"::", "::1", "1::", "fe80::1", "FE80::ABCD", "2001:db8::8:800:200c:417a",
		"2001:0db8:0000:0000:0000:0000:0000:0001", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7", "1::2::3", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6::7:8",
		"::ffff:1.2.3.4", "::ffff:10.0.0.1", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
		"1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3", "::ffff:01.2.3.4", "1.2.3.4::",
		"12345::", "::12345", "g::", "1:2:3:4:5:6:7:8%eth0", "fe80::1%eth0", "::%",
		":::", "1:::2", "0:0:0:0:0:0:0:0", "0:0:0:0:0:ffff:0102:0304", "::ffff:0:0",
		"1:0:0:2:0:0:0:3", "1:0:0:0:2:0:0:3", "0:1:0:1:0:1:0:1", "ab:cd::", "::a:b:c:d:e:f:1",
		"::1:2:3:4:5:6:7:8",
	} {
		theirs, terr := netip.ParseAddr(s)
		ours, oerr := ParseAddr(s)
		if terr == nil && theirs.Zone() != "" {
			// Zones are refused here on purpose.
			if oerr == nil {
				t.Errorf("%q: accepted a zone", s)
			}
			continue
		}
		if (oerr == nil) != (terr == nil) {
			t.Errorf("%q: ours %v (err %v), netip %v (err %v)", s, ours, oerr, theirs, terr)
			continue
		}
		if oerr == nil {
			same(t, s, ours, theirs)
		}
	}
}

// TestFormatLikeNetip formats random addresses with runs of zero groups,
// built both ways, and parses the text back.
func TestFormatLikeNetip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	same(t, "zero", Addr{}, netip.Addr{})
	for i := 0; i < 20000; i++ {
		var b [16]byte
		for g := 0; g < 8; g++ {
			if rng.IntN(2) == 0 {
				v := rng.Uint32()
				switch rng.IntN(4) {
				case 0:
					v &= 0xf
				case 1:
					v &= 0xff
				}
				b[2*g], b[2*g+1] = byte(v>>8), byte(v)
			}
		}
		if rng.IntN(10) == 0 {
			copy(b[:12], v4InV6Prefix[:])
		}
		same(t, "from16", AddrFrom16(b), netip.AddrFrom16(b))
		v4 := [4]byte(b[12:])
		same(t, "from4", AddrFrom4(v4), netip.AddrFrom4(v4))
		back, err := ParseAddr(AddrFrom16(b).String())
		if err != nil || back != AddrFrom16(b) {
			t.Fatalf("%v does not parse back: %v, %v", AddrFrom16(b), back, err)
		}
	}
}
