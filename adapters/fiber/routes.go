package tollgatefiber

import (
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
// its handler slice's backing array, which GetRoutes' copies share with the stack's routes.
type appRoutes struct {
	count  uint32
	use    map[*fiber.Handler]bool
	routes map[string][]string // method → non-Use route paths, in matching order
	cfg    fiber.Config

	mu    sync.Mutex
	cache map[string]string // "METHOD path" → matched route path ("" for none)
}

// maxRouteCache bounds the per-app cache of matched paths (paths are client-controlled).
const maxRouteCache = 4096

// apps holds the route table of each live app, keyed by a weak pointer to it: Fiber gives a
// middleware no place of its own to keep what it learns of an app, and the request (a
// core.Request holding only the *fiber.Ctx, so that it converts to an interface without
// allocating) cannot carry one. Weak keys keep no app alive, and each app's entry is deleted
// when the app is collected (runtime.AddCleanup), so the table holds the tables of the apps
// in use and nothing longer: a test suite that builds thousands of apps does not grow it.
var apps sync.Map // weak.Pointer[fiber.App] → *appRoutes

// weakOf is the key of app in apps.
func weakOf(app *fiber.App) weak.Pointer[fiber.App] { return weak.Make(app) }

func routesOf(app *fiber.App) *appRoutes {
	k := weakOf(app)
	if v, ok := apps.Load(k); ok {
		if ar := v.(*appRoutes); ar.count == app.HandlersCount() {
			return ar
		}
	}
	ar := buildRoutes(app)
	if _, loaded := apps.Swap(k, ar); !loaded {
		runtime.AddCleanup(app, func(k weak.Pointer[fiber.App]) { apps.Delete(k) }, k)
	}
	return ar
}

func buildRoutes(app *fiber.App) *appRoutes {
	ar := &appRoutes{
		count:  app.HandlersCount(),
		use:    map[*fiber.Handler]bool{},
		routes: map[string][]string{},
		cfg:    app.Config(),
		cache:  map[string]string{},
	}
	plain := map[*fiber.Handler]bool{}
	for _, r := range app.GetRoutes(true) {
		if len(r.Handlers) > 0 {
			plain[&r.Handlers[0]] = true
			ar.routes[r.Method] = append(ar.routes[r.Method], r.Path)
		}
	}
	for _, routes := range app.Stack() {
		for _, r := range routes {
			if len(r.Handlers) > 0 && !plain[&r.Handlers[0]] {
				ar.use[&r.Handlers[0]] = true
			}
		}
	}
	return ar
}

// isUse reports whether r is a Use route (app.Use, group.Use).
func (ar *appRoutes) isUse(r *fiber.Route) bool {
	return r != nil && len(r.Handlers) > 0 && ar.use[&r.Handlers[0]]
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
