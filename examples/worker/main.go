// Command worker is a background worker that shares N concurrency slots with every other
// worker process through DynamoDB: a Tollgate concurrency limit used outside HTTP, in place of
// a hand-written "DynamoDB token bucket" script that hands out slots, waits for one, and
// cleans up the tokens of workers that died.
//
// Each job goes through four steps, each one call:
//
//   - acquire: [core.ConcurrencyLimiter.AcquireWait] takes a slot, or waits for one with
//     full-jitter backoff (random pauses of up to 10 ms × 2^n, at most 500 ms) until a slot
//     frees, -wait has passed, or the context ends. With no HTTP request, the key function is
//     core.KeyStatic(pool), which ignores the request, so nil is passed for it.
//   - hold: `defer lease.Hold(ctx, every)()` extends the lease every -extend while the job
//     runs, so a job may run longer than the lease;
//   - release: the deferred call stops the extensions and releases the slot when the job
//     returns, and also when it panics;
//   - a worker that dies (SIGKILL, out of memory, a lost host) stops extending: its lease
//     expires -lease after the last extension and the slot is free again. Nothing sweeps
//     tokens: an acquire that finds the slots full removes expired leases itself.
//
// The limiter fails closed (a worker never runs a job without a slot when DynamoDB cannot
// be reached; the acquire is retried with backoff until -wait) and gives each store call 2 s,
// since no client is waiting on it.
//
// It prints one line per slot event, for people and for its test:
//
//	acquired worker=ID job=N t=UNIX_NANOS    (the job starts)
//	releasing worker=ID job=N t=UNIX_NANOS   (the job ended; the release follows)
//
// Run three in parallel against a local dynalite, two slots between them:
//
//	go run ./examples/worker -endpoint http://127.0.0.1:8000 -create-table -slots 2 -jobs 2 -work 1s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line (exit status 2).
type usageError struct{ error }

// run is main without the process: it runs -jobs jobs, one at a time, each holding a slot.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", "tollgate", "DynamoDB table")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint URL of a local server, e.g. http://127.0.0.1:8000 for dynalite; with it, region us-east-1 and dummy credentials unless the environment names them")
	create := fs.Bool("create-table", false, "create the table first if it does not exist")
	pool := fs.String("pool", "jobs", "the slots' key: workers with the same pool share -slots")
	n := fs.Int64("slots", 2, "how many jobs of the pool may run at once, across every worker")
	lease := fs.Duration("lease", 30*time.Second, "how long a slot outlives its worker's last extension")
	extend := fs.Duration("extend", 0, "how often a running job's lease is extended (default: half the lease)")
	wait := fs.Duration("wait", time.Minute, "how long a job waits for a slot before the worker gives up")
	jobs := fs.Int("jobs", 3, "how many jobs to run")
	work := fs.Duration("work", 2*time.Second, "how long each (simulated) job runs")
	id := fs.String("id", fmt.Sprintf("pid%d", os.Getpid()), "the worker's name in its output")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *extend < 0 || *extend >= *lease {
		return usageError{fmt.Errorf("-extend %v: it must be shorter than -lease %v, or the lease expires between extensions", *extend, *lease)}
	}

	store, err := openStore(ctx, *table, *endpoint, *create)
	if err != nil {
		return err
	}
	slots, err := newSlots(store, *pool, *n, *lease)
	if err != nil {
		return err
	}
	w := &worker{slots: slots, id: *id, out: stdout, every: *extend, wait: *wait}
	for job := 1; job <= *jobs; job++ {
		if err := w.do(ctx, job, func(ctx context.Context) error { return simulate(ctx, *work) }); err != nil {
			return fmt.Errorf("job %d: %w", job, err)
		}
	}
	return nil
}

// newSlots returns the concurrency limit that n jobs of pool share, across every process on
// store.
func newSlots(store core.ConcurrencyStore, pool string, n int64, lease time.Duration) (*core.ConcurrencyLimiter, error) {
	return core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  store,
		Policy: core.NewConcurrency("worker-slots", n, lease),
		// no slot, no job: never run beyond the limit
		// no client is waiting; the store may be slow
		Config: core.Config{Key: core.KeyStatic(pool), Failure: core.FailClosed, Timeout: 2 * time.Second},
	})
}

// errNoSlot: every slot stayed taken for the whole wait.
var errNoSlot = errors.New("worker: no free slot within the wait")

// acquire takes a slot, waiting up to wait for one (polling with full-jitter backoff) or
// until ctx ends. A store failure is retried with backoff within the same wait: the limiter
// fails closed, so no job runs without a slot.
func acquire(ctx context.Context, slots *core.ConcurrencyLimiter, wait time.Duration) (*core.Lease, error) {
	deadline := time.Now().Add(wait)
	for attempt := 0; ; attempt++ {
		// The key function (core.KeyStatic) ignores the request: outside HTTP there is none.
		lease, res, err := slots.AcquireWait(ctx, nil, core.Wait{Max: time.Until(deadline)})
		switch {
		case err == nil && res.Allowed:
			return lease, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err == nil:
			return nil, errNoSlot
		case !errors.Is(err, core.ErrStoreUnavailable):
			return nil, err
		}
		d := backoff.Policy{}.Delay(attempt)
		if time.Now().Add(d).After(deadline) {
			return nil, fmt.Errorf("%w (the store failed: %w)", errNoSlot, err)
		}
		if err := backoff.Sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// worker runs jobs one at a time, each in a slot.
type worker struct {
	slots *core.ConcurrencyLimiter
	id    string
	mu    sync.Mutex // serialises out
	out   io.Writer
	every time.Duration // lease extension interval; 0: half the lease
	wait  time.Duration
}

func (w *worker) report(event string, job int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, "%s worker=%s job=%d t=%d\n", event, w.id, job, time.Now().UnixNano())
}

// do runs job in a slot: acquire (waiting up to w.wait), hold while work runs, release when
// it returns or panics (the panic goes on after the release).
func (w *worker) do(ctx context.Context, job int, work func(context.Context) error) error {
	lease, err := acquire(ctx, w.slots, w.wait)
	if err != nil {
		return err
	}
	// Extended every w.every while work runs; released on every exit path, panics included.
	// The release survives ctx's cancellation: a stopped worker still gives its slot back.
	defer lease.Hold(ctx, w.every)()
	w.report("acquired", job)
	defer w.report("releasing", job)
	return work(ctx)
}

// simulate is the job: it takes d, or less when ctx ends.
func simulate(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openStore builds the DynamoDB client (with the project's retries and backoff), creates the
// table when asked, checks it, and returns the store on it. endpoint, when set, is a local
// server: region us-east-1 and dummy credentials unless the environment names them.
func openStore(ctx context.Context, table, endpoint string, create bool) (*dynamostore.Store, error) {
	o := dynamostore.ClientOptions{Endpoint: endpoint}
	if endpoint != "" {
		o.LoadOptions = []func(*config.LoadOptions) error{config.WithDefaultRegion("us-east-1")}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			o.LoadOptions = append(o.LoadOptions, config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "examples/worker -endpoint"}, nil
			})))
		}
	}
	client, err := dynamostore.NewClient(ctx, o)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if create {
		if _, err := dynamostore.CreateTable(cctx, client, dynamostore.TableOptions{Name: table}); err != nil {
			return nil, fmt.Errorf("create table %q: %w", table, err)
		}
	}
	store, err := dynamostore.New(client, dynamostore.Config{Table: table})
	if err != nil {
		return nil, err
	}
	if err := store.Verify(cctx); err != nil {
		return nil, fmt.Errorf("%w\n(create the table with -create-table)", err)
	}
	return store, nil
}
