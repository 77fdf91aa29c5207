package labtest

// The lab for IPv6: addresses without duplicate address detection on both
// ends, many far hosts at once, datagrams to IPv6 hosts, and the near
// kernel's neighbour entries and ndisc_cache statistics as the tests read
// them.

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
)

// The IPv6 addresses Address6 gives the two ends of the veth pair, in
// fd77::/64, and the prefix Host6 numbers far hosts in.
var (
	NearIP6 = [16]byte{0xfd, 0x77, 15: 1} // fd77::1
	FarIP6  = [16]byte{0xfd, 0x77, 15: 2} // fd77::2
)

// Prefix6Len is the length of the lab's IPv6 prefix fd77::/64.
const Prefix6Len = 64

// Host6 returns far host i of the lab's prefix, fd77::a:i (i below
// 65536): clear of NearIP6 and FarIP6, so a test can name hosts by number.
func Host6(i int) [16]byte {
	return [16]byte{0xfd, 0x77, 13: 0x0a, 14: byte(i >> 8), 15: byte(i)}
}

// IP6String formats a as ip(8) prints it: RFC 5952, "fd77::a:1".
func IP6String(a [16]byte) string { return netip.AddrFrom16(a).String() }

// LinkLocal returns the link-local address the kernel derives from the
// Ethernet address mac (modified EUI-64, RFC 4291 appendix A).
func LinkLocal(mac [6]byte) [16]byte {
	return [16]byte{0xfe, 0x80, 8: mac[0] ^ 0x02, 9: mac[1], 10: mac[2], 11: 0xff, 12: 0xfe,
		13: mac[3], 14: mac[4], 15: mac[5]}
}

// Neigh6Key is the sysctl key (as for Lab.Sysctl) of the IPv6 neighbour
// setting name of interface ifname, as in
// "net/ipv6/neigh/vnear/app_solicit".
func Neigh6Key(ifname, name string) string { return "net/ipv6/neigh/" + ifname + "/" + name }

// Address6 gives NearIf NearIP6/64 and FarIf FarIP6/64, and each end a
// link-local address derived from its current MAC, all without duplicate
// address detection. Call it after Address (or after setting the MACs),
// so the link-local addresses match the MACs.
//
// NB: the kernel makes a link-local address when an interface comes up
// and keeps it through a change of MAC; it stays tentative (unusable as
// a source, so the kernel sends no solicitation from it) until its
// detection ends, a second or more later. Address6 replaces it with a
// nodad one at once instead of waiting.
func (l *Lab) Address6() {
	l.t.Helper()
	for _, end := range [2]struct {
		ns, ifname string
		addr       [16]byte
	}{{l.Near, l.NearIf, NearIP6}, {l.Far, l.FarIf, FarIP6}} {
		var ifc afpacket.Iface
		if err := l.Do(end.ns, func() (err error) { ifc, err = afpacket.LookupIface(end.ifname); return err }); err != nil {
			l.t.Fatalf("look up %s in %s: %v", end.ifname, end.ns, err)
		}
		l.IP(end.ns, "-6", "addr", "flush", "dev", end.ifname, "scope", "link")
		l.IP(end.ns, "-6", "addr", "add", IP6String(LinkLocal(ifc.MAC))+"/64", "dev", end.ifname, "nodad")
		l.IP(end.ns, "-6", "addr", "add", IP6String(end.addr)+"/64", "dev", end.ifname, "nodad")
	}
}

// AddAddr6 adds every address of addrs, as a /128, to interface ifname in
// namespace ns, in one "ip -batch" (about 0.2 ms an address): with nodad
// the kernel owns each at once and answers solicitations for it; without,
// it first runs duplicate address detection (a solicitation from ::).
func (l *Lab) AddAddr6(ns, ifname string, nodad bool, addrs ...[16]byte) {
	l.t.Helper()
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString("addr add " + IP6String(a) + "/128 dev " + ifname)
		if nodad {
			b.WriteString(" nodad")
		}
		b.WriteByte('\n')
	}
	if out, err := l.ExecStdin(ns, b.String(), "ip", "-batch", "-"); err != nil {
		l.t.Fatalf("ip -batch in %s (%d addresses): %v: %s", ns, len(addrs), err, out)
	}
}

// AddHosts6 gives the far end the n hosts Host6(first) to Host6(first+n-1)
// with AddAddr6, nodad, and returns their addresses.
func (l *Lab) AddHosts6(first, n int) [][16]byte {
	l.t.Helper()
	hosts := make([][16]byte, n)
	for i := range hosts {
		hosts[i] = Host6(first + i)
	}
	l.AddAddr6(l.Far, l.FarIf, true, hosts...)
	return hosts
}

// SendUDP6 sends one datagram with payload to [dst]:port from the calling
// thread's namespace; call it inside Lab.Do.
func SendUDP6(dst [16]byte, port int, payload []byte) error {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Sendto(fd, payload, unix.MSG_DONTWAIT, &unix.SockaddrInet6{Port: port, Addr: dst})
}

