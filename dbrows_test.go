package main

// The daemon's database as the lab tests read it: arpd -l run in this
// process, exactly as an administrator would run it on the file.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// dbRow is one row of arpd -l: a positive entry has MAC set, a negative
// one Failed.
type dbRow struct {
	MAC    string
	Failed bool
	Age    int // seconds, for negative entries
}

// listDBRows runs arpd -l on db (which may belong to a running daemon) and
// returns its rows by "ifindex ip".
func listDBRows(t *testing.T, db string) map[string]dbRow {
	t.Helper()
	code, out, errs := runArpd(t, "", "-l", "-b", db)
	if code != 0 {
		t.Fatalf("arpd -l -b %s: exit %d: %s", db, code, errs)
	}
	rows := map[string]dbRow{}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i == 0 {
			if line+"\n" != listHeader {
				t.Fatalf("arpd -l: header %q", line)
			}
			continue
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3:
			rows[f[0]+" "+f[1]] = dbRow{MAC: f[2]}
		case len(f) == 5 && f[2] == "FAILED:" && f[4] == "ago":
			age, _ := strconv.Atoi(strings.TrimSuffix(f[3], "sec"))
			rows[f[0]+" "+f[1]] = dbRow{Failed: true, Age: age}
		default:
			t.Fatalf("arpd -l: cannot read row %q", line)
		}
	}
	return rows
}

// rowKey is the listDBRows key of ip on interface ifindex.
func rowKey(ifindex int, ip [4]byte) string {
	return fmt.Sprintf("%d %d.%d.%d.%d", ifindex, ip[0], ip[1], ip[2], ip[3])
}
