// Package s3cachefiber serves an S3 bucket through an [s3cache.Handler] as a native Fiber v2
// handler, in Fiber's idiom: Handler(h, config ...Config) with Next and StripPrefix.
//
//	app.Get("/assets/*", s3cachefiber.Handler(h, s3cachefiber.Config{StripPrefix: "/assets"}))
//
// The handler reads the request from *fiber.Ctx and renders the [s3cache.Response] into
// fasthttp's response, with no net/http adaptor on the way. It answers what the
// s3cache.Handler answers over net/http, status for status and field for field: GET and HEAD
// (app.Get registers both), 304 and 412 for the client's preconditions, 206 and 416 for
// Range, and, for any other method that reaches it, 405 with Allow (mount it with app.All or
// app.Use to let s3cache answer those too). With s3cache.Options.Writes, PUT and DELETE are
// passed on with the request body. Errors are status codes with a generic body: the text of
// an S3 or internal error never reaches the client.
//
// # Paths
//
// The object is named by the path as the client sent it, still percent-encoded
// (fasthttp's URI().PathOriginal(), which reflects a rewrite through c.Path), so that
// s3cache can refuse an encoded "/" or a "..", "%2e%2e" or "..%2f" segment with 400 instead
// of seeing a path fasthttp has already decoded and normalized. StripPrefix is removed from
// that path first, respecting segment boundaries ("/assets" strips "/assets/x" but not
// "/assetsx") and the app's CaseSensitive setting. A request whose path is not under
// StripPrefix goes on to the next handler, so app.Use(Handler(h, Config{StripPrefix:
// "/assets"})) mounts the bucket at /assets and leaves other paths alone. The prefix is
// compared with the encoded path: with Fiber's UnescapePath, a request for "/%61ssets/x"
// routes to /assets but is not under StripPrefix "/assets".
//
// # Bodies
//
// A cached body is handed to fasthttp without a copy (Response.SetBodyRaw): it is the cache's
// own memory, which fasthttp only reads, so middleware must not modify c.Response().Body() in
// place (Fiber's compress and etag middleware do not). An object too large to cache is
// streamed: its S3 response body becomes fasthttp's body stream
// (Response.SetBodyStream with the Content-Length S3 sent), and fasthttp closes it, ending
// the S3 request, when the body is written, when the client goes away, or when the response
// is reset (an error handler replacing the body). HEAD responses carry Content-Length and no
// body.
//
// # Context
//
// S3 calls get c.UserContext(), which is context.Background unless the app sets one: its
// values reach the AWS SDK, and its cancellation or deadline ends an S3 call made while the
// handler runs. fasthttp writes a streamed body after the handler has returned, when
// middleware such as timeout.NewWithContext has already canceled the context it set, so a
// streamed body is not bound to that context once the handler returns: its transfer ends
// when it completes, when the client goes away, or at the server's WriteTimeout.
package s3cachefiber

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/tollgate-go/tollgate/core/conditional"
	"github.com/tollgate-go/tollgate/s3cache"
	"github.com/valyala/fasthttp"
)

// Config configures [Handler]. Zero values are the documented defaults.
type Config struct {
	// Next defines a function to skip this handler when it returns true: the request goes
	// to the next handler (c.Next()).
	//
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool

	// StripPrefix is removed from the request path before the rest names an object below
	// s3cache.Options.Prefix, e.g. "/assets" for a handler mounted at "/assets/*", so
	// that /assets/css/site.css serves the key Prefix + "css/site.css". A trailing "/" is
	// ignored and a missing leading "/" is added. A request whose path is not under it goes
	// to the next handler.
	//
	// Optional. Default: "" (the whole path names the object)
	StripPrefix string
}

