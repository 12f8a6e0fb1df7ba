#!/usr/bin/env bash
# liballoc/bench_harden.sh - what the beyond-glibc hardening costs.
#
# usage: bench_harden.sh [RUNS] [SCALE]        (defaults 9 and 1; `make bench-harden`)
#        bench_harden.sh --instr [SCALE]        (default 0.05)
#
# Runs every benchmark of tests/bench/run.sh's suite under two builds of
# liballoc, the shipped one ($B/liballoc/liballoc.so) and the one with the
# extra checks compiled out ($B/liballoc/liballoc-noextra.so, -DLA_HARDEN_EXTRA=0),
# through tests/bench's benchexec (LD_PRELOAD in the child only; the program
# times its own work section).  Runs are interleaved - for each repetition,
# for each benchmark, both libraries, in an order that alternates between
# repetitions - so a drift of the shared machine hits both alike.  Each cell is
# the median over RUNS; the cost is median(hardened) / median(noextra) - 1, and
# "paired" is the median over repetitions of the ratio of the two back-to-back
# runs of that repetition (less sensitive to a shared machine's drift).
# The two libraries are copied first, so a rebuild during the run changes nothing.
# Then the fast path: instructions per malloc(32)+free pair under callgrind,
# (Ir(2N) - Ir(N)) / N as run.sh measures it, for both libraries.
# --instr: instead of times, the total instructions each benchmark executes
# under callgrind (whole program, threads serialised by valgrind) at a small
# scale: deterministic for the single-threaded ones (the threaded ones vary by
# a few percent with valgrind's scheduling), so it does not depend on the load
# of a shared machine.  valgrind caps brk at 8 MiB, after which the main heap
# continues in a second segment as it never does in a native run; both builds
# therefore run with LIBALLOC_OPTIONS=no_brk=1 unless LIBALLOC_OPTIONS is set:
# the main heap is then one mmap'd heap from the start, grown in place with
# top_pad as brk grows it natively (realloc_grow makes the same system calls
# as natively: 485 mremap, 46 mprotect for 51 brk).  top_pad=64m, used before,
# made every heap growth fail its pad and split the main heap differently
# from a native run (no mremap at all in realloc_grow).
set -u
INSTR=0
if [ "${1:-}" = --instr ]; then INSTR=1; shift; fi
RUNS=${1:-9}
SCALE=${2:-1}
[ "$INSTR" = 1 ] && { SCALE=${1:-0.05}; RUNS=1; }
case "$RUNS" in ''|*[!0-9]*|0) echo "bench_harden.sh: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${LA_BUILD:-$ROOT}
BIN=$B/tests/bench/bin
for f in "$B/liballoc/liballoc.so" "$B/liballoc/liballoc-noextra.so" "$BIN/benchexec"; do
    [ -e "$f" ] || { echo "bench_harden.sh: $f missing (make all liballoc-noextra)" >&2; exit 2; }
