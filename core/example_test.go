package core_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// A limiter with a burst limit and a daily quota, driven by a fixed clock.
func ExampleLimiter() {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	l, err := core.NewLimiter(core.Config{
		Store: memstore.New(),
		Rules: []core.Rule{
			{Policy: core.NewFixedWindow("burst", 2, time.Second)},
			{Policy: core.NewFixedWindow("daily", 1000, 24*time.Hour)},
		},
		Now: func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		res, _ := l.AllowKey(context.Background(), "api-key-1", 1)
		fmt.Println(res.Allowed, res.RetryAfter())
	}
	// Output:
	// true 0s
	// true 0s
	// false 1s
}

// Keying by client address behind a load balancer at 10.0.0.0/8.
func ExampleKeyByIPBehindProxies() {
	key, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}})
	if err != nil {
		panic(err)
	}
	k, _ := key(req("10.0.0.5:443", "X-Forwarded-For", "6.6.6.6, 198.51.100.7"))
	fmt.Println(k)
	k, _ = key(req("198.51.100.9:5555", "X-Forwarded-For", "6.6.6.6"))
	fmt.Println(k)
	// Output:
	// 198.51.100.7
	// 198.51.100.9
}
