package rtnl_test

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"arpd/internal/rtnl"
)

// TestCapturedErrorDone decodes the kernel's error message and frames its
// done message.
func TestCapturedErrorDone(t *testing.T) {
	m := only(t, loadHex(t, "error_enoent"))
	if m.Type != unix.NLMSG_ERROR || m.Flags != unix.NLM_F_CAPPED || m.Seq != 2 || m.Pid != 0x2d59 {
		t.Errorf("error header %+v", m)
	}
	var e rtnl.ErrorMsg
	if err := rtnl.DecodeError(&m, &e); err != nil {
		t.Fatal(err)
	}
	if want := (rtnl.ErrorMsg{Errno: unix.ENOENT, Seq: 2, Type: unix.RTM_NEWNEIGH}); e.Errno != want.Errno || e.Seq != want.Seq || e.Type != want.Type || e.Pid != 0 || e.Msg != nil {
		t.Errorf("error %+v, want %+v", e, want)
	}
	d := only(t, loadHex(t, "done"))
	if d.Type != unix.NLMSG_DONE || d.Flags != unix.NLM_F_MULTI || d.Seq != 3 {
		t.Errorf("done header %+v", d)
	}
	if err := rtnl.DecodeError(&d, &e); err != rtnl.ErrWrongType {
		t.Errorf("DecodeError(done) = %v", err)
	}
}

// extAck builds an NLMSG_ERROR with flags, error -errno, the header of a
// 48-byte RTM_NEWNEIGH request (seq 9, pid 77), and attrs after it.
func extAck(flags uint16, errno unix.Errno, attrs ...[]byte) []byte {
	b := make([]byte, 0, 64)
	b = binary.NativeEndian.AppendUint32(b, 0) // fixed below
	b = binary.NativeEndian.AppendUint16(b, unix.NLMSG_ERROR)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, 9)
	b = binary.NativeEndian.AppendUint32(b, 77)
	code := -int32(errno)
	b = binary.NativeEndian.AppendUint32(b, uint32(code))
	b = binary.NativeEndian.AppendUint32(b, 48) // the request's length
	b = binary.NativeEndian.AppendUint16(b, unix.RTM_NEWNEIGH)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST)
	b = binary.NativeEndian.AppendUint32(b, 9)
	b = binary.NativeEndian.AppendUint32(b, 77)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return fixLen(b)
}

// TestExtAck decodes an error with an extended acknowledgement, as the
// kernel builds it (NLM_F_CAPPED|NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG).
func TestExtAck(t *testing.T) {
	msg := attr(unix.NLMSGERR_ATTR_MSG, []byte("no such entry\x00"), 0)
	b := extAck(unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS, unix.EINVAL, msg)
	if len(b) != hdrLen+errHdrLen+hdrLen+attrHdrLen+align(len("no such entry\x00")) {
		t.Fatalf("built %d bytes", len(b))
	}
	m := only(t, b)
	var e rtnl.ErrorMsg
	if err := rtnl.DecodeError(&m, &e); err != nil {
		t.Fatal(err)
	}
	if e.Errno != unix.EINVAL || e.Seq != 9 || e.Pid != 77 || string(e.Msg) != "no such entry" {
		t.Errorf("ext ack: %+v %q", e, e.Msg)
	}
	// Uncapped: the TLVs come after the whole request, whose length
	// must fit.
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_ACK_TLVS)
	m = only(t, b)
	if err := rtnl.DecodeError(&m, &e); err != rtnl.ErrBadLength {
		t.Errorf("uncapped with a lying request length: %v", err)
	}
	// A broken attribute after a good message rejects the message, and
	// the message is not kept.
	b = extAck(unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS, unix.EINVAL, msg, attr(unix.NLMSGERR_ATTR_OFFS, make([]byte, 4), 200))
	m = only(t, b)
	if err := rtnl.DecodeError(&m, &e); err != rtnl.ErrBadAttr || e.Msg != nil || e.Errno != unix.EINVAL || e.Seq != 9 {
		t.Errorf("broken second attribute: %v %+v", err, e)
	}
	// An acknowledgement, and a payload too short for nlmsgerr.
	m = only(t, extAck(unix.NLM_F_CAPPED, 0))
	if err := rtnl.DecodeError(&m, &e); err != nil || e.Errno != 0 || e.Type != unix.RTM_NEWNEIGH {
		t.Errorf("ack: %v %+v", err, e)
	}
	m = only(t, fixLen(extAck(unix.NLM_F_CAPPED, 0)[:hdrLen+errHdrLen+hdrLen-1]))
	if err := rtnl.DecodeError(&m, &e); err != rtnl.ErrShortPayload {
		t.Errorf("short nlmsgerr: %v", err)
	}
}
