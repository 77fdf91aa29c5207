package main

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestParseDecimal checks parseDecimal against strconv.ParseFloat on the
// forms it takes, and that it refuses the rest.
func TestParseDecimal(t *testing.T) {
	for _, s := range []string{"0", "1", "20", "0.5", ".5", "5.", "+3", "-2", "00012.0300", "1e3", "1E+3",
		"2.5e-3", "0.000001", "123456789012345678901234", "0.1234567890123456789012", "1e308", "1e-400", "-0"} {
		got, ok := parseDecimal(s)
		want, _ := strconv.ParseFloat(s, 64)
		if !ok || !closeTo(got, want) {
			t.Errorf("parseDecimal(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", ".", "+", "-", "e3", "1e", "1e+", "1.2.3", "1/s", "1_000", "0x10", "inf", "+Inf",
		"NaN", " 1", "1 ", "1e400", "--1"} {
		if got, ok := parseDecimal(s); ok {
			t.Errorf("parseDecimal(%q) = %v, want refused", s, got)
		}
	}
}

// closeTo reports whether a and b agree to 1e-13 of their size.
func closeTo(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-13*math.Max(math.Abs(a), math.Abs(b))
}

// FuzzParseDecimal: parseDecimal never panics, and what it takes,
// strconv.ParseFloat takes with a value it matches.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0.5", "20", "1e3", "-2", "1.2.3", "1e400", "0.000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDecimal(s)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.ContainsAny(s, "xXpP_") || !closeTo(got, want) && want != 0 && math.Abs(want) > 1e-300 {
			t.Fatalf("parseDecimal(%q) = %v; ParseFloat says %v, %v", s, got, want, err)
		}
	})
}

// TestParseUint: digits only, up to 2^64-1, as strconv.ParseUint(s, 10, 64)
// takes them.
func TestParseUint(t *testing.T) {
	for _, s := range []string{"", "0", "7", "0042", "65536", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "184467440737095516150", "-1", "+1", "1 ", " 1", "1e3", "0x10", "١"} {
		n, ok := parseUint(s)
		want, err := strconv.ParseUint(s, 10, 64)
		if ok != (err == nil) || (ok && n != want) {
			t.Errorf("parseUint(%q) = %d, %v; strconv gives %d, %v", s, n, ok, want, err)
		}
	}
}
