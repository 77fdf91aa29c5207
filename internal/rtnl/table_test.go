package rtnl_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// tableMsg builds an RTM_NEWNEIGHTBL payload: family, then the attributes
// given as type and value.
func tableMsg(family uint8, attrs ...any) []byte {
	return appendAttrs([]byte{family, 0, 0, 0}, attrs...)
}

// parms builds the value of an NDTA_PARMS: the nested attributes given as
// type and value.
func parms(attrs ...any) []byte { return appendAttrs(nil, attrs...) }

// appendAttrs appends to b the attributes given as type and value, each
// padded to 4 bytes.
func appendAttrs(b []byte, attrs ...any) []byte {
	for i := 0; i < len(attrs); i += 2 {
		val := attrs[i+1].([]byte)
		var h [4]byte
		binary.NativeEndian.PutUint16(h[0:], uint16(4+len(val)))
		binary.NativeEndian.PutUint16(h[2:], uint16(attrs[i].(int)))
		b = append(append(b, h[:]...), val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// TestDecodeNeighTable: the table's name and gc_thresh3 are read, a
// parameters-only message has no threshold, and bad attributes are
// refused with the output left empty.
func TestDecodeNeighTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    []byte
		err     error
		table   string
		thresh3 uint32
		has     bool
	}{
		{"arp_cache", tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 2, u32(128), 4, u32(1024), 6, parms(1, u32(2))), nil, "arp_cache", 1024, true},
		{"parameters only", tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 6, parms(1, u32(2))), nil, "arp_cache", 0, false},
		{"raised", tableMsg(unix.AF_INET, 4, u32(80000), 1, []byte("arp_cache")), nil, "arp_cache", 80000, true},
		{"short thresh3", tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 4, []byte{1, 2}), rtnl.ErrBadAttr, "", 0, false},
		{"long name", tableMsg(unix.AF_INET, 1, []byte("a_name_too_long_for_it\x00"), 4, u32(1)), rtnl.ErrBadAttr, "", 0, false},
		{"two thresh3", tableMsg(unix.AF_INET, 4, u32(1), 4, u32(2)), rtnl.ErrDupAttr, "", 0, false},
		{"short payload", []byte{2, 0}, rtnl.ErrShortPayload, "", 0, false},
	} {
		var tb rtnl.NeighTable
		err := rtnl.DecodeNeighTable(&rtnl.Msg{Type: unix.RTM_NEWNEIGHTBL, Data: tc.data}, &tb)
		name := string(tb.Name[:len(tc.table)])
		if err != tc.err || name != tc.table || tb.Thresh3 != tc.thresh3 || tb.HasThresh3 != tc.has {
			t.Errorf("%s: %+v, %v; want %q %d %v, %v", tc.name, tb, err, tc.table, tc.thresh3, tc.has, tc.err)
		}
	}
	var tb rtnl.NeighTable
	if err := rtnl.DecodeNeighTable(&rtnl.Msg{Type: unix.RTM_NEWNEIGH, Data: tableMsg(2)}, &tb); err != rtnl.ErrWrongType {
		t.Errorf("an RTM_NEWNEIGH: %v", err)
	}
}

// TestPutNeighTableDump checks the request's bytes: a dump of the
// AF_INET tables.
func TestPutNeighTableDump(t *testing.T) {
	var b [64]byte
	n, err := rtnl.PutNeighTableDump(b[:], 7, unix.AF_INET)
	if err != nil || n != 20 {
		t.Fatalf("%d, %v", n, err)
	}
	if typ := binary.NativeEndian.Uint16(b[4:]); typ != unix.RTM_GETNEIGHTBL || b[16] != unix.AF_INET ||
		binary.NativeEndian.Uint16(b[6:])&unix.NLM_F_DUMP != unix.NLM_F_DUMP {
		t.Errorf("% x", b[:n])
	}
}

