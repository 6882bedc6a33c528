// Command s3nginx is the Go side of bench/s3nginx/run, which measures s3cache against nginx
// configured as nginx-s3-gateway configures it (proxy_cache with revalidate, lock and
// use_stale) in front of the same versitygw bucket. Its subcommands:
//
//	s3nginx setup  -endpoint URL -bucket B            create B, allow anonymous GetObject, put the objects
//	s3nginx put    -endpoint URL -bucket B -key K -size N   put one object of N bytes
//	s3nginx count  -listen ADDR -upstream URL         a reverse proxy that counts the requests and
//	                                                  body bytes S3 sends (GET /__count reads them)
//	s3nginx serve  -mode M -listen ADDR -endpoint URL -bucket B [-disk DIR]
//	                                                  M: nethttp (s3cache.Handler), fiber (s3cachefiber),
//	                                                  or bare (net/http writing the same bytes from memory)
//	s3nginx cold   -url URL -n 100                    n concurrent GETs of a cold object: status, bytes,
//	                                                  time to the last byte
//
// Credentials for signed requests come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
// Every address is on loopback.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gofiber/fiber/v2"
	"github.com/tollgate-go/tollgate/adapters/fiber/s3cachefiber"
	"github.com/tollgate-go/tollgate/s3cache"
)

// Objects are the objects setup puts: name and size.
var Objects = []struct {
	Key  string
	Size int
}{{"4k.bin", 4 << 10}, {"1m.bin", 1 << 20}, {"16m.bin", 16 << 20}}

func main() {
	log.SetFlags(0)
	log.SetPrefix("s3nginx: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: s3nginx setup|put|count|serve|cold [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "setup":
		err = setup(ctx, args)
	case "put":
		err = putCmd(ctx, args)
	case "count":
		err = count(ctx, args)
	case "serve":
		err = serve(ctx, args)
	case "cold":
		err = cold(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func client(endpoint string) *s3.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(
		os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// payload is n bytes that do not compress (nobody may cheat with gzip).
func payload(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		if i%8 == 0 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		b[i] = byte(x >> (8 * (i % 8)))
	}
	return b
}

func put(ctx context.Context, c *s3.Client, bucket, key string, size int) (string, error) {
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(payload(size)),
		ContentType: aws.String("application/octet-stream")})
	if err != nil {
		return "", fmt.Errorf("put %s: %w", key, err)
	}
	return aws.ToString(out.ETag), nil
}

func setup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint")
	bucket := fs.String("bucket", "", "bucket to create")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := client(*endpoint)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, *bucket)
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: &policy}); err != nil {
		return fmt.Errorf("put bucket policy (anonymous read): %w", err)
	}
	for _, o := range Objects {
		etag, err := put(ctx, c, *bucket, o.Key, o.Size)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s\n", o.Key, etag)
	}
	return nil
}

func putCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint")
	bucket := fs.String("bucket", "", "bucket")
	key := fs.String("key", "", "key")
	size := fs.Int("size", 0, "size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := put(ctx, client(*endpoint), *bucket, *key, *size)
	return err
}

// listen listens on addr and prints the URL on stdout, for the script.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	return ln, nil
}

