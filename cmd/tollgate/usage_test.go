package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/redisstore"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storekit"
	"github.com/tollgate-go/tollgate/internal/testenv"

	"github.com/redis/go-redis/v9"
)

// runCode runs the command and returns its exit status, stdout and stderr.
func runCode(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestUsageCommandMisuse checks that every command line the usage verbs cannot run exits 2
// with a message naming the flag or argument, and usage on stderr, before any I/O (the
// store addresses are unreachable).
func TestUsageCommandMisuse(t *testing.T) {
	redisArgs := []string{"-store", "redis", "-redis-addr", "127.0.0.1:1"}
	with := func(verb string, args ...string) []string {
		return append(append([]string{"usage", verb}, redisArgs...), args...)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no verb", []string{"usage"}, "the verb comes first"},
		{"flags before the verb", []string{"usage", "-store", "redis", "show", "k"}, "the verb comes first"},
		{"unknown verb", []string{"usage", "list", "-store", "redis"}, `unknown verb "list"`},
		{"no -store", []string{"usage", "show", "-policy", "a=fixed:1/1m", "k"}, "-store is required"},
		{"unknown -store", []string{"usage", "show", "-store", "mysql", "-policy", "a=fixed:1/1m", "k"}, `-store "mysql": want dynamodb, redis or s3`},
		{"another store's flag", with("show", "-table", "t", "-policy", "a=fixed:1/1m", "k"), "-table does not apply to -store redis (it is a flag of -store dynamodb)"},
		{"a flag of two other stores", with("show", "-endpoint", "http://x", "-policy", "a=fixed:1/1m", "k"), "-endpoint does not apply to -store redis (it is a flag of -store dynamodb or -store s3)"},
		{"no -table", []string{"usage", "show", "-store", "dynamodb", "-policy", "a=fixed:1/1m", "k"}, "-table is required with -store dynamodb"},
		{"no -redis-addr", []string{"usage", "show", "-store", "redis", "-policy", "a=fixed:1/1m", "k"}, "-redis-addr is required"},
		{"bad -redis-addr", []string{"usage", "show", "-store", "redis", "-redis-addr", "localhost", "-policy", "a=fixed:1/1m", "k"}, `-redis-addr "localhost": want host:port`},
		{"bad redis URL", []string{"usage", "show", "-store", "redis", "-redis-addr", "redis://h:1/notadb", "-policy", "a=fixed:1/1m", "k"}, "-redis-addr:"},
		{"no -bucket", []string{"usage", "show", "-store", "s3", "-policy", "a=fixed:1/1m", "k"}, "-bucket is required"},
		{"bad -s3-mode", []string{"usage", "show", "-store", "s3", "-bucket", "b", "-s3-mode", "fast", "-policy", "a=fixed:1/1m", "k"}, `-s3-mode "fast": want cas or marker`},
		{"no -policy", with("show", "k"), "-policy is required"},
		{"a spec without its name", with("show", "-policy", "fixed:100/1m", "k"), `invalid value "fixed:100/1m" for flag -policy: no policy name`},
		{"a bad window", with("show", "-policy", "api=fixed:100/1x", "k"), `for flag -policy: fixed wants LIMIT/WINDOW`},
		{"a name twice", with("show", "-policy", "api=fixed:100/1m", "-policy", "api=token:1/1s", "k"), `policy name "api" given twice`},
		{"no key", with("show", "-policy", "api=fixed:100/1m"), "exactly one KEY is required, after the flags (got 0"},
		{"a flag after the key", with("show", "-policy", "api=fixed:100/1m", "k", "-json"), "exactly one KEY is required, after the flags (got 2"},
		{"an empty key", with("show", "-policy", "api=fixed:100/1m", ""), "KEY is empty"},
		{"-n with show", with("show", "-n", "3", "-policy", "api=fixed:100/1m", "k"), "-n applies to grant only"},
		{"-n with reset", with("reset", "-n", "3", "-policy", "api=fixed:100/1m", "k"), "-n applies to grant only"},
		{"grant without -n", with("grant", "-policy", "api=fixed:100/1m", "k"), "grant needs -n"},
		{"grant -n 0", with("grant", "-n", "0", "-policy", "api=fixed:100/1m", "k"), "at least 1 (got 0)"},
		{"grant -n not a number", with("grant", "-n", "five", "-policy", "api=fixed:100/1m", "k"), `invalid value "five" for flag -n`},
		{"grant under two policies", with("grant", "-n", "1", "-policy", "a=fixed:1/1m", "-policy", "b=fixed:1/1m", "k"), "grant takes exactly one -policy"},
		{"grant under a concurrency limit", with("grant", "-n", "1", "-policy", "jobs=concurrency:2", "k"), `"jobs" is a concurrency limit: there is no allowance to grant`},
		{"-timeout 0", with("show", "-timeout", "0s", "-policy", "a=fixed:1/1m", "k"), "-timeout 0s must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCode(c.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage: tollgate usage show|grant|reset") {
				t.Errorf("tollgate %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, %q and the usage on stderr", strings.Join(c.args, " "), code, out, errOut, c.want)
			}
		})
	}
	// Help is not misuse.
	for _, args := range [][]string{{"help", "usage"}, {"usage", "-h"}, {"usage", "show", "-h"}} {
		code, out, _ := runCode(args...)
		if code != 0 || !strings.Contains(out, "-policy NAME=KIND:NUMBERS") || !strings.Contains(out, "token:LIMIT/WINDOW[,burst=B]") {
			t.Errorf("tollgate %s: exit %d, stdout:\n%s\nwant exit 0 and the flags with the -policy syntax", strings.Join(args, " "), code, out)
		}
	}
}

