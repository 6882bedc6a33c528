package s3cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/tollgate-go/tollgate/s3cache"
)

// exampleS3 starts an in-process gofakes3 with a bucket "assets" and returns a client for it.
func exampleS3() (*s3.Client, func()) {
	mem := s3mem.New()
	_ = mem.CreateBucket("assets")
	srv := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	return newS3Client(srv.URL, "key", "secret"), srv.Close
}

func ExampleHandler() {
	client, stop := exampleS3()
	defer stop()
	_, _ = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("assets"),
		Key: aws.String("static/app.js"), Body: strings.NewReader("console.log('hi')"), ContentType: aws.String("text/javascript")})

	h, err := s3cache.New(client, s3cache.Options{Bucket: "assets", Prefix: "static/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	first, _ := http.Get(srv.URL + "/app.js")
	first.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/app.js", nil)
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	second, _ := http.DefaultClient.Do(req)
	second.Body.Close()

	s := h.Stats()
	fmt.Println(first.StatusCode, first.Header.Get("Content-Type"), first.Header.Get("Cache-Control"))
	fmt.Println(second.StatusCode)
	fmt.Printf("S3 fetches %d, answered from cache %d, 304s sent %d\n", s.Misses, s.Hits, s.ClientNotModified)
	// Output:
	// 200 text/javascript no-cache
	// 304
	// S3 fetches 1, answered from cache 1, 304s sent 1
}

func ExamplePutIfMatch() {
	client, stop := exampleS3()
	defer stop()
	ctx := context.Background()

	created, err := s3cache.PutIfAbsent(ctx, client, "assets", "config.json", s3cache.PutInput{Body: strings.NewReader(`{"v":1}`)})
	fmt.Println(err)
	_, err = s3cache.PutIfAbsent(ctx, client, "assets", "config.json", s3cache.PutInput{Body: strings.NewReader(`{"v":0}`)})
	fmt.Println(errors.Is(err, s3cache.ErrPreconditionFailed))

	// Two writers read the same version; the first update wins, the second learns it lost.
	_, err = s3cache.PutIfMatch(ctx, client, "assets", "config.json", created.ETag, s3cache.PutInput{Body: strings.NewReader(`{"v":2}`)})
	fmt.Println(err)
	_, err = s3cache.PutIfMatch(ctx, client, "assets", "config.json", created.ETag, s3cache.PutInput{Body: strings.NewReader(`{"v":3}`)})
	fmt.Println(errors.Is(err, s3cache.ErrPreconditionFailed))
	// Output:
	// <nil>
	// true
	// <nil>
	// true
}

// A framework that does not use net/http calls Serve and renders the Response itself.
func ExampleHandler_Serve() {
	client, stop := exampleS3()
	defer stop()
	_, _ = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("assets"),
		Key: aws.String("logo.svg"), Body: strings.NewReader("<svg/>"), ContentType: aws.String("image/svg+xml")})
	h, _ := s3cache.New(client, s3cache.Options{Bucket: "assets"})

	resp := h.Serve(context.Background(), s3cache.Request{Method: "GET", Path: "/logo.svg"})
	defer resp.Close()
	resp.VisitHeaders(func(name, value string) {
		if name == "Content-Type" || name == "Content-Length" {
			fmt.Printf("%s: %s\n", name, value)
		}
	})
	fmt.Println(resp.Status, string(resp.Body))
	// Output:
	// Content-Type: image/svg+xml
	// Content-Length: 6
	// 200 <svg/>
}

// With a disk tier, an object too large for memory is fetched once into a file and every
// request is answered from it, ranges included.
func ExampleHandler_diskTier() {
	client, stop := exampleS3()
	defer stop()
	video := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB, over the 1 MiB memory limit
	_, _ = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("assets"),
		Key: aws.String("intro.mp4"), Body: strings.NewReader(video), ContentType: aws.String("video/mp4")})

	dir, _ := os.MkdirTemp("", "s3cache-example")
	defer os.RemoveAll(dir)
	h, err := s3cache.New(client, s3cache.Options{Bucket: "assets", DiskDir: dir, DiskMaxBytes: 1 << 30})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	whole, _ := http.Get(srv.URL + "/intro.mp4")
	n, _ := io.Copy(io.Discard, whole.Body)
	whole.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/intro.mp4", nil)
	req.Header.Set("Range", "bytes=0-99")
	part, _ := http.DefaultClient.Do(req)
	part.Body.Close()

	s := h.Stats()
	fmt.Println(whole.StatusCode, n)
	fmt.Println(part.StatusCode, part.Header.Get("Content-Range"))
	fmt.Printf("bytes from S3 %d, answered from disk %d\n", s.S3BodyBytes, s.DiskHits)
	// Output:
	// 200 3145728
	// 206 bytes 0-99/3145728
	// bytes from S3 3145728, answered from disk 2
}