func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// countingBody counts the bytes read from an upstream response body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func count(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	addr := fs.String("listen", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "S3 endpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*upstream)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	requests := map[string]int64{} // "GET 200" → n
	var bodyBytes atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	proxy.ModifyResponse = func(r *http.Response) error {
		mu.Lock()
		requests[fmt.Sprintf("%s %d", r.Request.Method, r.StatusCode)]++
		mu.Unlock()
		r.Body = countingBody{r.Body, &bodyBytes}
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/__count", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		var lines []string
		var total int64
		for k, v := range requests {
			lines = append(lines, fmt.Sprintf("%s %d", strings.ReplaceAll(k, " ", "_"), v))
			total += v
		}
		mu.Unlock()
		sort.Strings(lines)
		fmt.Fprintf(w, "requests %d\nbytes %d\n%s\n", total, bodyBytes.Load(), strings.Join(lines, "\n"))
	})
	mux.Handle("/", proxy)
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	return serveUntil(ctx, ln, mux)
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	mode := fs.String("mode", "nethttp", "nethttp, fiber or bare")
	addr := fs.String("listen", "127.0.0.1:0", "listen address")
	endpoint := fs.String("endpoint", "", "S3 endpoint")
	bucket := fs.String("bucket", "", "bucket")
	disk := fs.String("disk", "", "s3cache disk tier directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := client(*endpoint)
	if *mode == "bare" {
		return serveBare(ctx, c, *addr, *bucket)
	}
	h, err := s3cache.New(c, s3cache.Options{Bucket: *bucket, TTL: time.Minute, StaleIfError: 10 * time.Minute,
		DiskDir: *disk, OnError: func(key string, err error) { log.Printf("%s: %v", key, err) }})
	if err != nil {
		return err
	}
	defer h.Close()
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	switch *mode {
	case "nethttp":
		return serveUntil(ctx, ln, h)
	case "fiber":
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Get("/*", s3cachefiber.Handler(h))
		go func() {
			<-ctx.Done()
			_ = app.Shutdown()
		}()
		return app.Listener(ln)
	}
	return fmt.Errorf("unknown mode %q", *mode)
}

// serveBare serves the setup objects from memory with net/http and nothing else: the
// Content-Type, ETag and Content-Length s3cache would send, then the bytes.
func serveBare(ctx context.Context, c *s3.Client, addr, bucket string) error {
	type object struct {
		body                       []byte
		etag, ctype, length, lastM []string
	}
	objects := map[string]*object{}
	for _, o := range Objects {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(o.Key)})
		if err != nil {
			return fmt.Errorf("get %s: %w", o.Key, err)
		}
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return err
		}
		objects["/"+o.Key] = &object{body: body, etag: []string{aws.ToString(out.ETag)}, ctype: []string{aws.ToString(out.ContentType)},
			length: []string{fmt.Sprint(len(body))}, lastM: []string{out.LastModified.UTC().Format(http.TimeFormat)}}
	}
	ln, err := listen(addr)
	if err != nil {
		return err
	}
	return serveUntil(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := objects[r.URL.Path]
		if o == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Etag"], h["Content-Type"], h["Content-Length"], h["Last-Modified"] = o.etag, o.ctype, o.length, o.lastM
		_, _ = w.Write(o.body)
	}))
}

func cold(args []string) error {
	fs := flag.NewFlagSet("cold", flag.ContinueOnError)
	target := fs.String("url", "", "object URL")
	n := fs.Int("n", 100, "concurrent requests")
	size := fs.Int64("size", -1, "expected body size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *n, MaxConnsPerHost: *n, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	var wg sync.WaitGroup
	start := make(chan struct{})
	durs := make([]time.Duration, *n)
	errs := make([]error, *n)
	var t0 time.Time
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := hc.Get(*target)
			if err != nil {
				errs[i] = err
				return
			}
			got, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			durs[i] = time.Since(t0)
			switch {
			case err != nil:
				errs[i] = err
			case resp.StatusCode != 200:
				errs[i] = fmt.Errorf("status %d", resp.StatusCode)
			case *size >= 0 && got != *size:
				errs[i] = fmt.Errorf("%d bytes, want %d", got, *size)
			}
		}()
	}
	t0 = time.Now()
	close(start)
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed == 0 {
				log.Printf("cold %s: %v", *target, err)
			}
			failed++
		}
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	fmt.Printf("failed %d\nfirst_ms %.1f\nmedian_ms %.1f\nlast_ms %.1f\n", failed,
		ms(durs[0]), ms(durs[len(durs)/2]), ms(durs[len(durs)-1]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
