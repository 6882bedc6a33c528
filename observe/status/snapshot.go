package status

import (
	"fmt"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/observe"
)

// Status is everything the page shows, as served in JSON.
type Status struct {
	Title      string          `json:"title"`
	Generated  time.Time       `json:"generated"`
	Started    time.Time       `json:"started"`
	KeyDisplay string          `json:"key_display"` // hashed, raw or hidden
	Window     Duration        `json:"denied_window"`
	Limiters   []LimiterStatus `json:"limiters"`
}

// Duration is a time.Duration that encodes as its String form ("1m0s") in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	*d = Duration(v)
	return nil
}

// LimiterStatus is one limiter.
type LimiterStatus struct {
	Name string `json:"name"`
	// Health is "ok", "store errors" (a store call failed in the last minute) or
	// "breaker open" (the store is not being called).
	Health   string         `json:"health"`
	Store    StoreStatus    `json:"store"`
	Breaker  BreakerStatus  `json:"breaker"`
	Failure  FailureStatus  `json:"failure"`
	Policies []PolicyStatus `json:"policies"`
	// TopDenied are the keys most often denied over the current and previous window.
	TopDenied []DeniedKey `json:"top_denied"`
	// Holders are the keys holding the most concurrency leases right now (Options.TopKeys
	// of them); OtherHolders is how many leases the other keys hold.
	Holders      []LeaseHolder `json:"holders"`
	OtherHolders int64         `json:"other_holders"`
}

// StoreStatus is the store's health as the limiter saw it.
type StoreStatus struct {
	Name string `json:"name"`
	// InProcess is true for a store that runs in process (core/memstore): the core does not
	// time its calls, so MeanLatency stays zero.
	InProcess bool `json:"in_process"`
	// Calls are the successful store calls (takes, acquires, releases, settlements; not the
	// decisions the denial cache or a reserved batch answered); MeanLatency their mean
	// duration.
	Calls         int64     `json:"calls"`
	MeanLatency   Duration  `json:"mean_latency"`
	Errors        int64     `json:"errors"`
	LastError     time.Time `json:"last_error,omitzero"`
	LastErrorType string    `json:"last_error_type,omitempty"` // observe.ErrorType: never the error's text
}

// BreakerStatus is the circuit breaker's state.
type BreakerStatus struct {
	Open   bool      `json:"open"`
	Since  time.Time `json:"since,omitzero"` // the last transition
	Opened int64     `json:"opened"`
	Closed int64     `json:"closed"`
}

// FailureStatus is what the failure policy did.
type FailureStatus struct {
	Policy         string    `json:"policy"` // fail-open, fail-closed or fallback
	FailedOpen     int64     `json:"failed_open"`
	FailedClosed   int64     `json:"failed_closed"`
	Fallback       int64     `json:"fallback"`
	FallbackDenied int64     `json:"fallback_denied"`
	Last           time.Time `json:"last,omitzero"`
}

// PolicyStatus is one policy and its decisions.
type PolicyStatus struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Rule      string `json:"rule"` // "100 per 1m0s", "5 per 1m0s, burst 10", "2 at once, lease 30s"
	// Declared is true for policies given in observe.Limiter.Policies, false for policies
	// first seen in a decision (a PolicyFunc's plans).
	Declared bool `json:"declared"`
	// Decisions counts decisions by result (observe.Outcome names), cumulative.
	Decisions map[string]int64 `json:"decisions"`
	// Cached counts denials the denial cache answered.
	Cached int64 `json:"cached"`
	// Rates are decisions per second by result, over the last minute of page loads.
	Rates map[string]float64 `json:"rates"`
	// LeasesAcquired counts concurrency leases granted (by the store or the fallback).
	LeasesAcquired int64 `json:"leases_acquired"`
	// LeasesHeld is how many of them are held right now: granted and not yet released. A
	// lease the application never releases stays counted (the store expires it).
	LeasesHeld int64 `json:"leases_held"`
	// LeasesReleased counts the released ones; MeanHold is their mean time held.
	LeasesReleased int64    `json:"leases_released"`
	MeanHold       Duration `json:"mean_hold"`
	// Reservations counts the batches of allowance reserved from the store (a limit with
	// core.Reservations), Reserved their allowance in the policy's cost units, and Local the
	// decisions answered from them without a store call (counted in Decisions too).
	Reservations int64 `json:"reservations"`
	Reserved     int64 `json:"reserved"`
	Local        int64 `json:"local"`
	// Settlements counts the settlements and refunds of the policy's requests.
	Settlements SettlementStatus `json:"settlements"`
}

