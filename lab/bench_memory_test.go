package lab

// What the benchmark's memory figures are made of: the kernel's
// unreclaimable slab, a daemon's file pages it has resident, and each
// column's total.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// kernelSlab returns the bytes of the kernel's plain kmalloc caches
// (kmalloc-8 to kmalloc-8k of /proc/slabinfo) in use: each cache's active
// objects times their size. It returns -1 if slabinfo cannot be read.
//
// NB: a neighbour entry of IPv4 comes from kmalloc (there is no cache of
// its own in /proc/slabinfo since Linux 3.x): about 440 bytes, in
// kmalloc-512. Objects, not pages: the Slab and SUnreclaim lines of
// /proc/meminfo count the caches' pages, and the pages of the entries a
// link flap freed stay with kmalloc-512, partly empty, so that a burst
// after the flap fills them again without growing those lines (they grew
// 2.1 MB for 20,000 new entries after a flap, 6.8 MB before any). Active
// objects are the whole machine's: other jobs add some noise.
func kernelSlab() int64 {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return -1
	}
	return kmallocInUse(string(b))
}

// kmallocInUse sums active objects times object size over the plain
// kmalloc caches of slabinfo's text ("kmalloc-512", not "kmalloc-cg-512"
// nor "dma-kmalloc-512").
func kmallocInUse(slabinfo string) int64 {
	var sum int64
	for _, line := range strings.Split(slabinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		size, ok := strings.CutPrefix(f[0], "kmalloc-")
		size = strings.TrimSuffix(size, "k")
		if _, err := strconv.Atoi(size); !ok || err != nil {
			continue
		}
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		objsize, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 == nil && err2 == nil {
			sum += active * objsize
		}
	}
	return sum
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
	kernel  int64 // bytes of kmalloc objects grown, -1: not measured
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

// TestKmallocInUse reads a real slabinfo (Linux 6.18): the plain kmalloc
// caches count, objects in use times their size; the accounted (cg),
// reclaimable (rcl) and DMA ones and other caches do not.
func TestKmallocInUse(t *testing.T) {
	slabinfo := `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
kmalloc-cg-512       173    256    512   16    2 : tunables    0    0    0 : slabdata     16     16      0
dma-kmalloc-512        0      0    512   16    2 : tunables    0    0    0 : slabdata      0      0      0
kmalloc-rcl-512        7     16    512   16    2 : tunables    0    0    0 : slabdata      1      1      0
kmalloc-8k            10     12   8192    4    8 : tunables    0    0    0 : slabdata      3      3      0
kmalloc-cg-8k          5      8   8192    4    8 : tunables    0    0    0 : slabdata      2      2      0
kmalloc-512         3032  10512    512   16    2 : tunables    0    0    0 : slabdata    657    657      0
kmalloc-8           2412   2560      8  512    1 : tunables    0    0    0 : slabdata      5      5      0
skbuff_head_cache    320    320    256   16    1 : tunables    0    0    0 : slabdata     20     20      0
`
	if got, want := kmallocInUse(slabinfo), int64(10*8192+3032*512+2412*8); got != want {
		t.Errorf("kmallocInUse = %d, want %d", got, want)
	}
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
