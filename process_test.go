package main

import "testing"

// TestNotifyRcvBuf: the notification socket's receive buffer is a
// sixteenth of the machine's memory, between 16 and 256 MiB.
func TestNotifyRcvBuf(t *testing.T) {
	for _, c := range []struct {
		ram  uint64
		want int
	}{
		{64 << 20, 16 << 20},
		{128 << 20, 16 << 20},
		{1 << 30, 64 << 20},
		{4 << 30, 256 << 20},
		{24 << 30, 256 << 20},
		{1 << 62, 256 << 20},
	} {
		if got := notifyRcvBuf(c.ram); got != c.want {
			t.Errorf("notifyRcvBuf(%d MiB) = %d MiB, want %d MiB", c.ram>>20, got>>20, c.want>>20)
		}
	}
}
