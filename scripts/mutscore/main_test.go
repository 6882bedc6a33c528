package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/scripts/internal/mutrecord"
)

func TestReport(t *testing.T) {
	r := Result{}
	if err := jsonInto(&r, `{"files":[{"file_name":"a.go","mutations":[
		{"type":"ARITHMETIC_BASE","status":"KILLED","line":1,"column":2},
		{"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":3,"column":4},
		{"type":"CONDITIONALS_NEGATION","status":"LIVED","line":5,"column":6},
		{"type":"CONDITIONALS_NEGATION","status":"NOT COVERED","line":7,"column":8},
		{"type":"CONDITIONALS_NEGATION","status":"TIMED OUT","line":9,"column":1},
		{"type":"CONDITIONALS_NEGATION","status":"NOT VIABLE","line":9,"column":2},
		{"type":"ARITHMETIC_BASE","status":"NOT COVERED","line":11,"column":1},
		{"type":"ARITHMETIC_BASE","status":"NOT COVERED","line":12,"column":1}]}]}`); err != nil {
		t.Fatal(err)
	}
	eq, err := mutrecord.Read(strings.NewReader(`
# comment
p/a.go:3:4 CONDITIONALS_BOUNDARY the loop ends either way
p/a.go:1:2 ARITHMETIC_BASE killed now: stale
q/b.go:1:1 ARITHMETIC_BASE another package
p/a.go:11:1 ARITHMETIC_BASE KILLED-BY-HAND switch case: TestX fails
p/a.go:12:1 ARITHMETIC_BASE NOT-VIABLE string concatenation does not compile
`), "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(eq) != 4 {
		t.Fatalf("equivalents %v; want the four of package p", eq)
	}
	var out bytes.Buffer
	tally := Report(&out, "p", Mutants(r, "p"), eq)
	want := Tally{Mutants: 8, Killed: 1, TimedOut: 1, ByHand: 1, Lived: 1, NotCovered: 1, NotViable: 2, Equivalent: 1}
	if tally != want {
		t.Fatalf("tally %+v; want %+v", tally, want)
	}
	// detected 3 (one by hand) of 8 − 2 not viable − 1 equivalent = 5
	if tally.Score() != 60 {
		t.Errorf("score %.1f; want 60", tally.Score())
	}
	// detected 2 of 2 + 1 lived
	if got := tally.Efficacy(); got < 66.6 || got > 66.7 {
		t.Errorf("efficacy %.2f; want 66.67", got)
	}
	for _, s := range []string{
		"mutation: pkg=p mutants=8 killed=1 timed_out=1 killed_by_hand=1 lived=1 not_covered=1 not_viable=2 equivalent=1 score=60.0% efficacy=66.7%",
		"LIVED       p/a.go:5:6 CONDITIONALS_NEGATION",
		"NOT COVERED p/a.go:7:8 CONDITIONALS_NEGATION",
		"stale equivalent (no such survivor): p/a.go:1:2 ARITHMETIC_BASE",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
	if strings.Contains(out.String(), "p/a.go:3:4") {
		t.Errorf("report lists the equivalent as a survivor:\n%s", out.String())
	}
}

func jsonInto(r *Result, s string) error { return json.Unmarshal([]byte(s), r) }
