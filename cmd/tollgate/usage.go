package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

func init() {
	register("usage", command{
		summary:  "show, grant or reset a key's usage in the DynamoDB, Redis or S3 store",
		synopsis: "show|grant|reset -store dynamodb|redis|s3 [store flags] -policy NAME=KIND:NUMBERS [-policy ...] [-n N] [-json] KEY",
		about: `show   reads KEY's usage under each -policy without spending: used and remaining, when the
       allowance is whole again and, for a key in debt (costs settled past the limit), how
       long every request is denied; for a concurrency policy, the leases held.
grant  gives KEY -n units of its allowance back under the one -policy, for the current window
       (for a token bucket, n tokens), never beyond a whole allowance (API Gateway's
       UpdateUsage). To raise a key's limit for good, give it another plan.
reset  forgets KEY's state under each -policy: it starts afresh; its leases are freed.
Give each -policy as the application defines it (name, kind and numbers): the name finds the
state, the numbers say what "used" means. -json prints one JSON object for scripts.
Store flags: dynamodb: -table (required), -endpoint, -region, -partition-key,
-expiry-attribute, -prefix; redis: -redis-addr (required), -prefix; s3: -bucket (required),
-endpoint, -region, -s3-mode, -prefix. AWS credentials come from the AWS environment (with
-endpoint, DynamoDB needs none). Running limiters that cached a denial of the key keep denying
until it ends. -policy is ` + policySyntax,
		run: runUsage,
	})
}

// usageFlags are the usage commands' flags.
type usageFlags struct {
	storeFlags
	policies policyList
	n        int64
	json     bool
}

