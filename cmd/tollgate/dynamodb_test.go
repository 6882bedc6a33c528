package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// runOK runs the command and fails the test unless it exits 0; it returns its output.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("tollgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

// noAWSEnv clears the AWS environment, as on a laptop that never used AWS: the commands must
// work against a local server with -endpoint alone.
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

// localTable creates a fresh table on dynalite with the command itself (no AWS environment)
// and returns the endpoint, the table and a store on it.
func localTable(t *testing.T) (string, string, *dynamostore.Store) {
	t.Helper()
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	table := testenv.UniqueName("tollgate-cmd")
	out := runOK(t, "dynamodb-create-table", "-endpoint", ep, "-table", table)
	if !strings.Contains(out, "created") || !strings.Contains(out, string(dynamostore.TTLUnsupported)) {
		t.Fatalf("create-table said %q; want created, TTL unsupported by dynalite", out)
	}
	ctx := context.Background()
	client, err := dynamostore.NewClient(ctx, dynamostore.ClientOptions{Endpoint: ep, LoadOptions: localServerDefaults()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}) })
	s, err := dynamostore.New(client, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	return ep, table, s
}

// TestDynamoDBCommandsStandardEnvironment runs the commands as in production: the endpoint,
// region and credentials come from the standard AWS environment, not from flags.
func TestDynamoDBCommandsStandardEnvironment(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "tollgate")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "tollgate")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ep)
	table := testenv.UniqueName("tollgate-cmd")
	ctx := context.Background()
	client, err := dynamostore.NewClient(ctx, dynamostore.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}) })
	if out := runOK(t, "dynamodb-create-table", "-table", table); !strings.Contains(out, "created") {
		t.Fatalf("first create-table said %q; want created", out)
	}
	if out := runOK(t, "dynamodb-create-table", "-table", table); !strings.Contains(out, "already exists") {
		t.Fatalf("second create-table said %q; want already exists", out)
	}
	s, err := dynamostore.New(client, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, "alice", core.NewFixedWindow("api", 10, time.Hour), 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := runOK(t, "dynamodb-inspect", "-table", table, "-policy", "api", "-limit", "10", "-window", "1h", "alice")
	if !strings.Contains(out, "used:         3 of 10") || !strings.Contains(out, "remaining:    7") {
		t.Fatalf("inspect after a take of 3:\n%s\nwant used 3 of 10, remaining 7", out)
	}
}

