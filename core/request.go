package core

// Request is what a framework adapter shows the core of an HTTP request. Adapters implement it
// over their native request type without copying or allocating, so that key functions are
// written once for every framework.
type Request interface {
	// Method returns the HTTP method.
	Method() string
	// Path returns the URL path as received.
	Path() string
	// Route returns the route pattern the router matched ("GET /items/{id}", "/items/:id"),
	// or "" when the router does not say.
	Route() string
	// Header returns the first value of the named header, or "".
	Header(name string) string
	// HeaderValues returns every value of the named header, in the order received (each
	// element may itself be a comma-separated list).
	HeaderValues(name string) []string
	// RemoteAddr returns the address of the connection's peer: "ip:port" or "ip".
	RemoteAddr() string
}
