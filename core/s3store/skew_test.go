package s3store_test

import (
	"testing"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storetest"
)

// TestSkew runs storetest.RunSkew with two instances of the store (two clients, two caches)
// on one bucket, whose clocks are 2 s and 50 ms apart: compare-and-swap mode applies core's
// math, so a lagging instance is counted against the stored, newer window; marker mode keeps
// one set of slot objects per window, so a lagging instance claims slots of its own (older)
// window, each of which admits at most Limit. Either way RunSkew's bound holds (see the
// package documentation, "Clock skew").
func TestSkew(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			second := newClient(t, b.endpoint, b.access, b.secret)
			t.Run("CAS", func(t *testing.T) {
				cfg := s3store.Config{Bucket: b.bucket, Prefix: "skew-cas/"}
				storetest.RunSkew(t, newStore(t, b.client, cfg), newStore(t, second, cfg),
					storetest.SkewOptions{Store: "s3-cas-" + name})
			})
			t.Run("Marker", func(t *testing.T) {
				cfg := s3store.Config{Bucket: b.bucket, Prefix: "skew-marker/", Mode: s3store.Marker}
				storetest.RunSkew(t, newStore(t, b.client, cfg), newStore(t, second, cfg),
					storetest.SkewOptions{Store: "s3-marker-" + name, Algorithms: []core.Algorithm{core.FixedWindow}})
			})
		})
	}
}
