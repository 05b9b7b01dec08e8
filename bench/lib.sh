# shellcheck shell=bash
# What the namespace benchmarks share. Source it after setting P (the name
# prefix of this run's namespaces and UAPI sockets), TMP (its scratch
# directory), PIDS (processes it started) and NSES (its namespaces).

# bench_cleanup — stop what the run started (TERM, then KILL once 2 s have
# passed), delete its namespaces, its UAPI sockets and its scratch directory.
# shellcheck disable=SC2317 # called by the EXIT trap
bench_cleanup() {
	local p ns i alive
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for ns in "${NSES[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
	done
	for ((i = 0; i < 40; i++)); do
		alive=""
		for ns in "${NSES[@]}"; do alive+=$(ip netns pids "$ns" 2>/dev/null); done
		[ -z "$alive" ] && break
		sleep 0.05
	done
	for ns in "${NSES[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -f /var/run/wireguard/"${P}"*.sock
	rm -rf "$TMP"
}

# until_ok SECONDS CMD... — poll every 50 ms, bounded.
until_ok() {
	local i max=$(($1 * 20))
	shift
	for ((i = 0; i < max; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
