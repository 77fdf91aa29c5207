// Package fmtlite formats messages with the few verbs arpd uses, without
// reflection, so that a router binary does without package fmt: fmt and
// the reflect code it keeps alive cost about 200 KB of a 2.4 MB MIPS
// binary.
//
// Its functions have the names and signatures of fmt's. Import it under
// its own name, so that a reader sees which one is in use; make vet checks
// the format strings given to it as go vet checks fmt's (see the Makefile
// and testdata/vet).
//
// Supported: the verbs %v, %s, %d, %q and %w (and %%), without flags,
// width or precision, on string, []byte (but not with %v), bool, int,
// int32, int64, uint8, uint16, uint32, uint64, error and fmt.Stringer
// values. A value of a named integer type is printed
// with %d only after a conversion (uint8(kind)), as there is no way to
// see through the name without reflection. Anything else, and a verb
// that does not suit its operand, prints as "%!verb(?)"; a missing operand
// as "%!verb(MISSING)" and extra ones as "%!(EXTRA)".
package fmtlite

import (
	"errors"
	"io"
	"strconv"
)

// stringer is fmt.Stringer.
type stringer interface{ String() string }

// wrapError is what Errorf returns for one %w: its text, and the error it
// wraps.
type wrapError struct {
	msg string
	err error
}

// Error returns the formatted message.
func (e *wrapError) Error() string { return e.msg }

// Unwrap returns the error given to %w.
func (e *wrapError) Unwrap() error { return e.err }

// Errorf formats like fmt.Errorf: with a %w operand the error wraps it.
// Unlike fmt, only the first of several %w operands is wrapped (arpd
// never uses two); the others are formatted as with %v.
func Errorf(format string, a ...any) error {
	var wrapped error
	b := appendf(nil, format, a, &wrapped)
	if wrapped == nil {
		return errors.New(string(b))
	}
	return &wrapError{string(b), wrapped}
}

// Sprintf formats like fmt.Sprintf.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func Sprintf(format string, a ...any) string { return string(appendf(nil, format, a, nil)) }

// Appendf formats like fmt.Appendf, appending to b.
func Appendf(b []byte, format string, a ...any) []byte { return appendf(b, format, a, nil) }

// Fprintf formats like fmt.Fprintf and writes the result to w.
func Fprintf(w io.Writer, format string, a ...any) (int, error) {
	return w.Write(appendf(nil, format, a, nil))
}

// Fprintln writes the operands with %v, separated by spaces and followed
// by a newline, like fmt.Fprintln.
func Fprintln(w io.Writer, a ...any) (int, error) {
	var b []byte
	for i, v := range a {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendValue(b, 'v', v)
	}
	return w.Write(append(b, '\n'))
}

// appendf appends format with its operands a to b. With wrapped set, the
// first operand of %w is kept there; otherwise %w is a bad verb, as in fmt
// outside Errorf.
func appendf(b []byte, format string, a []any, wrapped *error) []byte {
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+1 == len(format) {
			return append(b, "%!(NOVERB)"...)
		}
		i++
		verb := format[i]
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		if next >= len(a) {
			b = append(b, '%', '!', verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		v := a[next]
		next++
		if verb == 'w' {
			err, ok := v.(error)
			if wrapped == nil || !ok {
				b = appendBad(b, verb, v)
				continue
			}
			if *wrapped == nil {
				*wrapped = err
			}
			verb = 'v'
		}
		b = appendValue(b, verb, v)
	}
	if next < len(a) {
		b = append(b, "%!(EXTRA)"...)
	}
	return b
}

// appendValue appends v formatted with verb.
func appendValue(b []byte, verb byte, v any) []byte {
	if v == nil {
		if verb == 'v' {
			return append(b, "<nil>"...)
		}
		return appendBad(b, verb, v)
	}
	switch verb {
	case 'v', 's', 'q':
		switch x := v.(type) {
		case error:
			return appendString(b, verb, x.Error())
		case stringer:
			return appendString(b, verb, x.String())
		case string:
			return appendString(b, verb, x)
		case []byte:
			if verb != 'v' {
				return appendString(b, verb, string(x))
			}
		}
		if verb == 'v' {
			if n, ok := appendInt(b, v); ok {
				return n
			}
			if x, ok := v.(bool); ok {
				return strconv.AppendBool(b, x)
			}
		}
	case 'd':
		if n, ok := appendInt(b, v); ok {
			return n
		}
	}
	return appendBad(b, verb, v)
}

// appendString appends s for %v and %s, or quoted for %q.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func appendString(b []byte, verb byte, s string) []byte {
	if verb == 'q' {
		return AppendQuote(b, s)
	}
	return append(b, s...)
}

// appendInt appends v in decimal if it is an int, int32, int64, uint8,
// uint16, uint32 or uint64, the integer types arpd formats.
func appendInt(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	}
	return b, false
}

// appendBad appends the mark of a verb that does not suit its operand:
// %!verb(<nil>) for nil, as fmt prints it, and %!verb(?) for anything
// else, where fmt would name the type and value.
func appendBad(b []byte, verb byte, v any) []byte {
	b = append(b, '%', '!', verb, '(')
	if v == nil {
		b = append(b, "<nil>"...)
	} else {
		b = append(b, '?')
	}
	return append(b, ')')
}
