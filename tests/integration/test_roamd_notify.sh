#!/usr/bin/env bash
# systemd's notification protocol, with a python stand-in for systemd
# (notify_listen.py): roamd says MAINPID and READY=1 once up, WATCHDOG=1
# every half of WATCHDOG_USEC, STOPPING=1 at exit; the socket may be a path
# or an abstract name (@...); a WATCHDOG_PID of another process turns the
# watchdog off; under `roam up`, roam up says READY=1 when all is done and
# roamd only MAINPID and the watchdog (what roam@.service relies on).
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
ROAMD=$(dirname "$ROAM")/roamd
[ -x "$ROAM" ] && [ -x "$ROAMD" ] || t_abort "build/roam or build/roamd is missing (run make)"
LISTEN="$(dirname "$0")/notify_listen.py"
A=$(rt_name a) W1=$(rt_name wa) W2=$(rt_name wb) W3=$(rt_name wc) W4=$(rt_name wd)
trap 'rc=$?; rm -f "/run/roam/$W4.state"; (exit $rc); rt_on_exit' EXIT
t_check "namespace" ns_create "$A" || t_finish

# listen NAME ADDR — start a listener inside A writing $RT_TMP/NAME.log.
listen() {
	nsx "$A" "$RT_PY" "$LISTEN" "$2" "$RT_TMP/$1.log" 30 {RT_OUT}>&- {RT_ERR}>&- &
	RT_PIDS+=("$!")
	wait_until 5 grep -q listening "$RT_TMP/$1.log"
}
# seen LOG PATTERN — a datagram matching PATTERN (grep -E) arrived.
seen() { grep -Eq "$2" "$RT_TMP/$1.log"; }
# at_least LOG N PATTERN — N or more datagrams matching PATTERN arrived.
at_least() { [ "$(grep -Ec "$3" "$RT_TMP/$1.log")" -ge "$2" ]; }

# --- roamd alone, a path socket, a 1 s watchdog -------------------------------
ready_and_watchdog() {
	listen n1 "$RT_TMP/notify.sock" || return 1
	wg_start "$(rt_impl_with_env roamd-n1 "$ROAMD" NOTIFY_SOCKET="$RT_TMP/notify.sock" WATCHDOG_USEC=1000000)" \
		"$A" "$W1" || return 1
	local pid=${RT_PIDS[-1]}
	wait_until 5 seen n1 "READY=1" || { cat "$RT_TMP/n1.log"; return 1; }
	seen n1 "^[0-9.]+ $pid MAINPID=$pid\\|READY=1" || { echo "pid $pid"; head -3 "$RT_TMP/n1.log"; return 1; }
	# Four pings at about 0.5 s apart (half of WATCHDOG_USEC).
	wait_until 5 at_least n1 4 "WATCHDOG=1$" || { cat "$RT_TMP/n1.log"; return 1; }
	awk '/WATCHDOG=1$/ { if (prev) printf "%.3f\n", $1 - prev; prev = $1 }' "$RT_TMP/n1.log" >"$RT_TMP/gaps"
	echo "watchdog gaps (s), WATCHDOG_USEC=1000000: $(tr '\n' ' ' <"$RT_TMP/gaps")" | tee /dev/fd/"$RT_OUT"
	awk '$1 < 0.35 || $1 > 0.85 { bad = 1 } END { exit bad }' "$RT_TMP/gaps"
}
t_check "roamd -f: MAINPID+READY=1 once up, then WATCHDOG=1 every ~0.5 s for WATCHDOG_USEC=1 s" ready_and_watchdog

stopping() {
	local pid=${RT_PIDS[-1]}
	kill -TERM "$pid" && wait_until 5 seen n1 "STOPPING=1"
}
t_check "roamd says STOPPING=1 when it ends" stopping

abstract() {
	listen n2 "@${RT_PFX}notify" || return 1
	wg_start "$(rt_impl_with_env roamd-n2 "$ROAMD" NOTIFY_SOCKET="@${RT_PFX}notify")" "$A" "$W2" &&
		wait_until 5 seen n2 "READY=1" && ! seen n2 WATCHDOG
}
t_check "an abstract socket (@name) gets READY=1; no WATCHDOG_USEC, no pings" abstract

other_pid() {
	listen n3 "$RT_TMP/n3.sock" || return 1
	wg_start "$(rt_impl_with_env roamd-n3 "$ROAMD" NOTIFY_SOCKET="$RT_TMP/n3.sock" WATCHDOG_USEC=200000 WATCHDOG_PID=1)" \
		"$A" "$W3" && wait_until 5 seen n3 "READY=1" || return 1
	# Five periods of 100 ms pass without a ping.
	! wait_until 0.6 seen n3 WATCHDOG
}
t_check "WATCHDOG_PID of another process: no pings" other_pid

# --- under roam up ------------------------------------------------------------
under_roam_up() {
	local conf="$RT_TMP/$W4.conf" roamd_pid
	printf '[Interface]\nPrivateKey = %s\nAddress = 198.18.0.1/24\n' "$(wg genkey)" >"$conf"
	listen n4 "$RT_TMP/n4.sock" || return 1
	nsx "$A" env NOTIFY_SOCKET="$RT_TMP/n4.sock" WATCHDOG_USEC=1000000 WATCHDOG_PID=$$ \
		timeout 30 "$ROAM" up "$conf" || return 1
	roamd_pid=$(awk '$1 == "roamd" {print $2}' "/run/roam/$W4.state")
	wait_until 5 seen n4 "READY=1" && wait_until 5 seen n4 "^[0-9.]+ $roamd_pid WATCHDOG=1" || {
		cat "$RT_TMP/n4.log"; return 1; }
	cat "$RT_TMP/n4.log"
	# roamd: MAINPID only; roam up (another pid): READY=1, last.
	seen n4 "^[0-9.]+ $roamd_pid MAINPID=$roamd_pid\|STATUS" && ! seen n4 "^[0-9.]+ $roamd_pid .*READY" &&
		seen n4 "^[0-9.]+ [0-9]+ READY=1\|STATUS=$W4 up \(roamd pid $roamd_pid\)" &&
		[ "$(grep -n READY "$RT_TMP/n4.log" | cut -d: -f1)" -gt "$(grep -n MAINPID "$RT_TMP/n4.log" | cut -d: -f1)" ]
}
t_check "roam up: roamd says MAINPID and pings the watchdog, roam up says READY=1 at the end" under_roam_up
t_check "roam down" nsx "$A" timeout 30 "$ROAM" down "$W4"

t_finish
