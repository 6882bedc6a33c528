package redisstore_test

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.RunChild(map[string]func() (string, error){
		"exact":  exactChild,
		"settle": settleChild,
	})
	os.Exit(m.Run())
}

// backend is a Redis server for one test: miniredis (unit tier) or redis-server (integration).
type backend struct {
	name string
	// client returns a client to the server, closed at the end of the test.
	client func(t testing.TB) *redis.Client
}

func miniBackend() backend {
	return backend{name: "miniredis", client: func(t testing.TB) *redis.Client {
		t.Helper()
		return newClient(t, miniredis.RunT(t).Addr())
	}}
}

func realBackend() backend {
	return backend{name: "redis-server", client: func(t testing.TB) *redis.Client {
		t.Helper()
		return newClient(t, testenv.RedisAddr(t))
	}}
}

func backends() []backend { return []backend{miniBackend(), realBackend()} }

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newStore returns a store with a key prefix unique to this test.
func newStore(t testing.TB, c redis.Scripter, serverTime bool) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, redisstore.Config{Prefix: testenv.UniqueName("tg-test") + ":", UseServerTime: serverTime})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), false)
			storetest.Run(t, s, storetest.Options{})
			storetest.RunConcurrency(t, s, storetest.Options{})
		})
	}
}

// counter is a go-redis hook that counts the commands sent (each one round trip: the store
// never pipelines), the scripts among them, and the connections dialled.
type counter struct {
	cmds, scripts, dials atomic.Int64
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.cmds.Add(1)
		switch cmd.Name() {
		case "evalsha", "eval":
			c.scripts.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
