package observe_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/internal/observetest"
)

// describe renders what the observe helpers make of each event, one line per event.
func describe(events []core.Event) []string {
	var out []string
	for i := range events {
		e := &events[i]
		s := e.Kind.String()
		if o, ok := observe.Classify(e); ok {
			s += " " + o.String()
		}
		if e.Op != core.OpNone {
			s += " " + e.Op.String()
		}
		if observe.StoreCalled(e) {
			s += " call"
		}
		if e.Local {
			s += " local"
		}
		if e.Reserved != 0 {
			s += fmt.Sprintf(" reserved %d", e.Reserved)
		}
		if st, ok := observe.ClassifySettlement(e); ok {
			s += fmt.Sprintf(" %s %d", st.Direction, st.Amount)
			if st.Failed {
				s += " failed"
			}
		}
		if e.Kind == core.EventStoreError {
			s += " " + observe.ErrorType(e)
		}
		if e.Kind == core.EventLeaseReleased {
			s += " held " + e.Held.String()
			if e.Err != nil {
				s += " err"
			}
		}
		out = append(out, s)
	}
	return out
}

// Each situation drives a real limiter; the table says what every event it emitted means.
func TestClassifyRealEvents(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, obs core.Observer)
		want []string
	}{
		{"denials", func(t *testing.T, obs core.Observer) {
			observetest.Denials(t, memstore.New(), obs, "k")
		}, []string{
			"decision allowed take call", "decision allowed take call",
			"decision denied take call", "decision denied take", // the last from the denial cache
		}},
		{"shadow", func(t *testing.T, obs core.Observer) { observetest.Shadow(t, obs, "k") }, []string{
			"decision allowed take call", "decision allowed take call", "decision shadow_denied take call",
		}},
		{"fail-open", func(t *testing.T, obs core.Observer) { observetest.Outage(t, core.FailOpen, obs, "k") }, []string{
			"store-error take call _OTHER", "decision failed_open take",
			"breaker-open",
			"store-error take call _OTHER", "decision failed_open take",
			"store-error take circuit_open", "decision failed_open take",
			"breaker-closed", "decision allowed take call",
		}},
		{"fail-closed", func(t *testing.T, obs core.Observer) { observetest.Outage(t, core.FailClosed, obs, "k") }, []string{
			"store-error failed_closed take call _OTHER",
			"breaker-open",
			"store-error failed_closed take call _OTHER",
			"store-error failed_closed take circuit_open",
			"breaker-closed", "decision allowed take call",
		}},
		{"fallback", func(t *testing.T, obs core.Observer) { observetest.Outage(t, core.FailFallback, obs, "k") }, []string{
			"store-error take call _OTHER", "decision fallback take",
			"breaker-open",
			"store-error take call _OTHER", "decision fallback take",
			"store-error take circuit_open", "decision fallback_denied take",
			"breaker-closed", "decision allowed take call",
		}},
		{"leases", func(t *testing.T, obs core.Observer) { observetest.Leases(t, observetest.NewStore(), obs, "k") }, []string{
			"decision allowed acquire call", "decision denied acquire call", "lease-released release call held 1.5s",
		}},
		{"leases-memstore", func(t *testing.T, obs core.Observer) { observetest.Leases(t, memstore.New(), obs, "k") }, []string{
			"decision allowed acquire call", "decision denied acquire call", "lease-released release call held 1.5s",
		}},
		{"settlement", func(t *testing.T, obs core.Observer) { observetest.Settlement(t, observetest.NewStore(), obs, "k") }, []string{
			"decision allowed take call", "decision adjust call charge 1", "decision denied take call",
		}},
		{"settlements", func(t *testing.T, obs core.Observer) { observetest.Settlements(t, memstore.New(), obs, "k") }, []string{
			"decision allowed take call", "decision adjust call charge 15",
			"decision allowed take call", "decision adjust call refund 6",
			"decision allowed take call", "decision adjust call refund 10",
			"decision allowed take call", // the estimate was right: no settlement
		}},
		{"reservations", func(t *testing.T, obs core.Observer) {
			observetest.Reservations(t, observetest.NewStore(), obs, "k")
		}, reservationEvents},
		{"reservations-memstore", func(t *testing.T, obs core.Observer) {
			observetest.Reservations(t, memstore.New(), obs, "k")
		}, reservationEvents},
		{"lease-outage", func(t *testing.T, obs core.Observer) { observetest.LeaseOutage(t, core.FailOpen, obs, "k") }, []string{
			"store-error acquire call _OTHER", "decision failed_open acquire",
			"breaker-open",
			"store-error acquire call _OTHER", "decision failed_open acquire",
			"store-error acquire circuit_open", "decision failed_open acquire",
			"breaker-closed", "decision allowed acquire call", "lease-released release call held 0s",
		}},
		{"lease-outage-closed", func(t *testing.T, obs core.Observer) { observetest.LeaseOutage(t, core.FailClosed, obs, "k") }, []string{
			"store-error failed_closed acquire call _OTHER",
			"breaker-open",
			"store-error failed_closed acquire call _OTHER",
			"store-error failed_closed acquire circuit_open",
			"breaker-closed", "decision allowed acquire call", "lease-released release call held 0s",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &observetest.Recorder{}
			c.run(t, rec)
			if got := describe(rec.Events()); !slices.Equal(got, c.want) {
				t.Fatalf("events:\n got  %q\n want %q", got, c.want)
			}
		})
	}
}

