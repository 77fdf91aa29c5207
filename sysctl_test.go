package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arpd/internal/cache"
)

func TestAdjustedSysctls(t *testing.T) {
	for _, tc := range []struct {
		active   int
		noKernel bool
		app      int32
		mcast    int32
		setMcast bool
	}{
		{0, false, 1, 0, false},
		{0, true, 1, 0, false},
		{1, false, 1, 2, true},
		{2, false, 2, 1, true},
		{3, false, 3, 1, true},
		{3, true, 3, 0, true},
		{1, true, 1, 0, true},
	} {
		app, mcast, set := adjustedSysctls(tc.active, tc.noKernel)
		if app != tc.app || mcast != tc.mcast || set != tc.setMcast {
			t.Errorf("-a %d -k=%v: app %d mcast %d set %v; want %d %d %v", tc.active, tc.noKernel, app, mcast, set, tc.app, tc.mcast, tc.setMcast)
		}
	}
}

// fakeSysctls points sysctlRoot at a temporary tree with the given
// interfaces' app_solicit and mcast_solicit.
func fakeSysctls(t *testing.T, ifs map[string][2]int) {
	t.Helper()
	root := t.TempDir()
	old := sysctlRoot
	sysctlRoot = root
	t.Cleanup(func() { sysctlRoot = old })
	for name, v := range ifs {
		dir := filepath.Join(root, "ipv4", "neigh", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "app_solicit"), []byte(itoa(v[0])+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "mcast_solicit"), []byte(itoa(v[1])+"\n"), 0o644)
	}
}

// sysctlValues reads back an interface's two values.
func sysctlValues(t *testing.T, name string) [2]int32 {
	t.Helper()
	a, err := readSysctl(cache.FamilyIPv4, name, "app_solicit")
	if err != nil {
		t.Fatal(err)
	}
	m, err := readSysctl(cache.FamilyIPv4, name, "mcast_solicit")
	if err != nil {
		t.Fatal(err)
	}
	return [2]int32{a, m}
}

// TestSysctlsSurviveCrash: adjust, "crash" (the cache is reopened without
// restoring), adjust again as a restarted daemon would, then restore: the
// values from before the first adjustment come back, not the adjusted
// ones the restart found.
func TestSysctlsSurviveCrash(t *testing.T) {
	fakeSysctls(t, map[string][2]int{"lan0": {0, 5}, "lan1": {4, 7}})
	c, _, path := newTestCacheAt(t, 64)
	if err := adjustSysctls(c, "lan0", 3, true); err != nil {
		t.Fatal(err)
	}
	if got := sysctlValues(t, "lan0"); got != [2]int32{3, 0} {
		t.Fatalf("adjusted lan0 = %v, want [3 0]", got)
	}
	// kill -9: nothing restored, nothing closed. A copy of the file taken
	// now is what the crash leaves: the open flag set, the state written.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(crashed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c2, err := cache.Open(crashed, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := adjustSysctls(c2, "lan0", 3, true); err != nil {
		t.Fatal(err)
	}
	if err := adjustSysctls(c2, "lan1", 0, false); err != nil { // no -a: mcast untouched
		t.Fatal(err)
	}
	os.WriteFile(sysctlPath(cache.FamilyIPv4, "lan1", "mcast_solicit"), []byte("9\n"), 0o644) // the admin's change
	if err := restoreSysctls(c2, nil); err != nil {
		t.Fatal(err)
	}
	if got := sysctlValues(t, "lan0"); got != [2]int32{0, 5} {
		t.Fatalf("restored lan0 = %v, want the originals [0 5]", got)
	}
	if got := sysctlValues(t, "lan1"); got != [2]int32{4, 9} {
		t.Fatalf("restored lan1 = %v, want [4 9] (mcast_solicit was never ours)", got)
	}
	if n := len(c2.Originals()); n != 0 {
		t.Fatalf("%d saved records after restoring, want 0", n)
	}
}

func TestRestoreKeepsAndSkipsMissing(t *testing.T) {
	fakeSysctls(t, map[string][2]int{"a": {0, 3}, "b": {0, 3}})
	c, _ := newTestCache(t, 64)
	for _, n := range []string{"a", "b"} {
		if err := adjustSysctls(c, n, 2, false); err != nil {
			t.Fatal(err)
		}
	}
	// An interface that disappeared has nothing to restore: no error.
	os.RemoveAll(filepath.Join(sysctlRoot, "ipv4", "neigh", "b"))
	if err := restoreSysctls(c, func(name string) bool { return name == "a" }); err != nil {
		t.Fatal(err)
	}
	got := c.Originals()
	if len(got) != 1 || got[0].Name != "a" {
		t.Fatalf("kept %+v, want only a", got)
	}
	if v := sysctlValues(t, "a"); v != [2]int32{2, 1} {
		t.Fatalf("a = %v, want still adjusted [2 1]", v)
	}
	if err := adjustSysctls(c, "missing", 1, false); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("adjusting a missing interface: %v", err)
	}
}
