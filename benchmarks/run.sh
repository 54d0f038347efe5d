#!/usr/bin/env bash
# run.sh builds every benchmark server, the C floor and the load generator,
# runs the side-by-side comparison and draws its chart.
#
#   benchmarks/run.sh quick            # smoke run: 3 short rounds, about 4 minutes
#   benchmarks/run.sh full             # the comparison: 10 rounds, about 20 minutes
#   benchmarks/run.sh quick -workloads echo,http -servers evio,gnet,c-floor
#   BASELINE=0ad59c6 benchmarks/run.sh full   # this work tree against 0ad59c6
#   benchmarks/run.sh million          # 1,000,000 idle connections to evio, then gnet
#   benchmarks/run.sh million -n 200000 -servers evio,gnet,c-floor
#
# Extra arguments go to benchrun (bin/benchrun -h lists them). Results land
# in benchmarks/results/<date>_<time>-<mode>.{md,csv,json,log,png}; a full
# run also refreshes results/latest.png, the chart README.md shows.
# In million mode they go to manyconns (bin/manyconns -h), which writes
# results/<date>_<time>-million.{md,json}; it needs root: it raises
# fs.nr_open, fs.file-max, net.core.somaxconn, net.ipv4.tcp_max_syn_backlog
# (where lower than needed) and the run's descriptor limit, and puts the
# sysctls back on exit.
# The server runs on CPU 0 and the load on CPU 1 (SERVER_CPU, LOAD_CPU).
#
# BASELINE=<git revision> adds the row evio-baseline: that revision's own
# evio servers (benchmarks/servers/evio-*), built against that revision's
# library into bin/baseline-*, run in the same rounds as the work tree's, so
# every table gets evio's paired ratio to it (÷ baseline): the before/after
# figure a change to the hot path quotes. The revision is extracted with git
# archive into a temporary directory, removed on exit; the work tree is not
# touched. Such a run leaves results/latest.png as it is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly bin="$here/bin"
readonly results="$here/results"
readonly server_cpu="${SERVER_CPU:-0}"
readonly load_cpu="${LOAD_CPU:-1}"
readonly baseline="${BASELINE:-}"

driver_pid=""
# baseline_tree is the temporary copy of the BASELINE revision, while it
# exists; baseline_rev is that revision's short hash once its servers built.
baseline_tree=""
baseline_rev=""

die() {
	echo "run.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
	# The C io_uring floor is built on liburing.
	[[ -f /usr/include/liburing.h ]] || missing+=(liburing-dev)
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
	# The UDP echo once more with one recvfrom and one sendto per datagram:
	# the row evio-unbatched, what evio's UDP batches are measured against.
	(cd "$here" && go build -tags evio_nommsg -o "$bin/evio-udp-unbatched" ./servers/evio-udp)
	gcc -O2 -Wall -o "$bin/floor" "$here/cfloor/floor.c"
	gcc -O2 -Wall -o "$bin/uring-floor" "$here/cfloor/uring.c" -luring
	local ex
	for ex in http-server redis-server; do
		rm -f "$bin/example-$ex"
		if [[ -d "$here/../examples/$ex" ]]; then
			(cd "$here/.." && go build -o "$bin/example-$ex" "./examples/$ex") ||
				echo "run.sh: warning: examples/$ex does not build; running without it" >&2
		fi
	done
}

