package lab

// The reading of the trace: each host's stamps, and where a request's
// time went.

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// traceStamps is what the trace holds for one pass: by host, the kernel's
// time (µs on the mono clock) of the first neigh_create and of the first
// update to a valid state after it, 0 where there was none.
type traceStamps struct {
	created, valid []int64
	lost           int64 // events the buffer had no room for
	v6             bool  // the hosts are IPv6 ones: events of AF_INET6
}

// turnarounds returns, for each host with both stamps, the time from its
// entry's creation to its becoming valid.
func (d *traceStamps) turnarounds() []time.Duration {
	var out []time.Duration
	for h := range d.created {
		if d.created[h] != 0 && d.valid[h] != 0 {
			out = append(out, time.Duration(d.valid[h]-d.created[h])*time.Microsecond)
		}
	}
	return out
}

// traceEvent is one line of a tracing instance's trace file: the task
// it ran in ("comm-tid"), its time in µs, the event's name and arguments.
type traceEvent struct {
	task string
	at   int64
	name string
	args string
}

// parseTraceEvent splits a line of the trace file, of the form
// "comm-tid [cpu] flags seconds.micros: event: args", and reports false for
// a comment or anything else.
func parseTraceEvent(line string) (e traceEvent, ok bool) {
	head, rest, ok := strings.Cut(line, ": ")
	if !ok || strings.HasPrefix(line, "#") {
		return e, false
	}
	f := strings.Fields(head)
	if len(f) < 4 {
		return e, false
	}
	sec, usec, ok := strings.Cut(f[len(f)-1], ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	u, err2 := strconv.ParseInt(usec, 10, 64)
	if !ok || err1 != nil || err2 != nil || len(usec) != 6 {
		return e, false
	}
	e.task, e.at = f[0], s*1_000_000+u
	e.name, e.args, _ = strings.Cut(rest, ": ")
	return e, true
}

// arg returns the value that follows key in e's "key value" arguments, or
// "".
func (e *traceEvent) arg(key string) string {
	f := strings.Fields(e.args)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == key {
			return f[i+1]
		}
	}
	return ""
}

// parseTraceLine adds one line of the trace to d, if it is one of its
// events (of d's family) for a host in range.
func parseTraceLine(line string, d *traceStamps) {
	e, ok := parseTraceEvent(line)
	if !ok || (e.name != "neigh_create" && e.name != "neigh_update") {
		return
	}
	var h int
	if d.v6 {
		// NB: the kernel prints primary_key6 with %pI6c (compressed);
		// family is AF_INET6, 10.
		a, err := netip.ParseAddr(e.arg("primary_key6"))
		if e.arg("family") != "10" || err != nil || !a.Is6() {
			return
		}
		b := a.As16()
		h = hostIndex(b[:])
	} else {
		a, err := netip.ParseAddr(e.arg("primary_key4"))
		if e.arg("family") != "2" || err != nil || !a.Is4() {
			return
		}
		b := a.As4()
		h = hostIndex(b[:])
	}
	if h < 0 || h >= len(d.created) {
		return
	}
	if e.name == "neigh_create" {
		if d.created[h] == 0 {
			d.created[h] = e.at
		}
		return
	}
	switch e.arg("new_state") {
	case "reachable", "stale", "delay", "permanent", "noarp":
		if d.created[h] != 0 && d.valid[h] == 0 {
			d.valid[h] = e.at
		}
	}
}

// schedBreakdown splits each request's time, from a raw trace with the
// scheduler's events (schedEvents), into: the kernel's work in the call
// that made the request until the daemon is woken (the wake-up is traced
// where it lands: on another CPU, once that CPU took the interrupt), the
// wait until the daemon runs, the daemon's own work until it sends its
// answer, and the kernel's work on that write until neigh_update. It
// returns each one's samples, and how many requests it could follow. The
// daemon's threads are those named comm (its threads all are, and no other
// process of that name runs meanwhile).
func schedBreakdown(raw []byte, comm string) (parts [4][]time.Duration, followed int) {
	var evs []traceEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		if e, ok := parseTraceEvent(sc.Text()); ok {
			evs = append(evs, e)
		}
	}
	ours := func(e *traceEvent) bool { return strings.HasPrefix(e.task, comm+"-") }
	woken := "comm=" + comm + " "
	// The answer goes out with write (this arpd), sendto or sendmsg.
	sends := []string{fmt.Sprintf("NR %d ", unix.SYS_WRITE), fmt.Sprintf("NR %d ", unix.SYS_SENDTO), fmt.Sprintf("NR %d ", unix.SYS_SENDMSG)}
	isSend := func(args string) bool {
		for _, p := range sends {
			if strings.HasPrefix(args, p) {
				return true
			}
		}
		return false
	}
	for i, e := range evs {
		if e.name != "neigh_create" {
			continue
		}
		key := " primary_key4 " + e.arg("primary_key4") + " "
		var wake, run, wr, upd int64
		for _, x := range evs[i+1 : min(len(evs), i+500)] {
			switch {
			case wake == 0 && x.name == "sched_wakeup" && strings.HasPrefix(x.args, woken):
				wake = x.at
			case wake != 0 && run == 0 && ours(&x):
				run = x.at
			case run != 0 && wr == 0 && ours(&x) && x.name == "sys_enter" && isSend(x.args):
				wr = x.at
			case x.name == "neigh_update" && strings.Contains(x.args+" ", key):
				upd = x.at
			}
			if upd != 0 {
				break
			}
		}
		if wake == 0 || run == 0 || wr == 0 || upd == 0 || upd < wr {
			continue
		}
		followed++
		for k, d := range [4]int64{wake - e.at, run - wake, wr - run, upd - wr} {
			parts[k] = append(parts[k], time.Duration(d)*time.Microsecond)
		}
	}
	return parts, followed
}

