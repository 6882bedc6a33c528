package bench_test

import "testing"

// suites are the contender sets of the benchmarks, by benchmark name.
func suites() []struct {
	name string
	cs   []contender
} {
	return []struct {
		name string
		cs   []contender
	}{
		{"Decision", decisionContenders()},
		{"NetHTTP", netHTTPContenders()},
		{"Echo", echoTargets()},
		{"Fiber", fiberTargets()},
		{"Gin", ginTargets()},
		{"Redis", redisContenders()},
	}
}

// TestContenders is the quick check CI runs: every contender builds, allows exactly its
// limit per key and then denies, and never denies under a limit it does not reach. The
// benchmarks check the same on every timed request.
func TestContenders(t *testing.T) {
	for _, s := range suites() {
		for _, c := range s.cs {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				if s.name == "Redis" {
					redisClient(t).Close()
				}
				few := keys[:200]
				if c.allowOnly {
					tg := c.build(t, allowLimit, few)
					defer tg.close()
					wk := tg.newWorker()
					for i := range few {
						if a := wk(i); a != allowed {
							t.Fatalf("bare framework answered %s for key %s, want allowed", answerName[a], few[i])
						}
					}
					return
				}
				for _, w := range []workload{
					{keys: hotKey, deny: true},
					{keys: few, deny: true},
					{keys: few},
				} {
					if c.hotOnly && len(w.keys) > 1 {
						continue
					}
					tg := c.build(t, w.limit(), w.keys)
					if w.deny {
						if n := prefill(t, c.name, &tg, w); n != w.limit()*int64(len(w.keys)) {
							t.Errorf("%s allowed %d requests, want %d", c.name, n, w.limit()*int64(len(w.keys)))
						}
					} else {
						wk := tg.newWorker()
						for i := range 3 * len(w.keys) {
							if a := wk(i % len(w.keys)); a != allowed {
								t.Fatalf("%s answered %s for key %s under a limit it never reaches", c.name, answerName[a], w.keys[i%len(w.keys)])
							}
						}
					}
					tg.close()
				}
			})
		}
	}
}
