package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"arpd/internal/cache"
	netip "arpd/internal/netiplite"
)

// iproute2Golden is what iproute2 6.1.0's arpd -l printed (in its hash
// order) for a Berkeley DB file holding these entries, written with libdb
// 5.3's db_185 interface in iproute2's own record layout: positive entries
// with a 6-byte MAC, and negative entries (0xff, count, big-endian time)
// stamped 42 and 0 seconds before the listing.
const iproute2Golden = "#Ifindex IP              MAC\n" +
	"1        10.0.0.1        aa:bb:cc:dd:ee:ff\n" +
	"2        1.2.3.4         FAILED: 42sec ago\n" +
	"123456789 255.255.255.255 0a:0b:0c:0d:0e:0f\n" +
	"7        10.1.2.3        FAILED: 0sec ago\n"

// TestFormatMatchesIproute2Golden rebuilds the captured iproute2 listing
// with listHeader, appendListRow and appendFailedRow, byte for byte.
func TestFormatMatchesIproute2Golden(t *testing.T) {
	b := []byte(listHeader)
	b = appendListRow(b, 1, netip.MustParseAddr("10.0.0.1"), []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff})
	b = appendFailedRow(b, 2, netip.MustParseAddr("1.2.3.4"), 42)
	b = appendListRow(b, 123456789, netip.MustParseAddr("255.255.255.255"), []byte{10, 11, 12, 13, 14, 15})
	b = appendFailedRow(b, 7, netip.MustParseAddr("10.1.2.3"), 0)
	if string(b) != iproute2Golden {
		t.Errorf("got\n%s\nwant\n%s", b, iproute2Golden)
	}
}

// TestListHeader checks the header against iproute2's format string.
func TestListHeader(t *testing.T) {
	if want := fmt.Sprintf("%-8s %-15s %s\n", "#Ifindex", "IP", "MAC"); listHeader != want {
		t.Errorf("listHeader = %q, want %q", listHeader, want)
	}
}

// TestAppendListRow checks rows byte for byte against iproute2's format
// string, including columns wider than their padding and link-layer
// addresses of other lengths.
func TestAppendListRow(t *testing.T) {
	tests := []struct {
		ifindex uint32
		addr    string
		mac     []byte
		macText string
	}{
		{1, "10.0.0.1", []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, "00:11:22:33:44:55"},
		{12345678, "192.168.100.200", []byte{0xAB, 0xCD, 0xEF, 1, 2, 3}, "ab:cd:ef:01:02:03"},
		{123456789, "255.255.255.255", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ff:ff:ff:ff:ff:ff"},
		{4294967295, "0.0.0.0", []byte{0xf0, 0x0f, 0, 0, 0, 1}, "f0:0f:00:00:00:01"},
		{2, "2001:db8::1", []byte{1, 2, 3, 4, 5, 6}, "01:02:03:04:05:06"},
		{3, "fe80::aaaa:bbbb:cccc:dddd", []byte{1, 2, 3, 4, 5, 6}, "01:02:03:04:05:06"},
		{4, "::ffff:10.0.0.1", []byte{1, 2, 3, 4, 5, 6}, "01:02:03:04:05:06"},
		{5, "10.0.0.5", []byte{0x12}, "12"},
		{6, "10.0.0.6", nil, ""},
		{7, "10.0.0.7", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
			"01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14"},
	}
	for _, tc := range tests {
		addr := netip.MustParseAddr(tc.addr)
		want := fmt.Sprintf("%-8d %-15s %s\n", tc.ifindex, tc.addr, tc.macText)
		got := appendListRow(nil, tc.ifindex, addr, tc.mac)
		if string(got) != want {
			t.Errorf("appendListRow(%d, %s, % x) = %q, want %q", tc.ifindex, tc.addr, tc.mac, got, want)
		}
		// Appending keeps what dst already holds.
		got = appendListRow([]byte("prefix"), tc.ifindex, addr, tc.mac)
		if string(got) != "prefix"+want {
			t.Errorf("appendListRow after prefix = %q, want %q", got, "prefix"+want)
		}
	}
}

// TestAppendFailedRow checks negative rows byte for byte against
// iproute2's format string.
func TestAppendFailedRow(t *testing.T) {
	tests := []struct {
		ifindex uint32
		addr    string
		age     int64
	}{
		{1, "10.0.0.1", 0},
		{2, "1.2.3.4", 59},
		{12345678, "192.168.100.200", 1 << 40},
		{123456789, "255.255.255.255", 7},
		{9, "2001:db8::dead:beef", 3},
		{10, "10.0.0.10", -5},
	}
	for _, tc := range tests {
		want := fmt.Sprintf("%-8d %-15s FAILED: %dsec ago\n", tc.ifindex, tc.addr, tc.age)
		got := appendFailedRow([]byte("x"), tc.ifindex, netip.MustParseAddr(tc.addr), tc.age)
		if string(got) != "x"+want {
			t.Errorf("appendFailedRow(%d, %s, %d) = %q, want %q", tc.ifindex, tc.addr, tc.age, got, "x"+want)
		}
	}
}

// TestAppendRowsDoNotAllocate checks that both row writers allocate
// nothing when dst has room, for IPv4 and IPv6.
func TestAppendRowsDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	mac := []byte{1, 2, 3, 4, 5, 6}
	for _, s := range []string{"192.168.100.200", "2001:db8::1234:5678"} {
		addr := netip.MustParseAddr(s)
		if n := testing.AllocsPerRun(100, func() {
			buf = appendListRow(buf[:0], 4000000000, addr, mac)
		}); n != 0 {
			t.Errorf("appendListRow(%s) allocates %v times", s, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			buf = appendFailedRow(buf[:0], 4000000000, addr, 1234567)
		}); n != 0 {
			t.Errorf("appendFailedRow(%s) allocates %v times", s, n)
		}
	}
}