// reservationEvents are the events of observetest.Reservations: a decision that reserved a
// batch from the store is a store call; one answered from the batch (local) is a decision
// without one, allowed or denied as before.
var reservationEvents = func() []string {
	call := func(n int) string { return fmt.Sprintf("decision allowed take call reserved %d", n) }
	local := func(n int) []string { return slices.Repeat([]string{"decision allowed take local"}, n) }
	var ev []string
	ev = append(append(ev, call(2)), local(1)...)
	for range 3 {
		ev = append(append(ev, call(5)), local(4)...)
	}
	ev = append(append(ev, call(2)), local(1)...)
	return append(ev, call(1), "decision denied take call", "decision denied take") // the last from the denial cache
}()

// A decision answered locally is no store call, whatever its result; the decision that
// reserved its batch is.
func TestStoreCalledLocal(t *testing.T) {
	for _, c := range []struct {
		name string
		e    core.Event
		want bool
	}{
		{"reserved a batch", core.Event{Kind: core.EventDecision, Op: core.OpTake, Reserved: 5, Decision: core.Decision{Allowed: true}}, true},
		{"allowed from the batch", core.Event{Kind: core.EventDecision, Op: core.OpTake, Local: true, Decision: core.Decision{Allowed: true}}, false},
		{"denied while the batch accrues", core.Event{Kind: core.EventDecision, Op: core.OpTake, Local: true}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := observe.StoreCalled(&c.e); got != c.want {
				t.Errorf("StoreCalled = %v, want %v", got, c.want)
			}
			if _, ok := observe.Classify(&c.e); !ok {
				t.Error("Classify: not a decision")
			}
		})
	}
}

// A failing release is reported as a store error that is no decision, with operation release,
// and its release event does not report the call a second time; a failing extend is a store
// error with operation extend.
func TestClassifyReleaseAndExtendErrors(t *testing.T) {
	s := observetest.NewStore()
	rec := &observetest.Recorder{}
	c := observetest.NewClock()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: observetest.PolicySlots, Config: core.Config{Observer: rec, Now: c.Now}})
	if err != nil {
		t.Fatal(err)
	}
	lease, _, err := cl.AcquireKeyAt(context.Background(), "k", c.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(250 * time.Millisecond)
	s.SetDown(true)
	if err := lease.Extend(context.Background()); !errors.Is(err, observetest.ErrDown) {
		t.Fatalf("Extend: %v, want ErrDown", err)
	}
	if err := lease.Release(context.Background()); !errors.Is(err, observetest.ErrDown) {
		t.Fatalf("Release: %v, want ErrDown", err)
	}
	got := describe(rec.Events())
	want := []string{"decision allowed acquire call", "store-error extend call _OTHER",
		"store-error release call _OTHER", "lease-released release held 250ms err"}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got  %q\n want %q", got, want)
	}
}

