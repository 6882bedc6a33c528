// Package readme holds the tests that keep the repository's README.md true: every Go block is
// compiled and every shell command is run, as written.
//
// They live in the examples module because it is the one whose dependencies cover every
// import a README snippet makes (the three frameworks, the AWS SDK, go-redis through the
// workspace), so the root module's graph stays free of frameworks (the test command checks
// it), and because most of the README's commands are `go run ./examples/...`.
//
// # Go blocks
//
// A ```go block that starts with a package clause is a complete file and is compiled as it
// is. Any other block is a fragment: its statements become the body of a function
// `func() error` (so a fragment may `return err`), its own leading import declaration moves to
// the file, and the packages it names are imported as goimports would (from a fixed table of
// names: core, nethttp, http, time, gin, ...). What a fragment uses without declaring comes from
// the README itself: an HTML comment just before the block,
//
//	<!-- readme-test: given
//	var mux = http.NewServeMux()
//	-->
//
// whose body is Go declarations placed at package level beside the fragment. Variables the
// fragment declares are marked used after its last line, as a reader's program would go on
// to use them. Each block is its own package, built with `go build -overlay` (nothing is
// written into the tree) in the workspace, with //line directives, so that a compile error
// names README.md and its line.
//
// A table preceded by `<!-- readme-test: table given ... -->` has each code cell compiled as
// a statement, with the comment's declarations.
//
// # Shell commands
//
// Every command of a ```sh block (a line, with its `\` continuations; comment lines are not
// commands) runs with bash in the repository's root, with no AWS environment at all (AWS_*
// removed, the shared config files hidden) and TOLLGATE_ADDR=127.0.0.1:0, so the examples
// listen on a free port instead of their default. A block's comment says how each command
// runs, one line per command in order, when it is not simply "run, and expect exit 0":
//
//	<!-- readme-test: commands
//	substitute http://127.0.0.1:8000 $TOLLGATE_DYNAMODB_ENDPOINT
//	given: why the test environment has already done this
//	serve: a server: wait until it answers, run the commands it prints, stop it with SIGINT
//	fail TEXT: expect a non-zero exit and TEXT in the output
//	aws-local: run with the standard AWS environment pointed at the local dynalite
//	skip: why this command cannot run here
//	run
//	-->
//
// A substitute line (any number, first) replaces text in every command of the block before it
// runs; the replacement is expanded from the environment. The servers come from the test
// command (scripts/servers.sh); without them the tests fail under TOLLGATE_REQUIRE_SERVERS=1
// and skip otherwise.
package readme
