#!/usr/bin/env bash
# redis-tls.sh measures server CPU per Redis request over TLS: the
# repository's examples/redis-server (one loop, GOMAXPROCS=1) beside a real
# redis-server 7 with TLS, both loaded by `redis-benchmark --tls` (see
# README.md, "Redis over TLS").
#
#   benchmarks/redis-tls.sh                    # 5 rounds, about 2 minutes
#   ROUNDS=3 DURATION=3 benchmarks/redis-tls.sh
#
# The servers run on CPU 0 and redis-benchmark on CPU 1 (SERVER_CPU,
# LOAD_CPU). Server CPU is utime+stime from /proc/PID/stat over the
# measured redis-benchmark run, divided by the requests it made. The
# results land in benchmarks/results/<date>_<time>-redis-tls.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
repo="$(cd "$here/.." && pwd)"
readonly repo
readonly server_cpu="${SERVER_CPU:-0}"
readonly load_cpu="${LOAD_CPU:-1}"
readonly rounds="${ROUNDS:-5}"
# DURATION is the target length in seconds of one measured
# redis-benchmark run (SET then GET); N is sized from a calibration run.
readonly duration="${DURATION:-4}"
readonly clients=50
readonly workloads=(P1 P16)
readonly servers=(evio-example redis-server)
readonly cipher=TLS_AES_128_GCM_SHA256

tmp=""
srv_pid=""
srv_port=""

die() {
	echo "redis-tls.sh: $*" >&2
	exit 1
}

log() {
	echo "redis-tls.sh: $*" >&2
}

# cleanup ends the server still running, by its PID, and removes the
# temporary directory.
cleanup() {
	stop_server
	if [[ -n "$tmp" ]]; then
		rm -rf "$tmp"
	fi
}

stop_server() {
	if [[ -n "$srv_pid" ]]; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 50; i++)); do
			kill -0 "$srv_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
		srv_pid=""
	fi
}

# free_port prints a loopback port the kernel reports free.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# cmd records a command line in the results' command log and runs it.
cmd() {
	printf '%s\n' "$*" >>"$tmp/commands.log"
	"$@"
}

ping_server() {
	timeout 5 redis-cli --tls --cacert "$tmp/crt" -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG
}

# start_server NAME starts a fresh server on CPU 0, sets srv_pid and
# srv_port, and waits until it answers PING over TLS.
start_server() {
	local name="$1" i
	: >"$tmp/server.log"
	case "$name" in
	evio-example)
		printf '%s\n' "GOMAXPROCS=1 taskset -c $server_cpu $tmp/redis-example -bind 127.0.0.1 -port 0 -loops 1 -tls-port free -tls-cert-file $tmp/crt -tls-key-file $tmp/key -tls-ca-cert-file $tmp/crt -tls-auth-clients no" >>"$tmp/commands.log"
		GOMAXPROCS=1 taskset -c "$server_cpu" "$tmp/redis-example" -bind 127.0.0.1 -port 0 -loops 1 \
			-tls-port free -tls-cert-file "$tmp/crt" -tls-key-file "$tmp/key" -tls-ca-cert-file "$tmp/crt" \
			-tls-auth-clients no >"$tmp/server.log" 2>&1 &
		srv_pid=$!
		srv_port=""
		for ((i = 0; i < 100; i++)); do
			srv_port="$(sed -n 's|^listening on tls://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$tmp/server.log")"
			[[ -n "$srv_port" ]] && break
			kill -0 "$srv_pid" 2>/dev/null || break
			sleep 0.1
		done
		[[ -n "$srv_port" ]] || die "the example printed no tls port: $(cat "$tmp/server.log")"
		printf '# %s\n' "$(grep '^listening on' "$tmp/server.log")" >>"$tmp/commands.log"
		;;
	redis-server)
		srv_port="$(free_port)"
		printf '%s\n' "taskset -c $server_cpu redis-server --port 0 --tls-port $srv_port --bind 127.0.0.1 --tls-cert-file $tmp/crt --tls-key-file $tmp/key --tls-ca-cert-file $tmp/crt --tls-auth-clients no --tls-ciphersuites $cipher --save '' --appendonly no --daemonize no" >>"$tmp/commands.log"
		taskset -c "$server_cpu" redis-server --port 0 --tls-port "$srv_port" --bind 127.0.0.1 \
			--tls-cert-file "$tmp/crt" --tls-key-file "$tmp/key" --tls-ca-cert-file "$tmp/crt" \
			--tls-auth-clients no --tls-ciphersuites "$cipher" \
			--save '' --appendonly no --daemonize no >"$tmp/server.log" 2>&1 &
		srv_pid=$!
		;;
	esac
	for ((i = 0; i < 100; i++)); do
		ping_server "$srv_port" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	die "$name does not answer PING on port $srv_port: $(tail -5 "$tmp/server.log")"
}

