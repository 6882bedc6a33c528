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
// (core/backoff). Flags: -addr (default $TOLLGATE_ADDR, else 127.0.0.1:8081; port 0 picks a
// free port), -ttl (default 1m), -demo (create the bucket if it does not exist and put a
// small hello.txt under the prefix: for trying it on a local server, not on a real bucket),
// -disk-dir (a directory for s3cache's disk tier: objects over 1 MiB are fetched once into it
// and served from there; default none, they are streamed from S3) and -disk-max-bytes (its
// budget, default 1 GiB).
//
// It prints curl commands that show a 200, a 304 and a 206 for an object of the bucket
// (hello.txt with -demo, otherwise the first object under the prefix), each ready to paste.
//
// With versitygw from the test command (scripts/servers.sh):
//
//	source scripts/servers.sh && servers_install && servers_start
//	AWS_ACCESS_KEY_ID=$TOLLGATE_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$TOLLGATE_S3_SECRET_KEY \
//	  S3ASSETS_ENDPOINT=$TOLLGATE_S3_ENDPOINT S3ASSETS_BUCKET=demo go run ./examples/s3assets -demo
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
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
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
	addr := fs.String("addr", defaultAddr("127.0.0.1:8081"), "listen address (default $TOLLGATE_ADDR when set)")
	ttl := fs.Duration("ttl", time.Minute, "how long a cached object is fresh before it is revalidated")
	demo := fs.Bool("demo", false, "create the bucket if it does not exist and put hello.txt under the prefix (for a local server)")
	diskDir := fs.String("disk-dir", "", "directory of the disk tier for objects over 1 MiB (default: none, they are streamed)")
	diskMax := fs.Int64("disk-max-bytes", 0, "total size of the disk tier's files (default 1 GiB)")
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
	var key string // an object to show, relative to the prefix
	if *demo {
		if key, err = putDemo(ctx, client, bucket, prefix); err != nil {
			return err
		}
	} else if key, err = firstKey(ctx, client, bucket, prefix); err != nil {
		return err
	}
	h, err := s3cache.New(client, s3cache.Options{
		Bucket: bucket, Prefix: prefix, IndexDocument: "index.html", TTL: *ttl,
		StaleIfError: 10 * time.Minute,
		DiskDir:      *diskDir, DiskMaxBytes: *diskMax,
		OnError: func(key string, err error) { log.Printf("s3assets: %s: %v", key, err) },
	})
	if err != nil {
		return err
	}
	defer h.Close()

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
	fmt.Fprintf(out, "s3assets: serving s3://%s/%s on %s\n\n", bucket, strings.TrimSuffix(prefix, "/"), base)
	if key == "" {
		fmt.Fprintf(out, "There is no object under s3://%s/%s yet: upload one (or run with -demo on a local server), then fetch it under %s/.\n", bucket, prefix, base)
	} else {
		u := base + "/" + escapePath(key)
		fmt.Fprintf(out, `See the cache at work:
  curl -si %[1]s                                    # 200 with an ETag: a miss, fetched from S3
  etag=$(curl -sI %[1]s | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
  curl -si -H "If-None-Match: $etag" %[1]s           # 304 Not Modified, answered from the cache
  curl -si -H 'Range: bytes=0-4' %[1]s               # 206 Partial Content
  curl -s %[2]s/_s3assets/stats                      # hits, misses, revalidations, 304s
`, u, base)
	}
	if ready != nil {
		ready <- base
	}

	srv := newServer(mux)
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

// defaultAddr returns $TOLLGATE_ADDR, or def when it is not set.
func defaultAddr(def string) string {
	if a := os.Getenv("TOLLGATE_ADDR"); a != "" {
		return a
	}
	return def
}

// newServer returns the HTTP server of h, with timeouts that keep slow or idle clients from
// holding connections forever: ReadHeaderTimeout bounds how long a client may take to send
// its headers (a slowloris), IdleTimeout how long a keep-alive connection may sit unused.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
}

// demoBody is the content of the object -demo puts.
const demoBody = "hello from s3assets\n"

// putDemo creates the bucket unless it exists and puts hello.txt under the prefix; it returns
// that key relative to the prefix.
func putDemo(ctx context.Context, client *s3.Client, bucket, prefix string) (string, error) {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			return "", fmt.Errorf("s3assets: -demo: create bucket %q: %w", bucket, err)
		}
	}
	key := "hello.txt"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(joinPrefix(prefix, key)),
		Body: strings.NewReader(demoBody), ContentType: aws.String("text/plain; charset=utf-8"),
	}); err != nil {
		return "", fmt.Errorf("s3assets: -demo: put s3://%s/%s: %w", bucket, joinPrefix(prefix, key), err)
	}
	return key, nil
}

// firstKey returns the first object under the prefix, relative to it, or "" when there is
// none. A bucket that does not exist is an error naming it.
func firstKey(ctx context.Context, client *s3.Client, bucket, prefix string) (string, error) {
	p := joinPrefix(prefix, "")
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(p), MaxKeys: aws.Int32(100)})
	if err != nil {
		var nb *types.NoSuchBucket
		if errors.As(err, &nb) {
			return "", fmt.Errorf("s3assets: bucket %q does not exist (run with -demo to create it on a local server)", bucket)
		}
		return "", fmt.Errorf("s3assets: list s3://%s/%s: %w", bucket, p, err)
	}
	for _, o := range out.Contents {
		if k := strings.TrimPrefix(aws.ToString(o.Key), p); k != "" && !strings.HasSuffix(k, "/") {
			return k, nil
		}
	}
	return "", nil
}

// joinPrefix returns prefix + key, with a "/" between them when prefix is not empty, as
// s3cache does with Options.Prefix.
func joinPrefix(prefix, key string) string {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix + key
}

// escapePath escapes each segment of an object key for a URL path.
func escapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
