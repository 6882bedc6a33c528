package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
)

// TestKeyEscapingEdges pins the key layout at the edges of the escaped set: the bytes
// just inside and outside it (space and '!', '~' and DEL) and a key of exactly 64 bytes, the
// longest stored as itself. Operators read these keys, and two releases that disagree on them
// would not share state.
func TestKeyEscapingEdges(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := redisstore.New(newClient(t, mr.Addr()), redisstore.Config{Prefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	plain64 := strings.Repeat("q", 64)
	for _, c := range []struct{ name, key, stored string }{
		{"n", " !", "app:{n:%20!}:fw"},
		{"n", "~\x7f", "app:{n:~%7F}:fw"},
		{"n", "\x00\xff", "app:{n:%00%FF}:fw"},
		{"n", "a%:{}#b", "app:{n:a%25%3A%7B%7D%23b}:fw"},
		{"n~!", "k", "app:{n~!:k}:fw"},
		{"n", plain64, "app:{n:" + plain64 + "}:fw"},
	} {
		if _, err := s.Take(ctx, c.key, core.NewFixedWindow(c.name, 5, time.Minute), 1, now); err != nil {
			t.Fatalf("name %q key %q: %v", c.name, c.key, err)
		}
		if !mr.Exists(c.stored) {
			t.Errorf("name %q key %q: no key %q; keys are %q", c.name, c.key, c.stored, mr.Keys())
		}
	}
}

// TestTakeAtTheEpoch: the first instant the store accepts is the Unix epoch itself; the
// nanosecond before it is refused, changing nothing.
func TestTakeAtTheEpoch(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, newClient(t, mr.Addr()), false)
	p := core.NewFixedWindow("epoch", 2, time.Minute)
	ctx := context.Background()
	if d, err := s.Take(ctx, "k", p, 1, time.Unix(0, 0)); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("Take at the epoch: %+v, %v; want allowed, 1 remaining", d, err)
	}
	if _, err := s.Take(ctx, "k", p, 1, time.Unix(0, -1)); err == nil || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Fatalf("Take 1 ns before the epoch: %v; want a redisstore: error", err)
	}
	if d, err := s.Take(ctx, "k", p, 0, time.Unix(0, 0)); err != nil || d.Remaining != 1 {
		t.Fatalf("after the refusal: %+v, %v; want 1 remaining (nothing spent)", d, err)
	}
}

// TestAdjustTATBounds walks Adjust's token-bucket bounds exactly: a refund of MaxTAT's worth
// of intervals is applied (the TAT floors at now), one interval more is refused before any I/O;
// a charge of MaxTAT's worth passes that check and is refused by the script because the TAT
// would pass MaxTAT. Each refusal says which bound, and MaxTAT is 2240-01-01.
func TestAdjustTATBounds(t *testing.T) {
	if got := time.Unix(0, redisstore.MaxTAT).UTC(); !got.Equal(time.Date(2240, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("MaxTAT is %v; the documented bound is 2240-01-01", got)
	}
	mr := miniredis.RunT(t)
	s := newStore(t, newClient(t, mr.Addr()), false)
	ctx := context.Background()
	now := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	tb := core.NewTokenBucket("tat-bounds", 1, time.Hour, 1)
	most := redisstore.MaxTAT / int64(tb.EmissionInterval())

	if _, err := s.Adjust(ctx, "k", tb, -most, now); err != nil {
		t.Fatalf("refund of %d intervals (the bound): %v; want it applied", most, err)
	}
	_, err := s.Adjust(ctx, "k", tb, -most-1, now)
	if !errors.Is(err, redisstore.ErrAdjustOutOfRange) || !strings.Contains(err.Error(), "moves the TAT by more than MaxTAT") {
		t.Fatalf("refund of %d intervals: %v; want ErrAdjustOutOfRange saying it moves the TAT by more than MaxTAT", most+1, err)
	}
	_, err = s.Adjust(ctx, "k", tb, most, now)
	if !errors.Is(err, redisstore.ErrAdjustOutOfRange) || !strings.Contains(err.Error(), "a TAT past MaxTAT (2240-01-01T00:00:00Z)") {
		t.Fatalf("charge of %d intervals: %v; want ErrAdjustOutOfRange naming a TAT past MaxTAT (2240-01-01T00:00:00Z)", most, err)
	}
	if d, err := s.Take(ctx, "k", tb, 1, now); err != nil || !d.Allowed {
		t.Fatalf("after the refusals: %+v, %v; want the bucket untouched (allowed)", d, err)
	}

	fw := core.NewFixedWindow("count-bounds", 10, time.Hour)
	if _, err := s.Adjust(ctx, "k", fw, redisstore.MaxWindowCount, now); err != nil {
		t.Fatalf("charge up to MaxWindowCount: %v", err)
	}
	_, err = s.Adjust(ctx, "k", fw, 1, now)
	if !errors.Is(err, redisstore.ErrAdjustOutOfRange) || !strings.Contains(err.Error(), "a count above MaxWindowCount") {
		t.Fatalf("charge past MaxWindowCount: %v; want ErrAdjustOutOfRange naming a count above MaxWindowCount", err)
	}
}

// TestVerifyRingNamesTheShard: Verify on a Ring asks every shard and, when one fails, says
// which (the shard's error, with its address), as on a single client.
func TestVerifyRingNamesTheShard(t *testing.T) {
	good, bad := miniredis.RunT(t), miniredis.RunT(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:                 map[string]string{"good": good.Addr(), "bad": bad.Addr()},
		ContextTimeoutEnabled: true, DisableIdentity: true,
	})
	t.Cleanup(func() { _ = ring.Close() })
	s, err := redisstore.New(ring, redisstore.Config{Prefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify on two healthy shards: %v", err)
	}
	// One shard now refuses the store's connections (a password was set on it).
	bad.RequireAuth("secret")
	err = s.Verify(ctx)
	if err == nil {
		t.Fatal("Verify: no error with a shard that refuses every command")
	}
	for _, w := range []string{"redisstore: ", "PING", "Redis at " + bad.Addr()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Verify: %q does not say %q", err, w)
		}
	}
}
