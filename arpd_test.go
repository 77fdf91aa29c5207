package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// TestMain runs the tests, then removes what they leave for the whole test
// binary: the arpd binary the lab tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	labtest.RemoveBinary()
	os.Exit(code)
}

// runArpd runs the program with args and stdin and returns its exit
// status, stdout and stderr.
func runArpd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// sortedRows returns the rows of a listing after its header, sorted.
func sortedRows(t *testing.T, listing string) []string {
	t.Helper()
	if !strings.HasPrefix(listing, listHeader) {
		t.Fatalf("listing does not start with the header: %q", listing)
	}
	rows := strings.SplitAfter(strings.TrimPrefix(listing, listHeader), "\n")
	if rows[len(rows)-1] == "" {
		rows = rows[:len(rows)-1]
	}
	slices.Sort(rows)
	return rows
}

const sampleLoad = `#Ifindex IP              MAC
2        10.0.0.1        00:11:22:33:44:55
2        10.0.0.2        aa:bb:cc:dd:ee:ff
3        192.168.7.200   02:00:5e:10:00:01
3        10.0.0.9        FAILED: 12sec ago

1        127.0.0.2       0:1:2:3:4:5
`

func TestLoadAndList(t *testing.T) {
	db := filepath.Join(t.TempDir(), "arpd.db")
	code, out, errs := runArpd(t, sampleLoad, "-b", db, "-f", "-", "-l")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// The MACs read are the MACs stored (iproute2 stores garbage here),
	// FAILED rows and comments are skipped, columns as iproute2 prints.
	want := []string{
		"1        127.0.0.2       00:01:02:03:04:05\n",
		"2        10.0.0.1        00:11:22:33:44:55\n",
		"2        10.0.0.2        aa:bb:cc:dd:ee:ff\n",
		"3        192.168.7.200   02:00:5e:10:00:01\n",
	}
	if got := sortedRows(t, out); !slices.Equal(got, want) {
		t.Fatalf("listing rows:\n%q\nwant\n%q", got, want)
	}
	// -l alone lists the same, and the listing loads back unchanged.
	code, out2, _ := runArpd(t, "", "-b", db, "-l")
	if code != 0 || !slices.Equal(sortedRows(t, out2), want) {
		t.Fatalf("second listing (exit %d):\n%s", code, out2)
	}
	db2 := filepath.Join(t.TempDir(), "copy.db")
	if code, _, errs := runArpd(t, out2, "-b", db2, "-f", "-"); code != 0 {
		t.Fatalf("reloading a listing: exit %d: %s", code, errs)
	}
	if _, out3, _ := runArpd(t, "", "-l", "-b", db2); !slices.Equal(sortedRows(t, out3), want) {
		t.Fatalf("round trip changed the listing:\n%s", out3)
	}
	// -s shows what the loading process counted.
	code, stats, _ := runArpd(t, "", "-s", "-b", db)
	if code != 0 || !strings.Contains(stats, "entries 4\n") || !strings.Contains(stats, "loaded 4\n") || !strings.Contains(stats, "closed cleanly") {
		t.Fatalf("stats (exit %d):\n%s", code, stats)
	}
}

func TestLoadFromFileAndFilterByInterface(t *testing.T) {
	dir := t.TempDir()
	db, in := filepath.Join(dir, "arpd.db"), filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte(sampleLoad), 0o644)
	if code, _, errs := runArpd(t, "", "-b", db, "-f", in); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// Interfaces on the command line restrict the listing (lo is 1).
	code, out, errs := runArpd(t, "", "-l", "-b", db, "lo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := sortedRows(t, out); !slices.Equal(got, []string{"1        127.0.0.2       00:01:02:03:04:05\n"}) {
		t.Fatalf("listing for lo: %q", got)
	}
	code, _, errs = runArpd(t, "", "-l", "-b", db, "no-such-if0")
	if code == 0 || !strings.Contains(errs, "no-such-if0") {
		t.Fatalf("unknown interface: exit %d, %q", code, errs)
	}
}

