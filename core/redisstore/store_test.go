package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
)

func TestNewRejects(t *testing.T) {
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Errorf("nil client: %v, want a redisstore: error", err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer c.Close()
	for _, prefix := range []string{"app{x}:", "a}"} {
		if _, err := redisstore.New(c, redisstore.Config{Prefix: prefix}); err == nil {
			t.Errorf("prefix %q accepted; braces would change the Cluster hash tag", prefix)
		}
	}
}

func TestRefusals(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, newClient(t, mr.Addr()), false)
	ctx := context.Background()
	now := time.Now()
	huge := core.NewFixedWindow("huge", redisstore.MaxWindowLimit+1, time.Hour)
	if _, err := s.Take(ctx, "k", huge, 1, now); !errors.Is(err, core.ErrInvalidPolicy) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Errorf("limit above MaxWindowLimit: %v, want a redisstore: error wrapping ErrInvalidPolicy", err)
	}
	if d, err := s.Take(ctx, "k", core.NewFixedWindow("max", redisstore.MaxWindowLimit, time.Hour), redisstore.MaxWindowLimit, now); err != nil || !d.Allowed || d.Remaining != 0 {
		t.Errorf("a take of MaxWindowLimit: %+v, %v; want allowed with nothing remaining", d, err)
	}
	if _, err := s.Take(ctx, "k", core.NewFixedWindow("old", 1, time.Hour), 1, time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)); err == nil {
		t.Error("a time before 1970 accepted")
	}
	if _, err := s.Acquire(ctx, "k", core.NewConcurrency("old", 1, time.Hour), "a", time.Unix(-1, 0)); err == nil {
		t.Error("a lease before 1970 accepted")
	}
	if keys := mr.Keys(); len(keys) != 1 {
		t.Errorf("refused calls wrote keys: %q, want only the MaxWindowLimit one", keys)
	}
}

// TestBackendErrorsWrapped checks that a failure of the server reaches the caller wrapped, with
// the package prefix, and changes nothing.
func TestBackendErrorsWrapped(t *testing.T) {
	mr := miniredis.RunT(t)
	c := newClient(t, mr.Addr())
	s, err := redisstore.New(c, redisstore.Config{Prefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	// A key of the wrong type where the fixed window's hash should be.
	if err := mr.Set("app:{api:k}:fw", "not a hash"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Take(context.Background(), "k", core.NewFixedWindow("api", 1, time.Hour), 1, time.Now())
	var rerr redis.Error
	if !errors.As(err, &rerr) || !strings.HasPrefix(err.Error(), "redisstore: ") || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("WRONGTYPE from the server: %v; want a redisstore: error wrapping the redis.Error", err)
	}
	mr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Take(ctx, "k", core.NewTokenBucket("api", 1, time.Hour, 1), 1, time.Now())
	if err == nil || !strings.HasPrefix(err.Error(), "redisstore: ") || errors.Is(err, core.ErrInvalidKey) || errors.Is(err, core.ErrInvalidPolicy) {
		t.Fatalf("server gone: %v; want a redisstore: backend error (not a caller error)", err)
	}
}

// TestKeyLayout checks the documented key names, their relative TTLs and the stored values.
func TestKeyLayout(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := redisstore.New(newClient(t, mr.Addr()), redisstore.Config{Prefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2030, 6, 1, 12, 0, 20, 0, time.UTC)
	take := func(p core.Policy, key string) {
		t.Helper()
		if d, err := s.Take(ctx, key, p, 1, now); err != nil || !d.Allowed {
			t.Fatalf("%s: %+v, %v", p.Name, d, err)
		}
	}
	take(core.NewFixedWindow("api", 5, time.Minute), "user:1{x} %")
	take(core.NewSlidingWindow("api", 5, time.Minute), "u")
	take(core.NewTokenBucket("api", 1, time.Second, 5), "u")
	long := strings.Repeat("z", 65)
	take(core.NewFixedWindow("api", 5, time.Minute), long)
	if _, err := s.Acquire(ctx, "u", core.NewConcurrency("jobs", 2, time.Minute), "lease-1", now); err != nil {
		t.Fatal(err)
	}
	for key, ttl := range map[string]time.Duration{
		"app:{api:user%3A1%7Bx%7D%20%25}:fw": 40*time.Second + time.Second,  // to the end of the minute, plus the slack
		"app:{api:u}:sw":                     100*time.Second + time.Second, // the next window too
		"app:{api:u}:tb":                     time.Second + time.Second,     // the TAT
		"app:{jobs:u}:cz":                    time.Minute + time.Second,     // the lease
		"app:{jobs:u}:ch":                    time.Minute + time.Second,
	} {
		if !mr.Exists(key) {
			t.Errorf("key %q missing; keys are %q", key, mr.Keys())
			continue
		}
		if got := mr.TTL(key); got != ttl {
			t.Errorf("key %q: TTL %v, want %v", key, got, ttl)
		}
	}
	var hashed int
	for _, k := range mr.Keys() {
		if strings.HasPrefix(k, "app:{api:#") && strings.HasSuffix(k, "}:fw") {
			hashed++
			if len(k) != len("app:{api:#}:fw")+43 {
				t.Errorf("hashed key %q: want # and 43 base64url characters", k)
			}
		}
	}
	if hashed != 1 {
		t.Errorf("the 65-byte key: %d hashed keys among %q, want 1", hashed, mr.Keys())
	}
	tat, err := mr.Get("app:{api:u}:tb")
	if want := strconv.FormatInt(now.Add(time.Second).UnixNano(), 10); err != nil || tat != want {
		t.Errorf("stored TAT %q, %v; want %s (decimal nanoseconds)", tat, err, want)
	}
	if got := mr.HGet("app:{jobs:u}:ch", "lease-1"); got != strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10) {
		t.Errorf("stored lease expiry %q, want decimal nanoseconds of now+1m", got)
	}
}

// TestKeysDoNotCollide checks names and keys that a naive "name:key" layout would mix up.
func TestKeysDoNotCollide(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, newClient(t, mr.Addr()), false)
	ctx := context.Background()
	now := time.Now()
	pairs := []struct{ name, key string }{
		{"x:a", "b"}, {"x", "a:b"}, {"x", "a%3Ab"}, {"x}", "a"}, {"x", "}a"}, {"x", "#a"},
		{"x", strings.Repeat("q", 64)}, {"x", strings.Repeat("q", 65)}, {"x", strings.Repeat("q", 66)},
	}
	for _, pr := range pairs {
		p := core.NewFixedWindow(pr.name, 1, time.Hour)
		if d, err := s.Take(ctx, pr.key, p, 1, now); err != nil || !d.Allowed {
			t.Fatalf("name %q key %q: %+v, %v; want a fresh allowance (another pair's state was used)", pr.name, pr.key, d, err)
		}
	}
	// One name under two algorithms: separate state, as in core/memstore.
	fw := core.NewFixedWindow("same", 1, time.Hour)
	sw := core.NewSlidingWindow("same", 1, time.Hour)
	for _, p := range []core.Policy{fw, sw} {
		if d, err := s.Take(ctx, "k", p, 1, now); err != nil || !d.Allowed {
			t.Fatalf("%s under name %q: %+v, %v; want fresh state", p.Algorithm, p.Name, d, err)
		}
	}
}