// Handler returns a Fiber handler that serves requests through h. It panics if h is nil, as
// Fiber's constructors do for invalid configuration.
func Handler(h *s3cache.Handler, config ...Config) fiber.Handler {
	if h == nil {
		panic("s3cachefiber: nil *s3cache.Handler")
	}
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	prefix := strings.TrimRight(cfg.StripPrefix, "/")
	if prefix != "" && prefix[0] != '/' {
		prefix = "/" + prefix
	}
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			return c.Next()
		}
		raw := c.Request().URI().PathOriginal()
		rest, ok := stripPrefix(raw, prefix, c.App().Config().CaseSensitive)
		if !ok {
			return c.Next()
		}
		method := c.Method()
		hd := &c.Request().Header
		// Copies: s3cache keeps the path (as a cache key) beyond the request, while fasthttp
		// reuses its buffers once the handler returns.
		req := s3cache.Request{
			Method: method,
			Path:   string(rest),
			Header: conditionalHeader(hd),
		}
		if method == fiber.MethodPut {
			req.Body = bytes.NewReader(c.Request().Body())
			req.ContentType = string(hd.ContentType())
		}

		ctx, d := detached(c.UserContext())
		resp := h.Serve(ctx, req)
		render(c, &resp, method == fiber.MethodHead, d.release())
		return nil
	}
}

// stripPrefix returns path without prefix when path is under it (equal to it, or followed
// by "/").
func stripPrefix(path []byte, prefix string, caseSensitive bool) ([]byte, bool) {
	if prefix == "" {
		return path, true
	}
	if len(path) < len(prefix) {
		return nil, false
	}
	head := path[:len(prefix)]
	if caseSensitive && string(head) != prefix || !caseSensitive && !strings.EqualFold(string(head), prefix) {
		return nil, false
	}
	rest := path[len(prefix):]
	if len(rest) > 0 && rest[0] != '/' {
		return nil, false
	}
	return rest, true
}

// conditionalHeader copies the conditional and Range fields out of fasthttp's buffers.
func conditionalHeader(hd *fasthttp.RequestHeader) conditional.Header {
	return conditional.HeaderFrom(func(name string) string { return string(hd.Peek(name)) })
}

// detached returns the context for Serve. Cancellation of parent reaches the S3 calls made
// while the handler runs, but not a body stream that fasthttp reads after the handler returns
// (see the package documentation): call [detach.release] once Serve has returned. A parent
// that is never canceled, such as the default context.Background, is used as it is, at no
// cost.
func detached(parent context.Context) (context.Context, detach) {
	if parent.Done() == nil {
		return parent, detach{}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return ctx, detach{stop: context.AfterFunc(parent, cancel), cancel: cancel}
}

// detach unlinks the context of one request from its parent.
type detach struct {
	stop   func() bool
	cancel context.CancelFunc
}

// release unlinks the context from its parent and returns the function that ends it, or nil
// when there is nothing to end.
func (d detach) release() context.CancelFunc {
	if d.stop != nil {
		d.stop()
	}
	return d.cancel
}

// render writes resp into the Fiber response as Response.Render does for net/http, and hands
// a streamed body to fasthttp, which closes it. cancel, when not nil, ends the context that
// resp's S3 calls were made with: now, or when fasthttp closes the stream.
func render(c *fiber.Ctx, resp *s3cache.Response, head bool, cancel context.CancelFunc) {
	r := c.Response()
	r.SetStatusCode(resp.Status) // first: fasthttp drops Content-Length on a 304
	if resp.Status == http.StatusNotModified {
		// Fields outer middleware may have set that a 304 must not carry.
		r.Header.Del(fiber.HeaderContentType)
		r.Header.Del(fiber.HeaderContentLength)
		r.Header.Del(fiber.HeaderContentEncoding)
		r.Header.Del(fiber.HeaderContentRange)
		r.Header.Del(fiber.HeaderLastModified)
	}
	resp.VisitHeaders(r.Header.Set)
	if resp.Status >= 400 {
		r.Header.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	}

	switch {
	case resp.Stream != nil && !head && resp.Status != http.StatusNotModified:
		var stream io.ReadCloser = resp.Stream
		if cancel != nil {
			stream = &cancelOnClose{stream, cancel}
		}
		resp.Stream = nil // fasthttp owns it now and closes it
		r.SetBodyStream(stream, int(resp.ContentLength))
		return
	case head || len(resp.Body) == 0:
		_ = resp.Close()
		r.ResetBody() // HEAD keeps the Content-Length set above
	default:
		_ = resp.Close()
		r.SetBodyRaw(resp.Body) // read-only for fasthttp: no copy of the cache's bytes
	}
	if cancel != nil {
		cancel()
	}
}

// cancelOnClose is a streamed body whose Close also cancels the context it was opened with.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (s *cancelOnClose) Close() error {
	err := s.ReadCloser.Close()
	s.cancel()
	return err
}
