// Command tollgate is the operator's tool for Tollgate's shared stores: it creates the
// DynamoDB table, puts the S3 lifecycle rule, and inspects or resets a key.
//
// Usage:
//
//	tollgate <command> [flags]
//
// Run `tollgate help` for the list of commands; each takes -h. AWS settings (region,
// credentials, endpoint URL) come from the standard AWS environment and config files.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. Each store's file registers its own in an init function.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tollgate <command> [flags]")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "tollgate %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
