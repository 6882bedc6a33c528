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

// The holders table never grows past its capacity; leases of pairs that found it full are
// counted as other keys' and taken back from there, so the total held stays exact.
func TestHoldersBounded(t *testing.T) {
	h := newHolders(2)
	total := func() int64 {
		top, rest := h.top(10)
		for _, e := range top {
			rest += e.leases
		}
		return rest
	}
	for _, k := range []string{"a", "b", "c", "c", "a"} {
		h.acquire("p", k)
	}
	if top, rest := h.top(10); len(h.held) != 2 || len(top) != 2 || top[0].key != "a" || top[0].leases != 2 || rest != 2 {
		t.Fatalf("top %+v, rest %d; want a:2 and b:1 listed, c's 2 leases as other keys'", top, rest)
	}
	h.release("p", "c")
	h.release("p", "b") // b leaves the table, so c's next lease is listed
	h.acquire("p", "c")
	if got := total(); got != 4 {
		t.Fatalf("total held %d, want 4 (a:2, c:2)", got)
	}
	for _, k := range []string{"a", "a", "c", "c"} {
		h.release("p", k)
	}
	if top, rest := h.top(10); len(top) != 0 || rest != 0 || len(h.held) != 0 || len(h.other) != 0 {
		t.Fatalf("after every release: top %+v rest %d, tables %v %v; want empty", top, rest, h.held, h.other)
	}
	h.release("p", "z") // a release the page never saw granted counts nothing
	if got := total(); got != 0 {
		t.Fatalf("total after a stray release %d, want 0", got)
	}
	if top, rest := func() ([]holderEntry, int64) {
		for _, k := range []string{"x", "y", "y"} {
			h.acquire("p", k)
		}
		return h.top(1)
	}(); len(top) != 1 || top[0].key != "y" || rest != 1 {
		t.Fatalf("top 1 %+v rest %d, want y:2 and 1 other", top, rest)
	}
}
