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
//	offset 12288  buckets of 368 bytes
//
// The static header, written once when the file is made:
//
//	0    magic       "ARPDHASH"
//	8    version     uint32, 2
//	12   header size uint32, 12288
//	16   slot size   uint32, 44
//	20   ways        uint32, 8
//	24   buckets     uint32; the capacity is buckets*ways entries
//	28   bucket size uint32, 368
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
// A bucket (368 bytes, 46 per slot):
//
//	0    tags        8 uint16, one per slot; 0 marks an empty slot
//	16   slot 0      } 44 bytes each
//	60   slot 1      }
//	...
//	324  slot 7      }
//
// A slot's tag is 16 bits of the key's hash. A lookup compares the eight
// tags of each of its two buckets as two 64-bit words and reads a slot
// only when its tag matches. Buckets start at multiples of 16, so the tags
// never straddle a cache line: a miss reads one line per bucket.
//
// A slot (44 bytes):
//
//	0   family      AF_INET or AF_INET6; 0 in an empty (all-zero) slot
//	1   meta        bits 0-1 kind (1 positive, 2 negative), bits 2-4 source,
//	                bit 5 router (IPv6), bits 6-7 zero
//	2   lladdr len  0..8
//	3   probes      broadcast probes spent on a negative entry
//	4   ifindex     uint32
//	8   address     16 bytes; an IPv4 address fills the first 4
//	24  lladdr      8 bytes; unused bytes are zero
//	32  first seen  uint32 Unix seconds
//	36  updated     uint32 Unix seconds
//	40  check       CRC-32C of bytes 0..39, with the slot's tag as the
//	                initial value
//
// The check makes a torn or half-written slot, or one damaged on disk,
// detectable: it is never served, and it is counted when it is dropped.
// Because the tag seeds the check, a damaged tag fails the check too.
//
// Files of format version 1 (four 44-byte slots to a 176-byte bucket, no
// tags) and the Berkeley DB files of iproute2's arpd are refused with an
// error that says how to migrate them.
//
// # Use
//
// One writer (the daemon, or arpd -f) opens the file with [Open], which
// takes an exclusive flock; any number of readers (arpd -l, arpd -s) open
// it with [OpenReadOnly] and read it while the writer writes. A [File] is
// used by one goroutine at a time.
package cache
