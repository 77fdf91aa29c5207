package cache

import (
	"math/bits"
	"runtime"

	"arpd/internal/fmtlite"
)

// refreshGrace is how old, in seconds, a positive entry's Updated time
// must be before seeing the same binding again rewrites the slot.
//
// NB: the kernel's notice of every answer, and every ARP frame a host
// sends, confirm a binding the cache already holds. Rewriting the slot
// each time would cost a pwrite per answer and dirty a page that the next
// sync writes out (flash wear, where the file is not on tmpfs); a minute's
// precision is plenty for choosing what to evict.
const refreshGrace = 60

// locate returns the file offsets of the two buckets where the key with
// words (w0, w1, w2) may live, and its tag.
//
// One SipHash gives all three: the high half of h·n picks the first
// bucket, and the low half, scaled by n again, the second (uniform in
// [0, n) without a division); the tag is h's low 16 bits. A key that draws
// the same bucket twice takes the next one as its second, so every key has
// two distinct buckets when n > 1.
func (f *File) locate(w0, w1, w2 uint64) (b1, b2 int64, tag uint16) {
	var h uint64
	if uint8(w0) == FamilyIPv4 {
		h = sipHash24x12(f.k0, f.k1, w0, uint32(w1))
	} else {
		h = sipHash24x3(f.k0, f.k1, w0, w1, w2)
	}
	x, lo := bits.Mul64(h, f.buckets)
	y, _ := bits.Mul64(lo, f.buckets)
	if y == x {
		y = (x + 1) % f.buckets
	}
	return headerSize + int64(x)*bucketSize, headerSize + int64(y)*bucketSize, tagOf(h)
}

// candidates returns the mask of the slots of buckets b1 and b2 whose tag
// is tag: for a key's buckets and tag, the only slots that can hold the
// key. Every walk over a key's slots goes through it:
//
//	for m := f.candidates(b1, b2, tag); m != 0; m &= m - 1 {
//		r := slotIn(m, b1, b2)
//		...
//	}
//
// NB: written for the CPU's out-of-order engine. Both buckets' tags are
// loaded before either is compared, so their two cache (and TLB) misses
// overlap; and the lanes of both buckets go into one mask (b1's the odd
// bits, b2's the even ones), from which slotIn computes the slot without
// a branch on which bucket matched. That branch would be a coin toss, and
// each misprediction throws away the work the CPU has begun on the next
// lookups.
func (f *File) candidates(b1, b2 int64, tag uint16) uint64 {
	l1, h1 := f.tags(b1)
	l2, h2 := f.tags(b2)
	return lanes(l1, h1, tag) | lanes(l2, h2, tag)>>1
}

// slotIn returns the slot of the lowest bit set in m, a mask from
// candidates(b1, b2, ...) with its lower bits cleared.
func slotIn(m uint64, b1, b2 int64) slotRef {
	base := b2 + int64(bits.TrailingZeros64(m)&1)*(b1-b2)
	return ref(base, firstLane(m))
}

// readSlot copies slot r into buf, checks it and returns its tag and
// status. A read-only File races with the writer, so a slot that fails
// its check is read again a few times before it counts as damaged; the
// writer itself never sees a torn slot of its own.
func (f *File) readSlot(r slotRef, buf *[slotSize]byte) (tag uint16, st int) {
	st = slotBad
	for try := 0; try < 8; try++ {
		tag = f.tagAt(r)
		copy(buf[:], f.slotBytes(r))
		if st = f.fullStatus(tag, buf[:]); st != slotBad || !f.readOnly {
			return tag, st
		}
		runtime.Gosched()
	}
	return tag, st
}

// Lookup returns the entry for k, whatever its kind and age, and whether
// there is one. It allocates nothing.
func (f *File) Lookup(k *Key) (e Entry, ok bool) {
	pi, ok := f.prefixOf(k)
	if !ok {
		return e, false
	}
	w0, w1, w2 := k.words()
	c0, c1 := slotWords(w0, w1, w2, pi)
	b1, b2, tag := f.locate(w0, w1, w2)
	for m := f.candidates(b1, b2, tag); m != 0; m &= m - 1 {
		if f.serve(slotIn(m, b1, b2), tag, c0, c1, &e) {
			return e, true
		}
	}
	return e, false
}

