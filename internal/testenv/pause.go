package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Pausable freezes and thaws a private server started by testenv (SIGSTOP, SIGCONT): the
// kernel keeps accepting its connections and buffering requests, which the server applies
// when it resumes, long after the clients gave up. That is a stalled store as a fleet meets
// it (a GC pause, a saturated node), which an outright stop cannot show. Server does not
// expose its process, so the process is found among this test's children by the port in
// its command line. The server is thawed at the end of the test if it is still frozen.
type Pausable struct {
	t   testing.TB
	pid int
}

// PauseByPort finds the private server listening on addr among this test process's children.
func PauseByPort(t testing.TB, addr string) *Pausable {
	t.Helper()
	_, port, ok := strings.Cut(addr, ":")
	if !ok {
		t.Fatalf("pausable: address %q has no port", addr)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		dir := filepath.Dir(st)
		cmd, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(port)) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(dir))
		p := &Pausable{t: t, pid: pid}
		t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGCONT) })
		return p
	}
	t.Fatalf("pausable: no child process of this test listens on %s (Linux /proc needed)", addr)
	return nil
}

func (p *Pausable) signal(sig syscall.Signal) {
	p.t.Helper()
	// The server runs in its own process group (testenv sets Setpgid): signal all of it.
	if err := syscall.Kill(-p.pid, sig); err != nil {
		p.t.Fatalf("pausable: %v to %d: %v", sig, p.pid, err)
	}
}

// Stop freezes the server (SIGSTOP) and waits until it is stopped.
func (p *Pausable) Stop() {
	p.t.Helper()
	p.signal(syscall.SIGSTOP)
	if err := WaitStopped(p.pid, 5*time.Second); err != nil {
		p.t.Fatal(err)
	}
}

// Cont thaws it (SIGCONT).
func (p *Pausable) Cont() { p.signal(syscall.SIGCONT) }

func (p *Pausable) String() string { return fmt.Sprintf("pid %d", p.pid) }
