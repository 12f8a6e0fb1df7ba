#!/usr/bin/env bash
# tests/bench/run.sh - run the benchmark suite under several allocators and
# print one table.
#
# usage: run.sh [--quick] [--runs N] [--only B1,B2] [--allocs A1,A2]
#               [--bin DIR] [--liballoc SO] [-o FILE] [--timeout S] [--no-fastpath] [-h]
#
# METHOD
#   Allocators.  Each benchmark program is linked against the system malloc;
#   the allocator is swapped by LD_PRELOAD (set by benchexec in the child
#   only): glibc (nothing preloaded), liballoc ($B/liballoc/liballoc.so),
#   jemalloc, tcmalloc (minimal) and mimalloc from their Debian packages.  An
#   allocator whose library is missing is skipped, and the table says so.  Before
#   the suite, each preloaded allocator runs a trivial program that reports
#   where its `malloc` symbol resolves (dladdr); one that does not resolve to the
#   preloaded file, or that fails, is left out with a message.
#
#   What is timed.  Every program does a fixed amount of work and times only
#   its work section with CLOCK_MONOTONIC (process start, dynamic loading and
#   exit are outside); it prints "time SECONDS".  Peak RSS is the child's
#   ru_maxrss from wait4() in tests/bench/benchexec.c.  A run that crashes,
#   fails its own integrity checks (blocks are tagged and checked before free)
#   or exceeds the timeout (--timeout, default 120 s per run) is shown as
#   FAIL/TIMEOUT and left out of the means; a cell where only some runs failed
#   shows the median of the others, marked "!", and the notes list each failure.
#
#   Order.  Runs are interleaved: for each repetition, for each benchmark, for
#   each allocator.  A slow drift of the machine (another job, thermal state,
#   page cache) then hits every allocator alike instead of whichever allocator
#   happened to run during the disturbance; this matters on a shared 2-core box.
#
#   CPU time (user + sys of the child, from wait4) is a second table: on a
#   loaded machine it moves less than wall time, though it also counts cache
#   misses caused by the other load, and it counts spinning but not waiting.
#
#   Figures.  5 runs by default (--runs N).  For each (benchmark, allocator)
#   the cell is the MEDIAN of the runs (robust to one disturbed run).  A "~"
#   after a time marks cells whose runs spread by more than 10 % of the median
#   ((max - min) / median).  The ratio is
#   median(allocator) / median(glibc): below 1.00 is faster (or smaller) than
#   glibc.  The last row is the GEOMETRIC MEAN of those ratios over the
#   benchmarks where both the allocator and glibc produced a figure: the
#   geometric mean is the right mean for ratios (a 2x win and a 2x loss cancel
#   to 1.00) and is independent of which allocator is the reference.  The
#   fragmentation table gives the RSS that benchmark measured itself after each
#   phase (median over runs), including the RSS after everything was freed.
#
#   Fast path.  tests/bench/fastpath.c does N malloc(32)/free pairs; it runs
#   under `valgrind --tool=callgrind` for N and 2N, and the figure is
#   (Ir(2N) - Ir(N)) / N: instructions per pair, fixed costs cancelled.  Two
#   rows: "in malloc+free" counts only what runs inside malloc and free
#   (callgrind --toggle-collect=malloc --toggle-collect=free: the allocator's
#   own cost, the figure issue 5's goal is about); "whole loop" also counts the
#   loop, the calls and the PLT stubs (~9 instructions).
#   callgrind_annotate's per-function profile must show `malloc` inside the
#   preloaded library (or, when callgrind cannot name the object, dladdr must),
#   otherwise the figure is marked "?" and a note says where malloc was seen.
#
#   The machine (CPU, cores, kernel, glibc), the git commit and the load
#   average at the start and end are recorded in the header of the table, which
#   is also written to FILE (-o).  Per-run progress goes to stderr.
set -u

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN="$ROOT/tests/bench/bin"
LIBALLOC="$ROOT/liballoc/liballoc.so"
OUT=""
RUNS=5
SCALE=1
QUICK=0
ONLY=""
ALLOCS=""
FASTPATH=1
TIMEOUT=120

