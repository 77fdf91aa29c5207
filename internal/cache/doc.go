// Package cache is arpd's neighbour cache file: a fixed-size,
// set-associative hash table of neighbour entries, mapped read-only and
// written slot by slot with pwrite.
//
// Why this shape:
//
//   - Every write goes straight to the page cache (pwrite), so a process
//     killed with SIGKILL loses nothing, and any reader (arpd -l) that maps
//     the same file sees each write as soon as pwrite returns.
//   - The mapping is read-only and comes from a read-only descriptor.
//     OpenWrt's JFFS2 overlay (generic_file_readonly_mmap) refuses shared
//     mappings that may become writable, and a stray store through a
//     read-only mapping faults instead of corrupting the file.
//   - The file never grows. Its capacity is fixed when it is made; a new
//     capacity builds a new file and renames it into place.
//   - The file is made sparse with ftruncate, so untouched buckets cost no
//     RAM on tmpfs, where OpenWrt keeps /var.
//
// # On-disk layout
//
// All integers are little-endian, whatever the host:
//
//	offset 0      static header page (magic, version, geometry, seed, CRC)
//	offset 4096   state page A  } the mutable header, written alternately so
//	offset 8192   state page B  } that one valid copy always survives
//	offset 12288  prefix table (IPv6 /64 prefixes)
//	offset 16384  buckets of 272 bytes
//
// The static header, written once when the file is made:
//
//	0    magic       "ARPDHASH"
//	8    version     uint32, 3
//	12   header size uint32, 16384
//	16   slot size   uint32, 32
//	20   ways        uint32, 8
//	24   buckets     uint32; the capacity is buckets*ways entries
//	28   bucket size uint32, 272
//	32   seed        two uint64: the SipHash key of this file
//	48   created     uint64 Unix seconds
//	124  check       CRC-32C of bytes 0..123
//
// A state page (the one with the higher sequence number that passes its
// check is current; a writer always overwrites the other one):
//
//	0     sequence   uint64; 0 in a page never written
//	8     flags      uint32; bit 0: a writer has the file open (or died)
//	12    pid        uint32 of that writer
//	16    started    uint64 Unix seconds when it opened the file
//	24    saved      uint64 Unix seconds of this save
//	32    entries    uint64
//	64    originals  64 records of 32 bytes: interface name (16 bytes,
//	                 NUL-padded), family, flags (bit 0: in use), then
//	                 app_solicit and mcast_solicit as int32 at 20 and 24
//	2112  counters   NumCounters uint64 (see Counter)
//	4092  check      CRC-32C of bytes 0..4091
//
// The prefix table: 16-byte entries, entry i (1..255) at 16·i. An entry
// holds the first eight bytes of IPv6 addresses (a /64 prefix) as a
// uint64, then 1, three zero bytes, and a CRC-32C of its bytes 0..11 with
// i as the initial value; an all-zero entry is free. Entries are written
// once and synced before any slot names them; when all 255 are taken, the
// prefix with the fewest entries gives up its index, its entries deleted
// and synced first (see prefixFor).
//
// A bucket (272 bytes, 34 per slot):
//
//	0    tags        8 uint16, one per slot; 0 marks an empty slot
//	16   slot 0      } 32 bytes each
//	48   slot 1      }
//	...
//	240  slot 7      }
//
// A slot's tag is 16 bits of the key's hash. A lookup compares the eight
// tags of each of its two buckets as two 64-bit words and reads a slot
// only when its tag matches. Buckets start at multiples of 16, so the tags
// never straddle a cache line: a miss reads one line per bucket.
//
// A slot (32 bytes):
//
//	0   family      AF_INET or AF_INET6; 0 in an empty (all-zero) slot
//	1   meta        bits 0-1 kind (1 positive, 2 negative), bits 2-4 source,
//	                bit 5 router (IPv6), bits 6-7 zero
//	2   lladdr len  0..8 in a positive entry; in a negative one, the
//	                broadcast probes spent on it
//	3   prefix      IPv6: the index of the address's first eight bytes in
//	                the prefix table; IPv4: 0
//	4   ifindex     uint32
//	8   address     IPv4: its 4 bytes, then 4 zero bytes; IPv6: its last 8
//	16  lladdr      8 bytes; unused bytes are zero (all of them in a
//	                negative entry)
//	24  updated     uint32 Unix seconds
//	28  check       CRC-32C of bytes 0..27, with the slot's tag as the
//	                initial value
//
// The check makes a torn or half-written slot, or one damaged on disk,
// detectable: it is never served, and it is counted when it is dropped.
// Because the tag seeds the check, a damaged tag fails the check too; an
// IPv6 slot whose prefix entry is free or damaged is damaged as well.
//
// Files of format version 2 (44-byte slots with the whole address and a
// first-seen time, under a three-page header) are converted when opened
// for writing, keeping every entry, saved sysctl and counter (the
// first-seen time, which nothing read, is dropped); a reader converts a
// copy in memory. Files of version 1 (four 44-byte slots to a 176-byte
// bucket, no tags) and the Berkeley DB files of iproute2's arpd are
// refused with an error that says how to migrate them.
//
// # Use
//
// One writer (the daemon, or arpd -f) opens the file with [Open], which
// takes an exclusive flock; any number of readers (arpd -l, arpd -s) open
// it with [OpenReadOnly] and read it while the writer writes. A [File] is
// used by one goroutine at a time.
package cache
