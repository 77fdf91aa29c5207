package afpacket

// Interface lookups by name, with the ioctls of struct ifreq.

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	"arpd/internal/fmtlite"
)

// Iface is what a probe needs to know about an interface: its index and
// its Ethernet address. Each probe's sender IP comes from the interface's
// address list, since an interface with several subnets must probe each
// from its own address.
//
// The daemon looks these up once per interface with LookupIface, and again
// when netlink reports a change to the link (RTM_NEWLINK); never per probe,
// since each lookup is two ioctls.
type Iface struct {
	Name  string
	Index int32
	MAC   [6]byte
}

// ifreqHWAddr is struct ifreq with its union read as ifr_hwaddr.
//
// NB: the layout is fixed by the kernel ABI on every architecture: a 16-byte
// name, then a struct sockaddr (a host-order sa_family and 14 bytes of
// sa_data), which SIOCGIFHWADDR fills with the family ARPHRD_ETHER and the
// MAC in the first six data bytes. The union is 24 bytes on 64-bit systems
// and 16 on 32-bit ones; the struct is 40 bytes everywhere, at least
// sizeof(struct ifreq), and the kernel copies only sizeof(struct ifreq) in
// and out, so the larger size is safe on 32-bit systems.
type ifreqHWAddr struct {
	Name   [unix.IFNAMSIZ]byte
	Family uint16
	Data   [22]byte
}

// errBadName is indexOf's error for a name no interface can have.
var errBadName = errors.New("bad name")

// indexOf asks the kernel, on the ioctl socket fd, for the index of the
// interface called name, with SIOCGIFINDEX. It fails with errBadName for a
// name too long for struct ifreq, and otherwise with the ioctl's errno.
func indexOf(fd int, name string) (uint32, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, errBadName
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return ifr.Uint32(), nil
}

// ioctlSocket opens a socket to ask the interface ioctls on: a
// NETLINK_ROUTE one.
//
// NB: the kernel answers SIOCGIFINDEX and SIOCGIFHWADDR on a socket of any
// family (sock_do_ioctl hands what the family does not know to dev_ioctl),
// and a netlink socket needs no privilege, so the daemon needs no AF_INET
// socket: its systemd unit leaves AF_INET out of RestrictAddressFamilies=.
func ioctlSocket() (int, error) {
	return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
}

// IndexByName returns the index of the interface called name, in the
// calling thread's network namespace. Its errors are the ones the daemon
// shows for an interface named on its command line: "interface NAME: no
// such interface" when there is none.
func IndexByName(name string) (uint32, error) {
	fd, err := ioctlSocket()
	if err != nil {
		return 0, fmtlite.Errorf("interface %s: %w", name, err)
	}
	defer unix.Close(fd)
	idx, err := indexOf(fd, name)
	switch {
	case err == errBadName:
		return 0, fmtlite.Errorf("interface %q: bad name", name)
	case errors.Is(err, unix.ENODEV):
		return 0, fmtlite.Errorf("interface %s: no such interface", name)
	case err != nil:
		return 0, fmtlite.Errorf("interface %s: %w", name, err)
	}
	return idx, nil
}

// LookupIface asks the kernel, in the calling thread's network namespace,
// for the index and MAC of the interface called name, with SIOCGIFINDEX and
// SIOCGIFHWADDR. It fails when the interface is missing or is not Ethernet,
// naming the ioctl that failed.
func LookupIface(name string) (Iface, error) {
	ifc := Iface{Name: name}
	fd, err := ioctlSocket()
	if err != nil {
		return ifc, fmtlite.Errorf("interface %s: socket for ioctl: %w", name, err)
	}
	defer unix.Close(fd)
	idx, err := indexOf(fd, name)
	if err == errBadName {
		return ifc, fmtlite.Errorf("interface %s: bad name: %w", name, unix.EINVAL)
	}
	if err != nil {
		return ifc, fmtlite.Errorf("interface %s: SIOCGIFINDEX: %w", name, err)
	}
	ifc.Index = int32(idx)

	var hw ifreqHWAddr
	copy(hw.Name[:], name)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&hw))); e != 0 {
		return ifc, fmtlite.Errorf("interface %s: SIOCGIFHWADDR: %w", name, e)
	}
	if hw.Family != unix.ARPHRD_ETHER {
		return ifc, fmtlite.Errorf("interface %s: not Ethernet (hardware type %d)", name, hw.Family)
	}
	ifc.MAC = [6]byte(hw.Data[:6])
	return ifc, nil
}
