package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe/promexport"
	"github.com/tollgate-go/tollgate/observe/status"
)

// The demo's API is driven over HTTP as the README's curl lines do; its operator listener
// then shows the denials in /metrics and on the status page.
func TestDemo(t *testing.T) {
	app, admin, err := newHandlers(memstore.New(), status.KeysRaw)
	if err != nil {
		t.Fatal(err)
	}
	appSrv, adminSrv := httptest.NewServer(app), httptest.NewServer(admin)
	defer appSrv.Close()
	defer adminSrv.Close()
	codes := map[int]int{}
	for range 4 {
		resp, err := http.Post(appSrv.URL+"/login", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[401] != 3 || codes[429] != 1 {
		t.Fatalf("login status codes %v, want three 401 and one 429", codes)
	}

	resp, err := http.Get(adminSrv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, m := range fams[promexport.Decisions].GetMetric() {
		got[label(m, "tollgate_limiter")+"/"+label(m, "tollgate_result")] += m.GetCounter().GetValue()
	}
	if got["login/allowed"] != 3 || got["login/denied"] != 1 || got["global/allowed"] != 4 {
		t.Fatalf("decisions %v, want login 3 allowed 1 denied, global 4 allowed", got)
	}

	resp, err = http.Get(adminSrv.URL + "/tollgate?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range st.Limiters {
		names = append(names, l.Name)
		if l.Name == "login" && (len(l.TopDenied) != 1 || l.TopDenied[0].Key != "127.0.0.1") {
			t.Fatalf("login's most denied %+v, want 127.0.0.1", l.TopDenied)
		}
	}
	if strings.Join(names, ",") != "global,login,api,slow" {
		t.Fatalf("limiters %v", names)
	}
	if _, err := parseKeys("plain"); err == nil {
		t.Fatal("parseKeys accepted an unknown display")
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
