# tests/integration/common.sh - sourced by the integration scripts.
#
# Each script runs a real program twice, on the system allocator and with
# LD_PRELOAD=liballoc.so, diffs what the two runs printed, and proves that the
# preloaded run really used liballoc: the dynamic linker's binding trace
# (LD_DEBUG=bindings) must show the program's malloc bound to liballoc.so, and
# a malformed LIBALLOC_OPTIONS item must draw liballoc's warning from it.
# LA_BUILD is the build directory (default: the source tree).
set -euo pipefail

LA_BUILD=${LA_BUILD:-.}
LA_BUILD=$(cd "$LA_BUILD" && pwd)
SO=$LA_BUILD/liballoc/liballoc.so
PROGS=$LA_BUILD/tests/progs
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=$(basename "$0" .sh)

fail() { echo "$NAME: $*" >&2; exit 1; }

[ -f "$SO" ] || fail "$SO is not built (run make)"

TMP=$(mktemp -d "/tmp/la_$NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# same_output LABEL FILE_A FILE_B: fail with a short diff unless identical.
same_output() {
    if ! cmp -s "$2" "$3"; then
        echo "$NAME: $1 differs between the system allocator and liballoc:" >&2
        diff "$2" "$3" | head -20 >&2 || true
        exit 1
    fi
}

# bound_to_liballoc CMD...: run CMD under liballoc with the binding trace on and
# check that some object's `malloc' (and `free') was bound to liballoc.so.
bound_to_liballoc() {
    local dir=$TMP/lddebug
    rm -rf "$dir"; mkdir -p "$dir"
    LD_PRELOAD=$SO LD_DEBUG=bindings LD_DEBUG_OUTPUT=$dir/trace "$@" >/dev/null 2>&1 \
        || fail "traced run of '$*' under liballoc failed"
    local pat="to $SO \[0\]: normal symbol \`"
    grep -qs -- "${pat}malloc'" "$dir"/trace* || fail "'$*': malloc was not bound to $SO"
    grep -qs -- "${pat}free'" "$dir"/trace* || fail "'$*': free was not bound to $SO"
    LD_PRELOAD=$SO LIBALLOC_OPTIONS=mxfast=bogus "$@" >/dev/null 2>"$TMP/optwarn" \
        || fail "'$*' under liballoc with a malformed LIBALLOC_OPTIONS failed"
    grep -q 'LIBALLOC_OPTIONS.*mxfast=bogus' "$TMP/optwarn" \
        || fail "'$*' did not print liballoc's warning about LIBALLOC_OPTIONS=mxfast=bogus"
}
