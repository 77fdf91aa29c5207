package labtest_test

import (
	"os"
	"testing"

	"arpd/internal/labtest"
)

// TestMain removes the binary the tests built once they have run.
func TestMain(m *testing.M) {
	code := m.Run()
	labtest.RemoveBinary()
	os.Exit(code)
}
