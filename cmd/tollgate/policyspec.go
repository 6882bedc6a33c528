package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// policySyntax is the -policy grammar, for help and errors.
const policySyntax = `NAME=KIND:NUMBERS, where KIND:NUMBERS is one of
  fixed:LIMIT/WINDOW                  LIMIT per fixed WINDOW (e.g. api=fixed:100/1m, daily=fixed:10000/24h)
  sliding:LIMIT/WINDOW                about LIMIT per rolling WINDOW (e.g. api=sliding:100/1m)
  token:LIMIT/WINDOW[,burst=B]        token bucket, LIMIT per WINDOW, bursts of B (default LIMIT) (e.g. api=token:10/1s,burst=20)
  month:LIMIT                         LIMIT per calendar month, UTC (e.g. quota=month:10000)
  concurrency:LIMIT[,lease=D]         LIMIT leases at once (e.g. jobs=concurrency:4,lease=30s; the lease does not change what is read)
NAME is the policy's name in the application (its state is stored under it); WINDOW is a
duration such as 30s, 1m, 24h, or whole days: 7d`

// defaultLease is a concurrency spec's lease when it names none: leases carry their own
// expiry, so the lease duration changes nothing the usage commands read or reset.
const defaultLease = time.Minute

// policySpec is one -policy: the text as given and the policy it describes.
type policySpec struct {
	text   string
	policy core.Policy
}

// parsePolicy parses one -policy value (see policySyntax). The error says what is wrong and
// shows an example; the flag package adds the flag's name and the value.
func parsePolicy(s string) (core.Policy, error) {
	name, spec, ok := strings.Cut(s, "=")
	// A spec written without its name ("fixed:100/1m", "token:10/1s,burst=20") has no '='
	// or a ':' only before its first '='.
	if !ok || (strings.Contains(name, ":") && !strings.Contains(spec, ":")) {
		return core.Policy{}, errors.New("no policy name: write NAME=KIND:NUMBERS, e.g. api=fixed:100/1m (NAME is the policy's name in the application)")
	}
	if name == "" {
		return core.Policy{}, errors.New("empty policy name before '=': e.g. api=fixed:100/1m")
	}
	kind, nums, ok := strings.Cut(spec, ":")
	if !ok {
		return core.Policy{}, fmt.Errorf("%q has no KIND: before its numbers: want fixed, sliding, token, month or concurrency, e.g. %s=fixed:100/1m", spec, name)
	}
	main, opts, _ := strings.Cut(nums, ",")
	options, err := parseOptions(opts)
	if err != nil {
		return core.Policy{}, err
	}
	allow := func(keys ...string) error {
		for k := range options {
			if !slices.Contains(keys, k) {
				if len(keys) == 0 {
					return fmt.Errorf("%s takes no options, got %s=", kind, k)
				}
				return fmt.Errorf("%s takes %s=, not %s=", kind, strings.Join(keys, "=, "), k)
			}
		}
		return nil
	}
	var p core.Policy
	switch kind {
	case "fixed", "sliding", "token":
		limit, window, err := parseRate(main)
		if err != nil {
			return core.Policy{}, fmt.Errorf("%s wants LIMIT/WINDOW, e.g. %s=%s:100/1m: %w", kind, name, kind, err)
		}
		switch kind {
		case "fixed":
			p = core.NewFixedWindow(name, limit, window)
		case "sliding":
			p = core.NewSlidingWindow(name, limit, window)
		default:
			p = core.NewTokenBucket(name, limit, window, 0)
			if err := allow("burst"); err != nil {
				return core.Policy{}, err
			}
			if b, ok := options["burst"]; ok {
				if p.Burst, err = parseCount(b); err != nil {
					return core.Policy{}, fmt.Errorf("burst=%s: %w", b, err)
				}
			}
		}
		if kind != "token" {
			if err := allow(); err != nil {
				return core.Policy{}, err
			}
		}
	case "month":
		limit, err := parseCount(main)
		if err != nil {
			return core.Policy{}, fmt.Errorf("month wants LIMIT, e.g. %s=month:10000: %w", name, err)
		}
		if err := allow(); err != nil {
			return core.Policy{}, err
		}
		p = core.NewMonthlyQuota(name, limit)
	case "concurrency":
		limit, err := parseCount(main)
		if err != nil {
			return core.Policy{}, fmt.Errorf("concurrency wants LIMIT, e.g. %s=concurrency:4,lease=30s: %w", name, err)
		}
		if err := allow("lease"); err != nil {
			return core.Policy{}, err
		}
		lease := defaultLease
		if l, ok := options["lease"]; ok {
			if lease, err = parseWindow(l); err != nil {
				return core.Policy{}, fmt.Errorf("lease=%s: %w", l, err)
			}
		}
		p = core.NewConcurrency(name, limit, lease)
	default:
		return core.Policy{}, fmt.Errorf("unknown KIND %q: want fixed, sliding, token, month or concurrency", kind)
	}
	if err := p.Validate(); err != nil {
		var pe *core.PolicyError
		if errors.As(err, &pe) {
			return core.Policy{}, errors.New(pe.Problem)
		}
		return core.Policy{}, err
	}
	return p, nil
}

// parseOptions parses "k=v,k=v" (after the numbers), refusing repeats and empty parts.
func parseOptions(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("option %q: want KEY=VALUE, e.g. burst=20", part)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("option %s= given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// parseRate parses LIMIT/WINDOW.
func parseRate(s string) (int64, time.Duration, error) {
	l, w, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q has no '/'", s)
	}
	limit, err := parseCount(l)
	if err != nil {
		return 0, 0, err
	}
	window, err := parseWindow(w)
	if err != nil {
		return 0, 0, err
	}
	return limit, window, nil
}

// parseCount parses a whole number of at least 1.
func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a whole number of at least 1", s)
	}
	return n, nil
}

// parseWindow parses a positive Go duration (30s, 1m, 1h30m) or whole days (7d).
func parseWindow(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err == nil && n >= 1 && n <= 3660 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
		return 0, fmt.Errorf("%q: whole days are 1d to 3660d", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 30s, 1m, 24h or 7d", s)
	}
	return d, nil
}

// policyList is the -policy flag: repeatable, each value parsed when given, so that a bad
// one is a usage error naming the flag.
type policyList []policySpec

func (l *policyList) String() string {
	if l == nil {
		return ""
	}
	texts := make([]string, len(*l))
	for i, s := range *l {
		texts[i] = s.text
	}
	return strings.Join(texts, " ")
}

func (l *policyList) Set(s string) error {
	p, err := parsePolicy(s)
	if err != nil {
		return err
	}
	for _, have := range *l {
		if have.policy.Name == p.Name {
			return fmt.Errorf("policy name %q given twice", p.Name)
		}
	}
	*l = append(*l, policySpec{text: s, policy: p})
	return nil
}