# build_baseline builds the evio servers of revision $BASELINE into
# bin/baseline-<proto>. Each is built inside the extracted revision's own
# benchmarks/ module, so that its replace => ../ resolves to that revision's
# library, not to the work tree's. Binaries of an earlier BASELINE run are
# removed first: benchrun adds the row whenever they exist.
build_baseline() {
	rm -f "$bin"/baseline-*
	[[ -n "$baseline" ]] || return 0
	local repo commit
	repo="$(git -C "$here" rev-parse --show-toplevel)" || die "BASELINE needs $here to be in a git repository"
	commit="$(git -C "$repo" rev-parse --verify --quiet "$baseline^{commit}")" ||
		die "BASELINE=$baseline is not a revision of $repo"
	baseline_rev="$(git -C "$repo" rev-parse --short "$commit")"
	baseline_tree="$(mktemp -d "${TMPDIR:-/tmp}/evio-baseline.XXXXXX")"
	echo "run.sh: building the evio servers of BASELINE=$baseline ($baseline_rev)"
	git -C "$repo" archive "$commit" | tar -x -C "$baseline_tree"
	local module="$baseline_tree/benchmarks"
	[[ -f "$module/go.mod" ]] || die "revision $baseline_rev has no benchmarks/go.mod"
	# A revision with benchmarks/go.work is a workspace of its own; an older
	# one is built as the lone module it is, whatever go.work sits above the
	# temporary directory or GOWORK names.
	local workspace=off
	if [[ -f "$module/go.work" ]]; then
		workspace="$module/go.work"
	fi
	local proto built=0
	for proto in echo http redis; do
		if [[ ! -d "$module/servers/evio-$proto" ]]; then
			echo "run.sh: warning: revision $baseline_rev has no benchmarks/servers/evio-$proto; no baseline for $proto" >&2
			continue
		fi
		(cd "$module" && GOWORK="$workspace" go build -o "$bin/baseline-$proto" "./servers/evio-$proto") ||
			die "benchmarks/servers/evio-$proto of revision $baseline_rev does not build"
		built=$((built + 1))
	done
	((built > 0)) || die "revision $baseline_rev has none of the evio servers; nothing to compare against"
	remove_baseline_tree
}

remove_baseline_tree() {
	if [[ -n "$baseline_tree" ]]; then
		rm -rf "$baseline_tree"
		baseline_tree=""
	fi
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
	local baseline_args=()
	if [[ -n "$baseline_rev" ]]; then
		baseline_args=(-baseline-rev "$baseline_rev")
	fi
	taskset -c "$load_cpu" "$bin/benchrun" -mode "$mode" -name "$name" -bin "$bin" -out "$results" \
		-server-cpu "$server_cpu" -load-cpu "$load_cpu" "${baseline_args[@]}" "$@" &
	driver_pid=$!
	wait "$driver_pid"
	driver_pid=""
}

# saved_sysctls holds "name=value" for every sysctl million mode changed,
# so that restore_sysctls can put them back.
saved_sysctls=()

# raise_sysctl sets sysctl $1 to $2 unless it is already at least $2 (the
# first number, for a multi-valued one), and remembers the old value.
raise_sysctl() {
	local name="$1" want="$2" path="/proc/sys/${1//.//}" old
	old="$(cat "$path")" || die "cannot read $name"
	if ((${old%%[[:space:]]*} >= want)); then
		return 0
	fi
	saved_sysctls+=("$name=$old")
	echo "$want" >"$path" || die "cannot set $name to $want (million mode needs root)"
	echo "run.sh: $name $old -> $want (restored on exit)"
}

