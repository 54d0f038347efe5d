#!/usr/bin/env bash
# syscalls.sh counts the system calls each server makes per request, outside
# the timed runs of run.sh: perf stat attached to the server (counting
# mode, which costs little) while a short load runs, divided by the
# requests the load completed. run.sh builds the servers first.
#
#   benchmarks/syscalls.sh                    # every server, every load
#   SERVERS="evio evio-uring" benchmarks/syscalls.sh
#
# Writes results/<date>_<time>-syscalls.md. Loopback only; the server on
# CPU 0, the load on CPU 1, as in run.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here bin="$here/bin"
readonly servers=${SERVERS:-"c-floor c-uring evio evio-uring gnet"}
readonly seconds=${SECONDS_PER_LOAD:-3}

die() { echo "syscalls.sh: $*" >&2; exit 1; }
for tool in perf wrk redis-benchmark taskset; do
	command -v "$tool" >/dev/null || die "needs $tool"
done
[[ -x "$bin/floor" && -x "$bin/uring-floor" && -x "$bin/evio-http" ]] || die "run benchmarks/run.sh first: it builds the servers into $bin"

# argv SERVER PROTO PORT: the server's command line.
argv() {
	local name=$1 proto=$2 port=$3
	case $name in
	c-floor) echo "$bin/floor -port $port -loops 1 -mode $proto" ;;
	c-uring) echo "$bin/uring-floor -port $port -loops 1 -mode $proto" ;;
	evio) echo "$bin/evio-$proto -port $port -loops 1" ;;
	evio-uring) echo "$bin/evio-$proto -port $port -loops 1 -engine uring" ;;
	gnet) echo "$bin/gnet-$proto -port $port -loops 1" ;;
	*) die "unknown server $name" ;;
	esac
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# count SERVER LOAD: prints system calls per request, and which ones.
count() {
	local name=$1 load=$2 proto port pid requests out
	case $load in
	http | http-pipelined) proto=http ;;
	redis-P1 | redis-P16) proto=redis ;;
	esac
	port=$(free_port)
	# shellcheck disable=SC2046 # the command line is words
	taskset -c 0 $(argv "$name" "$proto" "$port") >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	out=$(mktemp)
	perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_write \
		-p "$pid" -o "$out" -- sleep $((seconds + 1)) &
	local perf_pid=$!
	sleep 0.3
	case $load in
	http) requests=$(taskset -c 1 wrk -t1 -c50 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}') ;;
	http-pipelined) requests=$(taskset -c 1 wrk -t1 -c50 -d"${seconds}s" -s "$here/cmd/benchrun/pipeline.lua" "http://127.0.0.1:$port/" -- 16 2>/dev/null | awk '/requests in/ {print $1}') ;;
	redis-P1) requests=$(redis_requests 1 "$port") ;;
	redis-P16) requests=$(redis_requests 16 "$port") ;;
	esac
	wait "$perf_pid" || true
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	awk -F, -v req="$requests" -v srv="$name" -v load="$load" '
		$3 == "raw_syscalls:sys_enter" { all = $1 }
		$3 ~ /io_uring_enter/ { enter = $1 }
		$3 ~ /epoll_p?wait/ { ew += $1 }
		$3 ~ /enter_read$/ { rd = $1 }
		$3 ~ /enter_write$/ { wr = $1 }
		END {
			if (req <= 0) { printf "| %s | %s | no requests counted | | | | | |\n", load, srv; exit }
			printf "| %s | %s | %d | **%.3f** | %.3f | %.3f | %.3f | %.3f |\n", load, srv, req, all / req, enter / req, ew / req, rd / req, wr / req
		}' "$out"
	rm -f "$out"
}

# redis_requests P PORT: runs GET for the load's seconds and prints how
# many requests completed.
redis_requests() {
	local n=$((seconds * 150000 / ($1 == 1 ? 2 : 1)))
	taskset -c 1 redis-benchmark -p "$2" -c 50 -P "$1" -t get -n "$n" -q 2>/dev/null >/dev/null
	echo "$n"
}

stamp=$(date -u +%Y-%m-%d_%H%M%S)
result="$here/results/$stamp-syscalls.md"
{
	echo "# System calls per request: $stamp"
	echo
	echo "perf stat -e raw_syscalls:sys_enter (and the calls named below) attached to the server, pinned to CPU 0, during a ${seconds} s load on CPU 1 (wrk -t1 -c50; redis-benchmark -c 50 -t get), 50 connections; divided by the requests the load completed. Outside run.sh's timed rounds."
	echo
	echo "| load | server | requests | syscalls/req | io_uring_enter | epoll_wait, epoll_pwait | read | write |"
	echo "|---|---|---|---|---|---|---|---|"
	for load in http http-pipelined redis-P1 redis-P16; do
		for s in $servers; do
			count "$s" "$load"
		done
	done
} | tee "$result"
echo "syscalls.sh: $result"
