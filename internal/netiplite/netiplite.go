// Package netiplite is the part of net/netip that arpd uses: IPv4 and
// IPv6 addresses without zones, parsed and printed as netip does. netip
// costs about 70 to 90 KB of a MIPS binary, mostly for its interned zones
// (package unique), which arpd never uses.
//
// The names are netip's, so code moves between the two by its import
// line and package name:
//
//	import "arpd/internal/netiplite"
//
// ParseAddr refuses addresses with a zone ("fe80::1%eth0"), so Zone is
// always "".
package netiplite

import "errors"

// Addr is an IPv4 or IPv6 address; the zero Addr is no address.
type Addr struct {
	// a is the address in 16 bytes; an IPv4 address is held as
	// ::ffff:a.b.c.d, as netip does.
	a [16]byte
	// z is 0 for the zero Addr, 4 for IPv4, 6 for IPv6.
	z uint8
}

// errSyntax is returned by ParseAddr for any text that is not an address.
var errSyntax = errors.New("netiplite: invalid IP address")

// v4InV6Prefix is the first 12 bytes of an IPv4-mapped IPv6 address.
var v4InV6Prefix = [12]byte{10: 0xff, 11: 0xff}

// AddrFrom4 returns the IPv4 address b.
func AddrFrom4(b [4]byte) Addr {
	var ip Addr
	copy(ip.a[:], v4InV6Prefix[:])
	copy(ip.a[12:], b[:])
	ip.z = 4
	return ip
}

// AddrFrom16 returns the IPv6 address b; an IPv4-mapped one stays IPv6,
// as in netip.
func AddrFrom16(b [16]byte) Addr { return Addr{a: b, z: 6} }

// MustParseAddr is ParseAddr that panics on an error, for tests.
func MustParseAddr(s string) Addr {
	ip, err := ParseAddr(s)
	if err != nil {
		panic(err.Error() + ": " + s)
	}
	return ip
}

// IsValid tells whether ip is an address, not the zero Addr.
func (ip Addr) IsValid() bool { return ip.z != 0 }

// Is4 tells whether ip is an IPv4 address.
func (ip Addr) Is4() bool { return ip.z == 4 }

// Is6 tells whether ip is an IPv6 address, IPv4-mapped ones included.
func (ip Addr) Is6() bool { return ip.z == 6 }

// Is4In6 tells whether ip is an IPv4-mapped IPv6 address.
func (ip Addr) Is4In6() bool { return ip.z == 6 && [12]byte(ip.a[:12]) == v4InV6Prefix }

// As4 returns an IPv4 or IPv4-mapped address as four bytes, and panics
// for any other, as netip does.
func (ip Addr) As4() [4]byte {
	if ip.z == 4 || ip.Is4In6() {
		return [4]byte(ip.a[12:])
	}
	if ip.z == 0 {
		panic("As4 called on IP zero value")
	}
	panic("As4 called on IPv6 address")
}

// As16 returns ip in 16 bytes, an IPv4 address IPv4-mapped.
func (ip Addr) As16() [16]byte { return ip.a }

// Unmap returns the IPv4 address inside an IPv4-mapped one, and any other
// address as it is.
func (ip Addr) Unmap() Addr {
	if ip.Is4In6() {
		ip.z = 4
	}
	return ip
}

// Zone returns "", as addresses here have no zone.
func (ip Addr) Zone() string { return "" }

// String returns ip as AppendTo writes it, or "invalid IP" for the zero
// Addr, as netip does.
func (ip Addr) String() string {
	if ip.z == 0 {
		return "invalid IP"
	}
	return string(ip.AppendTo(make([]byte, 0, 46)))
}

