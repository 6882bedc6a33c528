package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tollgate-go/tollgate/core"
)

// LifecycleAPI is the subset of *s3.Client that [PutLifecycleRule] calls.
type LifecycleAPI interface {
	GetBucketLifecycleConfiguration(ctx context.Context, in *s3.GetBucketLifecycleConfigurationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error)
	PutBucketLifecycleConfiguration(ctx context.Context, in *s3.PutBucketLifecycleConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error)
}

var _ LifecycleAPI = (*s3.Client)(nil)

// maxRuleID is S3's limit on a lifecycle rule's ID, in bytes.
const maxRuleID = 255

// LifecycleRuleID returns the ID of the rule [PutLifecycleRule] keeps for prefix:
// "tollgate:" and the prefix. When that is longer than S3's 255 bytes, the prefix is cut at a
// character boundary and followed by "~" and 16 hex digits of its SHA-256, so that two long
// prefixes with the same start still get a rule each (with the cut alone, the second
// prefix's rule replaced the first's, whose objects then never expired).
func LifecycleRuleID(prefix string) string {
	id := "tollgate:" + prefix
	if len(id) <= maxRuleID {
		return id
	}
	sum := sha256.Sum256([]byte(prefix))
	tail := "~" + hex.EncodeToString(sum[:8])
	cut := maxRuleID - len(tail)
	for !utf8.RuneStart(id[cut]) { // stops by "tollgate:", which is ASCII, at the latest
		cut--
	}
	return id[:cut] + tail
}

// PutLifecycleRule makes bucket expire the objects under prefix days after their last write,
// so that state of keys no longer used does not accumulate. It reads the bucket's lifecycle
// configuration, replaces or adds the rule with ID [LifecycleRuleID](prefix), keeps every other
// rule as it is, and writes the configuration back only when it changed: running it again is
// a no-op (changed is false).
//
// days must cover the longest-lived state stored under prefix (see [LifecycleDays]): S3
// deletes an object days after its last write whether or not a window still needs it, and a
// deleted count restarts at zero. One day fits windows, leases and token buckets of up to a
// day (sliding windows up to 12 hours); a monthly quota needs 31.
//
// The rule also expires noncurrent versions after a day, for buckets where versioning was
// turned on anyway. Correctness never depends on the rule: S3 applies lifecycle rules
// asynchronously, and expired state is ignored by the algorithms.
//
// Needs s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration on the bucket. The read
// then write is not atomic (S3 offers no conditional lifecycle update): do not run it at the
// same time as another tool that edits the bucket's lifecycle rules.
func PutLifecycleRule(ctx context.Context, client LifecycleAPI, bucket, prefix string, days int32) (changed bool, err error) {
	if bucket == "" {
		return false, errors.New("s3store: PutLifecycleRule needs a bucket")
	}
	if prefix == "" {
		// An empty filter prefix would expire every object in the bucket.
		return false, errors.New("s3store: PutLifecycleRule needs a non-empty prefix (an empty one would expire the whole bucket)")
	}
	if err := checkPrefix(prefix); err != nil {
		return false, err
	}
	if days < 1 {
		return false, fmt.Errorf("s3store: lifecycle days %d must be at least 1", days)
	}
	var rules []types.LifecycleRule
	out, err := client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
	switch {
	case err == nil:
		rules = out.Rules
	case codeOf(err) == "NoSuchLifecycleConfiguration":
	default:
		return false, fmt.Errorf("s3store: get lifecycle configuration of %s: %w", bucket, err)
	}
	merged, changed := mergeRule(rules, lifecycleRule(prefix, days))
	if !changed {
		return false, nil
	}
	_, err = client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 &bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: merged},
	})
	if err != nil {
		return false, fmt.Errorf("s3store: put lifecycle configuration of %s: %w", bucket, err)
	}
	return true, nil
}

