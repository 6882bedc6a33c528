package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/examples/internal/demoscript"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// noAWSEnv clears the AWS environment, as on a laptop that never used AWS.
func noAWSEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// syncBuffer is a bytes.Buffer that run may write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs the example as `go run ./examples/dynamodb ARGS` would, until the test ends, and
// returns what it printed by the time it listened.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), &out, &logs, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run %q: %v", args, err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return out.String()
}

// TestLocalEndpoint runs the example as the README shows it, against dynalite with -endpoint
// and no AWS environment at all, then runs the script it prints top to bottom: each demo
// shows its own limit, and the CLI command it prints (which must carry -endpoint) reads the
// global limit's state from the same table.
func TestLocalEndpoint(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The example and the CLI both read the real clock (they are separate processes, as for
	// a user), and a minute boundary inside the script would start a new window halfway.
	// So: build the CLI first (then `go run` only links it), and when less than 20 s are
	// left in this minute, start at the next one. This is no synchronisation: it only keeps
	// a window boundary out of a run that takes about 5 s.
	build := exec.Command("go", "build", "-o", os.DevNull, "./cmd/tollgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tollgate: %v\n%s", err, out)
	}
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 20*time.Second {
		t.Logf("waiting %v for the next minute window", left.Round(time.Millisecond))
		time.Sleep(left)
	}
	table := testenv.UniqueName("tollgate-example")
	help := start(t, "-endpoint", ep, "-create-table", "-table", table)
	if !strings.Contains(help, "dynamodb-inspect -endpoint "+ep+" -table "+table) {
		t.Fatalf("the printed inspect command does not carry -endpoint and -table:\n%s", help)
	}
	results := demoscript.Check(t, help, root, nil, []demoscript.Want{
		{Title: "POST /login", Codes: "401 401 401 429(login)"},
		{Title: "/api/", Codes: "200 200 200 200 200 429(free) 401"},
		{Title: "GET /slow", Codes: "200 200 429(slow)", Unordered: true},
		{Title: "every route", Codes: "200 200 200 429(global)"},
		{Title: "the global limit's state", Codes: ""},
	})
	inspect := results[4].Output
	t.Logf("the printed inspect command, pasted:\n%s", inspect)
	for _, want := range []string{"used:         10 of 10", "remaining:    0", "next request: denied"} {
		if !strings.Contains(inspect, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, inspect)
		}
	}
}

// TestMissingTable checks the startup check: a table that does not exist stops the example
// before it listens, with an error naming the table.
func TestMissingTable(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	table := testenv.UniqueName("nosuchtable")
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-endpoint", ep, "-table", table}, &out, &logs, nil)
	if err == nil || !strings.Contains(err.Error(), `table "`+table+`" does not exist`) || !strings.Contains(err.Error(), ep) {
		t.Fatalf("run with a missing table: %v; want an error naming the table", err)
	}
	if out.Len() != 0 {
		t.Errorf("it printed %q before failing; want nothing (it must not listen)", out.String())
	}
	t.Logf("missing table: %v", err)
}

func TestBadFlags(t *testing.T) {
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{"-nosuchflag"}, &out, &logs, nil)
	if !errors.As(err, new(usageError)) {
		t.Fatalf("run -nosuchflag: %v; want a usage error (exit 2)", err)
	}
}

func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %v, IdleTimeout %v; want both set", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}

// TestTwoInstancesShareLimits runs two instances of the example (each with its own store and
// limiters, as two processes would have) on one dynalite table, configured through the
// standard AWS environment: they enforce the global limit of 10 per minute per IP together.
func TestTwoInstancesShareLimits(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "tollgate")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "tollgate")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ep)
	table := testenv.UniqueName("tollgate-example")
	ctx := context.Background()
	var urls []string
	for i := range 2 {
		store, err := openStore(ctx, table, "", i == 0)
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		h, err := newHandler(store, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	get := func(url string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(urls[1]+"/api/items", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API without a key: %d, want 401", r.StatusCode)
	}
	if r := get(urls[0]+"/api/items", map[string]string{"X-API-Key": "free-alice"}); r.StatusCode != http.StatusOK {
		t.Fatalf("API with a key: %d, want 200", r.StatusCode)
	}
	// The API calls do not count against the global limit; 10 requests alternate between
	// the instances.
	for i := 1; i <= 10; i++ {
		if r := get(urls[i%2]+"/", nil); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d (instance %d): %d, want 200", i, i%2, r.StatusCode)
		}
	}
	for i, url := range urls {
		r := get(url+"/", nil)
		if r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("instance %d after 10 requests across both: %d, want 429 (the limit is shared)", i, r.StatusCode)
		}
		if r.Header.Get("Retry-After") == "" || !strings.Contains(r.Header.Get("RateLimit-Policy"), `"global";q=10;w=60`) {
			t.Errorf("instance %d: 429 headers %v", i, r.Header)
		}
	}
}
