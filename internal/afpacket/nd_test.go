package afpacket_test

// The ND socket's filter program, run by a small interpreter of classic
// BPF (no root).

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// runBPF runs the classic BPF program prog over pkt as the kernel does for
// the instructions the ND filter may use (byte, half-word and word loads
// at a constant offset, jumps on a constant, return of a constant), and
// returns the number of bytes to keep. A load past the end of the packet
// returns 0, as in the kernel; an instruction it does not know fails t.
func runBPF(t *testing.T, prog []unix.SockFilter, pkt []byte) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_B | unix.BPF_ABS:
			if int(in.K) >= len(pkt) {
				return 0
			}
			a = uint32(pkt[in.K])
		case unix.BPF_LD | unix.BPF_H | unix.BPF_ABS:
			if int(in.K)+2 > len(pkt) {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[in.K:]))
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			var cond bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				cond = a == in.K
			case unix.BPF_JGE:
				cond = a >= in.K
			case unix.BPF_JGT:
				cond = a > in.K
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: code %#x not interpreted", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

// ipv6Packet returns an IPv6 packet with next header next whose payload
// starts with the byte first and is n bytes long.
func ipv6Packet(next, first byte, n int) []byte {
	b := make([]byte, 40+n)
	b[0], b[6], b[7] = 0x60, next, 255
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	if n > 0 {
		b[40] = first
	}
	return b
}

// TestNDFilter runs the ND socket's filter over packets it must pass
// whole (the three ND types, also long or malformed past the type byte)
// and packets it must drop.
func TestNDFilter(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		pass bool
	}{
		{"RA", ipv6Packet(58, 134, 64), true},
		{"NS", ipv6Packet(58, 135, 32), true},
		{"NA", ipv6Packet(58, 136, 32), true},
		{"NA 9000 bytes", ipv6Packet(58, 136, 9000), true},
		{"NA with the type byte only", ipv6Packet(58, 136, 1), true},
		{"NA with version 4 in the header", func() []byte { b := ipv6Packet(58, 136, 32); b[0] = 0x45; return b }(), true},
		{"router solicitation", ipv6Packet(58, 133, 16), false},
		{"redirect", ipv6Packet(58, 137, 40), false},
		{"echo request", ipv6Packet(58, 128, 16), false},
		{"echo reply", ipv6Packet(58, 129, 16), false},
		{"MLDv2 report", ipv6Packet(58, 143, 28), false},
		{"type 0", ipv6Packet(58, 0, 16), false},
		{"type 255", ipv6Packet(58, 255, 16), false},
		{"UDP with 135 at the type's place", ipv6Packet(17, 135, 32), false},
		{"TCP", ipv6Packet(6, 136, 40), false},
		{"hop-by-hop then ICMPv6", ipv6Packet(0, 58, 40), false},
		{"ICMPv6 with no payload", ipv6Packet(58, 0, 0), false},
		{"7 bytes", make([]byte, 7), false},
		{"empty", nil, false},
	} {
		got := runBPF(t, afpacket.NDFilter, tc.pkt)
		switch {
		case tc.pass && got < uint32(len(tc.pkt)):
			t.Errorf("%s: keeps %d of %d bytes, want all", tc.name, got, len(tc.pkt))
		case !tc.pass && got != 0:
			t.Errorf("%s: keeps %d bytes, want it dropped", tc.name, got)
		}
	}
}
