#!/usr/bin/env bash
# heapview/ui_demo.sh BUILD_DIR - `make demo`: heapview on the teaching workload.
# The workload (tests/progs/demo) is started in the background under liballoc,
# then this shell execs heapview, which thereby becomes the workload's parent
# (so ptrace is allowed even with kernel.yama.ptrace_scope=1) and the workload,
# which asked for PR_SET_PDEATHSIG, ends when heapview quits.
set -eu
B=${1:-.}
[ -t 0 ] && [ -t 1 ] || { echo "make demo: needs a terminal (try: make demo in a terminal, or heapview --dump=text)" >&2; exit 2; }
# tcache_count=7: glibc's tcache, 7 entries in every bin, which the workload's
# steps are written for (liballoc's default grows a bin a thread cycles through)
LIBALLOC_OPTIONS="${LIBALLOC_OPTIONS-tcache_count=7}" LD_PRELOAD="$B/liballoc/liballoc.so" "$B/tests/progs/demo" \
    >/dev/null 2>&1 </dev/null &
sleep 0.3
exec "$B/heapview/heapview" -p $! -d "${DEMO_DELAY:-0.5}"