// ClassifySettlement reads a settlement from its adjust event, taken or failed, and nothing
// from other events.
func TestClassifySettlement(t *testing.T) {
	for _, c := range []struct {
		name string
		e    core.Event
		want observe.Settlement
		ok   bool
	}{
		{"charge taken", core.Event{Kind: core.EventDecision, Op: core.OpAdjust, Delta: 15}, observe.Settlement{Direction: observe.Charge, Amount: 15}, true},
		{"refund taken", core.Event{Kind: core.EventDecision, Op: core.OpAdjust, Delta: -6}, observe.Settlement{Direction: observe.Refund, Amount: 6}, true},
		{"charge failed", core.Event{Kind: core.EventStoreError, Op: core.OpAdjust, Delta: 2, Err: observetest.ErrDown}, observe.Settlement{Direction: observe.Charge, Amount: 2, Failed: true}, true},
		{"refund failed into the fallback", core.Event{Kind: core.EventStoreError, Op: core.OpAdjust, Delta: -10, Err: observetest.ErrDown, Degraded: core.DegradedFallback},
			observe.Settlement{Direction: observe.Refund, Amount: 10, Failed: true}, true},
		{"huge refund", core.Event{Kind: core.EventDecision, Op: core.OpAdjust, Delta: math.MinInt64}, observe.Settlement{Direction: observe.Refund, Amount: math.MaxInt64}, true},
		{"no amount", core.Event{Kind: core.EventDecision, Op: core.OpAdjust}, observe.Settlement{}, false},
		{"a take", core.Event{Kind: core.EventDecision, Op: core.OpTake, Delta: 3}, observe.Settlement{}, false},
		{"a release", core.Event{Kind: core.EventLeaseReleased, Op: core.OpRelease}, observe.Settlement{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := observe.ClassifySettlement(&c.e)
			if got != c.want || ok != c.ok {
				t.Fatalf("ClassifySettlement = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
	if observe.Charge.String() != "charge" || observe.Refund.String() != "refund" {
		t.Fatalf("directions %q, %q", observe.Charge, observe.Refund)
	}
}

func TestErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("redis: %w", context.DeadlineExceeded), "timeout"},
		{context.Canceled, "canceled"},
		{errors.New("connection refused 10.0.0.7:6379 key=alice"), "_OTHER"},
		{core.ErrBreakerOpen, "circuit_open"},
	} {
		e := core.Event{Kind: core.EventStoreError, Err: c.err, Op: core.OpTake}
		if got := observe.ErrorType(&e); got != c.want {
			t.Errorf("ErrorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestStoreName(t *testing.T) {
	for _, c := range []struct {
		store any
		want  string
	}{
		{memstore.New(), "memory"},
		{observetest.NewStore(), "observetest"},
		{nil, "unknown"},
	} {
		if got := observe.StoreName(c.store); got != c.want {
			t.Errorf("StoreName(%T) = %q, want %q", c.store, got, c.want)
		}
	}
	l := observe.Limiter{Store: memstore.New()}.Normalize()
	if l.Name != observe.DefaultName || l.StoreName != "memory" || !l.InProcess() {
		t.Fatalf("Normalize = %+v (in process %v)", l, l.InProcess())
	}
}

func TestTee(t *testing.T) {
	if observe.Tee(nil, nil) != nil {
		t.Fatal("Tee of nils is not nil")
	}
	a := &observetest.Recorder{}
	if observe.Tee(nil, a) != core.Observer(a) {
		t.Fatal("Tee of one observer does not return it")
	}
	b := &observetest.Recorder{}
	observetest.Denials(t, memstore.New(), observe.Tee(a, nil, b), "k")
	if na, nb := len(a.Events()), len(b.Events()); na != 4 || nb != 4 {
		t.Fatalf("events seen: %d and %d, want 4 each", na, nb)
	}
}

func TestOutcomeStrings(t *testing.T) {
	var names []string
	for o := observe.Outcome(0); int(o) <= observe.NumOutcomes; o++ {
		names = append(names, o.String())
	}
	want := []string{"allowed", "denied", "shadow_denied", "failed_open", "failed_closed", "fallback", "fallback_denied", "unknown"}
	if !slices.Equal(names, want) {
		t.Fatalf("outcomes = %q, want %q", names, want)
	}
}
