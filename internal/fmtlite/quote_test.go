package fmtlite

import (
	"strconv"
	"testing"
)

// TestQuote: printable ASCII quotes as strconv.Quote does; every other
// byte shows as \xNN (or \t, \n, \r), and the result is a Go string
// literal that unquotes to s.
func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"10.0.0", `"10.0.0"`},
		{`a "b" \c`, `"a \"b\" \\c"`},
		{"t\tn\nr\r", `"t\tn\nr\r"`},
		{"\x1b[31mred", `"\x1b[31mred"`},
		{"é\x7f\x00", `"\xc3\xa9\x7f\x00"`},
	} {
		got := Quote(c.in)
		if got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
		if u, err := strconv.Unquote(got); err != nil || u != c.in {
			t.Errorf("Unquote(%s) = %q, %v; want %q", got, u, err, c.in)
		}
	}
	for i := 0; i < 128; i++ {
		s := string(rune(i))
		if i >= 0x20 && i < 0x7f && Quote(s) != strconv.Quote(s) {
			t.Errorf("Quote(%q) = %s, strconv.Quote gives %s", s, Quote(s), strconv.Quote(s))
		}
	}
}

// FuzzQuote: whatever the bytes, the quoted form is printable ASCII and
// unquotes to them.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1", "\x1b]0;x\x07", "\xff\xfe", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		for i := 0; i < len(q); i++ {
			if q[i] < 0x20 || q[i] >= 0x7f {
				t.Fatalf("Quote(%q) has byte %#x", s, q[i])
			}
		}
		if u, err := strconv.Unquote(q); err != nil || u != s {
			t.Fatalf("Unquote(%s) = %q, %v", q, u, err)
		}
	})
}