done
# Both libraries must be built from the sources as they are: a noextra build
# older than a source compared the current code with an old one (seen: +2.8%
# reported for larson, +8.7% with both libraries fresh).
for f in "$B/liballoc/liballoc.so" "$B/liballoc/liballoc-noextra.so"; do
    newer=$(find "$ROOT/liballoc" "$ROOT/shared" -name '*.[ch]' -newer "$f" -print -quit)
    [ -z "$newer" ] || { echo "bench_harden.sh: $f is older than $newer (make all liballoc-noextra)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/la-harden.XXXXXX) || exit 2
trap 'rm -rf "$TMP"' EXIT
cp "$B/liballoc/liballoc.so" "$TMP/hardened.so"
cp "$B/liballoc/liballoc-noextra.so" "$TMP/noextra.so"

# the suite, as run.sh defines it (name|program args)
SUITE=$(awk '/^SUITE="/ { on = 1; next } on && /^"/ { exit } on && NF { print }' "$ROOT/tests/bench/run.sh")
[ -n "$SUITE" ] || { echo "bench_harden.sh: cannot read the suite from tests/bench/run.sh" >&2; exit 2; }

RAW=$TMP/raw
: > "$RAW"
if [ "$INSTR" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 || { echo "bench_harden.sh: --instr needs valgrind" >&2; exit 2; }
    echo "liballoc hardening cost in instructions, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    export LIBALLOC_OPTIONS="${LIBALLOC_OPTIONS-no_brk=1}"
    echo "method:  total Ir of each benchmark under callgrind (LD_PRELOAD), scale $SCALE, LIBALLOC_OPTIONS=$LIBALLOC_OPTIONS; cost = hardened / noextra - 1"
    printf '%-16s %14s %14s %8s\n' benchmark noextra hardened cost
    while IFS='|' read -r name cmd; do
        [ -n "$name" ] || continue
        set -- $cmd
        prog=$1; shift
        for lib in noextra hardened; do
            LD_PRELOAD="$TMP/$lib.so" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$lib" \
                "$BIN/$prog" "$@" -s "$SCALE" > /dev/null 2>&1
            eval "ir_$lib=\$(awk '\$1 == \"summary:\" { print \$2 }' \"$TMP/cg.$lib\")"
        done
        awk -v b="$name" -v x="$ir_noextra" -v h="$ir_hardened" 'BEGIN {
            if (x == "" || h == "") { printf "%-16s %14s %14s %8s\n", b, "-", "-", "FAIL"; exit }
            printf "%-16s %14d %14d %+7.1f%%\n", b, x, h, (h / x - 1) * 100 }'
    done <<< "$SUITE"
    exit 0
fi
for rep in $(seq 1 "$RUNS"); do
    if [ $((rep % 2)) = 1 ]; then order="hardened noextra"; else order="noextra hardened"; fi
    while IFS='|' read -r name cmd; do
        [ -n "$name" ] || continue
        set -- $cmd
        prog=$1; shift
        for lib in $order; do
            out=$("$BIN/benchexec" -T 120 -p "$TMP/$lib.so" -- "$BIN/$prog" "$@" -s "$SCALE" 2>/dev/null)
            t=$(echo "$out" | awk '$1 == "time" { print $2 }')
            st=$(echo "$out" | awk '$1 == "status" { print $2 }')
            if [ "$st" = ok ] && [ -n "$t" ]; then echo "$name $lib $t $rep" >> "$RAW"; else echo "$name $lib FAIL $rep" >> "$RAW"; fi
        done
    done <<< "$SUITE"
    echo "run $rep/$RUNS done" >&2
done

echo "liballoc hardening cost, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores; load at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "method:  $RUNS interleaved runs per cell, scale $SCALE, median seconds; cost = hardened / noextra - 1;"
echo "         paired = median over the repetitions of (hardened / noextra - 1), the two runs of a repetition"
echo "         being back to back (cancels the drift of a shared machine)"
printf '%-16s %10s %10s %8s %8s %8s\n' benchmark noextra hardened cost paired spread
while IFS='|' read -r name cmd; do
    [ -n "$name" ] || continue
    awk -v b="$name" '
        function median(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $1 == b && $3 != "FAIL" { if ($2 == "hardened") { h[++nh] = $3; hr[$4] = $3 } else { x[++nx] = $3; xr[$4] = $3 } }
        $1 == b && $3 == "FAIL" { fail = 1 }
        END {
            if (!nh || !nx) { printf "%-16s %10s %10s %8s\n", b, "-", "-", "FAIL"; exit }
            np = 0
            for (r in hr) if ((r in xr) && xr[r] > 0) pr[++np] = hr[r] / xr[r] - 1
            mh = median(h, nh); mx = median(x, nx)
            lo = h[1]; hi = h[nh]
            printf "%-16s %10.3f %10.3f %+7.1f%% %+7.1f%% %7.0f%%%s\n", b, mx, mh, (mh / mx - 1) * 100, np ? median(pr, np) * 100 : 0, (hi - lo) / mh * 100, fail ? "  (some runs failed)" : ""
        }' "$RAW"
done <<< "$SUITE"
echo "(spread: (max - min) / median of the hardened runs)"

if command -v valgrind >/dev/null 2>&1; then
    echo
    echo "fast path, instructions per malloc(32)+free pair inside malloc and free"
    echo "(callgrind --toggle-collect=malloc --toggle-collect=free, LD_PRELOAD, (Ir(2N) - Ir(N)) / N):"
    for lib in noextra hardened; do
        n=200000
        for k in $n $((2 * n)); do
            LD_PRELOAD="$TMP/$lib.so" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$lib.$k" \
                --toggle-collect=malloc --toggle-collect=free "$BIN/fastpath" "$k" > /dev/null 2>&1
        done
        a=$(awk '$1 == "summary:" { print $2 }' "$TMP/cg.$lib.$n")
        b=$(awk '$1 == "summary:" { print $2 }' "$TMP/cg.$lib.$((2 * n))")
        if [ -n "$a" ] && [ -n "$b" ]; then
            printf '  %-9s %s\n' "$lib" "$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')"
        else
            printf '  %-9s valgrind failed\n' "$lib"
        fi
    done
fi
