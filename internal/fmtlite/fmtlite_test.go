package fmtlite

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
	"time"
)

// TestSameAsFmt checks that each supported call prints what fmt prints.
func TestSameAsFmt(t *testing.T) {
	errBoom := errors.New("boom")
	var nilErr error
	for _, tc := range []struct {
		format string
		args   []any
	}{
		{"plain text", nil},
		{"100%% sure", nil},
		{"%s and %s", []any{"a", "b c"}},
		{"%v %d %q", []any{"x", 42, "quote \"me\"\n"}},
		{"%d %d %d", []any{int32(-32), int64(-1 << 62), -7}},
		{"%d %d %d %d", []any{uint8(255), uint16(65535), uint32(1 << 31), uint64(1<<64 - 1)}},
		{"%v %v", []any{uint64(18446744073709551615), int32(-2147483648)}},
		{"%v %s %q", []any{errBoom, errBoom, errBoom}},
		{"%v %s", []any{syscall.ENOENT, fs.ErrNotExist}},
		{"%v %s %q", []any{5 * time.Second, time.Millisecond, time.Minute}},
		{"%s %q", []any{[]byte("raw"), []byte("q")}},
		{"%v %v", []any{true, false}},
		{"%v", []any{nil}},
		{"%v", []any{nilErr}},
		{"%d %s", []any{1}},
		{"ends with %", nil},
	} {
		want := fmt.Sprintf(tc.format, tc.args...)
		if got := Sprintf(tc.format, tc.args...); got != want {
			t.Errorf("Sprintf(%q, %#v) = %q, fmt says %q", tc.format, tc.args, got, want)
		}
		if got := string(Appendf([]byte("pre:"), tc.format, tc.args...)); got != "pre:"+want {
			t.Errorf("Appendf(%q) = %q, want %q", tc.format, got, "pre:"+want)
		}
		var buf bytes.Buffer
		n, err := Fprintf(&buf, tc.format, tc.args...)
		if err != nil || n != len(want) || buf.String() != want {
			t.Errorf("Fprintf(%q) wrote %q (%d, %v), want %q", tc.format, buf.String(), n, err, want)
		}
		if got := Errorf(tc.format, tc.args...).Error(); got != fmt.Errorf(tc.format, tc.args...).Error() {
			t.Errorf("Errorf(%q) = %q, fmt says %q", tc.format, got, fmt.Errorf(tc.format, tc.args...))
		}
	}
}

// TestFprintln checks spaces between operands and the newline.
func TestFprintln(t *testing.T) {
	var a, b bytes.Buffer
	args := []any{"arpd:", errors.New("gone"), 3, uint16(4)}
	Fprintln(&a, args...)
	fmt.Fprintln(&b, args...)
	if a.String() != b.String() {
		t.Fatalf("Fprintln wrote %q, fmt writes %q", a.String(), b.String())
	}
}

// TestErrorfWraps checks that %w wraps as fmt.Errorf does (only the first
// of several), and that without %w nothing is wrapped.
func TestErrorfWraps(t *testing.T) {
	inner := fmt.Errorf("open x: %w", fs.ErrNotExist)
	e := Errorf("load %s: %w", "db", inner)
	if e.Error() != "load db: open x: file does not exist" {
		t.Fatalf("message %q", e.Error())
	}
	if !errors.Is(e, fs.ErrNotExist) || errors.Unwrap(e) != inner {
		t.Fatal("the wrap verb does not wrap")
	}
	var errno syscall.Errno
	if !errors.As(Errorf("socket: %w", syscall.EPERM), &errno) || errno != syscall.EPERM {
		t.Fatal("errors.As does not find the errno")
	}
	two := Errorf("%w and %w", fs.ErrExist, syscall.EBUSY)
	if !errors.Is(two, fs.ErrExist) || two.Error() != fmt.Errorf("%w and %w", fs.ErrExist, syscall.EBUSY).Error() {
		t.Fatalf("two wrap verbs: %v", two)
	}
	if plain := Errorf("no wrap: %v", fs.ErrExist); errors.Unwrap(plain) != nil || errors.Is(plain, fs.ErrExist) {
		t.Fatal("a plain verb wrapped its operand")
	}
	wrapVerb := "%w" // a variable, or vet would refuse the string operand
	if got := Errorf(wrapVerb, "not an error").Error(); got != "%!w(?)" {
		t.Fatalf("%%w of a string: %q", got)
	}
	if got := Sprintf("%d", 1, "extra"); got != "1%!(EXTRA)" {
		t.Fatalf("extra operand: %q", got)
	}
}

// TestUnsupportedSaysSo checks the marker for what fmtlite cannot print
// without reflection, and for mistakes, so that such a call is noticed in
// its output.
func TestUnsupportedSaysSo(t *testing.T) {
	type kind uint8
	for _, tc := range []struct {
		format string
		arg    any
		want   string
	}{
		{"%d", kind(2), "%!d(?)"},
		{"%v", 1.5, "%!v(?)"},
		{"%x", 255, "%!x(?)"},
		{"%v", struct{}{}, "%!v(?)"},
		{"%d", "text", "%!d(?)"},
		{"%s", 7, "%!s(?)"},
		{"%s", nil, "%!s(<nil>)"},
		{"%d", nil, "%!d(<nil>)"},
		{"%v", []byte{1, 2}, "%!v(?)"},
		{"%d", int8(1), "%!d(?)"},
	} {
		if got := Sprintf(tc.format, tc.arg); got != tc.want {
			t.Errorf("Sprintf(%q, %#v) = %q, want %q", tc.format, tc.arg, got, tc.want)
		}
	}
}
