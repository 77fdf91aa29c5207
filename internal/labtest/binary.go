package labtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// BinaryEnv names the environment variable that gives the arpd binary to
// test instead of building one; make demo and make bench-lab set it to the
// binary they built.
const BinaryEnv = "ARPD_BIN"

// Version is main.version in the binary that Binary builds.
const Version = "labtest"

// mainPackage is the import path of the arpd program: the module's root.
const mainPackage = "arpd"

// built is the binary Binary built, once per test binary.
var built struct {
	once sync.Once
	dir  string // its temporary directory, removed by RemoveBinary
	path string
	err  error
}

// errNoGo says that there is no go command to build with.
var errNoGo = errors.New("the go command is not available to build the daemon")

// Binary returns the absolute path of the arpd binary the tests run:
// $ARPD_BIN when it is set, otherwise the program built by Build with
// Version, once per test binary, into a temporary directory that
// RemoveBinary deletes. Any user may run the binary it builds. It skips t
// when there is no go command, and fails t when the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			t.Fatalf("%s=%s: %v", BinaryEnv, p, err)
		}
		return abs
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "arpd-labtest-")
		if built.err != nil {
			return
		}
		// NB: MkdirTemp makes the directory private to its owner; the
		// tests also run the binary as an unprivileged user.
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.path, built.err = build(built.dir, Version)
	})
	if errors.Is(built.err, errNoGo) {
		t.Skip(built.err)
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// RemoveBinary deletes the binary that Binary built, if it built one.
// TestMain calls it once the tests have run.
func RemoveBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Build builds the arpd program as dir/arpd with main.version set to
// version and returns the binary's path. It builds the way the Makefile
// does (static, -trimpath, stripped) and for the machine the test runs
// on, not for the GOARCH of a cross test run. It skips t when there is
// no go command, and fails t when the build fails.
func Build(t testing.TB, dir, version string) string {
	t.Helper()
	p, err := build(dir, version)
	if errors.Is(err, errNoGo) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// build runs go build for Build and Binary.
func build(dir, version string) (string, error) {
	goCmd, err := goTool()
	if err != nil {
		return "", err
	}
	out, err := filepath.Abs(filepath.Join(dir, "arpd"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goCmd, "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version, "-o", out, mainPackage)
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "GOOS", "GOARCH", "GOARM", "GOMIPS", "GOARM64", "CGO_ENABLED":
			continue // under make test-cross these name the emulated target
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build: " + err.Error() + "\n" + string(b))
	}
	return filepath.EvalSymlinks(out)
}

// GoTool returns the go command that Build runs. It skips t when there is
// none.
func GoTool(t testing.TB) string {
	t.Helper()
	p, err := goTool()
	if err != nil {
		t.Skip(err)
	}
	return p
}

// goTool returns the go command: the one on PATH, else the one of the
// toolchain that built the test.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errNoGo
}
