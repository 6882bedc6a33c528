package s3store_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tollgate-go/tollgate/core/s3store"
)

// faultyLifecycle is a fakeLifecycle whose GET or PUT can fail; a failed PUT changes nothing.
type faultyLifecycle struct {
	fakeLifecycle
	getErr, putErr error
	putAttempts    int
}

func (f *faultyLifecycle) GetBucketLifecycleConfiguration(ctx context.Context, in *s3.GetBucketLifecycleConfigurationInput, o ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	return f.fakeLifecycle.GetBucketLifecycleConfiguration(ctx, in, o...)
}

func (f *faultyLifecycle) PutBucketLifecycleConfiguration(ctx context.Context, in *s3.PutBucketLifecycleConfigurationInput, o ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error) {
	f.putAttempts++
	if f.putErr != nil {
		return nil, f.putErr
	}
	return f.fakeLifecycle.PutBucketLifecycleConfiguration(ctx, in, o...)
}

// canonicalRule returns, as new values, the rule PutLifecycleRule writes for (prefix, days)
// on a bucket without lifecycle configuration.
func canonicalRule(t *testing.T, prefix string, days int32) types.LifecycleRule {
	t.Helper()
	f := &fakeLifecycle{}
	if changed, err := s3store.PutLifecycleRule(context.Background(), f, "b", prefix, days); err != nil || !changed || len(f.rules) != 1 {
		t.Fatalf("PutLifecycleRule on an empty bucket: changed=%v, %v, %d rules", changed, err, len(f.rules))
	}
	return f.rules[0]
}

// otherRules are rules of the bucket that are not PutLifecycleRule's, as new values.
func otherRules() (before, after types.LifecycleRule) {
	before = types.LifecycleRule{
		ID: aws.String("logs"), Status: types.ExpirationStatusEnabled,
		Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)},
	}
	after = types.LifecycleRule{
		ID: aws.String("archive"), Status: types.ExpirationStatusEnabled,
		Filter:      &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("class"), Value: aws.String("cold")}},
		Transitions: []types.Transition{{Days: aws.Int32(90), StorageClass: types.TransitionStorageClassGlacier}},
	}
	return before, after
}