func (f *usageFlags) register(fs *flag.FlagSet) {
	f.storeFlags.register(fs)
	fs.Var(&f.policies, "policy", "a policy of the key, `NAME=KIND:NUMBERS` such as api=fixed:100/1m (repeatable; required)")
	fs.Int64Var(&f.n, "n", 0, "grant: the `units` to give back (required, at least 1)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
}

// runUsage is `tollgate usage VERB`: core.Limiter's usage API (Usage, Grant) and
// storekit.Resetter from the command line.
func runUsage(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var f usageFlags
	f.register(fs)
	verb := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	switch verb {
	case "show", "grant", "reset":
	case "":
		return usagef("the verb comes first: tollgate usage show|grant|reset [flags] KEY")
	default:
		return usagef("unknown verb %q: want show, grant or reset", verb)
	}
	if err := f.check(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("exactly one KEY is required, after the flags (got %d arguments: %q)", fs.NArg(), fs.Args())
	}
	key := fs.Arg(0)
	if key == "" {
		return usagef("KEY is empty")
	}
	if len(f.policies) == 0 {
		return usagef("-policy is required: NAME=KIND:NUMBERS, e.g. -policy api=fixed:100/1m")
	}
	if verb == "grant" {
		if len(f.policies) != 1 {
			return usagef("grant takes exactly one -policy, the one to give allowance back under (got %d)", len(f.policies))
		}
		if p := f.policies[0].policy; p.Algorithm == core.Concurrency {
			return usagef("-policy %q is a concurrency limit: there is no allowance to grant (reset frees its leases)", p.Name)
		}
		if f.n < 1 {
			return usagef("grant needs -n, the units to give back: at least 1 (got %d)", f.n)
		}
	} else if f.explicit["n"] {
		return usagef("-n applies to grant only")
	}
	ctx, cancel := context.WithTimeout(ctx, f.dynamo.timeout)
	defer cancel()
	b, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer b.close()
	u := &usageRun{backend: b, key: key, specs: f.policies, now: time.Now()}
	var rep report
	switch verb {
	case "show":
		rep, err = u.show(ctx)
	case "grant":
		rep, err = u.grant(ctx, f.n)
	default:
		rep, err = u.reset(ctx)
	}
	if err != nil {
		return err
	}
	if f.json {
		return rep.writeJSON(stdout)
	}
	rep.writeText(stdout)
	return nil
}

// usageRun runs one verb on one key.
type usageRun struct {
	*backend
	key   string
	specs policyList
	now   time.Time
}

// limiter returns a limiter of the rate policies on the store, at u.now; nil when there are
// none. A policy the store cannot hold (a sliding window in S3 marker mode) is a usage error.
func (u *usageRun) limiter() (*core.Limiter, error) {
	var limits []core.Rule
	for _, s := range u.specs {
		if s.policy.Algorithm != core.Concurrency {
			limits = append(limits, core.Rule{Policy: s.policy})
		}
	}
	if len(limits) == 0 {
		return nil, nil
	}
	l, err := core.NewLimiter(core.Config{
		Store: u.store, Rules: limits, Timeout: -1, DenialCacheSize: -1,
		Now:      func() time.Time { return u.now },
		Observer: core.ObserverFunc(func(context.Context, core.Event) {}),
	})
	if errors.Is(err, core.ErrInvalidPolicy) {
		return nil, usagef("-policy: %v", err)
	}
	return l, err
}

// read returns the key's state under every policy, in the order given.
func (u *usageRun) read(ctx context.Context) ([]limitView, error) {
	l, err := u.limiter()
	if err != nil {
		return nil, err
	}
	var rates []core.Decision
	if l != nil {
		if rates, err = l.UsageAt(ctx, u.key, u.now); err != nil {
			return nil, u.fail(err)
		}
	}
	views := make([]limitView, 0, len(u.specs))
	for _, s := range u.specs {
		if s.policy.Algorithm != core.Concurrency {
			views = append(views, rateView(s, rates[0]))
			rates = rates[1:]
			continue
		}
		ls, err := u.leases(ctx, u.key, s.policy, u.now)
		if err != nil {
			return nil, u.fail(err)
		}
		views = append(views, leaseView(s, ls, u.now))
	}
	return views, nil
}

// fail names the store in err; an invalid key or policy is the command line's fault.
func (u *usageRun) fail(err error) error {
	if errors.Is(err, core.ErrInvalidKey) {
		return usagef("KEY: %v", err)
	}
	if errors.Is(err, core.ErrInvalidPolicy) {
		return usagef("-policy: %v", err)
	}
	return u.wrap(err)
}

func (u *usageRun) show(ctx context.Context) (report, error) {
	views, err := u.read(ctx)
	return report{Key: u.key, Store: u.name, Where: u.where, At: u.now.UTC(), Limits: views}, err
}

func (u *usageRun) grant(ctx context.Context, n int64) (report, error) {
	before, err := u.read(ctx)
	if err != nil {
		return report{}, err
	}
	l, err := u.limiter()
	if err != nil {
		return report{}, err
	}
	p := u.specs[0].policy
	if _, err := l.Grant(ctx, u.key, p.Name, n); err != nil {
		return report{}, u.fail(err)
	}
	// Read again rather than use Grant's decision: an adjustment's decision says what
	// remains, but not whether the key is still in debt.
	after, err := u.read(ctx)
	if err != nil {
		return report{}, err
	}
	return report{Key: u.key, Store: u.name, Where: u.where, At: u.now.UTC(), Limits: after,
		Granted: &grantView{Policy: p.Name, N: n, RemainingBefore: before[0].Remaining, InDebtBefore: before[0].InDebt}}, nil
}

func (u *usageRun) reset(ctx context.Context) (report, error) {
	var names []string
	var ps []core.Policy
	for _, s := range u.specs {
		if err := u.store.ResetAt(ctx, u.key, s.policy, u.now); err != nil {
			return report{}, u.fail(err)
		}
		names = append(names, s.policy.Name)
		ps = append(ps, s.policy)
	}
	return report{Key: u.key, Store: u.name, Where: u.where, At: u.now.UTC(), Reset: names,
		Notes: append([]string{"running limiters that cached a denial of the key keep denying until it ends"}, u.resetNotes(ps)...)}, nil
}
