package cache

import (
	"math/rand/v2"
	"testing"
)

// TestTagLanes checks the word-at-a-time tag comparison against a plain
// loop, for random tag words and for words full of edge values.
func TestTagLanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	edge := []uint16{0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff}
	pick := func() uint16 {
		if rng.IntN(2) == 0 {
			return edge[rng.IntN(len(edge))]
		}
		return uint16(rng.Uint32())
	}
	for n := 0; n < 200000; n++ {
		var tags [slotWays]uint16
		for i := range tags {
			tags[i] = pick()
		}
		want := pick()
		if rng.IntN(3) == 0 {
			want = tags[rng.IntN(slotWays)]
		}
		var lo, hi uint64
		for i, tg := range tags {
			if i < 4 {
				lo |= uint64(tg) << (16 * i)
			} else {
				hi |= uint64(tg) << (16 * (i - 4))
			}
		}
		m := lanes(lo, hi, want)
		// The merged mask of candidates: b1's lanes odd, b2's (the same
		// tags) even.
		merged := m | m>>1
		var got, got2 [slotWays]int
		for x := m; x != 0; x &= x - 1 {
			got[firstLane(x)]++
		}
		for x := merged; x != 0; x &= x - 1 {
			got2[firstLane(x)]++
		}
		// And slotIn takes each bit to its bucket: b1 for odd bits.
		const b1, b2 = headerSize + bucketSize, headerSize
		var inB1, inB2 [slotWays]int
		for x := merged; x != 0; x &= x - 1 {
			switch r := slotIn(x, b1, b2); r.bucket() {
			case b1:
				inB1[r.way()]++
			case b2:
				inB2[r.way()]++
			default:
				t.Fatalf("slot %#x in neither bucket", r)
			}
		}
		for i, tg := range tags {
			w := 0
			if tg == want {
				w = 1
			}
			if got[i] != w || got2[i] != 2*w {
				t.Fatalf("tags %04x, want %04x: slot %d matched %d/%d times, want %d", tags, want, i, got[i], got2[i], w)
			}
			if inB1[i] != w || inB2[i] != w {
				t.Fatalf("tags %04x, want %04x: slot %d taken %d times in b1 and %d in b2, want %d", tags, want, i, inB1[i], inB2[i], w)
			}
		}
	}
}
