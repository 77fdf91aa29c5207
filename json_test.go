package main

import (
	netip "arpd/internal/netiplite"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"arpd/internal/cache"
)

// jsonTestDB makes a database holding positive and negative entries of
// both families, one of them a router with its source recorded, with
// Updated set by a fixed clock, and returns its path.
func jsonTestDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "arpd.db")
	c, err := cache.Open(db, cache.Options{Capacity: 64, NegativeTTL: 1 << 30, Now: func() uint32 { return 1000 }})
	if err != nil {
		t.Fatal(err)
	}
	mac := [8]byte{2, 0, 0, 0, 0, 9}
	for _, e := range []cache.Entry{
		{Key: keyOf(5, netip.MustParseAddr("2001:db8::5")), Kind: cache.KindNegative, Updated: 1000},
		{Key: keyOf(5, netip.MustParseAddr("10.0.0.5")), Kind: cache.KindNegative, Updated: 1000},
		{Key: keyOf(6, netip.MustParseAddr("fe80::6")), Kind: cache.KindPositive, LLLen: 6, LLAddr: mac, Router: true, Source: cache.SourceND, Updated: 1000},
		{Key: keyOf(6, netip.MustParseAddr("10.0.0.6")), Kind: cache.KindPositive, LLLen: 6, LLAddr: mac, Source: cache.SourceARP, Updated: 1000},
	} {
		if _, err := c.Put(&e); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	return db
}

// jsonEntry is one object of -l -j, every member typed so that a member
// of another type fails the decoding.
type jsonEntry struct {
	Ifindex uint32  `json:"ifindex"`
	Family  string  `json:"family"`
	Dst     string  `json:"dst"`
	Kind    string  `json:"kind"`
	LLAddr  *string `json:"lladdr"`
	Router  bool    `json:"router"`
	Source  string  `json:"source"`
	Updated int64   `json:"updated"`
	Age     int64   `json:"age"`
}

// decodeStrict decodes doc into v, refusing unknown members and anything
// after the document.
func decodeStrict(t *testing.T, doc string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", doc, err)
	}
	if dec.More() {
		t.Fatalf("more than one document: %q", doc)
	}
}

// TestListJSON lists both families, positive and negative entries, with
// -j, and with -j -4: an array of objects with every member.
func TestListJSON(t *testing.T) {
	db := jsonTestDB(t)
	code, out, errs := runArpd(t, "", "-l", "-j", "-b", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// Every member is present in every object, null or not.
	var raw []map[string]any
	decodeStrict(t, out, &raw)
	for _, m := range raw {
		if len(m) != 9 {
			t.Errorf("object with %d members, want 9: %v", len(m), m)
		}
	}
	var got []jsonEntry
	decodeStrict(t, out, &got)
	mac := "02:00:00:00:00:09"
	age := got[0].Age
	want := []jsonEntry{
		{5, "inet", "10.0.0.5", "negative", nil, false, "unknown", 1000, age},
		{6, "inet", "10.0.0.6", "positive", &mac, false, "arp", 1000, age},
		{5, "inet6", "2001:db8::5", "negative", nil, false, "unknown", 1000, age},
		{6, "inet6", "fe80::6", "positive", &mac, true, "nd", 1000, age},
	}
	if age < 1000 {
		t.Errorf("age %d: want the seconds since 1000", age)
	}
	// IPv4 first, then IPv6, each family in the file's (hashed) order.
	for i := 1; i < len(got); i++ {
		if got[i-1].Family == "inet6" && got[i].Family == "inet" {
			t.Errorf("an IPv4 entry after an IPv6 one: %+v", got)
		}
	}
	byDst := func(a, b jsonEntry) int { return strings.Compare(a.Dst, b.Dst) }
	slices.SortStableFunc(got[:2], byDst)
	slices.SortStableFunc(got[2:], byDst)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("-l -j:\n%+v\nwant\n%+v\n%s", got, want, out)
	}
	_, out, _ = runArpd(t, "", "-l", "-j", "-6", "-b", db)
	got = nil
	decodeStrict(t, out, &got)
	slices.SortStableFunc(got, byDst)
	// A second later (a slow machine, an emulator), the ages are one more.
	for i := range got {
		if a := got[i].Age; a == age || a == age+1 {
			got[i].Age = age
		}
	}
	if !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("-l -j -6: %+v", got)
	}
	// An empty or missing database is an empty array.
	_, out, errs = runArpd(t, "", "-l", "-j", "-b", filepath.Join(t.TempDir(), "none.db"))
	if out != "[]\n" || !strings.Contains(errs, "does not exist") {
		t.Errorf("missing database: %q, %q", out, errs)
	}
}

// TestListJSONDoesNotAllocate: an entry's object is built in place.
func TestListJSONDoesNotAllocate(t *testing.T) {
	e := cache.Entry{Key: keyOf(6, netip.MustParseAddr("2001:db8::1")), Kind: cache.KindPositive, LLLen: 6}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = appendJSONEntry(buf[:0], &e, 5) }); n != 0 {
		t.Errorf("appendJSONEntry allocates %v times", n)
	}
}

