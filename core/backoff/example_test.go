package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core/backoff"
)

func ExamplePolicy_Delay() {
	p := backoff.Policy{
		Base: 100 * time.Millisecond,
		Cap:  time.Second,
		Rand: func() float64 { return 0.5 }, // fixed, so the output is stable
	}
	for n := 0; n < 5; n++ {
		fmt.Printf("retry %d: window %v, wait %v\n", n+1, p.Window(n), p.Delay(n))
	}
	// Output:
	// retry 1: window 100ms, wait 50ms
	// retry 2: window 200ms, wait 100ms
	// retry 3: window 400ms, wait 200ms
	// retry 4: window 800ms, wait 400ms
	// retry 5: window 1s, wait 500ms
}

// ExampleRetry is the shape of a store's compare-and-swap loop: re-read and
// try again while the write loses the race, within the context's deadline.
func ExampleRetry() {
	var version atomic.Int64
	errLostRace := errors.New("precondition failed")
	rivals := 2 // two other writers win first
	update := func(context.Context) error {
		seen := version.Load()
		if rivals > 0 { // another writer commits between our read and write
			rivals--
			version.Add(1)
		}
		if !version.CompareAndSwap(seen, seen+1) {
			return errLostRace
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p := backoff.Policy{Base: time.Millisecond, MaxAttempts: 5}
	err := backoff.Retry(ctx, p, update, func(err error) bool { return errors.Is(err, errLostRace) })
	fmt.Println(err, version.Load())
	// Output: <nil> 3
}

func ExampleNewTransport() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()

	tr := backoff.NewTransport(http.DefaultTransport, backoff.TransportOptions{
		Policy: backoff.Policy{Base: time.Millisecond},
		OnAttempt: func(a backoff.Attempt) {
			fmt.Printf("attempt %d: %d, retry %v\n", a.Number, a.StatusCode, a.Retry)
		},
	})
	client := &http.Client{Transport: tr}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s, %+v\n", resp.StatusCode, body, tr.Stats())
	// Output:
	// attempt 1: 503, retry true
	// attempt 2: 200, retry false
	// 200 hello, {Requests:1 Attempts:2 Retries:1}
}

// ExampleLoadAWSConfig shows how a store builds its AWS clients: every client
// made from cfg retries throttling with full jitter and leaves lost races
// (412, 409, ConditionalCheckFailedException) to the store.
func ExampleLoadAWSConfig() {
	ctx := context.Background()
	cfg, err := backoff.LoadAWSConfig(ctx, backoff.Policy{MaxAttempts: 4, AttemptTimeout: 2 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := dynamodb.NewFromConfig(cfg)
	_ = client
}