die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1; RUNS=1; SCALE=0.25; TIMEOUT=60 ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a number"; RUNS=$2; shift ;;
    --only) [ $# -ge 2 ] || die "--only needs a list"; ONLY=$2; shift ;;
    --allocs) [ $# -ge 2 ] || die "--allocs needs a list"; ALLOCS=$2; shift ;;
    --bin) [ $# -ge 2 ] || die "--bin needs a directory"; BIN=$2; shift ;;
    --liballoc) [ $# -ge 2 ] || die "--liballoc needs a path"; LIBALLOC=$2; shift ;;
    -o) [ $# -ge 2 ] || die "-o needs a file"; OUT=$2; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; TIMEOUT=$2; shift ;;
    --no-fastpath) FASTPATH=0 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (try -h)" ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) die "--runs wants a positive integer, got '$RUNS'" ;; esac
case "$TIMEOUT" in ''|*[!0-9]*|0) die "--timeout wants a positive number of seconds, got '$TIMEOUT'" ;; esac
[ -x "$BIN/benchexec" ] || die "no $BIN/benchexec: build with 'make bench' (or make tests/bench/bin/...)"

# The suite: name | program and arguments (-s SCALE is appended).
SUITE="
larson|larson -t 2
prodcons|prodcons -t 2
cache-thrash|cache_thrash -t 2
cache-scratch|cache_scratch -t 2
randmix|randmix
churn-1t|churn -t 1
churn-2t|churn -t 2
realloc|realloc_grow
large|large
frag|frag
"

LIBDIR=/usr/lib/x86_64-linux-gnu
ALL_ALLOCS="glibc| liballoc|$LIBALLOC jemalloc|$LIBDIR/libjemalloc.so.2 tcmalloc|$LIBDIR/libtcmalloc_minimal.so.4 mimalloc|$LIBDIR/libmimalloc.so.2"

in_list() { # in_list ITEM COMMA_LIST (empty list = everything)
    [ -z "$2" ] && return 0
    case ",$2," in *",$1,"*) return 0 ;; esac
    return 1
}

suite_names=$(echo "$SUITE" | awk -F'|' 'NF == 2 { print $1 }')
for x in ${ONLY//,/ }; do
    echo "$suite_names" | grep -qx -- "$x" || die "unknown benchmark '$x' in --only (known: $(echo $suite_names))"
done
for x in ${ALLOCS//,/ }; do
    case "$x" in glibc|liballoc|jemalloc|tcmalloc|mimalloc) ;;
    *) die "unknown allocator '$x' in --allocs (known: glibc liballoc jemalloc tcmalloc mimalloc)" ;;
    esac
done

