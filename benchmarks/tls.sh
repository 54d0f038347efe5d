#!/usr/bin/env bash
# tls.sh measures evio's TLS beside its peers: memory per idle TLS
# connection, full handshakes per server CPU-second, and server CPU per
# HTTPS keep-alive request under wrk (see README.md, "TLS").
#
#   benchmarks/tls.sh                      # all three parts, 5 rounds, about 12 minutes
#   benchmarks/tls.sh -parts https -rounds 3
#
# Extra arguments go to tlsbench (bin/tlsbench -h lists them). The results
# land in benchmarks/results/<date>_<time>-tls.md. The servers run on CPU 0
# and the client and wrk on CPU 1 (SERVER_CPU, LOAD_CPU).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly bin="$here/bin"
readonly server_cpu="${SERVER_CPU:-0}"
readonly load_cpu="${LOAD_CPU:-1}"
driver_pid=""

die() {
	echo "tls.sh: $*" >&2
	exit 1
}

# stop_driver ends tlsbench by its PID; it ends the servers it started,
# by PID, and removes its temporary directory.
stop_driver() {
	if [[ -n "$driver_pid" ]] && kill -0 "$driver_pid" 2>/dev/null; then
		kill -TERM "$driver_pid" 2>/dev/null || true
		wait "$driver_pid" 2>/dev/null || true
	fi
}

main() {
	local tool
	for tool in go wrk taskset openssl; do
		command -v "$tool" >/dev/null || die "missing $tool (apt-get install -y wrk util-linux openssl)"
	done
	command -v nginx >/dev/null ||
		echo "tls.sh: warning: no nginx (apt-get install -y nginx); the https part runs without it" >&2
	((server_cpu != load_cpu)) || die "SERVER_CPU and LOAD_CPU must differ"
	# The memory part holds its idle connections in the server and in the
	# client: two descriptors each.
	ulimit -n "$(ulimit -Hn)"
	trap stop_driver EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$bin"
	echo "tls.sh: building into $bin"
	(cd "$here" && go build -o "$bin/" ./servers/evio-echo ./servers/evio-http ./servers/net-http ./servers/net-tls-echo ./cmd/tlsbench)
	# The driver is the client: pinned to the load CPU with one P, like
	# the servers on theirs; wrk is pinned there too.
	cd "$here"
	GOMAXPROCS=1 taskset -c "$load_cpu" "$bin/tlsbench" -bin "$bin" -out "$here/results" \
		-server-cpu "$server_cpu" -load-cpu "$load_cpu" -idle 6000 -script "benchmarks/tls.sh $*" "$@" &
	driver_pid=$!
	wait "$driver_pid"
	driver_pid=""
}

main "$@"
