package lab

// The sender's burst mode: many hosts' datagrams per system call.

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/mmsg"
)

// senderBatch is how many datagrams one sendmmsg of a burst sends. A
// system call costs about 1.1 µs on the benchmark's machine, and a burst
// sent one sendto at a time was bounded by the sender, in every column;
// 16 keeps a datagram's send stamp (taken before the call) within some
// 50 µs of its own send.
const senderBatch = 16

// sendBatch is a burst's preallocated sendmmsg arguments.
type sendBatch struct {
	hdrs    [senderBatch]mmsg.Hdr
	iovs    [senderBatch]unix.Iovec
	to4     [senderBatch]unix.RawSockaddrInet4
	to6     [senderBatch]unix.RawSockaddrInet6
	payload [1]byte
}

// sendRange sends a datagram to each of hosts [lo, hi), at most
// senderBatch of them, with sendmmsg, and returns how many the kernel
// took. A datagram the kernel refused is sent again alone by send, which
// clears an earlier host's error (IP_RECVERR) or counts its own.
func (s *nearSender) sendRange(lo, hi int) int {
	b := &s.batch
	n := min(hi-lo, senderBatch)
	b.payload[0] = 'x'
	for i := 0; i < n; i++ {
		h := &b.hdrs[i].Msg
		if s.v6 {
			b.to6[i] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: hostAddr6(lo + i)}
			*(*[2]byte)(unsafe.Pointer(&b.to6[i].Port)) = [2]byte{0, 9}
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&b.to6[i])), unix.SizeofSockaddrInet6
		} else {
			b.to4[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: hostAddr(lo + i)}
			*(*[2]byte)(unsafe.Pointer(&b.to4[i].Port)) = [2]byte{0, 9}
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&b.to4[i])), unix.SizeofSockaddrInet4
		}
		b.iovs[i].Base = &b.payload[0]
		b.iovs[i].SetLen(1)
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	took := 0
	for done := 0; done < n; {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&b.hdrs[done])),
			uintptr(n-done), unix.MSG_DONTWAIT, 0, 0)
		if e != 0 || r == 0 {
			if s.send(lo + done) {
				took++
			}
			done++
			continue
		}
		done += int(r)
		took += int(r)
	}
	return took
}
