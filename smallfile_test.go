package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSmallFiles: mkdirAll makes missing parents and accepts an existing
// directory; readSmallFile reads a file whole and refuses one of 4 KiB or
// more; renameFile replaces the target; errors name the path and unwrap
// to the system call's.
func TestSmallFiles(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b", "c") + "/"
	if err := mkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mkdirAll(deep, 0o755); err != nil {
		t.Fatalf("existing directory: %v", err)
	}
	if st, err := os.Stat(deep); err != nil || !st.IsDir() {
		t.Fatalf("not made: %v", err)
	}
	f := filepath.Join(deep, "f")
	os.WriteFile(f, []byte("1024\n"), 0o644)
	if b, err := readSmallFile(f); err != nil || string(b) != "1024\n" {
		t.Fatalf("read %q, %v", b, err)
	}
	os.WriteFile(f+".big", make([]byte, 4096), 0o644)
	if _, err := readSmallFile(f + ".big"); !errors.Is(err, unix.EFBIG) {
		t.Errorf("a 4 KiB file: %v", err)
	}
	if err := renameFile(f, f+".big"); err != nil {
		t.Fatal(err)
	}
	if b, _ := readSmallFile(f + ".big"); string(b) != "1024\n" {
		t.Errorf("after rename: %q", b)
	}
	_, err := readSmallFile(f)
	if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), f) {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	if err := mkdirAll(filepath.Join(dir, "file", "sub"), 0o755); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("under a file: %v", err)
	}
}
