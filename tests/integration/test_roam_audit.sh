#!/usr/bin/env bash
# roam audit on the corpus in tests/audit, and roam genkey/pubkey/genpsk,
# from the outside: exact output, exit status, file modes, and the rule
# that bad input gets exactly one line on stderr and a non-zero status.
#
# Corpus: tests/audit/NAME.conf has one problem each (clean*.conf none);
# tests/audit/expected/NAME.txt is the exact output of `roam audit NAME.conf`
# run from the directory holding the file. fleet-*.conf are audited together
# against expected/fleet.txt. The expected exit status follows from the
# severities in the expected output (error: 2, warning: 1, else 0), and
# `--json` must say the same as the text.
#
# The local-network checks read the machine's interfaces, so the audits run
# in a namespace whose only network is 198.51.100.0/24 and fd00:5::/64 (a
# veth to a second, empty namespace): the same findings on every host.
# The corpus is copied to the temp dir with mode 0600, except
# key-file-mode.conf (0644), whose problem is its mode.
# shellcheck disable=SC2317 # case functions are called through t_check
# shellcheck disable=SC2016 # sh -c scripts expand their own "$1"
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=$ROOT/build/roam
CORPUS=$ROOT/tests/audit
[ -x "$ROAM" ] || t_abort "build/roam is missing (run make)"
command -v wg >/dev/null || t_abort "wg is not installed (scripts/install-deps.sh)"

LAN=$(rt_name lan) FAR=$(rt_name far)
ns_create "$LAN" "$FAR" || t_abort "cannot create namespaces"
link_ns "$LAN" "$FAR" 198.51.100.1/24,fd00:5::1/64 198.51.100.2/24,fd00:5::2/64 ||
	t_abort "cannot link the namespaces"

