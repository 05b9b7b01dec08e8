#!/usr/bin/env bash
# Installs the Debian 12 packages roam needs.
#
#   scripts/install-deps.sh          what `make`, `make demo` and `make install` need
#   scripts/install-deps.sh --test   that and what `make test` and `make bench` need
#   --list                           print the packages instead of installing them
#
# The split keeps test-only packages off a user's machine: `make demo` must
# not install a Prometheus server. Test-only packages that ship a service
# (prometheus) are installed without starting it (policy-rc.d answers 101
# while apt runs) and their service is disabled afterwards; the script
# checks that none runs.
#
# `make test` runs this before every test run, so the common case (all present)
# must be quick and quiet: one dpkg-query call, no apt at all. Only when
# something is missing do we run `apt-get update` and install just the missing
# packages, non-interactively (CI has no stdin). Needs root only in that case.
set -euo pipefail

with_tests=0 list=0
for arg in "$@"; do
	case $arg in
	--test) with_tests=1 ;;
	--list) list=1 ;;	# print the packages, one a line, and stop
	*) echo "usage: $0 [--test] [--list]" >&2; exit 2 ;;
	esac
done

# Package  # why we need it. One per line so diffs stay readable.
packages=(
	build-essential     # gcc, make
	libssl-dev          # -lcrypto
	libmnl-dev          # -lmnl (netlink) for roamd and roam
	libcap-dev          # -lcap: roamd drops to an unprivileged user keeping two capabilities
	libseccomp-dev      # -lseccomp: roamd's system call allowlist
	libc-ares-dev       # -lcares: roamd resolves peers' host names itself, without blocking
	libmicrohttpd-dev   # -lmicrohttpd: `roam metrics --listen` serves Prometheus scrapes
	pkg-config
	iproute2            # ip netns / ip link: roam up, make demo
	iputils-ping        # ping through the tunnel (make demo)
	nftables            # nft: roam up's full-tunnel tables (roam-IFNAME); the demo's NAT routers
	conntrack           # inspect/flush NAT state (demo, roaming tests)
	wireguard-tools     # wg and wg-quick
	procps              # ps, pgrep, sysctl
	coreutils           # sha256sum, timeout, mktemp
	python3             # tests/integration/lib.sh (also sourced by the demo): TCP transfer with SHA-256 check
)
test_packages=(
	clang               # libFuzzer targets (tests/fuzz)
	libclang-rt-14-dev  # libFuzzer + ASan/UBSan runtimes for clang 14
	wireguard-go        # the reference userspace implementation we test against
	iperf3              # throughput benchmarks
	psmisc              # fuser, killall (diagnostics only)
	tcpdump             # capture on veths when a test needs to look at the wire
	dnsmasq-base        # a DNS server with short TTLs in the name-following test
	curl                # HTTP scrapes of `roam metrics --listen` and Prometheus's API
	prometheus          # promtool, and the server that scrapes `roam metrics --listen`
	#                   # (19 MB download; installed with its service kept from starting)
	python3-prometheus-client  # an OpenMetrics parser for `roam metrics --openmetrics`
	systemd             # systemd-analyze: test_install scores roam@.service offline (no running systemd needed)
	groff-base          # groff -ww: test_install lints the man pages
	man-db              # man -l: test_install renders them
)
# Test-only packages whose Debian package starts a service.
services=(prometheus)
[ "$with_tests" -eq 1 ] && packages+=("${test_packages[@]}")
if [ "$list" -eq 1 ]; then
	printf '%s\n' "${packages[@]}"
	exit 0
fi

# Which ones are not installed? dpkg-query prints "ii " for installed ones;
# unknown packages make it exit non-zero, hence the `|| true`.
missing=()
status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
	grep -qE "^$p ii" <<<"$status" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root: sudo $0"
command -v apt-get >/dev/null || die "apt-get not found; this script targets Debian 12"

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Wait for a dpkg lock held by someone else instead of failing at once;
# keep existing config files on upgrade; no progress bars in CI logs.
apt_opts=(-q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "install-deps: missing: ${missing[*]}"
if ! apt-get "${apt_opts[@]}" update >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	die "apt-get update failed"
fi
# No package may start a service while we install: invoke-rc.d and
# deb-systemd-invoke ask policy-rc.d, and 101 means "not now". One that is
# already there (e.g. a container's) is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# scripts/install-deps.sh: no service starts while it installs\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
trap 'rm -f "$log"; [ "$own_policy" -eq 0 ] || rm -f "$policy"' EXIT
if ! apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" </dev/null >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "apt-get install failed for: ${missing[*]}"
fi
# Nor start at the next boot: the tests run their own server in a namespace.
for svc in "${services[@]}"; do
	[[ " ${missing[*]} " == *" $svc "* ]] || continue
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
	elif command -v update-rc.d >/dev/null && [ -e "/etc/init.d/$svc" ]; then
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
	# The check: no such daemon runs as a service (a child of init).
	if pgrep -x -P 1 "$svc" >/dev/null; then
		die "$svc was started as a service by its package; stop it: systemctl disable --now $svc"
	fi
done

# Report what was installed, one line each, and verify it really is.
failed=()
for p in "${missing[@]}"; do
	v=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$p" 2>/dev/null || true)
	case $v in
	"ii "*) echo "install-deps: installed $p ${v#ii }" ;;
	*) failed+=("$p") ;;
	esac
done
[ ${#failed[@]} -eq 0 ] || die "still not installed after apt-get: ${failed[*]}"