// usageStoreForTest is a store the tests spend, settle and lease on directly, as an app
// would, before they look at it with the command.
type usageStoreForTest interface {
	core.Store
	storekit.Adjuster
	core.ConcurrencyStore
}

// checkUsageCommands runs the usage verbs against a store the test also uses directly, the
// way an operator would look at an app's limits: show after spending, -json, grant (and its
// cap at a whole allowance), a key in debt, reset, leases. storeArgs are the -store and
// connection flags.
func checkUsageCommands(t *testing.T, s usageStoreForTest, storeArgs ...string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	// Week-long windows and a slow bucket: a test never straddles a boundary or a refill.
	fw := core.NewFixedWindow("api", 10, 7*24*time.Hour)
	tb := core.NewTokenBucket("burst", 10, 24*time.Hour, 0)
	jobs := core.NewConcurrency("jobs", 2, time.Hour)
	specs := []string{"-policy", "api=fixed:10/7d", "-policy", "burst=token:10/24h", "-policy", "jobs=concurrency:2,lease=1h"}
	cmd := func(verb string, args ...string) []string {
		return append(append(append([]string{"usage", verb}, storeArgs...), args...), "user-42")
	}
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCode(args...)
		if code != 0 {
			t.Fatalf("tollgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	has := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", what, w, out)
			}
		}
	}
	showJSON := func(what string) map[string]limitView {
		t.Helper()
		var r report
		out := ok(cmd("show", append([]string{"-json"}, specs...)...)...)
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: -json printed %q: %v", what, out, err)
		}
		if r.Key != "user-42" || len(r.Limits) != 3 {
			t.Fatalf("%s: -json printed %+v, want the key and 3 limits", what, r)
		}
		byName := map[string]limitView{}
		for _, v := range r.Limits {
			byName[v.Policy] = v
		}
		return byName
	}

	for _, p := range []core.Policy{fw, tb} {
		if d, err := s.Take(ctx, "user-42", p, 3, now); err != nil || !d.Allowed {
			t.Fatalf("take 3 under %s: %+v %v", p.Name, d, err)
		}
	}
	if _, err := s.Take(ctx, "someone-else", fw, 1, now); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Acquire(ctx, "user-42", jobs, "worker-a", now); err != nil || !d.Allowed {
		t.Fatalf("acquire: %+v %v", d, err)
	}

	out := ok(cmd("show", specs...)...)
	has("show after spending 3", out,
		`key "user-42" in `,
		`policy "api", fixed window: 10 per 7d`, "used:       3 of 10\n", "remaining:  7\n", "resets in:",
		`policy "burst", token bucket: 10 per 24h, bursts of 10`, "used:       3 of 10 (the burst)", "full in:    7h1", // 3 × 2.4 h, less the seconds since
		`policy "jobs", concurrency: 2 at once`, "held:       1 of 2", "free:       1", `lease:      "worker-a" expires in 1h00m unless extended`)
	if strings.Contains(out, "retry in") || strings.Contains(out, "debt") {
		t.Errorf("show of a key within its limits mentions debt or a retry:\n%s", out)
	}
	v := showJSON("show -json after spending 3")
	if a := v["api"]; a.Used != 3 || a.Remaining != 7 || a.Limit != 10 || a.InDebt || a.ResetAfterMs <= 0 || a.RetryAfterMs != 0 || a.Algorithm != "fixed-window" || a.Spec != "api=fixed:10/7d" {
		t.Errorf("-json api: %+v", a)
	}
	if j := v["jobs"]; j.Used != 1 || j.Remaining != 1 || len(j.Leases) != 1 || j.Leases[0].ID != "worker-a" || j.Leases[0].ExpiresInMs <= 0 {
		t.Errorf("-json jobs: %+v", j)
	}
	// Reading twice spent nothing.
	if v := showJSON("show -json again"); v["api"].Remaining != 7 || v["burst"].Remaining != 7 {
		t.Errorf("a second show: %+v; reading must not spend", v)
	}

	out = ok(cmd("grant", "-policy", "api=fixed:10/7d", "-n", "2")...)
	has("grant 2", out, `granted 2 under policy "api": remaining was 7, is now 9`, "used:       1 of 10")
	out = ok(cmd("grant", "-policy", "api=fixed:10/7d", "-n", "50")...)
	has("grant 50", out, `granted 50 under policy "api": remaining was 9, is now 10 (an allowance is never more than whole)`)
	out = ok(cmd("grant", "-policy", "burst=token:10/24h", "-n", "1", "-json")...)
	var g report
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.Granted == nil || g.Granted.N != 1 || g.Granted.RemainingBefore != 7 || len(g.Limits) != 1 || g.Limits[0].Remaining != 8 {
		t.Errorf("grant -json of 1 token: %+v %v\n%s", g, err, out)
	}

	// In debt: costs settled past the limit, as core.Limit.Settle does.
	if _, err := s.Adjust(ctx, "user-42", fw, 15, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Adjust(ctx, "user-42", tb, 15, now); err != nil {
		t.Fatal(err)
	}
	out = ok(cmd("show", specs...)...)
	t.Logf("tollgate usage show of a key in debt:\n%s", out)
	has("show in debt", out,
		"used:       all 10, and more: in debt (costs settled past the limit)", "remaining:  0\n", "retry in:", ": every request is denied until then",
		"used:       all 10 (the burst), and more: in debt")
	v = showJSON("show -json in debt")
	for _, name := range []string{"api", "burst"} {
		if d := v[name]; !d.InDebt || d.Remaining != 0 || d.RetryAfterMs <= 0 {
			t.Errorf("-json %s in debt: %+v, want in_debt, remaining 0, retry_after_ms > 0", name, d)
		}
	}
	out = ok(cmd("grant", "-policy", "api=fixed:10/7d", "-n", "2")...)
	has("grant 2 in debt", out, `remaining was 0 (in debt), is now 0 (still in debt)`)

	if _, err := s.Acquire(ctx, "user-42", jobs, "worker-b", now); err != nil {
		t.Fatal(err)
	}
	out = ok(cmd("show", "-policy", "jobs=concurrency:2")...)
	has("show of a full semaphore", out, "held:       2 of 2", "free:       0", "at the latest", `"worker-a"`, `"worker-b"`)
	// The leases were taken at now for an hour; the command reads the clock itself, a
	// moment (on a loaded machine, seconds) later.
	if !regexp.MustCompile(`next free:  in (1h00m|59m[0-5][0-9]s) at the latest`).MatchString(out) {
		t.Errorf("show of a full semaphore: next free is not within the hour the leases were taken for:\n%s", out)
	}

	out = ok(cmd("reset", specs...)...)
	has("reset", out, `reset under "api", "burst", "jobs": the key starts afresh`, "note: running limiters that cached a denial")
	v = showJSON("show -json after reset")
	if v["api"].Remaining != 10 || v["burst"].Remaining != 10 || v["jobs"].Remaining != 2 || len(v["jobs"].Leases) != 0 {
		t.Errorf("after reset: %+v, want every allowance whole and no leases", v)
	}
	if d, err := s.Take(ctx, "someone-else", fw, 0, now); err != nil || d.Remaining != 9 {
		t.Errorf("another key after the reset: %+v %v, want remaining 9 (untouched)", d, err)
	}
	if d, err := s.Acquire(ctx, "user-42", jobs, "worker-c", now); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Errorf("an acquire after the reset: %+v %v, want granted with 1 more free", d, err)
	}
}

