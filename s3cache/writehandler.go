package s3cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
)

// serveWrite answers PUT and DELETE (Options.Writes). The precondition is forwarded to S3,
// which evaluates it atomically with the write; the local cache is never consulted for it.
// The cached entry is dropped whatever the outcome: after a 412 or 409 it is likely stale.
func (h *Handler) serveWrite(ctx context.Context, req Request) Response {
	name, status := h.objectName(req.Path)
	if status != 0 {
		return generic(status, false)
	}
	defer h.forget(name)
	key := h.opts.Prefix + name
	hd := req.Header
	ifMatch := strongETag(hd.IfMatch)
	absent := strings.TrimSpace(hd.IfNoneMatch) == "*"

	if req.Method == http.MethodDelete {
		if ifMatch == "" || hd.IfNoneMatch != "" {
			return preconditionRequired()
		}
		if err := DeleteIfMatch(ctx, h.client, h.opts.Bucket, key, ifMatch); err != nil {
			return h.writeFailed(key, err)
		}
		h.stats.writes.Add(1)
		return Response{Status: http.StatusNoContent, ContentLength: -1}
	}

	if absent == (ifMatch != "") || (absent && hd.IfMatch != "") || (ifMatch != "" && hd.IfNoneMatch != "") {
		return preconditionRequired()
	}
	if req.Body == nil {
		req.Body = http.NoBody
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, h.opts.MaxWriteSize+1))
	if err != nil {
		return generic(http.StatusBadRequest, false)
	}
	if int64(len(body)) > h.opts.MaxWriteSize {
		return generic(http.StatusRequestEntityTooLarge, false)
	}
	in := PutInput{Body: bytes.NewReader(body), ContentType: req.ContentType}
	var res WriteResult
	status = http.StatusCreated
	if absent {
		res, err = PutIfAbsent(ctx, h.client, h.opts.Bucket, key, in)
	} else {
		res, err = PutIfMatch(ctx, h.client, h.opts.Bucket, key, ifMatch, in)
		status = http.StatusNoContent
	}
	if err != nil {
		return h.writeFailed(key, err)
	}
	h.stats.writes.Add(1)
	return Response{Status: status, meta: Meta{ETag: res.ETag}, ContentLength: -1}
}

// strongETag returns field when it is exactly one strong entity-tag.
func strongETag(field string) string {
	p := singleETag(field)
	if p == nil || *p == "*" {
		return ""
	}
	return *p
}

// preconditionRequired is 428 (RFC 6585 §3): a write must say which version it expects,
// "If-None-Match: *" to create or "If-Match: <etag>" to replace or delete.
func preconditionRequired() Response {
	return generic(http.StatusPreconditionRequired, false)
}

func (h *Handler) writeFailed(key string, err error) Response {
	switch {
	case errors.Is(err, ErrPreconditionFailed):
		return generic(http.StatusPreconditionFailed, false)
	case errors.Is(err, ErrConflict):
		return generic(http.StatusConflict, false)
	}
	h.stats.s3Errors.Add(1)
	h.opts.OnError(key, err)
	return failure(err, false)
}