// TestDecodeNeighParams: the probes and the index of NDTA_PARMS, both
// probes needed for HasProbes, and bad or repeated nested attributes
// refused with the output left empty.
func TestDecodeNeighParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		err  error
		want rtnl.NeighTable
	}{
		{"device", tableMsg(unix.AF_INET6, 1, []byte("ndisc_cache\x00"), 6, parms(1, u32(7), 2, u32(1), 9, u32(3), 10, u32(3), 11, u32(0))), nil,
			rtnl.NeighTable{Family: unix.AF_INET6, Ifindex: 7, AppProbes: 3, McastProbes: 0, HasProbes: true}},
		{"defaults", tableMsg(unix.AF_INET, 6, parms(9, u32(0), 11, u32(3)), 4, u32(1024)), nil,
			rtnl.NeighTable{Family: unix.AF_INET, Thresh3: 1024, HasThresh3: true, AppProbes: 0, McastProbes: 3, HasProbes: true}},
		{"nested flag", tableMsg(unix.AF_INET, 6|0x8000, parms(1|0x8000, u32(2), 9, u32(1), 11, u32(1))), nil,
			rtnl.NeighTable{Family: unix.AF_INET, Ifindex: 2, AppProbes: 1, McastProbes: 1, HasProbes: true}},
		{"no mcast", tableMsg(unix.AF_INET, 6, parms(1, u32(2), 9, u32(1))), nil,
			rtnl.NeighTable{Family: unix.AF_INET, Ifindex: 2, AppProbes: 1}},
		{"short ifindex", tableMsg(unix.AF_INET, 6, parms(1, []byte{2, 0})), rtnl.ErrBadAttr, rtnl.NeighTable{}},
		{"long app", tableMsg(unix.AF_INET, 6, parms(9, make([]byte, 8))), rtnl.ErrBadAttr, rtnl.NeighTable{}},
		{"two apps", tableMsg(unix.AF_INET, 6, parms(9, u32(1), 9, u32(2), 11, u32(1))), rtnl.ErrDupAttr, rtnl.NeighTable{}},
		{"two parms", tableMsg(unix.AF_INET, 6, parms(9, u32(1)), 6, parms(9, u32(2))), rtnl.ErrDupAttr, rtnl.NeighTable{}},
		{"cut nested", tableMsg(unix.AF_INET, 6, []byte{12, 0, 9, 0, 1, 0, 0, 0}), rtnl.ErrBadAttr, rtnl.NeighTable{}},
	} {
		var tb rtnl.NeighTable
		err := rtnl.DecodeNeighTable(&rtnl.Msg{Type: unix.RTM_NEWNEIGHTBL, Data: tc.data}, &tb)
		if tc.name == "device" {
			tc.want.Name = [16]byte([]byte("ndisc_cache\x00\x00\x00\x00\x00"))
		}
		if err != tc.err || tb != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, tb, err, tc.want, tc.err)
		}
	}
}

// TestDecodeNeighTableCaptured decodes what the kernel sent in
// TestLabNeighParams: arp_cache itself, with its thresholds and its
// defaults, and one device's parameters after app_probes 3 and
// mcast_probes 0 were set.
func TestDecodeNeighTableCaptured(t *testing.T) {
	var tb rtnl.NeighTable
	m := only(t, loadHex(t, "newneightbl_table"))
	if err := rtnl.DecodeNeighTable(&m, &tb); err != nil || string(tb.TableName()) != "arp_cache" ||
		tb.Family != unix.AF_INET || !tb.HasThresh3 || tb.Thresh3 == 0 || tb.Ifindex != 0 || !tb.HasProbes {
		t.Errorf("the table: %+v, %v", tb, err)
	}
	m = only(t, loadHex(t, "newneightbl_dev"))
	if err := rtnl.DecodeNeighTable(&m, &tb); err != nil || string(tb.TableName()) != "arp_cache" || tb.HasThresh3 ||
		tb.Ifindex < 1 || !tb.HasProbes || tb.AppProbes != 3 || tb.McastProbes != 0 {
		t.Errorf("the device: %+v, %v", tb, err)
	}
}