// TestLoadIsAllOrNothing: a bad line anywhere leaves the database exactly
// as it was, and the error names the file and the line.
func TestLoadIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "arpd.db")
	if code, _, errs := runArpd(t, sampleLoad, "-b", db, "-f", "-"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	before := fileSum(t, db)
	bad := []struct{ name, text, want string }{
		{"mac", "2 10.1.0.1 00:11:22:33:44:55\n2 10.1.0.2 00:11:22:33:44\n", "bad.txt:2:"},
		{"ip", "2 10.1.0.1 00:11:22:33:44:55\n2 10.1.0.300 00:11:22:33:44:55\n", "bad.txt:2:"},
		{"ifindex", "x 10.1.0.1 00:11:22:33:44:55\n", "bad.txt:1:"},
		{"fields", "2 10.1.0.1 00:11:22:33:44:55 extra\n", "bad.txt:1:"},
		{"fields-short", "2 10.1.0.1\n", "bad.txt:1:"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(dir, "bad.txt")
			os.WriteFile(in, []byte(tc.text), 0o644)
			code, _, errs := runArpd(t, "", "-b", db, "-f", in)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want an error at %s", code, errs, tc.want)
			}
			if fileSum(t, db) != before {
				t.Fatal("a failed load changed the database")
			}
			if _, err := os.Stat(db + ".new"); !os.IsNotExist(err) {
				t.Fatal("a failed load left a temporary file")
			}
		})
	}
	// A failed load into a database that does not exist creates none.
	fresh := filepath.Join(dir, "fresh.db")
	if code, _, _ := runArpd(t, "2 10.1.0.1 zz:11:22:33:44:55\n", "-b", fresh, "-f", "-"); code == 0 {
		t.Fatal("a bad load succeeded")
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a failed load created %s", fresh)
	}
	// A load file that cannot be opened is an error too.
	if code, _, errs := runArpd(t, "", "-b", db, "-f", filepath.Join(dir, "missing.txt")); code == 0 || !strings.Contains(errs, "missing.txt") {
		t.Fatalf("missing load file: exit %d, %q", code, errs)
	}
}

func TestCapacityFlag(t *testing.T) {
	db := filepath.Join(t.TempDir(), "arpd.db")
	if code, _, errs := runArpd(t, sampleLoad, "-C", "128", "-b", db, "-f", "-"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if st, _ := os.Stat(db); st.Size() != newCacheSize(t, 128) {
		t.Fatalf("size %d, want %d for 128 entries", st.Size(), newCacheSize(t, 128))
	}
	// Another -C rebuilds it, keeping its entries.
	if code, _, errs := runArpd(t, "", "-C", "4096", "-b", db, "-f", "/dev/null"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if st, _ := os.Stat(db); st.Size() != newCacheSize(t, 4096) {
		t.Fatalf("size %d after -C 4096", st.Size())
	}
	if _, out, _ := runArpd(t, "", "-l", "-b", db); len(sortedRows(t, out)) != 4 {
		t.Fatalf("entries lost in the rebuild:\n%s", out)
	}
	// Too many entries for the capacity: the user is told.
	var many strings.Builder
	for i := 0; i < 200; i++ {
		many.WriteString("2 10.2.0." + itoa(i) + " 00:11:22:33:44:55\n")
	}
	small := filepath.Join(t.TempDir(), "small.db")
	code, _, errs := runArpd(t, many.String(), "-C", "64", "-b", small, "-f", "-")
	if code != 0 || !strings.Contains(errs, "did not fit") {
		t.Fatalf("overfull load: exit %d, %q", code, errs)
	}
}

// itoa formats a small int without strconv, for test data.
func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestListMissingAndForeign(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runArpd(t, "", "-l", "-b", filepath.Join(dir, "none.db"))
	if code != 0 || out != listHeader || !strings.Contains(errs, "does not exist") {
		t.Fatalf("missing database: exit %d, %q, %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Fatal("-l created the database")
	}
	bdb := filepath.Join(dir, "old.db")
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint32(b[12:], 0x061561)
	os.WriteFile(bdb, b, 0o644)
	for _, args := range [][]string{{"-l", "-b", bdb}, {"-f", "/dev/null", "-b", bdb}, {"-s", "-b", bdb}} {
		code, _, errs := runArpd(t, "", args...)
		if code == 0 || !strings.Contains(errs, bdb) || !strings.Contains(errs, "Berkeley DB") || !strings.Contains(errs, "arpd -l -b") {
			t.Fatalf("%v on a Berkeley DB file: exit %d, %q", args, code, errs)
		}
	}
	if got, _ := os.ReadFile(bdb); !bytes.Equal(got, b) {
		t.Fatal("the Berkeley DB file was changed")
	}
}

func TestUsageAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-?"}, {"-Z"}, {"-a"}} {
		code, out, errs := runArpd(t, "", args...)
		if code != 1 || out != "" || !strings.Contains(errs, "Usage: arpd") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	code, out, _ := runArpd(t, "", "-V")
	if code != 0 || out != "arpd "+version+"\n" {
		t.Fatalf("-V: exit %d, %q", code, out)
	}
	code, _, errs := runArpd(t, "", "-p", "0.05", "-l")
	if code != 1 || !strings.Contains(errs, "poll timeout") {
		t.Fatalf("-p 0.05: exit %d, %q", code, errs)
	}
}
