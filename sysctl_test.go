package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
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
// interfaces' app_solicit and mcast_solicit, the same values for IPv4 and
// IPv6; an interface in noIPv6 gets the IPv4 ones only.
func fakeSysctls(t *testing.T, ifs map[string][2]int, noIPv6 ...string) {
	t.Helper()
	root := t.TempDir()
	old := sysctlRoot
	sysctlRoot = root
	t.Cleanup(func() { sysctlRoot = old })
	for name, v := range ifs {
		for _, proto := range []string{"ipv4", "ipv6"} {
			if proto == "ipv6" && slices.Contains(noIPv6, name) {
				continue
			}
			dir := filepath.Join(root, proto, "neigh", name)
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "app_solicit"), []byte(itoa(v[0])+"\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "mcast_solicit"), []byte(itoa(v[1])+"\n"), 0o644)
		}
	}
}

// sysctlValues reads back an interface's two IPv4 values.
func sysctlValues(t *testing.T, name string) [2]int32 {
	t.Helper()
	return familyValues(t, cache.FamilyIPv4, name)
}

// familyValues reads back an interface's two values of family.
func familyValues(t *testing.T, family uint8, name string) [2]int32 {
	t.Helper()
	a, err := readSysctl(family, name, "app_solicit")
	if err != nil {
		t.Fatal(err)
	}
	m, err := readSysctl(family, name, "mcast_solicit")
	if err != nil {
		t.Fatal(err)
	}
	return [2]int32{a, m}
}

// TestSysctlsSurviveCrash: adjust, "crash" (the cache is reopened without
// restoring), adjust again as a restarted daemon would, then restore: the
// values from before the first adjustment come back, not the adjusted
// ones the restart found, for both families.
func TestSysctlsSurviveCrash(t *testing.T) {
	fakeSysctls(t, map[string][2]int{"lan0": {0, 5}, "lan1": {4, 7}})
	c, _, path := newTestCacheAt(t, 64)
	both := &options{active: 3, noKernel: true, ipv4: true, ipv6: true}
	if err := adjustAllSysctls(c, "lan0", both, newLogger("", nil)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if got := familyValues(t, f, "lan0"); got != [2]int32{3, 0} {
			t.Fatalf("adjusted %s lan0 = %v, want [3 0]", familyName(f), got)
		}
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
	if err := adjustAllSysctls(c2, "lan0", both, newLogger("", nil)); err != nil {
		t.Fatal(err)
	}
	noActive := &options{ipv4: true, ipv6: true} // no -a: mcast untouched
	if err := adjustAllSysctls(c2, "lan1", noActive, newLogger("", nil)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		os.WriteFile(sysctlPath(f, "lan1", "mcast_solicit"), []byte("9\n"), 0o644) // the admin's change
	}
	if err := restoreSysctls(c2, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if got := familyValues(t, f, "lan0"); got != [2]int32{0, 5} {
			t.Fatalf("restored %s lan0 = %v, want the originals [0 5]", familyName(f), got)
		}
		if got := familyValues(t, f, "lan1"); got != [2]int32{4, 9} {
			t.Fatalf("restored %s lan1 = %v, want [4 9] (mcast_solicit was never ours)", familyName(f), got)
		}
	}
	if n := len(c2.Originals()); n != 0 {
		t.Fatalf("%d saved records after restoring, want 0", n)
	}
}

// TestSysctlsSavedBeforeWritten: the originals of each family are in the
// cache file before the first sysctl is written, so that a crash between
// the two cannot lose them. mcast_solicit is made unwritable (a link to
// /proc/self/oom_score, which reads as a number and refuses every write,
// root's too), so the adjustment fails at its first write: the originals
// must be saved all the same.
func TestSysctlsSavedBeforeWritten(t *testing.T) {
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		t.Run(familyName(f), func(t *testing.T) {
			fakeSysctls(t, map[string][2]int{"lan0": {6, 2}})
			c, _ := newTestCache(t, 64)
			mcast := sysctlPath(f, "lan0", "mcast_solicit")
			os.Remove(mcast)
			if err := os.Symlink("/proc/self/oom_score", mcast); err != nil {
				t.Fatal(err)
			}
			if _, err := readSysctl(f, "lan0", "mcast_solicit"); err != nil {
				t.Skip("no /proc/self/oom_score:", err)
			}
			// NB: oom_score moves with the process's memory, so any value
			// read is right; notAdjusted is not.
			err := adjustSysctls(c, "lan0", f, 1, false)
			got, saved := savedOriginal(c, "lan0", f)
			if err == nil || !saved || got.AppSolicit != 6 || got.McastSolicit == notAdjusted {
				t.Fatalf("first write refused: %v, saved %v %+v; want an error and both originals saved", err, saved, got)
			}
			if v, _ := readSysctl(f, "lan0", "app_solicit"); v != 6 {
				t.Errorf("app_solicit %d, want 6 (written after mcast_solicit)", v)
			}
		})
	}
}