# cpu_ticks prints utime+stime of the server, all its threads, in clock ticks.
cpu_ticks() {
	local stat
	stat="$(cat "/proc/$srv_pid/stat")" || die "server $srv_pid is gone"
	# Fields after the command name, which is in parentheses: utime is
	# field 14, stime 15 of the whole line, so 12 and 13 after ") ".
	stat="${stat##*) }"
	awk '{ print $12 + $13 }' <<<"$stat"
}

# bench P N OUT runs redis-benchmark on CPU 1 against the current server.
bench() {
	local pipeline="$1" n="$2" out="$3"
	cmd timeout $((duration * 15 + 30)) taskset -c "$load_cpu" redis-benchmark --tls --cacert "$tmp/crt" \
		-h 127.0.0.1 -p "$srv_port" -t set,get -n "$n" -c "$clients" -P "$pipeline" -q >"$out" 2>&1 ||
		die "redis-benchmark failed: $(tail -c 400 "$out")"
	tr '\r' '\n' <"$out" | grep -E '^(SET|GET): [0-9.]+ requests per second' >"$out.final" || true
	[[ "$(wc -l <"$out.final")" -eq 2 ]] || die "redis-benchmark printed no SET and GET results: $(tail -c 400 "$out")"
}

# rate N OUT prints the requests per second of the whole run: both
# tests' requests over both tests' time.
rate() {
	awk -v n="$1" '{ t += n / $2 } END { printf "%.0f", 2 * n / t }' "$2.final"
}

# stats prints "median [min–max]" of the numbers on stdin.
stats() {
	sort -g | awk -v f="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "**" f "** [" f "–" f "]", m, v[1], v[NR] }'
}

