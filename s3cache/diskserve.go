package s3cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/core/conditional"
)

// fromFile answers a GET from an entry in the disk tier, after its conditionals: the whole
// object, one range, or several as multipart/byteranges, read from a descriptor of the
// response's own, while the file is still being written if need be. When the file cannot be
// opened (evicted since the lookup, or missing or cut short on disk), the request is streamed
// from S3 instead; a file that is still indexed but unusable leaves the tier and is reported.
func (h *Handler) fromFile(ctx context.Context, req Request, r Response, rng string, e *entry) Response {
	size := e.meta.Size
	var ranges []conditional.ByteRange
	if rng != "" {
		var status int
		ranges, status = planRange(rng, size)
		if status == http.StatusRequestedRangeNotSatisfiable {
			return unsatisfiable(size)
		}
	}
	fr, err := e.file.open()
	if err != nil {
		if h.disk.has(e.file) && !errors.Is(err, errFillFailed) {
			h.disk.drop(e.file)
			h.diskFailed(e.name, "open", err)
		}
		return h.stream(ctx, req, e)
	}
	h.stats.diskHits.Add(1)
	if fr.df != nil {
		fr.resume = h.resumer(ctx, e)
	}
	switch len(ranges) {
	case 0:
		r.Stream = &fileStream{r: fr, end: size, owner: true}
		return r
	case 1:
		rg := ranges[0]
		r.Status = http.StatusPartialContent
		r.Stream = &fileStream{r: fr, off: rg.Start, end: rg.Start + rg.Length, owner: true}
		r.ContentLength = rg.Length
		r.contentRange = rg.ContentRange(size)
		return r
	}
	body, n, ctype := multipartFile(fr, ranges, size, e.meta.ContentType)
	r.Status = http.StatusPartialContent
	r.Stream, r.ContentLength, r.contentType = body, n, ctype
	return r
}

// multipartFile builds a multipart/byteranges body (RFC 9110 §14.6) that reads ranges of a
// file as it is sent, in the format of mime/multipart's Writer, and returns its length.
func multipartFile(fr *fileReader, ranges []conditional.ByteRange, size int64, contentType string) (*multiBody, int64, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	parts := make([]io.Reader, 0, 2*len(ranges)+1)
	streams := make([]*fileStream, 0, len(ranges))
	var n int64
	for _, rg := range ranges {
		ph := textproto.MIMEHeader{"Content-Range": {rg.ContentRange(size)}}
		if contentType != "" {
			ph["Content-Type"] = []string{contentType}
		}
		_, _ = mw.CreatePart(ph) // writes the delimiter and headers to buf, which cannot fail
		head := bytes.Clone(buf.Bytes())
		buf.Reset()
		st := &fileStream{r: fr, off: rg.Start, end: rg.Start + rg.Length}
		streams = append(streams, st)
		parts = append(parts, bytes.NewReader(head), st)
		n += int64(len(head)) + rg.Length
	}
	_ = mw.Close()
	tail := bytes.Clone(buf.Bytes())
	parts = append(parts, bytes.NewReader(tail))
	n += int64(len(tail))
	return &multiBody{mr: io.MultiReader(parts...), streams: streams, r: fr}, n, "multipart/byteranges; boundary=" + mw.Boundary()
}

// resumer returns how a reader of e's fill gets the rest of the object from S3 if the fill
// fails: a ranged GetObject conditional on e's ETag, so that a response never mixes two
// versions of the object (a 412 ends the response short instead).
func (h *Handler) resumer(ctx context.Context, e *entry) func(off, end int64) (io.ReadCloser, error) {
	return func(off, end int64) (io.ReadCloser, error) {
		h.stats.streamed.Add(1)
		key := h.opts.Prefix + e.name
		rng := "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end-1, 10)
		in := &s3.GetObjectInput{Bucket: &h.opts.Bucket, Key: &key, Range: &rng}
		if e.meta.ETag != "" {
			in.IfMatch = &e.meta.ETag
		}
		ctx, cancel := context.WithCancel(ctx)
		out, err := h.client.GetObject(ctx, in)
		if err != nil {
			cancel()
			h.opts.OnError(key, fmt.Errorf("s3cache: resume %q from S3: %w", e.name, err))
			return nil, err
		}
		return &s3Body{out.Body, cancel}, nil
	}
}
