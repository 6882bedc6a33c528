package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// report is what a usage verb prints: as text for people, or as JSON (its fields' tags are
// the JSON interface; durations are whole milliseconds, rounded up).
type report struct {
	Key   string    `json:"key"`
	Store string    `json:"store"`
	Where string    `json:"where"`
	At    time.Time `json:"at"`
	// Limits: show's readings, or grant's state after the grant.
	Limits  []limitView `json:"limits,omitempty"`
	Granted *grantView  `json:"granted,omitempty"`
	// Reset names the policies reset; Notes says what a reset does not reach.
	Reset []string `json:"reset,omitempty"`
	Notes []string `json:"notes,omitempty"`
}

// limitView is a key's state under one policy.
type limitView struct {
	Policy    string `json:"policy"`
	Spec      string `json:"spec"`
	Algorithm string `json:"algorithm"`
	// Limit is the policy's limit (a token bucket's burst). Used is Limit - Remaining for
	// rate policies (Limit when in debt: the debt's size is not known, its RetryAfter is),
	// the leases held for concurrency.
	Limit     int64 `json:"limit"`
	Used      int64 `json:"used"`
	Remaining int64 `json:"remaining"`
	// InDebt: costs were settled past the limit; every request is denied for RetryAfterMs.
	InDebt bool `json:"in_debt"`
	// ResetAfterMs is the time until the allowance is whole again (the end of a fixed
	// window; a token bucket's full refill); 0 for concurrency.
	ResetAfterMs int64 `json:"reset_after_ms"`
	// RetryAfterMs is, in debt, how long every request is denied; for a concurrency limit
	// with no lease free, the time until the earliest lease expires; 0 otherwise.
	RetryAfterMs int64        `json:"retry_after_ms"`
	Leases       []leaseEntry `json:"leases,omitempty"`

	p          core.Policy
	resetAfter time.Duration
	retryAfter time.Duration
}

// leaseEntry is one unexpired lease.
type leaseEntry struct {
	ID          string `json:"id"`
	ExpiresInMs int64  `json:"expires_in_ms"`

	expiresIn time.Duration
}

// grantView is what grant did.
type grantView struct {
	Policy          string `json:"policy"`
	N               int64  `json:"n"`
	RemainingBefore int64  `json:"remaining_before"`
	InDebtBefore    bool   `json:"in_debt_before"`
}

// millis rounds d up to whole milliseconds, so that a wait is never under-reported.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// rateView is a rate policy's state from a decision of cost 0 (or an adjustment's).
func rateView(s policySpec, d core.Decision) limitView {
	v := limitView{
		Policy: s.policy.Name, Spec: s.text, Algorithm: s.policy.Algorithm.String(),
		Limit: d.Limit, Used: d.Limit - d.Remaining, Remaining: d.Remaining, InDebt: !d.Allowed,
		p: s.policy, resetAfter: d.ResetAfter,
	}
	if v.InDebt {
		v.retryAfter = d.RetryAfter
	}
	v.ResetAfterMs, v.RetryAfterMs = millis(v.resetAfter), millis(v.retryAfter)
	return v
}

// leaseView is a concurrency policy's state from its leases at now.
func leaseView(s policySpec, ls storekit.Leases, now time.Time) limitView {
	p := s.policy
	v := limitView{Policy: p.Name, Spec: s.text, Algorithm: p.Algorithm.String(), Limit: p.Limit, p: p}
	n := now.UnixNano()
	for id, exp := range ls {
		if exp > n {
			v.Leases = append(v.Leases, leaseEntry{ID: id, expiresIn: time.Duration(exp - n)})
		}
	}
	sort.Slice(v.Leases, func(i, j int) bool {
		a, b := v.Leases[i], v.Leases[j]
		return a.expiresIn < b.expiresIn || a.expiresIn == b.expiresIn && a.ID < b.ID
	})
	for i := range v.Leases {
		v.Leases[i].ExpiresInMs = millis(v.Leases[i].expiresIn)
	}
	v.Used = int64(len(v.Leases))
	v.Remaining = max(p.Limit-v.Used, 0)
	if v.Remaining == 0 && len(v.Leases) > 0 {
		v.retryAfter = v.Leases[0].expiresIn
		v.RetryAfterMs = millis(v.retryAfter)
	}
	return v
}

