package lab

// Kernel timestamps of neighbour events, from the neigh tracepoints, for
// the lab benchmark's request-to-valid figures.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// demoTracefs is where tracefs is, or is mounted for the test.
const demoTracefs = "/sys/kernel/tracing"

// demoTrace records, in a tracing instance of its own, two tracepoints of
// the near interface: neigh_create (the kernel makes an entry, just before
// it asks user space to resolve it, in the same call) and neigh_update
// from INCOMPLETE (an address arrives: the daemon's answer or an ARP
// reply). Their difference is the time from the kernel's request to the
// entry becoming valid, stamped by the kernel itself on one clock (mono),
// whoever gets scheduled when.
//
// NB: tracepoints are global, not per namespace; the filter keeps the
// events of devices named like the near interface, and only one lab runs
// at a time.
type demoTrace struct {
	dir string // the instance's directory
}

// newDemoTrace makes the instance (mounting tracefs if it is not mounted,
// unmounting it again at the end) or returns nil with the reason.
func newDemoTrace(t testing.TB, ifname string) (*demoTrace, error) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(demoTracefs, "instances")); err != nil {
		if err := unix.Mount("nodev", demoTracefs, "tracefs", 0, ""); err != nil {
			return nil, fmt.Errorf("mount tracefs: %w", err)
		}
		t.Cleanup(func() { unix.Unmount(demoTracefs, 0) })
	}
	demoRemoveStaleTraces()
	dir := filepath.Join(demoTracefs, "instances", fmt.Sprintf("arpd-lab-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tracing instance: %w", err)
	}
	tr := &demoTrace{dir: dir}
	t.Cleanup(func() {
		tr.write("tracing_on", "0")
		tr.write("events/enable", "0")
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove tracing instance %s: %v", dir, err)
		}
	})
	for _, kv := range [][2]string{
		{"tracing_on", "0"},
		{"trace_clock", "mono"},
		{"buffer_size_kb", "16384"}, // per CPU: 20,000 hosts' events with room to spare
		{"events/neigh/neigh_create/filter", fmt.Sprintf("dev == %q", ifname)},
		{"events/neigh/neigh_update/filter", fmt.Sprintf("dev == %q && nud_state == 1", ifname)},
		{"events/neigh/neigh_create/enable", "1"},
		{"events/neigh/neigh_update/enable", "1"},
	} {
		if err := tr.write(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// demoRemoveStaleTraces removes the tracing instances of test processes
// that are gone (killed before their cleanup ran), which would otherwise
// keep their buffers, 16 MiB a CPU, until the next boot.
func demoRemoveStaleTraces() {
	dirs, _ := filepath.Glob(filepath.Join(demoTracefs, "instances", "arpd-lab-*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "arpd-lab-"))
		if err != nil || pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		os.WriteFile(filepath.Join(dir, "tracing_on"), []byte("0"), 0o644)
		os.WriteFile(filepath.Join(dir, "events", "enable"), []byte("0"), 0o644)
		os.Remove(dir)
	}
}

func (tr *demoTrace) write(name, value string) error {
	if err := os.WriteFile(filepath.Join(tr.dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("tracing %s=%s: %w", name, value, err)
	}
	return nil
}

// start empties the buffer and starts recording.
func (tr *demoTrace) start() error {
	if err := tr.write("trace", ""); err != nil {
		return err
	}
	return tr.write("tracing_on", "1")
}

// demoTraced is what the trace holds for one pass: by host, the kernel's
// time (µs on the mono clock) of the first neigh_create and of the first
// update to a valid state after it, 0 where there was none.
type demoTraced struct {
	created, valid []int64
	lost           int64 // events the buffer had no room for
	lines          int
}

// turnarounds returns, for each host with both stamps, the time from its
// entry's creation to its becoming valid.
func (d *demoTraced) turnarounds() []time.Duration {
	var out []time.Duration
	for h := range d.created {
		if d.created[h] != 0 && d.valid[h] != 0 {
			out = append(out, time.Duration(d.valid[h]-d.created[h])*time.Microsecond)
		}
	}
	return out
}

// stop stops recording and reads the events of hosts [0, n).
func (tr *demoTrace) stop(n int) (*demoTraced, error) {
	if err := tr.write("tracing_on", "0"); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(tr.dir, "trace"))
	if err != nil {
		return nil, err
	}
	d := &demoTraced{created: make([]int64, n), valid: make([]int64, n)}
	for cpu := 0; ; cpu++ {
		st, err := os.ReadFile(filepath.Join(tr.dir, "per_cpu", fmt.Sprintf("cpu%d", cpu), "stats"))
		if err != nil {
			break
		}
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "overrun: "); ok {
				k, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				d.lost += k
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		demoParseTraceLine(sc.Text(), d)
	}
	return d, sc.Err()
}

// demoTraceEvent is one line of a tracing instance's trace file: the task
// it ran in ("comm-tid"), its time in µs, the event's name and arguments.
type demoTraceEvent struct {
	task string
	at   int64
	name string
	args string
}

// demoParseTraceEvent splits a line of the trace file, of the form
// "comm-tid [cpu] flags seconds.micros: event: args", and reports false for
// a comment or anything else.
func demoParseTraceEvent(line string) (e demoTraceEvent, ok bool) {
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
func (e *demoTraceEvent) arg(key string) string {
	f := strings.Fields(e.args)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == key {
			return f[i+1]
		}
	}
	return ""
}

// demoParseTraceLine adds one line of the trace to d, if it is one of its
// events for a host in range.
func demoParseTraceLine(line string, d *demoTraced) {
	e, ok := demoParseTraceEvent(line)
	if !ok || (e.name != "neigh_create" && e.name != "neigh_update") || e.arg("family") != "2" {
		return
	}
	var a [4]byte
	parts := strings.Split(e.arg("primary_key4"), ".")
	if len(parts) != 4 {
		return
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 255 {
			return
		}
		a[i] = byte(v)
	}
	h := demoHostIndex(a[:])
	if h < 0 || h >= len(d.created) {
		return
	}
	d.lines++
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

// schedEvents turns on or off the scheduler's wake-ups and switches, the
// interrupts that carry wake-ups between CPUs, and the system calls of the
// threads named comm, for a raw trace (ARPD_BENCH_SCHEDTRACE).
func (tr *demoTrace) schedEvents(on bool, comm string) {
	v := "0"
	if on {
		v = "1"
	}
	for _, e := range []string{"raw_syscalls/sys_enter", "raw_syscalls/sys_exit"} {
		tr.write("events/"+e+"/filter", fmt.Sprintf("comm == %q", comm)) // best effort: a diagnostic
	}
	for _, e := range []string{"sched/sched_wakeup", "sched/sched_switch", "raw_syscalls/sys_enter",
		"raw_syscalls/sys_exit", "irq_vectors/call_function_single_entry", "irq_vectors/reschedule_entry"} {
		tr.write("events/"+e+"/enable", v)
	}
}

// demoBreakdown splits each request's time, from a raw trace with the
// scheduler's events (schedEvents), into: the kernel's work in the call
// that made the request until the daemon is woken (the wake-up is traced
// where it lands: on another CPU, once that CPU took the interrupt), the
// wait until the daemon runs, the daemon's own work until it sends its
// answer, and the kernel's work on that write until neigh_update. It
// returns each one's samples, and how many requests it could follow. The
// daemon's threads are those named comm (its threads all are, and no other
// process of that name runs meanwhile).
func demoBreakdown(raw []byte, comm string) (parts [4][]time.Duration, followed int) {
	var evs []demoTraceEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		if e, ok := demoParseTraceEvent(sc.Text()); ok {
			evs = append(evs, e)
		}
	}
	ours := func(e *demoTraceEvent) bool { return strings.HasPrefix(e.task, comm+"-") }
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
// parts of demoBreakdown. Comments, other events and other hosts change
// nothing.
func TestDemoTraceParse(t *testing.T) {
	trace := fmt.Sprintf(`# tracer: nop
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
       arpd.test-12200   [000] .....  8796.753075: neigh_create: family 2 dev vnear entries 51 primary_key4 10.79.1.50 primary_key6 6a6f:3c29:0:100::4000 created 1 gc_exempt 0
       arpd.test-12200   [000] .....  8796.753076: neigh_create: family 10 dev vnear entries 51 primary_key4 0.0.0.0 primary_key6 fe80::1 created 1 gc_exempt 0
       arpd.test-12200   [000] d..2.  8796.753152: sched_switch: prev_comm=arpd.test prev_pid=12200 prev_prio=120 prev_state=S ==> next_comm=arpd.test next_pid=12186 next_prio=120
          <idle>-0       [001] d.h1.  8796.753164: call_function_single_entry: vector=251
          <idle>-0       [001] dNh2.  8796.753170: sched_wakeup: comm=arpd pid=12205 prio=120 target_cpu=001
            arpd-12205   [001] .....  8796.753181: sys_exit: NR 281 = 1
            arpd-12205   [001] .....  8796.753192: sys_enter: NR 47 (4, 26d1c4900070, 60, 0, 0, 0)
            arpd-12205   [001] .....  8796.753201: sys_enter: NR %d (5, 26d1c48e2214, 30, 0, 0, 0)
            arpd-12205   [001] .....  8796.753205: neigh_update: family 2 dev vnear lladdr 000000000000 flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.79.1.51 primary_key6 ::ffff:10.79.1.51 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state stale update_flags 80 pid 7
            arpd-12205   [001] .....  8796.753209: neigh_update: family 2 dev vnear lladdr 000000000000 flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.79.1.50 primary_key6 ::ffff:10.79.1.50 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state stale update_flags 80 pid 7
            arpd-12205   [001] .....  8796.753300: neigh_update: family 2 dev vnear lladdr a22e7939effd flags 00 nud_state incomplete type 01 dead 0 refcnt 3 primary_key4 10.79.1.50 primary_key6 ::ffff:10.79.1.50 confirmed 1 updated 1 used 1 new_lladdr a22e7939effd new_state reachable update_flags 80 pid 0
`, unix.SYS_WRITE)
	h := demoHostIndex([]byte{10, 79, 1, 50})
	if h < 0 {
		t.Fatal("10.79.1.50 is no host of the lab's scheme")
	}
	d := &demoTraced{created: make([]int64, h+1), valid: make([]int64, h+1)}
	for _, line := range strings.Split(trace, "\n") {
		demoParseTraceLine(line, d)
	}
	if d.created[h] != 8796753075 || d.valid[h] != 8796753209 {
		t.Errorf("10.79.1.50: created %d, valid %d; want 8796753075 and 8796753209 (the first valid update)", d.created[h], d.valid[h])
	}
	if got := d.turnarounds(); len(got) != 1 || got[0] != 134*time.Microsecond {
		t.Errorf("turnarounds = %v, want [134µs]", got)
	}
	parts, followed := demoBreakdown([]byte(trace), "arpd")
	if followed != 1 {
		t.Fatalf("breakdown followed %d requests, want 1", followed)
	}
	want := [4]time.Duration{95 * time.Microsecond, 11 * time.Microsecond, 20 * time.Microsecond, 8 * time.Microsecond}
	for k := range want {
		if len(parts[k]) != 1 || parts[k][0] != want[k] {
			t.Errorf("part %d = %v, want [%v]", k, parts[k], want[k])
		}
	}
	if _, ok := demoParseTraceEvent("# entries-in-buffer/entries-written: 232465/232465   #P:2"); ok {
		t.Error("a comment parsed as an event")
	}
}
