#!/usr/bin/env bash
# http-clients.sh proves examples/http-server with real clients: curl
# (keep-alive over several URLs, chunked upload, Expect: 100-continue, HEAD,
# HTTP/1.0, OPTIONS *, refusals, unix socket), wrk pipelining 16 requests
# deep, and raw bash /dev/tcp clients for the timeouts (a slowloris head
# dribbled a byte at a time gets 408 at -header-timeout; a silent
# connection is closed at -keepalive-timeout without a byte), on 1 loop, 2
# loops and the portable engine (-stdlib). Then HTTPS (-tls-cert-file and
# -tls-key-file, a throwaway certificate made with openssl): curl verifying
# the certificate over one keep-alive connection, plain HTTP refused on the
# TLS port, and wrk over https://, on 1 loop and the portable engine. It
# exits non-zero on any failure and prints a summary.
#
#   scripts/http-clients.sh
#   WRK_DURATION=10s WRK_CONNECTIONS=64 WRK_TLS_DURATION=10s scripts/http-clients.sh
#
# Needs the Debian packages curl, wrk and openssl. Servers listen on 127.0.0.1 on a
# free port, read from the line the server prints, and are stopped by PID.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
WRK_DURATION=${WRK_DURATION:-3s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
WRK_TLS_DURATION=${WRK_TLS_DURATION:-2s}
START=$SECONDS

name=http-clients
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_tools "curl wrk openssl" curl wrk openssl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/http-clients.XXXXXX")
cleanup() {
	if [[ -n $server_pid ]]; then
		kill -KILL "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "http-clients: building examples/http-server"
if ! go build -o "$tmp/http-server" ./examples/http-server; then
	echo "http-clients: FAIL: build" >&2
	exit 1
fi
head -c 1000000 /dev/urandom >"$tmp/upload.bin"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$tmp/too-large.bin"
printf 'Hello, World!' >"$tmp/hello.txt"

# expect_file_eq DESCRIPTION WANT_FILE GOT_FILE
expect_file_eq() {
	if cmp -s "$2" "$3"; then
		echo "    ok: $1"
	else
		fail "$1: body differs ($(wc -c <"$3") bytes, want $(wc -c <"$2"))"
	fi
}

# expect_grep DESCRIPTION PATTERN FILE
expect_grep() {
	if grep -qiE "$2" "$3"; then
		echo "    ok: $1"
	else
		fail "$1: no '$2' in $(basename "$3")"
	fi
}

# start_http FLAGS...: starts the server on a free port and sets base.
start_http() {
	start_server "$tmp/http-server" -host 127.0.0.1 -port 0 -unixsocket "$tmp/http.sock" "$@" || return 1
	base="http://127.0.0.1:$server_port"
}

# stop_http stops the server and checks it exits cleanly and removes its
# socket file.
stop_http() { stop_server "$tmp/http.sock"; }

curl_checks() {
	local c=(curl -sS --max-time 20)
	local out

	out=$("${c[@]}" -o "$tmp/k1" -o "$tmp/k2" -o "$tmp/k3" -w '%{http_code}:%{num_connects} ' \
		"$base/" "$base/echo" "$base/missing")
	expect_eq "keep-alive: 3 URLs in one curl, one connection" "200:1 200:0 404:0 " "$out"
	expect_file_eq "keep-alive: GET / body" "$tmp/hello.txt" "$tmp/k1"
	expect_eq "keep-alive: empty echo" "0" "$(wc -c <"$tmp/k2")"

	out=$("${c[@]}" -v -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/upload.bin" \
		-o "$tmp/chunked.out" -w '%{http_code}' "$base/echo" 2>"$tmp/chunked.err")
	expect_eq "chunked upload: status" 200 "$out"
	expect_grep "chunked upload: sent chunked" '^> Transfer-Encoding: chunked' "$tmp/chunked.err"
	expect_file_eq "chunked upload: 1 MB echoed" "$tmp/upload.bin" "$tmp/chunked.out"

	out=$("${c[@]}" -v -H 'Expect: 100-continue' --data-binary @"$tmp/upload.bin" \
		-o "$tmp/expect.out" -w '%{http_code}' "$base/echo" 2>"$tmp/expect.err")
	expect_eq "100-continue: status" 200 "$out"
	expect_grep "100-continue: got 100 Continue" '^< HTTP/1.1 100 Continue' "$tmp/expect.err"
	expect_file_eq "100-continue: 1 MB echoed" "$tmp/upload.bin" "$tmp/expect.out"

	out=$("${c[@]}" -H 'Expect: 100-continue' --data-binary @"$tmp/too-large.bin" \
		-o /dev/null -w '%{http_code}' "$base/echo")
	expect_eq "body over -maxbody: 413" 413 "$out"

	"${c[@]}" -I "$base/" >"$tmp/head.txt"
	expect_grep "HEAD: status" '^HTTP/1.1 200 OK' "$tmp/head.txt"
	expect_grep "HEAD: Content-Length" '^Content-Length: 13' "$tmp/head.txt"
	expect_grep "HEAD: Date" '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT' "$tmp/head.txt"

	out=$("${c[@]}" --http1.0 -D "$tmp/http10.txt" "$base/")
	expect_eq "HTTP/1.0: body" "Hello, World!" "$out"
	expect_grep "HTTP/1.0: Connection: close" '^Connection: close' "$tmp/http10.txt"

	out=$("${c[@]}" -X OPTIONS --request-target '*' -o /dev/null -w '%{http_code}' "$base/")
	expect_eq "OPTIONS *: 200" 200 "$out"
	out=$("${c[@]}" --request-target '*' -o /dev/null -w '%{http_code}' "$base/")
	expect_eq "GET *: 400" 400 "$out"
	out=$("${c[@]}" -H 'Transfer-Encoding: gzip' -H 'Content-Length:' --data-binary x -o /dev/null -w '%{http_code}' "$base/echo")
	expect_eq "Transfer-Encoding: gzip: 501" 501 "$out"

	out=$("${c[@]}" --unix-socket "$tmp/http.sock" "http://evio/")
	expect_eq "unix socket: body" "Hello, World!" "$out"
}

wrk_check() {
	if ! wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" \
		-s examples/http-server/pipeline.lua "$base/" >"$tmp/wrk.txt" 2>&1; then
		fail "wrk failed: $(tr '\n' ' ' <"$tmp/wrk.txt")"
		return
	fi
	sed 's/^/      /' "$tmp/wrk.txt"
	local checked bad requests
	checked=$(sed -nE 's/^pipeline-check: ([0-9]+) responses, ([0-9]+) bad$/\1/p' "$tmp/wrk.txt")
	bad=$(sed -nE 's/^pipeline-check: ([0-9]+) responses, ([0-9]+) bad$/\2/p' "$tmp/wrk.txt")
	requests=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$tmp/wrk.txt")
	rps=$(sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p' "$tmp/wrk.txt")
	if grep -q 'Socket errors' "$tmp/wrk.txt"; then
		fail "wrk: $(grep 'Socket errors' "$tmp/wrk.txt")"
	fi
	if grep -q 'Non-2xx' "$tmp/wrk.txt"; then
		fail "wrk: $(grep 'Non-2xx' "$tmp/wrk.txt")"
	fi
	if [[ -z $checked || -z $requests ]] || ((checked == 0 || bad != 0)); then
		fail "wrk: ${checked:-no} responses checked, ${bad:-?} bad"
	else
		echo "    ok: wrk pipelined x16: $requests responses, all 200 with the right body"
	fi
}

# The timeouts the servers run with: short, so that the timeout checks are
# quick, and long enough for every curl and wrk check.
HEADER_TIMEOUT_MS=1000
KEEPALIVE_TIMEOUT_MS=2000
# TIMEOUT_SLACK_MS is how late a timeout may act, as seen by the client.
TIMEOUT_SLACK_MS=${TIMEOUT_SLACK_MS:-3000}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# expect_timing DESCRIPTION START_MS WANT_MS: the time since START_MS must
# be at least WANT_MS (nothing may act early) and at most WANT_MS plus
# TIMEOUT_SLACK_MS.
expect_timing() {
	local took=$(($(now_ms) - $2))
	if ((took < $3)); then
		fail "$1 after ${took} ms, before the timeout of $3 ms"
	elif ((took > $3 + TIMEOUT_SLACK_MS)); then
		fail "$1 after ${took} ms, more than ${TIMEOUT_SLACK_MS} ms past the timeout of $3 ms"
	else
		echo "    ok: $1 after ${took} ms (timeout $3 ms)"
	fi
}

# timeout_checks uses bash's /dev/tcp as the raw client that curl cannot be.
timeout_checks() {
	local fd writer start head

	# Slowloris: a head a byte every 200 ms, which would take 10 s. The
	# 408 must come at the header timeout from the first byte, not later
	# for the bytes that follow it, and the connection then close.
	head=$'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: zzzzzzzzzzzzzzz\r\n\r\n'
	if ! exec {fd}<>"/dev/tcp/127.0.0.1/$server_port"; then
		fail "slowloris: cannot connect"
		return
	fi
	start=$(now_ms)
	printf '%s' "${head:0:1}" >&"$fd"
	(
		trap '' PIPE
		for ((i = 1; i < ${#head}; i++)); do
			sleep 0.2
			printf '%s' "${head:i:1}" >&"$fd" 2>/dev/null || exit 0
		done
	) &
	writer=$!
	timeout 20 cat <&"$fd" >"$tmp/slowloris.out" 2>/dev/null
	expect_timing "slowloris: 408 and close" "$start" "$HEADER_TIMEOUT_MS"
	kill "$writer" 2>/dev/null
	wait "$writer" 2>/dev/null
	exec {fd}>&-
	expect_grep "slowloris: 408 Request Timeout" '^HTTP/1.1 408 Request Timeout' "$tmp/slowloris.out"
	expect_grep "slowloris: Connection: close" '^Connection: close' "$tmp/slowloris.out"

	# A connection that sends nothing: closed at the keep-alive timeout,
	# without a byte (it started no request, so no 408).
	start=$(now_ms)
	if ! exec {fd}<>"/dev/tcp/127.0.0.1/$server_port"; then
		fail "silent connection: cannot connect"
		return
	fi
	timeout 20 cat <&"$fd" >"$tmp/silent.out" 2>/dev/null
	expect_timing "silent connection: closed" "$start" "$KEEPALIVE_TIMEOUT_MS"
	exec {fd}>&-
	expect_eq "silent connection: no bytes" 0 "$(wc -c <"$tmp/silent.out")"
}

variants=("1 loop|-loops 1" "2 loops|-loops 2 -balance round-robin" "portable engine, 2 loops|-stdlib -loops 2")
for entry in "${variants[@]}"; do
	name=${entry%%|*}
	read -r -a flags <<<"${entry#*|}"
	variant_failures=0
	rps=
	echo "== $name (${flags[*]})"
	if start_http "${flags[@]}" -header-timeout "${HEADER_TIMEOUT_MS}ms" -keepalive-timeout "${KEEPALIVE_TIMEOUT_MS}ms"; then
		curl_checks
		wrk_check
		timeout_checks
		stop_http
	fi
	if ((variant_failures == 0)); then
		summary+=("PASS  $name: curl and timeout checks ok; wrk pipelined x16, -c$WRK_CONNECTIONS, $WRK_DURATION: ${rps:-?} req/s")
	else
		summary+=("FAIL  $name: $variant_failures failed checks")
		failures=$((failures + variant_failures))
	fi
done

# HTTPS. The certificate is for localhost and 127.0.0.1, made here and
# valid for a day; curl trusts it as its own authority, wrk verifies
# nothing.
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 \
	-keyout "$tmp/tls.key" -out "$tmp/tls.crt" >"$tmp/openssl.log" 2>&1; then
	echo "http-clients: FAIL: openssl req: $(tr '\n' ' ' <"$tmp/openssl.log")" >&2
	exit 1
fi

tls_checks() {
	local c=(curl -sS --max-time 20 --cacert "$tmp/tls.crt" --resolve "localhost:$server_port:127.0.0.1")
	local https="https://localhost:$server_port" out

	out=$("${c[@]}" -v -o "$tmp/t1" -o "$tmp/t2" -w '%{http_code}:%{num_connects}:%{http_version} ' \
		"$https/" "$https/missing" 2>"$tmp/tls-curl.err")
	expect_eq "https keep-alive: 2 URLs in one curl, one connection, HTTP/1.1" "200:1:1.1 404:0:1.1 " "$out"
	expect_file_eq "https keep-alive: GET / body" "$tmp/hello.txt" "$tmp/t1"
	expect_grep "https keep-alive: curl re-used the connection" 'Re-using existing connection' "$tmp/tls-curl.err"
	expect_grep "https: ALPN chose http/1.1 over h2" 'ALPN: server accepted http/1.1' "$tmp/tls-curl.err"

	out=$("${c[@]}" --data-binary @"$tmp/upload.bin" -o "$tmp/tls-echo.out" -w '%{http_code}' "$https/echo")
	expect_eq "https upload: status" 200 "$out"
	expect_file_eq "https upload: 1 MB echoed" "$tmp/upload.bin" "$tmp/tls-echo.out"

	# Plain HTTP on the TLS port: the handshake fails and the connection
	# closes without a response (curl: empty reply, exit 52, or a reset).
	out=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$server_port/" 2>/dev/null)
	expect_eq "plain HTTP on the TLS port: no response" 000 "$out"
}

wrk_tls_check() {
	if ! wrk -t1 -c"$WRK_CONNECTIONS" -d"$WRK_TLS_DURATION" "https://127.0.0.1:$server_port/" >"$tmp/wrk-tls.txt" 2>&1; then
		fail "wrk over TLS failed: $(tr '\n' ' ' <"$tmp/wrk-tls.txt")"
		return
	fi
	sed 's/^/      /' "$tmp/wrk-tls.txt"
	local requests
	requests=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$tmp/wrk-tls.txt")
	rps=$(sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p' "$tmp/wrk-tls.txt")
	if grep -qE 'Socket errors|Non-2xx' "$tmp/wrk-tls.txt"; then
		fail "wrk over TLS: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk-tls.txt" | tr '\n' ' ')"
	elif [[ -z $requests ]] || ((requests == 0)); then
		fail "wrk over TLS: no requests answered"
	else
		echo "    ok: wrk over TLS: $(grep -E '^ *[0-9]+ requests in ' "$tmp/wrk-tls.txt" | sed 's/^ *//'), no errors"
	fi
}

tls_variants=("HTTPS, 1 loop|-loops 1" "HTTPS, portable engine, 2 loops|-stdlib -loops 2")
for entry in "${tls_variants[@]}"; do
	name=${entry%%|*}
	read -r -a flags <<<"${entry#*|}"
	variant_failures=0
	rps=
	echo "== $name (${flags[*]})"
	if start_http "${flags[@]}" -tls-cert-file "$tmp/tls.crt" -tls-key-file "$tmp/tls.key"; then
		tls_checks
		wrk_tls_check
		stop_http
	fi
	if ((variant_failures == 0)); then
		summary+=("PASS  $name: curl checks ok; wrk over https, -c$WRK_CONNECTIONS, $WRK_TLS_DURATION: ${rps:-?} req/s")
	else
		summary+=("FAIL  $name: $variant_failures failed checks")
		failures=$((failures + variant_failures))
	fi
done

echo
echo "http-clients summary ($((SECONDS - START))s):"
printf '  %s\n' "${summary[@]}"
if ((failures > 0)); then
	echo "http-clients: FAIL ($failures failed checks)"
	exit 1
fi
echo "http-clients: PASS"
