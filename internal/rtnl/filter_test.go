package rtnl_test

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// runBPF runs a classic BPF program the way the kernel does (word loads are
// big-endian, a load past the end drops the packet) and returns how many
// bytes it keeps.
func runBPF(t *testing.T, prog [4]unix.SockFilter, pkt []byte) uint32 {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if int(in.K)+4 > len(pkt) {
				return 0 // the kernel ends the program: drop
			}
			a = binary.BigEndian.Uint32(pkt[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if a == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: code %#x this test does not know", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

// TestPortFilter runs IgnorePort's program over notifications in this
// machine's byte order, so that under qemu it is checked on big-endian mips
// too: a message from the port is dropped, from any other port or from the
// kernel kept whole, and a datagram too short to hold a header dropped.
func TestPortFilter(t *testing.T) {
	msg := func(pid uint32) []byte {
		var b [hdrLen + ndmsgLen]byte
		binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
		binary.NativeEndian.PutUint16(b[4:6], unix.RTM_NEWNEIGH)
		binary.NativeEndian.PutUint32(b[8:12], 7)
		binary.NativeEndian.PutUint32(b[12:16], pid)
		return b[:]
	}
	for _, port := range []uint32{1, 0x1234, 0xdeadbeef, 3141592653} {
		prog := rtnl.PortFilter(port)
		if got := runBPF(t, prog, msg(port)); got != 0 {
			t.Errorf("port %#x: its own notification kept (%d), want dropped", port, got)
		}
		for _, other := range []uint32{0, port + 1, port ^ 0xff000000} {
			if got := runBPF(t, prog, msg(other)); got < uint32(len(msg(other))) {
				t.Errorf("port %#x: a notification from %#x kept %d bytes, want all", port, other, got)
			}
		}
		if got := runBPF(t, prog, msg(port)[:12]); got != 0 {
			t.Errorf("port %#x: a 12-byte datagram kept, want dropped", port)
		}
	}
}
