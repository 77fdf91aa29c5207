// Package fmtlite, as go vet sees it: each function hands its format and
// operands to package fmt, so that vet's printf check recognises them as
// wrappers of fmt's and checks every format string given to them. make vet
// puts this file in place of fmtlite.go with go vet -overlay; it is never
// built into the binary.
package fmtlite

import (
	"fmt"
	"io"
)

// Errorf is fmt.Errorf.
func Errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// Sprintf is fmt.Sprintf.
func Sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// Appendf is fmt.Appendf.
func Appendf(b []byte, format string, a ...any) []byte { return fmt.Appendf(b, format, a...) }

// Fprintf is fmt.Fprintf.
func Fprintf(w io.Writer, format string, a ...any) (int, error) { return fmt.Fprintf(w, format, a...) }

// Fprintln is fmt.Fprintln.
func Fprintln(w io.Writer, a ...any) (int, error) { return fmt.Fprintln(w, a...) }
