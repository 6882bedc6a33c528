package reply

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tollgate-go/tollgate/core"
)

// ProblemJSON returns the RFC 9457 application/problem+json body of a denial: type
// quota-exceeded (the IANA HTTP problem type registered by the rate-limit headers draft),
// status 429, a human detail with the retry time, and the violated policies' names.
func ProblemJSON(r *core.Result) []byte { return AppendProblemJSON(make([]byte, 0, 256), r) }

// AppendProblemJSON appends [ProblemJSON]'s body for r to b, so that an adapter whose
// framework copies a response body can render it into a buffer on its stack.
func AppendProblemJSON(b []byte, r *core.Result) []byte {
	b = append(b, `{"type":"`+ProblemTypeQuotaExceeded+`","title":"Too Many Requests","status":429,"detail":"Request quota exceeded. Retry after `...)
	b = strconv.AppendInt(b, max(Seconds(r.RetryAfter()), 1), 10)
	b = append(b, ` seconds.","violated-policies":[`...)
	first := true
	for _, d := range r.Decisions() {
		if d.Allowed || d.Shadow {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		// Policy names are validated printable ASCII without '"' or '\', so they need no
		// escaping in JSON.
		b = append(b, '"')
		b = append(b, d.Policy.Name...)
		b = append(b, '"')
	}
	return append(b, "]}\n"...)
}

// ErrorProblemJSON returns a problem+json body for an error status an adapter answers with
// (400, 401, 503, 500): the status text only, never the error's own text, which may carry
// internal details.
func ErrorProblemJSON(status int) []byte {
	text := http.StatusText(status)
	if text == "" {
		text = "Error"
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"type":"about:blank","title":"`...)
	b = append(b, text...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	return append(b, "}\n"...)
}

// Status maps an error from a limiter to the HTTP status an adapter answers with:
// missingKey (400 or 401, by configuration) for [core.ErrMissingKey]; 400 for invalid keys and
// costs; 503 for [core.ErrStoreUnavailable] and canceled requests; 500 otherwise.
func Status(err error, missingKey int) int {
	switch {
	case errors.Is(err, core.ErrMissingKey):
		if missingKey == 0 {
			return http.StatusBadRequest
		}
		return missingKey
	case errors.Is(err, core.ErrInvalidKey), errors.Is(err, core.ErrCostExceedsCapacity), errors.Is(err, core.ErrNegativeCost):
		return http.StatusBadRequest
	case errors.Is(err, core.ErrStoreUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
