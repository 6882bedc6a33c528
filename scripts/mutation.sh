#!/usr/bin/env bash
# Mutation testing of one package (`make mutation PKG=core/memstore`): gremlins v0.6.0 mutates
# the package's own files (not its subpackages'), runs the package's tests against each mutant,
# and scripts/mutscore scores the result against the equivalents recorded in
# mutation/equivalents/ (a *.txt file per package or area). Not part of `make test`: it takes
# minutes per package. Run it on what you change; a survivor is either killed by a new test or
# recorded as equivalent.
#
#   scripts/mutation.sh PKG [gremlins flags...]
#
# Do not edit PKG's source files while a run is going: gremlins copies the tests when it starts
# but reads each source file when it reaches it, so an edit shifts the mutants it applies.
# gremlins runs no mutant outside Go's coverage blocks (a switch's case expressions, constant
# and package-level initializers): it reports them NOT COVERED. Apply such a mutant by hand
# and record the outcome in mutation/equivalents/ (KILLED-BY-HAND or NOT-VIABLE, see its
# README.txt), or write the code so that coverage sees it (an if chain for a one-case switch).
#
# PKG is a directory of the root module (core, core/memstore, adapters/nethttp, s3cache, ...).
# The store packages (core/redisstore, core/dynamostore, core/s3store) are scored with their
# integration tests: the script starts the local servers for them (scripts/servers.sh), and
# TOLLGATE_REQUIRE_SERVERS=1 makes a test whose server is missing fail rather than skip.
#
# For the store packages, MUTATION_SKIP (a go test -skip pattern) leaves out the tests that
# spawn processes or wait for real window boundaries (default
# "AcrossProcesses|KilledProcess|^Test(Adjust)?Boundaries$"): each takes 4-20 s and the
# package's tests run once per mutant. Set MUTATION_SKIP= (empty) to run every test.
#
# Environment: MUTATION_FILES (e.g. "breaker.go denycache.go": mutate only these files of PKG,
# for a quick loop while writing tests; the score then covers only them), MUTATION_WORKERS (default 2), MUTATION_TIMEOUT_COEFFICIENT (default 10; each
# mutant's test run may take that many times the unmutated run before it counts as timed out,
# which counts as detected), MUTATION_OUT (default mutation/out, ignored by git),
# MUTATION_OVERLAY (default 1: after gremlins, scripts/mutoverlay runs each NOT COVERED mutant
# that no record explains with go test -overlay, so that a switch's case expressions and
# constants are tested too; 0 skips that step).
set -euo pipefail
cd "$(dirname "$0")/.."
export TOLLGATE_ROOT=$PWD
pkg=${1:?usage: scripts/mutation.sh PKG [gremlins flags...]}
shift
pkg=${pkg#./}
pkg=${pkg%/}
[ -d "$pkg" ] || {
	echo "mutation: no directory $pkg" >&2
	exit 2
}

GREMLINS_VERSION=v0.6.0
cache=${TOLLGATE_CACHE:-$HOME/.cache/tollgate}
gr="$cache/bin/gremlins"
if [ ! -x "$gr" ] || [ "$(cat "$gr.version" 2>/dev/null)" != "$GREMLINS_VERSION" ]; then
	echo "mutation: go install gremlins@$GREMLINS_VERSION" >&2
	mkdir -p "$cache/bin"
	GOFLAGS= GOBIN="$cache/bin" go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
	echo "$GREMLINS_VERSION" >"$gr.version"
fi

# gremlins lists the module graph, which records hashes in go.work.sum: put it back after.
sum=$(mktemp)
cp go.work.sum "$sum"
cleanup() {
	cp "$sum" go.work.sum
	rm -f "$sum"
	if [ "${started:-}" = 1 ]; then servers_stop; fi
}
trap cleanup EXIT

case "$pkg" in
core/redisstore | core/dynamostore | core/s3store)
	# shellcheck source=servers.sh
	. scripts/servers.sh
	servers_install
	servers_start >&2
	started=1
	export TOLLGATE_REQUIRE_SERVERS=1
	skip=${MUTATION_SKIP-AcrossProcesses|KilledProcess|^Test(Adjust)?Boundaries$}
	;;
esac
goflags=-count=1
if [ -n "${skip:-}" ]; then
	goflags="$goflags -skip=$skip"
fi

# -E /: the package's own files only (paths are relative to PKG; subpackages have a slash).
exclude=/
if [ -n "${MUTATION_FILES:-}" ]; then
	for f in "$pkg"/*.go; do
		case $f in *_test.go) continue ;; esac
		f=${f##*/}
		case " $MUTATION_FILES " in
		*" $f "*) ;;
		*) exclude="$exclude|^${f//./\\.}\$" ;;
		esac
	done
fi

out=${MUTATION_OUT:-mutation/out}
mkdir -p "$out"
json="$out/$(echo "$pkg" | tr / _).json"
# -count=1: gremlins times the unmutated run to set each mutant's timeout; a cached test
# result would make that a few milliseconds and every mutant "time out".
GOFLAGS=$goflags "$gr" unleash \
	--workers "${MUTATION_WORKERS:-2}" \
	--timeout-coefficient "${MUTATION_TIMEOUT_COEFFICIENT:-10}" \
	-E "$exclude" \
	-o "$json" \
	"$@" "./$pkg" >"$out/$(echo "$pkg" | tr / _).log" 2>&1 || {
	tail -20 "$out/$(echo "$pkg" | tr / _).log" >&2
	exit 1
}
# The mutants gremlins did not run (NOT COVERED: a switch's case expressions, constants),
# applied one by one with go test -overlay; MUTATION_OVERLAY=0 leaves them NOT COVERED.
if [ "${MUTATION_OVERLAY:-1}" != 0 ]; then
	testflags=""
	if [ -n "${skip:-}" ]; then
		testflags="-skip=$skip"
	fi
	go run ./scripts/mutoverlay -pkg "$pkg" -equivalents mutation/equivalents -testflags "$testflags" "$json" | tail -1
fi
go run ./scripts/mutscore -pkg "$pkg" -equivalents mutation/equivalents "$json"
