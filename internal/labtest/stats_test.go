package labtest

import (
	"maps"
	"testing"
)

// TestParseStats checks the reading of arpd -s: "name value" lines count,
// everything else (the owner line, blank lines, words) does not.
func TestParseStats(t *testing.T) {
	out := "owner pid 42, running since 2024-01-01\n" +
		"entries 3\ncapacity 4096\n\narp_accepted 18446744073709551615\n" +
		"bad x\nthree fields here\n"
	want := map[string]uint64{"entries": 3, "capacity": 4096, "arp_accepted": 1<<64 - 1}
	if got := parseStats(out); !maps.Equal(got, want) {
		t.Fatalf("parseStats = %v, want %v", got, want)
	}
}
