package lab

// The benchmark's picture: the distribution of request-to-valid times,
// one curve per daemon and phase, on a log time axis, as an SVG made with
// the standard library.

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// svgCurve is one curve: its label, colour, dash pattern ("" for a solid
// line) and samples.
type svgCurve struct {
	label, colour, dash string
	d                   []time.Duration
}

// The plot's geometry, in SVG user units.
const (
	svgW, svgH       = 900, 520
	svgLeft, svgTop  = 70, 40
	svgPlotW, svgPlH = 560, 400
)

// svgColours are the daemons' colours, in the columns' order;
// svgDashes the phases' patterns, in blPhase order.
var (
	svgColours = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}
	svgDashes  = [blPhases]string{"", "8 4", "2 3", "10 3 2 3", "4 4", "1 6"}
)

// blCurves returns the curves of rs: for each daemon, each phase it ran
// with kernel-stamped request-to-valid times.
func blCurves(rs []blResult) []svgCurve {
	var cs []svgCurve
	for i := range rs {
		for ph := range rs[i].phase {
			p := &rs[i].phase[ph]
			if !p.ran || len(p.turnaround) == 0 {
				continue
			}
			cs = append(cs, svgCurve{label: rs[i].name + ", " + blPhaseNames[ph],
				colour: svgColours[i%len(svgColours)], dash: svgDashes[ph], d: p.turnaround})
		}
	}
	return cs
}

// writeLatencySVG draws the curves as cumulative distributions: for each
// time on the log axis, the share of requests valid within it.
func writeLatencySVG(w io.Writer, title string, cs []svgCurve) error {
	lo, hi := svgDecades(cs)
	x := func(d time.Duration) float64 {
		v := math.Log10(max(float64(d), 1))
		return svgLeft + (v-lo)/(hi-lo)*svgPlotW
	}
	y := func(q float64) float64 { return svgTop + (1-q)*svgPlH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14">%s</text>`+"\n", svgLeft, svgEscape(title))
	for dec := lo; dec <= hi; dec++ {
		px := svgLeft + (dec-lo)/(hi-lo)*svgPlotW
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, svgTop, px, svgTop+svgPlH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px, svgTop+svgPlH+16, svgTick(dec))
	}
	for q := 0.0; q <= 1.0; q += 0.25 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", svgLeft, y(q), svgLeft+svgPlotW, y(q))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", svgLeft-6, y(q)+4, 100*q)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", svgLeft, svgTop, svgPlotW, svgPlH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">request to valid (the kernel's neigh tracepoints), log scale</text>`+"\n", svgLeft+svgPlotW/2, svgTop+svgPlH+36)
	fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">requests valid within</text>`+"\n", svgTop+svgPlH/2, svgTop+svgPlH/2)
	for i, c := range cs {
		b.WriteString(svgPath(c, x, y))
		ly := svgTop + 8 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n",
			svgLeft+svgPlotW+16, ly, svgLeft+svgPlotW+46, ly, c.colour, svgDashAttr(c.dash))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s (%d)</text>`+"\n", svgLeft+svgPlotW+52, ly+4, svgEscape(c.label), len(c.d))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgDecades returns the log axis's ends, whole decades of nanoseconds
// around every sample.
func svgDecades(cs []svgCurve) (lo, hi float64) {
	lo, hi = 4, 6 // 10 µs to 1 ms with no samples
	first := true
	for _, c := range cs {
		for _, d := range c.d {
			v := math.Log10(max(float64(d), 1))
			if first {
				lo, hi, first = math.Floor(v), math.Ceil(v), false
			}
			lo, hi = min(lo, math.Floor(v)), max(hi, math.Ceil(v))
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

// svgPath returns c's cumulative distribution as a step path.
func svgPath(c svgCurve, x func(time.Duration) float64, y func(float64) float64) string {
	d := slices.Clone(c.d)
	slices.Sort(d)
	var b strings.Builder
	fmt.Fprintf(&b, `<path fill="none" stroke="%s" stroke-width="2"%s d="M%.1f %.1f`, c.colour, svgDashAttr(c.dash), x(d[0]), y(0))
	// At most about 2 points per horizontal unit: a 200,000-sample curve
	// stays a few kilobytes.
	step := max(1, len(d)/(2*svgPlotW))
	for i := 0; i < len(d); i += step {
		j := min(i+step, len(d)) - 1
		fmt.Fprintf(&b, " L%.1f %.1f", x(d[j]), y(float64(j+1)/float64(len(d))))
	}
	b.WriteString(`"/>` + "\n")
	return b.String()
}

