package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

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

// paramKey names one interface's parameters in one family's table.
type paramKey struct {
	family uint8
	name   string
}

// fakeParams is a paramStore over a map, as the kernel's tables would
// hold the values: an interface missing from it has no such device, one
// with IPv4 values only has no IPv6. refuse makes every set fail.
type fakeParams struct {
	v      map[paramKey][2]int32
	refuse error
}

// newFakeParams returns a fakeParams with the given interfaces'
// app_solicit and mcast_solicit, the same values for IPv4 and IPv6; an
// interface in noIPv6 gets the IPv4 ones only.
func newFakeParams(ifs map[string][2]int32, noIPv6 ...string) *fakeParams {
	p := &fakeParams{v: map[paramKey][2]int32{}}
	for name, v := range ifs {
		p.v[paramKey{cache.FamilyIPv4, name}] = v
		if !slices.Contains(noIPv6, name) {
			p.v[paramKey{cache.FamilyIPv6, name}] = v
		}
	}
	return p
}

// lookup returns the values of name in family's table, or why there are
// none, as netlinkParams says it.
func (p *fakeParams) lookup(family uint8, name string) ([2]int32, error) {
	v, ok := p.v[paramKey{family, name}]
	switch {
	case ok:
		return v, nil
	case family == cache.FamilyIPv6 && p.has(name):
		return v, errNoParams
	}
	return v, errNoDevice
}

// has reports whether interface name exists (has IPv4 values).
func (p *fakeParams) has(name string) bool {
	_, ok := p.v[paramKey{cache.FamilyIPv4, name}]
	return ok
}

func (p *fakeParams) get(family uint8, name string) (int32, int32, error) {
	v, err := p.lookup(family, name)
	return v[0], v[1], err
}

func (p *fakeParams) set(family uint8, name string, app, mcast int32, setMcast bool) error {
	v, err := p.lookup(family, name)
	if err != nil {
		return err
	}
	if p.refuse != nil {
		return p.refuse
	}
	v[0] = app
	if setMcast {
		v[1] = mcast
	}
	p.v[paramKey{family, name}] = v
	return nil
}

