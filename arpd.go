// Command arpd is a user-space ARP helper daemon for Linux routers that serve
// large Ethernet segments. It keeps a large neighbour cache in a fixed-size,
// memory-mapped hash file, answers the kernel's resolution requests from it,
// and learns from every ARP packet it sees. It is a drop-in replacement for
// iproute2's arpd without Berkeley DB.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program behind main, with its streams passed in so that
// tests can drive it without a subprocess. It returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		io.WriteString(stderr, usageText)
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "arpd: %v\n%s", err, usageText)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	if o.version {
		fmt.Fprintf(stdout, "arpd %s\n", version)
		return 0
	}
	switch {
	case o.stats:
		err = printStats(o, stdout)
	case o.load != "" || o.list:
		err = offline(o, stdin, stdout, stderr)
	default:
		err = errors.New("the daemon is not part of this build yet; -l, -f, -s and -V work")
	}
	if err != nil {
		fmt.Fprintf(stderr, "arpd: %v\n", err)
		return 1
	}
	return 0
}

// offline does what iproute2's arpd does with -f and -l: load the file
// into the database, then list the database, then exit.
func offline(o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	if o.load != "" {
		n, dropped, err := loadFile(o, stdin)
		if err != nil {
			return err
		}
		if dropped > 0 {
			fmt.Fprintf(stderr, "arpd: %s: %d of %d loaded entries did not fit in the database; raise its capacity with -C\n", o.db, dropped, n)
		}
	}
	if o.list {
		return listDB(o, stdout, stderr)
	}
	return nil
}

// openWritable opens the database for writing, creating the default
// directory when the default path is used (as iproute2 does).
func openWritable(o *options) (*Cache, error) {
	if o.dbDefault {
		if err := os.MkdirAll(filepath.Dir(o.db), 0o755); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	return OpenCache(o.db, CacheOptions{Capacity: o.capacity, NegativeTTL: uint32(o.negTimeout)})
}

// loadFile loads the -f file into the database, all or nothing. The whole
// file is read and checked before the database is opened, so a bad line
// leaves the database byte for byte as it was (and creates none); the
// entries then go into a copy of the database that replaces it only when
// every write succeeded. It returns the number of entries read and how
// many of them did not fit.
func loadFile(o *options, stdin io.Reader) (n, dropped int, err error) {
	name := o.load
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		r = f
	}
	// NB: Entry is 48 bytes; a million-line file needs 48 MB here, which
	// is the price of leaving the database untouched by a bad last line.
	var entries []Entry
	err = parseLoad(r, name, func(line int, rec loadRecord) error {
		e := Entry{Key: keyOf(rec.Ifindex, rec.Addr), Kind: KindPositive, Source: SourceLoad, LLLen: 6}
		copy(e.LLAddr[:], rec.MAC[:])
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	c, err := openWritable(o)
	if err != nil {
		return 0, 0, err
	}
	err = c.Rebuild(0, func(nc *Cache) error {
		before := nc.Counter(ctrEvictions)
		for i := range entries {
			res, err := nc.Put(&entries[i])
			if err != nil {
				return err
			}
			if res == PutDropped {
				dropped++
			}
		}
		dropped += int(nc.Counter(ctrEvictions) - before)
		nc.Count(ctrLoaded, uint64(len(entries)))
		return nil
	})
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return len(entries), dropped, err
}

// keyOf returns the cache key of addr on interface ifindex.
func keyOf(ifindex uint32, addr netip.Addr) Key {
	if addr.Is4() {
		return keyV4(ifindex, addr.As4())
	}
	return Key{Family: familyIPv6, Ifindex: ifindex, Addr: addr.As16()}
}

// addrOf returns the address of a cache key.
func addrOf(k *Key) netip.Addr {
	if k.Family == familyIPv4 {
		return netip.AddrFrom4([4]byte(k.Addr[:4]))
	}
	return netip.AddrFrom16(k.Addr)
}

// listDB writes the database in iproute2's -l format. With interfaces on
// the command line, only their entries are listed. It reads a running
// daemon's file without disturbing it.
func listDB(o *options, stdout, stderr io.Writer) error {
	only := map[uint32]bool{}
	for _, name := range o.interfaces {
		idx, err := ifIndexByName(name)
		if err != nil {
			return err
		}
		only[idx] = true
	}
	w := bufio.NewWriter(stdout)
	w.WriteString(listHeader)
	c, err := OpenCacheReadOnly(o.db)
	if errors.Is(err, unix.ENOENT) {
		// Like iproute2's empty database: a header and no rows.
		fmt.Fprintf(stderr, "arpd: %s does not exist yet\n", o.db)
		return w.Flush()
	}
	if err != nil {
		return err
	}
	defer c.Close()
	now := time.Now().Unix()
	row := make([]byte, 0, 128)
	damaged := c.Range(func(e *Entry) bool {
		if len(only) > 0 && !only[e.Ifindex] {
			return true
		}
		if e.Kind == KindNegative {
			row = appendFailedRow(row[:0], e.Ifindex, addrOf(&e.Key), now-int64(e.Updated))
		} else {
			row = appendListRow(row[:0], e.Ifindex, addrOf(&e.Key), e.LLAddr[:e.LLLen])
		}
		w.Write(row)
		return true
	})
	if damaged > 0 {
		fmt.Fprintf(stderr, "arpd: %s: skipped %d damaged entries\n", o.db, damaged)
	}
	return w.Flush()
}

// printStats prints the statistics that the daemon owning the database
// saved in it, without signalling the daemon.
func printStats(o *options, stdout io.Writer) error {
	c, err := OpenCacheReadOnly(o.db)
	if err != nil {
		return err
	}
	defer c.Close()
	w := bufio.NewWriter(stdout)
	pid, started, open := c.Owner()
	fmt.Fprintf(w, "database %s\n", o.db)
	switch {
	case open && pid != 0 && unix.Kill(int(pid), 0) == nil:
		fmt.Fprintf(w, "owner pid %d, running since %s\n", pid, started.UTC().Format(time.RFC3339))
	case open:
		fmt.Fprintf(w, "owner pid %d, not running: it did not close the database cleanly\n", pid)
	default:
		fmt.Fprintf(w, "owner none: closed cleanly\n")
	}
	fmt.Fprintf(w, "capacity %d\nentries %d\n", c.Capacity(), c.Entries())
	for i, name := range counterNames {
		fmt.Fprintf(w, "%s %d\n", name, c.Counter(i))
	}
	return w.Flush()
}

// ifIndexByName returns the index of the interface called name, asking the
// kernel with SIOCGIFINDEX.
func ifIndexByName(name string) (uint32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("interface %q: bad name", name)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, fmt.Errorf("interface %s: no such interface", name)
		}
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return ifr.Uint32(), nil
}