// svgTick labels the axis at 10^dec ns: "10 µs", "1 s".
func svgTick(dec float64) string {
	k := int(dec)
	units := []string{"ns", "µs", "ms", "s"}
	u := min(k/3, len(units)-1)
	v := math.Pow(10, float64(k-3*u))
	return fmt.Sprintf("%g %s", v, units[u])
}

func svgDashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, dash)
}

func svgEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// blWriteSVG writes the picture of rs (n hosts) to path, printing its
// path, or into a temporary file when path is "" (the small run checks
// it there).
func blWriteSVG(t *testing.T, rs []blResult, n int, path string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "bench-latency.svg")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("latency picture: %v", err)
	}
	title := fmt.Sprintf("arpd lab benchmark: request to valid, %s hosts (%s)", thousands(n), kernelRelease())
	if err := writeLatencySVG(f, title, blCurves(rs)); err != nil {
		t.Fatalf("latency picture %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("latency picture %s: %v", path, err)
	}
	return path
}

// svgPathFor returns the picture's path for n hosts: base itself for one
// size, base with -n before its extension for several.
func svgPathFor(base string, n int, several bool) string {
	if base == "" || !several {
		return base
	}
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s-%d%s", strings.TrimSuffix(base, ext), n, ext)
}

// checkSVG checks that the file at path is well-formed XML holding want
// curves (paths), and that every curve only rises.
func checkSVG(t testing.TB, path string, want int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	paths := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is no well-formed XML: %v", path, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "path" {
			continue
		}
		paths++
		for _, a := range se.Attr {
			if a.Name.Local == "d" && !svgRises(a.Value) {
				t.Errorf("%s: a curve falls: %.80s", path, a.Value)
			}
		}
	}
	if paths != want {
		t.Errorf("%s has %d curves, want %d", path, paths, want)
	}
}

// svgRises reports whether a path's points never go left or down (up on
// the screen is a smaller y).
func svgRises(d string) bool {
	var px, py float64 = -1, math.Inf(1)
	for _, pt := range strings.FieldsFunc(d, func(r rune) bool { return r == 'M' || r == 'L' }) {
		var x, y float64
		if _, err := fmt.Sscanf(strings.TrimSpace(pt), "%g %g", &x, &y); err != nil {
			return false
		}
		if x < px || y > py {
			return false
		}
		px, py = x, y
	}
	return true
}

// TestLatencySVG draws two curves, one of which has a sample a decade
// beyond the other's: the picture is well-formed, has both curves, each
// rising, and an axis spanning both, with both labels.
func TestLatencySVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.svg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cs := []svgCurve{
		{label: "this arpd, warm", colour: "#000", d: []time.Duration{30 * time.Microsecond, 50 * time.Microsecond, 20 * time.Microsecond}},
		{label: "kernel alone, warm & <cold>", colour: "#f00", dash: "4 4", d: []time.Duration{200 * time.Millisecond, 2 * time.Millisecond}},
	}
	if err := writeLatencySVG(f, "t", cs); err != nil {
		t.Fatal(err)
	}
	f.Close()
	checkSVG(t, path, 2)
	if lo, hi := svgDecades(cs); lo != 4 || hi != 9 {
		t.Errorf("axis from 1e%v to 1e%v ns, want 1e4 (10 µs) to 1e9 (1 s)", lo, hi)
	}
	b, _ := os.ReadFile(path)
	for _, s := range []string{"this arpd, warm (3)", "kernel alone, warm &amp; &lt;cold&gt; (2)", ">10 µs<", ">1 s<", ">100 ms<"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the picture has no %q", s)
		}
	}
	if svgRises("M1 10 L2 9 L1.5 8") {
		t.Error("svgRises took a curve going left")
	}
}
