package cache

import "encoding/binary"

// maxKicks bounds the displacement path of one insert: the number of
// entries moved to make room for it.
const maxKicks = 16

// fullTable is the load, in percent, from which Put stops looking for
// displacement paths and evicts at once.
const fullTable = 97

// makeRoom frees a slot in buckets b1 and b2, both full, for a new entry
// updated at updated, and returns it, or noSlot if the new entry is older
// than all sixteen and is to be dropped. It reuses a damaged slot, else an
// expired negative entry's, else moves entries to their other buckets,
// else evicts the least recently updated entry.
func (f *File) makeRoom(b1, b2 int64, updated, now uint32) (slotRef, error) {
	bad, expired, oldest := noSlot, noSlot, noSlot
	var oldestTime uint32
	for _, base := range [2]int64{b1, b2} {
		for i := 0; i < slotWays; i++ {
			r := ref(base, i)
			s := f.slotBytes(r)
			switch f.checked(r, f.tagAt(r), s) {
			case slotBad:
				if bad == noSlot {
					bad = r
				}
			case slotValid:
				kind, upd := Kind(s[1]&3), binary.LittleEndian.Uint32(s[24:])
				if expired == noSlot && f.expiredAt(kind, upd, now) {
					expired = r
				}
				if oldest == noSlot || upd < oldestTime {
					oldest, oldestTime = r, upd
				}
			}
		}
	}
	switch {
	case bad != noSlot:
		f.count(CounterCorruptSlots)
		return bad, nil
	case expired != noSlot:
		f.count(CounterEvictions)
		f.count(CounterEvictedNegatives)
		f.state.entries--
		return expired, nil
	}
	// Past fullTable the walk almost never finds room: evict at once.
	if f.state.entries < uint64(f.Capacity())*fullTable/100 {
		r, err := f.displace(b1, b2)
		if err != nil || r != noSlot {
			return r, err
		}
	}
	f.count(CounterEvictions)
	if oldestTime > updated {
		return noSlot, nil
	}
	f.state.entries--
	return oldest, nil
}

// otherBucket returns the bucket of the entry in slot r other than r's
// own.
func (f *File) otherBucket(r slotRef) int64 {
	b1, b2, _ := f.locate(f.slotKey(f.slotBytes(r)))
	if b1 == r.bucket() {
		return b2
	}
	return b1
}

// displace frees a slot in bucket b1 or b2, both full of valid entries,
// by moving entries to their other buckets, and returns it, or noSlot if
// no path of at most maxKicks moves was found.
//
// It first looks for an entry of the two buckets whose other bucket has
// room, which costs one move; only when there is none does it walk a
// random path (see kick).
func (f *File) displace(b1, b2 int64) (slotRef, error) {
	// One move: the usual case below fullTable.
	start := int(f.rand() % (2 * slotWays))
	for j := 0; j < 2*slotWays; j++ {
		i := (start + j) % (2 * slotWays)
		base := b1
		if i >= slotWays {
			base = b2
		}
		r := ref(base, i%slotWays)
		alt := f.otherBucket(r)
		if free := f.match(alt, 0); free != 0 {
			return r, f.moveSlot(ref(alt, firstLane(free)), r)
		}
	}
	bucket := b1
	if f.rand()&1 == 1 {
		bucket = b2
	}
	return f.kick(bucket)
}

// kick frees a slot of bucket, full of valid entries, by a random walk of
// at most maxKicks moves, and returns it, or noSlot if it found none.
//
// The path is planned first and then written from its far end: each entry
// is copied to its new slot before its old slot is overwritten, so a crash
// in the middle leaves a duplicate (which Put and recovery remove) but
// never loses an entry.
func (f *File) kick(bucket int64) (slotRef, error) {
	var path [maxKicks]slotRef // slots whose entries move, in order
	for n := 0; n < maxKicks; n++ {
		// Pick a slot of this bucket that is not already on the path.
		r := noSlot
		k := int(f.rand() % slotWays)
		for i := 0; i < slotWays; i++ {
			if cand := ref(bucket, (k+i)%slotWays); !onPath(path[:n], cand) {
				r = cand
				break
			}
		}
		if r == noSlot {
			return noSlot, nil
		}
		if f.status(r) != slotValid {
			return noSlot, nil // only reached when the file changed under us
		}
		alt := f.otherBucket(r)
		path[n] = r
		free := f.match(alt, 0)
		if free == 0 {
			bucket = alt
			continue
		}
		// Found room: move the path's entries, far end first.
		dst := ref(alt, firstLane(free))
		for i := n; i >= 0; i-- {
			if err := f.moveSlot(dst, path[i]); err != nil {
				return noSlot, err
			}
			dst = path[i]
		}
		return path[0], nil
	}
	return noSlot, nil
}

// onPath reports whether r is one of path's slots.
func onPath(path []slotRef, r slotRef) bool {
	for _, p := range path {
		if p == r {
			return true
		}
	}
	return false
}

// rand returns a pseudo-random number for choosing displacement victims
// (xorshift64; the state is seeded from the file's key).
func (f *File) rand() uint64 {
	if f.rng == 0 {
		f.rng = f.k0 | 1
	}
	f.rng ^= f.rng << 13
	f.rng ^= f.rng >> 7
	f.rng ^= f.rng << 17
	return f.rng
}
