package tollgatefiber

import (
	"strings"
	"sync"

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

var apps sync.Map // *fiber.App → *appRoutes

func routesOf(app *fiber.App) *appRoutes {
	if v, ok := apps.Load(app); ok {
		if ar := v.(*appRoutes); ar.count == app.HandlersCount() {
			return ar
		}
	}
	ar := buildRoutes(app)
	apps.Store(app, ar)
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
