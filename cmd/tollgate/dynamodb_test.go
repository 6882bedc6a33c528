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

func TestDynamoDBCommands(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	// The standard AWS environment, as an operator's shell would have it.
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

	out := runOK(t, "dynamodb-create-table", "-table", table)
	if !strings.Contains(out, "created") || !strings.Contains(out, string(dynamostore.TTLUnsupported)) {
		t.Fatalf("first create-table said %q; want created, TTL unsupported by dynalite", out)
	}
	// Idempotent, and -endpoint works as well as the environment.
	if out := runOK(t, "dynamodb-create-table", "-table", table, "-endpoint", ep); !strings.Contains(out, "already exists") {
		t.Fatalf("second create-table said %q; want already exists", out)
	}

	s, err := dynamostore.New(client, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	p := core.NewFixedWindow("api", 10, time.Hour)
	for range 3 {
		if d, err := s.Take(ctx, "alice", p, 1, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("Take: %+v, %v", d, err)
		}
	}
	policy := []string{"-table", table, "-policy", "api", "-algorithm", "fixed-window", "-limit", "10", "-window", "1h"}
	inspect := append([]string{"dynamodb-inspect"}, policy...)
	if out := runOK(t, append(inspect, "alice")...); !strings.Contains(out, "count: 3") || !strings.Contains(out, "remaining=7") {
		t.Fatalf("inspect after 3 takes:\n%s\nwant count 3, remaining 7", out)
	}
	if out := runOK(t, append(inspect, "bob")...); !strings.Contains(out, "found: false") || !strings.Contains(out, "remaining=10") {
		t.Fatalf("inspect of an unused key:\n%s", out)
	}
	runOK(t, append(append([]string{"dynamodb-reset"}, policy...), "alice")...)
	if out := runOK(t, append(inspect, "alice")...); !strings.Contains(out, "count: 0") || !strings.Contains(out, "remaining=10") {
		t.Fatalf("inspect after reset:\n%s\nwant count 0, remaining 10", out)
	}

	// Leases are listed by ID.
	cp := core.NewConcurrency("jobs", 2, time.Minute)
	if _, err := s.Acquire(ctx, "tenant-1", cp, "lease-a", time.Now()); err != nil {
		t.Fatal(err)
	}
	out = runOK(t, "dynamodb-inspect", "-table", table, "-policy", "jobs", "-algorithm", "concurrency", "-limit", "2", "-lease", "1m", "tenant-1")
	if !strings.Contains(out, `lease "lease-a": held`) || !strings.Contains(out, "remaining=1") {
		t.Fatalf("inspect of a semaphore:\n%s", out)
	}

	for _, bad := range [][]string{
		{"dynamodb-create-table"},                      // no -table
		{"dynamodb-inspect", "-table", table, "alice"}, // no policy
		{"dynamodb-reset", "-table", table, "-policy", "x", "-algorithm", "leaky", "-limit", "1", "k"}, // unknown algorithm
		append([]string{"dynamodb-reset"}, policy...),                                                  // no key
	} {
		var out, errOut bytes.Buffer
		if code := run(ctx, bad, &out, &errOut); code == 0 || errOut.Len() == 0 {
			t.Errorf("tollgate %q: exit %d, stderr %q; want a failure with a message", bad, code, errOut.String())
		}
	}
	if code := run(ctx, []string{"dynamodb-inspect", "-h"}, new(bytes.Buffer), new(bytes.Buffer)); code != 0 {
		t.Errorf("-h: exit %d; want 0", code)
	}
}