// TestPutLifecycleRuleReplacesEdited: a rule with our ID that differs from the canonical one
// in any field PutLifecycleRule sets, or that has any other field set by hand (another filter,
// an expiration date, transitions, ...), is replaced in place by the canonical rule, the other
// rules kept as they are, and changed is true; the next run is a no-op. The canonical rule
// itself, read back, is left alone: changed is false and nothing is written.
func TestPutLifecycleRuleReplacesEdited(t *testing.T) {
	const prefix, days = "app/", 3
	ctx := context.Background()
	for _, c := range []struct {
		name string
		edit func(r *types.LifecycleRule)
	}{
		{"Filter nil", func(r *types.LifecycleRule) { r.Filter = nil }},
		{"Filter.And", func(r *types.LifecycleRule) {
			r.Filter.And = &types.LifecycleRuleAndOperator{Prefix: aws.String(prefix), ObjectSizeGreaterThan: aws.Int64(1)}
		}},
		{"Filter.Tag", func(r *types.LifecycleRule) { r.Filter.Tag = &types.Tag{Key: aws.String("k"), Value: aws.String("v")} }},
		{"Filter.ObjectSizeGreaterThan", func(r *types.LifecycleRule) { r.Filter.ObjectSizeGreaterThan = aws.Int64(1024) }},
		{"Filter.ObjectSizeLessThan", func(r *types.LifecycleRule) { r.Filter.ObjectSizeLessThan = aws.Int64(1 << 20) }},
		{"Filter.Prefix other", func(r *types.LifecycleRule) { r.Filter.Prefix = aws.String("other/") }},
		{"Filter.Prefix nil", func(r *types.LifecycleRule) { r.Filter.Prefix = nil }},
		{"Expiration nil", func(r *types.LifecycleRule) { r.Expiration = nil }},
		{"Expiration.Days other", func(r *types.LifecycleRule) { r.Expiration.Days = aws.Int32(days + 1) }},
		{"Expiration.Days nil", func(r *types.LifecycleRule) { r.Expiration.Days = nil }},
		{"Expiration.Date", func(r *types.LifecycleRule) {
			r.Expiration.Date = aws.Time(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		}},
		{"Expiration.ExpiredObjectDeleteMarker", func(r *types.LifecycleRule) { r.Expiration.ExpiredObjectDeleteMarker = aws.Bool(true) }},
		{"NoncurrentVersionExpiration nil", func(r *types.LifecycleRule) { r.NoncurrentVersionExpiration = nil }},
		{"NoncurrentDays 2", func(r *types.LifecycleRule) { r.NoncurrentVersionExpiration.NoncurrentDays = aws.Int32(2) }},
		{"NewerNoncurrentVersions", func(r *types.LifecycleRule) { r.NoncurrentVersionExpiration.NewerNoncurrentVersions = aws.Int32(3) }},
		{"Prefix (the rule's own, deprecated)", func(r *types.LifecycleRule) {
			r.Prefix = aws.String("other/") //lint:ignore SA1019 a bucket may still hold such a rule
		}},
		{"Transitions", func(r *types.LifecycleRule) {
			r.Transitions = []types.Transition{{Days: aws.Int32(30), StorageClass: types.TransitionStorageClassStandardIa}}
		}},
		{"NoncurrentVersionTransitions", func(r *types.LifecycleRule) {
			r.NoncurrentVersionTransitions = []types.NoncurrentVersionTransition{{NoncurrentDays: aws.Int32(30), StorageClass: types.TransitionStorageClassGlacier}}
		}},
		{"AbortIncompleteMultipartUpload", func(r *types.LifecycleRule) {
			r.AbortIncompleteMultipartUpload = &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}
		}},
		{"Status Disabled", func(r *types.LifecycleRule) { r.Status = types.ExpirationStatusDisabled }},
	} {
		t.Run(c.name, func(t *testing.T) {
			edited := canonicalRule(t, prefix, days)
			c.edit(&edited)
			before, after := otherRules()
			f := &fakeLifecycle{set: true, rules: []types.LifecycleRule{before, edited, after}}
			changed, err := s3store.PutLifecycleRule(ctx, f, "b", prefix, days)
			if err != nil || !changed || f.puts != 1 {
				t.Fatalf("PutLifecycleRule over an edited rule: changed=%v, %v, %d writes; want changed, one write", changed, err, f.puts)
			}
			wantBefore, wantAfter := otherRules()
			want := []types.LifecycleRule{wantBefore, canonicalRule(t, prefix, days), wantAfter}
			if !reflect.DeepEqual(f.rules, want) {
				t.Fatalf("rules written:\n%+v\nwant the edited rule replaced by the canonical one in place:\n%+v", f.rules, want)
			}
			changed, err = s3store.PutLifecycleRule(ctx, f, "b", prefix, days)
			if err != nil || changed || f.puts != 1 {
				t.Fatalf("second run: changed=%v, %v, %d writes; want unchanged, no write", changed, err, f.puts)
			}
		})
	}
	t.Run("canonical", func(t *testing.T) {
		before, after := otherRules()
		f := &fakeLifecycle{set: true, rules: []types.LifecycleRule{before, canonicalRule(t, prefix, days), after}}
		changed, err := s3store.PutLifecycleRule(ctx, f, "b", prefix, days)
		if err != nil || changed || f.puts != 0 {
			t.Fatalf("PutLifecycleRule over the canonical rule: changed=%v, %v, %d writes; want unchanged, no write", changed, err, f.puts)
		}
	})
	t.Run("written then run again", func(t *testing.T) {
		before, _ := otherRules()
		f := &fakeLifecycle{set: true, rules: []types.LifecycleRule{before}}
		if changed, err := s3store.PutLifecycleRule(ctx, f, "b", prefix, days); err != nil || !changed || f.puts != 1 {
			t.Fatalf("first run: changed=%v, %v, %d writes", changed, err, f.puts)
		}
		if changed, err := s3store.PutLifecycleRule(ctx, f, "b", prefix, days); err != nil || changed || f.puts != 1 {
			t.Fatalf("second run: changed=%v, %v, %d writes; want unchanged, no write", changed, err, f.puts)
		}
	})
}

