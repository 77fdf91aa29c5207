package afpacket_test

import (
	"testing"

	"arpd/internal/afpacket"
)

// TestIndexByName checks the index of the loopback interface, which is 1
// in every namespace, and the exact messages the daemon shows for a name
// on its command line that is not an interface's. No root needed.
func TestIndexByName(t *testing.T) {
	if idx, err := afpacket.IndexByName("lo"); err != nil || idx != 1 {
		t.Errorf("IndexByName(lo) = %d, %v; want 1", idx, err)
	}
	for _, tc := range []struct{ name, want string }{
		{"no-such-if0", "interface no-such-if0: no such interface"},
		{"a-name-far-too-long-for-ifnamsiz", `interface "a-name-far-too-long-for-ifnamsiz": bad name`},
	} {
		if idx, err := afpacket.IndexByName(tc.name); err == nil || err.Error() != tc.want {
			t.Errorf("IndexByName(%q) = %d, %v; want the error %q", tc.name, idx, err, tc.want)
		}
	}
}

// TestLookupIfaceErrors checks the errors for an interface a probe cannot
// be sent from: each names the interface and the fault. No root needed.
func TestLookupIfaceErrors(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"nosuch0", "interface nosuch0: SIOCGIFINDEX: no such device"},
		{"lo", "interface lo: not Ethernet (hardware type 772)"},
		{"a-name-far-too-long-for-ifnamsiz", "interface a-name-far-too-long-for-ifnamsiz: bad name: invalid argument"},
	} {
		if ifc, err := afpacket.LookupIface(tc.name); err == nil || err.Error() != tc.want {
			t.Errorf("LookupIface(%q) = %+v, %v; want the error %q", tc.name, ifc, err, tc.want)
		}
	}
}

// TestLookupIface looks up both ends of a veth pair.
func TestLookupIface(t *testing.T) {
	n := newNetns(t)
	for _, tc := range []struct {
		name string
		mac  [6]byte
	}{{"va", macA}, {"vb", macB}} {
		n.do(func() error {
			idx, err := afpacket.IndexByName(tc.name)
			if err != nil {
				return err
			}
			ifc, err := afpacket.LookupIface(tc.name)
			if err != nil {
				return err
			}
			if want := (afpacket.Iface{Name: tc.name, Index: int32(idx), MAC: tc.mac}); ifc != want {
				t.Errorf("LookupIface(%s) = %+v, want %+v", tc.name, ifc, want)
			}
			return nil
		})
	}
}
