package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

func init() {
	register("dynamodb-create-table", command{
		summary:  "create the DynamoDB table (idempotent) and enable TTL",
		synopsis: "-table T [flags]",
		about: `Creates the table (on-demand, a string partition key) if it does not exist, waits until it
is active, and enables Time to Live on the expiry attribute. Running it again changes nothing.
Needs dynamodb:CreateTable, DescribeTable, DescribeTimeToLive and UpdateTimeToLive.`,
		run: dynamoCreateTable,
	})
	register("dynamodb-inspect", command{
		summary:  "show a key's state in the DynamoDB table",
		synopsis: "-table T -policy NAME [-algorithm A] -limit N [-window D] [flags] KEY",
		about: `Reads KEY's state under the policy, as the application configured it (name, algorithm and
numbers), and shows what it is now: used and remaining, when it resets, the leases held.
It spends nothing. Needs dynamodb:GetItem.`,
		run: dynamoInspect,
	})
	register("dynamodb-reset", command{
		summary:  "delete a key's state from the DynamoDB table",
		synopsis: "-table T -policy NAME [-window D] [flags] KEY",
		about: `Deletes KEY's state under the policy NAME, whatever its algorithm: every window's item of a
fixed or sliding window, the token bucket's item and the concurrency leases. Without -window
it finds them with one Scan of the table (dynamodb:Scan), which reads every item: on a large
table, give -window (the policy's window, or "month") to delete the current and previous
windows directly. Needs dynamodb:DeleteItem. Limiters that cached a denial of the key keep
denying until it ends.`,
		run: dynamoReset,
	})
}

// dynamoFlags are the connection flags every DynamoDB command takes.
type dynamoFlags struct {
	table, region, endpoint, pk, exp string
	timeout                          time.Duration
}

func (f *dynamoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "table", "", "table name (required)")
	fs.StringVar(&f.region, "region", "", "AWS region (default: AWS_REGION / the shared config; us-east-1 with -endpoint)")
	fs.StringVar(&f.endpoint, "endpoint", "", "endpoint URL of a local server, e.g. http://127.0.0.1:8000 for dynalite; with it, dummy credentials unless AWS_ACCESS_KEY_ID or AWS_PROFILE is set (default: AWS_ENDPOINT_URL_DYNAMODB or the region's)")
	fs.StringVar(&f.pk, "partition-key", dynamostore.DefaultPartitionKey, "name of the string partition key")
	fs.StringVar(&f.exp, "expiry-attribute", dynamostore.DefaultExpiryAttribute, "name of the TTL attribute (Unix seconds)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
}

// client returns the DynamoDB client of the flags. With -endpoint (a local server), the
// region defaults to us-east-1 and, unless the environment names credentials, dummy static
// credentials are used: a local server checks signatures but not who signed.
func (f *dynamoFlags) client(ctx context.Context) (*dynamodb.Client, error) {
	if f.table == "" {
		return nil, usagef("-table is required")
	}
	o := dynamostore.ClientOptions{Region: f.region, Endpoint: f.endpoint}
	if f.endpoint != "" {
		o.LoadOptions = localServerDefaults()
	}
	return dynamostore.NewClient(ctx, o)
}

// localServerDefaults are the AWS config defaults for a local server given by -endpoint.
func localServerDefaults() []func(*config.LoadOptions) error {
	opts := []func(*config.LoadOptions) error{config.WithDefaultRegion("us-east-1")}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "tollgate -endpoint"}, nil
		})))
	}
	return opts
}