// TestRowsMatchLiveIproute2 loads rows into a scratch database with the
// installed iproute2 arpd (-b in a temporary directory, -f, -l; it never
// becomes a daemon that way) and compares its listing with ours up to the
// MAC column. iproute2's -f stores garbage instead of the MACs it reads,
// so the MAC column is compared by shape only.
func TestRowsMatchLiveIproute2(t *testing.T) {
	path, err := exec.LookPath("arpd")
	if err != nil {
		t.Skip("iproute2 arpd not installed:", err)
	}
	rows := []struct {
		ifindex uint32
		addr    string
	}{
		{1, "10.0.0.1"},
		{12345678, "192.168.100.200"},
		{123456789, "255.255.255.255"},
		{2147483647, "1.2.3.4"},
		{42, "172.16.5.9"},
	}
	var in, want []string
	for _, r := range rows {
		in = append(in, fmt.Sprintf("%d %s 00:11:22:33:44:55", r.ifindex, r.addr))
		row := string(appendListRow(nil, r.ifindex, netip.MustParseAddr(r.addr), []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}))
		want = append(want, row[:strings.LastIndexByte(row, ' ')+1])
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(file, []byte("# comment\n"+strings.Join(in, "\n")+"\n3 1.1.1.1 FAILED: 9sec ago\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// NB: iproute2's -f stores through an uninitialised pointer (the
	// defect SPEC.md lists first), so it sometimes crashes. Try a few
	// fresh databases; if it crashes every time, its bug is the reason.
	var out []byte
	for try := 0; try < 5; try++ {
		db := filepath.Join(dir, fmt.Sprintf("x%d.db", try))
		out, err = exec.Command(path, "-b", db, "-f", file, "-l").Output()
		if err == nil {
			break
		}
		t.Logf("iproute2 arpd -f, try %d: %v (its known -f defect)", try+1, err)
	}
	if err != nil {
		t.Skip("iproute2 arpd -f crashed five times in a row (its known defect); nothing to compare")
	}
	header, body, _ := strings.Cut(string(out), "\n")
	if header+"\n" != listHeader {
		t.Errorf("iproute2 header %q, ours %q", header+"\n", listHeader)
	}
	var got []string
	for _, row := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		i := strings.LastIndexByte(row, ' ')
		if mac := row[i+1:]; len(mac) != 17 || strings.Count(mac, ":") != 5 || strings.ToLower(mac) != mac {
			t.Errorf("iproute2 MAC column %q is not lowercase aa:bb:cc:dd:ee:ff", mac)
		}
		got = append(got, row[:i+1])
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("iproute2 rows\n%q\nours\n%q", got, want)
	}
}

// collect runs parseLoad on text and returns the records with their line
// numbers.

// TestListAddressesRFC5952 pins the text of IPv6 addresses in the listing
// to RFC 5952's rules (section 4): lower case, no leading zeros, the
// longest run of two or more zero groups as "::", the first of equally
// long runs, never "::" for a single zero group; and checks that a
// column wider than 15 keeps one space before the MAC.
func TestListAddressesRFC5952(t *testing.T) {
	for in, want := range map[string]string{
		"2001:0DB8:0000:0000:0000:0000:0000:0001": "2001:db8::1",
		"2001:db8:0:1:1:1:1:1":                    "2001:db8:0:1:1:1:1:1", // one zero group stays
		"2001:0:0:1:0:0:0:1":                      "2001:0:0:1::1",        // the longest run
		"2001:db8:0:0:1:0:0:1":                    "2001:db8::1:0:0:1",    // the first of equal runs
		"0:0:0:0:0:0:0:0":                         "::",
		"0:0:0:0:0:0:0:1":                         "::1",
		"fe80:0:0:0:0:0:0:0":                      "fe80::",
		"FE80::0202:B3FF:FE1E:8329":               "fe80::202:b3ff:fe1e:8329",
		"1:2:3:4:5:6:7:8":                         "1:2:3:4:5:6:7:8",
		"1:0:2:0:3:0:4:0":                         "1:0:2:0:3:0:4:0",
	} {
		row := string(appendListRow(nil, 7, netip.MustParseAddr(in), []byte{1, 2, 3, 4, 5, 6}))
		wantRow := fmt.Sprintf("%-8d %-15s %s\n", 7, want, "01:02:03:04:05:06")
		if row != wantRow {
			t.Errorf("%s: row %q, want %q", in, row, wantRow)
		}
	}
}

// TestListNegativeRowsBothFamilies lists a database holding positive and
// negative entries of both families: the IPv4 rows come first, exactly as
// iproute2 prints them, then the IPv6 rows, negative ones as FAILED rows.
func TestListNegativeRowsBothFamilies(t *testing.T) {
	db := filepath.Join(t.TempDir(), "arpd.db")
	c, err := cache.Open(db, cache.Options{Capacity: 64, NegativeTTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	mac := [8]byte{2, 0, 0, 0, 0, 9}
	for _, e := range []cache.Entry{
		{Key: keyOf(5, netip.MustParseAddr("2001:db8::5")), Kind: cache.KindNegative},
		{Key: keyOf(5, netip.MustParseAddr("10.0.0.5")), Kind: cache.KindNegative},
		{Key: keyOf(6, netip.MustParseAddr("fe80::6")), Kind: cache.KindPositive, LLLen: 6, LLAddr: mac},
		{Key: keyOf(6, netip.MustParseAddr("10.0.0.6")), Kind: cache.KindPositive, LLLen: 6, LLAddr: mac},
		{Key: keyOf(7, netip.MustParseAddr("2001:db8:1234:5678:9abc:def0:1:2")), Kind: cache.KindNegative},
	} {
		if _, err := c.Put(&e); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	code, out, errs := runArpd(t, "", "-l", "-b", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// NB: the entries were stamped a moment ago: ages of a few seconds at
	// most, on a slow machine or under an emulator.
	out = regexp.MustCompile(`FAILED: [0-9]sec`).ReplaceAllString(out, "FAILED: 0sec")
	want := [2][]string{{
		"5        10.0.0.5        FAILED: 0sec ago\n",
		"6        10.0.0.6        02:00:00:00:00:09\n",
	}, {
		"5        2001:db8::5     FAILED: 0sec ago\n",
		"6        fe80::6         02:00:00:00:00:09\n",
		"7        2001:db8:1234:5678:9abc:def0:1:2 FAILED: 0sec ago\n",
	}}
	if got := familyRows(t, out); !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n%q\nwant\n%q", got, want)
	}
}
