// Package conditional evaluates HTTP conditional requests (RFC 9110 §13) and byte ranges
// (RFC 9110 §14) as pure functions over header field values and a representation's validators.
//
// It knows nothing about a web framework or a storage backend: a caller reads the request's
// fields into a [Header] (with [HeaderFrom] and any lookup function), describes the selected
// representation with [Validators], and calls [Evaluate], which applies the preconditions in
// the order of RFC 9110 §13.2.2 and says whether to proceed, answer 304 Not Modified, or answer
// 412 Precondition Failed, and which Range field (if any) still applies. [ParseRange] turns
// that field into byte ranges or reports that none is satisfiable (416).
//
// Each precondition is also available on its own ([CheckIfMatch], [CheckIfNoneMatch],
// [CheckIfModifiedSince], [CheckIfUnmodifiedSince], [CheckIfRange]) with a three-state result,
// as in net/http's fs.go: the field is absent or must be ignored ([CondNone]), it holds
// ([CondTrue]), or it fails ([CondFalse]).
//
// All functions are safe for concurrent use and never panic on malformed input; malformed
// fields are ignored or treated as failing exactly as the RFC section cited beside each rule
// says.
package conditional