// tableError names the table (and the endpoint, when one was given) in err, and says what to
// do when the table does not exist.
func (f *dynamoFlags) tableError(err error) error {
	where := fmt.Sprintf("table %q", f.table)
	if f.endpoint != "" {
		where += " at " + f.endpoint
	}
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%s does not exist (create it with `tollgate dynamodb-create-table -table %s`): %w", where, f.table, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

func dynamoCreateTable(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var f dynamoFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	c, err := f.client(ctx)
	if err != nil {
		return err
	}
	res, err := dynamostore.CreateTable(ctx, c, dynamostore.TableOptions{Name: f.table, PartitionKey: f.pk, ExpiryAttribute: f.exp})
	if err != nil {
		return f.tableError(err)
	}
	state := "already exists"
	if res.Created {
		state = "created"
	}
	fmt.Fprintf(stdout, "table %s: %s (on-demand, partition key %q)\nTTL on %q: %s\n", f.table, state, f.pk, f.exp, res.TTL)
	return nil
}

// keyFlags are the flags of inspect and reset besides the connection: which key, under which
// policy name.
type keyFlags struct {
	dynamoFlags
	prefix string
	policy string
}

func (f *keyFlags) register(fs *flag.FlagSet) {
	f.dynamoFlags.register(fs)
	fs.StringVar(&f.prefix, "key-prefix", "", "the store's Config.KeyPrefix")
	fs.StringVar(&f.policy, "policy", "", "the policy's name (required)")
}

// open checks the key flags and returns the store and the one KEY argument.
func (f *keyFlags) open(ctx context.Context, fs *flag.FlagSet) (*dynamostore.Store, *dynamodb.Client, string, error) {
	if fs.NArg() != 1 {
		return nil, nil, "", usagef("exactly one KEY is required, after the flags (got %d arguments)", fs.NArg())
	}
	if f.policy == "" {
		return nil, nil, "", usagef("-policy is required")
	}
	c, err := f.client(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	s, err := dynamostore.New(c, dynamostore.Config{Table: f.table, PartitionKey: f.pk, ExpiryAttribute: f.exp, KeyPrefix: f.prefix})
	if err != nil {
		return nil, nil, "", err
	}
	return s, c, fs.Arg(0), nil
}

func dynamoInspect(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var f keyFlags
	f.register(fs)
	var alg string
	p := core.Policy{}
	fs.StringVar(&alg, "algorithm", "fixed-window", "fixed-window, monthly, sliding-window, token-bucket or concurrency")
	fs.Int64Var(&p.Limit, "limit", 0, "the policy's limit (required)")
	fs.DurationVar(&p.Window, "window", 0, "the policy's window (not for monthly or concurrency)")
	fs.Int64Var(&p.Burst, "burst", 0, "token bucket burst (default: limit)")
	fs.DurationVar(&p.Lease, "lease", 0, "concurrency lease duration")
	if err := parse(fs, args); err != nil {
		return err
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
		return usagef("unknown -algorithm %q", alg)
	}
	p.Name = f.policy
	if f.policy != "" {
		if err := p.Validate(); err != nil {
			return usageError{err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	s, _, key, err := f.open(ctx, fs)
	if err != nil {
		return err
	}
	now := time.Now()
	info, err := s.InspectAt(ctx, key, p, now)
	if err != nil {
		return f.tableError(err)
	}
	printInspection(stdout, f.table, key, p, info, now)
	return nil
}

// printInspection shows what a key's state is: used and remaining, when it resets, and what
// the next request would get. It never prints a cost-0 "decision", whose allowed=true next to
// remaining=0 reads as a contradiction.
func printInspection(w io.Writer, table, key string, p core.Policy, info dynamostore.Info, now time.Time) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-13s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("table", "%s", table)
	line("key", "%q", key)
	line("policy", "%s", describe(p))
	for i, pk := range info.PartitionKeys {
		label := "item"
		if p.Algorithm == core.SlidingWindow && i == 1 {
			label = "previous item"
		}
		line(label, "%s", pk)
	}
	if !info.Found {
		line("state", "none stored: the key has used nothing")
	}
	d := info.Decision
	n := now.UnixNano()
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		start, end := p.WindowBounds(n)
		line("window", "%s to %s", time.Unix(0, start).UTC().Format(time.RFC3339), time.Unix(0, end).UTC().Format(time.RFC3339))
		used := d.Limit - d.Remaining
		if p.Algorithm == core.SlidingWindow {
			line("used", "%d of %d (this window %d, previous window %d, weighted)", used, d.Limit, info.State.Count, info.State.Prev)
		} else {
			line("used", "%d of %d", used, d.Limit)
		}
		line("remaining", "%d", d.Remaining)
		line("resets in", "%s", round(d.ResetAfter))
	case core.TokenBucket:
		line("remaining", "%d of %d (burst)", d.Remaining, d.Limit)
		if info.State.TAT > 0 {
			line("tat", "%s", time.Unix(0, info.State.TAT).UTC().Format(time.RFC3339Nano))
		}
		line("full in", "%s", round(d.ResetAfter))
	case core.Concurrency:
		ids := make([]string, 0, len(info.Leases))
		for id := range info.Leases {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		held := 0
		for _, id := range ids {
			if info.Leases[id].After(now) {
				held++
			}
		}
		line("leases", "%d held of %d, %d free", held, p.Limit, d.Remaining)
		for _, id := range ids {
			if exp := info.Leases[id]; exp.After(now) {
				line("  lease", "%q held, expires in %s unless extended", id, round(exp.Sub(now)))
			} else {
				line("  lease", "%q expired %s ago (removed at the next acquire that needs its slot)", id, round(now.Sub(exp)))
			}
		}
		if d.Remaining > 0 {
			line("next acquire", "granted")
		} else {
			line("next acquire", "refused until a lease is released or expires (at the latest in %s)", round(d.RetryAfter))
		}
		return
	}
	if _, next := storekit.Take(p, info.State, 1, n); next.Allowed {
		line("next request", "allowed")
	} else {
		line("next request", "denied for %s", round(next.RetryAfter))
	}
}

// describe says what a policy counts, in words.
func describe(p core.Policy) string {
	switch {
	case p.Algorithm == core.FixedWindow && p.Calendar == core.Monthly:
		return fmt.Sprintf("%q, monthly quota: %d per calendar month (UTC)", p.Name, p.Limit)
	case p.Algorithm == core.FixedWindow:
		return fmt.Sprintf("%q, fixed window: %d per %s", p.Name, p.Limit, p.Window)
	case p.Algorithm == core.SlidingWindow:
		return fmt.Sprintf("%q, sliding window: about %d per %s", p.Name, p.Limit, p.Window)
	case p.Algorithm == core.TokenBucket:
		return fmt.Sprintf("%q, token bucket: %d per %s, burst %d", p.Name, p.Limit, p.Window, p.Capacity())
	default:
		return fmt.Sprintf("%q, concurrency: %d at once, leases of %s", p.Name, p.Limit, p.Lease)
	}
}

// round rounds a duration for people: to the millisecond below a second, else to the second.
func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

func dynamoReset(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var f keyFlags
	f.register(fs)
	window := fs.String("window", "", `the policy's window ("1m", "24h", or "month"): delete the current and previous windows' items without a Scan`)
	if err := parse(fs, args); err != nil {
		return err
	}
	var w time.Duration
	switch *window {
	case "", "month":
	default:
		d, err := time.ParseDuration(*window)
		if err != nil || d <= 0 {
			return usagef("-window %q: want a positive duration such as 1m, or month", *window)
		}
		w = d
	}
	// Policies of every algorithm under the name: their items are what the store would use.
	// The numbers other than the window do not change any item's partition key.
	name := f.policy
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	s, c, key, err := f.open(ctx, fs)
	if err != nil {
		return err
	}
	bucket := core.NewTokenBucket(name, 1, time.Second, 1)
	lease := core.NewConcurrency(name, 1, time.Minute)
	if err := bucket.Validate(); err != nil {
		return usageError{err.Error()}
	}
	now := time.Now()
	if *window != "" {
		policies := []core.Policy{bucket, lease}
		if *window == "month" {
			policies = append(policies, core.NewMonthlyQuota(name, 1))
		} else {
			policies = append(policies, core.NewFixedWindow(name, 1, w), core.NewSlidingWindow(name, 1, w))
		}
		for _, p := range policies {
			if err := s.ResetAt(ctx, key, p, now); err != nil {
				return f.tableError(err)
			}
		}
		fmt.Fprintf(stdout, "reset %q under policy %q (current and previous %s windows, token bucket, leases)\n", key, name, *window)
	} else {
		// A window's item is "<fixed-window item's base>:<window start>"; the base is the
		// fixed-window partition key without its last ":" field (see dynamostore's
		// package documentation).
		fw := s.PartitionKey(key, core.NewFixedWindow(name, 1, time.Minute), now)
		sw := s.PartitionKey(key, core.NewSlidingWindow(name, 1, time.Minute), now)
		exact := []string{s.PartitionKey(key, bucket, now), s.PartitionKey(key, lease, now)}
		prefixes := []string{fw[:strings.LastIndexByte(fw, ':')+1], sw[:strings.LastIndexByte(sw, ':')+1]}
		deleted, err := scanDelete(ctx, c, f.table, f.pk, prefixes, exact)
		if err != nil {
			return f.tableError(err)
		}
		for _, pk := range deleted {
			fmt.Fprintf(stdout, "deleted %s\n", pk)
		}
		fmt.Fprintf(stdout, "reset %q under policy %q: %d item(s) deleted\n", key, name, len(deleted))
	}
	fmt.Fprintln(stdout, "limiters that cached a denial of the key keep denying until it ends")
	return nil
}

// scanDelete deletes the items whose partition key starts with one of prefixes or equals one
// of exact, found with a Scan of the whole table (every page), and returns their partition
// keys.
func scanDelete(ctx context.Context, c *dynamodb.Client, table, pkName string, prefixes, exact []string) ([]string, error) {
	names := map[string]string{"#pk": pkName}
	values := map[string]types.AttributeValue{}
	var conds []string
	for i, p := range prefixes {
		v := fmt.Sprintf(":p%d", i)
		values[v] = &types.AttributeValueMemberS{Value: p}
		conds = append(conds, fmt.Sprintf("begins_with(#pk, %s)", v))
	}
	for i, e := range exact {
		v := fmt.Sprintf(":e%d", i)
		values[v] = &types.AttributeValueMemberS{Value: e}
		conds = append(conds, "#pk = "+v)
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		ProjectionExpression:      aws.String("#pk"),
		FilterExpression:          aws.String(strings.Join(conds, " OR ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ConsistentRead:            aws.Bool(true),
	}
	var deleted []string
	for {
		out, err := c.Scan(ctx, in)
		if err != nil {
			return deleted, fmt.Errorf("scan: %w", err)
		}
		for _, item := range out.Items {
			pk, ok := item[pkName].(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{pkName: pk}}); err != nil {
				return deleted, fmt.Errorf("delete %s: %w", pk.Value, err)
			}
			deleted = append(deleted, pk.Value)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return deleted, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
