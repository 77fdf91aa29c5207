package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"arpd/internal/afpacket"
	"arpd/internal/cache"
	"arpd/internal/fmtlite"
	"arpd/internal/netiplite"
)

// The daemon's use of the cache file outside the daemon: opening it, and
// the offline jobs -f (load), -l (list) and -s (statistics).

// offline does what iproute2's arpd does with -f and -l: load the file
// into the database, then list the database, then exit.
func offline(o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	if o.load != "" {
		n, dropped, skipped, err := loadFile(o, stdin)
		if err != nil {
			return err
		}
		if skipped > 0 {
			fmtlite.Fprintf(stderr, "arpd: %s: skipped %d %s rows (%s)\n", loadName(o.load), skipped, familyName(otherFamily(o)), familyFlag(o))
		}
		if dropped > 0 {
			fmtlite.Fprintf(stderr, "arpd: %s: %d of %d loaded entries did not fit in the database; raise its capacity with -C\n", o.db, dropped, n)
		}
	}
	if o.list {
		return listDB(o, stdout, stderr)
	}
	return nil
}

// openWritable opens the database for writing, creating the default
// directory when the default path is used (as iproute2 does).
func openWritable(o *options) (*cache.File, error) {
	if o.dbDefault {
		if err := mkdirAll(filepath.Dir(o.db), 0o755); err != nil {
			return nil, fmtlite.Errorf("create database directory: %w", err)
		}
	}
	return cache.Open(o.db, cache.Options{Capacity: o.capacity, NegativeTTL: uint32(o.negTimeout)})
}

// loadFile loads the -f file into the database, all or nothing. The whole
// file is read and checked before the database is opened, so a bad line
// leaves the database byte for byte as it was (and creates none); the
// entries then go into a copy of the database that replaces it only when
// every write succeeded. With -4 or -6, rows of the other family are
// checked like the others but not loaded. It returns the number of
// entries loaded, how many of them did not fit, and how many rows of the
// other family were skipped.
func loadFile(o *options, stdin io.Reader) (n, dropped, skipped int, err error) {
	name := o.load
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return 0, 0, 0, err
		}
		defer f.Close()
		r = f
	}
	// NB: Entry is 48 bytes; a million-line file needs 48 MB here, which
	// is the price of leaving the database untouched by a bad last line.
	var entries []cache.Entry
	err = parseLoad(r, name, func(line int, rec loadRecord) error {
		e := cache.Entry{Key: keyOf(rec.Ifindex, rec.Addr), Kind: cache.KindPositive, Source: cache.SourceLoad, LLLen: 6}
		if !o.serves(e.Family) {
			skipped++
			return nil
		}
		copy(e.LLAddr[:], rec.MAC[:])
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}
	c, err := openWritable(o)
	if err != nil {
		return 0, 0, 0, err
	}
	err = c.Rebuild(0, func(nc *cache.File) error {
		before := nc.Counter(cache.CounterEvictions)
		for i := range entries {
			res, err := nc.Put(&entries[i])
			if err != nil {
				return err
			}
			if res == cache.PutDropped {
				dropped++
			}
		}
		dropped += int(nc.Counter(cache.CounterEvictions) - before)
		nc.Add(ctrLoaded, uint64(len(entries)))
		return nil
	})
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return len(entries), dropped, skipped, err
}

// loadName names the -f file in messages, as parseLoad does.
func loadName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

// otherFamily returns the family that -4 or -6 leaves out of o.
func otherFamily(o *options) uint8 {
	if o.ipv4 {
		return cache.FamilyIPv6
	}
	return cache.FamilyIPv4
}

// familyFlag returns the flag, "-4" or "-6", that restricts o to one
// family.
func familyFlag(o *options) string {
	if o.ipv4 {
		return "-4"
	}
	return "-6"
}

// keyOf returns the cache key of addr on interface ifindex.
func keyOf(ifindex uint32, addr netiplite.Addr) cache.Key {
	if addr.Is4() {
		return cache.KeyV4(ifindex, addr.As4())
	}
	return cache.Key{Family: cache.FamilyIPv6, Ifindex: ifindex, Addr: addr.As16()}
}