TMP=$(mktemp -d /tmp/la-bench.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
RAW="$TMP/raw"
: > "$RAW"
NOTES="$TMP/notes"
: > "$NOTES"

# --- which allocators take part ------------------------------------------------
names=""
for a in $ALL_ALLOCS; do
    name=${a%%|*}; lib=${a#*|}
    in_list "$name" "$ALLOCS" || continue
    if [ -n "$lib" ]; then
        if [ ! -f "$lib" ]; then
            echo "$name: skipped, $lib not found" | tee -a "$NOTES" >&2
            continue
        fi
        from=$("$BIN/benchexec" -T 20 -p "$lib" -- "$BIN/fastpath" 1000 2>&1 | awk '$1 == "malloc_from" { print $2 }')
        if [ -z "$from" ]; then
            echo "$name: skipped, a trivial program fails under LD_PRELOAD=$lib" | tee -a "$NOTES" >&2
            continue
        fi
        if [ "$(readlink -f "$from")" != "$(readlink -f "$lib")" ]; then
            echo "$name: skipped, malloc resolves to $from, not to $lib" | tee -a "$NOTES" >&2
            continue
        fi
    fi
    names="$names $name"
    eval "LIB_$name=\$lib"
done
[ -n "$names" ] || die "no allocator to measure"

benches=""
while IFS='|' read -r bname cmd; do
    [ -n "$bname" ] || continue
    in_list "$bname" "$ONLY" || continue
    benches="$benches $bname"
    eval "CMD_${bname//-/_}=\$cmd"
done <<EOF
$SUITE
EOF
[ -n "$benches" ] || die "no benchmark selected (--only '$ONLY')"

# --- the interleaved runs -------------------------------------------------------
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$RUNS"); do
    for b in $benches; do
        eval "cmd=\$CMD_${b//-/_}"
        set -- $cmd
        prog=$1; shift
        for name in $names; do
            eval "lib=\$LIB_$name"
            out="$TMP/out.$rep.$b.$name"
            if [ -n "$lib" ]; then
                "$BIN/benchexec" -T "$TIMEOUT" -p "$lib" -- "$BIN/$prog" "$@" -s "$SCALE" > "$out" 2> "$out.err"
            else
                "$BIN/benchexec" -T "$TIMEOUT" -- "$BIN/$prog" "$@" -s "$SCALE" > "$out" 2> "$out.err"
            fi
            awk -v r="$rep" -v b="$b" -v a="$name" 'NF >= 2 { v = $2; for (i = 3; i <= NF; i++) v = v "_" $i; print r, b, a, $1, v }' "$out" >> "$RAW"
            st=$(awk '$1 == "status" { $1 = ""; print substr($0, 2) }' "$out")
            t=$(awk '$1 == "time" { print $2 }' "$out")
            printf 'run %d/%d  %-14s %-9s %s\n' "$rep" "$RUNS" "$b" "$name" \
                "$([ "$st" = ok ] && echo "${t}s" || echo "$st: $(head -c 200 "$out.err" | head -1)")" >&2
            if [ "$st" != ok ]; then
                echo "$b under $name, run $rep: $st: $(head -c 300 "$out.err" | head -2 | tr '\n' ' ')" >> "$NOTES"
            fi
        done
    done
done

# --- fast path instruction counts ----------------------------------------------
FP="$TMP/fastpath"
: > "$FP"
if [ "$FASTPATH" = 1 ]; then
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "fast path: valgrind not installed, no instruction counts" >> "$NOTES"
    else
        N=200000
        [ "$QUICK" = 1 ] && N=50000
        for name in $names; do
            eval "lib=\$LIB_$name"
            irs=""
            ins=""
            ok=1
            for n in $N $((2 * N)); do
                cg="$TMP/cg.$name.$n"
                if ! LD_PRELOAD="$lib" valgrind --tool=callgrind --callgrind-out-file="$cg" \
                        "$BIN/fastpath" "$n" > "$cg.stdout" 2> "$cg.stderr"; then
                    ok=0
                    break
                fi
                irs="$irs $(awk '$1 == "summary:" { print $2 }' "$cg")"
                # the same loop counting only the instructions executed inside
                # malloc and free (and what they call): no loop, no call/PLT
                if ! LD_PRELOAD="$lib" valgrind --tool=callgrind --callgrind-out-file="$cg.in" \
                        --toggle-collect=malloc --toggle-collect=free \
                        "$BIN/fastpath" "$n" > /dev/null 2> "$cg.stderr"; then
                    ok=0
                    break
                fi
                ins="${ins:-} $(awk '$1 == "summary:" { print $2 }' "$cg.in")"
            done
            if [ "$ok" != 1 ]; then
                echo "fast path: valgrind failed under $name: $(tail -1 "$cg.stderr")" >> "$NOTES"
                echo "$name FAIL" >> "$FP"
                continue
            fi
            # The object file of the hottest function named malloc in the
            # profile; when callgrind cannot name it ("???", no symbols), fall
            # back on where the program saw its malloc resolve (dladdr).
            obj=$(callgrind_annotate "$TMP/cg.$name.$N" 2>/dev/null |
                  awk '/:malloc \[/ { sub(/.*\[/, ""); sub(/\].*/, ""); print; exit }')
            if [ -z "$obj" ] || [ "$obj" = "???" ]; then
                obj=$(awk '$1 == "malloc_from" { print $2 }' "$TMP/cg.$name.$N.stdout")
            fi
            want=${lib:-libc.so.6}
            verified=no
            case "$(readlink -f "$obj" 2>/dev/null)" in
            "$(readlink -f "$want" 2>/dev/null)"|*/"${want##*/}") verified=yes ;;
            esac
            [ "$verified" = yes ] ||
                echo "fast path: under $name the profile shows malloc in ${obj:-an unknown object}, not in $want" >> "$NOTES"
            echo "$name $irs $N $verified ${obj:-unknown} $ins" >> "$FP"
        done
    fi
fi
elapsed=$(( $(date +%s) - start ))

# --- the table -----------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(nproc)
kern=$(uname -sr)
glibcv=$(getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version | head -1)
# BENCH_COMMIT names the commit when the tree is an export without .git
commit=${BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -n "$(git -C "$ROOT" status --porcelain -- liballoc tests/bench 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes in liballoc/ or tests/bench/)"
fi

{
    echo "liballoc benchmark suite, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $cpu, $cores cores, $kern, $glibcv"
    echo "commit:  $commit"
    echo "load:    $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1/5/15-min load averages; above $cores the figures are noisy)"
    echo "method:  $RUNS interleaved run(s) per cell, scale $SCALE; median; ratio = allocator / glibc (< 1 is better); suite took ${elapsed}s"
    for name in $names; do
        eval "lib=\$LIB_$name"
        echo "         $name = ${lib:-system malloc, nothing preloaded}"
    done
    awk -v names="$names" -v benches="$benches" -v fpfile="$FP" '
    # One table: V[bench SUBSEP allocator] lists the values of the runs; each
    # cell is the median (printed as fmt of median / div) and, but for glibc,
    # its ratio to the glibc median; a last row gives the geometric mean of the
    # ratios.  marks: flag cells whose runs spread over 10% (~) or partly
    # failed (!).
    function ratio_table(V, fmt, div, marks,   bi, b, g, ai, a, k, m, mark, r, cell, L, N) {
        printf "%-16s", "benchmark"; for (ai = 1; ai <= na; ai++) printf "%" W "s", A[ai]; printf "\n"
        for (bi = 1; bi <= nb; bi++) {
            b = B[bi]; printf "%-16s", b
            g = (V[b SUBSEP "glibc"] != "") ? median(V[b SUBSEP "glibc"]) : ""
            for (ai = 1; ai <= na; ai++) {
                a = A[ai]; k = b SUBSEP a
                if (V[k] == "") { printf "%" W "s", STATE[k]; continue }
                m = median(V[k]); mark = !marks ? "" : (k in PART) ? "!" : (spread(V[k]) > 0.10) ? "~" : " "
                if (g != "" && g > 0 && a != "glibc") {
                    r = m / g; cell = sprintf(fmt "%s[%.2f]", m / div, mark == "" ? " " : mark, r)
                    L[a] += log(r); N[a]++
                } else cell = sprintf(fmt "%s", m / div, mark)
                printf "%" W "s", cell
            }
            printf "\n"
        }
        printf "%-16s", "geomean ratio"
        for (ai = 1; ai <= na; ai++) {
            a = A[ai]
            if (a == "glibc") printf "%" W "s", "1.00"
            else if (N[a] > 0) printf "%" W "s", sprintf("%.2f%s", exp(L[a] / N[a]), N[a] < nb ? sprintf(" (%d/%d)", N[a], nb) : "")
            else printf "%" W "s", "-"
        }
        printf "\n"
        # the same to 4 places (from the unrounded medians): runs that differ
        # in the second decimal can be compared without redoing the sums
        printf "%-16s", "  to 4 places"
        for (ai = 1; ai <= na; ai++) {
            a = A[ai]
            if (a == "glibc") printf "%" W "s", "1.0000"
            else if (N[a] > 0) printf "%" W "s", sprintf("%.4f", exp(L[a] / N[a]))
            else printf "%" W "s", "-"
        }
        printf "\n"
    }
    function median(list,   n, v, i, j, t) {
        n = split(list, v, " ")
        for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
        if (n == 0) return ""
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function spread(list,   n, v, i, lo, hi, m) {
        n = split(list, v, " "); lo = hi = v[1] + 0
        for (i = 2; i <= n; i++) { if (v[i] + 0 < lo) lo = v[i] + 0; if (v[i] + 0 > hi) hi = v[i] + 0 }
        m = median(list)
        return (m > 0) ? (hi - lo) / m : 0
    }
    {
        key = $2 SUBSEP $3 SUBSEP $1
        val[key, $4] = $5
        if ($4 == "status") runs[$2 SUBSEP $3] = runs[$2 SUBSEP $3] " " $1
    }
    END {
        na = split(names, A, " "); nb = split(benches, B, " ")
        # per (bench, alloc): lists of values over the successful runs
        for (bi = 1; bi <= nb; bi++) for (ai = 1; ai <= na; ai++) {
            b = B[bi]; a = A[ai]; k = b SUBSEP a
            nr = split(runs[k], R, " "); bad = ""
            for (ri = 1; ri <= nr; ri++) {
                r = R[ri]; rk = b SUBSEP a SUBSEP r
                st = val[rk, "status"]
                if (st != "ok") { bad = (st ~ /timeout/) ? "TIMEOUT" : "FAIL"; continue }
                t = (rk SUBSEP "time") in val ? val[rk, "time"] : val[rk, "wall"]
                T[k] = T[k] " " t; M[k] = M[k] " " val[rk, "maxrss_kb"]
                C[k] = C[k] " " (val[rk, "user"] + val[rk, "sys"])
            }
            if (T[k] == "") STATE[k] = (bad == "") ? "-" : bad
            else if (bad != "") PART[k] = 1
        }
        # fragmentation keys
        nf = split("rss_base_kb rss_full_kb rss_holes_kb rss_refill_kb rss_release_kb rss_thread_full_kb rss_thread_release_kb", FK, " ")
        split("before|after alloc|after freeing 3/4|after refill|after releasing all|thread: after alloc|thread: after release", FL, "|")
        W = 16
        printf "\nTime: seconds of the timed section, median [ratio to glibc]\n"
        printf "(~ = runs spread more than 10%% of the median; ! = some runs failed, see notes)\n"
        ratio_table(T, "%.3f", 1, 1)

        printf "\nCPU: user + sys seconds of the whole process, median [ratio to glibc]\n"
        printf "(less disturbed than wall time when the machine is shared; counts spinning, not waiting)\n"
        ratio_table(C, "%.3f", 1, 0)

        printf "\nPeak RSS: MiB (ru_maxrss of the process), median [ratio to glibc]\n"
        ratio_table(M, "%.1f", 1024, 0)

        # fragmentation phases, if that benchmark ran
        hasfrag = 0
        for (ai = 1; ai <= na; ai++) if (T["frag" SUBSEP A[ai]] != "") hasfrag = 1
        if (hasfrag) {
            printf "\nFragmentation (frag): RSS in MiB after each phase, median\n"
            printf "%-22s", "phase"; for (ai = 1; ai <= na; ai++) printf "%" W "s", A[ai]; printf "\n"
            for (fi = 1; fi <= nf; fi++) {
                printf "%-22s", FL[fi]
                for (ai = 1; ai <= na; ai++) {
                    a = A[ai]; list = ""
                    nr = split(runs["frag" SUBSEP a], R, " ")
                    for (ri = 1; ri <= nr; ri++) {
                        rk = "frag" SUBSEP a SUBSEP R[ri]
                        if (val[rk, "status"] == "ok" && (rk SUBSEP FK[fi]) in val) list = list " " val[rk, FK[fi]]
                    }
                    if (list == "") { printf "%" W "s", "-"; continue }
                    v = median(list); FV[fi, a] = v
                    printf "%" W "s", sprintf("%.1f", v / 1024)
                }
                printf "\n"
            }
            printf "%-22s", "returned after release"
            for (ai = 1; ai <= na; ai++) {
                a = A[ai]
                if (!((2, a) in FV) || !((5, a) in FV) || FV[2, a] - FV[1, a] <= 0) { printf "%" W "s", "-"; continue }
                printf "%" W "s", sprintf("%.0f%%", 100 * (FV[2, a] - FV[5, a]) / (FV[2, a] - FV[1, a]))
            }
            printf "\n"
        }

        # fast path
        nfp = 0
        while ((getline line < fpfile) > 0) {
            split(line, F, " ")
            nfp++
            if (F[2] == "FAIL") { FPV[F[1]] = "FAIL"; continue }
            FPV[F[1]] = sprintf("%.1f%s", (F[3] - F[2]) / F[4], F[5] == "yes" ? "" : " ?")
            FPI[F[1]] = (F[8] != "") ? sprintf("%.1f%s", (F[8] - F[7]) / F[4], F[5] == "yes" ? "" : " ?") : "-"
        }
        if (nfp) {
            printf "\nFast path: instructions per malloc(32)+free pair, (Ir(2N) - Ir(N)) / N under callgrind\n"
            printf "(in malloc+free: only instructions executed inside malloc and free, callgrind --toggle-collect;\n"
            printf " whole loop: also the loop, the calls and the PLT, ~9 instructions; \"?\" = malloc not seen in the preloaded library)\n"
            printf "%-16s", ""; for (ai = 1; ai <= na; ai++) printf "%" W "s", A[ai]; printf "\n"
            printf "%-16s", "in malloc+free"
            for (ai = 1; ai <= na; ai++) printf "%" W "s", (A[ai] in FPI) ? FPI[A[ai]] : "-"
            printf "\n"
            printf "%-16s", "whole loop"
            for (ai = 1; ai <= na; ai++) printf "%" W "s", (A[ai] in FPV) ? FPV[A[ai]] : "-"
            printf "\n"
        }
    }' "$RAW"
    if [ -s "$NOTES" ]; then
        echo
        echo "notes:"
        sed 's/^/  /' "$NOTES"
    fi
} > "$TMP/table"

cat "$TMP/table"
if [ -n "$OUT" ]; then
    mkdir -p "$(dirname "$OUT")"
    cp "$TMP/table" "$OUT" && echo "(table saved to $OUT)"
fi
