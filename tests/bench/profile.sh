#!/usr/bin/env bash
# tests/bench/profile.sh - where the time goes: the top functions of one
# benchmark of the suite under one allocator.
#
# usage: profile.sh [--bin DIR] [--liballoc SO] [--top N] BENCH ALLOCATOR
#   BENCH      a name from run.sh's suite (larson, prodcons, ..., frag)
#   ALLOCATOR  glibc | liballoc | jemalloc | tcmalloc | mimalloc
#
# Runs the benchmark once under `perf record` (sampling, user and kernel) and
# prints the N (default 5) functions with the most samples, with their shared
# object.  Without a working perf it falls back on callgrind (instruction
# counts, not time; slower, so the benchmark runs at scale 0.1).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN="$ROOT/tests/bench/bin"
LIBALLOC="$ROOT/liballoc/liballoc.so"
TOP=5
die() { echo "profile.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --bin) [ $# -ge 2 ] || die "--bin needs a directory"; BIN=$2; shift ;;
    --liballoc) [ $# -ge 2 ] || die "--liballoc needs a path"; LIBALLOC=$2; shift ;;
    --top) [ $# -ge 2 ] || die "--top needs a number"; TOP=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1'" ;;
    *) break ;;
    esac
    shift
done
[ $# -eq 2 ] || die "usage: profile.sh [--bin DIR] [--liballoc SO] [--top N] BENCH ALLOCATOR"
case "$TOP" in ''|*[!0-9]*|0) die "--top wants a positive integer" ;; esac
bench=$1; alloc=$2
# the command line of each benchmark is the one in run.sh's suite
cmd=$(sed -n '/^SUITE="/,/^"/p' "$HERE/run.sh" | awk -F'|' -v b="$bench" '$1 == b { print $2 }')
[ -n "$cmd" ] || die "unknown benchmark '$bench' (see SUITE in run.sh)"
L=/usr/lib/x86_64-linux-gnu
case "$alloc" in
glibc) lib="" ;;
liballoc) lib=$LIBALLOC ;;
jemalloc) lib=$L/libjemalloc.so.2 ;;
tcmalloc) lib=$L/libtcmalloc_minimal.so.4 ;;
mimalloc) lib=$L/libmimalloc.so.2 ;;
*) die "unknown allocator '$alloc' (glibc, liballoc, jemalloc, tcmalloc, mimalloc)" ;;
esac
[ -z "$lib" ] || [ -f "$lib" ] || die "$alloc: $lib not found"
set -- $cmd
prog="$BIN/$1"; shift
[ -x "$prog" ] || die "no $prog: run 'make bench' or 'make' first"
TMP=$(mktemp -d /tmp/la-prof.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT

if command -v perf >/dev/null 2>&1 &&
   LD_PRELOAD="$lib" perf record -q -o "$TMP/perf.data" -- "$prog" "$@" > "$TMP/out" 2> "$TMP/err"; then
    echo "$bench under $alloc: $(awk '$1 == "time" { print $2 "s" }' "$TMP/out"), perf samples, top $TOP (self):"
    perf report -i "$TMP/perf.data" --no-children --sort symbol,dso --stdio 2>/dev/null |
        awk '/^#/ || NF == 0 { next } { sub(/[ -]*$/, ""); print "  " $0 }' | head -n "$TOP"
elif command -v valgrind >/dev/null 2>&1; then
    LD_PRELOAD="$lib" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg" "$prog" "$@" -s 0.1 \
        > "$TMP/out" 2> "$TMP/err" || die "$bench under $alloc failed: $(tail -1 "$TMP/err")"
    echo "$bench under $alloc at scale 0.1: callgrind instructions, top $TOP (self):"
    callgrind_annotate "$TMP/cg" | sed -n '/file:function/,$p' | awk 'NR > 2 && NF' | head -n "$TOP" | sed 's/^/  /'
else
    die "neither perf nor valgrind works here: $(tail -1 "$TMP/err" 2>/dev/null)"
fi
