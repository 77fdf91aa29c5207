package lab

// The IPv6 sockets of the traffic: the far sink's and the near sender's.

import "golang.org/x/sys/unix"

// sinkSocket6 opens the far sink's IPv6 socket, in the calling thread's
// namespace: UDP port 9 on every address, with IPV6_RECVPKTINFO, whose
// destination address names the host a datagram was sent to; its
// buffer has room for as many hosts as the IPv6 scheme has.
func sinkSocket6() (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := sinkOptions(fd, hostsMax6); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: 9}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// senderSocket6 opens the near sender's IPv6 socket, in the calling
// thread's namespace, with a large send buffer and IPV6_RECVERR, as the
// IPv4 one has IP_RECVERR.
//
// NB: where the kernel can make no neighbour entry for a datagram (the
// table at gc_thresh3), ip6_finish_output2 drops it and the send fails
// with EINVAL, not ENOBUFS as for IPv4.
func senderSocket6() (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 128<<20); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
