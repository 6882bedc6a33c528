package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/tollgate-go/tollgate/examples/internal/demoscript"
	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/s3cache"
)

// The example serves a bucket of an in-process gofakes3 and shows a 200 then a 304.
func TestServesAndAnswers304(t *testing.T) {
	mem := s3mem.New()
	if err := mem.CreateBucket("demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.PutObject("demo", "public/hello.txt", map[string]string{"Content-Type": "text/plain"},
		strings.NewReader("hello"), 5, nil); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer s3srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env := map[string]string{"S3ASSETS_BUCKET": "demo", "S3ASSETS_PREFIX": "public/", "S3ASSETS_ENDPOINT": s3srv.URL}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &out, ready)
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	resp, err := http.Get(base + "/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		t.Fatalf("first GET: %d, ETag %q; want 200 with an ETag", resp.StatusCode, etag)
	}
	req, _ := http.NewRequest("GET", base+"/hello.txt", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 304 {
		t.Fatalf("conditional GET: %d, want 304", resp.StatusCode)
	}
	resp, err = http.Get(base + "/_s3assets/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st s3cache.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.ClientNotModified != 1 || st.Misses != 1 {
		t.Fatalf("stats = %+v (%v), want 1 miss and 1 client 304", st, err)
	}
	if !strings.Contains(out.String(), "If-None-Match") {
		t.Errorf("the banner does not show how to see a 304:\n%s", out.String())
	}
}

// TestDemoOnVersitygw runs the example as the README shows it, against versitygw with -demo,
// and runs the commands it prints, top to bottom: a 200 with an ETag, a 304 for that ETag,
// a 206 for a range.
func TestDemoOnVersitygw(t *testing.T) {
	ep := testenv.S3Endpoint(t)
	t.Setenv("AWS_ACCESS_KEY_ID", ep.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ep.SecretKey)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	bucket := testenv.UniqueName("s3assets")
	env := map[string]string{"S3ASSETS_BUCKET": bucket, "S3ASSETS_ENDPOINT": ep.Endpoint}
	for _, args := range [][]string{
		{"-addr", "127.0.0.1:0", "-demo"},
		{"-addr", "127.0.0.1:0", "-demo"}, // again: the bucket exists now
		{"-addr", "127.0.0.1:0"},          // without -demo: the first object under the prefix
		{"-addr", "127.0.0.1:0", "-disk-dir", t.TempDir(), "-disk-max-bytes", "67108864"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &out, ready) }()
		select {
		case <-ready:
		case err := <-done:
			cancel()
			t.Fatalf("run %q: %v", args, err)
		}
		demoscript.Check(t, out.String(), ".", nil, []demoscript.Want{{Title: "", Codes: "200 304 206"}})
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

// TestMissingBucket checks that a bucket that does not exist stops the example, naming it.
func TestMissingBucket(t *testing.T) {
	ep := testenv.S3Endpoint(t)
	t.Setenv("AWS_ACCESS_KEY_ID", ep.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ep.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	bucket := testenv.UniqueName("nosuchbucket")
	env := map[string]string{"S3ASSETS_BUCKET": bucket, "S3ASSETS_ENDPOINT": ep.Endpoint}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &out, nil)
	if err == nil || !strings.Contains(err.Error(), `bucket "`+bucket+`" does not exist`) {
		t.Fatalf("run with a missing bucket: %v; want an error naming it", err)
	}
}

func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %v, IdleTimeout %v; want both set", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}
