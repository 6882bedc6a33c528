package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// noAWSEnv clears the AWS environment, as on a laptop that never used AWS.
func noAWSEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// event is one line a worker process printed.
type event struct {
	proc int    // which process (0-based)
	kind string // acquired, releasing
	job  int
	at   time.Time
}

// parse reads "KIND worker=ID job=N t=NANOS".
func parse(proc int, line string) (event, error) {
	f := strings.Fields(line)
	if len(f) != 4 || !strings.HasPrefix(f[2], "job=") || !strings.HasPrefix(f[3], "t=") {
		return event{}, fmt.Errorf("not an event line: %q", line)
	}
	job, err1 := strconv.Atoi(strings.TrimPrefix(f[2], "job="))
	ns, err2 := strconv.ParseInt(strings.TrimPrefix(f[3], "t="), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return event{}, fmt.Errorf("%q: %w", line, err)
	}
	return event{proc: proc, kind: f[0], job: job, at: time.Unix(0, ns)}, nil
}

// holders sweeps the work intervals ([acquired, releasing] of each job, and [acquired, kill]
// of the killed process's job) in time order. It returns the most jobs in their slots at
// once, and the first moment after kill when that count was back at slots.
func holders(evs []event, victim int, kill time.Time, slots int) (peak int, refilled time.Time) {
	type step struct {
		at    time.Time
		delta int
	}
	var steps []step
	for _, e := range evs {
		switch e.kind {
		case "acquired":
			steps = append(steps, step{e.at, +1})
		case "releasing":
			steps = append(steps, step{e.at, -1})
		}
	}
	steps = append(steps, step{kill, -1}) // the victim held its slot when it died
	// At one instant, ends before starts: a slot is taken after it was given back.
	slices.SortStableFunc(steps, func(a, b step) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	n := 0
	for _, s := range steps {
		n += s.delta
		peak = max(peak, n)
		if refilled.IsZero() && s.at.After(kill) && n == slots {
			refilled = s.at
		}
	}
	return peak, refilled
}

// TestFourProcessesShareSlots builds the worker once and runs four processes of it against
// one dynalite table with 2 slots, a 2 s lease extended every 250 ms, and 2.5 s jobs (longer
// than the lease: only the extensions keep a job's slot). One second into the first job of
// the first process to get a slot, that process is SIGKILLed while it holds the slot. Each
// process prints when its jobs start and end; from those lines the test computes how many
// jobs held a slot at once (never more than 2, and 2 at some point, so the slots were
// contended), and when, after the kill, 2 jobs ran again: the dead worker's slot came back
// when its lease expired, no sooner than the lease minus one extension interval after the
// kill (less 250 ms of slack), and not much later (the waiting workers poll at most 500 ms
// apart). The survivors
// finish all their jobs.
func TestFourProcessesShareSlots(t *testing.T) {
	ep := testenv.DynamoDBEndpoint(t)
	noAWSEnv(t)
	const (
		procs  = 4
		slots  = 2
		lease  = 2 * time.Second
		extend = 250 * time.Millisecond
		work   = 2500 * time.Millisecond
		jobs   = 2
	)
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	table := testenv.UniqueName("tollgate-worker")
	if _, err := openStore(context.Background(), table, ep, true); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var evs []event
	first := make(chan event, 1) // the first acquired event
	cmds := make([]*exec.Cmd, procs)
	var readers sync.WaitGroup
	for i := range procs {
		cmd := exec.Command(bin, "-endpoint", ep, "-table", table, "-slots", strconv.Itoa(slots),
			"-lease", lease.String(), "-extend", extend.String(), "-work", work.String(),
			"-jobs", strconv.Itoa(jobs), "-wait", "2m", "-id", "w"+strconv.Itoa(i))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			if t.Failed() {
				t.Logf("worker %d stderr:\n%s", i, stderr.String())
			}
		})
		cmds[i] = cmd
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				e, err := parse(i, sc.Text())
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
					continue
				}
				mu.Lock()
				evs = append(evs, e)
				mu.Unlock()
				if e.kind == "acquired" {
					select {
					case first <- e:
					default:
					}
				}
			}
			_, _ = io.Copy(io.Discard, stdout)
		}()
	}

	var victim event
	select {
	case victim = <-first:
	case <-time.After(time.Minute):
		t.Fatal("no worker got a slot within a minute")
	}
	// Not synchronisation: this picks a moment in the middle of the victim's 2.5 s job, after
	// several extensions, at which to kill it.
	time.Sleep(time.Until(victim.at.Add(time.Second)))
	if err := cmds[victim.proc].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	kill := time.Now()
	_ = cmds[victim.proc].Wait()

	for i, cmd := range cmds {
		if i == victim.proc {
			continue
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	readers.Wait()

	mu.Lock()
	defer mu.Unlock()
	var victimEvents []event
	done := 0
	for _, e := range evs {
		if e.proc == victim.proc {
			victimEvents = append(victimEvents, e)
		} else if e.kind == "releasing" {
			done++
		}
	}
	if len(victimEvents) != 1 || victimEvents[0].kind != "acquired" || victimEvents[0].at.After(kill) {
		t.Fatalf("the killed worker printed %+v; want only its first job's start, before the kill", victimEvents)
	}
	if want := (procs - 1) * jobs; done != want {
		t.Fatalf("the surviving workers finished %d jobs, want %d", done, want)
	}
	peak, refilled := holders(evs, victim.proc, kill, slots)
	if peak != slots {
		t.Fatalf("at most %d jobs held a slot at once, want exactly %d (never more; and the slots were contended)", peak, slots)
	}
	if refilled.IsZero() {
		t.Fatalf("after the kill, %d jobs never ran at once again: the dead worker's slot was not freed", slots)
	}
	freedAfter := refilled.Sub(kill)
	// The last extension before the kill set the lease to end 2 s after it; extensions
	// start every 250 ms (a dynalite round trip takes milliseconds; 250 ms more of slack
	// covers a late tick on a loaded machine), and the waiting workers poll at most 500 ms
	// apart (2 s of slack).
	if lo, hi := lease-extend-250*time.Millisecond, lease+2*time.Second; freedAfter < lo || freedAfter > hi {
		t.Fatalf("the killed worker's slot was taken again %v after the kill; want between %v (its lease, less one extension interval and slack) and %v", freedAfter, lo, hi)
	}
	t.Logf("worker: processes=%d slots=%d peak_holders=%d killed_slot_freed_after=%.2fs", procs, slots, peak, freedAfter.Seconds())
}

// memSlots is a pool of n slots in process, with an hour-long lease: within a test, only a
// release can free a slot.
func memSlots(t *testing.T, n int64) *core.ConcurrencyLimiter {
	t.Helper()
	s, err := newSlots(memstore.New(), "jobs", n, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPanicReleasesSlot: a job that panics gives its slot back before the panic goes on.
func TestPanicReleasesSlot(t *testing.T) {
	slots := memSlots(t, 1)
	w := &worker{slots: slots, id: "t", out: io.Discard, wait: time.Second}
	func() {
		defer func() {
			if v := recover(); v != "job failed" {
				t.Fatalf("recovered %v, want the job's panic", v)
			}
		}()
		_ = w.do(context.Background(), 1, func(context.Context) error { panic("job failed") })
	}()
	lease, err := acquire(context.Background(), slots, 0)
	if err != nil {
		t.Fatalf("the only slot after a panicking job: %v; want it free", err)
	}
	_ = lease.Release(context.Background())
}

// TestAcquireWaits: with every slot taken, acquire waits; a release lets the waiter in; with
// no release it gives up with errNoSlot after the wait, or at once when the context ends.
func TestAcquireWaits(t *testing.T) {
	ctx := context.Background()
	slots := memSlots(t, 1)
	held, err := acquire(ctx, slots, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acquire(ctx, slots, 50*time.Millisecond); !errors.Is(err, errNoSlot) {
		t.Fatalf("acquire with the slot taken: %v, want errNoSlot after the wait", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := acquire(cctx, slots, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a canceled context: %v, want context.Canceled", err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := acquire(ctx, slots, time.Minute)
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiting acquire after the release: %v", err)
	}
}

// TestStoreDownFailsClosed: when the store cannot be reached, no job runs: acquire retries
// within its wait and gives up with errNoSlot, naming the failure.
func TestStoreDownFailsClosed(t *testing.T) {
	slots, err := newSlots(downStore{}, "jobs", 2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	w := &worker{slots: slots, id: "t", out: io.Discard, wait: 200 * time.Millisecond}
	err = w.do(context.Background(), 1, func(context.Context) error { ran = true; return nil })
	if ran || !errors.Is(err, errNoSlot) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("job ran: %v, error %v; want no run and errNoSlot wrapping core.ErrStoreUnavailable", ran, err)
	}
}

// downStore is a concurrency store whose every call fails.
type downStore struct{}

var errDown = errors.New("store down")

func (downStore) Acquire(context.Context, string, core.Policy, string, time.Time) (core.Decision, error) {
	return core.Decision{}, errDown
}
func (downStore) Release(context.Context, string, core.Policy, string, time.Time) error {
	return errDown
}
func (downStore) Extend(context.Context, string, core.Policy, string, time.Time) (core.Decision, error) {
	return core.Decision{}, errDown
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nosuchflag"}, {"-lease", "1s", "-extend", "2s"}, {"extra"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); !errors.As(err, new(usageError)) {
			t.Errorf("run %q: %v; want a usage error (exit 2)", args, err)
		}
	}
}
