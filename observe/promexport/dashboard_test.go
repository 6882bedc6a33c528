package promexport_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/observe"
	"github.com/tollgate-go/tollgate/observe/internal/observetest"
	"github.com/tollgate-go/tollgate/observe/otelmetrics"
	"github.com/tollgate-go/tollgate/observe/promexport"
)

const dashboardPath = "../dashboards/tollgate-grafana.json"

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

// scrapedLabels returns, for every series name in a scrape with every situation driven, the
// label names it carries (histograms as name_bucket with le, name_sum, name_count).
func scrapedLabels(t *testing.T) map[string]map[string]bool {
	t.Helper()
	s := newServer(t, otelmetrics.Options{})
	obs := s.m.Observer(observe.Limiter{Name: "web", StoreName: "redis"})
	observetest.Denials(t, observetest.NewStore(), obs, "alice")
	observetest.Outage(t, core.FailOpen, obs, "bob")
	observetest.Leases(t, memstore.New(), obs, "carol")
	observetest.Reservations(t, memstore.New(), obs, "dave")
	observetest.Settlements(t, memstore.New(), obs, "erin")
	out := map[string]map[string]bool{}
	for name, fam := range s.scrape() {
		add := func(series string, extra ...string) {
			if out[series] == nil {
				out[series] = map[string]bool{}
			}
			for _, m := range fam.GetMetric() {
				for _, l := range m.GetLabel() {
					out[series][l.GetName()] = true
				}
			}
			for _, l := range extra {
				out[series][l] = true
			}
		}
		if fam.GetType() == dto.MetricType_HISTOGRAM {
			add(name+"_bucket", "le")
			add(name + "_sum")
			add(name + "_count")
		} else {
			add(name)
		}
	}
	return out
}

var (
	seriesRe  = regexp.MustCompile(`\b(tollgate_[a-z_]+)\b(\{[^}]*\})?`)
	matcherRe = regexp.MustCompile(`([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	byRe      = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	legendRe  = regexp.MustCompile(`\{\{\s*([a-zA-Z_]+)\s*\}\}`)
)

// knownValues are the values a label can take, for labels whose values are a closed set.
var knownValues = map[string][]string{
	"tollgate_result":               {"allowed", "denied", "shadow_denied", "failed_open", "failed_closed", "fallback", "fallback_denied"},
	"tollgate_cached":               {"true", "false"},
	"tollgate_local":                {"true", "false"},
	"tollgate_settlement_direction": {"charge", "refund"},
	"tollgate_settlement_result":    {"ok", "failed"},
	"tollgate_breaker_state":        {"open", "closed"},
	"tollgate_store_operation":      {"take", "acquire", "release", "extend", "adjust"},
}

// checkQuery returns what is wrong with a PromQL query (and its legend) against the scraped
// series: unknown series, unknown labels in matchers, by clauses and legends, and values a
// closed-set label never takes.
func checkQuery(expr, legend string, series map[string]map[string]bool) []string {
	var problems []string
	labels := map[string]bool{}
	// by clauses name labels, which start with tollgate_ too: drop them before looking for
	// series (a series' own {matchers} are consumed with it).
	found := seriesRe.FindAllStringSubmatch(byRe.ReplaceAllString(expr, ""), -1)
	if len(found) == 0 {
		problems = append(problems, "names no tollgate metric")
	}
	for _, m := range found {
		ls, ok := series[m[1]]
		if !ok {
			problems = append(problems, "unknown series "+m[1])
			continue
		}
		for l := range ls {
			labels[l] = true
		}
		for _, mm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
			name, value := mm[1], mm[3]
			if !ls[name] {
				problems = append(problems, m[1]+" has no label "+name)
			}
			if known, ok := knownValues[name]; ok && !strings.Contains(value, "$") {
				for _, v := range strings.Split(value, "|") {
					if !slices.Contains(known, v) {
						problems = append(problems, name+" never takes the value "+v)
					}
				}
			}
		}
	}
	for _, m := range byRe.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); !labels[l] {
				problems = append(problems, "by ("+l+"): no such label on the series queried")
			}
		}
	}
	for _, m := range legendRe.FindAllStringSubmatch(legend, -1) {
		if !labels[m[1]] {
			problems = append(problems, "legend {{"+m[1]+"}}: no such label")
		}
	}
	return problems
}

// The Grafana dashboard parses, and every query names series and labels that a real scrape
// of the exporter has.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels: %+v", d)
	}
	series := scrapedLabels(t)
	queries := 0
	unused := map[string]bool{}
	for _, name := range promexport.Names {
		unused[name] = true
	}
	for _, p := range d.Panels {
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %q, %d targets; want ${datasource} and at least one", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, tg := range p.Targets {
			queries++
			for _, problem := range checkQuery(tg.Expr, tg.LegendFormat, series) {
				t.Errorf("panel %q: %s\n  query: %s", p.Title, problem, tg.Expr)
			}
			for _, m := range seriesRe.FindAllStringSubmatch(byRe.ReplaceAllString(tg.Expr, ""), -1) {
				for name := range unused {
					if m[1] == name || strings.HasPrefix(m[1], name+"_") {
						delete(unused, name)
					}
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			queries++
			m := regexp.MustCompile(`label_values\((\w+),\s*(\w+)\)`).FindStringSubmatch(v.Definition)
			if m == nil || !series[m[1]][m[2]] {
				t.Errorf("variable %q: %q names no scraped series and label", v.Name, v.Definition)
			}
		}
	}
	for name := range unused {
		t.Errorf("no panel queries %s", name)
	}
	t.Logf("%s: %d panels, %d queries checked against a scrape", dashboardPath, len(d.Panels), queries)
}

// The checker finds what it is there to find.
func TestCheckQueryCatchesMistakes(t *testing.T) {
	series := scrapedLabels(t)
	for _, c := range []struct{ expr, legend, want string }{
		{`rate(tollgate_rate_limiting_decision_total[5m])`, "", "unknown series"},
		{`rate(tollgate_store_errors_total{tollgate_policy="api"}[5m])`, "", "has no label tollgate_policy"},
		{`sum by (tollgate_key) (rate(tollgate_rate_limiting_decisions_total[5m]))`, "", "by (tollgate_key)"},
		{`rate(tollgate_rate_limiting_decisions_total{tollgate_result="rejected"}[5m])`, "", "never takes the value rejected"},
		{`rate(tollgate_rate_limiting_decisions_total[5m])`, "{{tollgate_store}}", "legend {{tollgate_store}}"},
		{`up`, "", "names no tollgate metric"},
		{`rate(tollgate_rate_limiting_settled_total{tollgate_settlement_direction="credit"}[5m])`, "", "never takes the value credit"},
		{`rate(tollgate_rate_limiting_reservations_total{tollgate_local="true"}[5m])`, "", "has no label tollgate_local"},
	} {
		problems := checkQuery(c.expr, c.legend, series)
		if !strings.Contains(strings.Join(problems, "\n"), c.want) {
			t.Errorf("checkQuery(%s) = %q, want a problem containing %q", c.expr, problems, c.want)
		}
	}
	if p := checkQuery(`histogram_quantile(0.99, sum by (le, tollgate_store) (rate(tollgate_store_duration_seconds_bucket[5m])))`, "{{tollgate_store}}", series); len(p) != 0 {
		t.Errorf("a correct query has problems: %q", p)
	}
}
