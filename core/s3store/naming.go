package s3store

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// objectBase returns the name every object of (policy name, key) starts with: the prefix and
// the hex SHA-256 of the name and the key. The hash comes first so that keys spread over S3's
// partitions (S3 scales request rates per key-name prefix) and so that any key bytes, of any
// length, become a safe fixed-length name. Policy names are printable ASCII, so the NUL
// separator makes the pair unambiguous.
func (s *Store) objectBase(name, key string) string {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return s.prefix + hex.EncodeToString(h.Sum(sum[:0]))
}

// stateName is the compare-and-swap state object of base.
func stateName(base string) string { return base + "/state" }

// slotName is marker-mode slot k of the window starting at window (Unix nanoseconds). Slots of
// one window share a "directory" so a window's slots can be listed (and counted) by prefix.
func slotName(base string, window, k int64) string {
	return base + "/w" + strconv.FormatInt(window, 10) + "/" + strconv.FormatInt(k, 10)
}