// TestPutNeighParamsAsIP: the message is byte for byte what `ip ntable
// change` sent for the same change (testdata/setneightbl_ip_*.hex), and
// bad input or a short buffer is refused.
func TestPutNeighParamsAsIP(t *testing.T) {
	for _, tc := range []struct {
		file, table string
		p           rtnl.NeighParams
	}{
		{"setneightbl_ip_arp", "arp_cache", rtnl.NeighParams{Ifindex: 3, AppProbes: 3}},
		{"setneightbl_ip_ndisc", "ndisc_cache", rtnl.NeighParams{Ifindex: 3, AppProbes: 2, McastProbes: 0, SetMcast: true}},
	} {
		want := loadHex(t, tc.file)
		seq := binary.NativeEndian.Uint32(want[8:12])
		b := bytes.Repeat([]byte{0xee}, rtnl.NeighParamsMsgMax)
		n, err := rtnl.PutNeighParams(b, seq, tc.table, &tc.p)
		if err != nil || !bytes.Equal(b[:n], want) {
			t.Errorf("%s: %v\n got % x\nwant % x", tc.table, err, b[:n], want)
		}
	}
	var b [rtnl.NeighParamsMsgMax]byte
	for _, tc := range []struct {
		table string
		p     rtnl.NeighParams
		size  int
		err   error
	}{
		{"", rtnl.NeighParams{Ifindex: 1}, len(b), rtnl.ErrBadInput},
		{"a_name_too_long!", rtnl.NeighParams{Ifindex: 1}, len(b), rtnl.ErrBadInput},
		{"arp_cache", rtnl.NeighParams{Ifindex: 0}, len(b), rtnl.ErrBadInput},
		{"arp_cache", rtnl.NeighParams{Ifindex: -1}, len(b), rtnl.ErrBadInput},
		{"arp_cache", rtnl.NeighParams{Ifindex: 1, SetMcast: true}, 55, rtnl.ErrShortBuffer},
		{"ndisc_cache_15b", rtnl.NeighParams{Ifindex: 1, SetMcast: true}, len(b), nil},
	} {
		if n, err := rtnl.PutNeighParams(b[:tc.size], 1, tc.table, &tc.p); err != tc.err || (err == nil && n != rtnl.NeighParamsMsgMax) {
			t.Errorf("%q %+v in %d bytes: %d, %v; want %v", tc.table, tc.p, tc.size, n, err, tc.err)
		}
	}
}

// TestPutNeighParamsAllocs: building the message allocates nothing.
func TestPutNeighParamsAllocs(t *testing.T) {
	var b [rtnl.NeighParamsMsgMax]byte
	p := rtnl.NeighParams{Ifindex: 2, AppProbes: 3, SetMcast: true}
	if n := testing.AllocsPerRun(100, func() { rtnl.PutNeighParams(b[:], 1, "arp_cache", &p) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzNeighParamsRoundTrip: what PutNeighParams writes decodes (as the
// kernel's RTM_NEWNEIGHTBL would) to the same table and parameters.
func FuzzNeighParamsRoundTrip(f *testing.F) {
	f.Add(int32(3), uint32(3), uint32(0), true, false)
	f.Add(int32(1<<31-1), uint32(1<<32-1), uint32(7), false, true)
	f.Fuzz(func(t *testing.T, ifindex int32, app, mcast uint32, setMcast, v6 bool) {
		table := "arp_cache"
		if v6 {
			table = "ndisc_cache"
		}
		var b [rtnl.NeighParamsMsgMax]byte
		p := rtnl.NeighParams{Ifindex: ifindex, AppProbes: app, McastProbes: mcast, SetMcast: setMcast}
		n, err := rtnl.PutNeighParams(b[:], 9, table, &p)
		if ifindex < 1 {
			if err != rtnl.ErrBadInput {
				t.Fatalf("index %d: %v", ifindex, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		m := only(t, b[:n])
		m.Type = unix.RTM_NEWNEIGHTBL
		var tb rtnl.NeighTable
		if err := rtnl.DecodeNeighTable(&m, &tb); err != nil || string(tb.TableName()) != table || tb.Ifindex != ifindex ||
			tb.AppProbes != app || tb.HasProbes != setMcast || (setMcast && tb.McastProbes != mcast) {
			t.Fatalf("%+v: decoded %+v, %v", p, tb, err)
		}
	})
}

// FuzzDecodeNeighTable: no panic, and on error nothing is left in the
// output. The seeds are the kernel's own messages and the cases above.
func FuzzDecodeNeighTable(f *testing.F) {
	f.Add(tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 4, u32(1024)))
	f.Add(tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 4, []byte{1}))
	f.Add(tableMsg(unix.AF_INET, 6, parms(1, u32(2), 9, u32(1), 11, u32(1))))
	f.Add(tableMsg(unix.AF_INET, 6, parms(9, u32(1), 9, u32(2))))
	for _, name := range []string{"newneightbl_table", "newneightbl_dev"} {
		m := only(f, loadHex(f, name))
		f.Add(m.Data)
	}
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tb rtnl.NeighTable
		if err := rtnl.DecodeNeighTable(&rtnl.Msg{Type: unix.RTM_NEWNEIGHTBL, Data: data}, &tb); err != nil && tb != (rtnl.NeighTable{}) {
			t.Fatalf("%v, but decoded %+v", err, tb)
		}
	})
}
