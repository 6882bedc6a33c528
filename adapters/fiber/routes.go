package tollgatefiber

import (
	"reflect"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/gofiber/fiber/v2"
)

// appRoutes is what the adapter knows of one app's routes, rebuilt when the app's handler
// count changes (routes are registered at startup; a rebuild after that is rare).
//
// Fiber v2 does not say whether the current route is a Use route (the flag is unexported,
// and Use routes carry the request's method); GetRoutes(true) leaves them out, so the Use
// routes are those of Stack that GetRoutes(true) does not return. A route is identified by
// the address of its handler slice's backing array, which GetRoutes' copies share with the
// stack's routes. The table holds no pointer into the app (addresses, strings and the two
// routing flags only), so that it cannot keep the app alive (see apps).
type appRoutes struct {
	count  uint32
	use    map[uintptr]bool    // addresses of the Use routes' first handlers
	routes map[string][]string // method → non-Use route paths, in matching order
	cfg    fiber.Config        // only what RoutePatternMatch reads

	mu    sync.Mutex
	cache map[string]string // "METHOD path" → matched route path ("" for none)
}

// maxRouteCache bounds the per-app cache of matched paths (paths are client-controlled).
const maxRouteCache = 4096

// apps holds the route table of each live app, keyed by the app's address: Fiber gives a
// middleware no place of its own to keep what it learns of an app, and the request (a
// core.Request holding only the *fiber.Ctx, so that it converts to an interface without
// allocating) cannot carry one. An entry keeps the app only through a weak pointer, which
// also tells a later app at the same address from the one the table was built for, and it
// is deleted when its app is collected (runtime.AddCleanup): the registry holds the tables of
// the apps in use and nothing longer, so a test suite that builds thousands of apps does not
// grow it. A request reads it without a lock (weak.Make, which takes a runtime lock, runs
// only when a table is built).
var apps sync.Map // uintptr → *appEntry

// appEntry is one app's route table with the weak pointer to its app.
type appEntry struct {
	w  weak.Pointer[fiber.App]
	ar *appRoutes
}

// appKey is what the cleanup of an app's entry needs: the map key and the app's weak pointer.
type appKey struct {
	addr uintptr
	w    weak.Pointer[fiber.App]
}

// addrOf returns the address p points to, as an identity only (nothing is read through it).
func addrOf[T any](p *T) uintptr { return reflect.ValueOf(p).Pointer() }

func routesOf(app *fiber.App) *appRoutes {
	addr := addrOf(app)
	if v, ok := apps.Load(addr); ok {
		if e := v.(*appEntry); e.w.Value() == app && e.ar.count == app.HandlersCount() {
			return e.ar
		}
	}
	e := &appEntry{w: weak.Make(app), ar: buildRoutes(app)}
	if prev, loaded := apps.Swap(addr, e); !loaded || prev.(*appEntry).w != e.w {
		// The app's first table: delete its entry once the app is collected, unless a later
		// app at the same address has replaced it by then.
		runtime.AddCleanup(app, func(k appKey) {
			if v, ok := apps.Load(k.addr); ok && v.(*appEntry).w == k.w {
				apps.CompareAndDelete(k.addr, v)
			}
		}, appKey{addr, e.w})
	}
	return e.ar
}

func buildRoutes(app *fiber.App) *appRoutes {
	cfg := app.Config()
	ar := &appRoutes{
		count:  app.HandlersCount(),
		use:    map[uintptr]bool{},
		routes: map[string][]string{},
		cfg:    fiber.Config{CaseSensitive: cfg.CaseSensitive, StrictRouting: cfg.StrictRouting, UnescapePath: cfg.UnescapePath},
		cache:  map[string]string{},
	}
	plain := map[uintptr]bool{}
	for _, r := range app.GetRoutes(true) {
		if len(r.Handlers) > 0 {
			plain[addrOf(&r.Handlers[0])] = true
			ar.routes[r.Method] = append(ar.routes[r.Method], r.Path)
		}
	}
	for _, routes := range app.Stack() {
		for _, r := range routes {
			if len(r.Handlers) == 0 {
				continue
			}
			if a := addrOf(&r.Handlers[0]); !plain[a] {
				ar.use[a] = true
			}
		}
	}
	return ar
}

// isUse reports whether r is a Use route (app.Use, group.Use).
func (ar *appRoutes) isUse(r *fiber.Route) bool {
	return r != nil && len(r.Handlers) > 0 && ar.use[addrOf(&r.Handlers[0])]
}

// match returns the path of the first non-Use route for c's method that matches c's path, as
// Fiber will route it, or "".
func (ar *appRoutes) match(c *fiber.Ctx) string {
	method, path := c.Method(), c.Path()
	ck := method + " " + path
	ar.mu.Lock()
	v, ok := ar.cache[ck]
	ar.mu.Unlock()
	if ok {
		return v
	}
	for _, p := range ar.routes[method] {
		if fiber.RoutePatternMatch(path, p, ar.cfg) {
			v = p
			break
		}
	}
	ar.mu.Lock()
	if len(ar.cache) >= maxRouteCache {
		clear(ar.cache)
	}
	ar.cache[strings.Clone(ck)] = v
	ar.mu.Unlock()
	return v
}
