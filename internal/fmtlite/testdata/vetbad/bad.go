// Package vetbad holds one wrong format string given to fmtlite, for the
// test that make vet's format check catches it.
package vetbad

import "arpd/internal/fmtlite"

// Bad formats a string with %d: go vet with the fmtlite overlay reports it.
func Bad() error { return fmtlite.Errorf("%d", "x") }
