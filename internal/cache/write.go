package cache

import (
	"encoding/binary"

	"arpd/internal/fmtlite"
)

// beginWrite prepares the write buffer for a write of slot r and returns
// the buffer's bytes for the slot, for the caller to fill; endWrite then
// writes them with r's tag.
//
// NB: a slot and its tag are written with one pwrite, which also rewrites
// the bytes between them (other tags, earlier slots of the bucket) with
// the values they have: the writer is the only writer, so those bytes
// cannot change meanwhile, and a torn write leaves them as they were.
func (f *File) beginWrite(r slotRef) []byte {
	base, lo, off := r.bucket(), r.tagOff(), r.off()
	copy(f.wbuf[lo-base:off-base], f.mem[lo:off])
	return f.wbuf[off-base : off-base+slotSize]
}

// endWrite sets r's tag in the write buffer and writes r's tag and slot.
func (f *File) endWrite(r slotRef, tag uint16) error {
	base, lo, end := r.bucket(), r.tagOff(), r.off()+slotSize
	binary.LittleEndian.PutUint16(f.wbuf[lo-base:], tag)
	i := f.slotIndex(r)
	f.verified[i/64] &^= 1 << (i % 64)
	f.writes++
	if err := pwriteFull(f.fd, f.wbuf[lo-base:end-base], lo); err != nil {
		f.count(CounterWriteErrors)
		return fmtlite.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// writeEntry writes e, whose prefix index is pi, with tag t into slot r.
func (f *File) writeEntry(r slotRef, t uint16, e *Entry, pi uint8) error {
	encodeSlot(f.beginWrite(r), t, e, pi)
	return f.endWrite(r, t)
}

// clearSlot zeroes slot r and its tag.
func (f *File) clearSlot(r slotRef) error {
	clear(f.beginWrite(r))
	return f.endWrite(r, 0)
}

// moveSlot copies slot src, with its tag, to slot dst.
func (f *File) moveSlot(dst, src slotRef) error {
	copy(f.beginWrite(dst), f.slotBytes(src))
	if err := f.endWrite(dst, f.tagAt(src)); err != nil {
		return err
	}
	f.count(CounterMoves)
	return nil
}
