// Package lab holds arpd's demo, its lab benchmark and the kernel tracing
// they time requests with, as tests of their own, apart from the daemon's
// package so that its go test does not compile them.
//
// TestDemo is make demo: this arpd as the resolver of a segment of 5,000
// hosts behind the kernel's default table cap, one datagram to every host,
// the table flushed, the same again, and a report. TestBenchLab is make
// bench-lab: this arpd, then iproute2's arpd where it is installed, each in
// a lab of its own through the phases cold, warm, one at a time, restart
// and flushed, and one table with the ratio of the two. The neigh
// tracepoints give both their request-to-valid times.
//
// Both run in full only when make sets their environment variables
// (ARPD_DEMO=1, ARPD_BENCHLAB=1 and ARPD_BENCH_HOSTS, with ARPD_BIN the
// binary make built). Without them, as in make test, they run as root in
// small labs (200 and 300 hosts) and check what the demo and the benchmark
// show, and skip otherwise; the tests of the reading of the monitor's
// events and of the kernel's trace need no root.
//
// The package has no code outside its tests.
package lab
