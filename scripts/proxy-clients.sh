#!/usr/bin/env bash
# proxy-clients.sh proves examples/tcp-proxy with real clients: redis-cli
# and redis-benchmark (set and get, plain and pipelined 16 deep) through the
# proxy to examples/redis-server, and curl (a page, a 1 MB upload echoed
# back) and wrk (pipelined 16 deep) through the proxy to
# examples/http-server, on 1 loop, 2 loops and the portable engine
# (-stdlib) of the proxy; then the same through the proxy terminating TLS
# (curl --cacert over HTTPS, redis-cli and redis-benchmark --tls), with a
# certificate openssl makes. It exits non-zero on any failure and prints a
# summary.
#
#   scripts/proxy-clients.sh
#   BENCH_REQUESTS=100000 WRK_DURATION=10s scripts/proxy-clients.sh
#
# Needs the Debian packages redis-tools, curl, wrk and openssl. Servers
# listen on 127.0.0.1 on a free port, read from the line each prints, and
# are stopped by PID.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
BENCH_REQUESTS=${BENCH_REQUESTS:-20000}
WRK_DURATION=${WRK_DURATION:-3s}
TLS_BENCH_REQUESTS=${TLS_BENCH_REQUESTS:-10000}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
START=$SECONDS

name=proxy-clients
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_tools "redis-tools curl wrk" redis-cli redis-benchmark curl wrk

tmp=$(mktemp -d "${TMPDIR:-/tmp}/proxy-clients.XXXXXX")
backend_pid=
cleanup() {
	local pid
	for pid in "$server_pid" "$backend_pid"; do
		if [[ -n $pid ]]; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "proxy-clients: building examples/tcp-proxy, examples/redis-server and examples/http-server"
for example in tcp-proxy redis-server http-server; do
	if ! go build -o "$tmp/$example" "./examples/$example"; then
		echo "proxy-clients: FAIL: build $example" >&2
		exit 1
	fi
done
head -c 1000000 /dev/urandom >"$tmp/upload.bin"

# start_behind PROXY_FLAGS -- BACKEND ARGS...: starts the backend, then
# the proxy in front of it; sets backend_pid and proxy_port. lib.sh's
# start_server and stop_server handle one server at a time: the backend's
# PID is kept aside while the proxy runs.
start_behind() {
	local proxy_flags=()
	while [[ $1 != -- ]]; do
		proxy_flags+=("$1")
		shift
	done
	shift
	start_server "$@" || return 1
	backend_pid=$server_pid
	local backend_port=$server_port
	mv "$tmp/server.log" "$tmp/backend.log"
	if ! start_server "$tmp/tcp-proxy" -bind 127.0.0.1 -port 0 -backend "127.0.0.1:$backend_port" "${proxy_flags[@]}"; then
		stop_behind
		return 1
	fi
	proxy_port=$server_port
}

# stop_behind stops the proxy, then the backend, checking both exit
# cleanly.
stop_behind() {
	stop_server "$tmp/no-socket"
	if [[ -n $backend_pid ]]; then
		server_pid=$backend_pid
		backend_pid=
		mv "$tmp/backend.log" "$tmp/server.log"
		stop_server "$tmp/no-socket"
	fi
}

# benchmark LABEL [redis-benchmark flags]: runs redis-benchmark set and get
# through the proxy and checks that both completed without errors.
benchmark() {
	local label=$1
	shift
	redis_benchmark "$label" 2 -h 127.0.0.1 -p "$proxy_port" -t set,get -n "$BENCH_REQUESTS" "$@" || return
	echo "    ok: redis-benchmark $label: set and get x $BENCH_REQUESTS requests, no errors"
	bench_line+="$label: $bench_rates"
}

redis_checks() {
	local cli=(timeout 20 redis-cli -h 127.0.0.1 -p "$proxy_port")
	expect_eq "redis-cli PING" PONG "$("${cli[@]}" PING)"
	expect_eq "redis-cli SET" OK "$("${cli[@]}" SET greeting "hello, proxy")"
	expect_eq "redis-cli GET" "hello, proxy" "$("${cli[@]}" GET greeting)"
	benchmark "plain"
	benchmark "-P 16" -P 16
}

http_checks() {
	local base="http://127.0.0.1:$proxy_port" c=(curl -sS --max-time 20) out
	out=$("${c[@]}" "$base/")
	expect_eq "curl GET /" "Hello, World!" "$out"
	out=$("${c[@]}" --data-binary @"$tmp/upload.bin" -o "$tmp/echo.out" -w '%{http_code}' "$base/echo")
	expect_eq "curl POST 1 MB: status" 200 "$out"
	if cmp -s "$tmp/upload.bin" "$tmp/echo.out"; then
		echo "    ok: curl POST 1 MB: echoed byte for byte"
	else
		fail "curl POST 1 MB: body differs ($(wc -c <"$tmp/echo.out") bytes)"
	fi
	if ! wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" \
		-s examples/http-server/pipeline.lua "$base/" >"$tmp/wrk.txt" 2>&1; then
		fail "wrk failed: $(tr '\n' ' ' <"$tmp/wrk.txt")"
		return
	fi
	sed 's/^/      /' "$tmp/wrk.txt"
	if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.txt"; then
		fail "wrk reported errors: $(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.txt" | tr '\n' ' ')"
		return
	fi
	rps=$(sed -nE 's/^Requests\/sec: *([0-9]+).*/\1/p' "$tmp/wrk.txt")
	if [[ -z $rps || $rps == 0 ]]; then
		fail "wrk: no requests per second reported"
		return
	fi
	echo "    ok: wrk pipelined x16 through the proxy: $rps req/s, no errors"
}

