package main

// The statistics that -s prints from the cache file, as text or, with -j,
// as JSON (-m prints them for Prometheus: prom.go).

import (
	"bufio"
	"io"

	"golang.org/x/sys/unix"

	"arpd/internal/cache"
)

// ownerState says what the file says of the process that writes it.
type ownerState uint8

// The owner states, as -s -j names them (ownerWords).
const (
	ownerNone    ownerState = iota // closed cleanly: no writer
	ownerRunning                   // open, and its pid is alive
	ownerDead                      // open, but its pid is gone: it did not close the file
)

// ownerWords name the owner states in -s -j, by value.
var ownerWords = [...]string{"none", "running", "dead"}

// dbOwner is the writer of a cache file as its state page records it.
type dbOwner struct {
	state ownerState
	// pid is the writer's process id; 0 for ownerNone.
	pid uint32
	// started is when the writer opened the file, Unix seconds; valid for
	// ownerRunning only.
	started int64
}

// ownerOf reads c's owner, asking the kernel whether its pid is alive
// (signal 0), without signalling it.
func ownerOf(c *cache.File) dbOwner {
	pid, started, open := c.Owner()
	switch {
	case open && pid != 0 && unix.Kill(int(pid), 0) == nil:
		return dbOwner{ownerRunning, pid, started.Unix()}
	case open:
		return dbOwner{ownerDead, pid, 0}
	}
	return dbOwner{}
}

// printStats prints the statistics that the daemon owning the database
// saved in it, without signalling the daemon: as text, as JSON with -j,
// and in Prometheus's text format with -m.
func printStats(o *options, stdout io.Writer) error {
	c, err := cache.OpenReadOnly(o.db)
	if err != nil {
		return err
	}
	defer c.Close()
	w := bufio.NewWriter(stdout)
	owner := ownerOf(c)
	switch {
	case o.metrics:
		w.Write(appendMetrics(nil, o.db, c, owner))
	case o.json:
		w.Write(appendStatsJSON(nil, o.db, c, owner))
	default:
		writeStatsText(w, o.db, c, owner)
	}
	return w.Flush()
}

// writeStatsText writes -s's text: the database, its owner, capacity,
// entries, then each counter as "name value".
func writeStatsText(w io.Writer, db string, c *cache.File, owner dbOwner) {
	var b outBuf
	b.raw("database ")
	b.raw(db)
	switch owner.state {
	case ownerRunning:
		b.raw("\nowner pid ")
		b.uint(uint64(owner.pid))
		b.raw(", running since ")
		b.raw(utcString(owner.started))
	case ownerDead:
		b.raw("\nowner pid ")
		b.uint(uint64(owner.pid))
		b.raw(", not running: it did not close the database cleanly")
	default:
		b.raw("\nowner none: closed cleanly")
	}
	b.raw("\ncapacity ")
	b.uint(uint64(c.Capacity()))
	b.raw("\nentries ")
	b.uint(c.Entries())
	for i, name := range counterNames {
		b.raw("\n")
		b.raw(name)
		b.raw(" ")
		b.uint(c.Counter(i))
	}
	b.raw("\n")
	w.Write(b)
}

// appendStatsJSON appends -s -j's document to dst: one object with the
// members database (the path), owner ("running", "dead" or "none"), pid
// (null for none), running_since (RFC 3339 in UTC; null unless running),
// capacity, entries and counters, an object with every counter by the
// name -s prints, in the order -s prints them.
func appendStatsJSON(dst []byte, db string, c *cache.File, owner dbOwner) []byte {
	b := outBuf(append(dst, '{'))
	b.str("database", db)
	b.str("owner", ownerWords[owner.state])
	if owner.state == ownerNone {
		b.lit("pid", "null")
	} else {
		b.num("pid", uint64(owner.pid))
	}
	if owner.state == ownerRunning {
		b.str("running_since", utcString(owner.started))
	} else {
		b.lit("running_since", "null")
	}
	b.num("capacity", uint64(c.Capacity()))
	b.num("entries", c.Entries())
	b.lit("counters", "{")
	for i, name := range counterNames {
		b.num(name, c.Counter(i))
	}
	return append(b, "}}\n"...)
}

// utcString formats Unix time sec as RFC 3339 in UTC
// ("2026-12-04T18:00:00Z") without time's formatting (smallfile.go says
// why).
//
// NB: one 64-bit division, then int arithmetic: on 32-bit MIPS each
// 64-bit division is a call and a long inlined sequence, and this
// function in int64 took 5.6 KB of the binary. A day count fits an int
// for five million years either way.
func utcString(sec int64) string {
	days, rem := int(sec/86400), int(sec%86400)
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	// The civil date of a day count, in eras of 400 years that start on
	// March 1st (Howard Hinnant's days_from_civil, inverted).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d, m, y := doy-(153*mp+2)/5+1, mp+3, yoe+era*400
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	b := make([]byte, 0, 20)
	for i, v := range [...]int{y, m, d, rem / 3600, rem / 60 % 60, rem % 60} {
		if i > 0 {
			b = append(b, "--T::"[i-1])
		} else {
			b = append(b, byte('0'+v/1000%10), byte('0'+v/100%10))
		}
		b = append(b, byte('0'+v/10%10), byte('0'+v%10))
	}
	return string(append(b, 'Z'))
}
