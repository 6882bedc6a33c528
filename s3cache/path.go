package s3cache

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is S3's limit on key length in bytes.
const maxKeyLen = 1024

// objectName maps the request path (percent-encoded, relative to where the Handler is
// mounted) to the object's name below Options.Prefix. It returns a status instead when the
// path is refused: 400 for anything that could address a key outside the prefix or that S3
// would read differently than a file server (an encoded "/" or "\", NUL and other control
// characters, a ".." segment, a leading "//", invalid UTF-8), 404 for a directory without an
// index document.
//
// A ".." segment is refused rather than resolved, so "/a/../b" is never a second name for
// "/b" and no amount of dot segments can climb above the prefix. Empty and "." segments are
// removed ("/a//./b" is "a/b"), as path.Clean does.
func (h *Handler) objectName(escaped string) (string, int) {
	p := escaped
	if strings.IndexByte(p, '%') >= 0 {
		if containsFoldASCII(p, "%2f") || containsFoldASCII(p, "%5c") || strings.Contains(p, "%00") {
			return "", http.StatusBadRequest
		}
		var err error
		if p, err = url.PathUnescape(p); err != nil {
			return "", http.StatusBadRequest
		}
	}
	if strings.HasPrefix(p, "//") {
		return "", http.StatusBadRequest // a network-path reference, or an absolute key
	}
	p = strings.TrimPrefix(p, "/")
	if !utf8.ValidString(p) {
		return "", http.StatusBadRequest
	}
	clean := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f || c == '\\':
			return "", http.StatusBadRequest
		case c == '/' && i+1 < len(p) && p[i+1] == '/':
			clean = false
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "..":
			return "", http.StatusBadRequest
		case ".":
			clean = false
		}
	}
	dir := p == "" || strings.HasSuffix(p, "/")
	if !clean {
		p = strings.TrimPrefix(path.Clean("/"+p), "/")
		if dir && p != "" {
			p += "/"
		}
		dir = p == "" || strings.HasSuffix(p, "/")
	}
	if dir {
		if h.opts.IndexDocument == "" {
			return "", http.StatusNotFound
		}
		p += h.opts.IndexDocument
	}
	if len(h.opts.Prefix)+len(p) > maxKeyLen {
		return "", http.StatusBadRequest
	}
	return p, 0
}

// containsFoldASCII reports whether s contains the lower-case ASCII sub, ignoring case.
func containsFoldASCII(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
