#!/usr/bin/env bash
# An interface of the right name but no roamd socket: `roam show` and
# `roam doctor` must say what it is instead of "no interface". The case that
# matters is a kernel WireGuard interface, which
# `WG_QUICK_USERSPACE_IMPLEMENTATION=roamd wg-quick up` makes on a kernel with
# the wireguard module (wg-quick tries `ip link add type wireguard` first).
# Where the kernel has no such module, that case prints SKIP and the same
# code path is checked with a veth, whose kind the message names instead.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
[ -x "$ROAM" ] || t_abort "build/roam is missing (run make)"

A=$(rt_name a) K=$(rt_name k) V=$(rt_name v) P=$(rt_name p)
t_check "namespace" ns_create "$A" || t_finish

# one_clear_line NAME WORDS CMD... — CMD exits non-zero, prints nothing on
# stdout and one line on stderr holding WORDS (a grep pattern).
one_clear_line() {
	local words=$1 rc
	shift
	"$@" >"$RT_TMP/out" 2>"$RT_TMP/err"
	rc=$?
	cat "$RT_TMP/err"
	[ "$rc" -ne 0 ] && [ ! -s "$RT_TMP/out" ] && [ "$(wc -l <"$RT_TMP/err")" -eq 1 ] &&
		grep -q "$words" "$RT_TMP/err" && ! grep -q "no interface" "$RT_TMP/err"
}

if ip -n "$A" link add "$K" type wireguard 2>"$RT_TMP/modprobe"; then
	t_check "roam show on kernel WireGuard: says roamd does not run it" \
		one_clear_line "is a kernel WireGuard interface: roamd does not run it" nsx "$A" "$ROAM" show "$K"
	t_check "roam doctor on kernel WireGuard: says roamd does not run it" \
		one_clear_line "is a kernel WireGuard interface: roamd does not run it" nsx "$A" "$ROAM" doctor "$K" --wait 0
else
	echo "SKIP kernel WireGuard: 'ip link add type wireguard' failed here ($(tr '\n' ' ' <"$RT_TMP/modprobe")); no wireguard module in kernel $(uname -r)"
fi

ip -n "$A" link add "$V" type veth peer name "$P"
t_check "roam show on a veth of that name: names its kind, not 'no interface'" \
	one_clear_line "is a veth interface, not a WireGuard one" nsx "$A" "$ROAM" show "$V"
t_check "roam doctor on a veth of that name: one clear line, exit 1" \
	one_clear_line "is a veth interface, not a WireGuard one" nsx "$A" "$ROAM" doctor "$V" --wait 0
t_check "roam show on a name nothing has: still 'no interface'" \
	bash -c "ip netns exec '$A' '$ROAM' show '${RT_PFX}zz' 2>&1 | grep -q 'no interface'"
t_finish
