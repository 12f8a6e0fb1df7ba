#!/usr/bin/env bash
# python3 running workload.py (dicts, lists, strings, json, threads, big buffers)
# on the system allocator and under liballoc: same stdout.  Under liballoc the
# script also calls liballoc_check_heap through ctypes at the end.
. "$(dirname "$0")/common.sh"
command -v python3 >/dev/null || fail "python3 is not installed"
python3 "$HERE/workload.py" >"$TMP/sys.out" || fail "workload.py failed on the system allocator"
LD_PRELOAD=$SO LA_PY_CHECK=1 python3 "$HERE/workload.py" >"$TMP/la.out" 2>"$TMP/la.err" \
    || fail "workload.py failed under liballoc: $(tail -5 "$TMP/la.err")"
same_output "python3 workload.py output" "$TMP/sys.out" "$TMP/la.out"
# Once more with liballoc's heap checker running every 2000 calls.
LD_PRELOAD=$SO LIBALLOC_OPTIONS=check=2000 python3 "$HERE/workload.py" >"$TMP/lachk.out" 2>"$TMP/lachk.err" \
    || fail "workload.py failed under liballoc with check=2000: $(tail -5 "$TMP/lachk.err")"
same_output "python3 workload.py output (check=2000)" "$TMP/sys.out" "$TMP/lachk.out"
# And with every free reaching the arenas (no tcache, no fastbins) and perturbed memory.
LD_PRELOAD=$SO LIBALLOC_OPTIONS=tcache_count=0:mxfast=0:perturb=165 python3 "$HERE/workload.py" \
    >"$TMP/lanotc.out" 2>"$TMP/lanotc.err" \
    || fail "workload.py failed under liballoc without tcache/fastbins: $(tail -5 "$TMP/lanotc.err")"
same_output "python3 workload.py output (no tcache, no fastbins, perturb)" "$TMP/sys.out" "$TMP/lanotc.out"
grep -q "heap consistent" "$TMP/la.err" || fail "liballoc_check_heap was not run: $(cat "$TMP/la.err")"
bound_to_liballoc python3 -c 'print(len({i: str(i) for i in range(1000)}))'
echo "$NAME: ok ($(wc -l <"$TMP/la.out") identical lines; $(cat "$TMP/la.err"))"
