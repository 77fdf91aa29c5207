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
		p := newProgress(stderr)
		n, dropped, skipped, err := loadFile(o, stdin, p)
		p.end()
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
// directory when the default path is used (as iproute2 does). A rebuild
// (-C) shows its progress on p, when p is not nil.
func openWritable(o *options, p *progress) (*cache.File, error) {
	if o.dbDefault {
		if err := mkdirAll(filepath.Dir(o.db), 0o755); err != nil {
			return nil, fmtlite.Errorf("create database directory: %w", err)
		}
	}
	co := cache.Options{Capacity: o.capacity, NegativeTTL: uint32(o.negTimeout)}
	if p != nil && p.w != nil {
		p.stage("rebuilding "+o.db, 0)
		co.Progress = func(done, total int) {
			p.total = total
			p.show(done)
		}
	}
	return cache.Open(o.db, co)
}

// loadFile loads the -f file into the database, all or nothing. The whole
// file is read and checked before the database is opened, so a bad line
// leaves the database byte for byte as it was (and creates none); the
// entries then go into a copy of the database that replaces it only when
// every write succeeded. With -4 or -6, rows of the other family are
// checked like the others but not loaded. It returns the number of
// entries loaded, how many of them did not fit, and how many rows of the
// other family were skipped. Each stage shows its progress on p.
func loadFile(o *options, stdin io.Reader, p *progress) (n, dropped, skipped int, err error) {
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
	p.stage("reading "+loadName(name), 0)
	err = parseLoad(r, name, func(line int, rec loadRecord) error {
		p.step(line)
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
	c, err := openWritable(o, p)
	if err != nil {
		return 0, 0, 0, err
	}
	p.stage("rebuilding "+o.db, 0)
	err = c.Rebuild(0, func(nc *cache.File) error {
		p.stage("loading", len(entries))
		before := nc.Counter(cache.CounterEvictions)
		for i := range entries {
			p.step(i)
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

// listDB writes the database in iproute2's -l format, or with -j as a
// JSON array (json.go): the IPv4 rows, then the IPv6 rows, each family in
// the order of the file, which is the order of iproute2's listing for
// IPv4. With interfaces on the command line, only their entries are
// listed; with -4 or -6, only that family's. It reads a running daemon's
// file without disturbing it. A database that does not exist lists as
// empty, with a note; one whose directory does not exist is an error, as
// the path is then most likely mistyped.
func listDB(o *options, stdout, stderr io.Writer) error {
	only := map[uint32]bool{}
	for _, name := range o.interfaces {
		idx, err := afpacket.IndexByName(name)
		if err != nil {
			return err
		}
		only[idx] = true
	}
	c, err := cache.OpenReadOnly(o.db)
	if errors.Is(err, unix.ENOENT) {
		if derr := dirExists(o.db); derr != nil {
			return derr
		}
		// Like iproute2's empty database: a header and no rows.
		fmtlite.Fprintf(stderr, "arpd: %s does not exist yet\n", o.db)
		c = nil
	} else if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	l := lister{w: w, json: o.json, only: only, now: time.Now().Unix(), row: make([]byte, 0, 256)}
	l.begin()
	if c != nil {
		defer c.Close()
		damaged := 0
		for i, family := range o.families() {
			// NB: one pass over the file per family, so that the IPv4 rows
			// come out byte for byte as before IPv6 was listed. A damaged
			// slot has no family and is met in every pass: count one.
			d := c.Range(func(e *cache.Entry) bool {
				if e.Family == family {
					l.entry(e)
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
	}
	l.end()
	return w.Flush()
}

// dirExists returns nil when the directory of path exists, and otherwise
// an error that names path and its missing directory.
func dirExists(path string) error {
	dir := filepath.Dir(path)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmtlite.Errorf("%s: directory %s: %w", path, dir, err)
	}
	return nil
}

// lister writes the rows of -l, as text or as JSON.
type lister struct {
	w    *bufio.Writer
	json bool
	// only are the interfaces whose entries are listed; empty for all.
	only map[uint32]bool
	now  int64
	row  []byte
	// n counts the rows written, for the commas between JSON objects.
	n int
}

// begin writes what comes before the rows.
func (l *lister) begin() {
	if l.json {
		l.w.WriteString("[")
		return
	}
	l.w.WriteString(listHeader)
}

// entry writes e's row if its interface is listed.
func (l *lister) entry(e *cache.Entry) {
	if len(l.only) > 0 && !l.only[e.Ifindex] {
		return
	}
	if !l.json {
		l.row = appendEntryRow(l.row[:0], e, l.now)
		l.w.Write(l.row)
		return
	}
	l.row = l.row[:0]
	if l.n > 0 {
		l.row = append(l.row, ',')
	}
	l.row = append(l.row, '\n')
	l.n++
	l.row = appendJSONEntry(l.row, e, l.now)
	l.w.Write(l.row)
}

// end writes what comes after the rows.
func (l *lister) end() {
	if l.json {
		if l.n > 0 {
			l.w.WriteString("\n")
		}
		l.w.WriteString("]\n")
	}
}

// appendEntryRow appends e's row of the listing to dst: a FAILED row for
// a negative entry, whose age is taken at now (Unix seconds).
func appendEntryRow(dst []byte, e *cache.Entry, now int64) []byte {
	if e.Kind == cache.KindNegative {
		return appendFailedRow(dst, e.Ifindex, addrOf(&e.Key), now-int64(e.Updated))
	}
	return appendListRow(dst, e.Ifindex, addrOf(&e.Key), e.LLAddr[:e.LLLen])
}
