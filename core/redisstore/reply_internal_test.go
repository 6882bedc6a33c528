package redisstore

import "testing"

// TestShortReplies: a script reply shorter than the store expects (a proxy that truncates
// arrays, a script of another version) is reported as missing values, never read past its end.
func TestShortReplies(t *testing.T) {
	r := reply{int64(7), "12", ""}
	if v, ok := r.int(0); !ok || v != 7 {
		t.Errorf("int(0) = %d, %v; want 7, true", v, ok)
	}
	if _, ok := r.int(3); ok {
		t.Error("int(3) of a 3-element reply reported a value")
	}
	if v, present, ok := r.opt(1); !ok || !present || v != 12 {
		t.Errorf("opt(1) = %d, %v, %v; want 12, present", v, present, ok)
	}
	if _, present, ok := r.opt(2); !ok || present {
		t.Errorf("opt(2) of an empty string: present %v, ok %v; want absent, ok", present, ok)
	}
	if _, _, ok := r.opt(3); ok {
		t.Error("opt(3) of a 3-element reply reported a value")
	}
}