// addrOf returns the address of a cache key.
func addrOf(k *cache.Key) netiplite.Addr {
	if k.Family == cache.FamilyIPv4 {
		return netiplite.AddrFrom4([4]byte(k.Addr[:4]))
	}
	return netiplite.AddrFrom16(k.Addr)
}

// listDB writes the database in iproute2's -l format: the IPv4 rows, then
// the IPv6 rows, each family in the order of the file, which is the order
// of iproute2's listing for IPv4. With interfaces on the command line,
// only their entries are listed; with -4 or -6, only that family's. It
// reads a running daemon's file without disturbing it.
func listDB(o *options, stdout, stderr io.Writer) error {
	only := map[uint32]bool{}
	for _, name := range o.interfaces {
		idx, err := afpacket.IndexByName(name)
		if err != nil {
			return err
		}
		only[idx] = true
	}
	w := bufio.NewWriter(stdout)
	w.WriteString(listHeader)
	c, err := cache.OpenReadOnly(o.db)
	if errors.Is(err, unix.ENOENT) {
		// Like iproute2's empty database: a header and no rows.
		fmtlite.Fprintf(stderr, "arpd: %s does not exist yet\n", o.db)
		return w.Flush()
	}
	if err != nil {
		return err
	}
	defer c.Close()
	now := time.Now().Unix()
	row := make([]byte, 0, 128)
	damaged := 0
	for i, family := range o.families() {
		// NB: one pass over the file per family, so that the IPv4 rows
		// come out byte for byte as before IPv6 was listed. A damaged
		// slot has no family and is met in every pass: count one.
		d := c.Range(func(e *cache.Entry) bool {
			if e.Family == family && (len(only) == 0 || only[e.Ifindex]) {
				row = appendEntryRow(row[:0], e, now)
				w.Write(row)
			}
			return true
		})
		if i == 0 {
			damaged = d
		}
	}
	if damaged > 0 {
		fmtlite.Fprintf(stderr, "arpd: %s: skipped %d damaged entries\n", o.db, damaged)
	}
	return w.Flush()
}

// appendEntryRow appends e's row of the listing to dst: a FAILED row for
// a negative entry, whose age is taken at now (Unix seconds).
func appendEntryRow(dst []byte, e *cache.Entry, now int64) []byte {
	if e.Kind == cache.KindNegative {
		return appendFailedRow(dst, e.Ifindex, addrOf(&e.Key), now-int64(e.Updated))
	}
	return appendListRow(dst, e.Ifindex, addrOf(&e.Key), e.LLAddr[:e.LLLen])
}

// printStats prints the statistics that the daemon owning the database
// saved in it, without signalling the daemon.
func printStats(o *options, stdout io.Writer) error {
	c, err := cache.OpenReadOnly(o.db)
	if err != nil {
		return err
	}
	defer c.Close()
	w := bufio.NewWriter(stdout)
	pid, started, open := c.Owner()
	fmtlite.Fprintf(w, "database %s\n", o.db)
	switch {
	case open && pid != 0 && unix.Kill(int(pid), 0) == nil:
		fmtlite.Fprintf(w, "owner pid %d, running since %s\n", pid, utcString(started.Unix()))
	case open:
		fmtlite.Fprintf(w, "owner pid %d, not running: it did not close the database cleanly\n", pid)
	default:
		fmtlite.Fprintf(w, "owner none: closed cleanly\n")
	}
	fmtlite.Fprintf(w, "capacity %d\nentries %d\n", c.Capacity(), c.Entries())
	for i, name := range counterNames {
		fmtlite.Fprintf(w, "%s %d\n", name, c.Counter(i))
	}
	return w.Flush()
}

// utcString formats Unix time sec as RFC 3339 in UTC
// ("2026-12-04T18:00:00Z") without time's formatting (smallfile.go says
// why).
func utcString(sec int64) string {
	days, rem := sec/86400, sec%86400
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
	for i, v := range [...]int64{y, m, d, rem / 3600, rem / 60 % 60, rem % 60} {
		if i > 0 {
			b = append(b, "--T::"[i-1])
		} else {
			b = append(b, byte('0'+v/1000%10), byte('0'+v/100%10))
		}
		b = append(b, byte('0'+v/10%10), byte('0'+v%10))
	}
	return string(append(b, 'Z'))
}
