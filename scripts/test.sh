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

STATICCHECK_VERSION=v0.8.2
sc="$TOLLGATE_CACHE/bin/staticcheck"
if [ ! -x "$sc" ] || [ "$(cat "$sc.version" 2>/dev/null)" != "$STATICCHECK_VERSION" ]; then
	echo "test: go install staticcheck@$STATICCHECK_VERSION" >&2
	mkdir -p "$TOLLGATE_CACHE/bin"
	GOFLAGS= GOBIN="$TOLLGATE_CACHE/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	echo "$STATICCHECK_VERSION" >"$sc.version"
fi
servers_install

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

servers_start
echo "test: go test -race" >&2
go test -race -count=1 -timeout 20m "$@" "${pkgs[@]}"
