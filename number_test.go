package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseNumberLikeStrconv compares parseNumber with strconv.ParseFloat:
// the same texts accepted (but for infinities, NaN and underscores, which
// it refuses on purpose), and the same value, exactly for the numbers
// people type and within a few ulps for long or extreme ones.
func TestParseNumberLikeStrconv(t *testing.T) {
	refused := map[string]bool{"inf": true, "+Inf": true, "NaN": true, "1_000": true, "0x_1p0": true}
	check := func(s string, exact bool) {
		t.Helper()
		want, werr := strconv.ParseFloat(s, 64)
		got, ok := parseNumber(s)
		if refused[s] {
			if ok {
				t.Errorf("parseNumber(%q) = %v, want it refused", s, got)
			}
			return
		}
		if werr != nil && !math.IsInf(want, 0) {
			if ok {
				t.Errorf("parseNumber(%q) = %v, strconv refuses it: %v", s, got, werr)
			}
			return
		}
		if !ok {
			t.Errorf("parseNumber(%q) refused, strconv says %v", s, want)
			return
		}
		if math.IsInf(want, 0) || want == 0 {
			if got != want && !(math.IsInf(want, 0) && math.IsInf(got, 0)) {
				t.Errorf("parseNumber(%q) = %v, strconv %v", s, got, want)
			}
			return
		}
		if exact && got != want {
			t.Errorf("parseNumber(%q) = %v (%x), strconv %v (%x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
		}
		if d := math.Float64bits(got) - math.Float64bits(want); int64(d) > 8 || int64(d) < -8 {
			t.Errorf("parseNumber(%q) = %v, strconv %v: %d ulps apart", s, got, want, int64(d))
		}
	}
	for _, s := range []string{
		"0", "1", "0.1", "0.3", "2.5", "30", "0.123456789", "1.5e1", "15e-1", "1E3", "+2",
		"-1", "-0", "+0.5", ".5", "5.", ".", "", "+", "-", "e5", "1e", "1e+", "1e-2",
		"1e22", "1e-22", "1e400", "-1e400", "1e-400", "0x1p-3", "0X1P3", "0x.8p1",
		"0xAp0", "0x1", "0x", "0xp1", "0x1p", "0x1.8p+1", "inf", "+Inf", "NaN", "1s",
		"1/s", "1_000", "0x_1p0", "1..2", "1.2.3", " 1", "1 ", "00001.5000",
		"123456789012345678901234567890", "0.000000000000000000000000001",
		"179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
	} {
		check(s, true)
	}
	for _, s := range []string{"1e300", "1e-300", "4.9e-324", "1.7976931348623157e308"} {
		check(s, false)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		// Short decimals, as typed: exact.
		s := strconv.FormatFloat(float64(rng.IntN(1000000))/math.Pow10(rng.IntN(7)), 'f', -1, 64)
		check(s, true)
		// Any float64, shortest form and with exponents: close.
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		check(strconv.FormatFloat(f, 'g', -1, 64), false)
		check(strconv.FormatFloat(f, 'x', -1, 64), true)
	}
}
