package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// usageStore is what the usage commands need of a store: decisions of cost 0 (show),
// adjustments (grant) and resets.
type usageStore interface {
	core.Store
	storekit.Adjuster
	storekit.Resetter
}

// backend is an opened store for the usage commands.
type backend struct {
	name  string // dynamodb, redis, s3
	where string // which table, server or bucket, for people
	store usageStore
	// leases reads a concurrency key's leases without changing them.
	leases func(ctx context.Context, key string, p core.Policy, now time.Time) (storekit.Leases, error)
	// wrap names where in a store error (and says what to do when the table or bucket does
	// not exist).
	wrap func(error) error
	// notes are said after a reset: what the store's other users may still do.
	resetNotes func(ps []core.Policy) []string
	close      func()
}

// storeFlags are the connection flags of the usage commands, for the three stores.
type storeFlags struct {
	store    string
	prefix   string
	dynamo   dynamoFlags // -table, -endpoint, -region, -partition-key, -expiry-attribute, -timeout
	redis    string
	bucket   string
	s3Mode   string
	explicit map[string]bool // the flags given on the command line
}

// flagsOf lists each store's own flags, so that a flag of another store is refused rather
// than silently ignored.
var flagsOf = map[string][]string{
	"dynamodb": {"table", "partition-key", "expiry-attribute", "endpoint", "region"},
	"redis":    {"redis-addr"},
	"s3":       {"bucket", "s3-mode", "endpoint", "region"},
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", "the store: dynamodb, redis or s3 (required)")
	fs.StringVar(&f.prefix, "prefix", "", `the store's key prefix: dynamostore Config.KeyPrefix, redisstore or s3store Config.Prefix (default: the store's default: none, "`+redisstore.DefaultPrefix+`", "`+s3store.DefaultPrefix+`")`)
	fs.StringVar(&f.dynamo.table, "table", "", "dynamodb: the table (required)")
	fs.StringVar(&f.dynamo.pk, "partition-key", dynamostore.DefaultPartitionKey, "dynamodb: name of the string partition key")
	fs.StringVar(&f.dynamo.exp, "expiry-attribute", dynamostore.DefaultExpiryAttribute, "dynamodb: name of the TTL attribute")
	fs.StringVar(&f.dynamo.endpoint, "endpoint", "", "dynamodb, s3: endpoint URL of a local or S3-compatible server, e.g. http://127.0.0.1:8000 for dynalite (default: the AWS environment's); with it, DynamoDB needs no credentials and S3 uses path-style addressing")
	fs.StringVar(&f.dynamo.region, "region", "", "dynamodb, s3: AWS region (default: the AWS environment's; us-east-1 with -endpoint)")
	fs.StringVar(&f.redis, "redis-addr", "", "redis: host:port, several host:port,host:port for a Redis Cluster, or a redis:// or rediss:// URL (with a password, a database) (required)")
	fs.StringVar(&f.bucket, "bucket", "", "s3: the bucket (required)")
	fs.StringVar(&f.s3Mode, "s3-mode", "cas", "s3: the store's Config.Mode: cas (compare-and-swap) or marker")
	fs.DurationVar(&f.dynamo.timeout, "timeout", 30*time.Second, "give up after this long")
}

// check refuses a missing -store, an unknown one, and flags that belong to another store.
func (f *storeFlags) check(fs *flag.FlagSet) error {
	f.explicit = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.explicit[fl.Name] = true })
	own, ok := flagsOf[f.store]
	switch {
	case f.store == "":
		return usagef("-store is required: dynamodb, redis or s3")
	case !ok:
		return usagef("-store %q: want dynamodb, redis or s3", f.store)
	}
	for _, name := range []string{"table", "partition-key", "expiry-attribute", "redis-addr", "bucket", "s3-mode", "endpoint", "region"} {
		if f.explicit[name] && !slices.Contains(own, name) {
			return usagef("-%s does not apply to -store %s (it is a flag of -store %s)", name, f.store, storesOf(name))
		}
	}
	switch f.store {
	case "dynamodb":
		if f.dynamo.table == "" {
			return usagef("-table is required with -store dynamodb")
		}
	case "redis":
		if f.redis == "" {
			return usagef("-redis-addr is required with -store redis")
		}
	case "s3":
		if f.bucket == "" {
			return usagef("-bucket is required with -store s3")
		}
		if f.s3Mode != "cas" && f.s3Mode != "marker" {
			return usagef("-s3-mode %q: want cas or marker", f.s3Mode)
		}
	}
	if f.dynamo.timeout <= 0 {
		return usagef("-timeout %v must be positive", f.dynamo.timeout)
	}
	return nil
}

// storesOf names the stores that take flag name.
func storesOf(name string) string {
	var out []string
	for s, flags := range flagsOf {
		if slices.Contains(flags, name) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " or -store ")
}

// open builds the store of the flags. It makes no call.
func (f *storeFlags) open(ctx context.Context) (*backend, error) {
	switch f.store {
	case "dynamodb":
		return f.openDynamo(ctx)
	case "redis":
		return f.openRedis()
	default:
		return f.openS3(ctx)
	}
}

