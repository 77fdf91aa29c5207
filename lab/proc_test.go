package lab

// What /proc and the scheduler say of the machine and of a daemon: the
// kernel's ARP table counters, a daemon's CPU time and memory, CPU
// affinity, the kernel release and the load.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
)

// arpCacheStats returns the kernel's global ARP table counters from
// /proc/net/stat/arp_cache: entries (all namespaces) and table_fulls
// (neighbours refused because the table was at gc_thresh3).
func arpCacheStats() (entries, tableFulls int64, err error) { return neighCacheStats(false) }

// neighCacheStats returns arpCacheStats, or for v6 the same counters of
// the IPv6 neighbour table, from /proc/net/stat/ndisc_cache.
func neighCacheStats(v6 bool) (entries, tableFulls int64, err error) {
	path := "/proc/net/stat/arp_cache"
	if v6 {
		path = "/proc/net/stat/ndisc_cache"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return 0, 0, errors.New(path + ": no data")
	}
	names := strings.Fields(lines[0])
	ie, it := slices.Index(names, "entries"), slices.Index(names, "table_fulls")
	if ie < 0 || it < 0 {
		return 0, 0, errors.New(path + ": no entries or table_fulls column")
	}
	// One line per CPU; entries is the same on each, the others are per CPU.
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= max(ie, it) {
			continue
		}
		v, _ := strconv.ParseInt(f[it], 16, 64)
		tableFulls += v
		if i == 0 {
			entries, _ = strconv.ParseInt(f[ie], 16, 64)
		}
	}
	return entries, tableFulls, nil
}

// daemonCPU returns the daemon's user plus system time so far, from
// /proc/<pid>/stat (clock ticks of 10 ms).
func daemonCPU(t testing.TB, d *labtest.Daemon) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.Pid()))
	if err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	// NB: the command name (field 2) is in parentheses and may hold
	// spaces; the fields after the last ')' start with field 3.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("%s: short /proc/pid/stat: %q", d.Name(), s)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const userHZ = 100                          // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(utime+stime) * time.Second / userHZ
}

// daemonRunTime returns the time the daemon's threads have spent on a
// CPU so far, in nanoseconds from the scheduler: the first field of
// /proc/<pid>/task/<tid>/schedstat, summed over its threads. Unlike
// daemonCPU it has no 10 ms ticks; a thread that ended meanwhile takes
// its time with it (Go's runtime keeps its threads).
func daemonRunTime(t testing.TB, d *labtest.Daemon) time.Duration {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", d.Pid()))
	if err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	var sum time.Duration
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", d.Pid(), task.Name()))
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

// daemonMemory returns the daemon's peak resident set (VmHWM) and its current
// anonymous resident set (RssAnon), in KiB.
func daemonMemory(t testing.TB, d *labtest.Daemon) (hwm, anon int64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.Pid()))
	if err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = kb
		case "RssAnon":
			anon = kb
		}
	}
	return hwm, anon
}

// pinTasks binds every thread of process pid to CPU cpu.
func pinTasks(t testing.TB, pid, cpu int) {
	t.Helper()
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			t.Fatalf("bind thread %d of %d to CPU %d: %v", tid, pid, cpu, err)
		}
	}
}

// pinSelf binds this process's threads to CPU cpu (threads made later
// inherit it from their maker) until t ends, then lets them run anywhere
// again.
func pinSelf(t testing.TB, cpu int) {
	t.Helper()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatalf("CPU affinity: %v", err)
	}
	pinTasks(t, os.Getpid(), cpu)
	t.Cleanup(func() {
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			if tid, err := strconv.Atoi(task.Name()); err == nil {
				unix.SchedSetaffinity(tid, &all)
			}
		}
	})
}

// kernelRelease returns the kernel release.
func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// loadAvg returns the 1-minute load average, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
