package status_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/internal/observetest"
	"github.com/tollgate-go/tollgate/observe/status"
)

func newPage(t *testing.T, o status.Options) (*status.Page, *observetest.Clock) {
	t.Helper()
	c := observetest.NewClock()
	if o.Now == nil {
		o.Now = c.Now
	}
	p, err := status.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func limiter(t *testing.T, st status.Status, name string) status.LimiterStatus {
	t.Helper()
	for _, l := range st.Limiters {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no limiter %q in %+v", name, st)
	return status.LimiterStatus{}
}

func decisions(allowed, denied, shadow, failedOpen, failedClosed, fallback, fallbackDenied int64) map[string]int64 {
	return map[string]int64{"allowed": allowed, "denied": denied, "shadow_denied": shadow, "failed_open": failedOpen,
		"failed_closed": failedClosed, "fallback": fallback, "fallback_denied": fallbackDenied}
}

// Denials: counts by result, the denial cache's share, and the denied key on top.
func TestDenials(t *testing.T) {
	p, _ := newPage(t, status.Options{Keys: status.KeysRaw})
	obs := p.Observer(observe.Limiter{Name: "web", Policies: []core.Policy{observetest.PolicyAPI}, Store: memstore.New()})
	observetest.Denials(t, memstore.New(), obs, "alice")
	l := limiter(t, p.Snapshot(), "web")
	if len(l.Policies) != 1 {
		t.Fatalf("policies %+v", l.Policies)
	}
	pol := l.Policies[0]
	if pol.Name != "api" || pol.Rule != "2 per 1m0s" || pol.Algorithm != "fixed-window" || !pol.Declared {
		t.Fatalf("policy %+v", pol)
	}
	if want := decisions(2, 2, 0, 0, 0, 0, 0); !reflect.DeepEqual(pol.Decisions, want) || pol.Cached != 1 {
		t.Fatalf("decisions %v cached %d, want %v and 1", pol.Decisions, pol.Cached, want)
	}
	if want := []status.DeniedKey{{Key: "alice", Policy: "api", Denied: 2}}; !reflect.DeepEqual(l.TopDenied, want) {
		t.Fatalf("top denied %+v, want %+v", l.TopDenied, want)
	}
	if l.Health != "ok" || l.Store.Name != "memory" || l.Store.Calls != 3 || !l.Store.InProcess || l.Store.MeanLatency != 0 {
		t.Fatalf("health %q, store %+v; want ok and 3 untimed memory calls", l.Health, l.Store)
	}
}

// A store that does I/O: its calls (takes, acquires and releases; not the denial cache's
// answers) are counted with their mean duration.
func TestStoreCalls(t *testing.T) {
	p, _ := newPage(t, status.Options{})
	s := observetest.NewStore()
	s.Delay = 2 * time.Millisecond
	observetest.Denials(t, s, p.Observer(observe.Limiter{Name: "web", Store: s}), "alice")
	observetest.Leases(t, s, p.Observer(observe.Limiter{Name: "jobs", Store: s}), "alice")
	observetest.Settlement(t, s, p.Observer(observe.Limiter{Name: "settling", Store: s}), "carol")
	st := p.Snapshot()
	if d := limiter(t, st, "settling").Policies[0].Decisions; d["allowed"] != 1 || d["denied"] != 1 {
		t.Fatalf("settling decisions %v, want 1 allowed and 1 denied (a settlement is no decision)", d)
	}
	for _, c := range []struct {
		limiter string
		calls   int64
	}{{"web", 3}, {"jobs", 3}, {"settling", 3}} { // jobs: two acquires and a release; settling: two takes, one adjust
		l := limiter(t, st, c.limiter)
		if l.Store.InProcess || l.Store.Calls != c.calls || time.Duration(l.Store.MeanLatency) < s.Delay || l.Store.Errors != 0 {
			t.Fatalf("%s: store %+v; want %d calls of at least %v on average, no error", c.limiter, l.Store, c.calls, s.Delay)
		}
	}
}

// Reservations and settlements per policy, in JSON and HTML: the batches reserved and their
// allowance, the decisions answered from them (decisions, but no store calls), and the
// settlements and refunds, taken and failed (no decisions, but store calls).
func TestReservationsAndSettlements(t *testing.T) {
	t.Parallel() // the failed settlements are retried for about 3 s
	p, _ := newPage(t, status.Options{})
	s := observetest.NewStore()
	observetest.Reservations(t, s, p.Observer(observe.Limiter{Name: "hot", Store: s}), "alice")
	settling := p.Observer(observe.Limiter{Name: "llm", Store: s})
	observetest.Settlements(t, s, settling, "bob")
	observetest.FailedSettlements(t, settling, "carol")
	st := p.Snapshot()

	hot := limiter(t, st, "hot")
	pol := hot.Policies[0]
	if pol.Reservations != observetest.ReservedBatches || pol.Reserved != observetest.ReservedUnits || pol.Local != observetest.ReservedLocal {
		t.Fatalf("hot: reservations %d of %d, local %d; want %d of %d, local %d", pol.Reservations, pol.Reserved, pol.Local,
			observetest.ReservedBatches, observetest.ReservedUnits, observetest.ReservedLocal)
	}
	if want := decisions(observetest.ReservedBatches+observetest.ReservedLocal, 2, 0, 0, 0, 0, 0); !reflect.DeepEqual(pol.Decisions, want) {
		t.Fatalf("hot: decisions %v, want %v (local ones are decisions)", pol.Decisions, want)
	}
	// The 6 decisions that reserved a batch and the one the store denied (reported as one
	// call, though the core asked twice: for a batch, then for the request's cost): the
	// local answers and the denial cache's made no call.
	if hot.Store.Calls != observetest.ReservedBatches+1 {
		t.Fatalf("hot: %d store calls, want %d", hot.Store.Calls, observetest.ReservedBatches+1)
	}

	llm := limiter(t, st, "llm")
	want := status.SettlementStatus{
		Charges: observetest.SettledCharges, Charged: observetest.SettledCharged,
		Refunds: observetest.SettledRefunds, Refunded: observetest.SettledRefunded,
		Failed: 2, FailedCharge: observetest.FailedCharged, FailedRefund: observetest.FailedRefunded,
	}
	if got := llm.Policies[0].Settlements; got != want {
		t.Fatalf("llm: settlements %+v, want %+v", got, want)
	}
	if d := llm.Policies[0].Decisions; d["allowed"] != 4+2 || llm.Policies[0].Reservations != 0 {
		t.Fatalf("llm: decisions %v, reservations %d; want 6 allowed (settlements are none) and no reservation", d, llm.Policies[0].Reservations)
	}
	// 6 takes and 3 settlements taken; the two that failed are errors.
	if llm.Store.Calls != 6+3 || llm.Store.Errors != 2 {
		t.Fatalf("llm: store %+v, want 9 calls and 2 errors", llm.Store)
	}

	srv := httptest.NewServer(p)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{
		`<tr class="reserve-settle" data-policy="batch" data-reservations="6" data-charges="0" data-refunds="0">`,
		`<td class="n">6</td><td class="n">20</td><td class="n">14 <small>(64 % of decisions)</small></td>`,
		`<tr class="reserve-settle" data-policy="tokens" data-reservations="0" data-charges="1" data-refunds="2">`,
		`<td class="n">1 · 15</td><td class="n">2 · 16</td>`,
		`<td class="n">2 · charge 2, refund 10</td>`,
	} {
		if !strings.Contains(string(body), s) {
			t.Fatalf("the page lacks %s:\n%s", s, body)
		}
	}
}

// Without reservations or settlements the page has no such table.
func TestNoReservationsTable(t *testing.T) {
	p, _ := newPage(t, status.Options{})
	observetest.Denials(t, memstore.New(), p.Observer(observe.Limiter{Name: "web"}), "alice")
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if body := rec.Body.String(); strings.Contains(body, "Reservations and settlements") || !strings.Contains(body, `data-policy="api"`) {
		t.Fatalf("the page shows a reservations table without any, or no policy:\n%s", body)
	}
}

// A store outage answered by the fallback: the breaker opens then closes, the store errors
// and the failure policy's decisions are shown, and the fallback's denial is a denied key.
func TestOutageWithFallback(t *testing.T) {
	p, _ := newPage(t, status.Options{Keys: status.KeysRaw})
	obs := p.Observer(observe.Limiter{Name: "web", StoreName: "redis", Failure: core.FailFallback})
	observetest.Outage(t, core.FailFallback, obs, "alice")
	l := limiter(t, p.Snapshot(), "web")
	if l.Failure.Policy != "fallback" || l.Failure.Fallback != 2 || l.Failure.FallbackDenied != 1 || l.Failure.Last.IsZero() {
		t.Fatalf("failure %+v", l.Failure)
	}
	if l.Breaker.Open || l.Breaker.Opened != 1 || l.Breaker.Closed != 1 {
		t.Fatalf("breaker %+v, want closed after opening and closing once", l.Breaker)
	}
	if l.Store.Errors != 2 || l.Store.LastErrorType != "_OTHER" || l.Store.Calls != 1 {
		t.Fatalf("store %+v, want 2 errors and 1 call", l.Store)
	}
	if l.Health != "store errors" {
		t.Fatalf("health %q, want store errors (one in the last minute)", l.Health)
	}
	if want := []status.DeniedKey{{Key: "alice", Policy: "api", Denied: 1}}; !reflect.DeepEqual(l.TopDenied, want) {
		t.Fatalf("top denied %+v, want %+v", l.TopDenied, want)
	}
}

// While the breaker is open the limiter's health says so; a minute after the last store
// error, health is ok again.
func TestHealth(t *testing.T) {
	p, pc := newPage(t, status.Options{})
	s := observetest.NewStore()
	c := observetest.NewClock()
	l := observetest.NewLimiter(t, core.Config{Store: s, Now: c.Now, Breaker: core.BreakerConfig{Failures: 2, Cooldown: time.Second},
		Observer: p.Observer(observe.Limiter{Name: "web", Store: s})})
	health := func(want string) {
		t.Helper()
		if got := limiter(t, p.Snapshot(), "web").Health; got != want {
			t.Fatalf("health %q, want %q", got, want)
		}
	}
	health("ok")
	s.SetDown(true)
	observetest.Take(t, l, "alice", c.Now())
	health("store errors")
	observetest.Take(t, l, "alice", c.Now())
	health("breaker open")
	s.SetDown(false)
	c.Advance(2 * time.Second)
	observetest.Take(t, l, "alice", c.Now())
	health("store errors")
	pc.Advance(status.RateWindow)
	health("ok")
}

func TestShadowAndLeases(t *testing.T) {
	p, _ := newPage(t, status.Options{Keys: status.KeysRaw})
	observetest.Shadow(t, p.Observer(observe.Limiter{Name: "web"}), "alice")
	observetest.Leases(t, memstore.New(), p.Observer(observe.Limiter{Name: "jobs"}), "bob")
	st := p.Snapshot()
	web := limiter(t, st, "web")
	if want := []status.DeniedKey{{Key: "alice", Policy: "api", Denied: 1, Shadow: 1}}; !reflect.DeepEqual(web.TopDenied, want) {
		t.Fatalf("top denied %+v, want %+v", web.TopDenied, want)
	}
	if web.Policies[0].Declared || web.Policies[0].Decisions["shadow_denied"] != 1 {
		t.Fatalf("policy %+v: want one shadow denial, seen rather than declared", web.Policies[0])
	}
	jobs := limiter(t, st, "jobs")
	if pol := jobs.Policies[0]; pol.Name != "slots" || pol.LeasesAcquired != 1 || pol.Rule != "1 at once, lease 1m0s" {
		t.Fatalf("jobs policy %+v", pol)
	}
}

// Concurrency holders: the leases each policy holds right now, their mean hold time, and the
// keys holding the most (Options.TopKeys of them; the rest as other keys), in JSON and HTML.
func TestConcurrencyHolders(t *testing.T) {
	p, _ := newPage(t, status.Options{Keys: status.KeysRaw, TopKeys: 1})
	pool := core.NewConcurrency("pool", 2, time.Minute) // per key
	c := observetest.NewClock()
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: pool,
		Config: core.Config{Now: c.Now, Observer: p.Observer(observe.Limiter{Name: "jobs", Policies: []core.Policy{pool}})},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	leases := map[string][]*core.Lease{}
	for _, key := range []string{"alice", "alice", "bob", "alice"} {
		lease, _, err := cl.AcquireKeyAt(ctx, key, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		if lease != nil {
			leases[key] = append(leases[key], lease)
		}
	}
	type want struct {
		held, acquired, released int64
		mean                     time.Duration
		holders                  []status.LeaseHolder
		other                    int64
	}
	check := func(step string, w want) {
		t.Helper()
		l := limiter(t, p.Snapshot(), "jobs")
		pol := l.Policies[0]
		if pol.LeasesHeld != w.held || pol.LeasesAcquired != w.acquired || pol.LeasesReleased != w.released || time.Duration(pol.MeanHold) != w.mean {
			t.Fatalf("%s: policy held %d acquired %d released %d mean hold %v; want %d %d %d %v", step,
				pol.LeasesHeld, pol.LeasesAcquired, pol.LeasesReleased, time.Duration(pol.MeanHold), w.held, w.acquired, w.released, w.mean)
		}
		if !reflect.DeepEqual(l.Holders, w.holders) || l.OtherHolders != w.other {
			t.Fatalf("%s: holders %+v, other %d; want %+v, %d", step, l.Holders, l.OtherHolders, w.holders, w.other)
		}
	}
	check("three held", want{3, 3, 0, 0, []status.LeaseHolder{{Key: "alice", Policy: "pool", Leases: 2}}, 1})

	srv := httptest.NewServer(p)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{
		`<td class="n leases-held" data-leases-held="3">3</td>`,
		`<tr class="holder"><td class="n">1</td><td class="key">alice</td><td>pool</td><td class="n">2</td></tr>`,
		`<tr class="holder-other"><td></td><td class="empty">other keys</td><td></td><td class="n">1</td></tr>`,
	} {
		if !strings.Contains(string(body), s) {
			t.Fatalf("the page lacks %s:\n%s", s, body)
		}
	}

	c.Advance(3 * time.Second)
	if err := leases["bob"][0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if err := leases["alice"][0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	check("one held", want{1, 3, 2, 3500 * time.Millisecond, []status.LeaseHolder{{Key: "alice", Policy: "pool", Leases: 1}}, 0})
	if err := leases["alice"][1].Release(ctx); err != nil {
		t.Fatal(err)
	}
	check("none held", want{0, 3, 3, 11 * time.Second / 3, // 3 s, 4 s and 4 s
		[]status.LeaseHolder{}, 0})
}

// Keys are hashed by default, hidden on request, raw (quoted when binary) on request.
func TestKeyDisplay(t *testing.T) {
	secret := []byte("0123456789abcdef")
	for _, c := range []struct {
		keys status.KeyDisplay
		key  string
		want func(p *status.Page) string
	}{
		{status.KeysHashed, "alice", func(p *status.Page) string { return p.HashKey("alice") }},
		{status.KeysHidden, "alice", func(*status.Page) string { return "(hidden)" }},
		{status.KeysRaw, "alice", func(*status.Page) string { return "alice" }},
		{status.KeysRaw, "bin\x00\xff", func(*status.Page) string { return `"bin\x00\xff"` }},
	} {
		t.Run(c.keys.String(), func(t *testing.T) {
			p, _ := newPage(t, status.Options{Keys: c.keys, KeySecret: secret})
			observetest.Denials(t, memstore.New(), p.Observer(observe.Limiter{Name: "web"}), c.key)
			st := p.Snapshot()
			top := limiter(t, st, "web").TopDenied
			if len(top) != 1 || top[0].Key != c.want(p) {
				t.Fatalf("top denied %+v, want key %q", top, c.want(p))
			}
			if st.KeyDisplay != c.keys.String() {
				t.Fatalf("key display %q", st.KeyDisplay)
			}
		})
	}
	// The same secret gives the same hash on another page (another instance or a restart).
	p1, _ := newPage(t, status.Options{KeySecret: secret})
	p2, _ := newPage(t, status.Options{KeySecret: secret})
	p3, _ := newPage(t, status.Options{})
	if h := p1.HashKey("alice"); h != p2.HashKey("alice") || h == p3.HashKey("alice") || !strings.HasPrefix(h, "h:") || len(h) != 18 {
		t.Fatalf("hashes %q %q %q", h, p2.HashKey("alice"), p3.HashKey("alice"))
	}
}

// The most denied keys are those of the current and previous window; the list is bounded
// and keeps a heavy hitter among many keys denied once.
func TestTopDeniedWindowAndBound(t *testing.T) {
	p, pc := newPage(t, status.Options{Keys: status.KeysRaw, TopKeys: 3, Window: time.Minute})
	c := observetest.NewClock()
	l := observetest.NewLimiter(t, core.Config{Now: c.Now, Rules: []core.Rule{{Policy: core.NewFixedWindow("one", 1, time.Hour)}},
		Observer: p.Observer(observe.Limiter{Name: "web"})})
	for i := range 200 {
		key := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		observetest.Take(t, l, key, c.Now())
		observetest.Take(t, l, key, c.Now()) // denied once
		observetest.Take(t, l, "hot", c.Now())
	}
	top := limiter(t, p.Snapshot(), "web").TopDenied
	if len(top) != 3 || top[0].Key != "hot" || top[0].Denied < 199 {
		t.Fatalf("top denied %+v, want 3 rows led by hot with at least 199 denials", top)
	}
	pc.Advance(time.Minute)
	if top := limiter(t, p.Snapshot(), "web").TopDenied; len(top) == 0 || top[0].Key != "hot" {
		t.Fatalf("one window later: %+v, want hot still listed (previous window)", top)
	}
	pc.Advance(2 * time.Minute)
	if top := limiter(t, p.Snapshot(), "web").TopDenied; len(top) != 0 {
		t.Fatalf("two windows later: %+v, want none", top)
	}
}

// Rates are decisions per second between page loads.
func TestRates(t *testing.T) {
	p, pc := newPage(t, status.Options{})
	c := observetest.NewClock()
	big := core.NewFixedWindow("big", 1000, time.Hour)
	l := observetest.NewLimiter(t, core.Config{Now: c.Now, Rules: []core.Rule{{Policy: big}},
		Observer: p.Observer(observe.Limiter{Name: "web", Policies: []core.Policy{big}})})
	pc.Advance(10 * time.Second)
	p.Snapshot()
	for range 50 {
		observetest.Take(t, l, "alice", c.Now())
	}
	pc.Advance(10 * time.Second)
	if r := limiter(t, p.Snapshot(), "web").Policies[0].Rates["allowed"]; r != 5 {
		t.Fatalf("allowed rate %v/s, want 5 (50 in 10 s)", r)
	}
	pc.Advance(10 * time.Second)
	if r := limiter(t, p.Snapshot(), "web").Policies[0].Rates["allowed"]; r != 2.5 {
		t.Fatalf("allowed rate %v/s, want 2.5 (50 in the last 20 s)", r)
	}
	pc.Advance(2 * status.RateWindow)
	p.Snapshot()
	pc.Advance(10 * time.Second)
	if r := limiter(t, p.Snapshot(), "web").Policies[0].Rates["allowed"]; r != 0 {
		t.Fatalf("allowed rate %v/s after a quiet spell, want 0", r)
	}
}

func TestHTTP(t *testing.T) {
	p, _ := newPage(t, status.Options{Keys: status.KeysRaw, Title: "ops <status>"})
	observetest.Denials(t, memstore.New(), p.Observer(observe.Limiter{Name: "web", Policies: []core.Policy{observetest.PolicyAPI}}), "<script>alert(1)</script>")
	srv := httptest.NewServer(p)
	defer srv.Close()
	get := func(method, query, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/"+query, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, c := range []struct{ query, accept string }{{"?format=json", ""}, {"", "application/json"}} {
		resp, body := get("GET", c.query, c.accept)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%q %q: Content-Type %q", c.query, c.accept, ct)
		}
		var st status.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("JSON: %v\n%s", err, body)
		}
		if l := limiter(t, st, "web"); len(l.TopDenied) != 1 || l.TopDenied[0].Key != "<script>alert(1)</script>" {
			t.Fatalf("JSON top denied %+v", l.TopDenied)
		}
		if !strings.Contains(body, `"denied_window": "1m0s"`) {
			t.Fatalf("JSON lacks the window as a duration string:\n%s", body)
		}
	}
	resp, body := get("GET", "", "text/html,application/json")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	for _, h := range []string{"Content-Security-Policy", "Cache-Control", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Fatalf("no %s header", h)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "src=") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Fatalf("the page has a script, an external resource or an unescaped key:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "ops &lt;status&gt;") {
		t.Fatalf("the page does not show the escaped key and title:\n%s", body)
	}
	if !strings.Contains(body, `<meta http-equiv="refresh" content="5">`) {
		t.Fatal("the page does not refresh itself")
	}
	if resp, body := get("HEAD", "", ""); resp.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: %d with %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get("POST", "", ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []status.Options{
		{Keys: status.KeysHidden + 1},
		{TopKeys: -1},
		{TopKeys: status.MaxTopKeys + 1},
		{Window: -time.Second},
	} {
		if _, err := status.New(o); err == nil || !strings.HasPrefix(err.Error(), "status: ") {
			t.Errorf("New(%+v) = %v, want a status error", o, err)
		}
	}
}

// Registering a name twice returns one observer; its declared policies are merged.
func TestRegisterTwice(t *testing.T) {
	p, _ := newPage(t, status.Options{})
	a := p.Observer(observe.Limiter{Name: "web", Policies: []core.Policy{observetest.PolicyAPI}})
	b := p.Observer(observe.Limiter{Name: "web", Policies: []core.Policy{core.NewFixedWindow("daily", 100, 24*time.Hour)}})
	if a != b {
		t.Fatal("two observers for one name")
	}
	st := p.Snapshot()
	if len(st.Limiters) != 1 || len(st.Limiters[0].Policies) != 2 || st.Limiters[0].Policies[1].Rule != "100 per 24h0m0s" {
		t.Fatalf("status %+v", st)
	}
}