func TestUsageCommandDynamoDB(t *testing.T) {
	ep, table, s := localTable(t)
	checkUsageCommands(t, s, "-store", "dynamodb", "-endpoint", ep, "-table", table)
	// A table that does not exist is named, with what to do.
	code, _, errOut := runCode("usage", "show", "-store", "dynamodb", "-endpoint", ep, "-table", "no-such-table", "-policy", "api=fixed:1/1m", "k")
	if code != 1 || !strings.Contains(errOut, `table "no-such-table" at `+ep+" does not exist (create it with `tollgate dynamodb-create-table") {
		t.Errorf("a missing table: exit %d, stderr %q; want exit 1 naming the table and the fix", code, errOut)
	}
}

func TestUsageCommandRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	prefix := testenv.UniqueName("tg-cmd") + ":"
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	checkUsageCommands(t, s, "-store", "redis", "-redis-addr", addr, "-prefix", prefix)
	// The same through a redis:// URL.
	out := runOK(t, "usage", "show", "-store", "redis", "-redis-addr", "redis://"+addr+"/0", "-prefix", prefix, "-policy", "api=fixed:10/7d", "user-42")
	if !strings.Contains(out, "remaining:  10") || !strings.Contains(out, "Redis at "+addr) {
		t.Errorf("show through a redis:// URL:\n%s", out)
	}
	// A Redis that does not answer: exit 1, the server named.
	code, _, errOut := runCode("usage", "show", "-store", "redis", "-redis-addr", "127.0.0.1:1", "-timeout", "2s", "-policy", "api=fixed:1/1m", "k")
	if code != 1 || !strings.HasPrefix(errOut, `tollgate usage: Redis at 127.0.0.1:1, prefix "tollgate:": `) || strings.Contains(errOut, "usage: tollgate") {
		t.Errorf("an unreachable Redis: exit %d, stderr %q; want exit 1 naming the server, no usage", code, errOut)
	}
}

