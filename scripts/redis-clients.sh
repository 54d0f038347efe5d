#!/usr/bin/env bash
# redis-clients.sh proves examples/redis-server with Redis's own clients:
# redis-benchmark (ping_inline, ping_mbulk, set, get, incr, mset; 100000
# requests, pipelined 16 deep), redis-benchmark -q with no -t list, as a
# newcomer runs it first (every test of its default set, lists, sets,
# hashes and sorted sets included, must run without an error; 2000
# requests, unpipelined and pipelined 16 deep) and redis-cli (values
# written and read back over TCP and the unix socket, binary values,
# errors), on 1 loop, 2 loops and the portable engine (-stdlib); then an
# append-only-file run with
# appendfsync always, killed with SIGKILL in the middle of a stream of
# acknowledged SETs and restarted, which must still hold every one of them;
# and the same with appendfsync everysec, stopped with SIGTERM (which must
# exit 0). redis-cli SUBSCRIBE must print what another redis-cli publishes.
# Over TLS (-tls-port, with a client certificate, on both engines):
# redis-cli --tls and redis-benchmark --tls -t set,get, unpipelined and 16
# deep, without errors; without a certificate, or in plain text, no PONG.
# It exits non-zero on any failure and prints a summary.
#
#   scripts/redis-clients.sh
#   BENCH_REQUESTS=1000000 scripts/redis-clients.sh
#
# Needs the Debian package redis-tools (redis-cli, redis-benchmark). Where
# it is missing the script fails; set ALLOW_MISSING_TOOLS=1 (not in CI)
# to skip instead. Servers listen on 127.0.0.1 on a free port, read
# from the line the server prints, and are stopped by PID.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
BENCH_REQUESTS=${BENCH_REQUESTS:-100000}
BENCH_PIPELINE=${BENCH_PIPELINE:-16}
BENCH_TESTS=ping_inline,ping_mbulk,set,get,incr,mset
DEFAULT_BENCH_REQUESTS=${DEFAULT_BENCH_REQUESTS:-2000}
# The tests redis-benchmark 7.0 runs when given no -t list, as -q names
# them. A later redis-benchmark may run more (XADD): those must pass too,
# as any error fails the run, but only these must be there.
DEFAULT_TESTS=(PING_INLINE PING_MBULK SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN
	"LPUSH (needed to benchmark LRANGE)" "LRANGE_100 (first 100 elements)" "LRANGE_300 (first 300 elements)"
	"LRANGE_500 (first 500 elements)" "LRANGE_600 (first 600 elements)" "MSET (10 keys)")
START=$SECONDS

name=redis-clients
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_tools redis-tools redis-cli redis-benchmark