func (r report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText prints the report for people: one block per policy, a label per line.
func (r report) writeText(w io.Writer) {
	fmt.Fprintf(w, "key %q in %s, at %s\n", r.Key, r.Where, r.At.Format(time.RFC3339))
	if r.Reset != nil {
		fmt.Fprintf(w, "reset under %s: the key starts afresh\n", quoteAll(r.Reset))
		for _, n := range r.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		return
	}
	if g := r.Granted; g != nil && len(r.Limits) == 1 {
		after := r.Limits[0]
		was := fmt.Sprint(g.RemainingBefore)
		if g.InDebtBefore {
			was += " (in debt)"
		}
		is := fmt.Sprint(after.Remaining)
		switch {
		case after.InDebt:
			is += " (still in debt)"
		case !g.InDebtBefore && after.Remaining-g.RemainingBefore < g.N && after.Remaining == after.Limit:
			is += " (an allowance is never more than whole)"
		}
		fmt.Fprintf(w, "granted %d under policy %q: remaining was %s, is now %s\n", g.N, g.Policy, was, is)
	}
	for _, v := range r.Limits {
		fmt.Fprintln(w)
		v.writeText(w)
	}
}

func (v limitView) writeText(w io.Writer) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-11s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "policy %s\n", describeUsage(v.p))
	switch v.p.Algorithm {
	case core.Concurrency:
		line("held", "%d of %d", v.Used, v.Limit)
		line("free", "%d", v.Remaining)
		if v.Remaining == 0 && len(v.Leases) > 0 {
			line("next free", "in %s at the latest, when the earliest lease expires (sooner if one is released)", human(v.retryAfter))
		}
		for _, l := range v.Leases {
			line("lease", "%q expires in %s unless extended", l.ID, human(l.expiresIn))
		}
		return
	case core.TokenBucket:
		if v.InDebt {
			line("used", "all %d (the burst), and more: in debt (costs settled past the limit)", v.Limit)
		} else {
			line("used", "%d of %d (the burst)", v.Used, v.Limit)
		}
	default:
		weighted := ""
		if v.p.Algorithm == core.SlidingWindow {
			weighted = " (this window's count and the weighted part of the previous window's)"
		}
		if v.InDebt {
			line("used", "all %d, and more: in debt (costs settled past the limit)%s", v.Limit, weighted)
		} else {
			line("used", "%d of %d%s", v.Used, v.Limit, weighted)
		}
	}
	line("remaining", "%d", v.Remaining)
	if v.InDebt {
		line("retry in", "%s: every request is denied until then", human(v.retryAfter))
	}
	if v.p.Algorithm == core.TokenBucket {
		if v.resetAfter <= 0 {
			line("full in", "0s (full now)")
		} else {
			line("full in", "%s", human(v.resetAfter))
		}
	} else {
		line("resets in", "%s", human(v.resetAfter))
	}
}

// describeUsage says what a policy counts, with its numbers as a -policy gives them (the
// lease, which a spec may leave out, changes nothing the usage commands read).
func describeUsage(p core.Policy) string {
	switch {
	case p.Algorithm == core.FixedWindow && p.Calendar == core.Monthly:
		return fmt.Sprintf("%q, monthly quota: %d per calendar month (UTC)", p.Name, p.Limit)
	case p.Algorithm == core.FixedWindow:
		return fmt.Sprintf("%q, fixed window: %d per %s", p.Name, p.Limit, short(p.Window))
	case p.Algorithm == core.SlidingWindow:
		return fmt.Sprintf("%q, sliding window: about %d per %s", p.Name, p.Limit, short(p.Window))
	case p.Algorithm == core.TokenBucket:
		return fmt.Sprintf("%q, token bucket: %d per %s, bursts of %d", p.Name, p.Limit, short(p.Window), p.Capacity())
	}
	return fmt.Sprintf("%q, concurrency: %d at once", p.Name, p.Limit)
}

// short writes a window as people write it: 1m, 1h, 24h, 7d, 1h30m, 1.5s.
func short(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// human formats a duration for people, never shorter than it is: it is rounded up to the
// smallest unit shown (milliseconds below a second, then seconds below an hour, minutes
// below two days, hours beyond), and the format follows the rounded value.
func human(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if ms := millis(d); ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	ceil := func(unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
	if s := ceil(time.Second); s < 60 {
		return fmt.Sprintf("%ds", s)
	} else if s < 3600 {
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	if m := ceil(time.Minute); m < 48*60 {
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	h := ceil(time.Hour)
	return fmt.Sprintf("%dd%02dh", h/24, h%24)
}

// quoteAll quotes each name and joins them.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
