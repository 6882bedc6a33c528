package tollgatefiber_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/tollgate-go/tollgate/adapters/adaptertest"
	tollgatefiber "github.com/tollgate-go/tollgate/adapters/fiber"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// conn is one client connection into a Fiber app: the request's bytes to read, the
// response's bytes written, and the peer address the test chooses. app.Test does the same
// with a fixed peer of 0.0.0.0, which cannot show keying by client address.
type conn struct {
	r      bytes.Buffer
	w      bytes.Buffer
	remote net.Addr
}

func (c *conn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *conn) Write(b []byte) (int, error)      { return c.w.Write(b) }
func (c *conn) Close() error                     { return nil }
func (c *conn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *conn) RemoteAddr() net.Addr             { return c.remote }
func (c *conn) SetDeadline(time.Time) error      { return nil }
func (c *conn) SetReadDeadline(time.Time) error  { return nil }
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

// transport serves each request as raw HTTP/1.1 over a conn whose peer is r.RemoteAddr,
// through the app's own fasthttp server.
func transport(app *fiber.App) adaptertest.Transport {
	app.Handler() // builds the routing tree, as app.Test and app.Listen do first
	return func(r *http.Request) (*http.Response, error) {
		host, port, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return nil, err
		}
		p, _ := strconv.Atoi(port)
		c := &conn{remote: &net.TCPAddr{IP: net.ParseIP(host), Port: p}}
		r.Header.Set("Connection", "close")
		dump, err := httputil.DumpRequest(r, true)
		if err != nil {
			return nil, err
		}
		c.r.Write(dump)
		if err := app.Server().ServeConn(c); err != nil {
			return nil, err
		}
		return http.ReadResponse(bufio.NewReader(&c.w), r)
	}
}

func newApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberrecover.New())
	return app
}

// TestConformance runs the shared adapter suite: the global guard is app.Use, a route's
// guard is route middleware.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, s adaptertest.Setup) adaptertest.Transport {
			app := newApp()
			for _, h := range guard(s.Global) {
				app.Use(h)
			}
			for _, rt := range s.Routes {
				work, status, cost := rt.Work, rt.Status, rt.ReportCost
				if status == 0 {
					status = fiber.StatusOK
				}
				handlers := append(guard(rt.Guard), func(c *fiber.Ctx) error {
					if work != nil {
						work()
					}
					if cost > 0 {
						core.ReportCost(c.UserContext(), cost)
					}
					c.Set(fiber.HeaderContentType, "text/plain")
					return c.Status(status).SendString(adaptertest.OK)
				})
				app.All(adaptertest.ColonPattern(rt.Pattern), handlers...)
			}
			return transport(app)
		},
		Route: adaptertest.ColonPattern,
	})
}

func guard(g adaptertest.Guard) []fiber.Handler {
	var next func(*fiber.Ctx) bool
	if g.Skip != nil {
		next = func(c *fiber.Ctx) bool { return g.Skip(c.Method(), c.Path()) }
	}
	var hs []fiber.Handler
	if g.Limiter != nil {
		hs = append(hs, tollgatefiber.New(tollgatefiber.Config{
			Limiter: g.Limiter, Next: next, MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers,
			SkipFailedRequests: g.SkipFailedRequests, SkipSuccessfulRequests: g.SkipSuccessfulRequests,
		}))
	}
	if g.Concurrency != nil {
		hs = append(hs, tollgatefiber.NewConcurrency(tollgatefiber.ConcurrencyConfig{
			Limiter: g.Concurrency, Next: next, MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers, Wait: g.Wait,
		}))
	}
	return hs
}

