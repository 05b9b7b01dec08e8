#!/usr/bin/env bash
# Installs every Debian 12 package roam needs to build and test.
#
# `make test` runs this before every test run, so the common case (all present)
# must be quick and quiet: one dpkg-query call, no apt at all. Only when
# something is missing do we run `apt-get update` and install just the missing
# packages, non-interactively (CI has no stdin). Needs root only in that case.
set -euo pipefail

# Package  # why we need it. One per line so diffs stay readable.
packages=(
	build-essential     # gcc, make
	clang               # libFuzzer targets (tests/fuzz)
	libclang-rt-14-dev  # libFuzzer + ASan/UBSan runtimes for clang 14
	libssl-dev          # -lcrypto
	libmnl-dev          # -lmnl (netlink) for roamd and roam
	libcap-dev          # -lcap: roamd drops to an unprivileged user keeping two capabilities
	libseccomp-dev      # -lseccomp: roamd's system call allowlist
	libc-ares-dev       # -lcares: roamd resolves peers' host names itself, without blocking
	pkg-config
	iproute2            # ip netns / ip link / ss in integration tests
	iputils-ping        # ping through the tunnel
	nftables            # firewall rules in roaming/NAT tests
	conntrack           # inspect/flush NAT state in roaming tests
	wireguard-go        # the reference userspace implementation we test against
	wireguard-tools     # wg and wg-quick
	iperf3              # throughput benchmarks
	procps              # ps, pgrep, sysctl
	psmisc              # fuser, killall (diagnostics only)
	coreutils           # sha256sum, timeout, mktemp
	python3             # tests/integration/lib.sh TCP transfer with SHA-256 check
	tcpdump             # capture on veths when a test needs to look at the wire
	dnsmasq-base        # a DNS server with short TTLs in the name-following test
	prometheus          # promtool: `roam metrics` is checked with `promtool check metrics`
	#                   # (19 MB download; it brings the server and a systemd unit too)
	python3-prometheus-client  # an OpenMetrics parser for `roam metrics --openmetrics`
)

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
if ! apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" </dev/null >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "apt-get install failed for: ${missing[*]}"
fi

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
