#!/usr/bin/env bash
# roam up and roam down run hooks as root: from the config file (PreUp,
# PostUp, and PreDown/PostDown recorded for later) and from the ledger in
# the state directory. Each file they come from must be one no other user
# could have written (README, "What roam trusts"). Every refusal here is
# checked to leave nothing changed: no hook run (each would touch a marker
# file), no interface, no daemon, no socket, no ledger written or removed.
#
# /run/roam is shared with every other test running now, so this test
# points roam at a state directory of its own (ROAM_STATE_DIR, held to the
# same checks) and never touches the real one.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
[ -x "$ROAM" ] || t_abort "build/roam is missing (run make)"
[ -x "$(dirname "$ROAM")/roamd" ] || t_abort "build/roamd is missing (run make)"
id -u nobody >/dev/null 2>&1 || t_abort "no user 'nobody' to own files"

A=$(rt_name a)
WU=$(rt_name wu) WX=$(rt_name wx)
STATE=$RT_TMP/state		# roam creates it (0700) on the first up
MARK=$RT_TMP/marks		# a hook that runs leaves a file here

# roam ARGS... — roam inside A, with our own state directory.
roam() { nsx "$A" env ROAM_STATE_DIR="${ROAM_STATE_DIR:-$STATE}" timeout 30 "$ROAM" "$@"; }

# conf FILE [LINES...] — a new root-owned config: PrivateKey, Address, then
# LINES; mode 0600.
conf() {
	local f=$1
	shift
	rm -f "$f"
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$(key_file a)")"
		echo "Address = 198.18.0.1/24"
		printf '%s\n' "$@"
	} >"$f"
	chmod 600 "$f"
}
HOOKS=("PreUp = touch $MARK/pre_up" "PostUp = touch $MARK/post_up"
	"PreDown = touch $MARK/pre_down" "PostDown = touch $MARK/post_down")

no_marks() { [ -z "$(ls -A "$MARK")" ] || { ls "$MARK"; return 1; }; }
# Nothing of interface $1 anywhere: link, socket, daemon, ledger.
nothing_of() {
	! ip -n "$A" link show "$1" >/dev/null 2>&1 || { echo "link $1 exists"; return 1; }
	[ ! -e "$RT_WG_RUN/$1.sock" ] || { echo "socket $1 exists"; return 1; }
	! pgrep -f "roamd $1\$" >/dev/null || { echo "roamd $1 runs"; return 1; }
	[ ! -e "$STATE/$1.state" ] || { echo "ledger of $1 exists"; return 1; }
}
# refused WHAT CMD... — CMD exits 1 with "roam ...: ...WHAT" on stderr.
refused() {
	local what=$1 rc
	shift
	"$@" >"$RT_TMP/out" 2>"$RT_TMP/err"
	rc=$?
	cat "$RT_TMP/err"
	[ "$rc" -eq 1 ] && grep -q -- "$what" "$RT_TMP/err"
}

setup() {
	ns_create "$A" && wg_genkey a && mkdir -p "$MARK" "$RT_TMP/conf" && chmod 700 "$RT_TMP/conf"
}
t_check "lab comes up" setup || t_finish

# ---- roam up: the config file -------------------------------------------

# wg-quick's warning, and the tunnel still comes up; the state directory
# is made 0700 by roam.
warn_and_up() {
	local f=$RT_TMP/conf/$WU.conf
	conf "$f"
	chmod 644 "$f"
	roam up "$f" 2>"$RT_TMP/err" || { cat "$RT_TMP/err"; return 1; }
	cat "$RT_TMP/err"
	grep -q "^roam up: warning: $f holds a PrivateKey and is readable by its group and all other users (mode 0644)" \
		"$RT_TMP/err" &&
		ip -n "$A" link show "$WU" >/dev/null &&
		[ "$(stat -c '%a %U' "$STATE")" = "700 root" ] && [ -f "$STATE/$WU.state" ] &&
		roam down "$WU" && nothing_of "$WU"
}
t_check "world-readable config with a PrivateKey: warning on stderr, still up" warn_and_up

