package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
)

func init() {
	register("dynamodb-create-table", "create the DynamoDB table (idempotent) and enable TTL", dynamoCreateTable)
	register("dynamodb-inspect", "show a key's state in the DynamoDB table", dynamoInspect)
	register("dynamodb-reset", "delete a key's state from the DynamoDB table", dynamoReset)
}

// dynamoFlags are the connection flags every DynamoDB command takes.
type dynamoFlags struct {
	table, region, endpoint, pk, exp, prefix string
	timeout                                  time.Duration
}

func (f *dynamoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "table", "", "table name (required)")
	fs.StringVar(&f.region, "region", "", "AWS region (default: AWS_REGION / the shared config)")
	fs.StringVar(&f.endpoint, "endpoint", "", "endpoint URL, e.g. http://127.0.0.1:8000 for dynalite (default: AWS_ENDPOINT_URL_DYNAMODB or the region's)")
	fs.StringVar(&f.pk, "partition-key", dynamostore.DefaultPartitionKey, "name of the string partition key")
	fs.StringVar(&f.exp, "expiry-attribute", dynamostore.DefaultExpiryAttribute, "name of the TTL attribute (Unix seconds)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
}

func (f *dynamoFlags) client(ctx context.Context) (*dynamodb.Client, error) {
	if f.table == "" {
		return nil, errors.New("-table is required")
	}
	return dynamostore.NewClient(ctx, dynamostore.ClientOptions{Region: f.region, Endpoint: f.endpoint})
}

func newFlagSet(name string, stdout io.Writer, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: tollgate %s [flags]%s\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

func dynamoCreateTable(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("dynamodb-create-table", stdout, "")
	var f dynamoFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	c, err := f.client(ctx)
	if err != nil {
		return err
	}
	res, err := dynamostore.CreateTable(ctx, c, dynamostore.TableOptions{Name: f.table, PartitionKey: f.pk, ExpiryAttribute: f.exp})
	if err != nil {
		return err
	}
	state := "already exists"
	if res.Created {
		state = "created"
	}
	fmt.Fprintf(stdout, "table %s: %s (on-demand, partition key %q)\nTTL on %q: %s\n", f.table, state, f.pk, f.exp, res.TTL)
	return nil
}

// keyArgs are the parsed arguments of inspect and reset.
type keyArgs struct {
	store   *dynamostore.Store
	policy  core.Policy
	key     string
	timeout time.Duration
}

// keyCommand parses the flags of inspect and reset: connection, policy, and one KEY.
func keyCommand(ctx context.Context, name string, args []string, stdout io.Writer) (keyArgs, error) {
	fs := newFlagSet(name, stdout, " KEY")
	var f dynamoFlags
	f.register(fs)
	fs.StringVar(&f.prefix, "key-prefix", "", "the store's Config.KeyPrefix")
	var p core.Policy
	var alg string
	fs.StringVar(&p.Name, "policy", "", "policy name (required)")
	fs.StringVar(&alg, "algorithm", "fixed-window", "fixed-window, monthly, sliding-window, token-bucket or concurrency")
	fs.Int64Var(&p.Limit, "limit", 0, "the policy's limit (required)")
	fs.DurationVar(&p.Window, "window", 0, "the policy's window (not for monthly or concurrency)")
	fs.Int64Var(&p.Burst, "burst", 0, "token bucket burst (default: limit)")
	fs.DurationVar(&p.Lease, "lease", 0, "concurrency lease duration")
	if err := fs.Parse(args); err != nil {
		return keyArgs{}, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return keyArgs{}, errors.New("exactly one KEY is required, after the flags")
	}
	switch alg {
	case "fixed-window":
		p.Algorithm = core.FixedWindow
	case "monthly":
		p.Algorithm, p.Calendar = core.FixedWindow, core.Monthly
	case "sliding-window":
		p.Algorithm = core.SlidingWindow
	case "token-bucket":
		p.Algorithm = core.TokenBucket
	case "concurrency":
		p.Algorithm = core.Concurrency
	default:
		return keyArgs{}, fmt.Errorf("unknown -algorithm %q", alg)
	}
	if err := p.Validate(); err != nil {
		return keyArgs{}, err
	}
	c, err := f.client(ctx)
	if err != nil {
		return keyArgs{}, err
	}
	s, err := dynamostore.New(c, dynamostore.Config{Table: f.table, PartitionKey: f.pk, ExpiryAttribute: f.exp, KeyPrefix: f.prefix})
	if err != nil {
		return keyArgs{}, err
	}
	return keyArgs{store: s, policy: p, key: fs.Arg(0), timeout: f.timeout}, nil
}

func dynamoInspect(ctx context.Context, args []string, stdout io.Writer) error {
	a, err := keyCommand(ctx, "dynamodb-inspect", args, stdout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	p, now := a.policy, time.Now()
	info, err := a.store.InspectAt(ctx, a.key, p, now)
	if err != nil {
		return err
	}
	for _, pk := range info.PartitionKeys {
		fmt.Fprintf(stdout, "item: %s\n", pk)
	}
	fmt.Fprintf(stdout, "found: %v\n", info.Found)
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		fmt.Fprintf(stdout, "window: %s count: %d", time.Unix(0, info.State.Window).UTC().Format(time.RFC3339), info.State.Count)
		if p.Algorithm == core.SlidingWindow {
			fmt.Fprintf(stdout, " previous: %d", info.State.Prev)
		}
		fmt.Fprintln(stdout)
	case core.TokenBucket:
		if info.State.TAT > 0 {
			fmt.Fprintf(stdout, "tat: %s\n", time.Unix(0, info.State.TAT).UTC().Format(time.RFC3339Nano))
		}
	case core.Concurrency:
		ids := make([]string, 0, len(info.Leases))
		for id := range info.Leases {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			state := "held"
			if !info.Leases[id].After(now) {
				state = "expired"
			}
			fmt.Fprintf(stdout, "lease %q: %s until %s\n", id, state, info.Leases[id].UTC().Format(time.RFC3339Nano))
		}
	}
	d := info.Decision
	fmt.Fprintf(stdout, "now: allowed=%v limit=%d remaining=%d reset-after=%v retry-after=%v\n", d.Allowed, d.Limit, d.Remaining, d.ResetAfter, d.RetryAfter)
	return nil
}

func dynamoReset(ctx context.Context, args []string, stdout io.Writer) error {
	a, err := keyCommand(ctx, "dynamodb-reset", args, stdout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.store.Reset(ctx, a.key, a.policy); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reset %q under policy %q; limiters that cached a denial for it keep it until it ends\n", a.key, a.policy.Name)
	return nil
}
