package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/status"
)

// chromium returns the headless browser from TOLLGATE_CHROMIUM (scripts/chromium.sh installs
// it and the test command exports it).
func chromium(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TOLLGATE_CHROMIUM"); bin != "" {
		return bin
	}
	if testenv.Required() {
		t.Fatal("TOLLGATE_CHROMIUM is not set but TOLLGATE_REQUIRE_SERVERS=1: source scripts/chromium.sh and export TOLLGATE_CHROMIUM=$(chromium_install)")
	}
	t.Skip("TOLLGATE_CHROMIUM not set: headless Chromium is not available; `make test` installs it (skipped only outside the test command)")
	return ""
}

// artifactDir is where tests leave files for people to look at: $TOLLGATE_ARTIFACTS, or
// tollgate-artifacts in the temporary directory. Unlike t.TempDir it outlives the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOLLGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tollgate-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A real browser loads the status page while an application behind the net/http middleware
// is being driven: two API keys, one of them far over its plan, and a long export holding a
// concurrency lease; the daily quota reserves batches (core.Reservations) and settles each
// request's real cost after it (2 for an estimate of 1). The rendered DOM shows the limiters,
// their policies, the key most denied, the lease holder, and the quota's reservations and
// settlements; a screenshot is kept as an artifact.
func TestBrowserShowsDeniedKey(t *testing.T) {
	bin := chromium(t)

	page, err := status.New(status.Options{Keys: status.KeysRaw, Title: "Tollgate status (browser test)"})
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	free := core.NewFixedWindow("plan-free", 5, time.Minute)
	daily := core.NewFixedWindow("daily-quota", 10000, 24*time.Hour)
	lim, err := core.NewLimiter(core.Config{
		Store: store,
		Key:   core.KeyByHeader("X-API-Key"),
		Rules: []core.Rule{
			{Policy: free},
			{Policy: daily, Reserve: &core.Reservations{}, Settle: func(core.Request, core.Outcome) int64 { return 2 }},
		},
		Observer: page.Observer(observe.Limiter{Name: "public-api", Store: store, Failure: core.FailOpen,
			Policies: []core.Policy{free, daily}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	exports := core.NewConcurrency("exports", 2, time.Minute)
	jobs, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{
		Store:  store,
		Policy: exports,
		Config: core.Config{Key: core.KeyByHeader("X-API-Key"), Observer: page.Observer(observe.Limiter{Name: "exports", Store: store, Policies: []core.Policy{exports}})},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/items", nethttp.RateLimit(lim, nethttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	exporting, finish := make(chan struct{}), make(chan struct{})
	mux.Handle("/export", nethttp.Concurrency(jobs, nethttp.ConcurrencyOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(exporting)
		<-finish // holds its lease until the test ends
		w.WriteHeader(http.StatusNoContent)
	})))
	app := httptest.NewServer(mux)
	defer app.Close()
	// alice runs a long export: she holds a lease while the page loads.
	exportDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", app.URL+"/export", nil)
		req.Header.Set("X-API-Key", "alice-key")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		exportDone <- err
	}()
	defer func() {
		close(finish)
		if err := <-exportDone; err != nil {
			t.Errorf("export request: %v", err)
		}
	}()
	select {
	case <-exporting:
	case <-time.After(30 * time.Second):
		t.Fatal("the export request did not start in 30 s")
	}
	admin := httptest.NewServer(page) // the operator's listener, apart from the application's
	defer admin.Close()

	// Drive the application until the test ends: mallory hammers, alice stays in her plan.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	denied := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		var once sync.Once
		tick := time.NewTicker(2 * time.Millisecond) // pacing, so the browser gets the CPU
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			key := "mallory-0xdeadbeef"
			if i%50 == 0 {
				key = "alice-key"
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", app.URL+"/items", nil)
			req.Header.Set("X-API-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				once.Do(func() { close(denied) })
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}()
	defer func() { stop(); wg.Wait() }()
	select {
	case <-denied:
	case <-time.After(30 * time.Second):
		t.Fatal("the application denied nothing in 30 s")
	}

	profile := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
			"--user-data-dir=" + profile}
		out, err := exec.CommandContext(cctx, bin, append(base, args...)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, out)
		}
		return out
	}

	dom := string(run("--dump-dom", admin.URL+"/"))
	for _, want := range []string{
		`data-limiter="public-api"`,
		`data-policy="plan-free"`, `5 per 1m0s`,
		`data-policy="daily-quota"`, `10000 per 24h0m0s`,
		`<td class="key">mallory-0xdeadbeef</td>`,
		`data-health="ok"`, `data-breaker="closed"`,
		`Failure policy: fail-open`,
		`data-limiter="exports"`, `data-leases-held="1"`,
		`<tr class="holder"><td class="n">1</td><td class="key">alice-key</td><td>exports</td><td class="n">1</td></tr>`,
		`<tr class="reserve-settle" data-policy="daily-quota"`,
	} {
		if !strings.Contains(dom, want) {
			t.Fatalf("the rendered page lacks %q; DOM:\n%s", want, dom)
		}
	}
	// The most denied key comes first.
	if first := strings.Index(dom, `<td class="key">`); first < 0 || !strings.HasPrefix(dom[first:], `<td class="key">mallory-0xdeadbeef<`) {
		t.Fatalf("mallory is not the first denied key; DOM:\n%s", dom)
	}

	shot := filepath.Join(artifactDir(t), "status-page.png")
	_ = os.Remove(shot)
	run("--screenshot="+shot, "--window-size=1280,1400", admin.URL+"/")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", shot, err)
	}
	if w := img.Bounds().Dx(); w < 1000 {
		t.Fatalf("screenshot is %d px wide, want the 1280 px window", w)
	}
	t.Logf("status page screenshot: %s (%d bytes, %dx%d)", shot, len(b), img.Bounds().Dx(), img.Bounds().Dy())

	// The same data as JSON, from the same handler.
	resp, err := http.Get(admin.URL + "/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Limiters) != 2 || len(st.Limiters[0].TopDenied) == 0 || st.Limiters[0].TopDenied[0].Key != "mallory-0xdeadbeef" {
		t.Fatalf("JSON status %+v", st)
	}
	if h := st.Limiters[1].Holders; len(h) != 1 || h[0] != (status.LeaseHolder{Key: "alice-key", Policy: "exports", Leases: 1}) {
		t.Fatalf("JSON holders %+v, want alice-key holding 1 exports lease", h)
	}
	// Every request the quota allowed was settled (a charge of 1) before its response, and the
	// first one reserved a batch: both happened before the denial the test waited for.
	if q := st.Limiters[0].Policies[1]; q.Name != "daily-quota" || q.Reservations == 0 || q.Settlements.Charges == 0 || q.Settlements.Charged != q.Settlements.Charges {
		t.Fatalf("JSON quota %+v, want reservations and charges of 1 each", q)
	}
}
