// Command report turns the output of the bench suite (`go test -bench` with -count runs)
// into the Markdown tables of bench/RESULTS.md: a headline comparison of Tollgate with the
// fastest peer per category and workload, one table per category with every contender, and
// the memory per key. Each figure is the median of the runs.
//
//	go run ./report raw.txt > tables.md
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// numKeys is the bench suite's number of distinct keys (BenchmarkMemory inserts that many
// per op).
const numKeys = 100_000

// result is one benchmark's samples by unit.
type result map[string][]float64

// median returns the median of unit's samples, and whether there were any.
func (r result) median(unit string) (float64, bool) {
	v := append([]float64(nil), r[unit]...)
	if len(v) == 0 {
		return 0, false
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// row is a benchmark's place in the tables.
type row struct{ suite, wl, lib string }

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads `go test -bench` output into results by name, and the order names first
// appeared in.
func parse(r io.Reader) (map[string]result, []string, error) {
	res := map[string]result{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a benchmark's log line, not a result
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		if res[name] == nil {
			res[name] = result{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: value %q: %v", name, f[i], err)
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	return res, order, sc.Err()
}

// split parses "Suite/wl=hot-allow/g=1/lib=x" into its parts; wl joins wl and g.
func split(name string) row {
	parts := strings.Split(name, "/")
	r := row{suite: parts[0]}
	var wl, g string
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "wl":
			wl = v
		case "g":
			g = v
		case "lib":
			r.lib = v
		}
	}
	if wl != "" {
		r.wl = wl + " g=" + g
	}
	return r
}

// peer reports whether lib is a peer library (not Tollgate, not a baseline).
func peer(lib string) bool {
	return !strings.HasPrefix(lib, "tollgate") && lib != "bare" && lib != "xrate"
}

func ns(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

// ratioText prints a ratio with two decimals, or two significant digits below 0.1 (a denial
// cache answering locally against a round trip).
func ratioText(r float64) string {
	if r < 0.1 {
		return strconv.FormatFloat(r, 'g', 2, 64)
	}
	return fmt.Sprintf("%.2f", r)
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: report RAW_BENCH_OUTPUT")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, order, err := parse(f)
	if err != nil {
		log.Fatal(err)
	}
	write(os.Stdout, res, order)
}

// write prints the tables.
func write(w io.Writer, res map[string]result, order []string) {
	type cell struct {
		ns, allocs, bytes float64
	}
	var suites []string
	wls := map[string][]string{}
	libs := map[string][]string{}
	cells := map[row]cell{}
	seen := map[string]bool{}
	for _, name := range order {
		r := split(name)
		if r.suite == "Memory" {
			continue
		}
		if !seen[r.suite] {
			seen[r.suite] = true
			suites = append(suites, r.suite)
		}
		if !seen[r.suite+"|wl|"+r.wl] {
			seen[r.suite+"|wl|"+r.wl] = true
			wls[r.suite] = append(wls[r.suite], r.wl)
		}
		if !seen[r.suite+"|lib|"+r.lib] {
			seen[r.suite+"|lib|"+r.lib] = true
			libs[r.suite] = append(libs[r.suite], r.lib)
		}
		c := cell{}
		c.ns, _ = res[name].median("ns/op")
		c.allocs, _ = res[name].median("allocs/op")
		c.bytes, _ = res[name].median("B/op")
		cells[r] = c
	}

	fmt.Fprintln(w, "## Headline: Tollgate against the fastest peer")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Median ns/op of each workload; ratio = Tollgate ÷ fastest peer (below 1.00: Tollgate is faster). Where several Tollgate configurations run (three policies in process; with and without the denial cache, GCRA, and the per-decision time budget on Redis), the fastest is shown and named.")
	fmt.Fprintln(w)
	lead, total := map[string]int{}, map[string]int{}
	fmt.Fprintln(w, "| category | workload | Tollgate | fastest peer | ratio |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	for _, s := range suites {
		for _, wl := range wls[s] {
			var tg, pe string
			var tv, pv float64
			for _, lib := range libs[s] {
				c, ok := cells[row{s, wl, lib}]
				if !ok || c.ns == 0 {
					continue
				}
				switch {
				case strings.HasPrefix(lib, "tollgate"):
					if tg == "" || c.ns < tv {
						tg, tv = lib, c.ns
					}
				case peer(lib):
					if pe == "" || c.ns < pv {
						pe, pv = lib, c.ns
					}
				}
			}
			if tg == "" || pe == "" {
				continue
			}
			ratio := tv / pv
			if ratio <= 1 {
				lead[s]++
			}
			total[s]++
			fmt.Fprintf(w, "| %s | %s | %s (%s) | %s (%s) | %s |\n", s, wl, ns(tv), tg, ns(pv), pe, ratioText(ratio))
		}
	}
	fmt.Fprintln(w)
	for _, s := range suites {
		if total[s] > 0 {
			fmt.Fprintf(w, "- %s: Tollgate at or ahead of the fastest peer in %d of %d workloads.\n", s, lead[s], total[s])
		}
	}
	for _, s := range suites {
		fmt.Fprintf(w, "\n## %s\n\nMedian ns/op, allocs/op and B/op per request.\n\n", s)
		fmt.Fprint(w, "| contender |")
		for _, wl := range wls[s] {
			fmt.Fprintf(w, " %s |", wl)
		}
		fmt.Fprint(w, "\n|---|")
		for range wls[s] {
			fmt.Fprint(w, "---:|")
		}
		fmt.Fprintln(w)
		for _, lib := range libs[s] {
			fmt.Fprintf(w, "| %s |", lib)
			for _, wl := range wls[s] {
				c, ok := cells[row{s, wl, lib}]
				if !ok {
					fmt.Fprint(w, " – |")
					continue
				}
				fmt.Fprintf(w, " %s · %.0f a · %.0f B |", ns(c.ns), c.allocs, c.bytes)
			}
			fmt.Fprintln(w)
		}
	}
	var mem []string
	for _, name := range order {
		if strings.HasPrefix(name, "Memory/") {
			mem = append(mem, name)
		}
	}
	if len(mem) > 0 {
		fmt.Fprintf(w, "\n## Memory: %d distinct keys\n\nLive heap held per key after inserting %d distinct keys into a fresh contender (allowed-heavy limit), the time per insert, and allocations per key.\n\n", numKeys, numKeys)
		fmt.Fprintln(w, "| contender | B/key | ns/key | allocs/key |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
		for _, name := range mem {
			r := res[name]
			b, _ := r.median("B/key")
			t, _ := r.median("ns/key")
			a, _ := r.median("allocs/op")
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.1f |\n", split(name).lib, b, t, a/numKeys)
		}
	}
}
