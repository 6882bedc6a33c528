// Command mutscore scores a gremlins result (the JSON of `gremlins unleash -o`) against the
// mutants recorded as equivalent, for scripts/mutation.sh.
//
//	go run ./scripts/mutscore -pkg core/memstore -equivalents mutation/equivalents.txt out.json
//
// It prints one line per package,
//
//	mutation: pkg=P mutants=N killed=K timed_out=T lived=L not_covered=C not_viable=V equivalent=E score=S% efficacy=F%
//
// then the score per file and every survivor that is not recorded as equivalent. The score
// counts a mutant no test reaches (not covered) as a survivor: score = (killed + timed out) /
// (mutants − not viable − equivalent). Efficacy is gremlins' measure, over covered mutants
// only. A timed-out mutant counts as detected: scripts/mutation.sh gives each mutant ten times
// the unmutated run, so a timeout is a mutant that hangs a test, not a slow machine.
//
// Gremlins never runs a mutant outside its coverage blocks (a switch's case expressions, constant
// and package-level initializers): it reports them NOT COVERED even when tests reach the code.
// Such a mutant, applied by hand, either fails the tests or does not compile; its entry's reason
// then starts with KILLED-BY-HAND (naming the failing test) or NOT-VIABLE, and it counts as
// killed or as not viable. Any other reason (conventionally starting with EQUIVALENT) marks an
// equivalent mutant.
//
// The equivalents are read from every *.txt file of a directory (mutation/equivalents/, a
// file per package or per area, so that work on two packages never edits one file). A file
// has one mutant per line, "path:line:column TYPE reason", path relative
// to the repository root; '#' starts a comment. An entry that matches no surviving mutant is
// reported as stale (the code moved, or a test now kills it) so that the file stays true.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/tollgate-go/tollgate/scripts/internal/mutrecord"
)

// Result is the part of gremlins' JSON output that the score needs.
type Result struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// Mutant is one mutation, its file relative to the repository root.
type Mutant struct {
	File         string
	Line, Column int
	Type, Status string
}

// ID is the mutant's key in the equivalents file.
func (m Mutant) ID() string { return mutrecord.ID(m.File, m.Line, m.Column, m.Type) }

// Tally counts mutants by outcome.
type Tally struct {
	Mutants, Killed, TimedOut, ByHand, Lived, NotCovered, NotViable, Equivalent int
}

// Score is detected ÷ (mutants − not viable − equivalent), in percent; 100 with no mutants.
// Detected is killed, timed out or killed by hand.
func (t Tally) Score() float64 {
	return pct(t.Killed+t.TimedOut+t.ByHand, t.Mutants-t.NotViable-t.Equivalent)
}

// Efficacy is gremlins' measure: killed and timed out ÷ those and the lived, over the mutants
// gremlins ran (so neither not-covered nor by-hand mutants count).
func (t Tally) Efficacy() float64 {
	return pct(t.Killed+t.TimedOut, t.Killed+t.TimedOut+t.Lived)
}

// Kinds of recorded mutants, from the first word of the reason.
const (
	kindEquivalent = iota
	kindByHand     // KILLED-BY-HAND: gremlins did not run it; applied by hand, a test fails
	kindNotViable  // NOT-VIABLE: applied by hand, it does not compile
)

func kindOf(reason string) int {
	switch {
	case strings.HasPrefix(reason, "KILLED-BY-HAND"):
		return kindByHand
	case strings.HasPrefix(reason, "NOT-VIABLE"):
		return kindNotViable
	}
	return kindEquivalent
}

