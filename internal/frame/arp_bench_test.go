package frame_test

import (
	"testing"

	"arpd/internal/frame"
)

// Benchmark sinks: results go to package variables so that the compiler
// cannot drop the work being measured.
var (
	benchFrame frame.ARP
	benchProbe [frame.ARPLen]byte
	benchDrop  frame.Drop
)

// BenchmarkDecodeARP decodes one captured reply.
func BenchmarkDecodeARP(b *testing.B) {
	c := readCapture(b, "reply.hex")
	b.ReportAllocs()
	b.SetBytes(int64(len(c.Data)))
	for i := 0; i < b.N; i++ {
		benchDrop |= frame.DecodeARP(&benchFrame, c.Data, &c.LL)
	}
	if benchDrop != frame.DropNone {
		b.Fatal("dropped")
	}
}

// BenchmarkBuildARPProbe builds one probe into a fixed buffer, a different
// target each time.
func BenchmarkBuildARPProbe(b *testing.B) {
	target := testFarIP
	b.ReportAllocs()
	b.SetBytes(frame.ARPLen)
	for i := 0; i < b.N; i++ {
		target[3] = byte(i)
		frame.BuildARPProbe(&benchProbe, testNearMAC, testNearIP, target)
	}
}
