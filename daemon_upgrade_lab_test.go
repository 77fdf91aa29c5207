package main

// Lab test of an upgrade: the daemon started on a cache file of the
// previous format version.

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDaemonLabConvertsV2File starts the daemon on a copy of a cache file
// the previous release made (format version 2): it logs the conversion,
// serves, and leaves a version-3 file whose listing is the old file's, row
// for row, as this arpd lists the old file without changing it.
func TestDaemonLabConvertsV2File(t *testing.T) {
	t.Parallel()
	d := newDaemonLab(t)
	old, err := os.ReadFile(filepath.Join("internal", "cache", "testdata", "v2.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.DB, old, 0o644); err != nil {
		t.Fatal(err)
	}
	code, before, stderr := runArpd(t, "", "-l", "-b", d.DB)
	if code != 0 || len(sortedRows(t, before)) != 7 {
		t.Fatalf("-l of the version-2 file: exit %d, %q, %q; want its 7 rows", code, before, stderr)
	}
	if got, _ := os.ReadFile(d.DB); !slices.Equal(got, old) {
		t.Fatal("-l changed the version-2 file")
	}
	p := d.startArpd(t, "-a", "1", "-k", d.NearIf)
	if out := p.Output(); !strings.Contains(out, "converted from format version 2, 7 entries kept") {
		t.Errorf("the daemon's output does not tell of the conversion: %s", out)
	}
	p.RequireRunning("on a converted file")
	p.Close()
	b, err := os.ReadFile(d.DB)
	if err != nil || len(b) < 12 || binary.LittleEndian.Uint32(b[8:]) != 3 {
		t.Fatalf("after the daemon the file is not version 3 (%v)", err)
	}
	_, after, _ := runArpd(t, "", "-l", "-b", d.DB)
	if !slices.Equal(timeless(sortedRows(t, after)), timeless(sortedRows(t, before))) {
		t.Errorf("the converted file lists\n%s\nthe version-2 file listed\n%s", after, before)
	}
}

// failedAge is the age in a FAILED row, which moves with the clock.
var failedAge = regexp.MustCompile(`FAILED: -?[0-9]+sec ago`)

// timeless returns rows with the ages of their FAILED rows taken out.
func timeless(rows []string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = failedAge.ReplaceAllString(r, "FAILED")
	}
	return out
}