no_warning_when_private() {
	local f=$RT_TMP/conf/$WU.conf
	conf "$f"
	roam up "$f" 2>"$RT_TMP/err" || { cat "$RT_TMP/err"; return 1; }
	! grep -q warning "$RT_TMP/err" && roam down "$WU" && nothing_of "$WU"
}
t_check "a 0600 config: no warning" no_warning_when_private

# up_refused WHAT FILE — roam up FILE refused for WHAT, nothing changed.
up_refused() {
	refused "$1" roam up "$2" && no_marks && nothing_of "$(basename "$2" .conf)"
}

group_writable_hooks() {
	local f=$RT_TMP/conf/$WU.conf
	conf "$f" "${HOOKS[@]}"
	chmod 660 "$f"
	up_refused "refusing to run the hooks of $f: it is writable by its group (mode 0660)" "$f"
}
t_check "group-writable config with hooks: refused, nothing changed" group_writable_hooks

foreign_owner_hooks() {
	local f=$RT_TMP/conf/$WU.conf
	conf "$f" "${HOOKS[@]}"
	chown nobody "$f"
	up_refused "refusing to run the hooks of $f: it is owned by uid $(id -u nobody)" "$f"
}
t_check "config with hooks owned by another user: refused, nothing changed" foreign_owner_hooks

# Root's own 0600 file, but in a directory anyone may write: anyone could
# have put it there, or swap it.
open_directory_hooks() {
	local d=$RT_TMP/open f
	mkdir -p "$d" && chmod 777 "$d"
	f=$d/$WU.conf
	conf "$f" "${HOOKS[@]}"
	up_refused "refusing to run the hooks of $f: directory $d is writable by its group and all other users" "$f"
}
t_check "config with hooks in a world-writable directory: refused, nothing changed" open_directory_hooks

# A trusted file, reached through a symbolic link another user owns: its
# owner chose which file root reads (and could point it elsewhere).
foreign_symlink_hooks() {
	local f=$RT_TMP/conf/$WU.conf l=$RT_TMP/sticky/$WU.conf
	conf "$f" "${HOOKS[@]}"
	mkdir -p "$RT_TMP/sticky" && chmod 1777 "$RT_TMP/sticky" && ln -sfn "$f" "$l" && chown -h nobody "$l" &&
		up_refused "refusing to run the hooks of $l: $l is a symbolic link owned by uid $(id -u nobody)" "$l"
}
t_check "config with hooks behind a symbolic link another user owns: refused, nothing changed" foreign_symlink_hooks

