package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
)

// TestNewRefusesClientsWithoutDeadlines: every kind of go-redis client New can be given is
// refused when it would ignore a decision's deadline, with an error that names the option
// and the server (issue 13, item 2); the same clients with ContextTimeoutEnabled are accepted.
func TestNewRefusesClientsWithoutDeadlines(t *testing.T) {
	const addr = "127.0.0.1:1"            // never dialled: New does no I/O
	type embedded struct{ *redis.Client } // a wrapper that embeds a client is read through it
	type opaque struct{ redis.Scripter }  // one that hides it is trusted
	cases := []struct {
		name   string
		client func() redis.Scripter
		want   []string // what the error names; none when accepted
	}{
		{"Client, default options", func() redis.Scripter { return redis.NewClient(&redis.Options{Addr: addr}) },
			[]string{"ContextTimeoutEnabled", "redis.Options", "Redis at 127.0.0.1:1", "ReadTimeout (5s)"}},
		{"Client", func() redis.Scripter { return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}) }, nil},
		{"Client, no timeouts but the context's", func() redis.Scripter {
			return redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1})
		}, []string{"ContextTimeoutEnabled", "with no read timeout at all"}},
		{"Client, ReadTimeout -2", func() redis.Scripter {
			return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: -2})
		}, []string{"ReadTimeout or WriteTimeout -2", "disables socket deadlines", "Redis at 127.0.0.1:1"}},
		{"Client, ReadTimeout -1 (none but the context's)", func() redis.Scripter {
			return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: -1})
		}, nil},
		{"ClusterClient, default options", func() redis.Scripter {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr, "127.0.0.1:2"}})
		}, []string{"ContextTimeoutEnabled", "redis.ClusterOptions", "Redis at 127.0.0.1:1,127.0.0.1:2"}},
		{"ClusterClient", func() redis.Scripter {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
		}, nil},
		{"Ring, default options", func() redis.Scripter {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}})
		}, []string{"ContextTimeoutEnabled", "redis.RingOptions", "a=127.0.0.1:1", "ReadTimeout (5s by default)"}},
		{"Ring", func() redis.Scripter {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}, ContextTimeoutEnabled: true})
		}, nil},
		{"Sentinel failover client, default options", func() redis.Scripter {
			return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{addr}})
		}, []string{"ContextTimeoutEnabled", "redis.Options", "FailoverOptions", "Sentinel failover client"}},
		{"Sentinel failover client", func() redis.Scripter {
			return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{addr}, ContextTimeoutEnabled: true})
		}, nil},
		{"UniversalClient, default options", func() redis.Scripter {
			return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
		}, []string{"ContextTimeoutEnabled", "UniversalOptions"}},
		{"UniversalClient for a cluster", func() redis.Scripter {
			return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr, "127.0.0.1:2"}, ContextTimeoutEnabled: true})
		}, nil},
		{"wrapper embedding a Client, default options", func() redis.Scripter {
			return embedded{redis.NewClient(&redis.Options{Addr: addr})}
		}, []string{"ContextTimeoutEnabled"}},
		{"opaque wrapper", func() redis.Scripter { return opaque{redis.NewClient(&redis.Options{Addr: addr})} }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := c.client()
			if cl, ok := client.(interface{ Close() error }); ok {
				defer cl.Close()
			}
			_, err := redisstore.New(client, redisstore.Config{})
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error naming %q", c.want)
			}
			for _, w := range append(c.want, "redisstore: ") {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not name %q", err, w)
				}
			}
			t.Logf("%v", err)
		})
	}
}

// TestDeadlineHolds stops a private redis-server (SIGSTOP: connections are accepted and
// requests buffered, nothing answers, as when Redis hangs) and measures decisions through a
// core.Limiter with a 100 ms budget on a client that New accepts: each returns in about its
// budget, degraded by the failure policy. A client without ContextTimeoutEnabled, which New
// refuses, waits for its ReadTimeout on the same server (issue 13: 2.57 s for one decision).
func TestDeadlineHolds(t *testing.T) {
	srv, c := newPausable(t, 4)
	s := newStore(t, c, false)
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	const budget = 100 * time.Millisecond
	lim, err := core.NewLimiter(core.Config{
		Store:   s,
		Rules:   []core.Rule{{Policy: core.NewFixedWindow("deadline", 10, time.Minute)}},
		Timeout: budget,
		Failure: core.FailOpen,
		Breaker: core.BreakerConfig{Failures: -1}, // every decision waits on the store
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without the option: the read deadline is ReadTimeout (2 s here, 5 s by default).
	plain := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true, ReadTimeout: 2 * time.Second})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err != nil { // a pooled connection, so no dial below
		t.Fatal(err)
	}

	srv.pause()
	var slowest time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		res, err := lim.AllowKey(ctx, "k", 1)
		took := time.Since(t0)
		slowest = max(slowest, took)
		if err != nil || res.Degraded != core.DegradedOpen {
			t.Fatalf("decision %d with Redis paused: %+v, %v; want allowed by FailOpen (the store did not answer)", i, res, err)
		}
		if took > time.Second {
			t.Fatalf("decision %d took %v with a %v budget", i, took, budget)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, budget)
	t0 := time.Now()
	perr := plain.Ping(pctx).Err()
	plainTook := time.Since(t0)
	cancel()
	srv.resume()
	t.Logf("Redis paused: 5 decisions with a %v budget, slowest %v; a PING with a %v deadline on a client without ContextTimeoutEnabled: %v (%v)",
		budget, slowest, budget, plainTook.Round(time.Millisecond), perr)
	if perr == nil || plainTook < time.Second {
		t.Fatalf("without ContextTimeoutEnabled a PING to the paused server took %v (%v); want about its ReadTimeout, 2 s: the server was not paused, or go-redis now honours deadlines by default", plainTook, perr)
	}
	if d, err := s.Take(ctx, "k2", core.NewFixedWindow("deadline", 10, time.Minute), 1, time.Now()); err != nil || !d.Allowed {
		t.Fatalf("after SIGCONT: %+v, %v; want the store deciding again", d, err)
	}
}
