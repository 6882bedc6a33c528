package readme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/internal/testenv"
)

// command is one shell command of README.md and how the test runs it.
type command struct {
	line      int
	text      string // as written
	run       string // as run, after the block's substitutions
	directive string // run, serve, fail, aws-local, given, skip
	arg       string // fail's text; given's and skip's reason
}

// commands returns the shell commands of README.md's ```sh blocks, with their directives.
func commands(d *doc) ([]command, error) {
	var cmds []command
	for _, b := range d.blocks {
		if b.lang != "sh" {
			continue
		}
		var block []command
		lines := strings.Split(strings.TrimSuffix(b.code, "\n"), "\n")
		for i := 0; i < len(lines); i++ {
			text := strings.TrimSpace(lines[i])
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			c := command{line: b.line + i, text: lines[i]}
			for strings.HasSuffix(lines[i], `\`) && i+1 < len(lines) {
				i++
				c.text += "\n" + lines[i]
			}
			block = append(block, c)
		}
		var subs []string
		var directives []string
		if m := b.marker; m != nil {
			if m.kind != "commands" {
				return nil, fmt.Errorf("README.md:%d: a shell block's readme-test comment is %q, want commands", m.line, m.kind)
			}
			for _, l := range m.body {
				l = strings.TrimSpace(l)
				if old, repl, ok := strings.Cut(strings.TrimPrefix(l, "substitute "), " "); ok && strings.HasPrefix(l, "substitute ") {
					subs = append(subs, old, os.ExpandEnv(repl))
					continue
				}
				if l != "" {
					directives = append(directives, l)
				}
			}
		}
		if len(directives) != 0 && len(directives) != len(block) {
			return nil, fmt.Errorf("README.md:%d: %d directives for the %d commands of the block at line %d", b.marker.line, len(directives), len(block), b.line)
		}
		replacer := strings.NewReplacer(subs...)
		for i := range block {
			c := &block[i]
			c.run = replacer.Replace(c.text)
			c.directive = "run"
			if len(directives) > 0 {
				word, rest, _ := strings.Cut(directives[i], " ")
				c.directive = strings.TrimSuffix(word, ":")
				c.arg = strings.TrimSpace(rest)
			}
			switch c.directive {
			case "run", "serve", "aws-local":
			case "fail", "given", "skip":
				if c.arg == "" {
					return nil, fmt.Errorf("README.md:%d: %s needs a text or a reason", c.line, c.directive)
				}
			default:
				return nil, fmt.Errorf("README.md:%d: unknown directive %q", c.line, c.directive)
			}
		}
		cmds = append(cmds, block...)
	}
	return cmds, nil
}

// shellEnv is the environment of README commands: the test's, with no AWS settings at all
// (as on a laptop that never used AWS), and the examples on a free port.
func shellEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "TOLLGATE_ADDR=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"TOLLGATE_ADDR=127.0.0.1:0")
	return append(env, extra...)
}

// syncBuffer is a bytes.Buffer written by a process while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// bash returns a bash command for script in the repository's root, in its own process
// group (so that a signal reaches `go run` and the program it started).
func bash(ctx context.Context, root, script string, env []string, flags ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", append(flags, "-c", script)...)
	cmd.Dir = root
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

var listenURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

// printed counts the commands that servers printed and the test ran.
var printed atomic.Int64

// serve starts a server command, waits until the address it prints answers HTTP, runs the
// commands it printed (its indented lines) as one script, then stops it with SIGINT, as
// Ctrl-C would, and expects a clean exit.
func serve(t *testing.T, root string, c command, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := bash(ctx, root, c.run, env)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(format string, args ...any) {
		t.Helper()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("README.md:%d: %s\n%s\nstdout:\n%s\nstderr:\n%s", c.line, c.text, fmt.Sprintf(format, args...), stdout.String(), stderr.String())
	}
	client := &http.Client{Timeout: time.Second}
	var base string
	for base == "" {
		select {
		case err := <-exited:
			fail("exited before it answered: %v", err)
		case <-ctx.Done():
			fail("no answer within 5 minutes")
		case <-time.After(100 * time.Millisecond): // polling for readiness, as testenv does
		}
		u := listenURL.FindString(stdout.String())
		if u == "" {
			continue
		}
		if resp, err := client.Get(u + "/"); err == nil {
			resp.Body.Close()
			base = u
		}
	}
	var script strings.Builder
	for _, l := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(l, "  ") {
			script.WriteString(strings.TrimPrefix(l, "  ") + "\n")
		}
	}
	if strings.TrimSpace(script.String()) == "" {
		fail("it printed no commands")
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	s := bash(sctx, root, script.String(), env, "-e", "-o", "pipefail")
	out, err := s.CombinedOutput()
	if err != nil {
		fail("the commands it printed failed: %v\nscript:\n%soutput:\n%s", err, script.String(), out)
	}
	n := 0
	for _, l := range strings.Split(script.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	printed.Add(int64(n))
	t.Logf("README.md:%d: serve %q on %s; the %d commands it printed ran:\n%s\noutput:\n%s", c.line, c.text, base, n, indent(script.String()), indent(string(out)))
	// SIGINT goes to the program only: `go run` exits 1 when it gets a SIGINT itself, whatever
	// the program does, and it is the program's shutdown that is under test (after it, `go
	// run` exits with the program's status).
	leaves, err := leafProcesses(cmd.Process.Pid)
	if err != nil || len(leaves) == 0 {
		fail("cannot find the program's process: %v", err)
	}
	for _, pid := range leaves {
		if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
			fail("SIGINT to %d: %v", pid, err)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			fail("SIGINT: exit %v; want a clean shutdown", err)
		}
	case <-time.After(30 * time.Second):
		fail("still running 30 s after SIGINT")
	}
}

// leafProcesses returns the descendants of pid that have no children: the program that
// `go run` (started by bash) runs. It reads /proc (Linux).
func leafProcesses(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], child)
	}
	var leaves []int
	var walk func(p int)
	walk = func(p int) {
		if len(children[p]) == 0 {
			if p != pid {
				leaves = append(leaves, p)
			}
			return
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return leaves, nil
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n\t")
}

// TestShellCommands runs every shell command of README.md as written, in order, as the
// package documentation describes, and reports how many ran.
func TestShellCommands(t *testing.T) {
	cmds, err := commands(loadREADME(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) == 0 {
		t.Fatal("README.md has no shell command: the parser is broken")
	}
	// The servers the commands use; without them this fails under the test command and
	// skips otherwise.
	dynamo := testenv.DynamoDBEndpoint(t)
	testenv.S3Endpoint(t)
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testenv.Required() {
				t.Fatalf("%s is needed to run README.md's commands: %v", tool, err)
			}
			t.Skipf("%s is needed to run README.md's commands: %v (skipped only outside the test command)", tool, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range cmds {
		counts[c.directive]++
		switch c.directive {
		case "given", "skip":
			t.Logf("README.md:%d: %s, not run: %s\n\t%s", c.line, c.directive, c.arg, c.text)
			continue
		case "serve":
			serve(t, root, c, shellEnv())
			continue
		}
		env := shellEnv()
		if c.directive == "aws-local" {
			env = shellEnv("AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=readme", "AWS_SECRET_ACCESS_KEY=readme",
				"AWS_ENDPOINT_URL_DYNAMODB="+dynamo)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		out, err := bash(ctx, root, c.run, env, "-o", "pipefail").CombinedOutput()
		cancel()
		var exit *exec.ExitError
		switch {
		case c.directive == "fail":
			if !errors.As(err, &exit) || !strings.Contains(string(out), c.arg) {
				t.Errorf("README.md:%d: %s\nexit: %v; want a failure whose output has %q\noutput:\n%s", c.line, c.text, err, c.arg, out)
				continue
			}
		case err != nil:
			t.Errorf("README.md:%d: %s\nexit: %v\noutput:\n%s", c.line, c.text, err, out)
			continue
		}
		t.Logf("README.md:%d: %s %q:\n%s", c.line, c.directive, c.run, indent(string(out)))
	}
	ran := counts["run"] + counts["aws-local"] + counts["serve"] + counts["fail"]
	t.Logf("readme: %d shell commands: %d run (%d plain, %d with the AWS environment on dynalite, %d servers, %d expected to fail), %d given by the test environment, %d skipped; and the %d commands the servers printed",
		len(cmds), ran, counts["run"], counts["aws-local"], counts["serve"], counts["fail"], counts["given"], counts["skip"], printed.Load())
}

// TestCommandsAreInBlocks fails when prose holds a command in inline code that no ```sh
// block holds: a command belongs in a block, where TestShellCommands runs it.
func TestCommandsAreInBlocks(t *testing.T) {
	d := loadREADME(t)
	cmds, err := commands(d)
	if err != nil {
		t.Fatal(err)
	}
	inBlock := map[string]bool{}
	for _, c := range cmds {
		inBlock[strings.TrimSpace(c.text)] = true
	}
	for _, s := range d.spans {
		for _, p := range []string{"go run ", "go test ", "go build ", "make ", "curl ", "npx ", "bash ", "source "} {
			if strings.HasPrefix(s.code, p) && !inBlock[s.code] {
				t.Errorf("README.md:%d: the command `%s` is in prose: put it in a ```sh block, where it is run", s.line, s.code)
			}
		}
	}
}
