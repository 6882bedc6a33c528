package observe

import (
	"reflect"
	"strings"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// Limiter describes one limiter to an observer: the name its metrics and status entries carry
// and what the events alone cannot say. Every field is optional.
type Limiter struct {
	// Name identifies the limiter in metric attributes (tollgate.limiter) and on the status
	// page: "global", "login", "api". Keep it a constant of the program; it must not come
	// from requests. Optional. Default: "default".
	Name string
	// Store is the limiter's store (a core.Store or core.ConcurrencyStore). It names the
	// store in metrics (see [StoreName]) and tells whether it runs in process
	// ([storekit.InProcess]). Optional.
	Store any
	// StoreName overrides the name derived from Store. Optional.
	StoreName string
	// Policies are the limiter's policies, shown on the status page before any request
	// arrives (policies returned by a PolicyFunc appear as they are used). Optional.
	Policies []core.Policy
	// Failure is the limiter's failure policy, shown on the status page. Optional.
	Failure core.FailurePolicy
}

// DefaultName is the name of a [Limiter] that sets none.
const DefaultName = "default"

// Normalize returns l with its defaults applied: Name and StoreName filled in.
func (l Limiter) Normalize() Limiter {
	if l.Name == "" {
		l.Name = DefaultName
	}
	if l.StoreName == "" {
		l.StoreName = StoreName(l.Store)
	}
	return l
}

// InProcess reports whether l's store never waits on I/O (core/memstore). Its calls take
// nanoseconds, so timing them costs more than they do.
func (l Limiter) InProcess() bool {
	ip, ok := l.Store.(storekit.InProcess)
	return ok && ip.InProcess()
}

// StoreName returns a short, stable name for a store, for metric attributes: "memory",
// "redis", "dynamodb" and "s3" for Tollgate's stores, the last element of the package path
// for any other store type, and "unknown" for nil.
func StoreName(store any) string {
	if store == nil {
		return "unknown"
	}
	t := reflect.TypeOf(store)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	switch pkg {
	case "memstore":
		return "memory"
	case "redisstore":
		return "redis"
	case "dynamostore":
		return "dynamodb"
	case "s3store":
		return "s3"
	case "":
		return "unknown"
	}
	return pkg
}
