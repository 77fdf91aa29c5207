package main

// Small file operations on raw system calls.
//
// NB: os.ReadFile, os.Rename and os.MkdirAll stat files, and os's
// FileInfo carries a time.Time, which keeps time's formatting and zone
// loading in the binary through the runtime's calls of String. These
// three are all the daemon needs, and without them the mips binary is
// smaller (doc/DESIGN.md, the binary's size).

import (
	"golang.org/x/sys/unix"
)

// readSmallFile returns the contents of path, which must be under 4 KiB
// (a sysctl or a pid file); a longer file is an error.
func readSmallFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &pathError{"open", path, err}
	}
	defer unix.Close(fd)
	var buf [4096]byte
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &pathError{"read", path, err}
		}
		if m == 0 {
			return append([]byte(nil), buf[:n]...), nil
		}
		n += m
	}
	return nil, &pathError{"read", path, unix.EFBIG}
}

// renameFile renames from to to, replacing to.
func renameFile(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &pathError{"rename", from + " " + to, err}
	}
	return nil
}

// mkdirAll makes directory path and any parents missing, with mode perm.
func mkdirAll(path string, perm uint32) error {
	err := unix.Mkdir(path, perm)
	if err == unix.ENOENT {
		parent := path
		for len(parent) > 1 && parent[len(parent)-1] == '/' {
			parent = parent[:len(parent)-1]
		}
		for len(parent) > 0 && parent[len(parent)-1] != '/' {
			parent = parent[:len(parent)-1]
		}
		if parent != "" && parent != path {
			if err := mkdirAll(parent, perm); err != nil {
				return err
			}
			err = unix.Mkdir(path, perm)
		}
	}
	if err != nil && err != unix.EEXIST {
		return &pathError{"mkdir", path, err}
	}
	return nil
}

// pathError is an operation's error on a path, worded as os's.
type pathError struct {
	op, path string
	err      error
}

func (e *pathError) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }

// Unwrap returns the system call's error.
func (e *pathError) Unwrap() error { return e.err }