func lifecycleRule(prefix string, days int32) types.LifecycleRule {
	return types.LifecycleRule{
		ID:                          aws.String(LifecycleRuleID(prefix)),
		Status:                      types.ExpirationStatusEnabled,
		Filter:                      &types.LifecycleRuleFilter{Prefix: aws.String(prefix)},
		Expiration:                  &types.LifecycleExpiration{Days: aws.Int32(days)},
		NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)},
	}
}

// mergeRule returns rules with r in place of the rule with r's ID (or appended), and whether
// that changed anything. The other rules are kept in order, untouched.
func mergeRule(rules []types.LifecycleRule, r types.LifecycleRule) ([]types.LifecycleRule, bool) {
	out := make([]types.LifecycleRule, 0, len(rules)+1)
	found, changed := false, false
	for _, old := range rules {
		if aws.ToString(old.ID) != aws.ToString(r.ID) {
			out = append(out, old)
			continue
		}
		if found {
			changed = true // a duplicate of our rule: drop it
			continue
		}
		found = true
		if !sameRule(old, r) {
			changed = true
		}
		out = append(out, r)
	}
	if !found {
		out = append(out, r)
		changed = true
	}
	return out, changed
}

// sameRule compares the fields lifecycleRule sets; anything else set on the old rule by hand
// makes it different, so it is replaced by the canonical one.
func sameRule(a, b types.LifecycleRule) bool {
	return reflect.DeepEqual(canon(a), canon(b))
}

// canon drops the SDK's unexported bookkeeping (noSmithyDocumentSerde) by rebuilding the rule
// from its exported fields that a GET returns.
func canon(r types.LifecycleRule) any {
	type rule struct {
		ID, Status, Prefix   string
		Days, NoncurrentDays int32
		HasOther             bool
	}
	x := rule{ID: aws.ToString(r.ID), Status: string(r.Status)}
	if r.Filter != nil {
		x.Prefix = aws.ToString(r.Filter.Prefix)
		x.HasOther = r.Filter.And != nil || r.Filter.Tag != nil || r.Filter.ObjectSizeGreaterThan != nil || r.Filter.ObjectSizeLessThan != nil
	}
	if r.Expiration != nil {
		x.Days = aws.ToInt32(r.Expiration.Days)
		x.HasOther = x.HasOther || r.Expiration.Date != nil || r.Expiration.ExpiredObjectDeleteMarker != nil
	}
	if r.NoncurrentVersionExpiration != nil {
		x.NoncurrentDays = aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays)
		x.HasOther = x.HasOther || r.NoncurrentVersionExpiration.NewerNoncurrentVersions != nil
	}
	//lint:ignore SA1019 a rule read back may still carry the deprecated top-level Prefix, set by hand
	x.HasOther = x.HasOther || r.Prefix != nil || len(r.Transitions) > 0 || len(r.NoncurrentVersionTransitions) > 0 || r.AbortIncompleteMultipartUpload != nil
	return x
}

// LifecycleDays returns the smallest lifecycle expiry, in days, that keeps the state of every
// policy alive for as long as a decision can depend on it: a fixed window's length (31 days for
// calendar months), two windows for a sliding window, the bucket's capacity in time for a
// token bucket, and the lease for concurrency. Pass the result to [PutLifecycleRule].
func LifecycleDays(policies ...core.Policy) int32 {
	const day = 24 * time.Hour
	var longest time.Duration
	for _, p := range policies {
		var life time.Duration
		switch p.Algorithm {
		case core.FixedWindow:
			life = p.Window
			if p.Calendar == core.Monthly {
				life = 31 * day
			}
		case core.SlidingWindow:
			life = 2 * p.Window
		case core.TokenBucket:
			life = time.Duration(p.Capacity()) * p.EmissionInterval()
		case core.Concurrency:
			life = p.Lease
		}
		longest = max(longest, life)
	}
	return int32(max((longest+day-1)/day, 1))
}
