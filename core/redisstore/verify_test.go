package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestVerify checks the startup check on a healthy server and on each way a deployment can be
// wrong: every error names the server and what is wrong, and Verify returns within its
// context's deadline even when Redis hangs.
func TestVerify(t *testing.T) {
	cases := []struct {
		name string
		// setup returns the store to verify; addr is the server the error must name.
		setup func(t *testing.T) (s *redisstore.Store, addr string)
		want  []string // what the error says; none for a healthy deployment
	}{
		{"healthy miniredis", func(t *testing.T) (*redisstore.Store, string) {
			mr := miniredis.RunT(t)
			return newStore(t, newClient(t, mr.Addr()), false), mr.Addr()
		}, nil},
		{"healthy redis-server", func(t *testing.T) (*redisstore.Store, string) {
			return newStore(t, newClient(t, testenv.RedisAddr(t)), false), ""
		}, nil},
		{"healthy redis-server, server time", func(t *testing.T) (*redisstore.Store, string) {
			return newStore(t, newClient(t, testenv.RedisAddr(t)), true), ""
		}, nil},
		{"server stopped", func(t *testing.T) (*redisstore.Store, string) {
			srv := testenv.StartRedis(t)
			s := newStore(t, newClient(t, srv.Addr), false)
			srv.Stop()
			return s, srv.Addr
		}, []string{"PING", "no answer before Verify's deadline"}},
		{"server hanging (SIGSTOP)", func(t *testing.T) (*redisstore.Store, string) {
			srv, c := newPausable(t, 1)
			srv.pause()
			return newStore(t, c, false), srv.Addr
		}, []string{"PING", "no answer before Verify's deadline"}},
		{"wrong password", func(t *testing.T) (*redisstore.Store, string) {
			srv := testenv.StartRedis(t)
			admin := newClient(t, srv.Addr)
			if err := admin.ConfigSet(context.Background(), "requirepass", "right").Err(); err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "wrong", DisableIdentity: true, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = c.Close() })
			return newStore(t, c, false), srv.Addr
		}, []string{"PING", "WRONGPASS"}},
		{"account without scripting (ACL)", func(t *testing.T) (*redisstore.Store, string) {
			srv := testenv.StartRedis(t)
			admin := newClient(t, srv.Addr)
			if err := admin.Do(context.Background(), "ACL", "SETUSER", "noscript", "on", ">pw", "~*", "&*", "+@all", "-@scripting").Err(); err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "noscript", Password: "pw", DisableIdentity: true, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = c.Close() })
			return newStore(t, c, false), srv.Addr
		}, []string{"SCRIPT LOAD", "NOPERM"}},
		{"client options changed after New", func(t *testing.T) (*redisstore.Store, string) {
			mr := miniredis.RunT(t)
			c := newClient(t, mr.Addr())
			s := newStore(t, c, false)
			c.Options().ContextTimeoutEnabled = false // Options returns the live options
			return s, mr.Addr()
		}, []string{"ContextTimeoutEnabled", "redis.Options"}},
		{"a script cannot run on the store's keys", func(t *testing.T) (*redisstore.Store, string) {
			mr := miniredis.RunT(t)
			s, err := redisstore.New(newClient(t, mr.Addr()), redisstore.Config{Prefix: "app:"})
			if err != nil {
				t.Fatal(err)
			}
			// Another program's string where the fixed window's hash would be.
			if err := mr.Set("app:{tollgate-verify:tollgate-verify}:fw", "x"); err != nil {
				t.Fatal(err)
			}
			return s, mr.Addr()
		}, []string{"fixed-window script", "WRONGTYPE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, addr := c.setup(t)
			const budget = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			t0 := time.Now()
			err := s.Verify(ctx)
			took := time.Since(t0)
			if took > budget+time.Second {
				t.Fatalf("Verify took %v with a %v deadline", took, budget)
			}
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify on a healthy deployment: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify: no error; want one that says %q", c.want)
			}
			t.Logf("Verify (%v): %v", took.Round(time.Millisecond), err)
			for _, w := range append(c.want, "redisstore: ", addr) {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Verify: %q does not say %q", err, w)
				}
			}
		})
	}
}
