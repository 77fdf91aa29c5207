// Package lab holds arpd's demo, its lab benchmark, its scan lab and the
// kernel tracing they time requests with, as tests of their own, apart
// from the daemon's package so that its go test does not compile them.
//
// TestDemo is make demo: this arpd as the resolver of a segment of 5,000
// hosts behind the kernel's default table cap, one datagram to every host,
// the table flushed, the same again, and a report. TestBenchLab is make
// bench-lab: this arpd, the kernel alone and iproute2's arpd where it is
// installed, each in a lab of its own through the phases cold, warm (after
// a link flap), one at a time, restart, flushed and, for the daemons, a
// burst with the kernel's default table; one table with their figures,
// memory and ratios, and a picture of their request-to-valid times, at
// each size asked for (20,000 hosts, 200,000); then the kernel alone and
// this arpd over IPv6, cold, warm and flushed. The neigh tracepoints give
// all of them their request-to-valid times. TestDemo shows IPv6 too, with
// fewer hosts.
//
// The IPv4 hosts of the demo and the benchmark are one local route of the
// far side (hostlab_test.go says why), which answers ARP for all of them.
//
// TestScanLab is make scan-lab: a router forwarding a scan of dead
// addresses (10,000 datagrams a second into a /16 for 10 s) with the
// kernel's default table, while 200 live hosts behind it, played by one
// packet socket, are each sent a datagram a second; the kernel alone,
// this arpd and iproute2's arpd side by side, against the targets of
// issue 10. Then the same over IPv6, random addresses of a /64, for the
// kernel alone and this arpd (issue 11).
//
// The IPv6 hosts of the demo and the benchmark are nodad addresses of the
// far interface that share one solicited-node group (hostlab6_test.go
// says why); those of the scan lab are played by its packet socket, which
// answers Neighbor Solicitations as it answers ARP.
//
// They run in full only when make sets their environment variables
// (ARPD_DEMO=1, ARPD_BENCHLAB=1 and ARPD_BENCH_HOSTS, ARPD_SCANLAB=1, with
// ARPD_BIN the binary make built). Without them, as in make test, they
// run as root in small labs (200 hosts each; a /20 scanned at 200
// datagrams a second) and check what the demo, the benchmark and the
// scan lab measure, and skip otherwise; the tests of the reading of the
// monitor's events and of the kernel's trace need no root.
//
// The package has no code outside its tests.
package lab
