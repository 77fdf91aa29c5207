package rtnl_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// TestIter frames a datagram of several messages, then every truncation of
// it, and a lying length.
func TestIter(t *testing.T) {
	msgs := [][]byte{
		loadHex(t, "dump_newneigh"),
		loadHex(t, "newlink"),
		loadHex(t, "done"),
	}
	b := concat(msgs...)
	it := rtnl.Messages(b)
	var m rtnl.Msg
	var types []uint16
	for it.Next(&m) {
		types = append(types, m.Type)
	}
	if it.Err() != nil || len(types) != 3 || types[0] != unix.RTM_NEWNEIGH || types[1] != unix.RTM_NEWLINK || types[2] != unix.NLMSG_DONE {
		t.Fatalf("types %v err %v", types, it.Err())
	}
	// Every prefix: whole messages before the cut, then a reason.
	for cut := 0; cut < len(b); cut++ {
		it := rtnl.Messages(b[:cut])
		count := 0
		for it.Next(&m) {
			count++
			if count > 3 {
				t.Fatalf("cut %d: too many messages", cut)
			}
		}
		if cut == 0 && it.Err() != nil {
			t.Errorf("empty buffer: %v", it.Err())
		}
		if cut > 0 && cut != len(msgs[0]) && cut != len(msgs[0])+len(msgs[1]) && it.Err() == nil {
			t.Errorf("cut %d: no error", cut)
		}
		if err := it.Err(); err != nil && err != rtnl.ErrShortHeader && err != rtnl.ErrBadLength {
			t.Errorf("cut %d: %v", cut, err)
		}
	}
	// A length that points past the buffer, and one below a header.
	for _, n := range []uint32{uint32(len(b) + 1), 0xffffffff, 15, 0} {
		c := bytes.Clone(b)
		binary.NativeEndian.PutUint32(c[0:4], n)
		it := rtnl.Messages(c)
		if it.Next(&m) || it.Err() != rtnl.ErrBadLength {
			t.Errorf("nlmsg_len %d: err %v", n, it.Err())
		}
		if !errors.Is(it.Err(), rtnl.ErrBadLength) {
			t.Errorf("errors.Is(%v, ErrBadLength) = false", it.Err())
		}
	}
	// The last message may lack its padding.
	d := loadHex(t, "newlink")[:hdrLen+ifinfoLen+3]
	binary.NativeEndian.PutUint32(d[0:4], uint32(len(d)))
	it = rtnl.Messages(d)
	if !it.Next(&m) || it.Next(&m) || it.Err() != nil {
		t.Errorf("unpadded last message: %v", it.Err())
	}
}

// TestControlTypes frames NLMSG_NOOP and NLMSG_OVERRUN, which carry no
// payload the decoders need, and checks that the decoders refuse them.
func TestControlTypes(t *testing.T) {
	var b []byte
	for _, typ := range []uint16{unix.NLMSG_NOOP, unix.NLMSG_OVERRUN} {
		h := make([]byte, hdrLen)
		binary.NativeEndian.PutUint32(h[0:4], hdrLen)
		binary.NativeEndian.PutUint16(h[4:6], typ)
		b = append(b, h...)
	}
	it := rtnl.Messages(b)
	var m rtnl.Msg
	var types []uint16
	for it.Next(&m) {
		types = append(types, m.Type)
		var n rtnl.Neigh
		var l rtnl.Link
		var a rtnl.Addr
		var e rtnl.ErrorMsg
		if rtnl.DecodeNeigh(&m, &n) != rtnl.ErrWrongType || rtnl.DecodeLink(&m, &l) != rtnl.ErrWrongType ||
			rtnl.DecodeAddr(&m, &a) != rtnl.ErrWrongType || rtnl.DecodeError(&m, &e) != rtnl.ErrWrongType {
			t.Errorf("type %d accepted by a decoder", m.Type)
		}
	}
	if it.Err() != nil || len(types) != 2 || types[1] != unix.NLMSG_OVERRUN {
		t.Errorf("types %v err %v", types, it.Err())
	}
}

// TestNoAllocs asserts that framing, decoding and encoding allocate
// nothing, also when they reject their input.
func TestNoAllocs(t *testing.T) {
	var datagram []byte
	for _, f := range []string{"getneigh_incomplete", "newneigh_reachable", "newlink", "error_enoent", "done"} {
		datagram = append(datagram, loadHex(t, f)...)
	}
	bad := neighWith(unix.RTM_NEWNEIGH, unix.AF_INET, attr(unix.NDA_LLADDR, make([]byte, 20), 0))
	var out [rtnl.NeighMsgMax]byte
	var longLL, badLength, other int
	count := func(err error) {
		switch {
		case errors.Is(err, rtnl.ErrLongLLAddr):
			longLL++
		case errors.Is(err, rtnl.ErrBadLength):
			badLength++
		case err != nil:
			other++
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		it := rtnl.Messages(datagram)
		var m rtnl.Msg
		var n rtnl.Neigh
		var l rtnl.Link
		var e rtnl.ErrorMsg
		for it.Next(&m) {
			switch m.Type {
			case unix.RTM_GETNEIGH, unix.RTM_NEWNEIGH:
				count(rtnl.DecodeNeigh(&m, &n))
				_, err := rtnl.PutNeighAnswer(out[:], 1, &n, cacheMAC[:])
				count(err)
				_, err = rtnl.PutNeighFailure(out[:], 1, &n)
				count(err)
			case unix.RTM_NEWLINK:
				rtnl.DecodeLink(&m, &l)
			case unix.NLMSG_ERROR:
				rtnl.DecodeError(&m, &e)
			}
		}
		it = rtnl.Messages(bad)
		for it.Next(&m) {
			count(rtnl.DecodeNeigh(&m, &n))
		}
		it = rtnl.Messages(datagram[:20])
		for it.Next(&m) {
		}
		count(it.Err())
		rtnl.PutNeighDump(out[:], 2, unix.AF_INET)
		rtnl.PutLinkDump(out[:], 3)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
	if longLL == 0 || badLength == 0 {
		t.Errorf("reasons not counted: %d ErrLongLLAddr, %d ErrBadLength, %d other", longLL, badLength, other)
	}
}
