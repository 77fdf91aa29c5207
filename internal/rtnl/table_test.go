package rtnl_test

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// tableMsg builds an RTM_NEWNEIGHTBL payload: family, then the attributes
// given as type and value.
func tableMsg(family uint8, attrs ...any) []byte {
	b := []byte{family, 0, 0, 0}
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
		{"arp_cache", tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 2, u32(128), 4, u32(1024), 6, []byte{4, 0, 1, 0}), nil, "arp_cache", 1024, true},
		{"parameters only", tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 6, []byte{4, 0, 1, 0}), nil, "arp_cache", 0, false},
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

// FuzzDecodeNeighTable: no panic, and on error nothing is left in the
// output.
func FuzzDecodeNeighTable(f *testing.F) {
	f.Add(tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 4, u32(1024)))
	f.Add(tableMsg(unix.AF_INET, 1, []byte("arp_cache\x00"), 4, []byte{1}))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tb rtnl.NeighTable
		if err := rtnl.DecodeNeighTable(&rtnl.Msg{Type: unix.RTM_NEWNEIGHTBL, Data: data}, &tb); err != nil && tb != (rtnl.NeighTable{}) {
			t.Fatalf("%v, but decoded %+v", err, tb)
		}
	})
}
