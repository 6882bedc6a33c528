package readme

import (
	"fmt"
	"regexp"
	"strings"
)

// doc is a parsed README: its fenced blocks, its marked tables and its inline code spans.
type doc struct {
	blocks []block
	tables []table
	spans  []span // inline code outside fenced blocks
}

// block is a fenced code block.
type block struct {
	lang   string
	line   int // the README line of the block's first line of code
	code   string
	marker *marker
}

// table is a Markdown table that a `readme-test: table` comment precedes.
type table struct {
	line   int
	cells  []span
	marker *marker
}

// span is a piece of inline code and its README line.
type span struct {
	line int
	code string
}

// marker is a `<!-- readme-test: KIND ... -->` comment.
type marker struct {
	line     int // the comment's first line
	kind     string
	args     string   // the rest of the first line
	body     []string // the lines between the first line and "-->"
	bodyLine int      // the README line of body[0]
}

const markerPrefix = "<!-- readme-test:"

var backticks = regexp.MustCompile("`([^`]+)`")

// parse reads a README. A marker must be followed (blank lines aside) by the block or table
// it describes.
func parse(text string) (*doc, error) {
	lines := strings.Split(text, "\n")
	d := &doc{}
	var pending *marker
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		n := i + 1
		switch {
		case strings.HasPrefix(line, "```"):
			lang := strings.TrimSpace(strings.TrimPrefix(line, "```"))
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
				j++
			}
			if j == len(lines) {
				return nil, fmt.Errorf("README.md:%d: unclosed code block", n)
			}
			d.blocks = append(d.blocks, block{lang: lang, line: n + 1, code: strings.Join(lines[i+1:j], "\n") + "\n", marker: pending})
			pending = nil
			i = j
		case strings.HasPrefix(line, markerPrefix):
			if pending != nil {
				return nil, fmt.Errorf("README.md:%d: a readme-test comment follows another one", n)
			}
			m := &marker{line: n, bodyLine: n + 1}
			first := strings.TrimSpace(strings.TrimPrefix(line, markerPrefix))
			closed := strings.HasSuffix(first, "-->")
			first = strings.TrimSpace(strings.TrimSuffix(first, "-->"))
			m.kind, m.args, _ = strings.Cut(first, " ")
			for !closed {
				i++
				if i == len(lines) {
					return nil, fmt.Errorf("README.md:%d: unclosed readme-test comment", n)
				}
				if strings.TrimSpace(lines[i]) == "-->" {
					closed = true
					break
				}
				m.body = append(m.body, lines[i])
			}
			pending = m
		case strings.HasPrefix(line, "|"):
			t := table{line: n, marker: pending}
			for ; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
				for _, c := range backticks.FindAllStringSubmatch(lines[i], -1) {
					t.cells = append(t.cells, span{line: i + 1, code: c[1]})
				}
			}
			i--
			if pending != nil {
				d.tables = append(d.tables, t)
			}
			d.spans = append(d.spans, t.cells...)
			pending = nil
		case strings.TrimSpace(line) == "":
		default:
			if pending != nil {
				return nil, fmt.Errorf("README.md:%d: the readme-test comment of line %d is not followed by a code block or a table", n, pending.line)
			}
			for _, c := range backticks.FindAllStringSubmatch(line, -1) {
				d.spans = append(d.spans, span{line: n, code: c[1]})
			}
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("README.md:%d: the readme-test comment is not followed by a code block or a table", pending.line)
	}
	return d, nil
}
