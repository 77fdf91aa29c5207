package cache

// Test-only access to unexported parts of the package, for the external
// tests (package cache_test).

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// RefreshGrace is refreshGrace.
const RefreshGrace = refreshGrace

// MaxOriginals is the number of interfaces whose sysctl values a file
// can hold.
const MaxOriginals = maxOriginals

// FileSize returns the size of a file made for capacity entries.
func FileSize(capacity int) int64 { return fileSizeFor(bucketsFor(capacity)) }

// Writes returns the number of pwrite calls f has made for slots and state
// pages.
func (f *File) Writes() uint64 { return f.writes }
