#!/usr/bin/env bash
# Install the Debian packages the build, the tests and the demo need.
# As root: installs what is missing.  Otherwise: prints the exact apt-get line and fails.
set -u
PKGS="make gcc binutils libc6-dev pkg-config check libelf-dev libdw-dev libncurses-dev tmux gdb python3 git g++"
# Optional peers for `make bench` (LD_PRELOAD comparisons); installed when asked for.
[ "${WITH_BENCH_PEERS:-0}" = 1 ] && PKGS="$PKGS libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 valgrind"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
        echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
else
    echo "deps: missing packages; run as root: apt-get install -y$missing" >&2
    exit 1
fi
