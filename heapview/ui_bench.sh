#!/usr/bin/env bash
# heapview/ui_bench.sh BUILD_DIR - refresh cost of the interactive view (`make bench-ui`).
#
# Starts tests/progs/ui_bench_target (about UI_BENCH_CHUNKS chunks, default 100000,
# under liballoc) and runs the real heapview on it in a detached tmux (100x30,
# Heap map view, the one that draws the strip of every chunk) for UI_BENCH_SECONDS
# (default 5) at each refresh period.  heapview writes what it measured to
# HEAPVIEW_UI_STATS when it quits; this script prints one table row per period:
# snapshots per second, chunks, mean/max snapshot time (hv_snapshot_take), mean/max
# time the target was stopped, mean/max diff+index time of the view, mean/max time to
# draw a frame.  Asserts nothing.
set -u
B=${1:-.}
N=${UI_BENCH_CHUNKS:-100000}
SECS=${UI_BENCH_SECONDS:-5}
command -v tmux >/dev/null || { echo "bench-ui: needs tmux" >&2; exit 1; }
tmp=$(mktemp -d /tmp/hvuibench.XXXXXX)
sock="hvuibench$$"
cleanup() {
    tmux -L "$sock" -f /dev/null kill-server >/dev/null 2>&1
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    [ -n "${tpid:-}" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM HUP
mkfifo "$tmp/out"
LD_PRELOAD="$B/liballoc/liballoc.so" "$B/tests/progs/ui_bench_target" "$N" >"$tmp/out" &
tpid=$!
read -r ready made <"$tmp/out" || { echo "bench-ui: target did not start" >&2; exit 1; }
hv=$(realpath "$B/heapview/heapview")
printf '%-8s %8s %7s %8s %8s %8s %8s %8s %8s %8s %8s\n' "period" "snaps/s" "chunks" \
    "take_ms" "take_max" "stop_ms" "stop_max" "diff_ms" "diff_max" "draw_ms" "draw_max"
for d in 1 0.5 0.2 0.05; do
    stats="$tmp/stats.$d"
    tmux -L "$sock" -f /dev/null new-session -d -s b -x 100 -y 30 \
        "env HEAPVIEW_UI_STATS=$stats TERM=screen $hv -p $tpid -d $d"
    sleep 1
    tmux -L "$sock" -f /dev/null send-keys -t b 2
    sleep "$SECS"
    tmux -L "$sock" -f /dev/null send-keys -t b q
    for _ in $(seq 50); do [ -s "$stats" ] && break; sleep 0.1; done
    tmux -L "$sock" -f /dev/null kill-server >/dev/null 2>&1
    if [ ! -s "$stats" ]; then echo "bench-ui: no figures for period $d" >&2; continue; fi
    g() { awk -v k="$1" '$1 == k { print $2 }' "$stats"; }
    printf '%-8s %8s %7s %8s %8s %8s %8s %8s %8s %8s %8s\n' "${d}s" "$(g snapshots_per_s)" "$(g chunks)" \
        "$(g take_mean_ms)" "$(g take_max_ms)" "$(g stop_mean_ms)" "$(g stop_max_ms)" \
        "$(g diff_mean_ms)" "$(g diff_max_ms)" "$(g draw_mean_ms)" "$(g draw_max_ms)"
done
echo "(target: ${made} blocks allocated, one in three freed; snaps/s includes the first second on the Overview)"
