package tollgategin_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-go/tollgate/adapters/adaptertest"
	tollgategin "github.com/tollgate-go/tollgate/adapters/gin"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// TestConformance runs the shared adapter suite: the global guard is r.Use, a route's guard
// is in front of that route's handler.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, s adaptertest.Setup) adaptertest.Transport {
			r := gin.New()
			r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
				c.AbortWithStatus(http.StatusInternalServerError)
			}))
			r.Use(guard(s.Global)...)
			for _, rt := range s.Routes {
				work, status, cost := rt.Work, rt.Status, rt.ReportCost
				if status == 0 {
					status = http.StatusOK
				}
				handlers := append(guard(rt.Guard), func(c *gin.Context) {
					if work != nil {
						work()
					}
					if cost > 0 {
						core.ReportCost(c.Request.Context(), cost)
					}
					c.Data(status, "text/plain", []byte(adaptertest.OK))
				})
				r.Any(adaptertest.ColonPattern(rt.Pattern), handlers...)
			}
			return adaptertest.ServeHTTP(r)
		},
		Route: adaptertest.ColonPattern,
	})
}

func guard(g adaptertest.Guard) []gin.HandlerFunc {
	o := tollgategin.Options{MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers,
		SkipFailedRequests: g.SkipFailedRequests, SkipSuccessfulRequests: g.SkipSuccessfulRequests}
	if g.Skip != nil {
		o.Skip = func(c *gin.Context) bool { return g.Skip(c.Request.Method, c.Request.URL.Path) }
	}
	var hs []gin.HandlerFunc
	if g.Limiter != nil {
		hs = append(hs, tollgategin.RateLimit(g.Limiter, o))
	}
	if g.Concurrency != nil {
		hs = append(hs, tollgategin.Concurrency(g.Concurrency, tollgategin.ConcurrencyOptions{Options: o, Wait: g.Wait}))
	}
	return hs
}

// TestCustomHandlers shows the deny and error hooks: a JSON body of the application's own
// shape, with the rate-limit headers still set, and the error recorded in c.Errors.
func TestCustomHandlers(t *testing.T) {
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{{Policy: core.NewFixedWindow("api", 1, time.Minute)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var logged []error
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			logged = append(logged, e.Err)
		}
	})
	r.Use(tollgategin.RateLimit(l, tollgategin.Options{
		DenyHandler: func(c *gin.Context, res *core.Result) {
			c.JSON(http.StatusTooManyRequests, gin.H{"error": "slow down", "retry_after_s": reply.Seconds(res.RetryAfter())})
		},
		ErrorHandler: func(c *gin.Context, err error) {
			c.JSON(reply.Status(err, http.StatusUnauthorized), gin.H{"error": "no API key"})
		},
	}))
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	send := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	if w := send("k"); w.Code != http.StatusOK {
		t.Fatalf("first request: %d", w.Code)
	}
	w := send("k")
	var body struct {
		Error      string `json:"error"`
		RetryAfter int    `json:"retry_after_s"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 429 || body.Error != "slow down" || body.RetryAfter < 1 {
		t.Fatalf("custom denial: %d %q (%v)", w.Code, w.Body, err)
	}
	if w.Header().Get("Retry-After") == "" || w.Header().Get("RateLimit") == "" {
		t.Fatalf("custom denial lost the rate-limit headers: %v", w.Header())
	}
	if w := send(""); w.Code != http.StatusUnauthorized || w.Body.String() != `{"error":"no API key"}` {
		t.Fatalf("custom error: %d %q", w.Code, w.Body)
	}
	if len(logged) != 1 || !errors.Is(logged[0], core.ErrMissingKey) {
		t.Fatalf("c.Errors after a key error: %v, want one ErrMissingKey", logged)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := tollgategin.New(core.Config{}, tollgategin.Options{}); err == nil {
		t.Fatal("New accepted a config without limits")
	}
	h, err := tollgategin.New(core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("x", 1, time.Minute)}}}, tollgategin.Options{})
	if err != nil || h == nil {
		t.Fatalf("New with the default store: %v", err)
	}
}