// values returns an interface's two values of family.
func (p *fakeParams) values(t *testing.T, family uint8, name string) [2]int32 {
	t.Helper()
	v, err := p.lookup(family, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSysctlsSurviveCrash: adjust, "crash" (the cache is reopened without
// restoring), adjust again as a restarted daemon would, then restore: the
// values from before the first adjustment come back, not the adjusted
// ones the restart found, for both families.
func TestSysctlsSurviveCrash(t *testing.T) {
	p := newFakeParams(map[string][2]int32{"lan0": {0, 5}, "lan1": {4, 7}})
	c, _, path := newTestCacheAt(t, 64)
	both := &options{active: 3, noKernel: true, ipv4: true, ipv6: true}
	if err := adjustAllSysctls(c, p, "lan0", both, newLogger("", nil)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if got := p.values(t, f, "lan0"); got != [2]int32{3, 0} {
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
	if err := adjustAllSysctls(c2, p, "lan0", both, newLogger("", nil)); err != nil {
		t.Fatal(err)
	}
	noActive := &options{ipv4: true, ipv6: true} // no -a: mcast untouched
	if err := adjustAllSysctls(c2, p, "lan1", noActive, newLogger("", nil)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		p.v[paramKey{f, "lan1"}] = [2]int32{1, 9} // the admin's change of mcast_solicit
	}
	if err := restoreSysctls(c2, p, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if got := p.values(t, f, "lan0"); got != [2]int32{0, 5} {
			t.Fatalf("restored %s lan0 = %v, want the originals [0 5]", familyName(f), got)
		}
		if got := p.values(t, f, "lan1"); got != [2]int32{4, 9} {
			t.Fatalf("restored %s lan1 = %v, want [4 9] (mcast_solicit was never ours)", familyName(f), got)
		}
	}
	if n := len(c2.Originals()); n != 0 {
		t.Fatalf("%d saved records after restoring, want 0", n)
	}
}

// TestSysctlsSavedBeforeWritten: the originals of each family are in the
// cache file before the first value is set, so that a crash between the
// two cannot lose them. Every set is refused here (as the kernel refuses
// a process without CAP_NET_ADMIN), so the adjustment fails at its first
// change: the originals must be saved all the same, and nothing changed.
func TestSysctlsSavedBeforeWritten(t *testing.T) {
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		t.Run(familyName(f), func(t *testing.T) {
			p := newFakeParams(map[string][2]int32{"lan0": {6, 2}})
			p.refuse = unix.EPERM
			c, _ := newTestCache(t, 64)
			err := adjustSysctls(c, p, "lan0", f, 1, false)
			got, saved := savedOriginal(c, "lan0", f)
			if !errors.Is(err, unix.EPERM) || !saved || got.AppSolicit != 6 || got.McastSolicit != 2 {
				t.Fatalf("set refused: %v, saved %v %+v; want EPERM and both originals saved", err, saved, got)
			}
			if !strings.Contains(err.Error(), "set "+familyName(f)+" neighbour sysctls of lan0") {
				t.Errorf("error %q does not say what was refused", err)
			}
			if v := p.values(t, f, "lan0"); v != [2]int32{6, 2} {
				t.Errorf("values %v, want unchanged [6 2]", v)
			}
		})
	}
}

// TestAdjustFamilies: -4 and -6 adjust only their family, and a family not
// served gets back the values an earlier run left saved; an interface
// without IPv6 parameters is adjusted for IPv4 with one log line.
func TestAdjustFamilies(t *testing.T) {
	p := newFakeParams(map[string][2]int32{"lan0": {0, 3}, "v4only": {0, 3}}, "v4only")
	c, _ := newTestCache(t, 64)
	var logs bytes.Buffer
	log := newLogger("", &logs)
	only4 := &options{active: 1, ipv4: true}
	only6 := &options{active: 1, ipv6: true}
	if err := adjustAllSysctls(c, p, "lan0", only6, log); err != nil {
		t.Fatal(err)
	}
	if v4, v6 := p.values(t, cache.FamilyIPv4, "lan0"), p.values(t, cache.FamilyIPv6, "lan0"); v4 != [2]int32{0, 3} || v6 != [2]int32{1, 2} {
		t.Fatalf("-6: IPv4 %v IPv6 %v, want [0 3] and [1 2]", v4, v6)
	}
	// A restart with -4 (after a crash): IPv6 goes back, IPv4 is adjusted.
	if err := adjustAllSysctls(c, p, "lan0", only4, log); err != nil {
		t.Fatal(err)
	}
	if v4, v6 := p.values(t, cache.FamilyIPv4, "lan0"), p.values(t, cache.FamilyIPv6, "lan0"); v4 != [2]int32{1, 2} || v6 != [2]int32{0, 3} {
		t.Fatalf("-4 after -6: IPv4 %v IPv6 %v, want [1 2] and [0 3]", v4, v6)
	}
	if _, ok := savedOriginal(c, "lan0", cache.FamilyIPv6); ok {
		t.Errorf("IPv6 originals still saved after they were restored")
	}
	if logs.Len() != 0 {
		t.Errorf("logged %q", logs.String())
	}
	both := &options{active: 1, ipv4: true, ipv6: true}
	if err := adjustAllSysctls(c, p, "v4only", both, log); err != nil {
		t.Fatalf("an interface without IPv6: %v", err)
	}
	if v := p.values(t, cache.FamilyIPv4, "v4only"); v != [2]int32{1, 2} {
		t.Errorf("v4only IPv4 = %v, want adjusted [1 2]", v)
	}
	if _, ok := savedOriginal(c, "v4only", cache.FamilyIPv6); ok {
		t.Errorf("IPv6 originals saved for an interface without IPv6")
	}
	if want := "arpd: interface v4only has no IPv6 (no parameters in ndisc_cache): its IPv6 sysctls are left alone\n"; logs.String() != want {
		t.Errorf("log %q, want %q", logs.String(), want)
	}
	// A missing interface is an error, from its IPv4 parameters.
	if err := adjustAllSysctls(c, p, "missing", both, log); !errors.Is(err, errNoDevice) || !strings.Contains(err.Error(), "IPv4 neighbour sysctls of missing") {
		t.Fatalf("adjusting a missing interface: %v", err)
	}
}

func TestRestoreKeepsAndSkipsMissing(t *testing.T) {
	p := newFakeParams(map[string][2]int32{"a": {0, 3}, "b": {0, 3}, "c": {0, 3}})
	c, _ := newTestCache(t, 64)
	for _, n := range []string{"a", "b", "c"} {
		for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
			if err := adjustSysctls(c, p, n, f, 2, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An interface that disappeared has nothing to restore, nor one
	// that lost its IPv6: no error.
	delete(p.v, paramKey{cache.FamilyIPv4, "b"})
	delete(p.v, paramKey{cache.FamilyIPv6, "b"})
	delete(p.v, paramKey{cache.FamilyIPv6, "c"})
	if err := restoreSysctls(c, p, func(name string) bool { return name == "a" }); err != nil {
		t.Fatal(err)
	}
	got := c.Originals()
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "a" || got[0].Family == got[1].Family {
		t.Fatalf("kept %+v, want only a, both families", got)
	}
	if v := p.values(t, cache.FamilyIPv4, "c"); v != [2]int32{0, 3} {
		t.Errorf("c IPv4 = %v, want restored [0 3]", v)
	}
	for _, f := range []uint8{cache.FamilyIPv4, cache.FamilyIPv6} {
		if v := p.values(t, f, "a"); v != [2]int32{2, 1} {
			t.Fatalf("%s a = %v, want still adjusted [2 1]", familyName(f), v)
		}
	}
	// Any other refusal is an error, and the values stay saved.
	p.refuse = unix.EPERM
	if err := restoreSysctls(c, p, nil); !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "restore") || len(c.Originals()) != 2 {
		t.Fatalf("a refused restore: %v, %d saved", err, len(c.Originals()))
	}
}
