package main

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
	"arpd/internal/rtnl"
)

// BenchmarkRequest is the daemon's own work for one request of the
// kernel, from the datagram's bytes to the answer in the batch: decode,
// policy, a cache lookup among 58,000 entries, encoding. The batch is
// emptied after each, so no system call is made: what the lab benchmark
// adds on top (waking up, recvmsg, write, and the kernel applying the
// answer) is the kernel's and the scheduler's.
func BenchmarkRequest(b *testing.B) { benchRequest(b, unix.AF_INET) }

// BenchmarkRequest6 is BenchmarkRequest for the kernel's IPv6 requests:
// 16-byte addresses, the same cache.
func BenchmarkRequest6(b *testing.B) { benchRequest(b, unix.AF_INET6) }

// benchAddr is the address of the benchmark's i-th host in family: in
// 10.0.0.0/8, or 2001:db8::/64.
func benchAddr(family uint8, i int) (a [16]byte) {
	if family == unix.AF_INET6 {
		a = [16]byte{0x20, 0x01, 0x0d, 0xb8}
		a[13], a[14], a[15] = byte(i>>16), byte(i>>8), byte(i)
		return a
	}
	return [16]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
}

func benchRequest(b *testing.B, family uint8) {
	c, _ := newTestCache(b, 65536)
	o := &options{active: 3, negTimeout: 60, rate: 1, burst: 3}
	w := &watchedIf{name: "lan0", index: 2, named: true}
	d := &daemon{o: o, c: c, log: newLogger("", nil), start: time.Now(), bucket: newTokenBucket(o.rate, o.burst), newPrefixes: newPrefixBucket(),
		asked: newAskedFilter(testHasher()), holds: newHoldTracker(256, testHasher()),
		ifs:     interfaces{named: []*watchedIf{w}, links: map[int32]*watchedIf{2: w}},
		answers: answers{out: &fakeRequester{quiet: true}, c: c}, ready: true}
	const n = 58000
	for i := 0; i < n; i++ {
		e := cache.Entry{Key: cache.Key{Family: family, Ifindex: 2, Addr: benchAddr(family, i)}, Kind: cache.KindPositive,
			Source: cache.SourceARP, LLLen: 6, LLAddr: [8]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}}
		if _, err := c.Put(&e); err != nil {
			b.Fatal(err)
		}
	}
	// Requests for every 97th entry, so that consecutive lookups land far
	// apart in the file.
	const reqs = 512
	var dgrams [reqs][128]byte
	var lens [reqs]int
	for j := range dgrams {
		i := j * 97 % n
		r := request(2, 0, unix.NUD_INCOMPLETE)
		r.Family, r.Dst = family, benchAddr(family, i)
		if family == unix.AF_INET6 {
			r.DstLen = 16
		}
		var err error
		if lens[j], err = rtnl.PutNeigh(dgrams[j][:], unix.RTM_GETNEIGH, unix.NLM_F_REQUEST, 0, r); err != nil {
			b.Fatal(err)
		}
	}
	before := c.Counter(ctrAppRecv)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % reqs
		d.handleMessages(dgrams[j][:lens[j]])
		d.answers.used, d.answers.n = 0, 0
	}
	b.StopTimer()
	if got := c.Counter(ctrAppRecv) - before; got != uint64(b.N) {
		b.Fatalf("%d requests handled, want %d", got, b.N)
	}
	if c.Counter(ctrProbesSent)+c.Counter(ctrProbesSuppressed)+c.Counter(ctrProbeErrors) != 0 {
		b.Fatal("a request missed the cache")
	}
}