restore_sysctls() {
	local i name
	for ((i = ${#saved_sysctls[@]} - 1; i >= 0; i--)); do
		name="${saved_sysctls[i]%%=*}"
		echo "${saved_sysctls[i]#*=}" >"/proc/sys/${name//.//}" &&
			echo "run.sh: $name restored to ${saved_sysctls[i]#*=}"
	done
	saved_sysctls=()
}

# raise_nofile_to raises the descriptor limit of the run (the client and
# the servers inherit it) to $2, for $1 connections. Above the hard limit
# that takes CAP_SYS_RESOURCE, which root in a container may lack: then the
# hard limit is used if it holds $1 and a margin, else the run stops and
# says why.
raise_nofile_to() {
	local n="$1" want="$2" hard
	hard="$(ulimit -Hn)"
	if [[ "$hard" != unlimited ]] && ((hard < want)); then
		if ! ulimit -Hn "$want" 2>/dev/null; then
			if ((hard < n + 1000)); then
				local caps
				caps="$(grep CapEff /proc/self/status | awk '{print $2}')"
				die "cannot raise the hard descriptor limit from $hard to $want (setrlimit needs CAP_SYS_RESOURCE; CapEff here is $caps). Run as root with that capability, or start the shell with a higher limit (LimitNOFILE=, docker --ulimit nofile=), or lower -n to $((hard - 1000)) at most"
			fi
			echo "run.sh: warning: the hard descriptor limit stays $hard (no CAP_SYS_RESOURCE); enough for -n $n" >&2
			want="$hard"
		fi
	fi
	ulimit -Sn "$want"
	echo "run.sh: RLIMIT_NOFILE soft $(ulimit -Sn), hard $(ulimit -Hn)"
}

# million runs cmd/manyconns: -n idle connections (default 1,000,000) to
# each server. Both the client and the server hold one descriptor per
# connection, so each needs RLIMIT_NOFILE above -n, which fs.nr_open caps;
# the machine holds two sockets per connection, which fs.file-max caps.
million() {
	local n=1000000 i args=("$@")
	for ((i = 0; i < ${#args[@]}; i++)); do
		case "${args[i]}" in
		-n | --n) n="${args[i + 1]:-}" ;;
		-n=* | --n=*) n="${args[i]#*=}" ;;
		esac
	done
	[[ "$n" =~ ^[0-9]+$ ]] || die "-n wants a number, not '$n'"
	local tool
	for tool in go gcc taskset; do
		command -v "$tool" >/dev/null || die "missing $tool"
	done
	check_cpus
	local start=$SECONDS name nofile=$((n + 65536))
	name="$(date +%Y-%m-%d_%H%M%S)-million"
	trap 'stop_driver; restore_sysctls' EXIT
	trap 'exit 130' INT TERM
	raise_sysctl fs.nr_open "$nofile"
	raise_sysctl fs.file-max $((2 * n + 1000000))
	raise_sysctl net.core.somaxconn 65535
	raise_sysctl net.ipv4.tcp_max_syn_backlog 65535
	raise_nofile_to "$n" "$nofile"
	mkdir -p "$bin"
	echo "run.sh: building into $bin"
	(cd "$here" && go build -o "$bin/" ./servers/evio-echo ./servers/gnet-echo ./servers/tidwall-echo ./cmd/manyconns)
	gcc -O2 -Wall -o "$bin/floor" "$here/cfloor/floor.c"
	# The client is pinned to the load CPU with one P, like the servers
	# on theirs; it pins each server itself.
	GOMAXPROCS=1 taskset -c "$load_cpu" "$bin/manyconns" -bin "$bin" -out "$results" -name "$name" \
		-server-cpu "$server_cpu" -script "benchmarks/run.sh million $*" "$@" &
	driver_pid=$!
	wait "$driver_pid"
	driver_pid=""
	echo "run.sh: million mode done in $((SECONDS - start)) s"
}

main() {
	(($# >= 1)) || usage
	local mode="$1"
	shift
	if [[ "$mode" == million ]]; then
		million "$@"
		return
	fi
	[[ "$mode" == quick || "$mode" == full ]] || usage

	local start=$SECONDS name
	name="$(date +%Y-%m-%d_%H%M%S)-$mode"
	check_tools
	check_cpus
	raise_nofile
	trap 'stop_driver; remove_baseline_tree' EXIT
	trap 'exit 130' INT TERM
	build
	build_baseline
	run_driver "$mode" "$name" "$@"
	"$bin/benchchart" -o "$results/$name.png" "$results/$name.json"
	# A BASELINE run compares two revisions of evio; the README's chart
	# compares evio with its peers, so it stays as it is.
	if [[ "$mode" == full && -z "$baseline_rev" ]]; then
		cp "$results/$name.png" "$results/latest.png"
	fi
	echo "run.sh: done in $((SECONDS - start)) s: $results/$name.md (chart $name.png, raw data $name.csv/.json, tool output $name.log)"
}

main "$@"
