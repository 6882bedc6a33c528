package readme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// knownImports are the packages a fragment may name without importing them, by the name it
// uses.
var knownImports = map[string]string{
	"context": "context",
	"errors":  "errors",
	"fmt":     "fmt",
	"io":      "io",
	"log":     "log",
	"slog":    "log/slog",
	"http":    "net/http",
	"os":      "os",
	"strconv": "strconv",
	"strings": "strings",
	"time":    "time",

	"core":          "github.com/tollgate-go/tollgate/core",
	"memstore":      "github.com/tollgate-go/tollgate/core/memstore",
	"dynamostore":   "github.com/tollgate-go/tollgate/core/dynamostore",
	"redisstore":    "github.com/tollgate-go/tollgate/core/redisstore",
	"s3store":       "github.com/tollgate-go/tollgate/core/s3store",
	"backoff":       "github.com/tollgate-go/tollgate/core/backoff",
	"reply":         "github.com/tollgate-go/tollgate/core/reply",
	"storekit":      "github.com/tollgate-go/tollgate/core/storekit",
	"nethttp":       "github.com/tollgate-go/tollgate/adapters/nethttp",
	"s3cache":       "github.com/tollgate-go/tollgate/s3cache",
	"tollgategin":   "github.com/tollgate-go/tollgate/adapters/gin",
	"tollgateecho":  "github.com/tollgate-go/tollgate/adapters/echo",
	"tollgatefiber": "github.com/tollgate-go/tollgate/adapters/fiber",
	"s3cachefiber":  "github.com/tollgate-go/tollgate/adapters/fiber/s3cachefiber",

	"gin":   "github.com/gin-gonic/gin",
	"echo":  "github.com/labstack/echo/v4",
	"fiber": "github.com/gofiber/fiber/v2",
	"redis": "github.com/redis/go-redis/v9",
	"s3":    "github.com/aws/aws-sdk-go-v2/service/s3",
	"aws":   "github.com/aws/aws-sdk-go-v2/aws",
}

// unit is one generated package: a README block or table, as Go source.
type unit struct {
	name   string // the package directory, "b07"
	what   string // "README.md:123 (fragment)", for logs
	source string
}

// readmePath is README.md, absolute, for //line directives.
func readmePath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loadREADME(t testing.TB) *doc {
	t.Helper()
	b, err := os.ReadFile(readmePath(t))
	if err != nil {
		t.Fatal(err)
	}
	d, err := parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// lineDirective returns a //line directive that maps the next line to README.md:n.
func lineDirective(readme string, n int) string {
	return fmt.Sprintf("//line %s:%d\n", readme, n)
}

// splitImports separates a fragment's leading import declarations from its statements.
func splitImports(code string) (imports, rest string, restOffset int) {
	lines := strings.Split(code, "\n")
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	start := i
	for i < len(lines) && strings.HasPrefix(lines[i], "import") {
		if strings.HasSuffix(strings.TrimSpace(lines[i]), "(") {
			for i < len(lines) && strings.TrimSpace(lines[i]) != ")" {
				i++
			}
		}
		i++
		for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
			i++
		}
	}
	if i == start {
		return "", code, 0
	}
	return strings.Join(lines[start:i], "\n") + "\n", strings.Join(lines[i:], "\n"), i
}

// fragmentUnit wraps a fragment (statements) with its given declarations into a package.
func fragmentUnit(readme, name string, line int, code string, m *marker) (unit, error) {
	imports, body, off := splitImports(code)
	given, givenLine := "", 0
	if m != nil {
		given, givenLine = strings.Join(m.body, "\n")+"\n", m.bodyLine
	}
	build := func(autoImports []string, uses []string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\n", name)
		b.WriteString(imports)
		for _, imp := range autoImports {
			fmt.Fprintf(&b, "import %s\n", imp)
		}
		if given != "" {
			b.WriteString(lineDirective(readme, givenLine))
			b.WriteString(given)
		}
		b.WriteString("\nfunc readmeBlock() error {\n")
		b.WriteString(lineDirective(readme, line+off))
		b.WriteString(body)
		b.WriteString("\n//line readme-test-harness:1\n")
		for _, u := range uses {
			fmt.Fprintf(&b, "\t_ = %s\n", u)
		}
		b.WriteString("\treturn nil\n}\n")
		return b.String()
	}
	src := build(nil, nil)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name+".go", src, parser.ParseComments)
	if err != nil {
		return unit{}, fmt.Errorf("the fragment does not parse as Go statements: %v", err)
	}
	// The packages it names but does not import.
	explicit := map[string]bool{}
	for _, imp := range f.Imports {
		p := strings.Trim(imp.Path.Value, `"`)
		n := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			n = imp.Name.Name
		}
		explicit[n] = true
	}
	need := map[string]bool{}
	for _, id := range f.Unresolved {
		if path, ok := knownImports[id.Name]; ok && !explicit[id.Name] {
			need[fmt.Sprintf("%s %q", id.Name, path)] = true
		}
	}
	var auto []string
	for imp := range need {
		auto = append(auto, imp)
	}
	sort.Strings(auto)
	// The variables it declares at its top level, which a reader's program goes on to use.
	var uses []string
	seen := map[string]bool{}
	add := func(id *ast.Ident) {
		if id.Name != "_" && !seen[id.Name] {
			seen[id.Name] = true
			uses = append(uses, id.Name)
		}
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "readmeBlock" {
			continue
		}
		for _, st := range fn.Body.List {
			switch st := st.(type) {
			case *ast.AssignStmt:
				if st.Tok == token.DEFINE {
					for _, l := range st.Lhs {
						if id, ok := l.(*ast.Ident); ok {
							add(id)
						}
					}
				}
			case *ast.DeclStmt:
				if g, ok := st.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
					for _, s := range g.Specs {
						for _, id := range s.(*ast.ValueSpec).Names {
							add(id)
						}
					}
				}
			}
		}
	}
	return unit{name: name, what: fmt.Sprintf("README.md:%d (fragment)", line), source: build(auto, uses)}, nil
}