func TestUsageCommandS3(t *testing.T) {
	ep := testenv.S3Endpoint(t)
	// The command takes S3 credentials from the standard AWS environment.
	noAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", ep.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ep.SecretKey)
	ctx := context.Background()
	c, err := s3store.NewClient(ctx, s3store.ClientOptions{Endpoint: ep.Endpoint, Region: ep.Region})
	if err != nil {
		t.Fatal(err)
	}
	bucket := testenv.UniqueName("tollgate-cmd")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	s, err := s3store.New(c, s3store.Config{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	checkUsageCommands(t, s, "-store", "s3", "-endpoint", ep.Endpoint, "-bucket", bucket)

	// Marker mode: show and reset work on fixed windows; grant cannot, and says why.
	m, err := s3store.New(c, s3store.Config{Bucket: bucket, Prefix: "marker/", Mode: s3store.Marker})
	if err != nil {
		t.Fatal(err)
	}
	fw := core.NewFixedWindow("api", 5, 7*24*time.Hour)
	for range 4 {
		if _, err := m.Take(ctx, "user-42", fw, 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	marker := []string{"-store", "s3", "-endpoint", ep.Endpoint, "-bucket", bucket, "-prefix", "marker/", "-s3-mode", "marker", "-policy", "api=fixed:5/7d"}
	args := func(verb string, extra ...string) []string {
		return append(append(append([]string{"usage", verb}, marker...), extra...), "user-42")
	}
	if out := runOK(t, args("show")...); !strings.Contains(out, "used:       4 of 5") || !strings.Contains(out, "(marker mode)") {
		t.Errorf("marker-mode show after 4 takes:\n%s", out)
	}
	code, _, errOut := runCode(args("grant", "-n", "1")...)
	if code != 2 || !strings.Contains(errOut, "marker mode cannot adjust") {
		t.Errorf("marker-mode grant: exit %d, stderr %q; want exit 2 saying marker mode cannot adjust", code, errOut)
	}
	out := runOK(t, args("reset")...)
	if !strings.Contains(out, "in marker mode, running instances that cached the window's count admit only what was left") {
		t.Errorf("marker-mode reset does not say what it cannot reach:\n%s", out)
	}
	// Read by a store with no cache: m's cache still counts 4 (see s3store's ResetAt).
	fresh, err := s3store.New(c, s3store.Config{Bucket: bucket, Prefix: "marker/", Mode: s3store.Marker})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := fresh.Take(ctx, "user-42", fw, 0, time.Now()); err != nil || d.Remaining != 5 {
		t.Errorf("after a marker-mode reset: %+v %v, want remaining 5", d, err)
	}
	code, _, errOut = runCode("usage", "show", "-store", "s3", "-endpoint", ep.Endpoint, "-bucket", "no-such-bucket", "-policy", "api=fixed:1/1m", "k")
	if code != 1 || !strings.Contains(errOut, `bucket "no-such-bucket" at `+ep.Endpoint) {
		t.Errorf("a missing bucket: exit %d, stderr %q; want exit 1 naming the bucket", code, errOut)
	}
}