func (f *storeFlags) openDynamo(ctx context.Context) (*backend, error) {
	c, err := f.dynamo.client(ctx)
	if err != nil {
		return nil, err
	}
	s, err := dynamostore.New(c, dynamostore.Config{Table: f.dynamo.table, PartitionKey: f.dynamo.pk, ExpiryAttribute: f.dynamo.exp, KeyPrefix: f.prefix})
	if err != nil {
		return nil, usageError{err.Error()}
	}
	where := fmt.Sprintf("DynamoDB table %q", f.dynamo.table)
	if f.dynamo.endpoint != "" {
		where += " at " + f.dynamo.endpoint
	}
	if f.prefix != "" {
		where += fmt.Sprintf(", key prefix %q", f.prefix)
	}
	return &backend{
		name: "dynamodb", where: where, store: s, wrap: f.dynamo.tableError, close: func() {},
		leases: func(ctx context.Context, key string, p core.Policy, now time.Time) (storekit.Leases, error) {
			info, err := s.InspectAt(ctx, key, p, now)
			if err != nil {
				return nil, err
			}
			ls := make(storekit.Leases, len(info.Leases))
			for id, exp := range info.Leases {
				ls[id] = exp.UnixNano()
			}
			return ls, nil
		},
		resetNotes: func(ps []core.Policy) []string {
			for _, p := range ps {
				if p.Algorithm == core.SlidingWindow {
					return []string{"running dynamostore instances that cached the previous window's count of a sliding window (" +
						fmt.Sprintf("%q", p.Name) + ") weigh it until the current window ends"}
				}
			}
			return nil
		},
	}, nil
}

func init() {
	// go-redis logs each failed dial to stderr on its own; the command reports the error
	// once, with the server's address, so its logger is silenced. Set before any client
	// exists, as go-redis requires (its logger is a plain package variable).
	redis.SetLogger(quietRedis{})
}

// quietRedis is a go-redis logger that drops everything.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// redisClient returns a client for -redis-addr and the server(s) to name in messages.
func redisClient(addr string) (redis.UniversalClient, string, error) {
	if strings.Contains(addr, "://") {
		o, err := redis.ParseURL(addr)
		if err != nil {
			return nil, "", usagef("-redis-addr: %v", err)
		}
		o.ContextTimeoutEnabled = true
		o.DisableIdentity = true
		return redis.NewClient(o), "Redis at " + o.Addr, nil
	}
	addrs := strings.Split(addr, ",")
	for _, a := range addrs {
		if !strings.Contains(a, ":") {
			return nil, "", usagef("-redis-addr %q: want host:port (several, comma-separated, for a Cluster) or a redis:// URL", addr)
		}
	}
	if len(addrs) == 1 {
		return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DisableIdentity: true}), "Redis at " + addr, nil
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true, DisableIdentity: true}), "the Redis Cluster at " + addr, nil
}

func (f *storeFlags) openRedis() (*backend, error) {
	c, servers, err := redisClient(f.redis)
	if err != nil {
		return nil, err
	}
	s, err := redisstore.New(c, redisstore.Config{Prefix: f.prefix})
	if err != nil {
		_ = c.Close()
		return nil, usageError{err.Error()}
	}
	prefix := f.prefix
	if prefix == "" {
		prefix = redisstore.DefaultPrefix
	}
	where := fmt.Sprintf("%s, prefix %q", servers, prefix)
	return &backend{
		name: "redis", where: where, store: s, close: func() { _ = c.Close() },
		wrap: func(err error) error { return fmt.Errorf("%s: %w", where, err) },
		leases: func(ctx context.Context, key string, p core.Policy, _ time.Time) (storekit.Leases, error) {
			return s.Leases(ctx, key, p)
		},
		resetNotes: func([]core.Policy) []string { return nil },
	}, nil
}

func (f *storeFlags) openS3(ctx context.Context) (*backend, error) {
	// The AWS environment's credentials; path-style addressing with -endpoint.
	c, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: f.dynamo.endpoint, Region: f.dynamo.region})
	if err != nil {
		return nil, err
	}
	mode := s3store.CompareAndSwap
	if f.s3Mode == "marker" {
		mode = s3store.Marker
	}
	s, err := s3store.New(c, s3store.Config{Bucket: f.bucket, Prefix: f.prefix, Mode: mode})
	if err != nil {
		return nil, usageError{err.Error()}
	}
	prefix := f.prefix
	if prefix == "" {
		prefix = s3store.DefaultPrefix
	}
	where := fmt.Sprintf("s3://%s/%s (%s mode)", f.bucket, prefix, mode)
	if f.dynamo.endpoint != "" {
		where += " at " + f.dynamo.endpoint
	}
	return &backend{
		name: "s3", where: where, store: s, close: func() {},
		wrap: func(err error) error { return bucketError(f.bucket, f.dynamo.endpoint, err) },
		leases: func(ctx context.Context, key string, p core.Policy, _ time.Time) (storekit.Leases, error) {
			return s.Leases(ctx, key, p)
		},
		resetNotes: func([]core.Policy) []string {
			if mode == s3store.Marker {
				return []string{"in marker mode, running instances that cached the window's count admit only what was left before the reset until the window ends (nothing, if they saw it full)"}
			}
			return nil
		},
	}, nil
}
