package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	netip "arpd/internal/netiplite"
)

func collect(t *testing.T, text, name string) ([]loadRecord, []int, error) {
	t.Helper()
	var recs []loadRecord
	var lines []int
	err := parseLoad(strings.NewReader(text), name, func(n int, r loadRecord) error {
		recs = append(recs, r)
		lines = append(lines, n)
		return nil
	})
	return recs, lines, err
}

// rec builds a loadRecord for tests.
func rec(ifindex uint32, addr string, mac ...byte) loadRecord {
	r := loadRecord{Ifindex: ifindex, Addr: netip.MustParseAddr(addr)}
	copy(r.MAC[:], mac)
	return r
}

// TestParseLoad checks what parseLoad accepts and the records and line
// numbers it reports.
func TestParseLoad(t *testing.T) {
	text := "#Ifindex IP              MAC\n" + // 1
		"1        10.0.0.1        aa:bb:cc:dd:ee:ff\n" + // 2
		"\n" + // 3
		"   \t \r\n" + // 4
		"2\t10.0.0.2\tAA:BB:CC:DD:EE:0F\r\n" + // 5
		"3 10.0.0.3 FAILED: 12sec ago\n" + // 6
		"#3 10.0.0.3 not a row\n" + // 7
		"  4   10.0.0.4   0:1:2:a:B:c  \n" + // 8
		"5 2001:db8::1 01:02:03:04:05:06\n" + // 9
		"6 ::ffff:192.168.1.1 01:02:03:04:05:07\n" + // 10
		"7 10.0.0.7 FAILED:\n" + // 11
		"8 2001:db8::8 FAILED: 1sec ago\n" + // 12
		"0009 10.0.0.9 \v\f01:02:03:04:05:08\n" + // 13
		"2147483647 10.0.0.10 01:02:03:04:05:09" // 14, no newline
	recs, lines, err := collect(t, text, "in.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []loadRecord{
		rec(1, "10.0.0.1", 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff),
		rec(2, "10.0.0.2", 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f),
		rec(4, "10.0.0.4", 0, 1, 2, 0xa, 0xb, 0xc),
		rec(5, "2001:db8::1", 1, 2, 3, 4, 5, 6),
		rec(6, "192.168.1.1", 1, 2, 3, 4, 5, 7),
		rec(9, "10.0.0.9", 1, 2, 3, 4, 5, 8),
		rec(2147483647, "10.0.0.10", 1, 2, 3, 4, 5, 9),
	}
	wantLines := []int{2, 5, 8, 9, 10, 13, 14}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Errorf("records\n got %v\nwant %v", recs, want)
	}
	for i := range recs {
		if i < len(want) && recs[i] != want[i] {
			t.Errorf("record %d = %v, want %v", i, recs[i], want[i])
		}
	}
	if fmt.Sprint(lines) != fmt.Sprint(wantLines) {
		t.Errorf("line numbers %v, want %v", lines, wantLines)
	}
	if !recs[4].Addr.Is4() {
		t.Errorf("IPv4-mapped address not unmapped: %v", recs[4].Addr)
	}
}

// TestParseLoadEmpty checks that empty and comment-only input load nothing
// without error.
func TestParseLoadEmpty(t *testing.T) {
	for _, text := range []string{"", "\n", "# only\n# comments", "\n\n  \n"} {
		recs, _, err := collect(t, text, "x")
		if err != nil || len(recs) != 0 {
			t.Errorf("%q: %d records, error %v; want none", text, len(recs), err)
		}
	}
}

