package lab

import (
	"os"
	"testing"

	"arpd/internal/labtest"
)

// TestMain removes the arpd binary the lab tests built once they have run.
func TestMain(m *testing.M) {
	code := m.Run()
	labtest.RemoveBinary()
	os.Exit(code)
}
