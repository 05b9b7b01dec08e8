#!/usr/bin/env bash
# The hardened build (Makefile, HARDEN=1) is really in build/roamd and
# build/roam: reads each ELF with readelf and fails when a protection is
# missing. It needs no namespace and no root, so it does not source lib.sh;
# its last line is the usual "test_hardening.sh: N passed, M failed".
#   PIE        ELF type DYN and the PIE flag: the base address is randomised
#   RELRO      a GNU_RELRO segment, and BIND_NOW: the GOT is resolved at start
#              and then read-only, so a write primitive cannot redirect calls
#   canary     __stack_chk_fail imported (-fstack-protector-strong)
#   FORTIFY    __*_chk imported (-D_FORTIFY_SOURCE=2 rewrote memcpy/snprintf...)
#   no exec stack  GNU_STACK is RW, not RWE
#   every object   each object of the sources (build/obj) carries the x86 CET
#              property (-fcf-protection), so none was left from a build
#              with other flags (the Makefile rebuilds on a change of flags)
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
no() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

command -v readelf >/dev/null || { no readelf "readelf (binutils) not found"; echo "test_hardening.sh: $pass passed, $fail failed"; exit 1; }
[ -x build/roamd ] && [ -x build/roam ] || make -s -j2 build/roamd build/roam >/dev/null 2>&1

for bin in build/roamd build/roam; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		no "$name built" "$bin is missing"
		continue
	fi
	hdr=$(readelf -hW "$bin")
	dyn=$(readelf -dW "$bin")
	seg=$(readelf -lW "$bin")
	syms=$(readelf --dyn-syms -W "$bin")
	if grep -Eq 'Type:[[:space:]]+DYN' <<<"$hdr" && grep -Eq 'FLAGS_1.*PIE' <<<"$dyn"; then
		ok "$name PIE"
	else
		no "$name PIE" "not a position-independent executable: $(grep Type: <<<"$hdr")"
	fi
	if grep -q GNU_RELRO <<<"$seg"; then ok "$name GNU_RELRO"; else no "$name GNU_RELRO" "no GNU_RELRO segment"; fi
	if grep -Eq '\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW' <<<"$dyn"; then ok "$name BIND_NOW"; else no "$name BIND_NOW" "lazy binding (no -z now)"; fi
	if grep -q '__stack_chk_fail' <<<"$syms"; then ok "$name stack protector"; else no "$name stack protector" "__stack_chk_fail not imported"; fi
	chk=$(grep -Eo '__[a-z_]+_chk' <<<"$syms" | grep -v '__stack_chk' | sort -u | tr '\n' ' ')
	if [ -n "$chk" ]; then ok "$name FORTIFY ($chk)"; else no "$name FORTIFY" "no __*_chk calls imported"; fi
	if grep -E 'GNU_STACK' <<<"$seg" | grep -q 'RWE'; then no "$name no exec stack" "GNU_STACK is RWE"; else ok "$name no exec stack"; fi
done
if [ "$(uname -m)" = x86_64 ]; then
	stale=""
	while IFS= read -r c; do
		o="build/obj/${c%.c}.o"
		[ -f "$o" ] || continue
		readelf -nW "$o" | grep -q 'IBT' || stale="$stale $o"
	done < <(find src -name '*.c')
	if [ -z "$stale" ]; then ok "every object built with the hardening flags (x86 IBT property)"; else no "every object built with the hardening flags" "without:$stale"; fi
fi
echo "test_hardening.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