// TestStatsJSON checks -s -j: one object with the database facts and
// every counter of counterNames, by name, with its value.
func TestStatsJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a \"quoted\"\\path\x01\xff.db")
	if code, _, errs := runArpd(t, sampleLoad, "-b", db, "-f", "-"); code != 0 {
		t.Fatalf("load: exit %d: %s", code, errs)
	}
	code, out, errs := runArpd(t, "", "-s", "-j", "-b", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Database     string            `json:"database"`
		Owner        string            `json:"owner"`
		Pid          *uint32           `json:"pid"`
		RunningSince *string           `json:"running_since"`
		Capacity     int               `json:"capacity"`
		Entries      uint64            `json:"entries"`
		Counters     map[string]uint64 `json:"counters"`
	}
	decodeStrict(t, out, &got)
	// The path's invalid byte is U+FFFD, the rest comes back as it was.
	if want := strings.ToValidUTF8(db, "\ufffd"); got.Database != want {
		t.Errorf("database %q, want %q", got.Database, want)
	}
	if got.Owner != "none" || got.Pid != nil || got.RunningSince != nil {
		t.Errorf("owner %q pid %v since %v: want none, null, null", got.Owner, got.Pid, got.RunningSince)
	}
	if got.Capacity != cache.DefaultCapacity || got.Entries != 4 {
		t.Errorf("capacity %d entries %d", got.Capacity, got.Entries)
	}
	if len(got.Counters) != len(counterNames) {
		t.Errorf("%d counters, want %d", len(got.Counters), len(counterNames))
	}
	for _, name := range counterNames {
		if _, ok := got.Counters[name]; !ok {
			t.Errorf("counter %s missing", name)
		}
	}
	if got.Counters["loaded"] != 4 || got.Counters["inserts"] != 4 {
		t.Errorf("loaded %d inserts %d, want 4 and 4", got.Counters["loaded"], got.Counters["inserts"])
	}
}

// TestStatsJSONOwner checks the owner members of a running and a dead
// owner, with a database open for writing by this process.
func TestStatsJSONOwner(t *testing.T) {
	db, c := openOwned(t)
	owner := ownerOf(c)
	if owner.state != ownerRunning {
		t.Fatalf("owner %+v, want running (this process)", owner)
	}
	var got map[string]any
	decodeStrict(t, string(appendStatsJSON(nil, db, c, owner)), &got)
	if got["owner"] != "running" || got["pid"] == nil || got["running_since"] != utcString(owner.started) {
		t.Errorf("running owner: %v", got)
	}
	decodeStrict(t, string(appendStatsJSON(nil, db, c, dbOwner{ownerDead, 7, 0})), &got)
	if got["owner"] != "dead" || got["pid"] != float64(7) || got["running_since"] != nil {
		t.Errorf("dead owner: %v", got)
	}
}

// TestJSONEscaping: every string, valid UTF-8 or not, comes back from
// encoding/json as it went in, with U+FFFD for each invalid byte.
func TestJSONEscaping(t *testing.T) {
	for _, s := range jsonSeeds {
		checkJSONString(t, s)
	}
}

// jsonSeeds are the escaping cases, and the seed corpus of
// FuzzJSONString.
var jsonSeeds = []string{"", "lan0", `a"b`, `a\b`, "a\nb\r\t", "\x00\x01\x1f\x7f", "\xff\xfe", "é€😀", "\xe2\x82", "eth0.100", "\u2028"}

// checkJSONString checks one string's escaping.
func checkJSONString(t *testing.T, s string) {
	t.Helper()
	var b outBuf
	b.raw(`{"k":`)
	b.raw(`"`)
	b.esc(s, escJSON)
	b.raw(`"}`)
	if !utf8.Valid(b) {
		t.Fatalf("%q: invalid UTF-8 out: %q", s, b)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%q: %v in %q", s, err, b)
	}
	if want := strings.ToValidUTF8(s, "\ufffd"); got["k"] != want && !(want != s && got["k"] == replaceEach(s)) {
		t.Fatalf("%q came back as %q", s, got["k"])
	}
}

// replaceEach replaces each invalid byte of s with U+FFFD, as
// encoding/json does (strings.ToValidUTF8 replaces a run with one).
func replaceEach(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\ufffd")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// FuzzJSONString checks the escaping of any string.
func FuzzJSONString(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}

// TestJSONOnlyWithListOrStats: -j elsewhere is a usage error, and so is
// -j with -m.
func TestJSONOnlyWithListOrStats(t *testing.T) {
	for _, args := range [][]string{{"-j"}, {"-j", "-f", "-"}, {"-j", "-F", "lo"}, {"-j", "-m"}, {"-s", "-j", "-m"}} {
		code, out, errs := runArpd(t, "", args...)
		if code != 1 || out != "" || !strings.Contains(errs, "-j") || !strings.Contains(errs, "Usage:") {
			t.Errorf("%q: exit %d, %q, %q", args, code, out, errs)
		}
	}
}

// openOwned makes a database of 64 entries that this process holds open
// for writing, closed when t ends, and returns its path and the file.
func openOwned(t *testing.T) (string, *cache.File) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "arpd.db")
	c, err := cache.Open(db, cache.Options{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return db, c
}
