package main

import (
	"bufio"
	"errors"
	"io"
	"strconv"

	"arpd/internal/fmtlite"
	"arpd/internal/netiplite"
)

// listHeader is the first line of the -l listing, byte for byte iproute2's
// printf("%-8s %-15s %s\n", "#Ifindex", "IP", "MAC").
const listHeader = "#Ifindex IP              MAC\n"

// maxLoadLine is the longest line, without its newline, that parseLoad
// accepts.
const maxLoadLine = 4096

// maxIfindex is the largest interface index: the kernel's are positive C
// ints.
const maxIfindex = 1<<31 - 1

// failedPrefix starts the third field of a negative entry in the listing.
const failedPrefix = "FAILED:"

// hexDigits are the digits of lowercase hexadecimal.
const hexDigits = "0123456789abcdef"

// appendListRow appends one positive entry of the -l listing to dst, byte
// for byte iproute2's printf("%-8d %-15s %s\n"), with the link-layer address
// as colon-separated two-digit lowercase hex ("aa:bb:cc:dd:ee:ff") of any
// length. It allocates nothing when dst has room. An invalid addr prints as
// an empty, padded column.
func appendListRow(dst []byte, ifindex uint32, addr netiplite.Addr, mac []byte) []byte {
	dst = appendKeyColumns(dst, ifindex, addr)
	return append(appendMAC(dst, mac), '\n')
}

// appendMAC appends a link-layer address of any length to dst as
// colon-separated two-digit lowercase hex ("aa:bb:cc:dd:ee:ff").
//
// NB: not inlined, nor is macString: inlined into every log line and
// listing that names a MAC, the two cost the mips binary 4.4 KB.
//
//go:noinline
func appendMAC(dst []byte, mac []byte) []byte {
	for i, b := range mac {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&15])
	}
	return dst
}

// appendFailedRow appends one negative entry of the -l listing to dst, byte
// for byte iproute2's printf("%-8d %-15s FAILED: %dsec ago\n"), where ageSec
// is the time since the host was found dead. It allocates nothing when dst
// has room.
func appendFailedRow(dst []byte, ifindex uint32, addr netiplite.Addr, ageSec int64) []byte {
	dst = appendKeyColumns(dst, ifindex, addr)
	dst = append(dst, failedPrefix+" "...)
	dst = strconv.AppendInt(dst, ageSec, 10)
	return append(dst, "sec ago\n"...)
}

// appendKeyColumns appends the first two columns of a listing row and the
// space after each: "%-8d %-15s ".
func appendKeyColumns(dst []byte, ifindex uint32, addr netiplite.Addr) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, uint64(ifindex), 10)
	dst = appendPad(dst, 8-(len(dst)-start))
	start = len(dst)
	dst = addr.AppendTo(dst)
	return appendPad(dst, 15-(len(dst)-start))
}

// appendPad appends n spaces (none when n <= 0) and then the column
// separator, one more space.
func appendPad(dst []byte, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, ' ')
	}
	return append(dst, ' ')
}

// loadRecord is one positive entry read by parseLoad.
type loadRecord struct {
	// Ifindex is the interface index, 1..2147483647.
	Ifindex uint32
	// Addr is the neighbour's address: IPv4, or IPv6 that is not
	// IPv4-mapped, without a zone.
	Addr netiplite.Addr
	// MAC is the neighbour's Ethernet address.
	MAC [6]byte
}