main() {
	local tool
	for tool in go redis-server redis-benchmark redis-cli taskset openssl python3 timeout; do
		command -v "$tool" >/dev/null || die "missing $tool (apt-get install -y redis-server redis-tools util-linux openssl python3)"
	done
	((server_cpu != load_cpu)) || die "SERVER_CPU and LOAD_CPU must differ"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	tmp="$(mktemp -d)"
	: >"$tmp/commands.log"
	local started stamp load_start t0
	started="$(date '+%Y-%m-%d %H:%M:%S %Z')"
	stamp="$(date +%Y-%m-%d_%H%M%S)"
	load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$SECONDS

	log "building examples/redis-server into $tmp"
	(cd "$repo" && echo "cd $repo" >>"$tmp/commands.log" && cmd go build -o "$tmp/redis-example" ./examples/redis-server)
	cmd openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 \
		-keyout "$tmp/key" -out "$tmp/crt" 2>"$tmp/openssl.log" || die "openssl: $(cat "$tmp/openssl.log")"

	# What each server negotiates with an OpenSSL client (redis-benchmark
	# uses OpenSSL too): both must say TLS 1.3, AES-128-GCM.
	local name wl pipeline n r i
	: >"$tmp/negotiated"
	for name in "${servers[@]}"; do
		start_server "$name"
		printf '%s: %s\n' "$name" "$(cmd timeout 10 openssl s_client -connect "127.0.0.1:$srv_port" -CAfile "$tmp/crt" -brief </dev/null 2>&1 |
			grep -E 'Protocol version|Ciphersuite|Temp Key|Verification' | tr '\n' ' ')" >>"$tmp/negotiated"
		stop_server
	done
	cat "$tmp/negotiated" >&2

	# Calibration: N per workload so that one run lasts about DURATION
	# seconds at the mean rate of the two servers.
	declare -A nreq
	for wl in "${workloads[@]}"; do
		pipeline="${wl#P}"
		local cal=$((20000 * pipeline)) sum=0
		for name in "${servers[@]}"; do
			start_server "$name"
			bench "$pipeline" "$cal" "$tmp/cal.out"
			sum=$((sum + $(rate "$cal" "$tmp/cal.out")))
			stop_server
		done
		nreq[$wl]=$(((sum * duration / 4 + 999) / 1000 * 1000))
		log "$wl: -n ${nreq[$wl]} (mean calibration rate $((sum / 2)) req/s)"
	done

	# Rounds: in each, every workload on both servers back to back, the
	# order of the servers rotating by one each round.
	local tck cpu0 cpu1 order us rps
	tck="$(getconf CLK_TCK)"
	printf 'round\tworkload\tserver\tn\tcpu_ticks\tus_per_req\treq_per_s\tset_rps\tget_rps\n' >"$tmp/raw.tsv"
	for ((r = 1; r <= rounds; r++)); do
		order=("${servers[@]}")
		((r % 2 == 0)) && order=("${servers[1]}" "${servers[0]}")
		for wl in "${workloads[@]}"; do
			pipeline="${wl#P}"
			n="${nreq[$wl]}"
			for name in "${order[@]}"; do
				start_server "$name"
				printf '# round %d %s %s (warm-up, then the measured run)\n' "$r" "$wl" "$name" >>"$tmp/commands.log"
				bench "$pipeline" $((n / 10)) "$tmp/warm.out"
				cpu0="$(cpu_ticks)"
				bench "$pipeline" "$n" "$tmp/run.out"
				cpu1="$(cpu_ticks)"
				stop_server
				us="$(awk -v d=$((cpu1 - cpu0)) -v t="$tck" -v n="$n" 'BEGIN { printf "%.3f", d / t * 1e6 / (2 * n) }')"
				rps="$(rate "$n" "$tmp/run.out")"
				printf '%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n' "$r" "$wl" "$name" "$n" $((cpu1 - cpu0)) "$us" "$rps" \
					"$(awk '/^SET/ { print $2 }' "$tmp/run.out.final")" "$(awk '/^GET/ { print $2 }' "$tmp/run.out.final")" >>"$tmp/raw.tsv"
				printf '%s round %d %s: %s µs/req, %s req/s\n' "$name" "$r" "$wl" "$us" "$rps" | tee -a "$tmp/final.log" >&2
				{
					printf '  %s round %d %s -n %d:' "$name" "$r" "$wl" "$n"
					tr '\n' ' ' <"$tmp/run.out.final"
					echo
				} >>"$tmp/bench.log"
			done
		done
	done

	write_results "$stamp" "$started" "$load_start" $((SECONDS - t0)) "$tck"
}

