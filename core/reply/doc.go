// Package reply renders a limiter's answer as HTTP, for authors of framework adapters:
// the RateLimit and RateLimit-Policy fields of draft-ietf-httpapi-ratelimit-headers, the
// legacy X-RateLimit-* fields, Retry-After, the RFC 9457 application/problem+json body of a
// denial or an error, and the status code of a limiter's error.
//
// The adapters in github.com/tollgate-go/tollgate/adapters use it; an application reaches it
// only through an adapter's options ([HeaderOptions]) or when it writes its own deny or error
// handler. Nothing here decides: a [core.Result] is rendered as it is.
package reply
