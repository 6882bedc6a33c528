// Package demoscript runs the shell script an example prints, as a user who pastes it would,
// and reports what each demo's requests answered, so that an example's test can check that
// every demo shows the limit it says it shows.
//
// A printed script is the example's indented lines: a demo starts at an indented comment
// line ("  # POST /login: ...") and holds the indented commands that follow it, up to a blank
// line. Each demo runs in its own bash (with -e and pipefail), in order, in the given
// directory. Its output is read as curl prints it with the flags the examples use:
//
//   - a line of three digits is a status code (curl -w '%{http_code}\n');
//   - a line "HTTP/1.1 429 Too Many Requests" is a status code (curl -i);
//   - a JSON object with "violated-policies" is a problem+json denial body; it belongs to the
//     status line before it (curl -i) or, when there is none pending, the status code after
//     it (curl -w '%{http_code}\n', which prints the body first).
//
// Other lines (bodies, headers) are kept in Result.Output only.
package demoscript

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/internal/testenv"
)

// Demo is one demo of a printed script.
type Demo struct {
	// Title is the comment line without its "#".
	Title string
	// Script is the demo's commands, one per line, dedented.
	Script string
}

// Parse returns the demos of an example's printed help, in order.
func Parse(help string) []Demo {
	var demos []Demo
	var cur *Demo
	for _, line := range strings.Split(help, "\n") {
		if strings.TrimSpace(line) == "" || !strings.HasPrefix(line, " ") {
			cur = nil
			continue
		}
		text := strings.TrimSpace(line)
		if strings.HasPrefix(text, "#") {
			demos = append(demos, Demo{Title: strings.TrimSpace(strings.TrimPrefix(text, "#"))})
			cur = &demos[len(demos)-1]
			continue
		}
		if cur == nil {
			// Commands with no comment of their own form an untitled demo.
			demos = append(demos, Demo{})
			cur = &demos[len(demos)-1]
		}
		cur.Script += text + "\n"
	}
	return demos
}

// Response is one HTTP answer seen in a demo's output.
type Response struct {
	Code     int
	Violated []string // the problem+json body's violated-policies, if any
}

func (r Response) String() string {
	if len(r.Violated) == 0 {
		return strconv.Itoa(r.Code)
	}
	return fmt.Sprintf("%d(%s)", r.Code, strings.Join(r.Violated, ","))
}

// Result is what a demo printed and what it answered.
type Result struct {
	Output    string
	Responses []Response
}

// Codes renders the responses as "401 401 401 429(login)": each status code, with the
// violated policies of a denial in parentheses.
func (r Result) Codes() string {
	s := make([]string, len(r.Responses))
	for i, resp := range r.Responses {
		s[i] = resp.String()
	}
	return strings.Join(s, " ")
}

// SortedCodes is Codes in sorted order, for demos whose requests run concurrently.
func (r Result) SortedCodes() string {
	s := strings.Fields(r.Codes())
	sort.Strings(s)
	return strings.Join(s, " ")
}

// Run runs one demo with bash in dir, with env added to the test's environment, and parses
// its output. It fails when a command fails (curl cannot connect, a pipeline breaks).
func Run(ctx context.Context, dir string, env []string, d Demo) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", d.Script)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Output: stdout.String(), Responses: ParseOutput(stdout.String())}
	if err != nil {
		return res, fmt.Errorf("demoscript: %q: %v\nscript:\n%sstdout:\n%sstderr:\n%s", d.Title, err, d.Script, stdout.String(), stderr.String())
	}
	return res, nil
}

var (
	codeLine   = regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	statusLine = regexp.MustCompile(`^HTTP/[0-9.]+ ([1-5][0-9][0-9])\b`)
)

// ParseOutput finds the responses in a demo's output (see the package documentation). It
// assumes each curl's output arrives in one piece, as it does when curl writes to a pipe.
func ParseOutput(out string) []Response {
	var rs []Response
	var pending []string // violated policies of a body whose status code comes after it
	awaiting := -1       // index of a curl -i response whose body has not been seen
	inHeaders := false   // between a curl -i status line and the blank line after its headers
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case statusLine.MatchString(line):
			code, _ := strconv.Atoi(statusLine.FindStringSubmatch(line)[1])
			rs = append(rs, Response{Code: code})
			awaiting, inHeaders, pending = len(rs)-1, true, nil
		case inHeaders:
			inHeaders = line != ""
		case line == "":
		case codeLine.MatchString(line):
			code, _ := strconv.Atoi(line)
			rs = append(rs, Response{Code: code, Violated: pending})
			pending, awaiting = nil, -1
		default:
			v, isJSON := violated(line)
			switch {
			case awaiting >= 0:
				// The first line of a curl -i body.
				rs[awaiting].Violated = v
				awaiting = -1
			case isJSON:
				pending = v
			}
		}
	}
	return rs
}

// violated returns the violated-policies of a JSON object, and whether line is one.
func violated(line string) ([]string, bool) {
	var body struct {
		Violated []string `json:"violated-policies"`
	}
	if err := json.Unmarshal([]byte(line), &body); err != nil {
		return nil, false
	}
	return body.Violated, true
}

// ErrNoShell reports that bash or curl is missing.
var ErrNoShell = errors.New("demoscript: bash and curl are needed to run an example's printed script")

// Available reports whether bash and curl are on PATH.
func Available() error {
	for _, name := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%w: %v", ErrNoShell, err)
		}
	}
	return nil
}

// Want is what one demo must answer.
type Want struct {
	// Title is a prefix of the demo's title.
	Title string
	// Codes is the demo's Result.Codes ("401 401 401 429(login)"), or its
	// Result.SortedCodes when Unordered.
	Codes     string
	Unordered bool
}

// Check runs the demos of help in order, in dir with env, and fails t unless there are as
// many as want and each answers what its Want says. It logs each demo's title and answers.
// Without bash or curl it fails under TOLLGATE_REQUIRE_SERVERS=1 and skips otherwise.
func Check(t testing.TB, help, dir string, env []string, want []Want) []Result {
	t.Helper()
	if err := Available(); err != nil {
		if testenv.Required() {
			t.Fatal(err)
		}
		t.Skipf("%v (skipped only outside the test command)", err)
	}
	demos := Parse(help)
	if len(demos) != len(want) {
		t.Fatalf("demoscript: the printed script has %d demos, want %d:\n%s", len(demos), len(want), help)
	}
	results := make([]Result, len(demos))
	for i, d := range demos {
		w := want[i]
		if !strings.HasPrefix(d.Title, w.Title) {
			t.Fatalf("demoscript: demo %d is %q, want one titled %q", i+1, d.Title, w.Title)
		}
		res, err := Run(context.Background(), dir, env, d)
		if err != nil {
			t.Fatal(err)
		}
		results[i] = res
		got := res.Codes()
		if w.Unordered {
			got = res.SortedCodes()
		}
		t.Logf("demo %d %q: %s", i+1, d.Title, got)
		if got != w.Codes {
			t.Errorf("demo %d %q answered %q, want %q\nscript:\n%soutput:\n%s", i+1, d.Title, got, w.Codes, d.Script, res.Output)
		}
	}
	return results
}