// parseLoad reads a file in the -l format (what -f loads) from r and calls
// fn for each positive entry with its 1-based line number, stopping at the
// first error. Lines starting with '#' and blank lines are skipped, as are
// rows whose third field starts with "FAILED:" once their interface index
// and address are checked. Every other line must be exactly three fields
// separated by white space: the interface index in decimal, an IPv4 or IPv6
// address and a MAC address of six colon-separated octets of one or two hex
// digits. A bad line gives an error of the form
// `NAME:LINE: what is wrong: "field"`, where NAME is name, or "stdin" when
// name is "-". An error from fn is returned as it is; a read error is
// returned wrapped with the name and line number.
func parseLoad(r io.Reader, name string, fn func(lineNo int, rec loadRecord) error) error {
	if name == "-" {
		name = "stdin"
	}
	// One byte more than the longest line leaves room for its newline.
	br := bufio.NewReaderSize(r, maxLoadLine+1)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull || len(line) > maxLoadLine+1 ||
			(len(line) == maxLoadLine+1 && line[maxLoadLine] != '\n') {
			return fmtlite.Errorf("%s:%d: line longer than %d bytes", name, lineNo, maxLoadLine)
		}
		if err != nil && err != io.EOF {
			return fmtlite.Errorf("%s:%d: %w", name, lineNo, err)
		}
		if len(line) > 0 {
			rec, ok, perr := parseLoadLine(line)
			if perr != nil {
				return fmtlite.Errorf("%s:%d: %w", name, lineNo, perr)
			}
			if ok {
				if ferr := fn(lineNo, rec); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseLoadLine parses one line of a load file, with or without its
// newline. It returns ok false for a line to skip, and an error saying what
// is wrong and quoting the offending field or line.
func parseLoadLine(line []byte) (rec loadRecord, ok bool, err error) {
	if line[0] == '#' {
		return rec, false, nil
	}
	var fields [4][]byte
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		if n < len(fields) {
			fields[n] = line[start:i]
		}
		n++
	}
	if n == 0 {
		return rec, false, nil
	}
	if n < 3 {
		return rec, false, lineError("want 3 fields (ifindex IP MAC), got "+strconv.Itoa(n), trimSpace(line))
	}
	failed := len(fields[2]) >= len(failedPrefix) && string(fields[2][:len(failedPrefix)]) == failedPrefix
	if n > 3 && !failed {
		return rec, false, lineError("want 3 fields (ifindex IP MAC), got "+strconv.Itoa(n), trimSpace(line))
	}
	idx, ok := parseIfindex(fields[0])
	if !ok {
		return rec, false, lineError("invalid interface index (want 1 to 2147483647)", fields[0])
	}
	addr, err := netiplite.ParseAddr(string(fields[1]))
	if err != nil || addr.Zone() != "" {
		return rec, false, lineError("invalid IP address", fields[1])
	}
	if failed {
		return rec, false, nil
	}
	mac, ok := parseMAC(fields[2])
	if !ok {
		return rec, false, lineError("invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff)", fields[2])
	}
	return loadRecord{Ifindex: idx, Addr: addr.Unmap(), MAC: mac}, true, nil
}

// lineError builds the error for a bad line: what is wrong, then the
// offending text quoted.
func lineError(what string, text []byte) error {
	return errors.New(what + ": " + fmtlite.Quote(string(text)))
}

// parseIfindex parses a decimal interface index, 1..2147483647, made of
// ASCII digits only.
func parseIfindex(b []byte) (uint32, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > maxIfindex {
			return 0, false
		}
	}
	if n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// parseMAC parses six colon-separated octets of one or two hex digits of
// either case.
func parseMAC(b []byte) (mac [6]byte, ok bool) {
	i := 0
	for k := 0; k < len(mac); k++ {
		if k > 0 {
			if i >= len(b) || b[i] != ':' {
				return mac, false
			}
			i++
		}
		digits := 0
		var v byte
		for i < len(b) && digits < 2 {
			d, isHex := hexValue(b[i])
			if !isHex {
				break
			}
			v = v<<4 | d
			digits++
			i++
		}
		if digits == 0 {
			return mac, false
		}
		mac[k] = v
	}
	return mac, i == len(b)
}

// hexValue returns the value of the hex digit c of either case.
func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isSpace reports whether c is white space as C's isspace sees it in the C
// locale: space, \t, \n, \v, \f or \r.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// trimSpace returns b without leading and trailing white space.
//
// NB: not inlined: a cold path (the mips binary's size; doc/DESIGN.md).
//
//go:noinline
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
