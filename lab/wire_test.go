package lab

// The benchmark's count of ARP broadcasts on the wire.

import (
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// bcastCounter counts the broadcast ARP requests that reach the far
// side: a packet socket on the far interface whose filter passes only
// those, and that is never read.
//
// NB: the kernel counts every frame that passes the filter in the
// socket's PACKET_STATISTICS, queued or dropped (tp_packets includes
// tp_drops); with a small receive buffer most are dropped, so the count
// costs neither a reader's CPU nor memory that would show in the slab
// figures. Reading the statistics resets them.
type bcastCounter struct {
	fd int
}

// bcastFilter passes (1 byte of) a frame that is an ARP request (op 1)
// sent to the broadcast address, and drops every other.
func bcastFilter() []unix.SockFilter {
	// SKF_AD_OFF + SKF_AD_PKTTYPE (linux/filter.h): the skb's pkt_type,
	// loaded as if at offset -0x1000 + 4.
	const pkttype = 0xfffff000 + 4
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12}, // EtherType
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.ETH_P_ARP, Jt: 0, Jf: 5},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 20}, // ARP op
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 1, Jt: 0, Jf: 3},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: pkttype},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.PACKET_BROADCAST, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
}

// newBcastCounter opens the counter on l's far interface; it is closed
// when t ends.
func newBcastCounter(t testing.TB, l *hostLab) *bcastCounter {
	t.Helper()
	c := &bcastCounter{fd: -1}
	ifindex := l.Ifindex(l.Far, l.FarIf)
	if err := l.Do(l.Far, func() (err error) {
		c.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(afpacket.Htons(unix.ETH_P_ARP)))
		if err != nil {
			return err
		}
		f := bcastFilter()
		if err := unix.SetsockoptSockFprog(c.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096); err != nil {
			return err
		}
		return unix.Bind(c.fd, &unix.SockaddrLinklayer{Protocol: afpacket.Htons(unix.ETH_P_ARP), Ifindex: ifindex})
	}); err != nil {
		t.Fatalf("broadcast counter: %v", err)
	}
	t.Cleanup(func() { unix.Close(c.fd) })
	c.take()
	return c
}

// take returns the broadcasts counted since the last take, and starts
// counting again.
func (c *bcastCounter) take() int {
	if c == nil {
		return 0
	}
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return -1
	}
	return int(st.Packets)
}
