package s3cache

import (
	"bytes"
	"mime/multipart"
	"net/textproto"

	"github.com/tollgate-go/tollgate/core/conditional"
)

// multipartRanges builds a multipart/byteranges body (RFC 9110 §14.6) for ranges of body.
func multipartRanges(body []byte, ranges []conditional.ByteRange, contentType string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	size := int64(len(body))
	for _, rg := range ranges {
		ph := textproto.MIMEHeader{"Content-Range": {rg.ContentRange(size)}}
		if contentType != "" {
			ph["Content-Type"] = []string{contentType}
		}
		part, _ := mw.CreatePart(ph) // writes to a bytes.Buffer cannot fail
		_, _ = part.Write(body[rg.Start : rg.Start+rg.Length])
	}
	_ = mw.Close()
	return buf.Bytes(), "multipart/byteranges; boundary=" + mw.Boundary()
}
