#!/usr/bin/env bash
# A C++ program (containers, strings, shared_ptr, threads, C++17 over-aligned new)
# compiled here with g++ and run on the system allocator and under liballoc: same
# output, and operator new's malloc and aligned new's aligned_alloc bound to liballoc.
. "$(dirname "$0")/common.sh"
command -v g++ >/dev/null || fail "g++ is not installed (tools/deps.sh installs it)"
g++ -std=c++17 -O2 -pthread -o "$TMP/cxx" "$HERE/cxx_workload.cc" >"$TMP/build.log" 2>&1 \
    || fail "g++ failed: $(tail -5 "$TMP/build.log")"
"$TMP/cxx" >"$TMP/sys.out" || fail "cxx_workload failed on the system allocator"
LD_PRELOAD=$SO "$TMP/cxx" >"$TMP/la.out" 2>"$TMP/la.err" || fail "cxx_workload failed under liballoc: $(tail -5 "$TMP/la.err")"
same_output "cxx_workload output" "$TMP/sys.out" "$TMP/la.out"
bound_to_liballoc "$TMP/cxx"
grep -qs "to $SO \[0\]: normal symbol \`aligned_alloc'" "$TMP"/lddebug/trace* \
    || fail "aligned new did not reach liballoc's aligned_alloc"
echo "$NAME: ok ($(wc -l <"$TMP/la.out") identical lines, aligned new through liballoc)"