// SettlementStatus is what settling costs after the response (core.Rule's Settle) and
// refunds (core.Limiter.Refund) did to a policy's allowance.
type SettlementStatus struct {
	// Charges counts the settlements the store took that charged more than the estimate;
	// Charged is the allowance they charged, in the policy's cost units.
	Charges int64 `json:"charges"`
	Charged int64 `json:"charged"`
	// Refunds counts the settlements and refunds the store took that gave allowance back;
	// Refunded is the allowance given back.
	Refunds  int64 `json:"refunds"`
	Refunded int64 `json:"refunded"`
	// Failed counts those the store never took, after the core's retries (dropped, or
	// applied to the fallback store under core.FailFallback); FailedCharge and FailedRefund
	// are their allowance by direction.
	Failed       int64 `json:"failed"`
	FailedCharge int64 `json:"failed_charge"`
	FailedRefund int64 `json:"failed_refund"`
}

// LeaseHolder is a key holding concurrency leases.
type LeaseHolder struct {
	Key    string `json:"key"` // as Options.Keys says: hashed, raw or "(hidden)"
	Policy string `json:"policy"`
	Leases int64  `json:"leases"`
}

// DeniedKey is one of the keys most often denied.
type DeniedKey struct {
	Key    string `json:"key"` // as Options.Keys says: hashed, raw or "(hidden)"
	Policy string `json:"policy"`
	Denied int64  `json:"denied"` // denials, shadow ones included
	Shadow int64  `json:"shadow"` // of which in shadow mode (not enforced)
}

// Snapshot returns the current status. It also records the counts for the rates of later
// snapshots.
func (p *Page) Snapshot() Status {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Title: p.title, Generated: now, Started: p.started, KeyDisplay: p.keys.String(),
		Window: Duration(p.window), Limiters: []LimiterStatus{}}
	for _, s := range p.limiters {
		st.Limiters = append(st.Limiters, p.limiterStatus(s, now))
	}
	return st
}

