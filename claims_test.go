package main

import (
	"testing"
	"time"

	"arpd/internal/cache"
)

// claimKey is the key of the test address i.
func claimKey(i int) cache.Key { return cache.KeyV4(2, [4]byte{10, 0, byte(i >> 8), byte(i)}) }

// TestClaimsMoves: the oldest move gives way when the table overflows; a
// second move of one address takes its own place; a move is forgotten
// after moveMemory.
func TestClaimsMoves(t *testing.T) {
	var c claims
	key := claimKey
	for i := 0; i < movesMax+1; i++ {
		k := key(i)
		c.remember(&k, [6]byte{2, 0, 0, 0, 0, byte(i)}, time.Duration(i)*time.Second)
	}
	now := time.Duration(movesMax+1) * time.Second
	if k := key(0); func() bool { _, ok := c.previous(&k, now); return ok }() {
		t.Error("the oldest move was kept past the table's size")
	}
	for i := 1; i <= movesMax; i++ {
		k := key(i)
		if prev, ok := c.previous(&k, now); !ok || prev[5] != byte(i) {
			t.Errorf("move %d: %x %v", i, prev, ok)
		}
	}
	// The same address again takes its own slot, not another's.
	k1 := key(1)
	c.remember(&k1, [6]byte{2, 0, 0, 0, 0, 0xee}, now)
	if k2 := key(2); func() bool { _, ok := c.previous(&k2, now); return !ok }() {
		t.Error("a second move of one address pushed another out")
	}
	if prev, _ := c.previous(&k1, now+moveMemory-time.Second); prev[5] != 0xee {
		t.Errorf("the second move of 1: %x", prev)
	}
	if _, ok := c.previous(&k1, now+moveMemory); ok {
		t.Error("a move remembered past moveMemory")
	}
}

// TestClaimsRefusalLines: once a minute per address; a new address evicts
// the one logged longest ago, which then logs again at once.
func TestClaimsRefusalLines(t *testing.T) {
	var c claims
	key := claimKey
	for i := 0; i < conflictLogsMax; i++ {
		k := key(i)
		if _, due := c.noteRefusal(&k, time.Duration(i)*time.Millisecond); !due {
			t.Fatalf("address %d: first refusal not logged", i)
		}
	}
	if k := key(3); func() bool { _, due := c.noteRefusal(&k, time.Second); return due }() {
		t.Error("logged twice within the minute")
	}
	kn := key(1000)
	if _, due := c.noteRefusal(&kn, 2*time.Second); !due {
		t.Error("a new address was not logged")
	}
	if k := key(0); func() bool { _, due := c.noteRefusal(&k, 3*time.Second); return !due }() {
		t.Error("the address logged longest ago kept its slot")
	}
	k3 := key(3)
	if n, due := c.noteRefusal(&k3, time.Minute+3*time.Millisecond); !due || n != 2 {
		t.Errorf("a minute on: n %d due %v, want 2 true", n, due)
	}
}

// TestClaimsPending: a full pending table refuses; next and remove.
func TestClaimsPending(t *testing.T) {
	var c claims
	key := claimKey
	for i := 0; i < claimsMax; i++ {
		k := key(i)
		if c.add(&k, [6]byte{}, [6]byte{1}, fromWire, time.Duration(i)) == nil {
			t.Fatalf("claim %d refused", i)
		}
	}
	if k := key(claimsMax); c.add(&k, [6]byte{}, [6]byte{1}, fromWire, 0) != nil {
		t.Error("a full table took a claim")
	}
	if due, ok := c.next(); !ok || due != 0 {
		t.Errorf("next %v %v", due, ok)
	}
	k5 := key(5)
	c.remove(c.find(&k5))
	if c.find(&k5) != nil || c.n != claimsMax-1 {
		t.Error("remove left the claim")
	}
}
