package tollgatelambda

import (
	"errors"

	"github.com/tollgate-go/tollgate/core"
)

// The key functions below read the request context that API Gateway (or the function URL
// service) writes, never a header the client sends. Each returns an error wrapping
// [core.ErrMissingKey] when the event does not carry what it reads (the middleware answers
// Options.MissingKeyStatus), and when the request is not one of this package's views, so a
// key function given to an HTTP adapter by mistake refuses every request instead of keying
// by something else. Combine them with [core.Keys]: core.Keys(KeyByStage(), KeyByAPIKeyID())
// keys per stage and API key, as a usage plan attached to several stages counts.

var errNotEvent = missing("tollgatelambda: the request is not an API Gateway or function URL event (use this package's middleware or RequestV1/V2/URL)")

func missing(text string) error { return errors.Join(core.ErrMissingKey, errors.New(text)) }

// KeyBySourceIP keys requests by the request context's source IP, IPv6 grouped by /64 as
// [core.KeyByIP] does. A forged X-Forwarded-For changes nothing: the header is never read.
// core.KeyByIP, a limiter's default key, keys this package's views the same way; this one
// also refuses requests that are not Lambda events. Do not set Config.Proxies behind API
// Gateway: the source IP is already the client's. (Behind your own CloudFront distribution
// or load balancer in front of API Gateway, the source IP is that proxy's; then use
// Config.Proxies with its address ranges.)
func KeyBySourceIP() core.KeyFunc {
	ip := core.KeyByIP()
	return func(r core.Request) (string, error) {
		q, ok := r.(Request)
		if !ok {
			return "", errNotEvent
		}
		return ip(q)
	}
}

// KeyByAPIKeyID keys requests by the ID of the API key API Gateway validated (REST APIs,
// methods with "API key required"): the plan-per-key limits that API Gateway usage plans
// express. The ID, not the key's secret value, becomes the stored key.
func KeyByAPIKeyID() core.KeyFunc {
	err := missing("tollgatelambda: no API key ID in the request context (REST API methods that require an API key have one)")
	return func(r core.Request) (string, error) {
		q, ok := r.(Request)
		if !ok {
			return "", errNotEvent
		}
		if id := q.APIKeyID(); id != "" {
			return id, nil
		}
		return "", err
	}
}

// KeyByPrincipal keys requests by the principal an authorizer established (see
// [Request.Principal]): per user rather than per address.
func KeyByPrincipal() core.KeyFunc {
	err := missing("tollgatelambda: no authorizer principal in the request context")
	return func(r core.Request) (string, error) {
		q, ok := r.(Request)
		if !ok {
			return "", errNotEvent
		}
		if p := q.Principal(); p != "" {
			return p, nil
		}
		return "", err
	}
}

// KeyByAuthorizer keys requests by a named value an authorizer attached (see
// [Request.Authorizer]): a tenant ID in a Lambda authorizer's context, a JWT claim. It
// panics when name is empty: that is a programmer error, reported when the key function is
// built.
func KeyByAuthorizer(name string) core.KeyFunc {
	if name == "" {
		panic("tollgatelambda: KeyByAuthorizer: empty name")
	}
	err := missing("tollgatelambda: no authorizer value " + name + " in the request context")
	return func(r core.Request) (string, error) {
		q, ok := r.(Request)
		if !ok {
			return "", errNotEvent
		}
		if v := q.Authorizer(name); v != "" {
			return v, nil
		}
		return "", err
	}
}

// KeyByStage keys requests by the API Gateway stage. Alone it is one limit per stage; in
// [core.Keys] it keeps the stages' counts apart. Function URLs have no stage (a missing key).
func KeyByStage() core.KeyFunc {
	err := missing("tollgatelambda: no stage in the request context")
	return func(r core.Request) (string, error) {
		q, ok := r.(Request)
		if !ok {
			return "", errNotEvent
		}
		if s := q.Stage(); s != "" {
			return s, nil
		}
		return "", err
	}
}