// serve decodes slot r, whose tag is tag, into e if it holds the key with
// slot words (c0, c1) and passes its check.
func (f *File) serve(r slotRef, tag uint16, c0, c1 uint64, e *Entry) bool {
	s := f.slotBytes(r)
	if !keyMatches(s, c0, c1) {
		return false
	}
	if !f.readOnly {
		// The writer's own slots cannot change under it: check and decode
		// them in place, and check each only once between writes.
		if f.checked(r, tag, s) != slotValid {
			return false
		}
		f.decodeSlot(s, e)
		return true
	}
	buf := &f.rslot
	if t, st := f.readSlot(r, buf); st != slotValid || t != tag || !keyMatches(buf[:], c0, c1) {
		return false
	}
	f.decodeSlot(buf[:], e)
	return true
}

// Expired reports whether e is a negative entry older than the negative
// lifetime. A clock that went backwards does not expire anything.
func (f *File) Expired(e *Entry) bool { return f.expiredAt(e.Kind, e.Updated, f.now()) }

// expiredAt reports whether an entry of kind k last updated at updated
// has expired at time now.
func (f *File) expiredAt(k Kind, updated, now uint32) bool {
	return k == KindNegative && int64(now)-int64(updated) >= int64(f.negTTL)
}

// Put stores e, replacing any entry with the same key. A zero Updated is
// set to the current time; a negative entry's link-layer address and a
// positive one's probe count are cleared.
//
// A new key goes to a free slot of the emptier of its two buckets. When
// both are full, a damaged slot or an expired negative entry is reused;
// else entries are moved to their other buckets (cuckoo displacement, at
// most 16 moves) to free a slot; else the least recently updated of
// the sixteen entries is evicted, or e itself is dropped if it is older than
// all of them. It allocates nothing, and a new key with room in its
// buckets, or a changed entry, costs exactly one pwrite.
func (f *File) Put(e *Entry) (PutResult, error) {
	if f.readOnly {
		return 0, ErrReadOnly
	}
	if e.LLLen > 8 || e.Kind != KindPositive && e.Kind != KindNegative || e.Family != FamilyIPv4 && e.Family != FamilyIPv6 {
		return 0, fmtlite.Errorf("put: invalid entry (family %d, kind %d, lladdr length %d)", e.Family, uint8(e.Kind), e.LLLen)
	}
	now := f.now()
	if e.Updated == 0 {
		e.Updated = now
	}
	if e.Kind == KindNegative {
		e.LLLen, e.LLAddr = 0, [8]byte{}
	} else {
		e.Probes = 0
	}
	if e.Family == FamilyIPv4 {
		clear(e.Addr[4:])
	}
	w0, w1, w2 := e.Key.words()
	var pi uint8
	if e.Family == FamilyIPv6 {
		var err error
		if pi, err = f.prefixFor(w1); err != nil {
			return 0, err
		}
	}
	c0, c1 := slotWords(w0, w1, w2, pi)
	b1, b2, tag := f.locate(w0, w1, w2)
	match, dropped, err := f.stored(b1, b2, tag, c0, c1)
	if err != nil {
		return 0, err
	}
	if match != noSlot {
		return f.update(match, tag, e, pi)
	}
	if dropped && f.state.entries > 0 {
		f.state.entries-- // the key's only copies were damaged
	}
	return f.insert(b1, b2, tag, e, pi, now)
}

// stored returns the slot of buckets b1 and b2 holding the valid stored
// copy of the key with tag tag and slot words (c0, c1), or noSlot. Any
// other copy, a duplicate left by an interrupted move or a damaged one, is
// cleared; dropped says whether there was one.
func (f *File) stored(b1, b2 int64, tag uint16, c0, c1 uint64) (match slotRef, dropped bool, err error) {
	match = noSlot
	for m := f.candidates(b1, b2, tag); m != 0; m &= m - 1 {
		r := slotIn(m, b1, b2)
		s := f.slotBytes(r)
		if !keyMatches(s, c0, c1) {
			continue
		}
		st := f.checked(r, tag, s)
		if match == noSlot && st == slotValid {
			match = r
			continue
		}
		if err := f.clearSlot(r); err != nil {
			return noSlot, dropped, err
		}
		if st == slotBad {
			f.count(CounterCorruptSlots)
		}
		dropped = true
	}
	return match, dropped, nil
}

