package lab

// What the benchmark's memory figures are made of: the kernel's
// unreclaimable slab, a daemon's file pages it has resident, and each
// column's total.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// kernelSlab returns the kernel's unreclaimable slab memory in bytes
// (SUnreclaim of /proc/meminfo), or -1 if it cannot be read.
//
// NB: neighbour entries come from kmalloc (there is no cache of their own
// in /proc/slabinfo since Linux 3.x: arp entries of about 440 bytes land
// in kmalloc-512), which is unreclaimable: SUnreclaim is the part of Slab
// they grow, without the dentries and inodes that other jobs on the
// machine (go build, go test) add to and take from the reclaimable part.
func kernelSlab() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "SUnreclaim:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// fileResident returns the bytes of the file at path (or a file whose
// name starts with path: DB.new while it is being rebuilt) that process
// pid has mapped and resident: the Rss of those mappings in
// /proc/<pid>/smaps. A daemon that reads its file instead of mapping it
// (iproute2's arpd, through Berkeley DB's buffer pool) has none: its
// copy is in its anonymous memory.
func fileResident(t testing.TB, d *labtest.Daemon, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", d.Pid()))
	if err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	return smapsResident(string(b), path)
}

// smapsResident sums the Rss lines of the mappings in smaps (the text of
// /proc/<pid>/smaps) whose path starts with path, in bytes.
func smapsResident(smaps, path string) int64 {
	var sum int64
	in := false
	for _, line := range strings.Split(smaps, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			// A mapping's header: range perms offset dev inode [path].
			in = len(f) >= 6 && strings.HasPrefix(f[5], path)
			continue
		}
		if in && len(f) == 3 && f[0] == "Rss:" && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			sum += kb << 10
		}
	}
	return sum
}

// blMemory is one column's memory for n hosts: what the kernel holds for
// them, the daemon's anonymous memory and its file's resident pages.
type blMemory struct {
	kernel  int64 // bytes of SUnreclaim grown, -1: not measured
	entries int   // kernel table entries then
	anon    int64 // bytes, the largest RssAnon at a phase's end
	file    int64 // bytes of the file resident, the largest at a phase's end
	ok      bool  // the phase that gives kernel was run
}

// total returns the column's total memory in bytes.
func (m blMemory) total() int64 { return max(m.kernel, 0) + m.anon + m.file }

// memoryOf returns r's memory. The kernel alone holds every host in its
// own table: its figure is the warm burst's (the table emptied by the
// link flap, then filled again by ARP). A daemon keeps the kernel's table
// at its default cap and every host in its file: its figure is the
// default-table step's (blDefaultTable), beside its largest RssAnon and
// resident file.
func memoryOf(r *blResult) blMemory {
	ph := blDefaultTable
	if r.name == blKernelAlone {
		ph = blWarm
	}
	p := &r.phase[ph]
	m := blMemory{kernel: p.slabGrown, entries: p.tableEnd, ok: p.ran}
	for i := range r.phase {
		m.anon = max(m.anon, r.phase[i].anon<<10)
		m.file = max(m.file, r.phase[i].fileRes)
	}
	return m
}

// TestSmapsResident reads the file mappings of a real smaps (Linux 6.18,
// this arpd on its cache file): only the mappings of the cache file
// count, the rebuilt file's (DB.new) too, and nothing else.
func TestSmapsResident(t *testing.T) {
	smaps := `7f0e2c000000-7f0e2c2e4000 r--s 00000000 fd:00 1234567                    /tmp/b/arpd.db
Size:               2960 kB
KernelPageSize:        4 kB
Rss:                2944 kB
Pss:                2944 kB
7f0e2c2e4000-7f0e2c2f0000 rw-p 00000000 00:00 0 
Size:                 48 kB
Rss:                  40 kB
7f0e2d000000-7f0e2d004000 r--s 00000000 fd:00 1234568                    /tmp/b/arpd.db.new
Size:                 16 kB
Rss:                  12 kB
7f0e2e000000-7f0e2e010000 r-xp 00000000 fd:00 99                         /tmp/b/arpd
Size:                 64 kB
Rss:                  64 kB
VmFlags: rd mr mw me sd
`
	if got, want := smapsResident(smaps, "/tmp/b/arpd.db"), int64(2956<<10); got != want {
		t.Errorf("smapsResident = %d, want %d (the two mappings of the cache file)", got, want)
	}
	if got := smapsResident(smaps, "/tmp/c/arpd.db"); got != 0 {
		t.Errorf("smapsResident of a file not mapped = %d, want 0", got)
	}
}
