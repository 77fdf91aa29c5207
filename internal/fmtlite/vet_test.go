package fmtlite_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVetChecksFormats checks what make vet relies on: with
// testdata/vet/fmtlite.go laid over fmtlite.go, go vet's printf check
// reports a format string that does not suit its operands (here %d with a
// string, in testdata/vetbad).
func TestVetChecksFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: runs go vet")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipped: the go command is not in PATH")
	}
	src, err := filepath.Abs("fmtlite.go")
	if err != nil {
		t.Fatal(err)
	}
	shim, err := filepath.Abs(filepath.Join("testdata", "vet", "fmtlite.go"))
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {src: shim}})
	if err != nil {
		t.Fatal(err)
	}
	ov := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goTool, "vet", "-overlay="+ov, "./testdata/vetbad").CombinedOutput()
	if err == nil {
		t.Fatalf("go vet passed a wrong format string; output:\n%s", out)
	}
	if !strings.Contains(string(out), "format %d has arg") {
		t.Fatalf("go vet failed, but not on the format string:\n%s", out)
	}
}