// update stores e, whose tag is tag and prefix index pi, over the entry
// for its key in slot r, unless e only confirms it (see refreshGrace).
func (f *File) update(r slotRef, tag uint16, e *Entry, pi uint8) (PutResult, error) {
	var old Entry
	f.decodeSlot(f.slotBytes(r), &old)
	sameBinding := old.Kind == e.Kind && old.LLLen == e.LLLen && old.LLAddr == e.LLAddr
	if old == *e || sameBinding && e.Kind == KindPositive &&
		old.Router == e.Router && e.Updated >= old.Updated && e.Updated-old.Updated < refreshGrace {
		return PutUnchanged, nil
	}
	if err := f.writeEntry(r, tag, e, pi); err != nil {
		return 0, err
	}
	f.count(CounterUpdates)
	if !sameBinding {
		return PutChanged, nil
	}
	return PutRefreshed, nil
}

// insert stores e, a new key with tag tag and prefix index pi, in a free
// slot of the emptier of its buckets b1 and b2, or in one makeRoom frees.
func (f *File) insert(b1, b2 int64, tag uint16, e *Entry, pi uint8, now uint32) (PutResult, error) {
	target := noSlot
	f1, f2 := f.match(b1, 0), f.match(b2, 0)
	switch {
	case f1 != 0 && bits.OnesCount64(f1) >= bits.OnesCount64(f2):
		target = ref(b1, firstLane(f1))
	case f2 != 0:
		target = ref(b2, firstLane(f2))
	}
	if target != noSlot {
		if !isZeroSlot(f.slotBytes(target)) {
			f.count(CounterCorruptSlots) // a slot that lost its tag
		}
	} else {
		var err error
		if target, err = f.makeRoom(b1, b2, e.Updated, now); err != nil {
			return 0, err
		}
		if target == noSlot {
			return PutDropped, nil
		}
	}
	if err := f.writeEntry(target, tag, e, pi); err != nil {
		return 0, err
	}
	f.state.entries++
	f.count(CounterInserts)
	return PutNew, nil
}

// Delete removes the entry for k and reports whether there was one.
func (f *File) Delete(k *Key) (bool, error) {
	if f.readOnly {
		return false, ErrReadOnly
	}
	pi, ok := f.prefixOf(k)
	if !ok {
		return false, nil
	}
	w0, w1, w2 := k.words()
	c0, c1 := slotWords(w0, w1, w2, pi)
	b1, b2, tag := f.locate(w0, w1, w2)
	found := false
	for m := f.candidates(b1, b2, tag); m != 0; m &= m - 1 {
		r := slotIn(m, b1, b2)
		if !keyMatches(f.slotBytes(r), c0, c1) {
			continue
		}
		if err := f.clearSlot(r); err != nil {
			return found, err
		}
		if !found && f.state.entries > 0 {
			f.state.entries--
		}
		found = true
	}
	if found {
		f.count(CounterDeletes)
	}
	return found, nil
}

// Range calls fn for every valid entry, in file order, until fn returns
// false. It returns the number of damaged slots it skipped. On a
// read-only File it may run while the writer writes: every entry it
// yields passed its check.
func (f *File) Range(fn func(e *Entry) bool) (damaged int) {
	buf := &f.rslot
	var e Entry
	for base := int64(headerSize); base+bucketSize <= int64(len(f.mem)); base += bucketSize {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			// Fast path: empty slots need no copy.
			if f.tagAt(r) == 0 && isZeroSlot(f.slotBytes(r)) {
				continue
			}
			switch _, st := f.readSlot(r, buf); st {
			case slotValid:
				f.decodeSlot(buf[:], &e)
				if !fn(&e) {
					return damaged
				}
			case slotBad:
				damaged++
			}
		}
	}
	return damaged
}
