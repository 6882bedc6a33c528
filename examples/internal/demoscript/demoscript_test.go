package demoscript

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	help := `listening on http://x

Try it:

  # first: two lines
  curl a
  curl b

  # second
  curl c
not indented ends a demo
  curl d
`
	want := []Demo{
		{Title: "first: two lines", Script: "curl a\ncurl b\n"},
		{Title: "second", Script: "curl c\n"},
		{Title: "", Script: "curl d\n"},
	}
	if got := Parse(help); !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse:\n got %#v\nwant %#v", got, want)
	}
}

func TestParseOutput(t *testing.T) {
	problem := `{"type":"t","status":429,"violated-policies":["login"]}`
	for _, c := range []struct {
		name, out, want string
	}{
		{"codes", "401\n401\n", "401 401"},
		{"body then code (curl -w)", "401\n" + problem + "\n429\n", "401 429(login)"},
		{"a 401 problem names no policy", `{"type":"about:blank","status":401}` + "\n401\n", "401"},
		{"plain bodies are not codes", "done\n200\nhello 200\n", "200"},
		{"status line then body (curl -i)", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 9\r\n\r\n" + problem + "\n", "429(login)"},
		{"curl -i of a 200, then a body and its code", "HTTP/1.1 200 OK\r\nA: b\r\n\r\nhi\n" + problem + "\n429\n", "200 429(login)"},
		{"concurrent", "done\n200\n" + problem + "\n429\ndone\n200\n", "200 429(login) 200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (Result{Responses: ParseOutput(c.out)}).Codes(); got != c.want {
				t.Errorf("ParseOutput(%q) = %q, want %q", c.out, got, c.want)
			}
		})
	}
}
