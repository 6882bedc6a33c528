package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

const childEnv = "TOLLGATE_TEST_CHILD"

// RunChild is called first thing in a package's TestMain. When this process was started by
// [SpawnChildren], it runs the named child function, prints its output, and exits (0 on
// success, 1 with the error on stderr); otherwise it returns at once and TestMain goes on
// with m.Run(). This lets a test start several OS processes of its own binary that hammer a
// real server together, without any test being skipped.
func RunChild(children map[string]func() (string, error)) {
	name := os.Getenv(childEnv)
	if name == "" {
		return
	}
	fn, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "testenv: unknown child %q\n", name)
		os.Exit(2)
	}
	out, err := fn()
	fmt.Print(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// SpawnChildren starts n processes of the current test binary running child name (see
// [RunChild]) with extra environment variables env ("K=V"), waits for all of them, fails the
// test if any fails, and returns each one's standard output. The processes start together and
// run concurrently.
func SpawnChildren(t testing.TB, n int, name string, env ...string) []string {
	t.Helper()
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), childEnv+"="+name, fmt.Sprintf("TOLLGATE_CHILD_INDEX=%d", i)), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("testenv: start child %d: %v", i, err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errs[i] = fmt.Errorf("child %d: %v: %s", i, err, strings.TrimSpace(stderr.String()))
			}
			outs[i] = stdout.String()
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	return outs
}
