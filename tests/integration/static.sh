#!/usr/bin/env bash
# tests/progs/static_liballoc: the workload linked statically against liballoc.a.
# It must be a static executable, print what tests/progs/workload prints on the
# system allocator, and exit 0 (it checks liballoc_debug itself).
. "$(dirname "$0")/common.sh"
BIN=$PROGS/static_liballoc
[ -x "$BIN" ] || fail "$BIN is not built"
readelf -l "$BIN" >"$TMP/phdrs" || fail "readelf cannot read $BIN"
grep -q 'LOAD' "$TMP/phdrs" || fail "readelf printed no program headers for $BIN"
if grep -q 'INTERP' "$TMP/phdrs"; then
    fail "$BIN is dynamically linked"
fi
nm "$BIN" >"$TMP/syms" || fail "nm cannot read $BIN"
grep -q ' liballoc_debug$' "$TMP/syms" || fail "$BIN has no liballoc_debug symbol"
"$PROGS/workload" >"$TMP/sys.out" || fail "workload failed on the system allocator"
"$BIN" >"$TMP/static.out" 2>"$TMP/static.err" || fail "static program failed: $(cat "$TMP/static.err")"
same_output "static program output" "$TMP/sys.out" "$TMP/static.out"
echo "$NAME: ok ($(cat "$TMP/static.err"))"