// TestDemoTraceParse reads lines of a real trace (Linux 6.18, one request
// answered by this arpd, the system call numbers this machine's): the
// stamps of the entry's creation and of its becoming valid, and the four
// parts of schedBreakdown. Comments, other events and other hosts change
// nothing.
func TestDemoTraceParse(t *testing.T) {
	trace := fmt.Sprintf(`# tracer: nop
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
       arpd.test-12200   [000] .....  8796.753075: neigh_create: family 2 dev vnear entries 51 primary_key4 10.64.0.50 primary_key6 6a6f:3c29:0:100::4000 created 1 gc_exempt 0
       arpd.test-12200   [000] .....  8796.753076: neigh_create: family 10 dev vnear entries 51 primary_key4 0.0.0.0 primary_key6 fe80::1 created 1 gc_exempt 0
       arpd.test-12200   [000] d..2.  8796.753152: sched_switch: prev_comm=arpd.test prev_pid=12200 prev_prio=120 prev_state=S ==> next_comm=arpd.test next_pid=12186 next_prio=120
          <idle>-0       [001] d.h1.  8796.753164: call_function_single_entry: vector=251
          <idle>-0       [001] dNh2.  8796.753170: sched_wakeup: comm=arpd pid=12205 prio=120 target_cpu=001
            arpd-12205   [001] .....  8796.753181: sys_exit: NR 281 = 1
            arpd-12205   [001] .....  8796.753192: sys_enter: NR 47 (4, 26d1c4900070, 60, 0, 0, 0)
            arpd-12205   [001] .....  8796.753201: sys_enter: NR %d (5, 26d1c48e2214, 30, 0, 0, 0)
            arpd-12205   [001] .....  8796.753205: neigh_update: family 2 dev vnear lladdr 000000000000 flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.64.0.51 primary_key6 ::ffff:10.64.0.51 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state stale update_flags 80 pid 7
            arpd-12205   [001] .....  8796.753209: neigh_update: family 2 dev vnear lladdr 000000000000 flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.64.0.50 primary_key6 ::ffff:10.64.0.50 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state stale update_flags 80 pid 7
            arpd-12205   [001] .....  8796.753300: neigh_update: family 2 dev vnear lladdr a22e7939effd flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.64.0.50 primary_key6 ::ffff:10.64.0.50 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state reachable update_flags 80 pid 0
`, unix.SYS_WRITE)
	h := hostIndex([]byte{10, 64, 0, 50})
	if h < 0 {
		t.Fatal("10.64.0.50 is no host of the lab's scheme")
	}
	d := &traceStamps{created: make([]int64, h+1), valid: make([]int64, h+1)}
	for _, line := range strings.Split(trace, "\n") {
		parseTraceLine(line, d)
	}
	if d.created[h] != 8796753075 || d.valid[h] != 8796753209 {
		t.Errorf("10.64.0.50: created %d, valid %d; want 8796753075 and 8796753209 (the first valid update)", d.created[h], d.valid[h])
	}
	if got := d.turnarounds(); len(got) != 1 || got[0] != 134*time.Microsecond {
		t.Errorf("turnarounds = %v, want [134µs]", got)
	}
	parts, followed := schedBreakdown([]byte(trace), "arpd")
	if followed != 1 {
		t.Fatalf("breakdown followed %d requests, want 1", followed)
	}
	want := [4]time.Duration{95 * time.Microsecond, 11 * time.Microsecond, 20 * time.Microsecond, 8 * time.Microsecond}
	for k := range want {
		if len(parts[k]) != 1 || parts[k][0] != want[k] {
			t.Errorf("part %d = %v, want [%v]", k, parts[k], want[k])
		}
	}
	if _, ok := parseTraceEvent("# entries-in-buffer/entries-written: 232465/232465   #P:2"); ok {
		t.Error("a comment parsed as an event")
	}
}