// TestPutLifecycleRuleDropsDuplicates: when the bucket holds our rule twice (edited by hand
// or by another tool), PutLifecycleRule keeps one canonical copy, where the first was, and
// reports a change.
func TestPutLifecycleRuleDropsDuplicates(t *testing.T) {
	const prefix, days = "app/", 3
	ctx := context.Background()
	stale := canonicalRule(t, prefix, days+4)
	for _, c := range []struct {
		name  string
		first types.LifecycleRule
	}{
		{"two canonical copies", canonicalRule(t, prefix, days)},
		{"a stale copy then the canonical one", stale},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, after := otherRules()
			f := &fakeLifecycle{set: true, rules: []types.LifecycleRule{before, c.first, after, canonicalRule(t, prefix, days)}}
			changed, err := s3store.PutLifecycleRule(ctx, f, "b", prefix, days)
			if err != nil || !changed || f.puts != 1 {
				t.Fatalf("PutLifecycleRule: changed=%v, %v, %d writes; want changed, one write", changed, err, f.puts)
			}
			wantBefore, wantAfter := otherRules()
			want := []types.LifecycleRule{wantBefore, canonicalRule(t, prefix, days), wantAfter}
			if !reflect.DeepEqual(f.rules, want) {
				t.Fatalf("rules written: %s\n%+v\nwant one canonical copy where the first was: %s", ruleIDs(f.rules), f.rules, ruleIDs(want))
			}
		})
	}
}

