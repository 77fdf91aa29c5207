package main

// Progress of the long offline jobs (a -f load, a rebuild) on a terminal:
// one line on standard error, rewritten in place.

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// progressStride is how many steps pass between rewrites of the line: at
// the 150,000 to 300,000 entries a second that a load or a rebuild goes
// on a PC, two to four a second. A variable so that tests can show every
// step.
//
// NB: counted rather than timed: reading a clock here cost more of the
// mips binary than the whole progress line.
var progressStride = 1 << 16

// progress shows how far a job is. Its zero value, and one whose writer
// is not a terminal, shows nothing.
type progress struct {
	// w is the terminal, nil to show nothing.
	w io.Writer
	// what names the stage; total is its number of steps, 0 if unknown.
	what  string
	total int
	// shown says that the line is on the screen.
	shown bool
	// NB: a field that makes the type incomparable, so that the compiler
	// makes no equality function for it (a third of a kilobyte on mips).
	_ [0]func()
}

// newProgress returns a progress that writes to stderr when stderr is a
// terminal, and shows nothing otherwise (a pipe, a file, a log).
func newProgress(stderr io.Writer) *progress {
	p := &progress{}
	if f, ok := stderr.(*os.File); ok && isTerminal(int(f.Fd())) {
		p.w = stderr
	}
	return p
}

// isTerminal reports whether fd is a terminal: whether it answers the
// terminal's own ioctl.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// stage starts a stage named what, of total steps (0: unknown).
func (p *progress) stage(what string, total int) { p.what, p.total = what, total }

// step reports that done steps of the stage are done, and rewrites the
// line every progressStride steps.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func (p *progress) step(done int) {
	if p.w != nil && done%progressStride == 0 && done > 0 {
		p.show(done)
	}
}

// show rewrites the line: the stage, the steps done, and of how many.
//
//go:noinline
func (p *progress) show(done int) {
	p.shown = true
	var b outBuf
	b.raw("\rarpd: ")
	b.raw(p.what)
	b.raw(": ")
	b.uint(uint64(done))
	if p.total > 0 {
		b.raw(" of ")
		b.uint(uint64(p.total))
		b.raw(" (")
		b.uint(uint64(done) * 100 / uint64(p.total))
		b.raw("%)")
	}
	b.raw("\x1b[K")
	p.w.Write(b)
}

// end clears the line if it was shown, so that what follows starts on a
// clean line.
func (p *progress) end() {
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}
