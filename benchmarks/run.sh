#!/usr/bin/env bash
# run.sh builds every benchmark server, the C floor and the load generator,
# runs the side-by-side comparison and draws its chart.
#
#   benchmarks/run.sh quick            # smoke run: 3 short rounds, about 4 minutes
#   benchmarks/run.sh full             # the comparison: 10 rounds, about 20 minutes
#   benchmarks/run.sh quick -workloads echo,http -servers evio,gnet,c-floor
#
# Extra arguments go to benchrun (bin/benchrun -h lists them). Results land
# in benchmarks/results/<date>_<time>-<mode>.{md,csv,json,log,png}; a full
# run also refreshes results/latest.png, the chart README.md shows.
# The server runs on CPU 0 and the load on CPU 1 (SERVER_CPU, LOAD_CPU).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly bin="$here/bin"
readonly results="$here/results"
readonly server_cpu="${SERVER_CPU:-0}"
readonly load_cpu="${LOAD_CPU:-1}"

driver_pid=""

die() {
	echo "run.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 2
}

# check_tools names the Debian packages of any missing tool, and stops.
check_tools() {
	local -A package=(
		[go]="golang (or Go from go.dev)" [gcc]=gcc [wrk]=wrk
		[redis-benchmark]=redis-tools [redis-server]=redis-server [taskset]=util-linux
	)
	local missing=() tool
	for tool in go gcc wrk redis-benchmark redis-server taskset; do
		command -v "$tool" >/dev/null || missing+=("${package[$tool]}")
	done
	if ((${#missing[@]})); then
		die "missing tools; install them with: apt-get install -y ${missing[*]}"
	fi
}

# check_cpus makes sure the server and the load get a CPU each.
check_cpus() {
	local n
	n="$(nproc --all)"
	((server_cpu != load_cpu)) || die "SERVER_CPU and LOAD_CPU must differ"
	((server_cpu < n && load_cpu < n)) || die "this machine has $n CPUs; set SERVER_CPU and LOAD_CPU"
}

# raise_nofile lifts the descriptor limit to the hard limit: the idle
# workload holds 10,000 connections, a descriptor each in the server and in
# the harness. Children inherit it.
raise_nofile() {
	ulimit -n "$(ulimit -Hn)"
	local n
	n="$(ulimit -n)"
	if [[ "$n" != unlimited ]] && ((n < 10100)); then
		echo "run.sh: warning: RLIMIT_NOFILE is $n; the idle workload needs 10,100 (lower it with -idle N)" >&2
	fi
}

# build compiles everything into bin/: the Go servers and tools of this
# module, the C floor, and the repository's example servers when they exist.
build() {
	mkdir -p "$bin"
	echo "run.sh: building into $bin"
	(cd "$here" && go build -o "$bin/" ./servers/... ./cmd/...)
	gcc -O2 -Wall -o "$bin/floor" "$here/cfloor/floor.c"
	local ex
	for ex in http-server redis-server; do
		rm -f "$bin/example-$ex"
		if [[ -d "$here/../examples/$ex" ]]; then
			(cd "$here/.." && go build -o "$bin/example-$ex" "./examples/$ex") ||
				echo "run.sh: warning: examples/$ex does not build; running without it" >&2
		fi
	done
}

# stop_driver ends the benchmark driver by its PID; the driver ends every
# server and load tool it started, by PID, and writes what it measured.
stop_driver() {
	if [[ -n "$driver_pid" ]] && kill -0 "$driver_pid" 2>/dev/null; then
		kill -TERM "$driver_pid" 2>/dev/null || true
		wait "$driver_pid" 2>/dev/null || true
	fi
}

# run_driver runs benchrun on the load CPU (the load tools it starts
# inherit that CPU; it pins each server to the server CPU itself).
run_driver() {
	local mode="$1" name="$2"
	shift 2
	taskset -c "$load_cpu" "$bin/benchrun" -mode "$mode" -name "$name" -bin "$bin" -out "$results" \
		-server-cpu "$server_cpu" -load-cpu "$load_cpu" "$@" &
	driver_pid=$!
	wait "$driver_pid"
	driver_pid=""
}

main() {
	(($# >= 1)) || usage
	local mode="$1"
	shift
	[[ "$mode" == quick || "$mode" == full ]] || usage

	local start=$SECONDS name
	name="$(date +%Y-%m-%d_%H%M%S)-$mode"
	check_tools
	check_cpus
	raise_nofile
	trap stop_driver EXIT
	trap 'exit 130' INT TERM
	build
	run_driver "$mode" "$name" "$@"
	"$bin/benchchart" -o "$results/$name.png" "$results/$name.json"
	if [[ "$mode" == full ]]; then
		cp "$results/$name.png" "$results/latest.png"
	fi
	echo "run.sh: done in $((SECONDS - start)) s: $results/$name.md (chart $name.png, raw data $name.csv/.json, tool output $name.log)"
}

main "$@"