// TestPutLifecycleRuleErrors: a failed GET other than "no lifecycle configuration" (403 here)
// is returned wrapped, naming the step and the bucket, and nothing is written; a bucket
// without configuration (404 NoSuchLifecycleConfiguration) gets our rule alone; a failed PUT
// is returned wrapped, with changed false.
func TestPutLifecycleRuleErrors(t *testing.T) {
	ctx := context.Background()
	denied := sdkError("GetBucketLifecycleConfiguration", http.StatusForbidden, "AccessDenied", "Access Denied")
	f := &faultyLifecycle{getErr: denied}
	changed, err := s3store.PutLifecycleRule(ctx, f, "lb", "app/", 1)
	if changed || !errors.Is(err, denied) || !strings.HasPrefix(err.Error(), "s3store: get lifecycle configuration of lb: ") || f.putAttempts != 0 {
		t.Fatalf("GET denied: changed=%v, %v, %d PUT; want an error 's3store: get lifecycle configuration of lb: ' wrapping it, no PUT", changed, err, f.putAttempts)
	}

	none := sdkError("GetBucketLifecycleConfiguration", http.StatusNotFound, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
	f = &faultyLifecycle{getErr: none}
	changed, err = s3store.PutLifecycleRule(ctx, f, "lb", "app/", 1)
	if err != nil || !changed || f.putAttempts != 1 || !reflect.DeepEqual(f.rules, []types.LifecycleRule{canonicalRule(t, "app/", 1)}) {
		t.Fatalf("no configuration: changed=%v, %v, rules %s; want our rule alone", changed, err, ruleIDs(f.rules))
	}

	putDenied := sdkError("PutBucketLifecycleConfiguration", http.StatusForbidden, "AccessDenied", "Access Denied")
	before, _ := otherRules()
	f = &faultyLifecycle{fakeLifecycle: fakeLifecycle{set: true, rules: []types.LifecycleRule{before}}, putErr: putDenied}
	changed, err = s3store.PutLifecycleRule(ctx, f, "lb", "app/", 1)
	if changed || !errors.Is(err, putDenied) || !strings.HasPrefix(err.Error(), "s3store: put lifecycle configuration of lb: ") || f.putAttempts != 1 {
		t.Fatalf("PUT denied: changed=%v, %v, %d PUT; want changed false and an error 's3store: put lifecycle configuration of lb: ' wrapping it", changed, err, f.putAttempts)
	}
	if ruleIDs(f.rules) != "logs" {
		t.Fatalf("rules after a failed PUT: %s", ruleIDs(f.rules))
	}
}

// TestLifecycleRuleIDLength: the rule ID is "tollgate:" and the prefix when that fits S3's
// 255 bytes (exactly 255 included). A longer prefix gets a 255-byte ID that ends with "~" and
// 16 hex digits of the prefix's SHA-256, cut before them at a character boundary: two long
// prefixes that share their first 246 bytes get two rules (a cut alone gave them one, and
// PutLifecycleRule for the second replaced the first's: its objects stopped expiring), and an
// ID never ends in half a character. PutLifecycleRule writes the rule under that ID, filtering
// on the whole prefix.
func TestLifecycleRuleIDLength(t *testing.T) {
	const tag = "tollgate:"
	if got := s3store.LifecycleRuleID("app/"); got != "tollgate:app/" {
		t.Fatalf("LifecycleRuleID(app/) = %q", got)
	}
	fits := strings.Repeat("p", 255-len(tag)-1) + "/"
	if got := s3store.LifecycleRuleID(fits); got != tag+fits || len(got) != 255 {
		t.Fatalf("LifecycleRuleID of a %d-byte prefix = %q (%d bytes); want %q whole", len(fits), got, len(got), tag+fits)
	}
	long := strings.Repeat("p", 255-len(tag)) + "/"
	long2 := strings.Repeat("p", 255-len(tag)) + "q/"
	wide := strings.Repeat("é", 200) + "/" // 2-byte characters across the cut
	ids := map[string]string{}
	for _, p := range []string{long, long2, wide, wide + "x/"} {
		id := s3store.LifecycleRuleID(p)
		if len(id) > 255 || !utf8.ValidString(id) || !strings.HasPrefix(id, tag) || !strings.HasPrefix(tag+p, id[:len(id)-17]) || id[len(id)-17] != '~' {
			t.Errorf("LifecycleRuleID of a %d-byte prefix = %q (%d bytes); want at most 255 bytes of valid UTF-8: the prefix's start, '~' and 16 hex digits", len(p), id, len(id))
		}
		if other, dup := ids[id]; dup {
			t.Errorf("prefixes %q and %q share the rule ID %q", other, p, id)
		}
		ids[id] = p
	}
	f := &fakeLifecycle{}
	for _, p := range []string{fits, long, long2} {
		if changed, err := s3store.PutLifecycleRule(context.Background(), f, "b", p, 1); err != nil || !changed {
			t.Fatalf("PutLifecycleRule(%d-byte prefix): changed=%v, %v", len(p), changed, err)
		}
	}
	if len(f.rules) != 3 {
		t.Fatalf("three prefixes left %d rules (%s); want one each", len(f.rules), ruleIDs(f.rules))
	}
	for i, p := range []string{fits, long, long2} {
		r := f.rules[i]
		if id := aws.ToString(r.ID); id != s3store.LifecycleRuleID(p) || len(id) > 255 || aws.ToString(r.Filter.Prefix) != p {
			t.Fatalf("rule for a %d-byte prefix: ID %q (%d bytes), filter prefix %q", len(p), id, len(id), aws.ToString(r.Filter.Prefix))
		}
	}
}
