// Command mutoverlay runs the mutants gremlins reported NOT COVERED, for scripts/mutation.sh.
//
//	go run ./scripts/mutoverlay -pkg s3cache [-equivalents mutation/equivalents] [-testflags "-skip=X"] out.json
//
// Gremlins never runs a mutant outside Go's coverage blocks (a tagless switch's case
// expressions, constants), and reports it NOT COVERED even when tests reach the code. This
// command applies each such mutant itself: it changes the one token at the mutant's line and
// column in a copy of the file, runs `go test -count=1 -failfast -overlay` on the package, and
// rewrites the mutant's status in out.json: KILLED when the tests fail, NOT VIABLE when the
// mutated package does not build, LIVED when the tests pass. scripts/mutscore then scores the
// file as it scores any other. Mutants already recorded in the equivalents files (as
// KILLED-BY-HAND, NOT-VIABLE or equivalent) are left as they are: a record says what a person
// found, and this run does not overrule it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/tollgate-go/tollgate/scripts/internal/mutrecord"
)

// replacements maps a gremlins mutation type to the token it swaps for each token it mutates.
var replacements = map[string]map[string]string{
	"CONDITIONALS_BOUNDARY": {"<": "<=", "<=": "<", ">": ">=", ">=": ">"},
	"CONDITIONALS_NEGATION": {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"},
	"ARITHMETIC_BASE":       {"+": "-", "-": "+", "*": "/", "/": "*", "%": "*"},
	"INCREMENT_DECREMENT":   {"++": "--", "--": "++"},
	"INVERT_NEGATIVES":      {"-": " "},
}

// Mutate returns src with the token at line:col (1-based, as gremlins reports them)
// replaced as typ mutates it, or an error when there is no such token or typ does not apply
// to it.
func Mutate(src []byte, line, col int, typ string) ([]byte, error) {
	repl := replacements[typ]
	if repl == nil {
		return nil, fmt.Errorf("unknown mutation type %s", typ)
	}
	fset := token.NewFileSet()
	f := fset.AddFile("src.go", -1, len(src))
	var s scanner.Scanner
	s.Init(f, src, nil, 0)
	for {
		p, tok, _ := s.Scan()
		if tok == token.EOF {
			return nil, fmt.Errorf("no token at %d:%d", line, col)
		}
		pos := fset.Position(p)
		if pos.Line != line || pos.Column != col {
			continue
		}
		old := tok.String()
		r, ok := repl[old]
		if !ok {
			return nil, fmt.Errorf("%s does not apply to %q at %d:%d", typ, old, line, col)
		}
		off := f.Offset(p)
		out := append([]byte{}, src[:off]...)
		out = append(out, r...)
		return append(out, src[off+len(old):]...), nil
	}
}

// result is gremlins' JSON output, kept whole so that it is written back unchanged but for
// the statuses.
type result map[string]any

func main() {
	pkg := flag.String("pkg", "", "the package directory, relative to the repository root")
	eqDir := flag.String("equivalents", "mutation/equivalents", "the directory of equivalents files (*.txt)")
	testflags := flag.String("testflags", "", "more go test flags (space-separated), e.g. -skip=Pattern")
	flag.Parse()
	if *pkg == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mutoverlay -pkg DIR [-equivalents DIR] [-testflags FLAGS] result.json")
		os.Exit(2)
	}
	if err := run(*pkg, *eqDir, strings.Fields(*testflags), flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "mutoverlay:", err)
		os.Exit(1)
	}
}

func run(pkg, eqDir string, testflags []string, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	recorded, err := mutrecord.ReadDir(eqDir, pkg)
	if err != nil {
		return err
	}
	files, _ := r["files"].([]any)
	// The unmutated tests must pass, or every mutant would count as killed.
	if status, err := runTests(pkg, "", testflags); err != nil || status != "LIVED" {
		return fmt.Errorf("the unmutated tests of %s do not pass (%s %v): no mutant can be judged", pkg, status, err)
	}
	var killed, lived, notViable int
	for _, fv := range files {
		fm, _ := fv.(map[string]any)
		name, _ := fm["file_name"].(string)
		muts, _ := fm["mutations"].([]any)
		for _, mv := range muts {
			m, _ := mv.(map[string]any)
			if m["status"] != "NOT COVERED" {
				continue
			}
			line, col := int(num(m["line"])), int(num(m["column"]))
			typ, _ := m["type"].(string)
			id := mutrecord.ID(path.Join(pkg, name), line, col, typ)
			if _, ok := recorded[id]; ok {
				continue
			}
			status, err := apply(pkg, filepath.Join(pkg, name), line, col, typ, testflags)
			if err != nil {
				fmt.Fprintf(os.Stderr, "mutoverlay: %s: %v (left NOT COVERED)\n", id, err)
				continue
			}
			m["status"] = status
			fmt.Printf("mutoverlay: %-11s %s\n", status, id)
			switch status {
			case "KILLED":
				killed++
			case "LIVED":
				lived++
			default:
				notViable++
			}
		}
	}
	fmt.Printf("mutoverlay: pkg=%s ran %d not-covered mutants: killed=%d lived=%d not_viable=%d\n", pkg, killed+lived+notViable, killed, lived, notViable)
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// apply runs the package's tests with the mutant applied through an overlay and returns the
// mutant's status.
func apply(pkg, file string, line, col int, typ string, testflags []string) (string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	out, err := Mutate(src, line, col, typ)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mutoverlay-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	mutated := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(mutated, out, 0o644); err != nil {
		return "", err
	}
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {abs: mutated}})
	ovFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		return "", err
	}
	return runTests(pkg, ovFile, testflags)
}

// runTests runs the package's tests, through the overlay file when it is not empty: LIVED
// when they pass, KILLED when they fail, NOT VIABLE when the package does not build.
func runTests(pkg, overlay string, testflags []string) (string, error) {
	args := []string{"test", "-count=1", "-failfast", "-timeout=10m"}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, testflags...)
	cmd := exec.Command("go", append(args, "./"+pkg)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "LIVED", nil
	case !errors.As(err, &exit):
		return "", err
	case bytes.Contains(buf.Bytes(), []byte("[build failed]")) || bytes.Contains(buf.Bytes(), []byte("[setup failed]")):
		return "NOT VIABLE", nil
	}
	return "KILLED", nil
}
