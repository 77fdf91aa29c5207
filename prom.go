package main

// The statistics of -m in Prometheus's text exposition format (version
// 0.0.4), the format node_exporter's textfile collector reads, written by
// hand for the binary's size. Every sample carries the label db, the
// database's path, so that the files of several daemons can sit side by
// side in one collector directory.

import (
	"strings"

	"arpd/internal/cache"
)

// metricPrefix starts every metric's name.
const metricPrefix = "arpd_"

// The counters grouped into one metric each with a label reason: the
// per-reason drop counters of each family, by their prefix in
// counterNames.
const (
	arpDropPrefix = "drop_"
	ndDropPrefix  = "nd_drop_"
)

// dropHelp is the HELP line of the grouped drop counters of each family.
var dropHelp = [...]struct{ prefix, metric, help string }{
	{arpDropPrefix, "arp_drops", "ARP frames dropped by the decoder, by reason."},
	{ndDropPrefix, "nd_drops", "Neighbour-discovery messages dropped by the decoder, by reason."},
}

// appendMetrics appends -m's exposition to dst: gauges arpd_up (1 while
// the daemon that owns the file runs), arpd_start_time_seconds (while it
// runs), arpd_capacity_entries and arpd_entries; each counter of -s as
// arpd_NAME_total, except the per-reason drop counters, which are
// arpd_arp_drops_total and arpd_nd_drops_total with a label reason.
func appendMetrics(dst []byte, db string, c *cache.File, owner dbOwner) []byte {
	lb := outBuf(`db="`)
	lb.esc(db, escPromLabel)
	lb.raw(`"`)
	labels := string(lb)
	b := outBuf(dst)
	up := uint64(0)
	if owner.state == ownerRunning {
		up = 1
	}
	b.family("up", "gauge", "Whether the daemon that owns the database is running.")
	b.sample("up", labels, "", up)
	if up == 1 {
		b.family("start_time_seconds", "gauge", "When the running daemon opened the database, in Unix seconds.")
		b.sample("start_time_seconds", labels, "", uint64(owner.started))
	}
	b.family("capacity_entries", "gauge", "The database's capacity in entries.")
	b.sample("capacity_entries", labels, "", uint64(c.Capacity()))
	b.family("entries", "gauge", "Entries in the database.")
	b.sample("entries", labels, "", c.Entries())
	group := -1
	for i, name := range counterNames {
		g, reason := dropGroup(name)
		metric, help := name+"_total", "The counter "+name+" of arpd -s; see arpd(8)."
		if g >= 0 {
			metric, help = dropHelp[g].metric+"_total", dropHelp[g].help
		}
		if g < 0 || g != group {
			b.family(metric, "counter", help)
		}
		group = g
		b.sample(metric, labels, reason, c.Counter(i))
	}
	return b
}

// dropGroup returns which of dropHelp a counter's name belongs to, and
// its reason label; -1 for a counter of its own.
func dropGroup(name string) (int, string) {
	for g, d := range dropHelp {
		if strings.HasPrefix(name, d.prefix) {
			return g, name[len(d.prefix):]
		}
	}
	return -1, ""
}

// family appends the HELP and TYPE lines of metric arpd_NAME.
//
//go:noinline
func (b *outBuf) family(name, typ, help string) {
	b.raw("# HELP " + metricPrefix)
	b.raw(name)
	b.raw(" ")
	b.esc(help, escPromHelp)
	b.raw("\n# TYPE " + metricPrefix)
	b.raw(name)
	b.raw(" ")
	b.raw(typ)
	b.raw("\n")
}

// sample appends one sample of metric arpd_NAME with the labels (already
// formatted, without braces) and, when reason is not "", the label
// reason (a counter name's end: nothing to escape).
//
//go:noinline
func (b *outBuf) sample(name, labels, reason string, v uint64) {
	b.raw(metricPrefix)
	b.raw(name)
	b.raw("{")
	b.raw(labels)
	if reason != "" {
		b.raw(`,reason="`)
		b.raw(reason)
		b.raw(`"`)
	}
	b.raw("} ")
	b.uint(v)
	b.raw("\n")
}
