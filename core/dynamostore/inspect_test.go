package dynamostore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// TestInspect reads back, without spending, what Takes and Acquires wrote on dynalite, for
// each algorithm: the state as core's algorithms see it, the cost-0 decision, the items read,
// and the leases by ID (an ID past 48 bytes shows in its hashed form).
func TestInspect(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	now := time.Unix(1_800_000_000, 0) // aligned to every window below
	key := "inspect-" + strings.ReplaceAll(t.Name(), "/", "-")

	fw := core.NewFixedWindow("ifw", 10, time.Minute)
	sw := core.NewSlidingWindow("isw", 10, time.Minute)
	tb := core.NewTokenBucket("itb", 10, time.Second, 5)
	for _, p := range []core.Policy{fw, sw, tb} {
		info, err := s.InspectAt(ctx, key, p, now)
		if err != nil || info.Found || info.Decision.Remaining != p.Capacity() {
			t.Fatalf("%s before any take: %+v %v; want not found and the whole capacity", p.Name, info, err)
		}
	}
	// The previous sliding window holds 4, the current one 3; fixed 3; token 3.
	if _, err := s.Take(ctx, key, sw, 4, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []core.Policy{fw, sw, tb} {
		if _, err := s.Take(ctx, key, p, 3, now); err != nil {
			t.Fatal(err)
		}
	}
	at := now.Add(15 * time.Second)
	info, err := s.InspectAt(ctx, key, fw, at)
	if err != nil || !info.Found || info.State.Count != 3 || info.State.Window != now.UnixNano() || info.Decision.Remaining != 7 || len(info.PartitionKeys) != 1 {
		t.Errorf("fixed window: %+v %v; want found, count 3 in the window at now, 7 remaining, one item read", info, err)
	}
	info, err = s.InspectAt(ctx, key, sw, at)
	// 15 s into the window: the previous count weighs 45/60 of 4 = 3.
	if err != nil || !info.Found || info.State.Count != 3 || info.State.Prev != 4 || info.Decision.Remaining != 4 || len(info.PartitionKeys) != 2 {
		t.Errorf("sliding window: %+v %v; want count 3, previous 4, 4 remaining, two items read", info, err)
	}
	info, err = s.InspectAt(ctx, key, tb, now)
	if err != nil || !info.Found || info.State.TAT != now.Add(3*100*time.Millisecond).UnixNano() || info.Decision.Remaining != 2 {
		t.Errorf("token bucket: %+v %v; want the TAT 300ms out and 2 remaining", info, err)
	}
	// Inspecting spent nothing.
	if d, err := s.Take(ctx, key, fw, 0, at); err != nil || d.Remaining != 7 {
		t.Errorf("a cost-0 take after the inspections: %+v %v, want 7 remaining", d, err)
	}

	sem := core.NewConcurrency("isem", 2, time.Minute)
	long := strings.Repeat("l", 49)
	for _, id := range []string{"worker-a", long} {
		if _, err := s.Acquire(ctx, key, sem, id, now); err != nil {
			t.Fatal(err)
		}
	}
	info, err = s.InspectAt(ctx, key, sem, now.Add(time.Second))
	if err != nil || !info.Found || info.Decision.Allowed || info.Decision.Remaining != 0 || len(info.Leases) != 2 || len(info.PartitionKeys) != 1 {
		t.Fatalf("concurrency, both slots held: %+v %v; want found, not allowed, 0 free, two leases", info, err)
	}
	if exp := info.Leases["worker-a"]; !exp.Equal(now.Add(time.Minute)) {
		t.Errorf("lease worker-a expires %v, want %v", exp, now.Add(time.Minute))
	}
	hashed := 0
	for id := range info.Leases {
		if strings.HasPrefix(id, "~") {
			hashed++
		}
	}
	if hashed != 1 {
		t.Errorf("leases %v: want the 49-byte ID in its hashed form (~…)", info.Leases)
	}
	// A minute later both leases have expired: free again, still listed.
	info, err = s.InspectAt(ctx, key, sem, now.Add(time.Minute))
	if err != nil || !info.Decision.Allowed || info.Decision.Remaining != 2 || len(info.Leases) != 2 {
		t.Errorf("concurrency, leases expired: %+v %v; want allowed, 2 free, the two expired leases listed", info, err)
	}
	if _, err := s.InspectAt(ctx, key, core.Policy{Name: "bad"}, now); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("an invalid policy: %v, want ErrInvalidPolicy", err)
	}
}
