package main

import (
	"strings"
	"testing"
)

// TestMutate: each mutation type swaps exactly the token at the position, and refuses a
// position without a token it applies to.
func TestMutate(t *testing.T) {
	src := []byte("package p\n\nfunc f(a, b int) bool {\n\tswitch {\n\tcase a <= b-1:\n\t\treturn a != -b\n\t}\n\ta++\n\treturn a*b > 0\n}\n")
	cases := []struct {
		line, col int
		typ, want string
	}{
		{5, 9, "CONDITIONALS_BOUNDARY", "\tcase a < b-1:"},
		{5, 9, "CONDITIONALS_NEGATION", "\tcase a > b-1:"},
		{5, 13, "ARITHMETIC_BASE", "\tcase a <= b+1:"},
		{6, 12, "CONDITIONALS_NEGATION", "\t\treturn a == -b"},
		{6, 15, "INVERT_NEGATIVES", "\t\treturn a !=  b"},
		{8, 3, "INCREMENT_DECREMENT", "\ta--"},
		{9, 10, "ARITHMETIC_BASE", "\treturn a/b > 0"},
		{9, 13, "CONDITIONALS_BOUNDARY", "\treturn a*b >= 0"},
	}
	for _, c := range cases {
		out, err := Mutate(src, c.line, c.col, c.typ)
		if err != nil {
			t.Errorf("%d:%d %s: %v", c.line, c.col, c.typ, err)
			continue
		}
		lines := strings.Split(string(out), "\n")
		if got := lines[c.line-1]; got != c.want {
			t.Errorf("%d:%d %s: line %q, want %q", c.line, c.col, c.typ, got, c.want)
		}
		// Every other line is untouched.
		orig := strings.Split(string(src), "\n")
		for i := range orig {
			if i != c.line-1 && orig[i] != lines[i] {
				t.Errorf("%d:%d %s: line %d changed to %q", c.line, c.col, c.typ, i+1, lines[i])
			}
		}
	}
	for _, bad := range []struct {
		line, col int
		typ       string
	}{
		{5, 8, "CONDITIONALS_BOUNDARY"},  // "a" is not an operator
		{5, 9, "ARITHMETIC_BASE"},        // "<=" is not arithmetic
		{40, 1, "CONDITIONALS_NEGATION"}, // no such line
		{5, 9, "NO_SUCH_TYPE"},
	} {
		if _, err := Mutate(src, bad.line, bad.col, bad.typ); err == nil {
			t.Errorf("%d:%d %s: mutated, want an error", bad.line, bad.col, bad.typ)
		}
	}
}
