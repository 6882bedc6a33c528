package dynamostore

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// tag returns the partition key tag of an algorithm.
func tag(a core.Algorithm) string {
	switch a {
	case core.FixedWindow:
		return "fw"
	case core.SlidingWindow:
		return "sw"
	case core.TokenBucket:
		return "tb"
	case core.Concurrency:
		return "cc"
	}
	return "a" + strconv.Itoa(int(a))
}

// baseKey returns prefix + tag + ":" + name + ":" + base64url(SHA-256(key)). The hash has a
// fixed length and no ':', so the name (which may contain ':') is unambiguous.
func (s *Store) baseKey(key string, p core.Policy) string {
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, 0, len(s.prefix)+len(p.Name)+4+base64.RawURLEncoding.EncodedLen(len(sum))+21)
	b = append(b, s.prefix...)
	b = append(b, tag(p.Algorithm)...)
	b = append(b, ':')
	b = append(b, p.Name...)
	b = append(b, ':')
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return string(b)
}

// windowKey returns the partition key of the window that starts at start (Unix ns).
func windowKey(base string, start int64) string {
	return base + ":" + strconv.FormatInt(start, 10)
}

// PartitionKey returns the partition key that holds key's state under p at now: for fixed
// and sliding windows, the item of now's window; otherwise the key's only item. Operators use
// it to find an item in the console; see the package documentation for the format.
func (s *Store) PartitionKey(key string, p core.Policy, now time.Time) string {
	base := s.baseKey(key, p)
	if p.Algorithm == core.FixedWindow || p.Algorithm == core.SlidingWindow {
		start, _ := p.WindowBounds(now.UnixNano())
		return windowKey(base, start)
	}
	return base
}

// maxPlainLease is the longest lease ID stored as itself (base64url, at most 64 bytes);
// longer ones are stored as a hash. core's lease IDs are 32 bytes.
const maxPlainLease = 48

// leaseName encodes a lease ID (any bytes) as a map key DynamoDB accepts, at most 64 bytes:
// base64url of the ID, or for an ID over maxPlainLease bytes "~" + base64url(SHA-256(ID))
// ('~' is outside the base64url alphabet, so the two forms never meet). The bound is what
// lets MaxLeases leases fit in one item: about 64 + 12 bytes each, 311 KB for 4,096, under
// DynamoDB's 400 KB; 128-byte IDs written out (171 bytes) filled an item at 2,237 leases.
func leaseName(id string) string {
	if len(id) > maxPlainLease {
		sum := sha256.Sum256([]byte(id))
		return "~" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// leaseID decodes a map key written by leaseName; a hashed ID cannot be decoded (false).
func leaseID(name string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(name)
	return string(b), err == nil
}
