package observe

import (
	"context"

	"github.com/tollgate-go/tollgate/core"
)

// Tee returns an observer that hands every event to each of obs in order: metrics and the
// status page for one limiter, say. Nil observers are dropped; with none left Tee returns nil
// (a limiter with a nil Observer skips the work of building events), with one it returns that
// one.
func Tee(obs ...core.Observer) core.Observer {
	var t tee
	for _, o := range obs {
		if o != nil {
			t = append(t, o)
		}
	}
	switch len(t) {
	case 0:
		return nil
	case 1:
		return t[0]
	}
	return t
}

type tee []core.Observer

func (t tee) Observe(ctx context.Context, e core.Event) {
	for _, o := range t {
		o.Observe(ctx, e)
	}
}
