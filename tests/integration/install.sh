#!/usr/bin/env bash
# `make install` honours PREFIX and DESTDIR: everything lands under the staging
# directory, nothing outside it, and a program built against the installed
# header, pkg-config file and library runs on liballoc.
. "$(dirname "$0")/common.sh"
SRC=$(cd "$HERE/../.." && pwd)
DEST=$TMP/stage
PFX=/opt/la-test
make -s -C "$SRC" B="$LA_BUILD" install PREFIX=$PFX DESTDIR="$DEST" >"$TMP/make.out" 2>&1 \
    || fail "make install failed: $(tail -3 "$TMP/make.out")"
for f in lib/liballoc.so lib/liballoc.a include/liballoc.h lib/pkgconfig/liballoc.pc \
         share/man/man3/liballoc.3 bin/heapview share/man/man1/heapview.1; do
    [ -f "$DEST$PFX/$f" ] || fail "make install did not install $PFX/$f"
done
[ -z "$(find "$DEST" -type f ! -path "$DEST$PFX/*")" ] || fail "make install wrote outside PREFIX"
grep -q "^prefix=$PFX\$" "$DEST$PFX/lib/pkgconfig/liballoc.pc" || fail "liballoc.pc does not name PREFIX"
cat >"$TMP/use.c" <<'C'
#include <liballoc.h>
#include <stdlib.h>
#include <stdio.h>
int main(void) {
    void *p = liballoc_malloc(100);
    int ok = p != NULL && liballoc_malloc_usable_size(p) >= 100 && liballoc_check_heap() == 0;
    liballoc_free(p);
    puts(ok ? "installed liballoc works" : "installed liballoc FAILED");
    return ok ? 0 : 1;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR="$DEST" PKG_CONFIG_LIBDIR="$DEST$PFX/lib/pkgconfig" pkg-config --cflags --libs liballoc) \
    || fail "pkg-config cannot read the installed liballoc.pc"
cc -o "$TMP/use" "$TMP/use.c" $flags || fail "cannot build against the installed liballoc ($flags)"
out=$(LD_LIBRARY_PATH="$DEST$PFX/lib" "$TMP/use") || fail "program linked against installed liballoc failed: $out"
"$DEST$PFX/bin/heapview" --version >/dev/null || fail "installed heapview does not run"
echo "$NAME: ok ($out; pkg-config: $flags)"
