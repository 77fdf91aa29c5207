package lab

import (
	"strings"
	"testing"
	"time"
)

// TestTraceParse6 reads neigh tracepoint lines of both families, in the
// kernel's format (primary_key6 printed with %pI6c): a reading for IPv6
// hosts takes the AF_INET6 events of fd79::1:0:0:1 (host 0) and leaves
// the AF_INET ones of 10.64.0.1 (host 0 too) alone, and one for IPv4 the
// other way round.
func TestTraceParse6(t *testing.T) {
	trace := `# tracer: nop
       arpd.test-1   [000] .....  100.000010: neigh_create: family 2 dev vnear entries 1 primary_key4 10.64.0.1 primary_key6 ::ffff:10.64.0.1 created 1 gc_exempt 0
       arpd.test-1   [000] .....  100.000020: neigh_create: family 10 dev vnear entries 2 primary_key4 0.0.0.0 primary_key6 fd79::1:0:0:1 created 1 gc_exempt 0
       arpd.test-1   [000] .....  100.000025: neigh_create: family 10 dev vnear entries 3 primary_key4 0.0.0.0 primary_key6 fe80::1 created 1 gc_exempt 0
            arpd-7   [001] .....  100.000050: neigh_update: family 2 dev vnear lladdr 000000000000 flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.64.0.1 primary_key6 ::ffff:10.64.0.1 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state stale update_flags 80 pid 7
            arpd-7   [001] .....  100.000090: neigh_update: family 10 dev vnear lladdr 000000000000 flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 0.0.0.0 primary_key6 fd79::1:0:0:1 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state stale update_flags 80 pid 7
`
	for _, c := range []struct {
		v6   bool
		want time.Duration
	}{{true, 70 * time.Microsecond}, {false, 40 * time.Microsecond}} {
		d := &traceStamps{created: make([]int64, 2), valid: make([]int64, 2), v6: c.v6}
		for _, line := range strings.Split(trace, "\n") {
			parseTraceLine(line, d)
		}
		if got := d.turnarounds(); len(got) != 1 || got[0] != c.want {
			t.Errorf("v6 %v: turnarounds %v, want [%v]", c.v6, got, c.want)
		}
	}
}
