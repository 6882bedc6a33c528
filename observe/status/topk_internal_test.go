package status

import (
	"fmt"
	"testing"
)

// However many distinct keys are denied, a window's table holds at most its capacity, and
// a key denied more often than the table is large stays listed.
func TestTopKBounded(t *testing.T) {
	k := newTopK(int64(60e9), 16)
	for i := range 10000 {
		k.add("p", fmt.Sprint(i), false, 1)
		if i%10 == 0 {
			k.add("p", "hot", false, 1)
		}
	}
	if n := len(k.cur); n != 16 {
		t.Fatalf("table holds %d keys, want the capacity 16", n)
	}
	top := k.top(1, 1)
	if len(top) != 1 || top[0].key != "hot" || top[0].count < 1000 {
		t.Fatalf("top %+v, want hot with at least its 1000 denials", top)
	}
}
