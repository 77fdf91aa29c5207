package main

// A lab test of the answer batch against the real kernel (root, network
// namespaces).

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/labtest"
	"arpd/internal/rtnl"
)

// TestLabAnswerBatch checks that answers sent several to a datagram are
// each applied by the kernel: 40 INCOMPLETE entries, answered through
// the answer batch (32 sent when the batch is full, the other 8 by its
// flush), all end up with the cache's MAC, and app_success counts
// them.
func TestLabAnswerBatch(t *testing.T) {
	nl := labtest.NewNeighLab(t)
	// Time to answer 40 before the kernel gives up on the first.
	nl.Sysctl(nl.Near, "net/ipv4/neigh/"+nl.NearIf+"/retrans_time_ms", "2000")
	c, _ := newTestCache(t, 1024)
	req := nl.DialNetlink(0, 1<<20).Conn
	a := &answers{out: req, c: c}
	const n = 40
	dst := func(i int) [4]byte { return [4]byte{10, 77, 0, byte(100 + i)} }
	for i := 0; i < n; i++ {
		nl.SendUDP(dst(i))
	}
	reqs := awaitRequests(nl, n)
	if len(reqs) != n {
		t.Fatalf("the kernel asked about %d of %d addresses", len(reqs), n)
	}
	for i := 0; i < n; i++ {
		r := reqs[dst(i)]
		if err := a.add(&r, labtest.CacheMAC[:], false); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if i == answerBatchMax-1 && a.n != 0 {
			t.Errorf("after %d answers, %d are still queued: a full batch should have been sent", answerBatchMax, a.n)
		}
	}
	if a.n != n-answerBatchMax {
		t.Errorf("%d answers queued before the flush, want %d", a.n, n-answerBatchMax)
	}
	a.flush()
	if got := c.Counter(ctrAppSuccess); got != n {
		t.Errorf("app_success = %d, want %d", got, n)
	}
	cache := labtest.MACString(labtest.CacheMAC)
	for i := 0; i < n; i++ {
		a := fmt.Sprintf("10.77.0.%d", 100+i)
		if show := nl.NeighShow(a); !strings.Contains(show, cache) {
			t.Errorf("%s after the batched answers: %q, want lladdr %s", a, show, cache)
		}
	}
	// Queuing and sending answers allocates nothing.
	r := reqs[dst(0)]
	if allocs := testing.AllocsPerRun(100, func() {
		a.add(&r, labtest.CacheMAC[:], false)
		a.flush()
	}); allocs != 0 {
		t.Errorf("answers.add and flush: %v allocations, want 0", allocs)
	}
}

// awaitRequests collects the kernel's INCOMPLETE requests on nl's socket
// until it has n distinct IPv4 addresses or 5 s have passed, and returns
// the last request for each address.
func awaitRequests(nl *labtest.Netlink, n int) map[[4]byte]rtnl.Neigh {
	reqs := map[[4]byte]rtnl.Neigh{}
	deadline := time.Now().Add(5 * time.Second)
	for len(reqs) < n && time.Now().Before(deadline) {
		m, _ := nl.Await(time.Until(deadline), "RTM_GETNEIGH", func(m *rtnl.Msg) bool { return m.Type == unix.RTM_GETNEIGH })
		var r rtnl.Neigh
		if rtnl.DecodeNeigh(&m.Msg, &r) == nil && r.DstLen == 4 && r.State == unix.NUD_INCOMPLETE {
			reqs[[4]byte(r.Dst[:4])] = r
		}
	}
	return reqs
}
