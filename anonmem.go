package main

// Fixed tables outside the Go heap.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// anonSlice returns a zeroed slice of n T in an anonymous mapping of its
// own, outside the Go heap, for a fixed table that lives as long as the
// process. Its pages cost memory only once written, and it does not count
// towards the heap that the garbage collector paces itself by: as heap
// objects, the daemon's 300 KB of fixed tables raised its peak RSS by
// 450 KB in the lab benchmark's burst (make bench-lab), as the collector
// let twice as much garbage build up before running. T must hold no
// pointers.
func anonSlice[T any](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero)) * n
	if size == 0 {
		return nil
	}
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		// NB: only without address space to spare; the heap then.
		return make([]T, n)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