# write_results writes results/<stamp>-redis-tls.md from raw.tsv.
write_results() {
	local stamp="$1" started="$2" load_start="$3" wall="$4" tck="$5"
	local out="$here/results/${stamp}-redis-tls.md" wl name
	mkdir -p "$here/results"
	{
		echo "# Redis over TLS $stamp-redis-tls"
		echo
		echo "Server CPU per Redis request over TLS: the repository's \`examples/redis-server\` (one loop, GOMAXPROCS=1) beside Debian's \`redis-server\`, both with TLS 1.3 AES-128-GCM, client auth off, persistence off, loaded by \`redis-benchmark --tls -t set,get -c $clients\`. Each cell: **median** [min–max] over $rounds rounds; in each round the two servers run back to back on each workload, their order alternating from round to round. Each measurement is a fresh server (redis-cli PING over TLS until it answers), a warm-up run of N/10, then the measured run."
		echo
		echo "CPU µs/req is utime+stime of the server process (all threads, /proc/PID/stat, $tck ticks/s) over the measured redis-benchmark run, divided by its 2N requests (N SET, N GET); it includes the TLS handshakes of redis-benchmark's $clients connections per test (100 per run). req/s is 2N over the two tests' times, from redis-benchmark's own rates. The paired ratios divide redis-server's figure by the example's in the same round and workload."
		echo
		echo "Run with:"
		echo
		echo '```'
		echo "benchmarks/redis-tls.sh   # ROUNDS=$rounds DURATION=$duration SERVER_CPU=$server_cpu LOAD_CPU=$load_cpu"
		echo '```'
		echo
		echo "| | |"
		echo "|---|---|"
		echo "| started | $started |"
		echo "| nproc --all | $(nproc --all) |"
		echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |"
		echo "| uname -r | $(uname -r) |"
		echo "| Go | $(go env GOVERSION) |"
		echo "| redis-server | $(redis-server --version) |"
		echo "| redis-benchmark | $(redis-benchmark --version) |"
		echo "| openssl | $(openssl version) |"
		echo "| evio revision | $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- . ':!benchmarks' 2>/dev/null || echo ' (modified)') |"
		echo "| pinning | servers on CPU $server_cpu (taskset), redis-benchmark on CPU $load_cpu; the example with GOMAXPROCS=1 -loops 1 |"
		echo "| settings | rounds $rounds, target run ${duration}s, $(for wl in "${workloads[@]}"; do printf '%s -n %s; ' "$wl" "${nreq[$wl]}"; done)-c $clients |"
		echo "| load average at start | $load_start |"
		echo "| load average at end | $(cut -d' ' -f1-3 /proc/loadavg) |"
		echo "| wall time | ${wall}s |"
		echo
		echo "Negotiated (openssl s_client against each server):"
		echo
		echo '```'
		cat "$tmp/negotiated"
		echo '```'
		echo
		echo "## Server CPU per request"
		echo
		echo "| workload | server | rounds | CPU µs/req | redis ÷ example, CPU/req, paired | req/s | redis ÷ example, req/s, paired |"
		echo "|---|---|---|---|---|---|---|"
		for wl in "${workloads[@]}"; do
			for name in "${servers[@]}"; do
				local cnt cpu rps rc rr
				cnt="$(awk -F'\t' -v w="$wl" -v s="$name" '$2 == w && $3 == s' "$tmp/raw.tsv" | wc -l)"
				cpu="$(awk -F'\t' -v w="$wl" -v s="$name" '$2 == w && $3 == s { print $6 }' "$tmp/raw.tsv" | stats '%.2f')"
				rps="$(awk -F'\t' -v w="$wl" -v s="$name" '$2 == w && $3 == s { print $7 }' "$tmp/raw.tsv" | stats '%.0f')"
				rc=""
				rr=""
				if [[ "$name" == redis-server ]]; then
					rc="$(paired "$wl" 6 | stats '%.2f')"
					rr="$(paired "$wl" 7 | stats '%.2f')"
				fi
				echo "| redis -P ${wl#P} | $name | $cnt | $cpu | $rc | $rps | $rr |"
			done
		done
		echo
		echo "<details><summary>every measurement</summary>"
		echo
		echo '```'
		column -t -s $'\t' "$tmp/raw.tsv"
		echo '```'
		echo
		echo "redis-benchmark's result lines:"
		echo
		echo '```'
		cat "$tmp/bench.log"
		echo '```'
		echo
		echo "</details>"
		echo
		echo "<details><summary>every command, in order (temporary directory $tmp, removed at exit)</summary>"
		echo
		echo '```'
		cat "$tmp/commands.log"
		echo '```'
		echo
		echo "</details>"
	} >"$out"
	log "wrote $out"
}

# paired WORKLOAD FIELD prints, per round, redis-server's FIELD over the
# example's.
paired() {
	awk -F'\t' -v w="$1" -v f="$2" '$2 == w { v[$1, $3] = $f; r[$1] = 1 }
		END { for (i in r) if ((i, "evio-example") in v && (i, "redis-server") in v && v[i, "evio-example"] > 0)
			print v[i, "redis-server"] / v[i, "evio-example"] }' "$tmp/raw.tsv"
}

main "$@"
