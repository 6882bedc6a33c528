package tollgatelambda

import (
	"maps"
	"strings"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// field is one rate-limit header field to write; replace as reply.Fields says (Retry-After).
type field struct {
	k, v    string
	replace bool
}

// addHeaders returns h and mv (a response's headers and, in payload v1, its multi-value
// headers) with the rate-limit fields of res added (see reply.Fields for which). The maps
// given are never written: a handler may return a map it shares between responses, so a
// map that changes is copied first.
//
// A field the response already has (from a middleware inside this one, or the handler) keeps
// its values after this one's, joined with ", " (RFC 9110 §5.3) or, when it is a
// multi-value header, as the list's first element: the outer middleware runs first, and its
// policies come first, as on an http.ResponseWriter. Retry-After replaces any value: one
// limiter denied, and its time is the one to wait.
func addHeaders(h map[string]string, mv map[string][]string, res *core.Result, o reply.HeaderOptions, items *reply.PolicyItems) (map[string]string, map[string][]string) {
	var rf reply.Fields
	rf.Render(res, o, items)
	if rf.Len() == 0 {
		return h, mv
	}
	var buf [6]field
	fields := buf[:rf.Len()]
	for i := range fields {
		name, value, replace := rf.Field(i)
		fields[i] = field{name, string(value), replace}
	}
	h2 := make(map[string]string, len(h)+len(fields))
	maps.Copy(h2, h)
	mvCopied := false
	for _, f := range fields {
		if k, ok := find(mv, f.k); ok {
			if !mvCopied {
				mv, mvCopied = maps.Clone(mv), true
			}
			if f.replace {
				mv[k] = []string{f.v}
			} else {
				mv[k] = append([]string{f.v}, mv[k]...)
			}
			continue
		}
		if k, ok := find(h2, f.k); ok {
			if f.replace || h2[k] == "" {
				h2[k] = f.v
			} else {
				h2[k] = f.v + ", " + h2[k]
			}
			continue
		}
		h2[f.k] = f.v
	}
	return h2, mv
}

// find returns the spelling under which h holds the field name, whatever its case.
func find[V any](h map[string]V, name string) (string, bool) {
	if _, ok := h[name]; ok {
		return name, true
	}
	for k := range h {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}
