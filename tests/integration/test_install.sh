#!/usr/bin/env bash
# make install / make uninstall into a DESTDIR: exactly the files promised
# (binaries, roam@.service, roam(8), roamd(8), bash completion) and nothing
# left after uninstall; the man pages render without a groff warning (and
# pass mandoc -Tlint where mandoc is installed) and name every option the
# --help texts list; roam --version matches roamd --version; the unit scores
# "OK" or better in systemd-analyze security; completion offers commands,
# options and interface names. Needs no root and no network namespace.
set -u
cd "$(dirname "$0")/../.." || exit 1
PASS=0 FAIL=0
TMP=$(mktemp -d /tmp/roam-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ok() { PASS=$((PASS + 1)); echo "ok $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1: $2"; }
check() {
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$name"; else bad "$name" "$(tail -n 8 "$TMP/out" | tr '\n' ' ')"; fi
}
D=$TMP/dest
EXPECTED="/usr/bin/roam
/usr/bin/roamd
/usr/lib/systemd/system/roam@.service
/usr/share/bash-completion/completions/roam
/usr/share/man/man8/roam.8
/usr/share/man/man8/roamd.8"

installs() {
	make -s install DESTDIR="$D" PREFIX=/usr >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; return 1; }
	(cd "$D" && find . -type f -o -type l | sed 's|^\.||' | sort) >"$TMP/files"
	cat "$TMP/files"
	diff <(echo "$EXPECTED") "$TMP/files"
}
check "make install DESTDIR PREFIX=/usr: exactly the 6 files" installs

versions() {
	local r d
	r=$("$D/usr/bin/roam" --version | head -n1) d=$("$D/usr/bin/roamd" --version | head -n1)
	echo "$r / $d"
	[ "${r#roam }" = "${d#roamd }" ] && [ -n "${r#roam }" ] && grep -q "roam ${r#roam }" "$D/usr/share/man/man8/roam.8"
}
check "roam --version = roamd --version = the man pages' version" versions

lint() {
	local m
	for m in roam roamd; do
		groff -ww -z -man "$D/usr/share/man/man8/$m.8" 2>&1 | tee "$TMP/lint.$m"
		[ ! -s "$TMP/lint.$m" ] || return 1
		if command -v mandoc >/dev/null; then
			mandoc -T lint -W warning "$D/usr/share/man/man8/$m.8" || return 1
		fi
		MANWIDTH=80 man -l "$D/usr/share/man/man8/$m.8" >"$TMP/$m.txt" 2>"$TMP/man.err" || return 1
		[ ! -s "$TMP/man.err" ] || { cat "$TMP/man.err"; return 1; }
	done
}
check "man pages: groff -ww (mandoc -Tlint if present) and man -l without a warning" lint

# Every --option and environment variable a --help text names is in its page.
documents_help() {
	local missing=0 w cmd
	for w in $("$D/usr/bin/roamd" --help | grep -oE -- '(^|[][ (|])--?[a-z][a-z-]*|\b[A-Z][A-Z_]{3,}[A-Z]\b' | sed 's/^[][ (|]//' | sort -u); do
		case $w in USER | INTERFACE-NAME | IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | CAP_* | NO_NEW_PRIVS | UAPI | AEAD | ICMP | MTU | UDP_SEGMENT | UDP_GRO | MAINPID | READY | STOPPING | WATCHDOG | TSO | GSO | GRO | TUN) continue ;; esac
		grep -qF -- "$w" "$TMP/roamd.txt" || { echo "roamd(8) lacks $w"; missing=1; }
	done
	for cmd in $("$D/usr/bin/roam" help | awk '/^  [a-z]/ {print $1}'); do
		grep -qE "^       $cmd( |$)" "$TMP/roam.txt" || { echo "roam(8) lacks the command $cmd"; missing=1; }
		for w in $("$D/usr/bin/roam" "$cmd" --help | grep -E '^Usage' -A1 | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			grep -qF -- "$w" "$TMP/roam.txt" || { echo "roam(8) lacks $cmd $w"; missing=1; }
		done
	done
	return $missing
}
check "the man pages name every command, option and variable of the --help texts" documents_help

unit_ok() {
	local u="$D/usr/lib/systemd/system/roam@.service" score
	grep -qx "ExecStart=/usr/bin/roam up %i" "$u" && grep -qx "ExecStop=/usr/bin/roam down %i" "$u" &&
		grep -qx "Type=notify" "$u" || return 1
	command -v systemd-analyze >/dev/null || { echo "no systemd-analyze"; return 1; }
	(cd "$(dirname "$u")" && systemd-analyze security --offline=yes --no-pager roam@.service) >"$TMP/sec" 2>&1
	score=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+) ([A-Z]+).*/\1 \2/p' "$TMP/sec")
	echo "systemd-analyze security: $score"
	echo "$score" >"$TMP/score"
	[ -n "$score" ] && awk -v s="${score% *}" 'BEGIN { exit !(s < 5.0) }'
}
check "roam@.service: roam up/down %i, Type=notify, exposure OK or better" unit_ok
[ -s "$TMP/score" ] && echo "  figures: systemd-analyze security --offline roam@.service: exposure $(cat "$TMP/score")"

completes() {
	mkdir -p "$TMP/sock" "$TMP/conf" && touch "$TMP/conf/wgconf.conf" &&
		python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/sock/wgsock.sock" || return 1
	# shellcheck disable=SC1091
	bash -c '
		. "$1"; _roam_socket_dir=$2; _roam_config_dir=$3
		complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _roam; echo "${COMPREPLY[*]}"; }
		[ "$(complete_words roam d)" = "down doctor" ] &&
		[ "$(complete_words roam doctor --j)" = "--json" ] &&
		[ "$(complete_words roam metrics --o)" = "--openmetrics" ] &&
		[ "$(complete_words roam show "")" = "wgconf wgsock" ] &&
		[ "$(complete_words roam down wgs)" = "wgsock" ] &&
		[ "$(complete_words roam metrics --compat = pr)" = "prometheus_wireguard_exporter" ] &&
		[ "$(complete_words roam metrics --compat =)" = "prometheus_wireguard_exporter" ] &&
		[ -z "$(complete_words roam show wgsock "")" ] || exit 1
		# Every option a --help usage line names is offered.
		for cmd in $("$4" help | awk "/^  [a-z]/ && \$1 != \"help\" {print \$1}"); do
			for w in $("$4" "$cmd" --help | grep -E "^Usage" -A1 | grep -oE -- "--[a-z][a-z-]*" | sort -u); do
				offered=" $(complete_words roam "$cmd" --) "
				[[ $offered == *" $w"[=\ ]* ]] || { echo "completion of roam $cmd lacks $w"; missing=1; }
			done
		done
		exit ${missing:-0}' _ "$D/usr/share/bash-completion/completions/roam" \
		"$TMP/sock" "$TMP/conf" "$D/usr/bin/roam"
}
check "bash completion: commands, options, interface names (sockets and configs)" completes

uninstalls() {
	make -s uninstall DESTDIR="$D" PREFIX=/usr || return 1
	local left
	left=$(find "$D" -mindepth 1)
	[ -z "$left" ] || { echo "left: $left"; return 1; }
}
check "make uninstall: no file and no directory left" uninstalls

echo "$(basename "$0"): $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
