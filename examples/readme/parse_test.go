package readme

import (
	"strings"
	"testing"
)

func TestParseMarkers(t *testing.T) {
	const readme = "# T\n\n" +
		"<!-- readme-test: given\nvar x = 1\n-->\n```go\n_ = x\n```\n\n" +
		"Text with `inline` code.\n\n" +
		"<!-- readme-test: commands\nsubstitute :8000 :9000\nserve\nskip: not here\n-->\n```sh\n# a comment\ngo run ./x -addr :8000\nmake \\\n  all\n```\n\n" +
		"<!-- readme-test: table given\nvar y int\n-->\n| a | b |\n|---|---|\n| `y = 1` | `y = 2` |\n"
	d, err := parse(readme)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.blocks) != 2 || d.blocks[0].line != 7 || d.blocks[0].marker.body[0] != "var x = 1" || d.blocks[0].marker.bodyLine != 4 {
		t.Fatalf("blocks: %+v", d.blocks)
	}
	if len(d.tables) != 1 || len(d.tables[0].cells) != 2 || d.tables[0].cells[1].code != "y = 2" || d.tables[0].cells[1].line != 29 {
		t.Fatalf("tables: %+v", d.tables)
	}
	cmds, err := commands(d)
	if err != nil {
		t.Fatal(err)
	}
	want := []command{
		{line: 19, text: "go run ./x -addr :8000", run: "go run ./x -addr :9000", directive: "serve"},
		{line: 20, text: "make \\\n  all", run: "make \\\n  all", directive: "skip", arg: "not here"},
	}
	if len(cmds) != len(want) {
		t.Fatalf("commands: %+v", cmds)
	}
	for i := range want {
		if cmds[i] != want[i] {
			t.Errorf("command %d: %+v, want %+v", i, cmds[i], want[i])
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, readme, want string
	}{
		{"marker before prose", "<!-- readme-test: given\nvar x int\n-->\ntext\n", "not followed by a code block"},
		{"marker at the end", "<!-- readme-test: given -->\n", "not followed by a code block"},
		{"unclosed block", "```go\nx\n", "unclosed code block"},
		{"unclosed marker", "<!-- readme-test: given\nx\n", "unclosed readme-test comment"},
		{"too few directives", "<!-- readme-test: commands\nserve\n-->\n```sh\na\nb\n```\n", "1 directives for the 2 commands"},
		{"unknown directive", "<!-- readme-test: commands\nmaybe\n-->\n```sh\na\n```\n", `unknown directive "maybe"`},
		{"skip without a reason", "<!-- readme-test: commands\nskip\n-->\n```sh\na\n```\n", "skip needs a text or a reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := parse(c.readme)
			if err == nil {
				_, err = commands(d)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
		})
	}
}