// SendUDP6From sends one datagram with payload to [dst]:port from
// namespace ns, which makes the kernel there resolve dst if it has no
// entry for it. It fails the test if the datagram cannot be sent.
func (l *Lab) SendUDP6From(ns string, dst [16]byte, port int, payload []byte) {
	l.t.Helper()
	if err := l.Do(ns, func() error { return SendUDP6(dst, port, payload) }); err != nil {
		l.t.Fatalf("send UDP to [%s]:%d from %s: %v", IP6String(dst), port, ns, err)
	}
}

// UDP6 is a UDP socket bound to an IPv6 address in a lab namespace: the
// host a test talks to.
type UDP6 struct{ fd int }

// ListenUDP6 binds a UDP socket to [addr]:port in namespace ns and closes
// it when the test ends. addr must be an address of ns already.
func (l *Lab) ListenUDP6(ns string, addr [16]byte, port int) *UDP6 {
	l.t.Helper()
	u := &UDP6{fd: -1}
	if err := l.Do(ns, func() (err error) {
		if u.fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0); err != nil {
			return err
		}
		return unix.Bind(u.fd, &unix.SockaddrInet6{Port: port, Addr: addr})
	}); err != nil {
		l.t.Fatalf("listen on [%s]:%d in %s: %v", IP6String(addr), port, ns, err)
	}
	l.t.Cleanup(func() { unix.Close(u.fd) })
	return u
}

// Recv returns the next datagram, waiting at most limit; ok is false if
// none came.
func (u *UDP6) Recv(limit time.Duration) (b []byte, ok bool) {
	buf := make([]byte, 2048)
	ok = WaitFor(limit, func() bool {
		n, _, err := unix.Recvfrom(u.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return false
		}
		b = buf[:n]
		return true
	})
	return b, ok
}

// Neigh6 is a kernel neighbour entry as "ip -6 neigh show" prints it.
type Neigh6 struct {
	State  string // "REACHABLE", "STALE", "INCOMPLETE", "FAILED", ...; "" when there is no entry
	MAC    string // "" when the entry has no link-layer address
	Router bool   // NTF_ROUTER: the host advertised itself as a router
	Line   string // the whole line, for failure messages
}

// Neigh6 returns the kernel's entry for addr on interface ifname in
// namespace ns.
func (l *Lab) Neigh6(ns, ifname string, addr [16]byte) Neigh6 {
	l.t.Helper()
	return parseNeigh6(strings.TrimSpace(l.IP(ns, "-6", "neigh", "show", IP6String(addr), "dev", ifname)))
}

// parseNeigh6 reads one line of "ip -6 neigh show ADDR dev IF": the
// address, "lladdr MAC" if known, "router" for a router, then the state.
func parseNeigh6(line string) Neigh6 {
	n := Neigh6{Line: line}
	f := strings.Fields(line)
	for i := 1; i < len(f); i++ {
		switch {
		case f[i] == "lladdr" && i+1 < len(f):
			n.MAC = f[i+1]
			i++
		case f[i] == "router":
			n.Router = true
		case strings.ToUpper(f[i]) == f[i]:
			n.State = f[i]
		}
	}
	return n
}

// NdiscStats returns the kernel's neighbour discovery statistics, from
// /proc/net/stat/ndisc_cache, by the names of its header ("allocs",
// "res_failed", "unresolved_discards", "table_fulls", ...), summed over
// the CPUs; "entries", the table's size, is the same on every line and
// taken once.
//
// NB: the kernel has one ndisc table for all network namespaces and
// shows its statistics only in the initial one (the file does not exist
// inside a lab's namespaces), so they count every namespace's neighbours,
// those of tests running in parallel too: compare them with at least,
// never with exactly. It fails the test if the file cannot be read, as
// when the test runs in a namespace of its own.
func (l *Lab) NdiscStats() map[string]uint64 {
	l.t.Helper()
	st, err := ReadNeighStat("/proc/net/stat/ndisc_cache")
	if err != nil {
		l.t.Fatalf("ndisc statistics: %v", err)
	}
	return st
}

// ReadNeighStat reads a neighbour table's statistics file (such as
// /proc/net/stat/ndisc_cache or arp_cache) as NdiscStats describes.
func ReadNeighStat(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseNeighStat(string(b))
}

// parseNeighStat parses a neighbour statistics file: a header of names,
// then one line of hexadecimal counters per CPU.
func parseNeighStat(s string) (map[string]uint64, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	names := strings.Fields(lines[0])
	if len(lines) < 2 || len(names) == 0 {
		return nil, fmt.Errorf("neighbour statistics: no counters in %q", s)
	}
	st := make(map[string]uint64, len(names))
	for row, line := range lines[1:] {
		vals := strings.Fields(line)
		if len(vals) != len(names) {
			return nil, fmt.Errorf("neighbour statistics: line %d has %d values for %d names", row+2, len(vals), len(names))
		}
		for i, v := range vals {
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("neighbour statistics: %s: %v", names[i], err)
			}
			if names[i] == "entries" && row > 0 {
				continue
			}
			st[names[i]] += n
		}
	}
	return st, nil
}