// TestAdjustFamilies: -4 and -6 adjust only their family, and a family not
// served gets back the values an earlier run left saved; an interface
// without IPv6 sysctls is adjusted for IPv4 with one log line.
func TestAdjustFamilies(t *testing.T) {
	fakeSysctls(t, map[string][2]int{"lan0": {0, 3}, "v4only": {0, 3}}, "v4only")
	c, _ := newTestCache(t, 64)
	var logs bytes.Buffer
	log := newLogger("", &logs)
	only4 := &options{active: 1, ipv4: true}
	only6 := &options{active: 1, ipv6: true}
	if err := adjustAllSysctls(c, "lan0", only6, log); err != nil {
		t.Fatal(err)
	}
	if v4, v6 := familyValues(t, cache.FamilyIPv4, "lan0"), familyValues(t, cache.FamilyIPv6, "lan0"); v4 != [2]int32{0, 3} || v6 != [2]int32{1, 2} {
		t.Fatalf("-6: IPv4 %v IPv6 %v, want [0 3] and [1 2]", v4, v6)
	}
	// A restart with -4 (after a crash): IPv6 goes back, IPv4 is adjusted.
	if err := adjustAllSysctls(c, "lan0", only4, log); err != nil {
		t.Fatal(err)
	}
	if v4, v6 := familyValues(t, cache.FamilyIPv4, "lan0"), familyValues(t, cache.FamilyIPv6, "lan0"); v4 != [2]int32{1, 2} || v6 != [2]int32{0, 3} {
		t.Fatalf("-4 after -6: IPv4 %v IPv6 %v, want [1 2] and [0 3]", v4, v6)
	}
	if _, ok := savedOriginal(c, "lan0", cache.FamilyIPv6); ok {
		t.Errorf("IPv6 originals still saved after they were restored")
	}
	if logs.Len() != 0 {
		t.Errorf("logged %q", logs.String())
	}
	both := &options{active: 1, ipv4: true, ipv6: true}
	if err := adjustAllSysctls(c, "v4only", both, log); err != nil {
		t.Fatalf("an interface without IPv6: %v", err)
	}
	if v := familyValues(t, cache.FamilyIPv4, "v4only"); v != [2]int32{1, 2} {
		t.Errorf("v4only IPv4 = %v, want adjusted [1 2]", v)
	}
	if _, ok := savedOriginal(c, "v4only", cache.FamilyIPv6); ok {
		t.Errorf("IPv6 originals saved for an interface without IPv6")
	}
	if want := "arpd: interface v4only has no IPv6 (no " + sysctlDir(cache.FamilyIPv6, "v4only") + "): its IPv6 sysctls are left alone\n"; logs.String() != want {
		t.Errorf("log %q, want %q", logs.String(), want)
	}
	// A missing interface is an error, from its IPv4 sysctls.
	if err := adjustAllSysctls(c, "missing", both, log); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("adjusting a missing interface: %v", err)
	}
}

func TestRestoreKeepsAndSkipsMissing(t *testing.T) {
	fakeSysctls(t, map[string][2]int{"a": {0, 3}, "b": {0, 3}})
	c, _ := newTestCache(t, 64)
	for _, n := range []string{"a", "b"} {
		for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
			if err := adjustSysctls(c, n, f, 2, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An interface that disappeared has nothing to restore: no error.
	os.RemoveAll(filepath.Join(sysctlRoot, "ipv4", "neigh", "b"))
	os.RemoveAll(filepath.Join(sysctlRoot, "ipv6", "neigh", "b"))
	if err := restoreSysctls(c, func(name string) bool { return name == "a" }); err != nil {
		t.Fatal(err)
	}
	got := c.Originals()
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "a" || got[0].Family == got[1].Family {
		t.Fatalf("kept %+v, want only a, both families", got)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if v := familyValues(t, f, "a"); v != [2]int32{2, 1} {
			t.Fatalf("%s a = %v, want still adjusted [2 1]", familyName(f), v)
		}
	}
	if err := adjustSysctls(c, "missing", cache.FamilyIPv6, 1, false); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("adjusting a missing interface: %v", err)
	}
}
