package status_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/status"
)

// One page per process, one observer per limiter; the page is mounted on an operator-only
// mux, never on the application's public one.
func Example() {
	page, err := status.New(status.Options{Keys: status.KeysRaw})
	if err != nil {
		panic(err)
	}
	store := memstore.New()
	login := core.NewFixedWindow("login", 3, time.Minute)
	lim, err := core.NewLimiter(core.Config{
		Store: store,
		Rules: []core.Rule{{Policy: login}},
		Observer: page.Observer(observe.Limiter{Name: "login", Store: store,
			Policies: []core.Policy{login}, Failure: core.FailClosed}),
	})
	if err != nil {
		panic(err)
	}
	for range 5 {
		_, _ = lim.AllowKey(context.Background(), "192.0.2.7", 1)
	}

	admin := http.NewServeMux()
	admin.Handle("GET /tollgate", page) // ?format=json for JSON
	// go http.ListenAndServe("127.0.0.1:9090", admin)

	for _, l := range page.Snapshot().Limiters {
		fmt.Println(l.Name, l.Health, l.Failure.Policy)
		for _, p := range l.Policies {
			fmt.Println(" ", p.Name, p.Rule, "allowed", p.Decisions["allowed"], "denied", p.Decisions["denied"])
		}
		for _, d := range l.TopDenied {
			fmt.Println("  most denied:", d.Key, d.Policy, d.Denied)
		}
	}
	// Output:
	// login ok fail-closed
	//   login 3 per 1m0s allowed 3 denied 2
	//   most denied: 192.0.2.7 login 2
}
