package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe/status"
)

// With -admin, the login limiter's denial shows in /metrics and on the status page.
func TestQuickstartTelemetry(t *testing.T) {
	tel, err := newTelemetry()
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(memstore.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), tel)
	if err != nil {
		t.Fatal(err)
	}
	app, admin := httptest.NewServer(h), httptest.NewServer(tel.handler())
	defer app.Close()
	defer admin.Close()
	for range 4 {
		resp, err := http.Post(app.URL+"/login", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `tollgate_rate_limiting_decisions_total{tollgate_cached="false",tollgate_limiter="login",tollgate_local="false",tollgate_policy="login",tollgate_result="denied"} 1`
	if !strings.Contains(string(b), want) {
		t.Fatalf("/metrics lacks %s:\n%s", want, b)
	}
	resp, err = http.Get(admin.URL + "/tollgate?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Limiters) != 4 || st.Limiters[1].Name != "login" || len(st.Limiters[1].TopDenied) != 1 {
		t.Fatalf("status %+v", st)
	}
}
