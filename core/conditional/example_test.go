package conditional_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate-go/tollgate/core/conditional"
)

func ExampleEvaluate() {
	r, _ := http.NewRequest(http.MethodGet, "/logo.svg", nil)
	r.Header.Set("If-None-Match", `W/"x", "v7"`)
	v := conditional.Validators{ETag: `"v7"`, LastModified: time.Date(2024, 11, 20, 10, 0, 0, 0, time.UTC)}

	res := conditional.Evaluate(r.Method, conditional.HeaderFrom(r.Header.Get), v)
	fmt.Println(res.Outcome)
	// Output: 304 Not Modified
}

func ExampleParseRange() {
	const size = 1000
	ranges, err := conditional.ParseRange("bytes=0-99, -100", size)
	fmt.Println(err)
	for _, r := range ranges {
		fmt.Println(r.ContentRange(size))
	}
	_, err = conditional.ParseRange("bytes=2000-", size)
	fmt.Println(err, conditional.UnsatisfiedContentRange(size))
	// Output:
	// <nil>
	// bytes 0-99/1000
	// bytes 900-999/1000
	// conditional: range not satisfiable bytes */1000
}
