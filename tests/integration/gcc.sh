#!/usr/bin/env bash
# gcc (driver, cc1, as, ld all inherit the preload) compiling a generated C file
# of several thousand lines, on the system allocator and under liballoc: the
# assembly, the object file and the compiled program's output must be identical.
. "$(dirname "$0")/common.sh"
command -v gcc >/dev/null || fail "gcc is not installed"
awk -v N=200 -f "$HERE/gen_c.awk" >"$TMP/gen.c"
lines=$(wc -l <"$TMP/gen.c")
[ "$lines" -ge 3000 ] || fail "generated file has only $lines lines"
for mode in sys la; do
    mkdir -p "$TMP/$mode"
    pre=""
    [ $mode = la ] && pre=$SO
    ( cd "$TMP/$mode" && cp ../gen.c . &&
      LD_PRELOAD=$pre gcc -O2 -S -o gen.s gen.c &&
      LD_PRELOAD=$pre gcc -O2 -c -o gen.o gen.c &&
      LD_PRELOAD=$pre gcc -O2 -o gen gen.o &&
      LD_PRELOAD=$pre ./gen >run.out ) >"$TMP/$mode.log" 2>&1 \
        || fail "build or run with allocator '$mode' failed: $(tail -5 "$TMP/$mode.log")"
done
same_output "gcc -S output" "$TMP/sys/gen.s" "$TMP/la/gen.s"
same_output "object file" "$TMP/sys/gen.o" "$TMP/la/gen.o"
same_output "compiled program's output" "$TMP/sys/run.out" "$TMP/la/run.out"
same_output "gcc diagnostics" "$TMP/sys.log" "$TMP/la.log"
# cc1 once more with no tcache, no fastbins and a low mmap threshold.
( cd "$TMP/la" && LD_PRELOAD=$SO LIBALLOC_OPTIONS=tcache_count=0:mxfast=0:mmap_threshold=32k \
      gcc -O2 -S -o gen2.s gen.c ) >"$TMP/la2.log" 2>&1 \
    || fail "gcc -S under liballoc (tcache_count=0:mxfast=0:mmap_threshold=32k) failed: $(tail -5 "$TMP/la2.log")"
same_output "gcc -S output (no tcache/fastbins, 32k mmap threshold)" "$TMP/sys/gen.s" "$TMP/la/gen2.s"
# cc1 (where the compiling happens) must be bound to liballoc too.
printf 'int main(void) { return 0; }\n' >"$TMP/tiny.c"
bound_to_liballoc gcc -O2 -c -o "$TMP/tiny.o" "$TMP/tiny.c"
grep -qs "binding file .*cc1 \[0\] to $SO \[0\]: normal symbol \`malloc'" "$TMP"/lddebug/trace* \
    || fail "cc1's malloc was not bound to liballoc.so"
echo "$NAME: ok ($lines-line C file; identical .s, .o and program output)"