// TestDynamoDBInspect checks that inspect says what the state is, for every algorithm,
// with only -endpoint (no AWS environment).
func TestDynamoDBInspect(t *testing.T) {
	ep, table, s := localTable(t)
	ctx := context.Background()
	now := time.Now()
	take := func(p core.Policy, key string, n int) {
		t.Helper()
		for i := range n {
			if d, err := s.Take(ctx, key, p, 1, now); err != nil || !d.Allowed {
				t.Fatalf("take %d of %s: %+v, %v", i+1, p.Name, d, err)
			}
		}
	}
	take(core.NewFixedWindow("api", 10, time.Hour), "full", 10)
	take(core.NewFixedWindow("api", 10, time.Hour), "some", 3)
	take(core.NewSlidingWindow("sw", 10, time.Hour), "k", 4)
	take(core.NewTokenBucket("tb", 5, time.Minute, 5), "k", 5)
	if _, err := s.Acquire(ctx, "tenant-1", core.NewConcurrency("jobs", 2, time.Minute), "lease-a", now); err != nil {
		t.Fatal(err)
	}
	conn := []string{"dynamodb-inspect", "-endpoint", ep, "-table", table}
	for _, c := range []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{
			name: "full fixed window",
			args: []string{"-policy", "api", "-limit", "10", "-window", "1h", "full"},
			want: []string{"used:         10 of 10", "remaining:    0", "resets in:", "next request: denied for"},
			// The old output was a cost-0 decision: "allowed=true ... remaining=0".
			notWant: []string{"allowed", "state:"},
		},
		{
			name: "partly used fixed window",
			args: []string{"-policy", "api", "-limit", "10", "-window", "1h", "some"},
			want: []string{"used:         3 of 10", "remaining:    7", "next request: allowed"},
		},
		{
			name: "unused key",
			args: []string{"-policy", "api", "-limit", "10", "-window", "1h", "nobody"},
			want: []string{"state:        none stored", "used:         0 of 10", "remaining:    10", "next request: allowed"},
		},
		{
			name: "sliding window",
			args: []string{"-policy", "sw", "-algorithm", "sliding-window", "-limit", "10", "-window", "1h", "k"},
			want: []string{"used:         4 of 10 (this window 4, previous window 0", "remaining:    6", "previous item:"},
		},
		{
			name: "empty token bucket",
			args: []string{"-policy", "tb", "-algorithm", "token-bucket", "-limit", "5", "-window", "1m", "k"},
			want: []string{"remaining:    0 of 5 (burst)", "full in:", "next request: denied for"},
		},
		{
			name: "semaphore",
			args: []string{"-policy", "jobs", "-algorithm", "concurrency", "-limit", "2", "-lease", "1m", "tenant-1"},
			want: []string{"leases:       1 held of 2, 1 free", `"lease-a" held, expires in`, "next acquire: granted"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := runOK(t, append(conn, c.args...)...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestDynamoDBReset deletes a key's state with only the table, the policy name and the key:
// no -limit, -window or -algorithm.
func TestDynamoDBReset(t *testing.T) {
	ep, table, s := localTable(t)
	ctx := context.Background()
	now := time.Now()
	fw := core.NewFixedWindow("api", 10, time.Hour)
	sw := core.NewSlidingWindow("api", 10, time.Minute)
	tb := core.NewTokenBucket("api", 5, time.Minute, 5)
	cc := core.NewConcurrency("api", 2, time.Minute)
	other := core.NewFixedWindow("other", 10, time.Hour)
	fill := func() {
		t.Helper()
		for _, p := range []core.Policy{fw, sw, tb, other} {
			for _, key := range []string{"alice", "bob"} {
				if _, err := s.Take(ctx, key, p, 2, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		// An item of last minute's sliding window, which a reset must delete too.
		if _, err := s.Take(ctx, "alice", sw, 1, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, "alice", cc, "lease-a", now); err != nil {
			t.Fatal(err)
		}
	}
	// used returns what alice and bob have spent under each policy.
	used := func(key string, p core.Policy) int64 {
		t.Helper()
		info, err := s.InspectAt(ctx, key, p, now)
		if err != nil {
			t.Fatal(err)
		}
		if p.Algorithm == core.Concurrency {
			return int64(len(info.Leases))
		}
		return info.Decision.Limit - info.Decision.Remaining
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"scan", []string{"-policy", "api", "alice"}},
		{"window", []string{"-policy", "api", "-window", "1h", "alice"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fill()
			out := runOK(t, append([]string{"dynamodb-reset", "-endpoint", ep, "-table", table}, c.args...)...)
			t.Logf("tollgate dynamodb-reset %s:\n%s", strings.Join(c.args, " "), out)
			for _, p := range []core.Policy{fw, tb, cc} {
				if n := used("alice", p); n != 0 {
					t.Errorf("alice under %s after reset: %d used; want 0", p.Algorithm, n)
				}
			}
			if c.name == "scan" {
				// -window 1h names the fixed window only; a scan finds every window.
				if n := used("alice", sw); n != 0 {
					t.Errorf("alice under the sliding window after reset: %d used; want 0", n)
				}
			}
			if n := used("bob", fw); n == 0 {
				t.Errorf("bob's state went too: a reset of alice must delete only alice's")
			}
			if n := used("alice", other); n == 0 {
				t.Errorf("alice's state under another policy went too")
			}
		})
	}
}

// TestDynamoDBMissingTable checks that every command names a table that does not exist.
func TestDynamoDBMissingTable(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	table := testenv.UniqueName("nosuchtable")
	for _, args := range [][]string{
		{"dynamodb-inspect", "-endpoint", ep, "-table", table, "-policy", "api", "-limit", "10", "-window", "1h", "alice"},
		{"dynamodb-reset", "-endpoint", ep, "-table", table, "-policy", "api", "alice"},
		{"dynamodb-reset", "-endpoint", ep, "-table", table, "-policy", "api", "-window", "1m", "alice"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut)
		want := `table "` + table + `" at ` + ep + " does not exist"
		if code != 1 || !strings.Contains(errOut.String(), want) {
			t.Errorf("tollgate %s: exit %d, stderr %q; want exit 1 and %q", args[0], code, errOut.String(), want)
		}
		t.Logf("tollgate %s: %s", args[0], strings.TrimSpace(errOut.String()))
	}
}

// TestUsage checks the exit status and where usage goes: stdout and 0 when asked for,
// stderr and 2 for a command line that cannot run.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // "" means stdout must be empty
		stderr     string // "" means stderr must be empty
		stderrMore string
	}{
		{"no command", nil, 2, "", "tollgate: no command", "usage: tollgate <command>"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`, "dynamodb-reset"},
		{"help", []string{"help"}, 0, "usage: tollgate <command>", "", ""},
		{"-h", []string{"-h"}, 0, "usage: tollgate <command>", "", ""},
		{"help for a command", []string{"help", "dynamodb-reset"}, 0, "usage: tollgate dynamodb-reset -table T -policy NAME", "", ""},
		{"help for an unknown command", []string{"help", "frobnicate"}, 2, "", `unknown command "frobnicate"`, ""},
		{"command -h", []string{"dynamodb-inspect", "-h"}, 0, "-algorithm", "", ""},
		{"unknown flag", []string{"dynamodb-reset", "-limit", "1"}, 2, "", "flag provided but not defined: -limit", "usage: tollgate dynamodb-reset"},
		{"no table", []string{"dynamodb-create-table"}, 2, "", "-table is required", "usage: tollgate dynamodb-create-table"},
		{"no key", []string{"dynamodb-reset", "-table", "t", "-policy", "p"}, 2, "", "exactly one KEY is required", ""},
		{"no policy", []string{"dynamodb-reset", "-table", "t", "k"}, 2, "", "-policy is required", ""},
		{"bad window", []string{"dynamodb-reset", "-table", "t", "-policy", "p", "-window", "soon", "k"}, 2, "", `-window "soon"`, ""},
		{"no limit", []string{"dynamodb-inspect", "-table", "t", "-policy", "p", "k"}, 2, "", "limit", ""},
		{"unknown algorithm", []string{"dynamodb-inspect", "-table", "t", "-policy", "p", "-algorithm", "leaky", "-limit", "1", "k"}, 2, "", `unknown -algorithm "leaky"`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), c.args, &out, &errOut)
			if code != c.code {
				t.Errorf("exit %d; want %d (stdout %q, stderr %q)", code, c.code, out.String(), errOut.String())
			}
			check := func(stream, got, want string) {
				t.Helper()
				if want == "" && got != "" {
					t.Errorf("%s %q; want nothing there", stream, got)
				}
				if !strings.Contains(got, want) {
					t.Errorf("%s %q; want %q in it", stream, got, want)
				}
			}
			check("stdout", out.String(), c.stdout)
			check("stderr", errOut.String(), c.stderr)
			if !strings.Contains(errOut.String(), c.stderrMore) {
				t.Errorf("stderr %q; want %q in it", errOut.String(), c.stderrMore)
			}
		})
	}
}
