package redisstore

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clientOptions is what New reads from a go-redis client: whether it honours a context's
// deadline on the socket, and where it connects (for error messages).
type clientOptions struct {
	known       bool   // a go-redis client whose options New can read
	options     string // the options type, for the error: "redis.Options", …
	addr        string // its address(es)
	ctxTimeout  bool
	read, write time.Duration
}

// inspect reads client's options. *redis.Client (also what NewFailoverClient and
// NewUniversalClient build for a single node or Sentinel), *redis.ClusterClient (also
// NewFailoverClusterClient) and *redis.Ring are all the kinds of [redis.UniversalClient];
// a wrapper that embeds one of them is read through it. Any other [redis.Scripter] is not
// known.
func inspect(client redis.Scripter) clientOptions {
	switch c := client.(type) {
	case interface{ Options() *redis.Options }:
		o := c.Options()
		return clientOptions{known: true, options: "redis.Options", addr: o.Addr,
			ctxTimeout: o.ContextTimeoutEnabled, read: o.ReadTimeout, write: o.WriteTimeout}
	case interface{ Options() *redis.ClusterOptions }:
		o := c.Options()
		return clientOptions{known: true, options: "redis.ClusterOptions", addr: strings.Join(o.Addrs, ","),
			ctxTimeout: o.ContextTimeoutEnabled, read: o.ReadTimeout, write: o.WriteTimeout}
	case interface{ Options() *redis.RingOptions }:
		o := c.Options()
		addrs := make([]string, 0, len(o.Addrs))
		for name, a := range o.Addrs {
			addrs = append(addrs, name+"="+a)
		}
		sort.Strings(addrs)
		return clientOptions{known: true, options: "redis.RingOptions", addr: strings.Join(addrs, ","),
			ctxTimeout: o.ContextTimeoutEnabled, read: o.ReadTimeout, write: o.WriteTimeout}
	}
	return clientOptions{}
}

// where names the server(s) in errors.
func (o clientOptions) where() string {
	switch o.addr {
	case "":
		return "Redis"
	case "FailoverClient": // what NewFailoverClient puts in Options.Addr
		return "Redis (a Sentinel failover client)"
	}
	return "Redis at " + o.addr
}

// wait says how long a stalled server holds a call that ignores the context's deadline.
func (o clientOptions) wait() string {
	if o.read > 0 {
		return fmt.Sprintf("for ReadTimeout (%v)", o.read)
	}
	if o.options == "redis.RingOptions" { // read before each shard's defaults apply
		return "for ReadTimeout (5s by default)"
	}
	return "with no read timeout at all"
}

// check returns an error when the client would not honour a decision's deadline: without
// ContextTimeoutEnabled, go-redis ignores the context's deadline on the socket and waits for
// ReadTimeout instead (issue 13: 2.57 s for a decision with a 100 ms budget, Redis paused);
// with a negative ReadTimeout or WriteTimeout (-2: "no SetReadDeadline calls") it sets no
// socket deadline at all.
func (o clientOptions) check() error {
	if !o.known {
		return nil
	}
	if !o.ctxTimeout {
		return fmt.Errorf("redisstore: the go-redis client for %s is built without ContextTimeoutEnabled, so a stalled server would hold every decision %s instead of the limiter's time budget: set ContextTimeoutEnabled: true in %s (or UniversalOptions, FailoverOptions)",
			o.where(), o.wait(), o.options)
	}
	if o.read < 0 || o.write < 0 {
		return fmt.Errorf("redisstore: the go-redis client for %s disables socket deadlines (ReadTimeout or WriteTimeout -2), so it would never apply a decision's deadline and a stalled server would hold the decision indefinitely: use 0 (the default), -1 or a duration in %s",
			o.where(), o.options)
	}
	return nil
}