# The control: the same hooks from a trusted file run, up and down.
trusted_hooks_run() {
	local f=$RT_TMP/conf/$WU.conf
	conf "$f" "${HOOKS[@]}"
	roam up "$f" && [ -e "$MARK/pre_up" ] && [ -e "$MARK/post_up" ] &&
		roam down "$WU" && [ -e "$MARK/pre_down" ] && [ -e "$MARK/post_down" ] && nothing_of "$WU" &&
		rm -f "$MARK"/*
}
t_check "the same hooks from a 0600 root file in a private directory run" trusted_hooks_run

# ---- roam down: the ledger ----------------------------------------------

# A ledger as roam up writes one (no interface ever made: down has only
# the hooks to run), in directory $1.
LEDGER_DIR=$RT_TMP/ledgers
ledger() {
	mkdir -p "$LEDGER_DIR" && chmod 700 "$LEDGER_DIR" && rm -f "$LEDGER_DIR/$WX.state" &&
		printf 'roam-state 1\ninterface %s\npre_down touch %s/pre_down\npost_down touch %s/post_down\n' \
			"$WX" "$MARK" "$MARK" >"$LEDGER_DIR/$WX.state" &&
		chmod 600 "$LEDGER_DIR/$WX.state" && chown root:root "$LEDGER_DIR/$WX.state"
}
# down_refused WHAT [STATE_DIR] — roam down refused for WHAT: no hook ran,
# the ledger is still there.
down_refused() {
	ROAM_STATE_DIR=${2:-$LEDGER_DIR} refused "$1" roam down "$WX" && no_marks && [ -f "$LEDGER_DIR/$WX.state" ]
}

symlinked_state_dir() {
	ledger && ln -sfn "$LEDGER_DIR" "$RT_TMP/link" &&
		down_refused "refusing $RT_TMP/link: it is a symbolic link" "$RT_TMP/link" &&
		ROAM_STATE_DIR=$RT_TMP/link up_refused "refusing $RT_TMP/link: it is a symbolic link" \
			"$(conf "$RT_TMP/conf/$WU.conf" "${HOOKS[@]}"; echo "$RT_TMP/conf/$WU.conf")"
}
t_check "symlinked state directory: down and up refused, nothing run" symlinked_state_dir

# A trusted state directory, reached through a link another user owns.
foreign_symlink_state_dir() {
	ledger && mkdir -p "$RT_TMP/sticky" && chmod 1777 "$RT_TMP/sticky" &&
		ln -sfn "$RT_TMP" "$RT_TMP/sticky/via" && chown -h nobody "$RT_TMP/sticky/via" &&
		down_refused "refusing $RT_TMP/sticky/via/ledgers: $RT_TMP/sticky/via is a symbolic link owned by uid $(id -u nobody)" \
			"$RT_TMP/sticky/via/ledgers"
}
t_check "state directory behind a symbolic link another user owns: down refused, nothing run" foreign_symlink_state_dir

foreign_ledger() {
	ledger && chown nobody "$LEDGER_DIR/$WX.state" &&
		down_refused "refusing $LEDGER_DIR/$WX.state: it is owned by uid $(id -u nobody)"
}
t_check "ledger owned by another user: refused, nothing run" foreign_ledger

writable_ledger() {
	ledger && chmod 620 "$LEDGER_DIR/$WX.state" &&
		down_refused "refusing $LEDGER_DIR/$WX.state: it is writable by its group (mode 0620)"
}
t_check "group-writable ledger: refused, nothing run" writable_ledger

symlinked_ledger() {
	ledger && mv "$LEDGER_DIR/$WX.state" "$LEDGER_DIR/elsewhere" &&
		ln -s "$LEDGER_DIR/elsewhere" "$LEDGER_DIR/$WX.state" &&
		down_refused "refusing $LEDGER_DIR/$WX.state: it is a symbolic link" &&
		rm -f "$LEDGER_DIR/$WX.state" "$LEDGER_DIR/elsewhere"
}
t_check "ledger that is a symbolic link: refused, nothing run" symlinked_ledger

open_state_dir() {
	ledger && chmod 755 "$LEDGER_DIR" &&
		down_refused "refusing $LEDGER_DIR: its mode is 0755, not 0700"
	local rc=$?
	chmod 700 "$LEDGER_DIR"
	return "$rc"
}
t_check "state directory of mode 0755: refused, nothing run" open_state_dir

foreign_state_dir() {
	ledger && chown nobody "$LEDGER_DIR" &&
		down_refused "refusing $LEDGER_DIR: it is owned by uid $(id -u nobody), not root"
	local rc=$?
	chown root "$LEDGER_DIR"
	return "$rc"
}
t_check "state directory owned by another user: refused, nothing run" foreign_state_dir

control_characters() {
	ledger && printf 'post_down touch %s/post_down\033]0;innocent\007\n' "$MARK" >>"$LEDGER_DIR/$WX.state" &&
		down_refused "$LEDGER_DIR/$WX.state:5: not a roam state record"
}
t_check "control characters in a recorded hook: refused, nothing run" control_characters

# The control: the same ledger, trusted, has its hooks run and is removed.
trusted_ledger_runs() {
	ledger && ROAM_STATE_DIR=$LEDGER_DIR roam down "$WX" &&
		[ -e "$MARK/pre_down" ] && [ -e "$MARK/post_down" ] && [ ! -e "$LEDGER_DIR/$WX.state" ] &&
		rm -f "$MARK"/*
}
t_check "the same ledger, trusted: its hooks run and it is removed" trusted_ledger_runs

t_check "the real /run/roam holds nothing of ours" \
	bash -c "! ls /run/roam/${RT_PFX}[a-z]*.state 2>/dev/null | grep -q ."
t_finish
