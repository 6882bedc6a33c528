// Command s3assets serves the objects of an S3 bucket over HTTP through s3cache: clients get
// ETags and 304s, S3 gets conditional revalidations instead of full downloads.
//
// Configuration comes from the environment:
//
//	S3ASSETS_BUCKET    the bucket (required)
//	S3ASSETS_PREFIX    a key prefix to serve, e.g. "public/" (optional)
//	S3ASSETS_ENDPOINT  an S3-compatible endpoint such as versitygw, e.g. http://127.0.0.1:7070
//	                   (optional; path-style addressing is used with it). Without it, the AWS
//	                   SDK's usual configuration applies (AWS_REGION, AWS_PROFILE, ...).
//
// Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY for a local server). Retries use Tollgate's full-jitter policy
// (core/backoff). Flags: -addr (default 127.0.0.1:8081), -ttl (default 1m).
//
// With versitygw from the test command:
//
//	source scripts/servers.sh && servers_start
//	export AWS_ACCESS_KEY_ID=$TOLLGATE_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$TOLLGATE_S3_SECRET_KEY AWS_REGION=us-east-1
//	aws --endpoint-url "$TOLLGATE_S3_ENDPOINT" s3 mb s3://demo   # or any S3 client
//	S3ASSETS_ENDPOINT=$TOLLGATE_S3_ENDPOINT S3ASSETS_BUCKET=demo go run ./examples/s3assets
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/s3cache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx is done. ready, when not nil, receives the listening address.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("s3assets", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	ttl := fs.Duration("ttl", time.Minute, "how long a cached object is fresh before it is revalidated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bucket, prefix, endpoint := getenv("S3ASSETS_BUCKET"), getenv("S3ASSETS_PREFIX"), getenv("S3ASSETS_ENDPOINT")
	if bucket == "" {
		return errors.New("s3assets: set S3ASSETS_BUCKET")
	}

	cfg, err := backoff.LoadAWSConfig(ctx, backoff.Policy{})
	if err != nil {
		return err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	h, err := s3cache.New(client, s3cache.Options{
		Bucket: bucket, Prefix: prefix, IndexDocument: "index.html", TTL: *ttl,
		StaleIfError: 10 * time.Minute,
		OnError:      func(key string, err error) { log.Printf("s3assets: %s: %v", key, err) },
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /_s3assets/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h.Stats())
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, `s3assets: serving s3://%s/%s on %s

See the 304s (replace KEY with an object under the prefix):
  curl -si %[3]s/KEY | head -n 12                        # 200 with an ETag
  etag=$(curl -sI %[3]s/KEY | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
  curl -si -H "If-None-Match: $etag" %[3]s/KEY          # 304 Not Modified, answered from the cache
  curl -si -H 'Range: bytes=0-9' %[3]s/KEY              # 206 Partial Content
  curl -s %[3]s/_s3assets/stats                          # hits, misses, revalidations, 304s
`, bucket, strings.TrimSuffix(prefix, "/"), base)
	if ready != nil {
		ready <- base
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