// tableUnit turns each code cell of a table into a statement, with the table's given
// declarations.
func tableUnit(readme, name string, t table) (unit, error) {
	var b strings.Builder
	for _, c := range t.cells {
		b.WriteString(lineDirective(readme, c.line))
		b.WriteString(c.code + "\n")
	}
	u, err := fragmentUnit(readme, name, t.line, b.String(), t.marker)
	u.what = fmt.Sprintf("README.md:%d (table, %d cells)", t.line, len(t.cells))
	return u, err
}

// goUnits returns the packages to compile: one per ```go block and one per marked table.
func goUnits(t *testing.T, d *doc) (units []unit, complete, fragments, cells int) {
	t.Helper()
	readme := readmePath(t)
	for _, b := range d.blocks {
		if b.lang != "go" {
			continue
		}
		name := fmt.Sprintf("b%03d", b.line)
		if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
			if b.marker != nil {
				t.Errorf("README.md:%d: a complete program needs no readme-test comment", b.marker.line)
			}
			units = append(units, unit{name: name, what: fmt.Sprintf("README.md:%d (complete program)", b.line), source: lineDirective(readme, b.line) + b.code})
			complete++
			continue
		}
		if b.marker != nil && b.marker.kind != "given" {
			t.Errorf("README.md:%d: a Go block's readme-test comment is %q, want given", b.marker.line, b.marker.kind)
			continue
		}
		u, err := fragmentUnit(readme, name, b.line, b.code, b.marker)
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		units = append(units, u)
		fragments++
	}
	for _, tb := range d.tables {
		if tb.marker.kind != "table" || !strings.HasPrefix(tb.marker.args, "given") {
			t.Errorf("README.md:%d: a table's readme-test comment is %q %q, want \"table given\"", tb.marker.line, tb.marker.kind, tb.marker.args)
			continue
		}
		u, err := tableUnit(readme, fmt.Sprintf("t%03d", tb.line), tb)
		if err != nil {
			t.Errorf("README.md:%d: %v", tb.line, err)
			continue
		}
		units = append(units, u)
		cells += len(tb.cells)
	}
	return units, complete, fragments, cells
}

// TestGoBlocksCompile compiles every ```go block of README.md, and every code cell of its
// marked tables, as the package documentation describes.
func TestGoBlocksCompile(t *testing.T) {
	d := loadREADME(t)
	units, complete, fragments, cells := goUnits(t, d)
	if t.Failed() {
		t.FailNow()
	}
	if complete+fragments == 0 {
		t.Fatal("README.md has no ```go block: the parser is broken")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay := map[string]string{}
	var pkgs []string
	for _, u := range units {
		src := filepath.Join(tmp, u.name+".go")
		if err := os.WriteFile(src, []byte(u.source), 0o644); err != nil {
			t.Fatal(err)
		}
		// Virtual packages under this directory (so they belong to the examples module);
		// nothing is written into the tree.
		overlay[filepath.Join(here, "zz_"+u.name, u.name+".go")] = src
		pkgs = append(pkgs, "./zz_"+u.name)
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ovPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	work, err := filepath.Abs("../../go.work")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"build", "-overlay", ovPath}, pkgs...)...)
	// The workspace, as a reader of the README builds from a checkout of the repository.
	cmd.Env = append(os.Environ(), "GOWORK="+work)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var sources strings.Builder
		for _, u := range units {
			fmt.Fprintf(&sources, "--- %s, generated as %s.go:\n%s\n", u.what, u.name, u.source)
		}
		t.Fatalf("README.md's Go code does not compile: %v\n%s\n%s", err, out.String(), sources.String())
	}
	for _, u := range units {
		t.Logf("compiled %s", u.what)
	}
	t.Logf("readme: %d Go blocks compiled (%d complete programs, %d fragments) and %d table cells", complete+fragments, complete, fragments, cells)
}

// TestJSONBlocksParse checks that every ```json block of README.md is valid JSON.
func TestJSONBlocksParse(t *testing.T) {
	n := 0
	for _, b := range loadREADME(t).blocks {
		if b.lang == "json" {
			n++
			if !json.Valid([]byte(b.code)) {
				t.Errorf("README.md:%d: the json block is not valid JSON", b.line)
			}
		}
	}
	t.Logf("readme: %d JSON blocks parsed", n)
}
