package labtest_test

import (
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// TestLookupIfaceErrors checks the errors of LookupIface for interfaces
// a probe cannot be sent from, inside a lab: each names the interface and
// the fault, afpacket.LookupIface's or its own for a missing IPv4 address.
func TestLookupIfaceErrors(t *testing.T) {
	l := labtest.New(t)
	// An Ethernet interface without an IPv4 address: a second veth pair.
	l.IP(l.Near, "link", "add", "vnoaddr", "type", "veth", "peer", "name", "vnoaddr2")
	for _, tc := range []struct{ name, want string }{
		{"nosuch0", "SIOCGIFINDEX"},
		{"lo", "not Ethernet"},
		{"vnoaddr", "no IPv4 address"},
		{"a-name-far-too-long-for-ifnamsiz", "bad name"},
	} {
		err := l.Do(l.Near, func() error {
			_, err := labtest.LookupIface(tc.name)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("LookupIface(%q) = %v, want an error naming it and saying %q", tc.name, err, tc.want)
		}
	}
}
