#!/usr/bin/env bash
# tests/progs/workload, a C program with a deterministic allocation workload, run
# on the system allocator and under LD_PRELOAD=liballoc.so: same stdout; under
# liballoc the program itself finds liballoc_debug with dlsym, sees its own
# mmapped block in liballoc's registry and runs liballoc_check_heap.
. "$(dirname "$0")/common.sh"
"$PROGS/workload" >"$TMP/sys.out" || fail "workload failed on the system allocator"
LD_PRELOAD=$SO WORKLOAD_EXPECT_LIBALLOC=1 "$PROGS/workload" >"$TMP/la.out" 2>"$TMP/la.err" \
    || fail "workload failed under liballoc: $(cat "$TMP/la.err")"
same_output "workload output" "$TMP/sys.out" "$TMP/la.out"
grep -q "ran on liballoc" "$TMP/la.err" || fail "no proof that liballoc served the workload"
bound_to_liballoc "$PROGS/workload"
# Without the preload the proof must fail (the check can fail).
if WORKLOAD_EXPECT_LIBALLOC=1 "$PROGS/workload" >/dev/null 2>&1; then
    fail "the liballoc proof also passed on the system allocator"
fi
echo "$NAME: ok ($(wc -l <"$TMP/la.out") identical lines; $(cat "$TMP/la.err"))"
