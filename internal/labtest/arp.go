package labtest

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/frame"
)

// The addresses Lab.Address gives the two ends of the veth pair. They are
// fixed so that frames captured in the lab are the same on every run.
var (
	NearMAC = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x01}
	FarMAC  = [6]byte{0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02}
	NearIP  = [4]byte{10, 77, 0, 1}
	FarIP   = [4]byte{10, 77, 0, 2}
)

// Address gives NearIf the MAC NearMAC and the address 10.77.0.1/24
// (NearIP), and FarIf FarMAC and 10.77.0.2/24 (FarIP).
func (l *Lab) Address() {
	l.t.Helper()
	l.IP(l.Near, "link", "set", l.NearIf, "address", MACString(NearMAC))
	l.IP(l.Far, "link", "set", l.FarIf, "address", MACString(FarMAC))
	l.IP(l.Near, "addr", "add", "10.77.0.1/24", "dev", l.NearIf)
	l.IP(l.Far, "addr", "add", "10.77.0.2/24", "dev", l.FarIf)
}

// MACString formats m as ip(8) does: six lower-case hex pairs joined by
// colons.
func MACString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// ARP is every field of an accepted ARP frame, as the lab tests check
// them: what frame.ARP keeps, and what it does not, read from the bytes.
type ARP struct {
	Ifindex    int32
	Op         uint16
	PktType    uint8
	Gratuitous bool // SenderIP == TargetIP
	SenderMAC  [6]byte
	SenderIP   [4]byte
	TargetMAC  [6]byte
	TargetIP   [4]byte
}

// DecodeARP decodes b, received with the link-layer address ll, with
// frame.DecodeARP and, when it accepts the frame, fills f. It returns
// frame.DecodeARP's verdict; f is left alone for a dropped frame.
func DecodeARP(f *ARP, b []byte, ll *unix.RawSockaddrLinklayer) frame.Drop {
	var a frame.ARP
	d := frame.DecodeARP(&a, b, ll)
	if d != frame.DropNone {
		return d
	}
	*f = ARP{Ifindex: a.Ifindex, Op: binary.BigEndian.Uint16(b[frame.ARPOffOp:]), PktType: ll.Pkttype,
		SenderMAC: a.SenderMAC, SenderIP: a.SenderIP,
		TargetMAC: [6]byte(b[frame.ARPOffTha:]), TargetIP: [4]byte(b[frame.ARPOffTpa:])}
	f.Gratuitous = f.SenderIP == f.TargetIP
	return d
}

// SendProbe sends the ARP probe for target from src out of ifc through
// c, built and sent as the daemon does.
func SendProbe(c *afpacket.Conn, ifc *afpacket.Iface, src, target [4]byte) error {
	var b [frame.ARPLen]byte
	frame.BuildARPProbe(&b, ifc.MAC, src, target)
	return c.Send(b[:], ifc.Index, frame.BroadcastMAC)
}

// EtherARP returns an Ethernet frame of type ARP from src to dst with
// payload as its body, as a SOCK_RAW packet socket sends it: the frame's
// Ethernet source, which the receiver's sll_addr reports, is whatever src
// says, so a test can forge one that differs from the ARP sender MAC.
func EtherARP(dst, src [6]byte, payload []byte) []byte {
	b := make([]byte, 0, 14+len(payload))
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	b = append(b, 0x08, 0x06) // ETH_P_ARP
	return append(b, payload...)
}

// SenderMAC returns the ARP sender MAC of payload when it has one that a
// host could send from (long enough, not group, not zero), so that an
// injected frame can come from the Ethernet source an honest host would
// use; ok is false otherwise.
func SenderMAC(payload []byte) (mac [6]byte, ok bool) {
	if len(payload) < frame.ARPOffSha+6 {
		return mac, false
	}
	mac = [6]byte(payload[frame.ARPOffSha:])
	return mac, mac[0]&1 == 0 && mac != [6]byte{}
}