// TestKeyGeneratorAndFiberErrors keys by a KeyGenerator and answers denials and key errors
// through the app's ErrorHandler, with the rate-limit headers kept.
func TestKeyGeneratorAndFiberErrors(t *testing.T) {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 1, time.Minute)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	app := newApp()
	app.Use(tollgatefiber.New(tollgatefiber.Config{
		Limiter: l,
		KeyGenerator: func(c *fiber.Ctx) (string, error) {
			if k := c.Get("X-API-Key"); k != "" {
				return k, nil // fasthttp's buffer: the middleware copies it
			}
			return "", errors.New("no key")
		},
		LimitReached: func(c *fiber.Ctx, res *core.Result) error { return fiber.ErrTooManyRequests },
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return fiber.NewError(reply.Status(err, http.StatusUnauthorized), "no API key")
		},
	}))
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	tr := transport(app)
	send := func(key string) (int, string, http.Header) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "192.0.2.1:1"
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := tr(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	// Each key has its own allowance.
	for i := 0; i < 20; i++ {
		if code, body, _ := send("key-" + strconv.Itoa(10+i)); code != 200 {
			t.Fatalf("first request of key %d: %d %q", i, code, body)
		}
	}
	code, body, h := send("key-10")
	if code != http.StatusTooManyRequests || body != "Too Many Requests" || h.Get("Retry-After") == "" || h.Get("RateLimit") == "" {
		t.Fatalf("denial through the app's ErrorHandler: %d %q %v", code, body, h)
	}
	if code, body, _ := send(""); code != http.StatusUnauthorized || body != "no API key" {
		t.Fatalf("key generator error: %d %q", code, body)
	}
}

// TestConstructionRefusals: a nil limiter or an invalid option panics when the middleware is
// built, naming the field, as Fiber's middlewares do; there is no hidden default limiter.
func TestConstructionRefusals(t *testing.T) {
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, field string
		build       func()
	}{
		{"no config", "Config.Limiter", func() { tollgatefiber.New() }},
		{"nil limiter", "Config.Limiter", func() { tollgatefiber.New(tollgatefiber.Config{}) }},
		{"status 403", "Config.MissingKeyStatus", func() { tollgatefiber.New(tollgatefiber.Config{Limiter: l, MissingKeyStatus: 403}) }},
		{"nil concurrency limiter", "ConcurrencyConfig.Limiter", func() { tollgatefiber.NewConcurrency() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil || !strings.Contains(fmt.Sprint(v), tc.field) {
					t.Fatalf("panic %v, want one naming %s", v, tc.field)
				}
			}()
			tc.build()
		})
	}
}

// keepStore keeps every key it is given, as a naive store would, without copying.
type keepStore struct {
	mu   sync.Mutex
	keys []string
}

func (s *keepStore) Take(_ context.Context, key string, p core.Policy, _ int64, _ time.Time) (core.Decision, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return core.Decision{Allowed: true, Limit: p.Limit, Remaining: p.Limit - 1, Policy: p}, nil
}

// TestKeysOutliveTheRequest checks that keys read from the request (a header through the
// limiter's key function, or a KeyGenerator's) are not views of fasthttp's buffers, which
// the next request overwrites.
func TestKeysOutliveTheRequest(t *testing.T) {
	for _, viaGenerator := range []bool{false, true} {
		t.Run("KeyGenerator="+strconv.FormatBool(viaGenerator), func(t *testing.T) {
			store := &keepStore{}
			l, err := core.NewLimiter(core.Config{
				Store:           store,
				Key:             core.KeyByHeader("X-API-Key"),
				DenialCacheSize: -1,
				Rules:           []core.Rule{{Policy: core.NewFixedWindow("api", 100, time.Minute)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg := tollgatefiber.Config{Limiter: l}
			if viaGenerator {
				cfg.KeyGenerator = func(c *fiber.Ctx) (string, error) { return c.Get("X-API-Key"), nil }
			}
			app := newApp()
			app.Use(tollgatefiber.New(cfg))
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
			tr := transport(app)
			var want []string
			for i := 0; i < 20; i++ {
				key := "key-" + strconv.Itoa(10+i)
				want = append(want, key)
				req := httptest.NewRequest("GET", "/", nil)
				req.RemoteAddr = "192.0.2.1:1"
				req.Header.Set("X-API-Key", key)
				res, err := tr(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			if !slices.Equal(store.keys, want) {
				t.Fatalf("keys the store kept %q, want %q: keys alias fasthttp's buffers", store.keys, want)
			}
		})
	}
}
