#!/usr/bin/env bash
# The whole test suite, as CI runs it (`make test` calls this):
#   1. installs what a fresh machine lacks (staticcheck, dynalite, versitygw, redis-server);
#   2. gofmt, go vet and staticcheck over every module of the workspace;
#   3. starts dynalite, versitygw and redis-server on 127.0.0.1 (scripts/servers.sh);
#   4. go test -race over every module, with TOLLGATE_REQUIRE_SERVERS=1 so that an integration
#      test whose server is missing fails instead of skipping.
# Extra arguments go to `go test` (e.g. scripts/test.sh -run Exact -v).
set -euo pipefail
cd "$(dirname "$0")/.."
export TOLLGATE_ROOT=$PWD
# shellcheck source=servers.sh
. scripts/servers.sh
# shellcheck source=chromium.sh
. scripts/chromium.sh

STATICCHECK_VERSION=v0.8.2
sc="$TOLLGATE_CACHE/bin/staticcheck"
if [ ! -x "$sc" ] || [ "$(cat "$sc.version" 2>/dev/null)" != "$STATICCHECK_VERSION" ]; then
	echo "test: go install staticcheck@$STATICCHECK_VERSION" >&2
	mkdir -p "$TOLLGATE_CACHE/bin"
	GOFLAGS= GOBIN="$TOLLGATE_CACHE/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	echo "$STATICCHECK_VERSION" >"$sc.version"
fi
servers_install
TOLLGATE_CHROMIUM=$(chromium_install)
export TOLLGATE_CHROMIUM

# Every module of the workspace, as ./dir/... patterns.
mapfile -t mods < <(go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
pkgs=()
for m in "${mods[@]}"; do
	m=${m#./}
	if [ "$m" = "." ]; then pkgs+=("./..."); else pkgs+=("./$m/..."); fi
done
echo "test: modules: ${mods[*]}" >&2

echo "test: gofmt" >&2
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "test: go vet" >&2
go vet "${pkgs[@]}"
echo "test: staticcheck" >&2
"$sc" "${pkgs[@]}"

# A net/http user must not get a web framework in their module graph.
echo "test: root module graph is framework-free" >&2
if GOWORK=off go list -m all | grep -E 'gin-gonic|gofiber|valyala/fasthttp|labstack/echo|aws-lambda-go|go.opentelemetry.io|prometheus/client_golang'; then
	echo "test: the root go.mod pulls in a web framework (above); frameworks belong in adapters/*/go.mod" >&2
	exit 1
fi

servers_start
echo "test: go test -race" >&2
# -v so that a skipped test is visible: under the test command every server is running, so a
# skip means something is missing and fails the run. The full log is kept; what is printed
# leaves out the RUN/PAUSE/CONT/PASS chatter but keeps every test's own log lines (the
# exactness counts, request-count figures), failures and each package's result line.
log=$(mktemp -t tollgate-test.XXXXXX)
# Files tests leave for people to look at (the status page's screenshot), one directory per run.
TOLLGATE_ARTIFACTS=$(mktemp -d -t tollgate-artifacts.XXXXXX)
export TOLLGATE_ARTIFACTS
status=0
go test -race -count=1 -timeout 25m -v "$@" "${pkgs[@]}" >"$log" 2>&1 || status=$?
grep -vE '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' "$log" | grep -vE '^(PASS)$' || true
if grep -qE '^\s*--- SKIP' "$log"; then
	echo >&2
	echo "test: these tests were skipped; under the test command a skip is a failure:" >&2
	grep -E -A2 '^\s*--- SKIP' "$log" >&2
	status=1
fi
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
echo "test: full log in $log"
echo "test: artifacts in $TOLLGATE_ARTIFACTS: $(cd "$TOLLGATE_ARTIFACTS" && ls | tr '\n' ' ')"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