func pct(a, b int) float64 {
	if b <= 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// add counts m; a recorded survivor counts as its kind (recorded is false, or a kind).
func (t *Tally) add(m Mutant, recorded bool, kind int) {
	t.Mutants++
	switch {
	case m.Status == "KILLED":
		t.Killed++
	case m.Status == "TIMED OUT":
		t.TimedOut++
	case m.Status == "NOT VIABLE":
		t.NotViable++
	case recorded && kind == kindByHand:
		t.ByHand++
	case recorded && kind == kindNotViable:
		t.NotViable++
	case recorded:
		t.Equivalent++
	case m.Status == "LIVED":
		t.Lived++
	default: // NOT COVERED, and anything newer gremlins may report
		t.NotCovered++
	}
}

// survived reports whether m is a mutant no test detected.
func survived(m Mutant) bool {
	return m.Status == "LIVED" || m.Status == "NOT COVERED"
}

// Mutants flattens r, prefixing each file with pkg.
func Mutants(r Result, pkg string) []Mutant {
	var ms []Mutant
	for _, f := range r.Files {
		for _, x := range f.Mutations {
			ms = append(ms, Mutant{File: path.Join(pkg, f.Name), Line: x.Line, Column: x.Column, Type: x.Type, Status: x.Status})
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].File != ms[j].File {
			return ms[i].File < ms[j].File
		}
		if ms[i].Line != ms[j].Line {
			return ms[i].Line < ms[j].Line
		}
		if ms[i].Column != ms[j].Column {
			return ms[i].Column < ms[j].Column
		}
		return ms[i].Type < ms[j].Type
	})
	return ms
}

// Report writes the score of ms to w and returns the tally.
func Report(w io.Writer, pkg string, ms []Mutant, eq map[string]string) Tally {
	var total Tally
	files := map[string]*Tally{}
	var order []string
	used := map[string]bool{}
	var unexplained []Mutant
	for _, m := range ms {
		why, isEq := eq[m.ID()]
		isEq = isEq && survived(m)
		if isEq {
			used[m.ID()] = true
		}
		kind := kindOf(why)
		total.add(m, isEq, kind)
		ft := files[m.File]
		if ft == nil {
			ft = &Tally{}
			files[m.File] = ft
			order = append(order, m.File)
		}
		ft.add(m, isEq, kind)
		if survived(m) && !isEq {
			unexplained = append(unexplained, m)
		}
	}
	fmt.Fprintf(w, "mutation: pkg=%s mutants=%d killed=%d timed_out=%d killed_by_hand=%d lived=%d not_covered=%d not_viable=%d equivalent=%d score=%.1f%% efficacy=%.1f%%\n",
		pkg, total.Mutants, total.Killed, total.TimedOut, total.ByHand, total.Lived, total.NotCovered, total.NotViable, total.Equivalent, total.Score(), total.Efficacy())
	for _, f := range order {
		t := files[f]
		fmt.Fprintf(w, "  %-40s %4d mutants  score %5.1f%%  lived %d  not covered %d  by hand %d  equivalent %d\n", f, t.Mutants, t.Score(), t.Lived, t.NotCovered, t.ByHand, t.Equivalent)
	}
	if len(unexplained) > 0 {
		fmt.Fprintf(w, "survivors not recorded as equivalent (%d):\n", len(unexplained))
		for _, m := range unexplained {
			fmt.Fprintf(w, "  %-11s %s\n", m.Status, m.ID())
		}
	}
	var stale []string
	for id := range eq {
		if !used[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		fmt.Fprintf(w, "stale equivalent (no such survivor): %s\n", id)
	}
	return total
}

func main() {
	pkg := flag.String("pkg", "", "the package directory the result is for, relative to the repository root")
	eqPath := flag.String("equivalents", "mutation/equivalents", "the directory of equivalents files (*.txt)")
	min := flag.Float64("min", 0, "exit 1 if the score is below this percentage")
	flag.Parse()
	if *pkg == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mutscore -pkg DIR [-equivalents DIR] [-min PCT] RESULT.json")
		os.Exit(2)
	}
	if err := run(*pkg, *eqPath, flag.Arg(0), *min, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(pkg, eqPath, resultPath string, min float64, w io.Writer) error {
	raw, err := os.ReadFile(resultPath)
	if err != nil {
		return fmt.Errorf("mutscore: %w", err)
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("mutscore: %s: %w", resultPath, err)
	}
	eq, err := mutrecord.ReadDir(eqPath, pkg)
	if err != nil {
		return err
	}
	t := Report(w, pkg, Mutants(r, pkg), eq)
	if t.Score() < min {
		return fmt.Errorf("mutscore: %s: score %.1f%% is below %.1f%%", pkg, t.Score(), min)
	}
	return nil
}
