#!/usr/bin/env bash
# git init/add/commit/log/fsck in a temporary repository, on the system allocator
# and under liballoc, with fixed names and dates: identical output, same hashes.
. "$(dirname "$0")/common.sh"
command -v git >/dev/null || fail "git is not installed"

git_session() {
    local dir=$1
    mkdir -p "$dir/repo" && cd "$dir/repo"
    export HOME=$dir GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    export GIT_AUTHOR_NAME="Ada Tester" GIT_AUTHOR_EMAIL=ada@example.invalid
    export GIT_COMMITTER_NAME="Ada Tester" GIT_COMMITTER_EMAIL=ada@example.invalid
    export GIT_AUTHOR_DATE="2024-01-02T03:04:05Z" GIT_COMMITTER_DATE="2024-01-02T03:04:05Z"
    git init -q -b main .
    for i in $(seq 1 200); do
        printf 'file %d\n%s\n' "$i" "$(seq "$i" $((i + 40)) | tr '\n' ' ')" >"f$i.txt"
    done
    mkdir -p sub/deeper
    seq 1 20000 >sub/deeper/numbers.txt
    git add -A
    git commit -q -m "first commit"
    for i in $(seq 1 200 | awk 'NR % 3 == 0'); do echo "changed $i" >>"f$i.txt"; done
    git rm -q f7.txt
    git mv f8.txt renamed.txt
    git add -A
    export GIT_AUTHOR_DATE="2024-01-03T03:04:05Z" GIT_COMMITTER_DATE="2024-01-03T03:04:05Z"
    git commit -q -m "second commit"
    git log --stat --format='%H %an %ad %s' --date=iso-strict
    git diff HEAD~1 --numstat
    git rev-parse HEAD HEAD^{tree}
    git fsck --no-progress 2>&1
    git gc -q 2>&1
    git log --oneline
    git count-objects -v | grep -v size
}

( git_session "$TMP/sys" ) >"$TMP/sys.out" 2>&1 || fail "git failed on the system allocator: $(tail -5 "$TMP/sys.out")"
( export LD_PRELOAD=$SO; git_session "$TMP/la" ) >"$TMP/la.out" 2>&1 || fail "git failed under liballoc: $(tail -5 "$TMP/la.out")"
same_output "git session output" "$TMP/sys.out" "$TMP/la.out"
# Once more with liballoc's heap checker running every 500 calls in every git process.
( export LD_PRELOAD=$SO LIBALLOC_OPTIONS=check=500; git_session "$TMP/lachk" ) >"$TMP/lachk.out" 2>&1 \
    || fail "git failed under liballoc with check=500: $(tail -5 "$TMP/lachk.out")"
same_output "git session output (check=500)" "$TMP/sys.out" "$TMP/lachk.out"
bound_to_liballoc git --git-dir="$TMP/la/repo/.git" log --oneline
echo "$NAME: ok ($(wc -l <"$TMP/la.out") identical lines, HEAD $(git --git-dir="$TMP/la/repo/.git" rev-parse --short HEAD))"
