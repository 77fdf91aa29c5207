package afpacket

import "golang.org/x/sys/unix"

// NDFilter is the ND socket's filter program, for the tests to run.
var NDFilter = ndFilter[:]

// OpenIPv6Unfiltered opens a packet socket bound to ETH_P_IPV6 on ifindex
// without the ND filter, so that a test can see what the filter keeps
// from the ND socket.
func OpenIPv6Unfiltered(ifindex int32) (*Conn, error) {
	return open(ifindex, 0, unix.ETH_P_IPV6, nil, ndBufLen, 1)
}

// Received returns how many frames c's last receiving call took.
func Received(c *Conn) int { return c.in.Received() }
