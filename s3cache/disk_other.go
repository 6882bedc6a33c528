//go:build !linux

package s3cache

import "os"

// preallocate does nothing where fallocate(2) is missing: a full file system is then found by
// a write, which fails the fill (and the responses reading it) rather than the whole tier.
func preallocate(*os.File, int64) error { return nil }