// AppendTo appends ip in its canonical text form to b: dotted decimal for
// IPv4, RFC 5952 for IPv6 (::ffff:a.b.c.d when IPv4-mapped). The zero
// Addr appends nothing.
func (ip Addr) AppendTo(b []byte) []byte {
	// NB: the text is built in a fixed buffer and appended once; on MIPS
	// that is half the code of appending byte by byte.
	var buf [46]byte
	n := 0
	switch {
	case ip.z == 0:
		return b
	case ip.z == 4:
		n = putDotted(buf[:], 0, ip.a[12:])
		return append(b, buf[:n]...)
	case ip.Is4In6():
		n = copy(buf[:], "::ffff:")
		n = putDotted(buf[:], n, ip.a[12:])
		return append(b, buf[:n]...)
	}
	// The longest run of two or more zero groups becomes "::"; the first
	// of equally long runs wins.
	bestAt, bestLen := -1, 1
	for i := 0; i < 8; {
		j := i
		for j < 8 && ip.a[2*j] == 0 && ip.a[2*j+1] == 0 {
			j++
		}
		if j-i > bestLen {
			bestAt, bestLen = i, j-i
		}
		if j == i {
			j++
		}
		i = j
	}
	const digits = "0123456789abcdef"
	for i := 0; i < 8; i++ {
		if i == bestAt {
			buf[n], buf[n+1] = ':', ':'
			n += 2
			i += bestLen - 1
			continue
		}
		if i > 0 && i != bestAt+bestLen {
			buf[n] = ':'
			n++
		}
		v := uint16(ip.a[2*i])<<8 | uint16(ip.a[2*i+1])
		started := false
		for s := 12; s >= 0; s -= 4 {
			if d := v >> uint(s) & 15; d != 0 || started || s == 0 {
				buf[n] = digits[d]
				n++
				started = true
			}
		}
	}
	return append(b, buf[:n]...)
}

// putDotted writes four bytes as a.b.c.d into buf at n and returns the
// new end.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func putDotted(buf []byte, n int, p []byte) int {
	for i, v := range p[:4] {
		if i > 0 {
			buf[n] = '.'
			n++
		}
		if v >= 100 {
			buf[n] = '0' + v/100
			n++
		}
		if v >= 10 {
			buf[n] = '0' + v/10%10
			n++
		}
		buf[n] = '0' + v%10
		n++
	}
	return n
}

// ParseAddr parses s as netip.ParseAddr does, without zones: dotted
// decimal IPv4 (four parts, each at most 255, no leading zeros) or IPv6
// text with an optional "::" and an optional dotted IPv4 tail.
func ParseAddr(s string) (Addr, error) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
			var b [4]byte
			if !parseDotted(s, &b) {
				return Addr{}, errSyntax
			}
			return AddrFrom4(b), nil
		case ':':
			return parseIPv6(s)
		}
	}
	return Addr{}, errSyntax
}

// parseDotted parses a.b.c.d into b.
func parseDotted(s string, b *[4]byte) bool {
	part, digits, val := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || part > 3 {
				return false
			}
			b[part] = byte(val)
			part++
			val, digits = 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return false
		}
	}
	return part == 4
}

// parseIPv6 parses an IPv6 address.
func parseIPv6(s string) (Addr, error) {
	var a [16]byte
	ellipsis := -1 // where "::" stands, as a byte offset in a
	i, n := 0, 0   // position in s, bytes of a filled
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		i = 2
		if i == len(s) {
			return AddrFrom16(a), nil
		}
	}
	for n < 16 {
		// One group: up to four hex digits, or the IPv4 tail.
		start, v := i, 0
		for i < len(s) && i-start < 5 {
			d := unhex(s[i])
			if d < 0 {
				break
			}
			v = v<<4 | d
			i++
		}
		if i == start || i-start > 4 {
			return Addr{}, errSyntax
		}
		if i < len(s) && s[i] == '.' {
			if n > 12 || (ellipsis < 0 && n != 12) {
				return Addr{}, errSyntax
			}
			var b [4]byte
			if !parseDotted(s[start:], &b) {
				return Addr{}, errSyntax
			}
			copy(a[n:], b[:])
			n += 4
			i = len(s)
			break
		}
		a[n], a[n+1] = byte(v>>8), byte(v)
		n += 2
		if i == len(s) {
			break
		}
		if s[i] != ':' || i+1 == len(s) {
			return Addr{}, errSyntax
		}
		i++
		if s[i] == ':' {
			if ellipsis >= 0 {
				return Addr{}, errSyntax
			}
			ellipsis = n
			i++
			if i == len(s) {
				break
			}
		}
	}
	if i != len(s) || !expand(&a, ellipsis, n) {
		return Addr{}, errSyntax
	}
	return AddrFrom16(a), nil
}

// expand moves the n bytes parsed into a apart at ellipsis, where "::"
// stood (-1 for none), filling the gap with zeros, and reports whether the
// groups make a whole address: exactly 16 bytes without "::", fewer with it.
func expand(a *[16]byte, ellipsis, n int) bool {
	if ellipsis < 0 {
		return n == 16
	}
	if n == 16 {
		return false
	}
	gap := 16 - n
	copy(a[ellipsis+gap:], a[ellipsis:n])
	for j := ellipsis; j < ellipsis+gap; j++ {
		a[j] = 0
	}
	return true
}

// unhex returns the value of the hex digit c, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
