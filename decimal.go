package main

// A parser of decimal numbers for the options that take fractions (-R,
// -p), in place of strconv.ParseFloat.
//
// NB: strconv.ParseFloat brings its own decimal and hexadecimal readers
// and exact-conversion paths, about 10 KB of the mips binary, which is at
// the edge of its budget; an option's rate or interval needs none of that
// precision.

import "math"

// maxDecimalDigits is how many significant digits parseDecimal keeps; the
// rest only set the exponent.
const maxDecimalDigits = 19

// parseDecimal parses s as [+-]digits[.digits][(e|E)[+-]digits], with at
// least one digit before the exponent and nothing else, and returns its
// value, to within a few units in the last place. It reports false for
// anything else, and for a value that overflows float64.
func parseDecimal(s string) (float64, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg, i = s[i] == '-', i+1
	}
	// The value is mant·10^exp: each digit kept is appended to mant (and
	// lowers exp after the point); a digit past those kept before the
	// point raises exp, after it is dropped.
	var mant uint64
	digits, kept, exp := 0, 0, 0
	dot := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' && !dot {
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		digits++
		switch {
		case kept < maxDecimalDigits:
			if mant = mant*10 + uint64(c-'0'); mant != 0 {
				kept++
			}
			if dot {
				exp--
			}
		case !dot:
			exp++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) {
		e, ok := parseExponent(s[i:])
		if !ok {
			return 0, false
		}
		exp += e
	}
	f := scale10(float64(mant), exp)
	if math.IsInf(f, 0) {
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseExponent parses s as (e|E)[+-]digits, capped far beyond float64's
// range.
func parseExponent(s string) (int, bool) {
	if len(s) < 2 || s[0] != 'e' && s[0] != 'E' {
		return 0, false
	}
	i, neg := 1, false
	if s[i] == '+' || s[i] == '-' {
		neg, i = s[i] == '-', i+1
	}
	if i == len(s) {
		return 0, false
	}
	e := 0
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		e = min(e*10+int(s[i]-'0'), 10000)
	}
	if neg {
		e = -e
	}
	return e, true
}

// scale10 returns f·10^exp.
func scale10(f float64, exp int) float64 {
	if f == 0 {
		return 0
	}
	for ; exp > 0; exp-- {
		f *= 10
	}
	for ; exp < 0; exp++ {
		f /= 10
		if f == 0 {
			break
		}
	}
	return f
}

// parseUint parses s as a decimal number of digits only, in place of
// strconv.ParseUint, and reports false for anything else or a value past
// 2^64-1.
//
// NB: strconv.ParseUint's error type quotes its input with strconv.Quote,
// whose Unicode tables cost the MIPS binary some 10 KB.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func parseUint(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (1<<64-1-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
