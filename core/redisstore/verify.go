package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
)

// Verify checks, with I/O, that the store can decide: call it once at startup, after [New],
// and refuse to start when it fails. New does no I/O, so that building a store never blocks
// and tests can build one without a server; Verify is the one call that talks to Redis, so an
// app decides itself whether an unreachable Redis stops its start (most should: under
// FailOpen, every request would otherwise be admitted without a word).
//
// Verify checks, in order, and stops at the first failure with an error that names the
// server's address and what is wrong:
//
//   - the client's options: it honours a decision's deadline (ContextTimeoutEnabled, socket
//     deadlines not disabled), as New checks, in case they were changed since;
//   - every server answers PING: each master of a Cluster, each shard of a Ring;
//   - every server loads the scripts (SCRIPT LOAD), so even the first decision is one round
//     trip, and an account whose ACL forbids scripting is found now;
//   - each script runs on this deployment as a decision does, on a key of this store's
//     prefix: a fixed, sliding and token bucket Take of cost 0 and a lease Release of an
//     unknown lease, none of which writes anything. This finds what loading cannot: a proxy
//     that cannot route EVALSHA, a Cluster that answers CROSSSLOT, a reply the store cannot
//     read.
//
// Verify honours ctx's deadline; give it one (a few seconds), or a stalled Redis stalls the
// start.
func (s *Store) Verify(ctx context.Context) error {
	o := inspect(s.client)
	if err := o.check(); err != nil {
		return err
	}
	err := s.eachNode(ctx, func(ctx context.Context, node redis.Scripter, where string) error {
		if p, ok := node.(interface {
			Ping(context.Context) *redis.StatusCmd
		}); ok {
			if err := p.Ping(ctx).Err(); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					// go-redis retries a refused dial until the deadline and logs the cause.
					return fmt.Errorf("redisstore: Verify: PING %s: no answer before Verify's deadline (server down, unreachable or hanging): %w", where, err)
				}
				return fmt.Errorf("redisstore: Verify: PING %s: %w", where, err)
			}
		}
		if err := loadScripts(ctx, node); err != nil {
			return fmt.Errorf("redisstore: Verify: SCRIPT LOAD on %s: %w", where, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now()
	for _, p := range []core.Policy{
		core.NewFixedWindow(verifyName, 1, time.Second),
		core.NewSlidingWindow(verifyName, 1, time.Second),
		core.NewTokenBucket(verifyName, 1, time.Second, 1),
	} {
		if _, err := s.Take(ctx, verifyName, p, 0, now); err != nil {
			return dryRunError{fmt.Sprintf("the %s script on %s", p.Algorithm, o.where()), err}
		}
	}
	lease := core.NewConcurrency(verifyName, 1, time.Second)
	if err := s.Release(ctx, verifyName, lease, verifyName, now); err != nil {
		return dryRunError{"the lease script on " + o.where(), err}
	}
	return nil
}

// dryRunError is a failed dry call: what ran where, and the store's error, whose own
// "redisstore: " prefix it drops from the message so that the package is named once.
type dryRunError struct {
	what string
	err  error
}

func (e dryRunError) Error() string {
	return "redisstore: Verify: " + e.what + ": " + strings.TrimPrefix(e.err.Error(), "redisstore: ")
}

func (e dryRunError) Unwrap() error { return e.err }

// loadScripts loads every script on node.
func loadScripts(ctx context.Context, node redis.Scripter) error {
	for _, sc := range allScripts {
		if err := sc.Load(ctx, node).Err(); err != nil {
			return err
		}
	}
	return nil
}

// verifyName is the policy name, key and lease id of Verify's dry calls.
const verifyName = "tollgate-verify"

// eachNode runs fn on every server that decisions may reach: each master of a Cluster (where
// the scripts run), each shard of a Ring, or the client itself, and returns the first error.
// An error fn did not return (a Cluster whose slots could not be read, say) is wrapped with
// the deployment's addresses.
func (s *Store) eachNode(ctx context.Context, fn func(ctx context.Context, node redis.Scripter, where string) error) error {
	each := func(ctx context.Context, c *redis.Client) error {
		if err := fn(ctx, c, "Redis at "+c.Options().Addr); err != nil {
			return nodeError{err}
		}
		return nil
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, each)
	case *redis.Ring:
		err = c.ForEachShard(ctx, each)
	default:
		return fn(ctx, s.client, s.opts.where())
	}
	var ne nodeError
	if errors.As(err, &ne) {
		return ne.err
	}
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", s.opts.where(), err)
	}
	return nil
}

// nodeError marks an error that fn returned for one node, and already names it.
type nodeError struct{ err error }

func (e nodeError) Error() string { return e.err.Error() }
