package mmsg_test

import (
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/mmsg"
)

// TestHdrLayout: a Hdr is the kernel's struct mmsghdr, a msghdr and an
// unsigned int padded to the msghdr's alignment.
func TestHdrLayout(t *testing.T) {
	var h mmsg.Hdr
	want := unsafe.Sizeof(h.Msg) + 4
	if a := unsafe.Alignof(h.Msg); want%a != 0 {
		want += a - want%a
	}
	if unsafe.Sizeof(h) != want || unsafe.Offsetof(h.Len) != unsafe.Sizeof(h.Msg) {
		t.Errorf("Hdr is %d bytes with Len at %d, want %d with Len at %d", unsafe.Sizeof(h), unsafe.Offsetof(h.Len), want, unsafe.Sizeof(h.Msg))
	}
}

// TestSlots queues six datagrams on a socket pair, the third longer than
// a slot, and reads them into four slots of 8 bytes: Fills take them in
// order, at most four at a time, and Next returns each with its length
// (the long one's whole length, flagged MSG_TRUNC, with a slot's bytes)
// while Buffered counts down. A Fill of an empty socket is EAGAIN, and
// Fill and Next allocate nothing.
//
// recvmmsg may return fewer datagrams than are queued: under qemu-user a
// signal the Go runtime sends mid-call ends qemu's loop over the messages
// early. So the batch itself (one Fill taking four, the next two) is
// asserted of one of a few tries rather than of each.
func TestSlots(t *testing.T) {
	want := []string{"one", "", "++++twelve b", "four", "5", "sixsix"}
	batched := false
	for try := 0; try < 5 && !batched; try++ {
		got, fills := slotsRun(t)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("got %q, want %q", got, want)
		}
		batched = len(fills) == 2 && fills[0] == 4 && fills[1] == 2
		t.Logf("try %d: datagrams per Fill %v", try, fills)
	}
	if !batched {
		t.Errorf("no try received four datagrams, then two")
	}
}

// slotsRun queues the six datagrams and reads them back; it returns
// them as read ("+" for each byte cut) and how many each Fill took.
func slotsRun(t *testing.T) (got []string, fills []int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	for _, d := range []string{"one", "", "twelve bytes", "four", "5", "sixsix"} {
		if err := unix.Send(fds[0], []byte(d), 0); err != nil {
			t.Fatal(err)
		}
	}
	s := mmsg.New[unix.RawSockaddrUnix](nil, 8, 4)
	flags := uintptr(unix.MSG_DONTWAIT | unix.MSG_TRUNC)
	for len(got) < 6 && len(fills) < 6 {
		if e := s.Fill(fds[1], flags); e != 0 || s.Received() < 1 || s.Received() > 4 || s.Buffered() != s.Received() {
			t.Fatalf("Fill: %v, received %d, buffered %d; want 1 to 4 of each", e, s.Received(), s.Buffered())
		}
		fills = append(fills, s.Received())
		for {
			b, n, fl, name, ok := s.Next()
			if !ok {
				break
			}
			if name == nil || (n > 8) != (fl&unix.MSG_TRUNC != 0) || len(b) != min(n, 8) {
				t.Errorf("datagram %d: %d bytes of %d, flags %#x", len(got), len(b), n, fl)
			}
			got = append(got, strings.Repeat("+", max(n-len(b), 0))+string(b))
		}
		if s.Buffered() != 0 {
			t.Errorf("Buffered %d after the last Next", s.Buffered())
		}
	}
	if e := s.Fill(fds[1], flags); e != unix.EAGAIN {
		t.Errorf("Fill of an empty socket: %v, want EAGAIN", e)
	}
	buf := []byte("x")
	if a := testing.AllocsPerRun(50, func() {
		unix.Send(fds[0], buf, 0)
		s.Fill(fds[1], flags)
		s.Next()
	}); a != 0 {
		t.Errorf("%v allocations per Fill and Next, want 0", a)
	}
	return got, fills
}

// TestNewUsesBuffer: slots are cut from the buffer given when it has
// room, and from one of their own when it has not.
func TestNewUsesBuffer(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	for _, size := range []int{64, 8} {
		buf := make([]byte, 64)
		s := mmsg.New[unix.RawSockaddrUnix](buf, size, 2)
		unix.Send(fds[0], []byte("ab"), 0)
		unix.Send(fds[0], []byte("cd"), 0)
		s.Fill(fds[1], unix.MSG_DONTWAIT)
		s.Next()
		b, _, _, _, _ := s.Next()
		at := uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&buf[0]))
		inBuf := at == uintptr(size)
		if (size*2 <= len(buf)) != inBuf || string(b) != "cd" {
			t.Errorf("slots of %d in a buffer of %d: second datagram %q, in the buffer %v", size, len(buf), b, inBuf)
		}
	}
}

// TestNextClearsUnwrittenName receives a datagram from a bound socket,
// then one from an unbound socket into the same slot: the second's
// source, which the kernel does not write, reads as zero, not as the
// first's.
func TestNextClearsUnwrittenName(t *testing.T) {
	dir := t.TempDir()
	socket := func(path string) int {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if path != "" {
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
				t.Fatal(err)
			}
		}
		return fd
	}
	rx := dir + "/rx"
	r, named, anon := socket(rx), socket(dir+"/tx"), socket("")
	s := mmsg.New[unix.RawSockaddrUnix](nil, 8, 1)
	for i, fd := range []int{named, anon} {
		if err := unix.Sendto(fd, []byte("x"), 0, &unix.SockaddrUnix{Name: rx}); err != nil {
			t.Fatal(err)
		}
		if e := s.Fill(r, unix.MSG_DONTWAIT); e != 0 {
			t.Fatalf("Fill %d: %v", i, e)
		}
		_, _, _, name, ok := s.Next()
		if want := i == 0; !ok || (name.Family == unix.AF_UNIX) != want || (name.Path[0] != 0) != want {
			t.Errorf("datagram %d: source family %d, path %q; want a named source: %v", i, name.Family, name.Path[:8], want)
		}
	}
}
