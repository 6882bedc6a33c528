#!/usr/bin/env bash
# Installs and starts the local servers the integration tests talk to: dynalite (DynamoDB API),
# versitygw (S3 API), redis-server, and a 3-master Redis Cluster of redis-server. Sourced by
# scripts/test.sh and bench/run.
#
#   servers_install   installs what this machine lacks (npm ci, go install, apt-get)
#   servers_start     starts each on 127.0.0.1 with a free port and a temporary directory,
#                     waits until it answers, and exports TOLLGATE_* for the tests
#   servers_stop      stops them by PID (also registered as an EXIT trap by servers_start)
#
# Nothing here talks to AWS; every endpoint is on loopback.

TOLLGATE_ROOT=${TOLLGATE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TOLLGATE_CACHE=${TOLLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}
VERSITYGW_VERSION=v1.8.0
_tg_pids=()
_tg_dirs=()

_tg_log() { printf 'servers: %s\n' "$*" >&2; }

servers_install() {
	# dynalite, from the committed package.json + lockfile.
	if [ ! -f "$TOLLGATE_ROOT/tools/dynalite/node_modules/dynalite/cli.js" ]; then
		command -v npm >/dev/null || { _tg_log "npm is missing: install Node.js"; return 1; }
		_tg_log "npm ci (dynalite)"
		(cd "$TOLLGATE_ROOT/tools/dynalite" && npm ci --no-audit --no-fund --loglevel=error >&2) || return 1
	fi
	# versitygw, built once into the cache (it is kept where the machine keeps $HOME).
	local vgw="$TOLLGATE_CACHE/bin/versitygw"
	if [ ! -x "$vgw" ] || [ "$(cat "$TOLLGATE_CACHE/bin/versitygw.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
		_tg_log "go install versitygw@$VERSITYGW_VERSION (first run only; takes a few minutes)"
		mkdir -p "$TOLLGATE_CACHE/bin"
		GOFLAGS= GOBIN="$TOLLGATE_CACHE/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2 || return 1
		echo "$VERSITYGW_VERSION" >"$TOLLGATE_CACHE/bin/versitygw.version"
	fi
	# redis-server, from Debian's packages.
	if ! command -v redis-server >/dev/null; then
		_tg_log "apt-get install redis-server"
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo="sudo"
		$sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2 || return 1
	fi
	return 0
}

_tg_free_port() {
	python3 - <<'PY' 2>/dev/null || node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# _tg_wait NAME PID CMD...: retries CMD for up to 30 s while PID lives.
_tg_wait() {
	local name=$1 pid=$2
	shift 2
	local i
	for i in $(seq 1 300); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			_tg_log "$name exited before it answered"
			return 1
		fi
		sleep 0.1
	done
	_tg_log "$name did not answer within 30 s"
	return 1
}

servers_start() {
	local dir port pid
	trap servers_stop EXIT

	# DynamoDB: dynalite, in memory, no artificial table delays.
	port=$(_tg_free_port)
	dir=$(mktemp -d -t tollgate-dynalite.XXXXXX)
	_tg_dirs+=("$dir")
	# A larger heap than node's default: the suite writes items of hundreds of KB (4,096
	# leases in one item) from many processes, and an out-of-memory dynalite would fail every
	# DynamoDB test after it with "connection refused".
	node --max-old-space-size=4096 "$TOLLGATE_ROOT/tools/dynalite/server.js" --host 127.0.0.1 --port "$port" \
		--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$dir/log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	_tg_pids+=("$pid")
	_tg_wait dynalite "$pid" curl -sf "http://127.0.0.1:$port/" || { cat "$dir/log" >&2; return 1; }
	export TOLLGATE_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
	export TOLLGATE_DYNALITE_CLI="$TOLLGATE_ROOT/tools/dynalite/server.js"

	# S3: versitygw over a posix directory (needs xattrs, which /tmp has here).
	port=$(_tg_free_port)
	dir=$(mktemp -d -t tollgate-versitygw.XXXXXX)
	_tg_dirs+=("$dir")
	mkdir -p "$dir/data"
	export TOLLGATE_S3_ACCESS_KEY=tollgate-test TOLLGATE_S3_SECRET_KEY=tollgate-test-secret
	ROOT_ACCESS_KEY=$TOLLGATE_S3_ACCESS_KEY ROOT_SECRET_KEY=$TOLLGATE_S3_SECRET_KEY \
		"$TOLLGATE_CACHE/bin/versitygw" --port "127.0.0.1:$port" posix "$dir/data" >"$dir/log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	_tg_pids+=("$pid")
	# Any HTTP answer (403 without credentials) means it is up.
	_tg_wait versitygw "$pid" curl -s -o /dev/null "http://127.0.0.1:$port/" || { cat "$dir/log" >&2; return 1; }
	export TOLLGATE_S3_ENDPOINT="http://127.0.0.1:$port"
	export TOLLGATE_VERSITYGW_BIN="$TOLLGATE_CACHE/bin/versitygw"

	# Redis: no persistence, loopback only.
	port=$(_tg_free_port)
	dir=$(mktemp -d -t tollgate-redis.XXXXXX)
	_tg_dirs+=("$dir")
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
		--logfile "$dir/log" --daemonize no >/dev/null 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	_tg_pids+=("$pid")
	_tg_wait redis-server "$pid" redis-cli -h 127.0.0.1 -p "$port" ping || { cat "$dir/log" >&2; return 1; }
	export TOLLGATE_REDIS_ADDR="127.0.0.1:$port"
	export TOLLGATE_REDIS_SERVER_BIN
	TOLLGATE_REDIS_SERVER_BIN=$(command -v redis-server)

	# Redis Cluster: 3 masters, no replicas, each with its own client and bus port (cluster-port,
	# so the bus is not port+10000, which may be taken or past 65535) and directory (nodes.conf).
	_tg_redis_cluster || return 1

	# Integration tests fail, not skip, when an endpoint above is missing.
	export TOLLGATE_REQUIRE_SERVERS=1
	_tg_log "dynalite $TOLLGATE_DYNAMODB_ENDPOINT, versitygw $TOLLGATE_S3_ENDPOINT, redis $TOLLGATE_REDIS_ADDR, redis cluster $TOLLGATE_REDIS_CLUSTER_ADDRS"
}

# _tg_redis_cluster starts three cluster-enabled redis-servers, joins them with
# `redis-cli --cluster create` (slots split in three, no replicas), waits until every node
# reports cluster_state:ok, and exports TOLLGATE_REDIS_CLUSTER_ADDRS (comma-separated).
_tg_redis_cluster() {
	local i port bus dir pid addrs=() node
	for i in 1 2 3; do
		port=$(_tg_free_port)
		bus=$(_tg_free_port)
		dir=$(mktemp -d -t tollgate-redis-cluster.XXXXXX)
		_tg_dirs+=("$dir")
		redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-port "$bus" \
			--cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 5000 \
			--save '' --appendonly no --dir "$dir" --logfile "$dir/log" --daemonize no >/dev/null 2>&1 &
		pid=$!
		echo "$pid" >"$dir/pid"
		_tg_pids+=("$pid")
		_tg_wait "redis-server (cluster node $i)" "$pid" redis-cli -h 127.0.0.1 -p "$port" ping || { cat "$dir/log" >&2; return 1; }
		addrs+=("127.0.0.1:$port")
	done
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
		{ _tg_log "redis-cli --cluster create failed"; cat "$dir/create.log" >&2; return 1; }
	for node in "${addrs[@]}"; do
		_tg_wait "redis cluster node $node" "$pid" _tg_cluster_ok "$node" || return 1
	done
	TOLLGATE_REDIS_CLUSTER_ADDRS=$(IFS=,; echo "${addrs[*]}")
	export TOLLGATE_REDIS_CLUSTER_ADDRS
}

# _tg_cluster_ok HOST:PORT: the node reports cluster_state:ok.
_tg_cluster_ok() {
	redis-cli -h "${1%:*}" -p "${1##*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

servers_stop() {
	local pid d
	# A server that exited during the run explains every failure after it: say so, with the
	# end of its log, before the logs are removed.
	for d in "${_tg_dirs[@]}"; do
		[ -f "$d/pid" ] || continue
		pid=$(cat "$d/pid")
		if ! kill -0 "$pid" 2>/dev/null; then
			_tg_log "the server logging to $d/log (pid $pid) exited during the run; its log ends:"
			tail -n 40 "$d/log" >&2 2>/dev/null || true
			if [ -n "${TOLLGATE_ARTIFACTS:-}" ] && [ -d "$TOLLGATE_ARTIFACTS" ]; then
				cp "$d/log" "$TOLLGATE_ARTIFACTS/server-$pid.log" 2>/dev/null || true
			fi
		fi
	done
	# Each kill's and wait's status is ignored: a server killed here exits 143, and under
	# `set -e` that status would become the test run's.
	for pid in "${_tg_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	_tg_pids=()
	for d in "${_tg_dirs[@]}"; do rm -rf "$d"; done
	_tg_dirs=()
}
