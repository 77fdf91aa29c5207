package labtest

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Stats runs "arpd -s -b db" with the Binary and returns the counters it
// prints by name, "entries" and "capacity" among them. db may belong to a
// running daemon. It fails the test if arpd -s fails or prints no
// counters.
func Stats(t testing.TB, db string) map[string]uint64 {
	t.Helper()
	bin := Binary(t)
	cmd := exec.Command(bin, "-s", "-b", db)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("arpd -s -b %s: %v: %s%s", db, err, out, errb.Bytes())
	}
	st := parseStats(string(out))
	if _, ok := st["arp_accepted"]; !ok {
		t.Fatalf("arpd -s printed no counters: %s", out)
	}
	return st
}

// parseStats reads the "name value" lines of arpd -s.
func parseStats(out string) map[string]uint64 {
	st := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				st[f[0]] = v
			}
		}
	}
	return st
}
