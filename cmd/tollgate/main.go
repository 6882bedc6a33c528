// Command tollgate is the operator's tool for Tollgate's shared stores: it creates the
// DynamoDB table, puts the S3 lifecycle rule, and shows, grants or resets a key's usage in
// the DynamoDB, Redis or S3 store (`tollgate usage show|grant|reset`).
//
// Usage:
//
//	tollgate <command> [flags] [args]
//	tollgate help [command]
//
// `tollgate help` lists the commands; `tollgate help <command>` (or `<command> -h`) shows a
// command's flags. AWS settings (region, credentials, endpoint URL) come from the standard
// AWS environment and config files. With -endpoint (a local server such as dynalite or
// DynamoDB Local), the DynamoDB commands default the region to us-east-1 and, unless
// AWS_ACCESS_KEY_ID or AWS_PROFILE is set, use static dummy credentials, so they run with no
// AWS environment at all.
//
// Exit status: 0 on success (and for help), 1 when the command failed, 2 for a command line
// it cannot run (no or unknown command, a bad or missing flag or argument); usage then goes
// to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. Each store's file registers its own in an init function.
type command struct {
	summary string
	// synopsis follows "tollgate NAME" in the usage line, e.g. "-table T [flags] KEY".
	synopsis string
	// about is printed under the usage line: what the command does, what it needs.
	about string
	// run defines its flags on fs, parses args with parse, and does the work.
	run func(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error
}

var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

// usageError is a command line the command cannot run: the message goes to stderr with the
// command's usage, and the exit status is 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parse parses a command's flags. Flag errors (an unknown flag, a bad value) are usage
// errors; -h is flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tollgate <command> [flags] [args]")
	fmt.Fprintln(w, "       tollgate help [command]")
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

// commandUsage prints a command's usage line and flags (fs holds the flags it defined).
func commandUsage(w io.Writer, name string, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: tollgate %s %s\n%s\n", name, c.synopsis, c.about)
	var hasFlags bool
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "flags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "tollgate: no command")
		usage(stderr)
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) == 0 {
			usage(stdout)
			return 0
		}
		// `tollgate help CMD` is `tollgate CMD -h`.
		name, args = args[0], []string{"-h"}
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("tollgate "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints usage itself, to stdout for -h and stderr otherwise
	fs.Usage = func() {}
	err := c.run(ctx, fs, args, stdout)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		commandUsage(stdout, name, c, fs)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tollgate %s: %v\n", name, err)
		commandUsage(stderr, name, c, fs)
		return 2
	default:
		fmt.Fprintf(stderr, "tollgate %s: %v\n", name, err)
		return 1
	}
}
