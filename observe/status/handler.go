package status

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"fmtDur":  func(d Duration) string { return time.Duration(d).String() },
	"double":  func(d Duration) Duration { return 2 * d },
	"fmtRate": func(r float64) string { return fmt.Sprintf("%.2f", r) },
	"inc":     func(i int) int { return i + 1 },
	"slug":    func(s string) string { return strings.ReplaceAll(s, " ", "-") },
	"concurrent": func(ps []PolicyStatus) bool {
		for _, p := range ps {
			if p.Algorithm == core.Concurrency.String() {
				return true
			}
		}
		return false
	},
	"settles": settles,
	"settling": func(ps []PolicyStatus) bool {
		for i := range ps {
			if settles(ps[i]) {
				return true
			}
		}
		return false
	},
	"localShare": func(p PolicyStatus) string {
		var n int64
		for _, v := range p.Decisions {
			n += v
		}
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f %%", 100*float64(p.Local)/float64(n))
	},
	"degraded": func(d map[string]int64) int64 {
		return d["failed_open"] + d["failed_closed"] + d["fallback"] + d["fallback_denied"]
	},
}).Parse(pageHTML))

// settles reports whether p reserved or settled anything: its row in the reservations and
// settlements table.
func settles(p PolicyStatus) bool {
	return p.Reservations > 0 || p.Local > 0 || p.Settlements != SettlementStatus{}
}

// contentSecurityPolicy allows the page's inline style and nothing else: no scripts, no
// external resources, no framing, no form posts.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// ServeHTTP serves the page: JSON for ?format=json or a request that accepts
// application/json and not text/html, HTML otherwise. GET and HEAD only.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	st := p.Snapshot()
	var buf bytes.Buffer
	if wantsJSON(r) {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "application/json")
	} else {
		refresh := 0
		if p.refresh > 0 {
			refresh = max(int(p.refresh/time.Second), 1)
		}
		if err := pageTemplate.Execute(&buf, struct {
			S       Status
			Refresh int
		}{st, refresh}); err != nil {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

func wantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