variants=("1 loop|-loops 1" "2 loops|-loops 2 -balance round-robin" "portable engine, 2 loops|-stdlib -loops 2")
for entry in "${variants[@]}"; do
	name=${entry%%|*}
	read -r -a flags <<<"${entry#*|}"
	variant_failures=0
	bench_line=
	rps=
	echo "== $name (proxy ${flags[*]})"
	echo "  -> examples/redis-server"
	if start_behind "${flags[@]}" -- "$tmp/redis-server" -bind 127.0.0.1 -port 0; then
		redis_checks
		stop_behind
	fi
	echo "  -> examples/http-server"
	if start_behind "${flags[@]}" -- "$tmp/http-server" -host 127.0.0.1 -port 0; then
		http_checks
		stop_behind
	fi
	if ((variant_failures == 0)); then
		summary+=("PASS  $name: redis-benchmark ${bench_line:-?}; wrk pipelined x16, -c$WRK_CONNECTIONS, $WRK_DURATION: ${rps:-?} req/s")
	else
		summary+=("FAIL  $name: $variant_failures failed checks")
		failures=$((failures + variant_failures))
	fi
done

# The proxy as a TLS terminator (-tls-cert-file, -tls-key-file): curl over
# HTTPS and redis-cli and redis-benchmark with --tls through it, to the
# same plain backends, with a throwaway self-signed certificate that the
# clients trust with --cacert.
tls_checks() {
	local cert=$tmp/tls.crt key=$tmp/tls.key
	if ! command -v openssl >/dev/null 2>&1; then
		fail "openssl not found: it makes the TLS certificate; install the Debian package openssl"
		return
	fi
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 -keyout "$key" -out "$cert" >"$tmp/openssl.log" 2>&1; then
		fail "openssl req: $(tr '\n' ' ' <"$tmp/openssl.log")"
		return
	fi
	local tls_flags=(-tls-cert-file "$cert" -tls-key-file "$key") out
	echo "  -> examples/redis-server"
	if start_behind "${flags[@]}" "${tls_flags[@]}" -- "$tmp/redis-server" -bind 127.0.0.1 -port 0; then
		local cli=(timeout 20 redis-cli --tls --cacert "$cert" -h 127.0.0.1 -p "$proxy_port")
		expect_eq "redis-cli --tls PING" PONG "$("${cli[@]}" PING 2>&1)"
		expect_eq "redis-cli --tls SET" OK "$("${cli[@]}" SET greeting "hello, TLS proxy" 2>&1)"
		expect_eq "redis-cli --tls GET" "hello, TLS proxy" "$("${cli[@]}" GET greeting 2>&1)"
		if redis_benchmark "--tls get" 1 --tls --cacert "$cert" -h 127.0.0.1 -p "$proxy_port" -t get -n "$TLS_BENCH_REQUESTS"; then
			tls_rps=${bench_rates#GET }
			tls_rps=${tls_rps% }
			echo "    ok: redis-benchmark --tls get x $TLS_BENCH_REQUESTS: $tls_rps requests per second, no errors"
		fi
		stop_behind
	fi
	echo "  -> examples/http-server"
	if start_behind "${flags[@]}" "${tls_flags[@]}" -- "$tmp/http-server" -host 127.0.0.1 -port 0; then
		local c=(curl -sS --max-time 20 --cacert "$cert") base="https://localhost:$proxy_port"
		expect_eq "curl --cacert https://localhost/" "Hello, World!" "$("${c[@]}" "$base/" 2>&1)"
		out=$("${c[@]}" --data-binary @"$tmp/upload.bin" -o "$tmp/echo.out" -w '%{http_code}' "$base/echo" 2>&1)
		expect_eq "curl --cacert POST 1 MB: status" 200 "$out"
		if cmp -s "$tmp/upload.bin" "$tmp/echo.out"; then
			echo "    ok: curl --cacert POST 1 MB: echoed byte for byte"
		else
			fail "curl --cacert POST 1 MB: body differs ($(wc -c <"$tmp/echo.out") bytes)"
		fi
		stop_behind
	fi
}

TLS_START=$SECONDS
for entry in "TLS, 1 loop|-loops 1" "TLS, portable engine|-stdlib -loops 2"; do
	name=${entry%%|*}
	read -r -a flags <<<"${entry#*|}"
	variant_failures=0
	tls_rps=
	echo "== $name (proxy ${flags[*]} -tls-cert-file -tls-key-file)"
	tls_checks
	if ((variant_failures == 0)); then
		summary+=("PASS  $name: redis-cli and curl over TLS; redis-benchmark --tls get: ${tls_rps:-?} req/s")
	else
		summary+=("FAIL  $name: $variant_failures failed checks")
		failures=$((failures + variant_failures))
	fi
done
echo "TLS section: $((SECONDS - TLS_START))s"

echo
echo "proxy-clients summary ($((SECONDS - START))s):"
printf '  %s\n' "${summary[@]}"
if ((failures > 0)); then
	echo "proxy-clients: FAIL ($failures failed checks)"
	exit 1
fi
echo "proxy-clients: PASS"
