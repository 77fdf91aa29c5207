package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTokenBucketBound offers probes at random times and checks, over
// every window between two sends, that no more than B + R·T went out.
// With -short (make test-cross, where soft float is emulated by qemu and
// the full run takes many minutes) it offers a tenth as many probes.
func TestTokenBucketBound(t *testing.T) {
	offers := 20000
	if testing.Short() {
		offers = 2000
	}
	for _, tc := range []struct {
		rate  float64
		burst int
	}{{1, 3}, {5, 3}, {0.5, 1}, {1000, 100}, {3, 50}} {
		rng := rand.New(rand.NewPCG(uint64(tc.burst), uint64(tc.rate*10)))
		b := newTokenBucket(tc.rate, tc.burst)
		var sent []time.Duration
		now := time.Duration(0)
		for i := 0; i < offers; i++ {
			// Bursts of back-to-back requests and quiet gaps.
			if rng.IntN(10) == 0 {
				now += time.Duration(rng.Int64N(int64(3 * time.Second)))
			} else {
				now += time.Duration(rng.Int64N(int64(time.Millisecond)))
			}
			if b.allow(now) {
				sent = append(sent, now)
			}
		}
		if len(sent) < tc.burst {
			t.Fatalf("rate %v burst %d: only %d sent", tc.rate, tc.burst, len(sent))
		}
		// The worst window starts and ends at a send.
		for i := range sent {
			for j := i; j < len(sent) && j < i+5000; j++ {
				window := (sent[j] - sent[i]).Seconds()
				if n := j - i + 1; float64(n) > float64(tc.burst)+tc.rate*window+1e-9 {
					t.Fatalf("rate %v burst %d: %d probes in %.6fs, bound %.3f", tc.rate, tc.burst, n, window, float64(tc.burst)+tc.rate*window)
				}
			}
		}
	}
}

// TestTokenBucketRefill checks the bucket is not stingier than promised: a
// full burst at once, then one token per 1/R seconds, and refused
// requests do not delay refills (nor credit time twice).
func TestTokenBucketRefill(t *testing.T) {
	b := newTokenBucket(5, 3)
	for i := 0; i < 3; i++ {
		if !b.allow(0) {
			t.Fatalf("burst probe %d refused", i)
		}
	}
	if b.allow(0) {
		t.Fatal("a fourth probe at once was allowed")
	}
	// Refused requests every 10 ms must not add credit beyond elapsed time.
	for ms := 10; ms < 200; ms += 10 {
		if b.allow(time.Duration(ms) * time.Millisecond) {
			t.Fatalf("probe allowed at %d ms; the first token is due at 200 ms", ms)
		}
	}
	if !b.allow(200 * time.Millisecond) {
		t.Fatal("no token after 1/R seconds")
	}
	if b.allow(210 * time.Millisecond) {
		t.Fatal("a token appeared 10 ms after one was spent")
	}
	// A long pause refills to the burst, no more.
	n := 0
	for b.allow(time.Hour) {
		n++
	}
	if n != 3 {
		t.Fatalf("after an hour %d probes at once, want the burst of 3", n)
	}
}
