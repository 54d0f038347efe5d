# shellcheck shell=bash
# lib.sh holds what the real-client scripts share: checking for the client
# tools, counting failures, and starting and stopping an example server by
# PID on a free port. Source it from a script that sets name (its name in
# messages) and tmp (its temporary directory).
# shellcheck disable=SC2154 # name and tmp are the sourcing script's

# require_tools PACKAGE TOOL...: exits unless every tool is installed, saying
# which Debian package provides them. In CI a missing tool is a failure;
# elsewhere too, unless ALLOW_MISSING_TOOLS=1 turns it into a skip.
require_tools() {
	local package=$1 missing=() tool
	shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	((${#missing[@]} == 0)) && return 0
	if [[ ${CI:-} == true ]]; then
		echo "$name: FAIL: CI lacks ${missing[*]}; install the Debian package: apt-get install -y $package" >&2
		exit 1
	fi
	echo "$name: cannot run: ${missing[*]} not found; install with: apt-get install -y $package" >&2
	if [[ ${ALLOW_MISSING_TOOLS:-} == 1 ]]; then
		echo "$name: SKIPPED (ALLOW_MISSING_TOOLS=1)"
		exit 0
	fi
	exit 1
}

# The scripts' counters: failures over all variants, a summary line per
# variant, and the failures of the variant running.
# shellcheck disable=SC2034
failures=0
# shellcheck disable=SC2034
summary=()
variant_failures=0
server_pid=

fail() {
	echo "    FAIL: $*" >&2
	variant_failures=$((variant_failures + 1))
}

# expect_eq DESCRIPTION WANT GOT
expect_eq() {
	if [[ $2 == "$3" ]]; then
		echo "    ok: $1"
	else
		fail "$1: want '$2', got '$3'"
	fi
}

# start_server BINARY ARGS...: starts an example server, waits for the line
# it prints about its TCP listener, and sets server_pid and server_port.
start_server() {
	rm -f "$tmp/server.log"
	# EXAMPLE_FLAGS (say -io-uring) goes to every server a script starts,
	# but those it runs on the portable engine (-stdlib): one engine each.
	local extra=${EXAMPLE_FLAGS:-}
	[[ " $* " == *" -stdlib "* ]] && extra=
	# shellcheck disable=SC2086 # split into flags on purpose
	"$@" $extra >"$tmp/server.log" 2>&1 &
	server_pid=$!
	local line=
	for _ in $(seq 100); do
		line=$(grep -m1 -E 'listening on tcp(-net)?://' "$tmp/server.log" 2>/dev/null)
		[[ -n $line ]] && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -z $line ]]; then
		fail "server did not start: $(tr '\n' ' ' <"$tmp/server.log")"
		kill -KILL "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
		return 1
	fi
	# shellcheck disable=SC2034 # read by the sourcing script
	server_port=$(sed -E 's#.*listening on tcp(-net)?://[^ ]*:([0-9]+) .*#\2#' <<<"$line")
	echo "  server pid $server_pid: $line"
	# An engine asked for and refused says so (Server.EngineFallback).
	grep -m1 -E ': running on [a-z_]+: ' "$tmp/server.log" | sed 's/^/  note: /' || true
}

# stop_server SOCKET: stops the server with SIGTERM and checks that it exits
# cleanly within 10 seconds and removes its unix socket file SOCKET. A
# server that does not exit is killed and fails the check.
stop_server() {
	[[ -z $server_pid ]] && return
	kill -TERM "$server_pid" 2>/dev/null
	local state deadline=$((SECONDS + 10))
	while :; do
		state=$(ps -o stat= -p "$server_pid" 2>/dev/null)
		[[ -z $state || $state == Z* ]] && break
		((SECONDS >= deadline)) && break
		sleep 0.1
	done
	if [[ -n $state && $state != Z* ]]; then
		fail "server still running 10s after SIGTERM; killed"
		kill -KILL "$server_pid" 2>/dev/null
	fi
	local status=0
	wait "$server_pid" 2>/dev/null || status=$?
	server_pid=
	if ((status != 0)); then
		fail "server exited with status $status: $(tail -3 "$tmp/server.log" | tr '\n' ' ')"
	fi
	if [[ -e $1 ]]; then
		fail "unix socket file left behind"
		rm -f "$1"
	fi
}

# redis_benchmark LABEL TESTS [redis-benchmark flags]: runs redis-benchmark
# -q with the flags (which name the server, the tests and the requests) and
# checks that it exits 0, reports no error, and prints a rate above 0 for
# exactly TESTS tests. The rate lines are printed, and bench_rates holds
# them as "TEST rate ..." for the summary. Uses $tmp.
redis_benchmark() {
	local label=$1 tests=$2 status=0 line rate n=0
	shift 2
	bench_rates=
	timeout 300 redis-benchmark -q "$@" >"$tmp/bench.raw" 2>&1 || status=$?
	tr '\r' '\n' <"$tmp/bench.raw" | grep -E 'requests per second' | sed 's/^ *//' >"$tmp/bench.txt"
	sed 's/^/      /' "$tmp/bench.txt"
	if ((status != 0)); then
		fail "redis-benchmark ($label) exited with status $status: $(tr '\r' '\n' <"$tmp/bench.raw" | grep -v '^ *$' | tail -3 | tr '\n' ' ')"
		return 1
	fi
	if tr '\r' '\n' <"$tmp/bench.raw" | grep -qiE 'error|ERR '; then
		fail "redis-benchmark ($label) reported errors: $(tr '\r' '\n' <"$tmp/bench.raw" | grep -iE 'error|ERR ' | head -3 | tr '\n' ' ')"
		return 1
	fi
	while read -r line; do
		rate=$(sed -nE 's/^[^:]*: ([0-9]+)\.[0-9]+ requests per second.*/\1/p' <<<"$line")
		if [[ -z $rate ]] || ((rate <= 0)); then
			fail "redis-benchmark ($label): no rate above 0 in: $line"
			return 1
		fi
		bench_rates+="$(sed -E 's/^([A-Z_]+).*/\1/' <<<"$line") $rate "
		n=$((n + 1))
	done <"$tmp/bench.txt"
	if ((n != tests)); then
		fail "redis-benchmark ($label): $n of $tests tests reported"
		return 1
	fi
}