tmp=$(mktemp -d "${TMPDIR:-/tmp}/redis-clients.XXXXXX")
writer_pid=
cleanup() {
	for pid in $writer_pid $server_pid; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "redis-clients: building examples/redis-server"
if ! go build -o "$tmp/redis-server" ./examples/redis-server; then
	echo "redis-clients: FAIL: build" >&2
	exit 1
fi

# start_redis FLAGS...: starts the server on a free port and sets port.
start_redis() {
	start_server "$tmp/redis-server" -bind 127.0.0.1 -port 0 -unixsocket "$tmp/redis.sock" "$@" || return 1
	port=$server_port
}

# stop_redis stops the server and checks it exits cleanly and removes its
# socket file.
stop_redis() { stop_server "$tmp/redis.sock"; }

# kill_server kills the server with SIGKILL, as a crash would.
kill_server() {
	kill -KILL "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
	rm -f "$tmp/redis.sock"
}

cli() { timeout 20 redis-cli -h 127.0.0.1 -p "$port" "$@"; }

cli_checks() {
	expect_eq "redis-cli PING" PONG "$(cli PING)"
	expect_eq "redis-cli SET" OK "$(cli SET greeting 'hello, world')"
	expect_eq "redis-cli GET" "hello, world" "$(cli GET greeting)"
	expect_eq "redis-cli SET utf-8" OK "$(cli SET utf8 'héllo wörld ✓')"
	expect_eq "redis-cli GET utf-8" "héllo wörld ✓" "$(cli GET utf8)"
	expect_eq "redis-cli SET empty" OK "$(cli SET empty '')"
	expect_eq "redis-cli STRLEN empty" 0 "$(cli STRLEN empty)"

	head -c 100000 /dev/urandom >"$tmp/binary.in"
	expect_eq "redis-cli -x SET of 100 kB of random bytes" OK "$(cli -x SET binary <"$tmp/binary.in")"
	cli --raw GET binary >"$tmp/binary.out"
	truncate -s -1 "$tmp/binary.out" # --raw ends the value with a newline
	if cmp -s "$tmp/binary.in" "$tmp/binary.out"; then
		echo "    ok: redis-cli GET returns the 100 kB byte for byte"
	else
		fail "binary value differs ($(wc -c <"$tmp/binary.out") bytes back)"
	fi

	expect_eq "redis-cli MSET" OK "$(cli MSET user:1 alice user:2 bob)"
	expect_eq "redis-cli MGET" $'alice\nbob\n' "$(cli MGET user:1 user:2 nokey)"$'\n'
	expect_eq "redis-cli KEYS user:*" $'user:1\nuser:2' "$(cli KEYS 'user:*' | sort)"
	expect_eq "redis-cli INCRBY" 42 "$(cli INCRBY answer 42)"
	expect_eq "redis-cli EXPIRE" 1 "$(cli EXPIRE answer 100)"
	expect_eq "redis-cli TTL" 100 "$(cli TTL answer)"
	expect_eq "redis-cli unknown command" "ERR unknown command 'NOSUCH', with args beginning with: 'x' " "$(cli NOSUCH x 2>&1)"
	expect_eq "redis-cli wrong arity" "ERR wrong number of arguments for 'get' command" "$(cli GET 2>&1)"
	expect_eq "redis-cli over the unix socket" "hello, world" "$(timeout 20 redis-cli -s "$tmp/redis.sock" GET greeting)"
	expect_eq "redis-cli commands from stdin" $'OK\nv1\n1\n2' "$(printf 'SET piped v1\nGET piped\nINCR piped:n\nINCR piped:n\n' | cli)"
	expect_eq "redis-cli DBSIZE" 9 "$(cli DBSIZE)"
	expect_eq "redis-cli RPUSH" 3 "$(cli RPUSH list a b c)"
	expect_eq "redis-cli LRANGE" $'a\nb\nc' "$(cli LRANGE list 0 -1)"
	expect_eq "redis-cli HSET" 2 "$(cli HSET user:3 name carol city 'São Paulo')"
	expect_eq "redis-cli HGETALL" $'name\ncarol\ncity\nSão Paulo' "$(cli HGETALL user:3)"
	expect_eq "redis-cli ZADD" 2 "$(cli ZADD board 2 ann 1 bob)"
	expect_eq "redis-cli ZRANGE WITHSCORES" $'bob\n1\nann\n2' "$(cli ZRANGE board 0 -1 WITHSCORES)"
	expect_eq "redis-cli TYPE" zset "$(cli TYPE board)"
	expect_eq "redis-cli WRONGTYPE" "WRONGTYPE Operation against a key holding the wrong kind of value" "$(cli GET list 2>&1)"
	pubsub_checks
}

# pubsub_checks runs redis-cli SUBSCRIBE in the background and publishes to
# it with another redis-cli (on the other loop, with round-robin balancing).
pubsub_checks() {
	local sub_pid n
	cli SUBSCRIBE news >"$tmp/subscriber.out" 2>&1 &
	sub_pid=$!
	for _ in $(seq 100); do
		n=$(cli PUBSUB NUMSUB news | tail -1)
		[[ $n == 1 ]] && break
		sleep 0.05
	done
	expect_eq "redis-cli PUBSUB NUMSUB with a subscriber" 1 "$n"
	expect_eq "redis-cli PUBLISH counts the subscriber" 1 "$(cli PUBLISH news 'hello, subscriber')"
	for _ in $(seq 100); do
		grep -qxF 'hello, subscriber' "$tmp/subscriber.out" && break
		sleep 0.05
	done
	kill "$sub_pid" 2>/dev/null
	wait "$sub_pid" 2>/dev/null
	expect_eq "redis-cli SUBSCRIBE prints the message" $'subscribe\nnews\n1\nmessage\nnews\nhello, subscriber' "$(cat "$tmp/subscriber.out")"
}

# benchmark [redis-benchmark target flags]: runs the benchmark and checks
# that every test completed without errors.
benchmark() {
	local label=$1
	shift
	redis_benchmark "$label" 6 "$@" -t "$BENCH_TESTS" -n "$BENCH_REQUESTS" -P "$BENCH_PIPELINE" || return
	echo "    ok: redis-benchmark $label: 6 tests x $BENCH_REQUESTS requests, pipeline $BENCH_PIPELINE, no errors"
	bench_line=$bench_rates
}

# benchmark_defaults LABEL [redis-benchmark flags]: runs redis-benchmark -q
# with no -t list, its default set of tests, and checks that it exits 0,
# that no test reports an error and that every test of DEFAULT_TESTS ran.
benchmark_defaults() {
	local label=$1 status=0
	shift
	timeout 300 redis-benchmark "$@" -q -n "$DEFAULT_BENCH_REQUESTS" >"$tmp/bench-all.raw" 2>&1 || status=$?
	tr '\r' '\n' <"$tmp/bench-all.raw" | grep -E 'requests per second' | sed 's/^ *//' >"$tmp/bench-all.txt"
	sed 's/^/      /' "$tmp/bench-all.txt"
	if tr '\r' '\n' <"$tmp/bench-all.raw" | grep -qiE 'error|ERR '; then
		fail "redis-benchmark -q ($label) reported errors: $(tr '\r' '\n' <"$tmp/bench-all.raw" | grep -iE 'error|ERR ' | head -3 | tr '\n' ' ')"
		return
	fi
	if ((status != 0)); then
		fail "redis-benchmark -q ($label) exited with status $status: $(tr '\r' '\n' <"$tmp/bench-all.raw" | grep -v '^ *$' | tail -3 | tr '\n' ' ')"
		return
	fi
	local ran missing=() test
	ran=$(sed -E 's/: [0-9.]+ requests per second.*//' "$tmp/bench-all.txt")
	for test in "${DEFAULT_TESTS[@]}"; do
		grep -qxF -- "$test" <<<"$ran" || missing+=("$test")
	done
	if ((${#missing[@]} > 0)); then
		fail "redis-benchmark -q ($label): default tests missing from its output: ${missing[*]}"
		return
	fi
	echo "    ok: redis-benchmark -q $label: all $(wc -l <"$tmp/bench-all.txt") default tests x $DEFAULT_BENCH_REQUESTS requests, no errors"
}

variants=("1 loop|-loops 1" "2 loops|-loops 2 -balance round-robin" "portable engine, 2 loops|-stdlib -loops 2")
for entry in "${variants[@]}"; do
	name=${entry%%|*}
	read -r -a flags <<<"${entry#*|}"
	variant_failures=0
	bench_line=
	echo "== $name (${flags[*]})"
	if start_redis "${flags[@]}"; then
		benchmark "over TCP" -h 127.0.0.1 -p "$port"
		tcp_line=$bench_line
		benchmark_defaults "over TCP" -h 127.0.0.1 -p "$port"
		benchmark_defaults "over TCP, pipeline 16" -h 127.0.0.1 -p "$port" -P 16
		cli FLUSHALL >/dev/null
		cli_checks
		stop_redis
	fi
	if ((variant_failures == 0)); then
		summary+=("PASS  $name: redis-cli checks ok; redis-benchmark -q default tests ok; redis-benchmark -P $BENCH_PIPELINE req/s: $tcp_line")
	else
		summary+=("FAIL  $name: $variant_failures failed checks")
		failures=$((failures + variant_failures))
	fi
done

# The unix socket under load, once.
variant_failures=0
echo "== unix socket, 2 loops"
if start_redis -loops 2; then
	benchmark "over the unix socket" -s "$tmp/redis.sock"
	stop_redis
fi
if ((variant_failures == 0)); then
	summary+=("PASS  unix socket: redis-benchmark -P $BENCH_PIPELINE req/s: $bench_line")
else
	summary+=("FAIL  unix socket: $variant_failures failed checks")
	failures=$((failures + variant_failures))
fi

# TLS: the server with -port 0 beside -tls-port free serves TLS only, as
# Redis with port 0 and a tls-port, plus its plain unix socket. The
# certificates are the examples' testcert, written by a tiny go run: go is
# here, openssl may not be.
tls_dir=$tmp/tls
tls_ok=1
if ! mkdir -p "$tls_dir" || ! go run ./examples/redis-server/internal/certfiles "$tls_dir"; then
	tls_ok=0
fi

# start_tls_redis FLAGS...: starts the server with TLS on a free port and
# sets tls_port from its "listening on tls://" line.
start_tls_redis() {
	rm -f "$tmp/server.log"
	"$tmp/redis-server" -bind 127.0.0.1 -port 0 -tls-port free -tls-cert-file "$tls_dir/server.crt" \
		-tls-key-file "$tls_dir/server.key" -tls-ca-cert-file "$tls_dir/ca.crt" -tls-auth-clients yes \
		-unixsocket "$tmp/redis.sock" "$@" >"$tmp/server.log" 2>&1 &
	server_pid=$!
	local line=
	for _ in $(seq 100); do
		line=$(grep -m1 -E 'listening on tls://' "$tmp/server.log" 2>/dev/null)
		[[ -n $line ]] && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -z $line ]]; then
		fail "TLS server did not start: $(tr '\n' ' ' <"$tmp/server.log")"
		kill -KILL "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
		return 1
	fi
	tls_port=$(sed -E 's#.*listening on tls://[^ ]*:([0-9]+) .*#\1#' <<<"$line")
	echo "  server pid $server_pid: $line"
	tls_flags
	if grep -q 'listening on tcp' "$tmp/server.log"; then
		fail "-port 0 beside -tls-port still serves a plain port: $(tr '\n' ' ' <"$tmp/server.log")"
	fi
}

# tls_flags are redis-cli's and redis-benchmark's flags for the TLS port,
# with the client certificate.
tls_flags() { tls_args=(--tls --cacert "$tls_dir/ca.crt" --cert "$tls_dir/client.crt" --key "$tls_dir/client.key" -h 127.0.0.1 -p "$tls_port"); }
tcli() { timeout 20 redis-cli "${tls_args[@]}" "$@"; }

# tls_benchmark LABEL [redis-benchmark flags]: redis-benchmark --tls -t
# set,get must exit 0, report no error, and a rate above 0 for both.
tls_benchmark() {
	local label=$1
	shift
	redis_benchmark "--tls $label" 2 "${tls_args[@]}" -t set,get "$@" || return
	bench_line+=$bench_rates
	echo "    ok: redis-benchmark --tls $label: set,get without errors"
}

for entry in "2 loops|-loops 2 -balance round-robin" "portable engine, 2 loops|-stdlib -loops 2"; do
	name="TLS, ${entry%%|*}"
	read -r -a flags <<<"${entry#*|}"
	variant_failures=0
	bench_line=
	echo "== $name (${flags[*]})"
	if ((tls_ok == 0)); then
		fail "could not write the test certificates with go run ./examples/redis-server/internal/certfiles"
	elif start_tls_redis "${flags[@]}"; then
		expect_eq "redis-cli --tls PING" PONG "$(tcli PING)"
		expect_eq "redis-cli --tls SET" OK "$(tcli SET tls:greeting 'hello over TLS')"
		expect_eq "redis-cli --tls GET" "hello over TLS" "$(tcli GET tls:greeting)"
		expect_eq "the plain unix socket sees the same keyspace" "hello over TLS" "$(timeout 20 redis-cli -s "$tmp/redis.sock" GET tls:greeting)"
		expect_eq "redis-cli --tls INCR" 1 "$(tcli INCR tls:counter)"
		expect_eq "redis-cli --tls CONFIG GET tls-port" $'tls-port\n'"$tls_port" "$(tcli CONFIG GET tls-port)"
		# A client without a certificate, and one speaking plain RESP,
		# get no PONG on the TLS port.
		out=$(timeout 20 redis-cli --tls --cacert "$tls_dir/ca.crt" -h 127.0.0.1 -p "$tls_port" PING 2>&1)
		if [[ $out == *PONG* ]]; then
			fail "redis-cli --tls without a client certificate got PONG under -tls-auth-clients yes"
		else
			echo "    ok: redis-cli --tls without a client certificate refused: $(tr '\n' ' ' <<<"$out")"
		fi
		out=$(timeout 20 redis-cli -h 127.0.0.1 -p "$tls_port" PING 2>&1)
		if [[ $out == *PONG* ]]; then
			fail "plain redis-cli got PONG from the TLS port"
		else
			echo "    ok: plain redis-cli on the TLS port refused: $(tr '\n' ' ' <<<"$out")"
		fi
		tls_benchmark "-n 2000" -n 2000
		tls_benchmark "-n 20000 -P 16" -n 20000 -P 16
		expect_eq "redis-cli --tls PING after the benchmarks" PONG "$(tcli PING)"
		stop_redis
	fi
	if ((variant_failures == 0)); then
		summary+=("PASS  $name: redis-cli --tls checks ok; redis-benchmark --tls req/s: $bench_line")
	else
		summary+=("FAIL  $name: $variant_failures failed checks")
		failures=$((failures + variant_failures))
	fi
done

# aof_writer PORT PROGRESS: sends SET key:i value:i one at a time over bash's
# /dev/tcp and counts the +OK replies; it writes the count to PROGRESS every
# 100 replies and when the connection breaks.
aof_writer() {
	local acked=0 reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	while printf 'SET key:%d value:%d\r\n' $((acked + 1)) $((acked + 1)) >&3 2>/dev/null &&
		IFS= read -r -t 10 reply <&3 2>/dev/null && [[ $reply == $'+OK\r' ]]; do
		acked=$((acked + 1))
		((acked % 100 == 0)) && echo "$acked" >"$2"
	done
	echo "$acked" >"$2.final"
}

# verify_acked N WHEN: checks that the running server holds key:1..N with
# value:1..N, the SETs acknowledged before WHEN, and nothing more than one
# SET in flight besides.
verify_acked() {
	local acked=$1 first last keys_now keys
	seq -f 'value:%.0f' 1 "$acked" >"$tmp/want.txt"
	# MGET in batches, so no command line grows too long.
	: >"$tmp/got.txt"
	for ((first = 1; first <= acked; first += 1000)); do
		last=$((first + 999 > acked ? acked : first + 999))
		mapfile -t keys < <(seq -f 'key:%.0f' "$first" "$last")
		cli --raw MGET "${keys[@]}" >>"$tmp/got.txt"
	done
	if cmp -s "$tmp/want.txt" "$tmp/got.txt"; then
		echo "    ok: all $acked acknowledged SETs survived $2"
	else
		fail "acknowledged SETs lost after $2: $(diff "$tmp/want.txt" "$tmp/got.txt" | head -5 | tr '\n' ' ')"
	fi
	keys_now=$(cli DBSIZE)
	if ((keys_now < acked || keys_now > acked + 1)); then
		fail "DBSIZE $keys_now after replay, want $acked (or one more SET in flight)"
	else
		echo "    ok: DBSIZE $keys_now after replay"
	fi
}

variant_failures=0
echo "== append-only file, appendfsync always, kill -9"
aof=$tmp/appendonly.aof
acked=0
if start_redis -loops 2 -aof "$aof" -appendfsync always; then
	aof_writer "$port" "$tmp/progress" &
	writer_pid=$!
	for _ in $(seq 200); do
		[[ -s $tmp/progress ]] && (($(cat "$tmp/progress") >= 1000)) && break
		sleep 0.05
	done
	if [[ -e $tmp/progress.final ]]; then
		fail "the writer stopped before the kill: $(cat "$tmp/progress.final") SETs"
	fi
	kill_server
	wait "$writer_pid" 2>/dev/null
	writer_pid=
	acked=$(cat "$tmp/progress.final" 2>/dev/null || echo 0)
	echo "    killed the server with SIGKILL after $acked acknowledged SETs ($(wc -c <"$aof") bytes of log)"
	if ((acked < 100)); then
		fail "only $acked SETs acknowledged before the kill"
	fi
	if start_redis -loops 1 -aof "$aof" -appendfsync always; then
		verify_acked "$acked" "the kill"
		stop_redis
	fi
fi
if ((variant_failures == 0)); then
	summary+=("PASS  append-only file: $acked acknowledged SETs all present after kill -9 and restart")
else
	summary+=("FAIL  append-only file: $variant_failures failed checks")
	failures=$((failures + variant_failures))
fi

variant_failures=0
echo "== append-only file, appendfsync everysec, SIGTERM"
aof=$tmp/appendonly-everysec.aof
acked=0
rm -f "$tmp/progress" "$tmp/progress.final"
if start_redis -loops 2 -aof "$aof" -appendfsync everysec; then
	aof_writer "$port" "$tmp/progress" &
	writer_pid=$!
	for _ in $(seq 200); do
		[[ -s $tmp/progress ]] && (($(cat "$tmp/progress") >= 1000)) && break
		sleep 0.05
	done
	stop_redis # SIGTERM; fails unless the server exits 0
	wait "$writer_pid" 2>/dev/null
	writer_pid=
	acked=$(cat "$tmp/progress.final" 2>/dev/null || echo 0)
	echo "    stopped the server with SIGTERM after $acked acknowledged SETs"
	if ((acked < 100)); then
		fail "only $acked SETs acknowledged before SIGTERM"
	fi
	if start_redis -loops 1 -aof "$aof" -appendfsync everysec; then
		verify_acked "$acked" "SIGTERM"
		stop_redis
	fi
fi
if ((variant_failures == 0)); then
	summary+=("PASS  append-only file, everysec: SIGTERM exits 0; $acked acknowledged SETs all present after restart")
else
	summary+=("FAIL  append-only file, everysec: $variant_failures failed checks")
	failures=$((failures + variant_failures))
fi

echo
echo "redis-clients summary ($((SECONDS - START))s):"
printf '  %s\n' "${summary[@]}"
if ((failures > 0)); then
	echo "redis-clients: FAIL ($failures failed checks)"
	exit 1
fi
echo "redis-clients: PASS"
