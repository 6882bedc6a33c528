package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkDecision/wl=hot-allow/g=1/lib=xrate-2         	 100	        50.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecision/wl=hot-allow/g=1/lib=tollgate-fixed-2 	 100	       200.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecision/wl=hot-allow/g=1/lib=tollgate-fixed-2 	 100	       100.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecision/wl=hot-allow/g=1/lib=tollgate-fixed-2 	 100	       120.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecision/wl=hot-allow/g=1/lib=sethvargo-2     	 100	        80.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecision/wl=hot-allow/g=1/lib=ulule-2         	 100	       300.0 ns/op	      32 B/op	       2 allocs/op
    workload_test.go:1: a log line that is not a result
BenchmarkNetHTTP/wl=hot-allow/g=8/lib=bare-2           	 100	        90.0 ns/op	      19 B/op	       2 allocs/op
BenchmarkNetHTTP/wl=hot-allow/g=8/lib=tollgate-2       	 100	       400.0 ns/op	      83 B/op	       3 allocs/op
BenchmarkNetHTTP/wl=hot-allow/g=8/lib=httplimit-2      	 100	       500.0 ns/op	     200 B/op	      11 allocs/op
BenchmarkMemory/lib=tollgate-fixed-2                   	   3	  65000000 ns/op	       131.4 B/key	       650.0 ns/key	16000000 B/op	  200000 allocs/op
`

// TestReport checks the medians, the headline's choice of Tollgate's fastest policy against
// the fastest peer (baselines excluded), and the memory table.
func TestReport(t *testing.T) {
	res, order, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := res["Decision/wl=hot-allow/g=1/lib=tollgate-fixed"].median("ns/op"); m != 120 {
		t.Fatalf("median of 200, 100, 120 = %v, want 120", m)
	}
	var out bytes.Buffer
	write(&out, res, order)
	for _, want := range []string{
		"| Decision | hot-allow g=1 | 120 ns (tollgate-fixed) | 80 ns (sethvargo) | 1.50 |",
		"| NetHTTP | hot-allow g=8 | 400 ns (tollgate) | 500 ns (httplimit) | 0.80 |",
		"- NetHTTP: Tollgate at or ahead of the fastest peer in 1 of 1 workloads.",
		"| tollgate-fixed | 131 | 650 | 2.0 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q; got:\n%s", want, out.String())
		}
	}
}
