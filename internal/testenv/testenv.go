// Package testenv gives integration tests the local servers that scripts/test.sh starts
// (dynalite, versitygw, redis-server), and starts private instances for tests that must stop
// and restart a server (outage tests) without disturbing other packages.
//
// Endpoints come from the environment that scripts/servers.sh exports. When an endpoint is
// missing, a test fails if TOLLGATE_REQUIRE_SERVERS=1 (the test command and CI set it), and is
// skipped otherwise, with a message that says how to run it: plain `go test` on a developer's
// machine stays usable without the servers, while CI can never pass by skipping.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Required reports whether missing servers must fail tests (TOLLGATE_REQUIRE_SERVERS=1).
func Required() bool { return os.Getenv("TOLLGATE_REQUIRE_SERVERS") == "1" }

func lookup(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if Required() {
		t.Fatalf("testenv: %s is not set but TOLLGATE_REQUIRE_SERVERS=1: %s is missing; run the test command (make test)", name, what)
	}
	t.Skipf("testenv: %s not set: %s is not running; `make test` starts it (skipped only outside the test command)", name, what)
	return ""
}

// DynamoDBEndpoint returns the URL of the shared dynalite server.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	return lookup(t, "TOLLGATE_DYNAMODB_ENDPOINT", "dynalite (DynamoDB API)")
}

// S3 describes an S3-compatible endpoint with its static credentials.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
}

// S3Endpoint returns the shared versitygw server.
func S3Endpoint(t testing.TB) S3 {
	t.Helper()
	ep := lookup(t, "TOLLGATE_S3_ENDPOINT", "versitygw (S3 API)")
	return S3{Endpoint: ep, AccessKey: os.Getenv("TOLLGATE_S3_ACCESS_KEY"), SecretKey: os.Getenv("TOLLGATE_S3_SECRET_KEY"), Region: "us-east-1"}
}

// RedisAddr returns host:port of the shared redis-server.
func RedisAddr(t testing.TB) string {
	t.Helper()
	return lookup(t, "TOLLGATE_REDIS_ADDR", "redis-server")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a private server process owned by one test. Stop and Start may be called in any
// order and any number of times; the server keeps its port (and, for versitygw, its data
// directory) across restarts. It is stopped at the end of the test.
type Server struct {
	t     testing.TB
	name  string
	Addr  string // host:port
	argv  []string
	env   []string
	ready func(addr string) bool
	mu    sync.Mutex
	cmd   *exec.Cmd
	log   *bytes.Buffer
	done  chan struct{}
}

func newServer(t testing.TB, name string, argv, env []string, addr string, ready func(string) bool) *Server {
	t.Helper()
	s := &Server{t: t, name: name, Addr: addr, argv: argv, env: env, ready: ready}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the process and waits until it answers (up to 30 s).
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Env = append(os.Environ(), s.env...)
	s.log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testenv: start %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for !s.ready(s.Addr) {
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("testenv: %s exited before it answered:\n%s", s.name, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testenv: %s did not answer on %s within 30s:\n%s", s.name, s.Addr, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the process (its whole process group) and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// URL returns "http://" + Addr.
func (s *Server) URL() string { return "http://" + s.Addr }

func httpReady(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

func tcpReady(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func binary(t testing.TB, env, what string) string {
	t.Helper()
	return lookup(t, env, what)
}

// StartRedis starts a private redis-server (no persistence) for this test.
func StartRedis(t testing.TB) *Server {
	t.Helper()
	bin := binary(t, "TOLLGATE_REDIS_SERVER_BIN", "redis-server")
	port := FreePort(t)
	argv := []string{bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir()}
	return newServer(t, "redis-server", argv, nil, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), tcpReady)
}

// StartDynalite starts a private dynalite (in memory: a restart loses its tables).
func StartDynalite(t testing.TB) *Server {
	t.Helper()
	cli := binary(t, "TOLLGATE_DYNALITE_CLI", "dynalite")
	port := FreePort(t)
	argv := []string{"node", cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
	return newServer(t, "dynalite", argv, nil, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), httpReady)
}

// StartVersitygw starts a private versitygw over a temporary posix directory that survives
// restarts. Credentials are those of S3Endpoint.
func StartVersitygw(t testing.TB) (*Server, S3) {
	t.Helper()
	bin := binary(t, "TOLLGATE_VERSITYGW_BIN", "versitygw")
	port := FreePort(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	creds := S3{AccessKey: "tollgate-test", SecretKey: "tollgate-test-secret", Region: "us-east-1"}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	argv := []string{bin, "--port", addr, "posix", dir}
	env := []string{"ROOT_ACCESS_KEY=" + creds.AccessKey, "ROOT_SECRET_KEY=" + creds.SecretKey}
	s := newServer(t, "versitygw", argv, env, addr, httpReady)
	creds.Endpoint = s.URL()
	return s, creds
}

// UniqueName returns a name unique to this test run, for tables, buckets and key prefixes
// on the shared servers (lower case, digits and dashes: valid as an S3 bucket name).
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
}