func (p *Page) limiterStatus(s *limiterState, now time.Time) LimiterStatus {
	ls := LimiterStatus{
		Name: s.name,
		Store: StoreStatus{
			Name:      s.store,
			InProcess: s.inProcess,
			Calls:     s.storeCalls.Load(),
			Errors:    s.storeErrors.Load(),
		},
		Breaker: BreakerStatus{
			Open:   s.breakerOpen.Load(),
			Since:  unixTime(s.breakerSince.Load()),
			Opened: s.opened.Load(),
			Closed: s.closed.Load(),
		},
		Failure:   FailureStatus{Policy: s.failure.String(), Last: unixTime(s.lastDegraded.Load())},
		Policies:  []PolicyStatus{},
		TopDenied: []DeniedKey{},
		Holders:   []LeaseHolder{},
	}
	if ls.Store.Calls > 0 && !s.inProcess {
		ls.Store.MeanLatency = Duration(s.storeNanos.Load() / ls.Store.Calls)
	}
	ls.Store.LastError = unixTime(s.lastError.Load())
	if t, ok := s.lastErrType.Load().(string); ok {
		ls.Store.LastErrorType = t
	}
	switch {
	case ls.Breaker.Open:
		ls.Health = "breaker open"
	case !ls.Store.LastError.IsZero() && now.Sub(ls.Store.LastError) < RateWindow:
		ls.Health = "store errors"
	default:
		ls.Health = "ok"
	}
	s.mu.Lock()
	order := append([]*policyState(nil), s.order...)
	s.mu.Unlock()
	for _, ps := range order {
		pst := PolicyStatus{
			Name: ps.policy.Name, Algorithm: algorithm(ps.policy), Rule: Rule(ps.policy), Declared: ps.declared,
			Decisions: map[string]int64{}, Rates: map[string]float64{},
			Cached: ps.cached.Load(),
		}
		// Released before granted, so that held never reads negative.
		pst.LeasesReleased = ps.released.Load()
		pst.LeasesAcquired = ps.leases.Load()
		pst.LeasesHeld = max(pst.LeasesAcquired-pst.LeasesReleased, 0)
		if pst.LeasesReleased > 0 {
			pst.MeanHold = Duration(ps.heldNs.Load() / pst.LeasesReleased)
		}
		pst.Reservations, pst.Reserved, pst.Local = ps.reservations.Load(), ps.reserved.Load(), ps.local.Load()
		charge, refund := observe.Charge, observe.Refund
		pst.Settlements = SettlementStatus{
			Charges: ps.settlements[charge][0].Load(), Charged: ps.settled[charge][0].Load(),
			Refunds: ps.settlements[refund][0].Load(), Refunded: ps.settled[refund][0].Load(),
			Failed:       ps.settlements[charge][1].Load() + ps.settlements[refund][1].Load(),
			FailedCharge: ps.settled[charge][1].Load(), FailedRefund: ps.settled[refund][1].Load(),
		}
		var cur [observe.NumOutcomes]int64
		for o := range observe.NumOutcomes {
			cur[o] = ps.counts[o].Load()
			pst.Decisions[observe.Outcome(o).String()] = cur[o]
		}
		rates := ps.rates(cur, now.UnixNano())
		for o := range observe.NumOutcomes {
			pst.Rates[observe.Outcome(o).String()] = rates[o]
		}
		ls.Failure.FailedOpen += cur[observe.FailedOpen]
		ls.Failure.FailedClosed += cur[observe.FailedClosed]
		ls.Failure.Fallback += cur[observe.Fallback]
		ls.Failure.FallbackDenied += cur[observe.FallbackDenied]
		ls.Policies = append(ls.Policies, pst)
	}
	for _, d := range s.denied.top(p.topKeys, now.UnixNano()) {
		ls.TopDenied = append(ls.TopDenied, DeniedKey{Key: p.displayKey(d.key), Policy: d.policy, Denied: d.count, Shadow: d.shadow})
	}
	top, rest := s.holders.top(p.topKeys)
	for _, h := range top {
		ls.Holders = append(ls.Holders, LeaseHolder{Key: p.displayKey(h.key), Policy: h.policy, Leases: h.leases})
	}
	ls.OtherHolders = rest
	return ls
}

// rates returns decisions per second since the oldest sample of the last RateWindow (or
// since the policy was first seen), and records cur as a sample. Called under Page.mu.
func (ps *policyState) rates(cur [observe.NumOutcomes]int64, now int64) [observe.NumOutcomes]float64 {
	// Keep the samples of the last RateWindow, and the newest one before it as the base.
	cut := 0
	for cut+1 < len(ps.samples) && ps.samples[cut+1].at <= now-int64(RateWindow) {
		cut++
	}
	ps.samples = ps.samples[cut:]
	base := sample{at: ps.created}
	if len(ps.samples) > 0 {
		base = ps.samples[0]
	}
	var r [observe.NumOutcomes]float64
	if dt := now - base.at; dt > 0 {
		for o := range r {
			r[o] = float64(cur[o]-base.counts[o]) / (float64(dt) / float64(time.Second))
		}
	}
	// One sample per second at most, so the history stays within RateWindow seconds.
	if n := len(ps.samples); n == 0 || now-ps.samples[n-1].at >= int64(time.Second) {
		ps.samples = append(ps.samples, sample{at: now, counts: cur})
	}
	return r
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func algorithm(p core.Policy) string {
	if p.Algorithm == 0 {
		return ""
	}
	return p.Algorithm.String()
}

// Rule describes p's numbers for people: "100 per 1m0s", "1000 per calendar month",
// "5 per 1m0s, burst 10", "2 at once, lease 30s".
func Rule(p core.Policy) string {
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		if p.Calendar == core.Monthly {
			return fmt.Sprintf("%d per calendar month", p.Limit)
		}
		return fmt.Sprintf("%d per %v", p.Limit, p.Window)
	case core.TokenBucket:
		return fmt.Sprintf("%d per %v, burst %d", p.Limit, p.Window, p.Capacity())
	case core.Concurrency:
		return fmt.Sprintf("%d at once, lease %v", p.Limit, p.Lease)
	}
	return ""
}
