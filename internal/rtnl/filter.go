package rtnl

// The classic BPF program of Conn.IgnorePort, built here apart from the
// socket so that it is tested by running it as the kernel would.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// portFilter returns the classic BPF program of IgnorePort: drop a datagram
// whose first message has nlmsg_pid port, keep all others whole.
//
// NB: a notification is one message per datagram, so the program sees its
// header at offset 0; a datagram too short for the load is dropped by the
// kernel. Classic BPF loads words big-endian, and nlmsg_pid is in host
// order, hence the conversion of port.
func portFilter(port uint32) [4]unix.SockFilter {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], port)
	return [...]unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 12}, // A = nlmsg_pid
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: binary.BigEndian.Uint32(b[:])},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},          // ours: drop
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff}, // keep all of it
	}
}