WORK=$RT_TMP/audit
if ! mkdir -p "$WORK" || ! cp "$CORPUS"/*.conf "$WORK"/; then
	t_abort "cannot copy the corpus"
fi
chmod 600 "$WORK"/*.conf && chmod 644 "$WORK/key-file-mode.conf"
cd "$WORK" || t_abort "cannot enter $WORK"

# ---------------------------------------------------------------------------
# audit: the corpus

# The exit status an expected output implies.
expected_status() {
	if grep -q ': error: ' "$1"; then
		echo 2
	elif grep -q ': warning: ' "$1"; then
		echo 1
	else
		echo 0
	fi
}

# Rebuilds the text output from the JSON (and checks the counts), so the
# two formats can never drift apart.
JSON_TO_TEXT='
import json, sys
doc = json.load(open(sys.argv[1]))
files = sys.argv[2:]
assert doc["files"] == files, doc["files"]
n = {"error": 0, "warning": 0, "info": 0}
for f in doc["findings"]:
    assert set(f) == {"file", "line", "severity", "check", "message"}, f
    n[f["severity"]] += 1
    where = "%s:%d" % (f["file"], f["line"]) if f["line"] else f["file"]   # line 0: the whole file
    print("%s: %s: %s (%s)" % (where, f["severity"], f["message"], f["check"]))
assert (doc["errors"], doc["warnings"], doc["infos"]) == (n["error"], n["warning"], n["info"]), doc
def s(k, w): return "%d %s%s" % (k, w, "" if k == 1 else "s")
print("%s checked: %s, %s, %d info" % (s(len(files), "file"), s(n["error"], "error"), s(n["warning"], "warning"), n["info"]))
'

# audit_case NAME EXPECTED FILE... — text output equals EXPECTED, nothing on
# stderr, the status EXPECTED implies; --json is valid and says the same.
audit_case() {
	local name=$1 expected=$2 rc want
	shift 2
	want=$(expected_status "$expected")
	nsx "$LAN" "$ROAM" audit "$@" >"$RT_TMP/out" 2>"$RT_TMP/err"
	rc=$?
	if ! diff -u "$expected" "$RT_TMP/out" >"$RT_TMP/diff"; then
		t_fail "audit $name: output" "$(head -n 12 "$RT_TMP/diff" | tr '\n' ' ')"
	elif [ "$rc" -ne "$want" ]; then
		t_fail "audit $name: output" "exit $rc, want $want"
	elif [ -s "$RT_TMP/err" ]; then
		t_fail "audit $name: output" "stderr: $(head -n 3 "$RT_TMP/err")"
	else
		t_ok "audit $name: output and exit $rc"
	fi
	nsx "$LAN" "$ROAM" audit --json "$@" >"$RT_TMP/json" 2>"$RT_TMP/err"
	rc=$?
	if ! "$RT_PY" -m json.tool <"$RT_TMP/json" >/dev/null 2>"$RT_TMP/diff"; then
		t_fail "audit $name: --json" "not JSON: $(head -n 3 "$RT_TMP/diff" | tr '\n' ' ')"
	elif ! "$RT_PY" -c "$JSON_TO_TEXT" "$RT_TMP/json" "$@" >"$RT_TMP/fromjson" 2>"$RT_TMP/diff"; then
		t_fail "audit $name: --json" "$(tail -n 3 "$RT_TMP/diff" | tr '\n' ' ')"
	elif ! diff -u "$expected" "$RT_TMP/fromjson" >"$RT_TMP/diff"; then
		t_fail "audit $name: --json" "differs from the text: $(head -n 12 "$RT_TMP/diff" | tr '\n' ' ')"
	elif [ "$rc" -ne "$want" ]; then
		t_fail "audit $name: --json" "exit $rc, want $want"
	else
		t_ok "audit $name: --json"
	fi
	# Options after the files, as in show and doctor: the same answer.
	nsx "$LAN" "$ROAM" audit "$@" --json >"$RT_TMP/json.after" 2>"$RT_TMP/err"
	rc=$?
	if ! cmp -s "$RT_TMP/json" "$RT_TMP/json.after" || [ "$rc" -ne "$want" ]; then
		t_fail "audit $name: FILE... --json" "exit $rc: $(head -n 3 "$RT_TMP/err" "$RT_TMP/json.after" | tr '\n' ' ')"
	else
		t_ok "audit $name: FILE... --json"
	fi
}

for conf in *.conf; do
	name=${conf%.conf}
	case $name in fleet-*) continue ;; esac
	if [ -f "$CORPUS/expected/$name.txt" ]; then
		audit_case "$name" "$CORPUS/expected/$name.txt" "$conf"
	else
		t_fail "audit $name" "tests/audit/expected/$name.txt is missing"
	fi
done
audit_case fleet "$CORPUS/expected/fleet.txt" fleet-server.conf fleet-laptop.conf fleet-phone.conf

# Every expected output belongs to a corpus file (none silently unused).
unused=""
for exp in "$CORPUS"/expected/*.txt; do
	name=$(basename "$exp" .txt)
	[ "$name" = fleet ] || [ -f "$CORPUS/$name.conf" ] || unused="$unused $name"
done
if [ -z "$unused" ]; then t_ok "every expected output has its config"; else t_fail "expected outputs" "no config for:$unused"; fi

# Each corpus file shows its one problem: at most one check id per file
# (clean ones none), so a config that drifts into testing two things shows.
one_problem() {
	local exp ids
	for exp in "$CORPUS"/expected/*.txt; do
		[ "$(basename "$exp")" = fleet.txt ] && continue
		ids=$(sed -nE 's/.*\(([a-z0-9-]+)\)$/\1/p' "$exp" | sort -u | wc -l)
		[ "$ids" -le 1 ] || { echo "$exp: $ids different checks"; return 1; }
	done
	grep -q '(same-device-key)' "$CORPUS/expected/fleet.txt"
}
t_check "one problem per corpus file" one_problem

# The advice is a command to paste: a file name with a space and a quote
# comes out as one shell word.
advice_quoted() {
	local f="it's mine.conf"
	cp key-file-mode.conf "$f" && chmod 644 "$f" || return 1
	"$ROAM" audit "$f" >"$RT_TMP/out" 2>&1
	grep -qF "run chmod 600 'it'\\''s mine.conf'" "$RT_TMP/out" || { cat "$RT_TMP/out"; return 1; }
	# and the pasted command works
	eval "$(sed -nE "s/.*; run (chmod 600 .*) \(key-file-mode\)$/\1/p" "$RT_TMP/out")" &&
		[ "$(stat -c %a "$f")" = 600 ] && rm -f "$f"
}
t_check "chmod advice quotes the file name for the shell" advice_quoted

# ---------------------------------------------------------------------------
# audit and up agree: what audit passes without errors up does not refuse for
# its contents, and what up refuses for its contents audit calls an error.
up_agrees() {
	local conf err
	for conf in empty.conf binary.conf quoted-as-written.conf; do
		nsx "$LAN" "$ROAM" up "$conf" >/dev/null 2>"$RT_TMP/up.err" && { echo "roam up took $conf"; return 1; }
		err=$(cat "$RT_TMP/up.err")
		echo "$conf: $err"
		nsx "$LAN" "$ROAM" audit "$conf" >/dev/null 2>&1
		[ $? -eq 2 ] || { echo "audit $conf: not an error"; return 1; }
	done
}
t_check "roam up refuses the empty, binary and malformed files; audit calls each an error" up_agrees

# ---------------------------------------------------------------------------
# audit: options

skip_works() {
	nsx "$LAN" "$ROAM" audit --skip no-keepalive no-keepalive.conf >"$RT_TMP/out" || return 1
	[ "$(cat "$RT_TMP/out")" = "1 file checked: 0 errors, 0 warnings, 0 info" ] || return 1
	# (Two files from different devices: most of the corpus is one phone.)
	nsx "$LAN" "$ROAM" audit --skip=host-bits,duplicate-key host-bits.conf duplicate-key.conf >"$RT_TMP/out" &&
		[ "$(cat "$RT_TMP/out")" = "2 files checked: 0 errors, 0 warnings, 0 info" ]
}
t_check "audit --skip leaves findings out and exits 0" skip_works

help_documents() {
	"$ROAM" audit --help >"$RT_TMP/out" &&
		grep -q '^  3  usage problem' "$RT_TMP/out" &&
		grep -q '"errors": N, "warnings": N' "$RT_TMP/out" &&
		grep -q '^  same-allowed-ips ' "$RT_TMP/out" &&
		"$ROAM" help audit | cmp -s - "$RT_TMP/out"
}
t_check "audit --help documents exit codes, JSON and checks" help_documents

# The same file twice is one device, not two sharing a key.
audit_case_twice() {
	nsx "$LAN" "$ROAM" audit clean.conf clean.conf >"$RT_TMP/out" &&
		[ "$(cat "$RT_TMP/out")" = "1 file checked: 0 errors, 0 warnings, 0 info" ]
}
t_check "audit of one file given twice" audit_case_twice

# ---------------------------------------------------------------------------
# Bad input: one line on stderr naming the problem, nothing on stdout,
# a non-zero status (the given one when there is one).

# bad_input NAME WANT_STATUS PATTERN CMD... — PATTERN: a grep -E for the line.
bad_input() {
	local name=$1 want=$2 pattern=$3 rc lines
	shift 3
	"$@" >"$RT_TMP/out" 2>"$RT_TMP/err" </dev/null
	rc=$?
	lines=$(wc -l <"$RT_TMP/err")
	if [ "$rc" -eq 0 ] || { [ -n "$want" ] && [ "$rc" -ne "$want" ]; }; then
		t_fail "$name" "exit $rc, want ${want:-non-zero}"
	elif [ "$lines" -ne 1 ]; then
		t_fail "$name" "$lines lines on stderr: $(head -n 3 "$RT_TMP/err" | tr '\n' ' ')"
	elif ! grep -qE "$pattern" "$RT_TMP/err"; then
		t_fail "$name" "stderr does not say '$pattern': $(cat "$RT_TMP/err")"
	elif [ -s "$RT_TMP/out" ]; then
		t_fail "$name" "stdout not empty: $(head -c 200 "$RT_TMP/out")"
	else
		t_ok "$name: $(cat "$RT_TMP/err")"
	fi
}

mkdir -p "$RT_TMP/sub"
cp clean.conf "$RT_TMP/sub/private.conf" && chmod 600 "$RT_TMP/sub/private.conf"
bad_input "audit: missing file" 3 'missing\.conf.*No such file' "$ROAM" audit clean.conf missing.conf
bad_input "audit: a directory" 3 'sub.*directory' "$ROAM" audit "$RT_TMP/sub"
# root reads everything, so the unreadable case runs as nobody.
bad_input "audit: unreadable file" 3 'private\.conf.*Permission denied' \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ROAM" audit "$RT_TMP/sub/private.conf"
bad_input "audit: unknown option" 3 "unknown option '--jsn'" "$ROAM" audit --jsn clean.conf
bad_input "audit: no files" 3 'no files' "$ROAM" audit --json
bad_input "audit: --skip of an unknown check" 3 "unknown check 'nope'" "$ROAM" audit --skip nope clean.conf
bad_input "unknown command" 2 "unknown command 'frobnicate'" "$ROAM" frobnicate
bad_input "no command" 2 'no command' "$ROAM"
bad_input "help for an unknown command" 2 "unknown command 'nope'" "$ROAM" help nope
bad_input "genkey with an argument" 2 "unexpected argument 'x'" "$ROAM" genkey x

# pubkey_bad NAME INPUT — printf'd into roam pubkey.
pubkey_bad() {
	printf '%b' "$2" >"$RT_TMP/in"
	bad_input "pubkey: $1" 1 'not a private key|too long' sh -c '"$1" pubkey <"$2"' sh "$ROAM" "$RT_TMP/in"
}
pubkey_bad "garbage" 'garbage\n'
pubkey_bad "empty input" ''
pubkey_bad "43 characters" 'iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w\n'
pubkey_bad "padding bits set" 'iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32x=\n'
pubkey_bad "two keys" 'iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\niGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\n'
pubkey_bad "a NUL byte" 'iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\0\n'
head -c 5000 /dev/zero | tr '\0' A >"$RT_TMP/in"
bad_input "pubkey: 5000 bytes" 1 'too long' sh -c '"$1" pubkey <"$2"' sh "$ROAM" "$RT_TMP/in"

# ---------------------------------------------------------------------------
# genkey, pubkey, genpsk

# roam pubkey agrees with wg pubkey, on wg's keys and on roam's.
pubkey_matches_wg() {
	local i k
	for i in $(seq 1 20); do
		k=$(wg genkey)
		[ "$(echo "$k" | "$ROAM" pubkey)" = "$(echo "$k" | wg pubkey)" ] || { echo "differs for a wg key"; return 1; }
		k=$("$ROAM" genkey)
		[ "$(echo "$k" | "$ROAM" pubkey)" = "$(echo "$k" | wg pubkey)" ] || { echo "differs for a roam key"; return 1; }
	done
	# A fixed key (the corpus's phone), and whitespace around it.
	[ "$(printf '  iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\r\n' | "$ROAM" pubkey)" = \
		"pynksBofleQu26oW4cLK6yX44M8mAcriNB756oHaPi0=" ]
}
t_check "pubkey equals wg pubkey" pubkey_matches_wg

# 44 base64 characters of 32 bytes, different every time; genkey's clamped.
KEY_CHECK='
import base64, sys
keys = sys.stdin.read().split()
assert len(keys) == 20 and len(set(keys)) == 20, keys
for k in keys:
    b = base64.b64decode(k, validate=True)
    assert len(k) == 44 and len(b) == 32, k
    if sys.argv[1] == "clamped":
        assert b[0] & 7 == 0 and b[31] & 0x80 == 0 and b[31] & 0x40, k
'
keys_well_formed() {
	local _
	for _ in $(seq 1 20); do "$ROAM" genkey; done | "$RT_PY" -c "$KEY_CHECK" clamped &&
		for _ in $(seq 1 20); do "$ROAM" genpsk; done | "$RT_PY" -c "$KEY_CHECK" any
}
t_check "genkey and genpsk write distinct well-formed keys" keys_well_formed

# Under umask 077 the key file is 0600 and holds one key line.
genkey_0600() {
	local f=$RT_TMP/private.key
	rm -f "$f"
	(umask 077 && "$ROAM" genkey >"$f") || return 1
	[ "$(stat -c %a "$f")" = 600 ] || { echo "mode $(stat -c %a "$f")"; return 1; }
	[ "$(wc -l <"$f")" -eq 1 ] && wg pubkey <"$f" >/dev/null
}
t_check "genkey > file under umask 077: mode 0600" genkey_0600

# A file others can read is refused, and stays empty.
for cmd in genkey genpsk; do
	rm -f "$RT_TMP/open.key"
	touch "$RT_TMP/open.key" && chmod 644 "$RT_TMP/open.key"
	bad_input "$cmd refuses a 0644 file" 1 "refusing.*open\.key.*0644" sh -c '"$1" "$2" >"$3"' sh "$ROAM" "$cmd" "$RT_TMP/open.key"
	[ -s "$RT_TMP/open.key" ] && t_fail "$cmd refuses a 0644 file" "the file got a key"
	rm -f "$RT_TMP/open.key"
	bad_input "$cmd refuses a new file under umask 022" 1 "refusing.*0644" \
		sh -c 'umask 022 && "$1" "$2" >"$3"' sh "$ROAM" "$cmd" "$RT_TMP/open.key"
done

# Appending to a private file and writing into a pipe are fine.
genkey_private_targets() {
	local f=$RT_TMP/keys
	rm -f "$f"
	(umask 077 && : >"$f") && "$ROAM" genkey >>"$f" && "$ROAM" genpsk >>"$f" &&
		[ "$(wc -l <"$f")" -eq 2 ] && "$ROAM" genkey | wg pubkey >/dev/null
}
t_check "genkey appends to a 0600 file and writes into a pipe" genkey_private_targets

t_finish
