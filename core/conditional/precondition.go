package conditional

import (
	"strings"
	"time"
)

// Cond is the three-state result of one precondition: absent or ignored, true, or false.
type Cond int8

const (
	// CondNone means the field is absent or must be ignored, so it decides nothing.
	CondNone Cond = iota
	// CondTrue means the condition holds.
	CondTrue
	// CondFalse means the condition fails.
	CondFalse
)

// String returns "none", "true" or "false".
func (c Cond) String() string {
	switch c {
	case CondTrue:
		return "true"
	case CondFalse:
		return "false"
	}
	return "none"
}

// Header holds the request fields that conditional evaluation reads, as received (the first
// field line of each; an empty string means absent).
type Header struct {
	IfMatch           string
	IfNoneMatch       string
	IfModifiedSince   string
	IfUnmodifiedSince string
	IfRange           string
	Range             string
}

// HeaderFrom fills a Header through get, which returns a request field by its canonical name
// (for net/http, r.Header.Get; for fasthttp-based frameworks, a peek that converts to string).
func HeaderFrom(get func(name string) string) Header {
	return Header{
		IfMatch:           get("If-Match"),
		IfNoneMatch:       get("If-None-Match"),
		IfModifiedSince:   get("If-Modified-Since"),
		IfUnmodifiedSince: get("If-Unmodified-Since"),
		IfRange:           get("If-Range"),
		Range:             get("Range"),
	}
}

// IsZero reports whether no conditional or range field is present, the common case that needs
// no evaluation at all.
func (h Header) IsZero() bool { return h == Header{} }

// HasPrecondition reports whether any precondition field (not Range or If-Range) is present.
func (h Header) HasPrecondition() bool {
	return h.IfMatch != "" || h.IfNoneMatch != "" || h.IfModifiedSince != "" || h.IfUnmodifiedSince != ""
}

// Validators describe the selected representation, which exists: RFC 9110 §13.2.1 has a
// server ignore preconditions when the response without them would not be 2xx (e.g. 404).
type Validators struct {
	// ETag is the current entity-tag, quoted (`"abc"` or `W/"abc"`); empty when there is none.
	ETag string
	// LastModified is the modification time; the zero time when unknown. HTTP dates have a
	// resolution of one second, so it is compared truncated to the second.
	LastModified time.Time
}

// Outcome is what the server must do after evaluating the preconditions.
type Outcome int8

const (
	// Proceed means perform the method (200, or 206 when Result.Range is set and satisfiable).
	Proceed Outcome = iota
	// NotModified means answer 304 Not Modified (GET and HEAD only).
	NotModified
	// PreconditionFailed means answer 412 Precondition Failed.
	PreconditionFailed
)

// String returns "proceed", "304 Not Modified" or "412 Precondition Failed".
func (o Outcome) String() string {
	switch o {
	case NotModified:
		return "304 Not Modified"
	case PreconditionFailed:
		return "412 Precondition Failed"
	}
	return "proceed"
}

// Result is the result of Evaluate.
type Result struct {
	Outcome Outcome
	// Range is the Range field that still applies when Outcome is Proceed: empty when the
	// request has none, the method is not GET, or If-Range failed (RFC 9110 §13.1.5: then the
	// whole representation is sent with 200).
	Range string
}

// Evaluate applies the preconditions of h to the representation v for a request with the
// given method, in the order of RFC 9110 §13.2.2:
//
//  1. If-Match; when false, 412.
//  2. Else If-Unmodified-Since; when false, 412.
//  3. If-None-Match; when false, 304 for GET and HEAD, otherwise 412.
//  4. Else, for GET and HEAD, If-Modified-Since; when false, 304.
//  5. For GET with Range, If-Range; when false, the Range is ignored.
func Evaluate(method string, h Header, v Validators) Result {
	if h.IsZero() {
		return Result{}
	}
	getOrHead := method == "GET" || method == "HEAD"
	ch := CheckIfMatch(h.IfMatch, v.ETag)
	if ch == CondNone {
		ch = CheckIfUnmodifiedSince(h.IfUnmodifiedSince, v.LastModified)
	}
	if ch == CondFalse {
		return Result{Outcome: PreconditionFailed}
	}
	switch CheckIfNoneMatch(h.IfNoneMatch, v.ETag) {
	case CondFalse:
		if getOrHead {
			return Result{Outcome: NotModified}
		}
		return Result{Outcome: PreconditionFailed}
	case CondNone:
		// §13.1.3: If-Modified-Since is ignored when If-None-Match is present (the
		// entity-tag is the more accurate validator), and for methods other than GET/HEAD.
		if h.IfNoneMatch == "" && getOrHead && CheckIfModifiedSince(h.IfModifiedSince, v.LastModified) == CondFalse {
			return Result{Outcome: NotModified}
		}
	}
	// §14.2: GET is the only method for which range handling is defined.
	if method != "GET" || h.Range == "" {
		return Result{}
	}
	if CheckIfRange(h.IfRange, v) == CondFalse {
		return Result{}
	}
	return Result{Range: h.Range}
}

