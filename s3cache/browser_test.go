package s3cache_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/internal/testenv"
	"github.com/tollgate-go/tollgate/s3cache"
)

// chromium returns the headless browser from TOLLGATE_CHROMIUM (scripts/chromium.sh installs
// it and the test command exports it).
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TOLLGATE_CHROMIUM")
	if bin != "" {
		return bin
	}
	if testenv.Required() {
		t.Fatal("TOLLGATE_CHROMIUM is not set but TOLLGATE_REQUIRE_SERVERS=1: source scripts/chromium.sh and export TOLLGATE_CHROMIUM=$(chromium_install)")
	}
	t.Skip("TOLLGATE_CHROMIUM not set: headless Chromium is not available; `make test` installs it (skipped only outside the test command)")
	return ""
}

type logged struct {
	method, path, ifNoneMatch string
	status                    int
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// A real browser loads a page twice with the same profile. Chromium stores the asset with its
// ETag (Cache-Control: no-cache makes it revalidate on each use), so the second load asks with
// If-None-Match and the handler answers 304 from its cache.
func TestBrowserRevalidatesWith304(t *testing.T) {
	bin := chromium(t)
	b := fakeBackend(t)
	html := `<!doctype html><html><head><script src="/app.js"></script></head><body><p id="out">script did not run</p></body></html>`
	b.put(t, "index.html", html, func(in *s3.PutObjectInput) { in.ContentType = aws.String("text/html; charset=utf-8") })
	b.put(t, "app.js", `document.addEventListener("DOMContentLoaded", () => { document.getElementById("out").textContent = "app.js ran"; });`,
		func(in *s3.PutObjectInput) { in.ContentType = aws.String("text/javascript") })
	h, err := s3cache.New(b.client, s3cache.Options{Bucket: b.bucket, IndexDocument: "index.html"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reqs []logged
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr := &statusRecorder{ResponseWriter: w, status: 200}
		h.ServeHTTP(sr, r)
		mu.Lock()
		reqs = append(reqs, logged{r.Method, r.URL.Path, r.Header.Get("If-None-Match"), sr.status})
		mu.Unlock()
	}))
	defer srv.Close()

	profile := t.TempDir()
	load := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--no-first-run", "--user-data-dir="+profile, "--dump-dom", srv.URL+"/")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, out)
		}
		return string(out)
	}
	for i := range 2 {
		if dom := load(); !strings.Contains(dom, "app.js ran") {
			t.Fatalf("load %d: the page's script did not run; DOM:\n%s", i+1, dom)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var assets []logged
	for _, r := range reqs {
		if r.path == "/app.js" {
			assets = append(assets, r)
		}
	}
	if len(assets) != 2 || assets[0].status != 200 || assets[1].status != 304 || assets[1].ifNoneMatch == "" {
		t.Fatalf("app.js requests = %+v, want a 200 then a 304 for If-None-Match (all requests: %+v)", assets, reqs)
	}
	if s := h.Stats(); s.ClientNotModified < 1 {
		t.Fatalf("ClientNotModified = %d, want the second load's 304 counted", s.ClientNotModified)
	}
}
