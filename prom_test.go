package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"arpd/internal/cache"
)

// promSample is one sample of an exposition: its metric, labels and value.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promFamily is a metric family: its TYPE, HELP and samples.
type promFamily struct {
	typ, help string
	samples   []promSample
}

var (
	promName   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabel  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	promTypeRe = regexp.MustCompile(`^(counter|gauge|untyped|summary|histogram)$`)
)

// parseProm parses an exposition in the text format strictly: UTF-8,
// a newline after every line, HELP and TYPE before a family's samples
// and once each, a family's samples together, counters named _total,
// label values with only the three escapes, no series twice.
func parseProm(t *testing.T, text string) map[string]*promFamily {
	t.Helper()
	if !utf8.ValidString(text) || !strings.HasSuffix(text, "\n") {
		t.Fatalf("not UTF-8 or no final newline: %q", text)
	}
	fams := map[string]*promFamily{}
	var cur string
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(why string) { t.Fatalf("line %d %q: %s", i+1, line, why) }
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			kw, rest, _ := strings.Cut(rest, " ")
			name, arg, ok := strings.Cut(rest, " ")
			if !ok || !promName.MatchString(name) {
				fail("bad HELP or TYPE")
			}
			f := fams[name]
			if f == nil {
				f = &promFamily{}
				fams[name] = f
			} else if len(f.samples) > 0 {
				fail("HELP or TYPE after the family's samples")
			}
			switch kw {
			case "HELP":
				if f.help != "" || strings.Contains(strings.NewReplacer(`\\`, "", `\n`, "").Replace(arg), `\`) {
					fail("second HELP or bad escape")
				}
				f.help = arg
			case "TYPE":
				if f.typ != "" || !promTypeRe.MatchString(arg) {
					fail("second TYPE or bad type")
				}
				f.typ = arg
			default:
				fail("unknown comment")
			}
			cur = name
			continue
		}
		s, series := parsePromSample(t, line, fail)
		if s.name != cur || fams[cur] == nil || fams[cur].typ == "" {
			fail("sample outside its family, or before its TYPE")
		}
		if seen[series] {
			fail("series twice")
		}
		seen[series] = true
		fams[cur].samples = append(fams[cur].samples, s)
	}
	for name, f := range fams {
		if f.typ == "counter" && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s not named _total", name)
		}
		if f.help == "" || len(f.samples) == 0 {
			t.Errorf("family %s without HELP or samples", name)
		}
	}
	return fams
}

// parsePromSample parses name{labels} value, and returns the sample and
// its series (the line without the value).
func parsePromSample(t *testing.T, line string, fail func(string)) (promSample, string) {
	s := promSample{labels: map[string]string{}}
	open := strings.IndexByte(line, '{')
	if open < 0 {
		fail("no labels")
	}
	s.name = line[:open]
	if !promName.MatchString(s.name) {
		fail("bad metric name")
	}
	rest := line[open+1:]
	for {
		eq := strings.Index(rest, `="`)
		if eq < 0 || !promLabel.MatchString(rest[:eq]) {
			fail("bad label name")
		}
		name := rest[:eq]
		rest = rest[eq+2:]
		var v strings.Builder
		for {
			if rest == "" {
				fail("unterminated label value")
			}
			c := rest[0]
			if c == '"' {
				rest = rest[1:]
				break
			}
			if c == '\\' {
				if len(rest) < 2 || !strings.ContainsRune(`\"n`, rune(rest[1])) {
					fail("bad escape in label value")
				}
				v.WriteByte(map[byte]byte{'\\': '\\', '"': '"', 'n': '\n'}[rest[1]])
				rest = rest[2:]
				continue
			}
			if c == '\n' {
				fail("raw newline in label value")
			}
			v.WriteByte(c)
			rest = rest[1:]
		}
		if _, dup := s.labels[name]; dup {
			fail("label twice")
		}
		s.labels[name] = v.String()
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
			continue
		}
		if !strings.HasPrefix(rest, "} ") {
			fail("labels not closed")
		}
		series := line[:len(line)-len(rest)+1]
		val, err := strconv.ParseFloat(rest[2:], 64)
		if err != nil {
			fail("bad value")
		}
		s.value = val
		return s, series
	}
}

// TestMetrics checks -m's exposition with the strict parser: every
// counter of -s present once, by its name or as a reason of the drop
// families, the gauges, and the db label escaped.
func TestMetrics(t *testing.T) {
	db := filepath.Join(t.TempDir(), "odd \"name\"\\\nx\xff.db")
	if code, _, errs := runArpd(t, sampleLoad, "-b", db, "-f", "-"); code != 0 {
		t.Fatalf("load: exit %d: %s", code, errs)
	}
	code, out, errs := runArpd(t, "", "-m", "-b", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	fams := parseProm(t, out)
	wantDB := strings.ToValidUTF8(db, "\ufffd")
	value := func(metric, reason string) (float64, bool) {
		f := fams[metric]
		if f == nil {
			return 0, false
		}
		for _, s := range f.samples {
			if s.labels["db"] != wantDB {
				t.Errorf("%s: db label %q, want %q", metric, s.labels["db"], wantDB)
			}
			if s.labels["reason"] == reason {
				return s.value, true
			}
		}
		return 0, false
	}
	for _, name := range counterNames {
		metric, reason := "arpd_"+name+"_total", ""
		if r, ok := strings.CutPrefix(name, "nd_drop_"); ok {
			metric, reason = "arpd_nd_drops_total", r
		} else if r, ok := strings.CutPrefix(name, "drop_"); ok {
			metric, reason = "arpd_arp_drops_total", r
		}
		if _, ok := value(metric, reason); !ok || fams[metric].typ != "counter" {
			t.Errorf("counter %s: no %s{reason=%q} counter", name, metric, reason)
		}
	}
	for metric, want := range map[string]float64{
		"arpd_loaded_total": 4, "arpd_entries": 4, "arpd_capacity_entries": cache.DefaultCapacity, "arpd_up": 0,
	} {
		if v, ok := value(metric, ""); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", metric, v, ok, want)
		}
	}
	for _, g := range []string{"arpd_up", "arpd_entries", "arpd_capacity_entries"} {
		if fams[g] == nil || fams[g].typ != "gauge" {
			t.Errorf("%s is not a gauge", g)
		}
	}
	if fams["arpd_start_time_seconds"] != nil {
		t.Error("a start time without a running daemon")
	}
}

// TestMetricsRunning: a running owner is up, with its start time.
func TestMetricsRunning(t *testing.T) {
	db, c := openOwned(t)
	owner := ownerOf(c)
	fams := parseProm(t, string(appendMetrics(nil, db, c, owner)))
	if f := fams["arpd_up"]; f == nil || f.samples[0].value != 1 {
		t.Errorf("arpd_up: %+v", f)
	}
	if f := fams["arpd_start_time_seconds"]; f == nil || f.samples[0].value != float64(owner.started) || f.typ != "gauge" {
		t.Errorf("arpd_start_time_seconds: %+v, want %d", f, owner.started)
	}
}