// CheckIfMatch evaluates If-Match (RFC 9110 §13.1.1) against the current entity-tag with the
// strong comparison. `*` is true for any existing representation. A list that matches nothing,
// or a malformed list (including `*` inside a list), is false: for a write, refusing is safe.
func CheckIfMatch(field, etag string) Cond {
	if field == "" {
		return CondNone
	}
	if strings.TrimSpace(field) == "*" {
		return CondTrue
	}
	if m, valid := listMatch(field, etag, StrongMatch); m && valid {
		return CondTrue
	}
	return CondFalse
}

// CheckIfNoneMatch evaluates If-None-Match (RFC 9110 §13.1.2) with the weak comparison: it is
// false when `*` is given or any listed entity-tag weakly matches the current one. A malformed
// field (a bad member, or `*` inside a list such as `*, "x"`) is ignored as a whole (CondNone):
// an invalid precondition must not turn a 200 into a 304. (net/http answers 304 to `*, "x"`.)
func CheckIfNoneMatch(field, etag string) Cond {
	if field == "" {
		return CondNone
	}
	if strings.TrimSpace(field) == "*" {
		return CondFalse
	}
	m, valid := listMatch(field, etag, WeakMatch)
	switch {
	case !valid:
		return CondNone
	case m:
		return CondFalse
	}
	return CondTrue
}

// CheckIfModifiedSince evaluates If-Modified-Since (RFC 9110 §13.1.3): false when the
// representation has not been modified after the given date. It is CondNone when the field is
// absent or not a valid HTTP-date, or when the modification time is unknown. The caller applies
// the method and If-None-Match rules; Evaluate does.
func CheckIfModifiedSince(field string, lastModified time.Time) Cond {
	return modifiedAfter(field, lastModified, CondTrue, CondFalse)
}

// CheckIfUnmodifiedSince evaluates If-Unmodified-Since (RFC 9110 §13.1.4): false when the
// representation was modified after the given date. It is CondNone when the field is absent or
// not a valid HTTP-date (including a list of dates), or when the modification time is unknown.
func CheckIfUnmodifiedSince(field string, lastModified time.Time) Cond {
	return modifiedAfter(field, lastModified, CondFalse, CondTrue)
}

// modifiedAfter compares lastModified (at the one-second resolution of HTTP-dates) with the
// date in field: after when it is later, notAfter otherwise, CondNone when either is unknown.
// If-Modified-Since and If-Unmodified-Since are the two readings of this one comparison.
func modifiedAfter(field string, lastModified time.Time, after, notAfter Cond) Cond {
	if field == "" || lastModified.IsZero() {
		return CondNone
	}
	t, ok := ParseHTTPDate(field)
	if !ok {
		return CondNone
	}
	if lastModified.Truncate(time.Second).After(t) {
		return after
	}
	return notAfter
}

// CheckIfRange evaluates If-Range (RFC 9110 §13.1.5). An entity-tag is compared with the strong
// comparison (a weak tag never matches); an HTTP-date must equal the Last-Modified time exactly.
// A malformed field is false, so the range is ignored and the full representation is sent.
func CheckIfRange(field string, v Validators) Cond {
	if field == "" {
		return CondNone
	}
	if etag, rest, ok := ScanETag(field); ok {
		if strings.TrimSpace(rest) == "" && StrongMatch(etag, v.ETag) {
			return CondTrue
		}
		return CondFalse
	}
	if v.LastModified.IsZero() {
		return CondFalse
	}
	t, ok := ParseHTTPDate(field)
	if ok && t.Equal(v.LastModified.Truncate(time.Second)) {
		return CondTrue
	}
	return CondFalse
}
