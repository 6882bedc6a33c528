// Package mutrecord reads the records of mutation/equivalents/ (see its README.txt), for
// scripts/mutscore, which scores a gremlins run against them, and scripts/mutoverlay, which
// leaves recorded mutants as they are.
//
// A records file has one mutant per line, "path:line:column TYPE reason", path relative to the
// repository root; '#' starts a comment.
package mutrecord

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ID is a mutant's key in the records: "path:line:column TYPE".
func ID(file string, line, column int, typ string) string {
	return fmt.Sprintf("%s:%d:%d %s", file, line, column, typ)
}

// Read parses one records file: ID → reason. Only entries under pkg are kept.
func Read(r io.Reader, pkg string) (map[string]string, error) {
	eq := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("mutrecord: equivalents line %d: want \"path:line:column TYPE reason\", got %q", n, line)
		}
		if strings.Count(f[0], ":") != 2 {
			return nil, fmt.Errorf("mutrecord: equivalents line %d: %q is not path:line:column", n, f[0])
		}
		if path.Dir(strings.SplitN(f[0], ":", 2)[0]) != pkg {
			continue
		}
		eq[f[0]+" "+f[1]] = strings.Join(f[2:], " ")
	}
	return eq, sc.Err()
}

// ReadDir reads every *.txt file of dir (a file per package or area, so that work on two
// packages never edits one file) and returns the records under pkg: ID → reason.
func ReadDir(dir, pkg string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, fmt.Errorf("mutrecord: %w", err)
	}
	eq := map[string]string{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("mutrecord: %w", err)
		}
		m, err := Read(f, pkg)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for id, why := range m {
			eq[id] = why
		}
	}
	return eq, nil
}
