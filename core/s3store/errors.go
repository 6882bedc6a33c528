package s3store

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// errLostRace marks an attempt that lost a compare-and-swap race; the loop re-reads and
// tries again after a full-jitter delay.
var errLostRace = errors.New("s3store: lost a compare-and-swap race")

func statusOf(err error) int {
	var st interface{ HTTPStatusCode() int }
	if errors.As(err, &st) {
		return st.HTTPStatusCode()
	}
	return 0
}

func codeOf(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// isNotFound reports a missing object: 404 NoSuchKey from GET and PUT If-Match, 404 NotFound
// from HEAD (which has no body, so no code).
func isNotFound(err error) bool {
	switch codeOf(err) {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket":
		return false
	}
	return statusOf(err) == http.StatusNotFound
}

// isNotModified reports S3's answer to a GET whose If-None-Match matched: the SDK surfaces
// the body-less 304 as an error.
func isNotModified(err error) bool {
	return statusOf(err) == http.StatusNotModified || codeOf(err) == "NotModified"
}

// isConflict reports 409 ConditionalRequestConflict: another conditional write on the same
// key was in flight; the outcome of ours is "not written", and trying again is right.
func isConflict(err error) bool { return codeOf(err) == "ConditionalRequestConflict" }

// lostRace reports the answers to a conditional PUT that mean another writer got there
// first: 412 PreconditionFailed, 409 ConditionalRequestConflict, and 404 NoSuchKey for an
// If-Match on an object that was deleted (by a lifecycle rule, or an operator's reset).
func lostRace(err error) bool {
	return backoff.IsConditionalFailure(err) || isNotFound(err)
}
