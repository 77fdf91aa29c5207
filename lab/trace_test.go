package lab

// Kernel timestamps of neighbour events, from the neigh tracepoints, for
// the request-to-valid figures of the demo and the benchmark: the tracing
// instance.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tracefsDir is where tracefs is usually mounted.
const tracefsDir = "/sys/kernel/tracing"

// neighTrace records, in a tracing instance of its own, two tracepoints of
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
type neighTrace struct {
	dir string // the instance's directory
	v6  bool   // read the events of IPv6 neighbours, not IPv4 ones
}

// newNeighTrace makes the instance (in a tracefs mount of its own, see
// mountTracefs) for the neighbours of family v6 (IPv6, else IPv4) on
// ifname, or returns nil with the reason.
func newNeighTrace(t testing.TB, ifname string, v6 bool) (*neighTrace, error) {
	t.Helper()
	mnt, err := mountTracefs(t)
	if err != nil {
		return nil, err
	}
	removeStaleTraces(mnt)
	dir := filepath.Join(mnt, "instances", fmt.Sprintf("arpd-lab-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tracing instance: %w", err)
	}
	tr := &neighTrace{dir: dir, v6: v6}
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

// mountTracefs mounts tracefs on a temporary directory until t ends, and
// returns the directory; where it cannot, it returns tracefsDir if tracefs
// is mounted there.
//
// NB: a mount of its own, because tracefs is one for the whole machine
// and a test that finds it unmounted at tracefsDir and mounts it there
// unmounts it again when it ends, under any other test process on the
// machine that is using it meanwhile. Each mount shows the same
// instances.
func mountTracefs(t testing.TB) (string, error) {
	t.Helper()
	mnt, err := os.MkdirTemp("", "arpd-lab-tracefs-")
	if err != nil {
		return "", err
	}
	if err := unix.Mount("nodev", mnt, "tracefs", 0, ""); err != nil {
		os.Remove(mnt)
		if _, serr := os.Stat(filepath.Join(tracefsDir, "instances")); serr == nil {
			return tracefsDir, nil
		}
		return "", fmt.Errorf("mount tracefs: %w", err)
	}
	t.Cleanup(func() {
		// NB: Remove, not RemoveAll: should the unmount fail, the
		// directory still shows every tracing instance on the machine.
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Logf("unmount tracefs from %s: %v", mnt, err)
			return
		}
		os.Remove(mnt)
	})
	return mnt, nil
}

// removeStaleTraces removes, from tracefs mounted at mnt, the tracing
// instances of test processes that are gone (killed before their cleanup
// ran), which would otherwise keep their buffers, 16 MiB a CPU, until the
// next boot.
func removeStaleTraces(mnt string) {
	dirs, _ := filepath.Glob(filepath.Join(mnt, "instances", "arpd-lab-*"))
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

func (tr *neighTrace) write(name, value string) error {
	if err := os.WriteFile(filepath.Join(tr.dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("tracing %s=%s: %w", name, value, err)
	}
	return nil
}

// room makes the buffer hold the events of a burst to n hosts: 16 MiB a
// CPU for 20,000 hosts or fewer, in proportion above.
//
// NB: the buffer's pages are taken when it is sized, before any phase,
// and are no slab: they do not show in the kernel memory figures.
func (tr *neighTrace) room(n int) error {
	return tr.write("buffer_size_kb", strconv.Itoa(max(16384, n*16384/blHosts)))
}

// start empties the buffer and starts recording.
func (tr *neighTrace) start() error {
	if err := tr.write("trace", ""); err != nil {
		return err
	}
	return tr.write("tracing_on", "1")
}

// stop stops recording and reads the events of hosts [0, n).
func (tr *neighTrace) stop(n int) (*traceStamps, error) {
	if err := tr.write("tracing_on", "0"); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(tr.dir, "trace"))
	if err != nil {
		return nil, err
	}
	d := &traceStamps{created: make([]int64, n), valid: make([]int64, n), v6: tr.v6}
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
		parseTraceLine(sc.Text(), d)
	}
	return d, sc.Err()
}

// schedEvents turns on or off the scheduler's wake-ups and switches, the
// interrupts that carry wake-ups between CPUs, and the system calls of the
// threads named comm, for a raw trace (ARPD_BENCH_SCHEDTRACE).
func (tr *neighTrace) schedEvents(on bool, comm string) {
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