// TestParseLoadErrors checks the message for every kind of bad line,
// including its line number and the quoted offending text.
func TestParseLoadErrors(t *testing.T) {
	const good = "1 10.0.0.1 00:11:22:33:44:55\n"
	tests := []struct {
		name, text, want string
	}{
		{"one field", good + "1\n", `f:2: want 3 fields (ifindex IP MAC), got 1: "1"`},
		{"two fields", "1 10.0.0.1 \n", `f:1: want 3 fields (ifindex IP MAC), got 2: "1 10.0.0.1"`},
		{"four fields", "1 10.0.0.1 00:11:22:33:44:55 x\n", `f:1: want 3 fields (ifindex IP MAC), got 4: "1 10.0.0.1 00:11:22:33:44:55 x"`},
		{"indented comment", "  # no\n", `f:1: want 3 fields (ifindex IP MAC), got 2: "# no"`},
		{"ifindex zero", "0 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "0"`},
		{"ifindex too big", "2147483648 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "2147483648"`},
		{"ifindex huge", "99999999999999999999999 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "99999999999999999999999"`},
		{"ifindex negative", "-1 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "-1"`},
		{"ifindex plus", "+1 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "+1"`},
		{"ifindex hex", "0x1 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "0x1"`},
		{"ifindex name", "eth0 10.0.0.1 00:11:22:33:44:55\n", `f:1: invalid interface index (want 1 to 2147483647): "eth0"`},
		{"IP short form", "1 10.1 00:11:22:33:44:55\n", `f:1: invalid IP address: "10.1"`},
		{"IP leading zero", "1 010.0.0.1 00:11:22:33:44:55\n", `f:1: invalid IP address: "010.0.0.1"`},
		{"IP octet too big", "1 10.0.0.256 00:11:22:33:44:55\n", `f:1: invalid IP address: "10.0.0.256"`},
		{"IP zone", "1 fe80::1%eth0 00:11:22:33:44:55\n", `f:1: invalid IP address: "fe80::1%eth0"`},
		{"IP name", "1 host 00:11:22:33:44:55\n", `f:1: invalid IP address: "host"`},
		{"IPv6 two ellipses", "1 2001:db8::1::2 00:11:22:33:44:55\n", `f:1: invalid IP address: "2001:db8::1::2"`},
		{"IPv6 triple colon", "1 2001:db8:::1 00:11:22:33:44:55\n", `f:1: invalid IP address: "2001:db8:::1"`},
		{"IPv6 nine groups", "1 1:2:3:4:5:6:7:8:9 00:11:22:33:44:55\n", `f:1: invalid IP address: "1:2:3:4:5:6:7:8:9"`},
		{"IPv6 seven groups", "3 1:2:3:4:5:6:7 00:11:22:33:44:55\n", `f:1: invalid IP address: "1:2:3:4:5:6:7"`},
		{"IPv6 long group", "1 2001:db8::12345 00:11:22:33:44:55\n", `f:1: invalid IP address: "2001:db8::12345"`},
		{"IPv6 not hex", "1 2001:db8::g 00:11:22:33:44:55\n", `f:1: invalid IP address: "2001:db8::g"`},
		{"IPv6 prefix", "1 2001:db8::1/64 00:11:22:33:44:55\n", `f:1: invalid IP address: "2001:db8::1/64"`},
		{"IPv6 brackets", "1 [2001:db8::1] 00:11:22:33:44:55\n", `f:1: invalid IP address: "[2001:db8::1]"`},
		{"IPv6 FAILED with bad IP", good + "1 fe80:::1 FAILED: 3sec ago\n", `f:2: invalid IP address: "fe80:::1"`},
		{"FAILED with bad ifindex", "0 10.0.0.1 FAILED: 3sec ago\n", `f:1: invalid interface index (want 1 to 2147483647): "0"`},
		{"FAILED with bad IP", "1 10.0.0 FAILED: 3sec ago\n", `f:1: invalid IP address: "10.0.0"`},
		{"failed lowercase", "1 10.0.0.1 failed: 3sec ago\n", `f:1: want 3 fields (ifindex IP MAC), got 5: "1 10.0.0.1 failed: 3sec ago"`},
		{"MAC five octets", "1 10.0.0.1 00:11:22:33:44\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "00:11:22:33:44"`},
		{"MAC seven octets", "1 10.0.0.1 00:11:22:33:44:55:66\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "00:11:22:33:44:55:66"`},
		{"MAC three digits", "1 10.0.0.1 000:11:22:33:44:55\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "000:11:22:33:44:55"`},
		{"MAC empty octet", "1 10.0.0.1 00::22:33:44:55\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "00::22:33:44:55"`},
		{"MAC trailing colon", "1 10.0.0.1 00:11:22:33:44:55:\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "00:11:22:33:44:55:"`},
		{"MAC dashes", "1 10.0.0.1 00-11-22-33-44-55\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "00-11-22-33-44-55"`},
		{"MAC not hex", "1 10.0.0.1 0g:11:22:33:44:55\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "0g:11:22:33:44:55"`},
		{"MAC no colons", "1 10.0.0.1 001122334455\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "001122334455"`},
		{"binary", "1 10.0.0.1 \x00\xff\n", `f:1: invalid MAC address (want six hex octets like aa:bb:cc:dd:ee:ff): "\x00\xff"`},
		{"error after good lines", good + good + "\n# x\nbad\n" + good, `f:5: want 3 fields (ifindex IP MAC), got 1: "bad"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := collect(t, tc.text, "f")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
		})
	}
}

// TestParseLoadStopsAtFirstError checks that no record after a bad line
// reaches fn, and that the ones before it do.
func TestParseLoadStopsAtFirstError(t *testing.T) {
	recs, _, err := collect(t, "1 10.0.0.1 00:11:22:33:44:55\nx\n2 10.0.0.2 00:11:22:33:44:55\n", "f")
	if err == nil {
		t.Fatal("no error")
	}
	if len(recs) != 1 || recs[0].Ifindex != 1 {
		t.Errorf("records %v, want only ifindex 1", recs)
	}
}

// TestParseLoadStdinName checks that "-" is reported as stdin.
func TestParseLoadStdinName(t *testing.T) {
	_, _, err := collect(t, "x\n", "-")
	if want := `stdin:1: want 3 fields (ifindex IP MAC), got 1: "x"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestParseLoadLongLines checks the 4096-byte limit: a line of exactly
// 4096 bytes loads, with or without newline, and one byte more is an error
// naming the line, also when the reader is a bufio.Reader with a bigger
// buffer.
func TestParseLoadLongLines(t *testing.T) {
	row := "1 10.0.0.1 00:11:22:33:44:55"
	pad := func(n int) string { return row + strings.Repeat(" ", n-len(row)) }
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"4096 with newline", "#\n" + pad(4096) + "\n", true},
		{"4096 without newline", "#\n" + pad(4096), true},
		{"4096 with CRLF", "#\n" + pad(4095) + "\r\n", true},
		{"4097 with newline", "#\n" + pad(4097) + "\n" + row + "\n", false},
		{"4097 without newline", "#\n" + pad(4097), false},
		{"long comment", "#" + strings.Repeat("x", 4096) + "\n" + row, false},
		{"1 MB line", "#\n" + pad(1<<20), false},
	} {
		for _, big := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.text)
			if big {
				r = bufio.NewReaderSize(r, 1<<16)
			}
			n := 0
			err := parseLoad(r, "f", func(int, loadRecord) error { n++; return nil })
			if tc.ok {
				if err != nil || n != 1 {
					t.Errorf("%s (big buffer %v): %d records, error %v; want 1, no error", tc.name, big, n, err)
				}
				continue
			}
			line := "1"
			if tc.name != "long comment" {
				line = "2"
			}
			want := "f:" + line + ": line longer than 4096 bytes"
			if err == nil || err.Error() != want {
				t.Errorf("%s (big buffer %v): error %v, want %s", tc.name, big, err, want)
			}
		}
	}
}

// errReader returns its data and then err.
type errReader struct {
	// data is returned first.
	data string
	// err is returned once data is used up.
	err error
}

// Read implements io.Reader.
func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestParseLoadReadError checks that a read error is returned (so that
// errors.Is finds it) with the line it interrupted, and that the records
// before it were delivered.
func TestParseLoadReadError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := parseLoad(&errReader{"1 10.0.0.1 00:11:22:33:44:55\n2 10.0", boom}, "f",
		func(int, loadRecord) error { n++; return nil })
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want one wrapping %v", err, boom)
	}
	if want := "f:2: boom"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if n != 1 {
		t.Errorf("%d records before the error, want 1", n)
	}
}

// TestParseLoadCallbackError checks that fn's error is returned as it is
// and stops the load.
func TestParseLoadCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := parseLoad(strings.NewReader("1 10.0.0.1 00:11:22:33:44:55\n2 10.0.0.2 00:11:22:33:44:55\n"), "f",
		func(int, loadRecord) error { calls++; return stop })
	if err != stop {
		t.Errorf("error %v, want exactly %v", err, stop)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
}

// TestListingLoadsBack checks that a listing made with listHeader,
// appendListRow and appendFailedRow loads back into the same positive
// records.
func TestListingLoadsBack(t *testing.T) {
	want := []loadRecord{
		rec(1, "10.0.0.1", 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff),
		rec(123456789, "255.255.255.255", 0, 0, 0, 0, 0, 1),
		rec(3, "2001:db8::1", 1, 2, 3, 4, 5, 6),
	}
	b := []byte(listHeader)
	b = appendFailedRow(b, 9, netip.MustParseAddr("10.9.9.9"), 30)
	for _, r := range want {
		b = appendListRow(b, r.Ifindex, r.Addr, r.MAC[:])
		b = appendFailedRow(b, r.Ifindex+1, r.Addr, 1)
	}
	got, _, err := collect(t, string(b), "f")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
}

// FuzzParseLoad feeds arbitrary input to parseLoad and checks that it does
// not panic, that every record is valid, that line numbers rise and stay
// within the input, that errors carry the name and a line number, and that
// every record, printed with appendListRow, parses back to itself.
func FuzzParseLoad(f *testing.F) {
	for _, s := range []string{
		"",
		"\n",
		listHeader,
		"1        10.0.0.1        aa:bb:cc:dd:ee:ff\n",
		"2\t10.0.0.2\tAA:BB:CC:DD:EE:0F\r\n",
		"3 10.0.0.3 FAILED: 12sec ago\n4 10.0.0.4 0:1:2:a:B:c",
		"5 2001:db8::1 01:02:03:04:05:06\n6 ::ffff:192.168.1.1 01:02:03:04:05:07\n",
		"7 fe80::1 FAILED: 3sec ago\n8 2001:DB8:0:0:1:0:0:1 0a:0b:0c:0d:0e:0f\n",
		"9 :: 00:11:22:33:44:55\n10 ::1.2.3.4 00:11:22:33:44:55\n",
		"1 2001:db8:::1 00:11:22:33:44:55\n",
		"1 1:2:3:4:5:6:7:8:9 00:11:22:33:44:55\n",
		"0 10.0.0.1 00:11:22:33:44:55\n",
		"2147483648 10.0.0.1 00:11:22:33:44:55\n",
		"1 fe80::1%eth0 00:11:22:33:44:55\n",
		"1 10.1 00:11:22:33:44:55\n",
		"1 10.0.0.1 000:11:22:33:44:55\n",
		"1 10.0.0.1 00:11:22:33:44:55:\n",
		"1 10.0.0.1 00:11:22:33:44:55 extra\n",
		"1 10.0.0.1\n",
		"  # indented\n",
		"1 10.0.0.1 \x00\xff\n",
		"#" + strings.Repeat("x", 4100) + "\n",
		"1 10.0.0.1 00:11:22:33:44:55" + strings.Repeat(" ", 4068) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		last := 0
		err := parseLoad(bytes.NewReader(data), "fz", func(n int, r loadRecord) error {
			if n <= last || n > lines {
				t.Fatalf("line number %d after %d, input has %d lines", n, last, lines)
			}
			last = n
			if r.Ifindex < 1 || r.Ifindex > maxIfindex {
				t.Fatalf("record with ifindex %d", r.Ifindex)
			}
			if !r.Addr.IsValid() || r.Addr.Zone() != "" || r.Addr.Is4In6() {
				t.Fatalf("record with address %#v", r.Addr)
			}
			row := appendListRow(nil, r.Ifindex, r.Addr, r.MAC[:])
			var back []loadRecord
			if err := parseLoad(bytes.NewReader(row), "row", func(_ int, r2 loadRecord) error {
				back = append(back, r2)
				return nil
			}); err != nil {
				t.Fatalf("row %q does not parse back: %v", row, err)
			}
			if len(back) != 1 || back[0] != r {
				t.Fatalf("row %q parses back to %v, want %v", row, back, r)
			}
			return nil
		})
		if err != nil && !strings.HasPrefix(err.Error(), "fz:") {
			t.Fatalf("error without name: %v", err)
		}
		if err != nil {
			var n int
			if _, serr := fmt.Sscanf(err.Error(), "fz:%d:", &n); serr != nil || n < 1 || n > lines || n <= last {
				t.Fatalf("error %q: bad line number (input has %d lines, last record at %d)", err, lines, last)
			}
		}
	})
}

// mixedLoad is a load file with rows of both families, in the forms an
// administrator may write them (upper case, leading zeros, no
// compression), and negative rows of both.
const mixedLoad = `#Ifindex IP              MAC
2        10.0.0.1        00:11:22:33:44:55
2        2001:DB8:0:0:0:0:0:1 02:00:00:00:00:01
3        fe80::0202:b3ff:fe1e:8329 02:02:b3:1e:83:29
3        10.0.0.9        FAILED: 12sec ago
3        2001:db8::dead  FAILED: 3sec ago
4        2001:db8:0:0:1:0:0:1 02:00:00:00:00:02
1        127.0.0.2       0:1:2:3:4:5
`

// mixedRows are the rows -l lists for mixedLoad: the IPv4 ones, then the
// IPv6 ones in RFC 5952 form, each family sorted here (the file's order
// is its hash order).
var mixedRows = [2][]string{{
	"1        127.0.0.2       00:01:02:03:04:05\n",
	"2        10.0.0.1        00:11:22:33:44:55\n",
}, {
	"2        2001:db8::1     02:00:00:00:00:01\n",
	"3        fe80::202:b3ff:fe1e:8329 02:02:b3:1e:83:29\n",
	"4        2001:db8::1:0:0:1 02:00:00:00:00:02\n",
}}

// familyRows splits a listing's rows after its header into IPv4 and IPv6
// rows, each sorted, and fails t if an IPv4 row follows an IPv6 one.
func familyRows(t *testing.T, listing string) [2][]string {
	t.Helper()
	var rows [2][]string
	for _, row := range listingRows(t, listing) {
		f := strings.Fields(row)
		v6 := strings.Contains(f[1], ":")
		if !v6 && len(rows[1]) > 0 {
			t.Errorf("IPv4 row %q after the IPv6 rows %q", row, rows[1])
		}
		if v6 {
			rows[1] = append(rows[1], row)
		} else {
			rows[0] = append(rows[0], row)
		}
	}
	slices.Sort(rows[0])
	slices.Sort(rows[1])
	return rows
}

// listingRows returns the rows of a listing after its header, in
// the listing's order.
func listingRows(t *testing.T, listing string) []string {
	t.Helper()
	if !strings.HasPrefix(listing, listHeader) {
		t.Fatalf("listing does not start with the header: %q", listing)
	}
	rows := strings.SplitAfter(strings.TrimPrefix(listing, listHeader), "\n")
	return rows[:len(rows)-1]
}

// TestLoadListMixedRoundTrip loads a file of both families with -f, lists
// it with -l (IPv4 rows first, IPv6 rows in RFC 5952 form), and loads the
// listing into a new database: the round trip keeps every row.
func TestLoadListMixedRoundTrip(t *testing.T) {
	db := filepath.Join(t.TempDir(), "arpd.db")
	code, out, errs := runArpd(t, mixedLoad, "-b", db, "-f", "-", "-l")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := familyRows(t, out); !reflect.DeepEqual(got, mixedRows) {
		t.Fatalf("listing rows:\n%q\nwant\n%q", got, mixedRows)
	}
	db2 := filepath.Join(t.TempDir(), "copy.db")
	if code, _, errs := runArpd(t, out, "-b", db2, "-f", "-"); code != 0 {
		t.Fatalf("reloading a listing: exit %d: %s", code, errs)
	}
	if _, out2, _ := runArpd(t, "", "-l", "-b", db2); !reflect.DeepEqual(familyRows(t, out2), mixedRows) {
		t.Fatalf("round trip changed the listing:\n%s\nwas\n%s", out2, out)
	}
}

// TestLoadListFamilies: with -4 or -6, -f loads only that family's rows
// (the others are checked, not loaded, and counted on stderr) and -l lists
// only that family's rows.
func TestLoadListFamilies(t *testing.T) {
	for _, tc := range []struct {
		flag, note string
		keep       int // index in mixedRows
	}{
		{"-4", "arpd: stdin: skipped 3 IPv6 rows (-4)\n", 0},
		{"-6", "arpd: stdin: skipped 2 IPv4 rows (-6)\n", 1},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "arpd.db")
			code, out, errs := runArpd(t, mixedLoad, tc.flag, "-b", db, "-f", "-", "-l")
			if code != 0 || errs != tc.note {
				t.Fatalf("exit %d, stderr %q; want %q", code, errs, tc.note)
			}
			var want [2][]string
			want[tc.keep] = mixedRows[tc.keep]
			if got := familyRows(t, out); !reflect.DeepEqual(got, want) {
				t.Errorf("listing rows:\n%q\nwant\n%q", got, want)
			}
			// The whole file is in the database only after a load of
			// both; -l with the flag still lists one family.
			if code, _, errs := runArpd(t, mixedLoad, "-b", db, "-f", "-"); code != 0 {
				t.Fatalf("load of both: exit %d: %s", code, errs)
			}
			_, out, _ = runArpd(t, "", tc.flag, "-l", "-b", db)
			if got := familyRows(t, out); !reflect.DeepEqual(got, want) {
				t.Errorf("%s -l of both families:\n%q\nwant\n%q", tc.flag, got, want)
			}
			_, out, _ = runArpd(t, "", "-l", "-b", db)
			if got := familyRows(t, out); !reflect.DeepEqual(got, mixedRows) {
				t.Errorf("-l of both families:\n%q\nwant\n%q", got, mixedRows)
			}
			// A bad row of the family left out is still an error.
			if code, _, errs := runArpd(t, "1 10.0.0.1 00:11:22:33:44:55\n2 2001:db8:::1 00:11:22:33:44:55\n", tc.flag, "-b", db, "-f", "-"); code == 0 || !strings.Contains(errs, "stdin:2: invalid IP address") {
				t.Errorf("bad IPv6 row: exit %d, %q", code, errs)
			}
		})
	}
}
