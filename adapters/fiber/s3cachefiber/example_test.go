package s3cachefiber_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gofiber/fiber/v2"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/tollgate-go/tollgate/adapters/fiber/s3cachefiber"
	"github.com/tollgate-go/tollgate/s3cache"
)

// Serve the bucket's "static/" prefix at /assets. A repeat visit that sends the ETag back is
// answered 304 from the local cache, with no S3 call.
func ExampleHandler() {
	// An in-process S3 (gofakes3) with one object; use your own *s3.Client in production.
	mem := s3mem.New()
	_ = mem.CreateBucket("assets")
	fake := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer fake.Close()
	client := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("key", "secret", "")},
		func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(fake.URL), true })
	_, _ = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("assets"),
		Key: aws.String("static/app.js"), Body: strings.NewReader("console.log('hi')"), ContentType: aws.String("text/javascript")})

	h, err := s3cache.New(client, s3cache.Options{Bucket: "assets", Prefix: "static/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/assets/*", s3cachefiber.Handler(h, s3cachefiber.Config{StripPrefix: "/assets"}))

	first, _ := app.Test(httptest.NewRequest("GET", "/assets/app.js", nil), -1)
	first.Body.Close()
	req := httptest.NewRequest("GET", "/assets/app.js", nil)
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	second, _ := app.Test(req, -1)
	second.Body.Close()

	s := h.Stats()
	fmt.Println(first.StatusCode, first.Header.Get("Content-Type"), first.Header.Get("Content-Length"))
	fmt.Println(second.StatusCode)
	fmt.Printf("S3 fetches %d, answered from cache %d, 304s sent %d\n", s.Misses, s.Hits, s.ClientNotModified)
	// Output:
	// 200 text/javascript 17
	// 304
	// S3 fetches 1, answered from cache 1, 304s sent 1
}
