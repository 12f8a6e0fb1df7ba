/*
 * tests/check_heapview.c - heapview engine tests: the real binary against real targets.
 *
 * Every test forks/execs $(B)/heapview/heapview on a target that prints its own
 * pointers with the state and bin each must have (tests/progs/hv_scripted.c), on
 * a core of such a target (gcore and a kernel core dump), or on a target that
 * corrupted its heap (hv_corrupt.c), and checks the output precisely: the JSON
 * dump is parsed with the small parser below and every printed pointer is looked
 * up in it.  Also: the target keeps running with its output unchanged, SIGKILL of
 * heapview while the target is stopped leaves it running, signals that arrive
 * while it is stopped are delivered, each one-line error, and a smoke run of the
 * core reader on mutated cores.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "hv_testutil.h"

/* ---- a minimal JSON parser ------------------------------------------------------------ */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jv {
    enum jt t;
    double num;
    int b;
    char *str;
    struct jv **items;      /* array items or object values */
    char **keys;            /* object keys */
    size_t n;
};

struct jp {
    const char *s;
    const char *err;
};

static void jws(struct jp *p)
{
    while (*p->s == ' ' || *p->s == '\n' || *p->s == '\t' || *p->s == '\r')
        p->s++;
}

static struct jv *jparse_val(struct jp *p, int depth);

static char *jparse_str(struct jp *p)
{
    if (*p->s != '"') {
        p->err = "string expected";
        return NULL;
    }
    p->s++;
    size_t cap = 16, n = 0;
    char *o = malloc(cap);
    while (*p->s && *p->s != '"') {
        char c = *p->s++;
        if (c == '\\') {
            char e = *p->s++;
            if (e == 'u') {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    if (!isxdigit((unsigned char)*p->s)) {
                        p->err = "bad \\u escape";
                        free(o);
                        return NULL;
                    }
                    char h = *p->s++;
                    v = v * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                c = (char)(v < 0x80 ? v : '?');
            } else if (e == 'n') c = '\n';
            else if (e == 't') c = '\t';
            else if (e == '"' || e == '\\' || e == '/') c = e;
            else {
                p->err = "bad escape";
                free(o);
                return NULL;
            }
        } else if ((unsigned char)c < 0x20) {
            p->err = "control character in string";
            free(o);
            return NULL;
        }
        if (n + 2 > cap)
            o = realloc(o, cap *= 2);
        o[n++] = c;
    }
    if (*p->s != '"') {
        p->err = "unterminated string";
        free(o);
        return NULL;
    }
    p->s++;
    o[n] = 0;
    return o;
}

static void jfree(struct jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jfree(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static struct jv *jparse_val(struct jp *p, int depth)
{
    jws(p);
    if (depth > 64) {
        p->err = "too deep";
        return NULL;
    }
    struct jv *v = calloc(1, sizeof *v);
    char c = *p->s;
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        p->s++;
        jws(p);
        size_t cap = 0;
        if (*p->s == (obj ? '}' : ']')) {
            p->s++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            jws(p);
            if (obj) {
                key = jparse_str(p);
                if (!key)
                    goto bad;
                jws(p);
                if (*p->s != ':') {
                    free(key);
                    p->err = "':' expected";
                    goto bad;
                }
                p->s++;
            }
            struct jv *item = jparse_val(p, depth + 1);
            if (!item) {
                free(key);
                goto bad;
            }
            if (v->n == cap) {
                cap = cap ? 2 * cap : 8;
                v->items = realloc(v->items, cap * sizeof *v->items);
                if (obj)
                    v->keys = realloc(v->keys, cap * sizeof *v->keys);
            }
            if (obj)
                v->keys[v->n] = key;
            v->items[v->n++] = item;
            jws(p);
            if (*p->s == ',') {
                p->s++;
                continue;
            }
            if (*p->s == (obj ? '}' : ']')) {
                p->s++;
                return v;
            }
            p->err = "',' or end expected";
            goto bad;
        }
    }
    if (c == '"') {
        v->t = J_STR;
        v->str = jparse_str(p);
        if (!v->str)
            goto bad;
        return v;
    }
    if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "false", 5)) {
        v->t = J_BOOL;
        v->b = c == 't';
        p->s += v->b ? 4 : 5;
        return v;
    }
    if (!strncmp(p->s, "null", 4)) {
        v->t = J_NULL;
        p->s += 4;
        return v;
    }
    if (c == '-' || isdigit((unsigned char)c)) {
        char *end;
        v->t = J_NUM;
        v->num = strtod(p->s, &end);
        p->s = end;
        return v;
    }
    p->err = "value expected";
bad:
    jfree(v);
    return NULL;
}

static struct jv *jparse(const char *s, const char **err)
{
    struct jp p = { s, NULL };
    struct jv *v = jparse_val(&p, 0);
    if (v) {
        jws(&p);
        if (*p.s) {
            p.err = "trailing data";
            jfree(v);
            v = NULL;
        }
    }
    *err = p.err;
    return v;
}

static struct jv *jget(const struct jv *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key))
            return o->items[i];
    return NULL;
}

static const char *jstr(const struct jv *o, const char *key)
{
    struct jv *v = jget(o, key);
    return v && v->t == J_STR ? v->str : NULL;
}

static unsigned long long jhex(const struct jv *o, const char *key)
{
    const char *s = jstr(o, key);
    return s ? strtoull(s, NULL, 16) : 0;
}

/* ---- processes ------------------------------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void) { hv_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/hvtest.XXXXXX"); }
static void rm_tmpdir(void) { hv_rm_tmpdir(tmpdir, "check_heapview"); }

/* Start a target program; read its lines up to READY. */
static void start(struct target *t, const char *prog, int preload, const char *arg, int cores_here)
{
    memset(t, 0, sizeof *t);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    snprintf(t->hb, sizeof t->hb, "%s/heartbeat", tmpdir);
    char path[4096], so[4096];
    if (!realpath(prog[0] == '/' ? prog : hv_target_path(prog), path))
        ck_abort_msg("no program %s", prog);
    if (!realpath(hv_target_path("liballoc/liballoc.so"), so))
        so[0] = 0;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (preload)
            setenv("LD_PRELOAD", so, 1);
        if (cores_here) {
            struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
            setrlimit(RLIMIT_CORE, &rl);
            if (chdir(tmpdir) != 0)
                _exit(126);
        }
        execl(path, path, arg ? arg : t->hb, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    t->pid = pid;
    t->out = fdopen(fds[0], "r");
    hv_target_read_ready(t, prog);
}

/* The target is alive, not stopped, its heartbeat advances, and its output is
 * unchanged: on SIGUSR1 it prints exactly "USR1 <expect_usr1>" and "INTACT". */
static void assert_running(struct target *t, int expect_usr1)
{
    double t0 = hv_now_s();
    char st = 0;
    while (hv_now_s() - t0 < 3) {
        st = hv_proc_state(t->pid);
        if (st == 'S' || st == 'R')
            break;
        usleep(10000);
    }
    ck_assert_msg(st == 'S' || st == 'R', "target %d is in state '%c', not running", (int)t->pid, st ? st : '?');
    unsigned long b0 = hv_heartbeat(t);
    t0 = hv_now_s();
    while (hv_heartbeat(t) <= b0 + 2 && hv_now_s() - t0 < 3)
        usleep(10000);
    ck_assert_msg(hv_heartbeat(t) > b0 + 2, "target heartbeat stuck at %lu", b0);
    if (expect_usr1 == 0) {
        kill(t->pid, SIGUSR1);
        expect_usr1 = 1;
    }
    char line[256], want[64];
    snprintf(want, sizeof want, "USR1 %d\n", expect_usr1);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, t->out));
    ck_assert_str_eq(line, want);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, t->out));
    ck_assert_str_eq(line, "INTACT\n");
}

/* Run heapview with args (NULL-terminated); env "NAME=VALUE" or NULL; as_uid >= 0
 * drops to that uid.  Kills it after timeout_s. */
static struct run run_hv(const char *const *args, const char *env, int as_uid, double timeout_s)
{
    return hv_run_heapview(tmpdir, args, NULL, env, as_uid, timeout_s);
}

/* ---- checking a dump against the target's own account ------------------------------------ */

static int arr_has_str(const struct jv *a, const char *s)
{
    for (size_t i = 0; a && a->t == J_ARR && i < a->n; i++)
        if (a->items[i]->t == J_STR && !strcmp(a->items[i]->str, s))
            return 1;
    return 0;
}

/* Is chunk address hex `ca` in one of the bins of list (array of bin objects)? */
static const struct jv *bin_with(const struct jv *bins, const char *ca)
{
    for (size_t i = 0; bins && bins->t == J_ARR && i < bins->n; i++)
        if (arr_has_str(jget(bins->items[i], "chunks"), ca))
            return bins->items[i];
    return NULL;
}

static void verify(const struct target *t, const char *json)
{
    const char *err = NULL;
    struct jv *root = jparse(json, &err);
    ck_assert_msg(root != NULL, "JSON does not parse: %s", err);
    ck_assert_str_eq(jstr(root, "format"), "heapview-1");
    struct jv *probs = jget(root, "problems");
    ck_assert_msg(probs && probs->t == J_ARR, "no problems array");
    ck_assert_msg(probs->n == 0, "clean heap reported %zu problems, first: %s", probs->n,
                  probs->n ? jstr(probs->items[0], "message") : "");
    struct jv *arenas = jget(root, "arenas"), *tcache = jget(root, "tcache"), *mm = jget(root, "mmapped");
    ck_assert_msg(arenas && arenas->t == J_ARR && arenas->n >= 2, "expected at least 2 arenas");
    ck_assert_msg(tcache && tcache->t == J_ARR && mm && mm->t == J_ARR, "tcache/mmapped missing");
    ck_assert_int_ge(t->n, 40);
    for (int i = 0; i < t->n; i++) {
        const struct ptr *p = &t->ptr[i];
        const struct jv *found = NULL, *arena = NULL;
        for (size_t a = 0; a < arenas->n && !found; a++) {
            struct jv *ch = jget(arenas->items[a], "chunks");
            for (size_t k = 0; ch && k < ch->n; k++)
                if (jhex(ch->items[k], "user") == p->p) {
                    found = ch->items[k];
                    arena = arenas->items[a];
                    break;
                }
        }
        for (size_t k = 0; !found && k < mm->n; k++)
            if (jhex(mm->items[k], "user") == p->p)
                found = mm->items[k];
        ck_assert_msg(found != NULL, "pointer %#llx (%s %s) is in no chunk list of the dump", p->p, p->state, p->bin);
        const char *state = jstr(found, "state");
        struct jv *bin = jget(found, "bin");
        const char *binname = bin && bin->t == J_STR ? bin->str : "none";
        ck_assert_msg(state && !strcmp(state, p->state), "pointer %#llx: state %s, expected %s", p->p, state,
                      p->state);
        ck_assert_msg(!strcmp(binname, p->bin), "pointer %#llx: bin %s, expected %s", p->p, binname, p->bin);
        char ca[32];
        snprintf(ca, sizeof ca, "0x%llx", p->p - 16);
        ck_assert_msg(!strcmp(jstr(found, "address"), ca), "pointer %#llx: chunk address %s", p->p,
                      jstr(found, "address"));
        if (!strcmp(p->arena, "main") || !strcmp(p->arena, "other")) {
            struct jv *m = jget(arena, "main");
            ck_assert_msg(m && m->t == J_BOOL && m->b == !strcmp(p->arena, "main"),
                          "pointer %#llx: expected in a %s arena", p->p, p->arena);
        }
        if (!strcmp(p->bin, "tcache")) {
            long tid = hv_target_tid(t, p->thread);
            struct jv *th = jget(found, "thread");
            ck_assert_msg(th && th->t == J_NUM && (long)th->num == tid, "pointer %#llx: tcache of thread %ld, "
                          "expected %s (%ld)", p->p, th ? (long)th->num : -1L, p->thread, tid);
            const struct jv *tc = NULL;
            for (size_t k = 0; k < tcache->n; k++) {
                struct jv *x = jget(tcache->items[k], "thread");
                if (x && (long)x->num == tid)
                    tc = tcache->items[k];
            }
            ck_assert_msg(tc && bin_with(jget(tc, "bins"), ca), "pointer %#llx not in thread %ld's tcache chains",
                          p->p, tid);
        } else if (strcmp(p->bin, "none") != 0) {
            struct jv *bins = jget(arena, "bins");
            const char *key = p->bin;
            ck_assert_msg(bin_with(jget(bins, key), ca), "pointer %#llx not in the arena's %s bin lists", p->p, key);
        }
    }
    /* full and partly full tcache bins: thread main 0x30 x7 and 0x50 x3; t2 0x30 x7 and 0x90 x2 */
    struct { const char *th; int size, count; } want[] = {
        { "main", 0x30, 7 }, { "main", 0x50, 3 }, { "t2", 0x30, 7 }, { "t2", 0x90, 2 },
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        long tid = hv_target_tid(t, want[w].th);
        int ok = 0;
        for (size_t k = 0; k < tcache->n; k++) {
            struct jv *x = jget(tcache->items[k], "thread");
            if (!x || (long)x->num != tid)
                continue;
            struct jv *bins = jget(tcache->items[k], "bins");
            for (size_t b = 0; bins && b < bins->n; b++) {
                struct jv *sz = jget(bins->items[b], "size"), *ct = jget(bins->items[b], "count"),
                          *ch = jget(bins->items[b], "chunks");
                if (sz && (int)sz->num == want[w].size)
                    ok = ct && (int)ct->num == want[w].count && ch && (int)ch->n == want[w].count;
            }
        }
        ck_assert_msg(ok, "tcache of %s: bin 0x%x should hold %d chunks", want[w].th, want[w].size, want[w].count);
    }
    struct jv *mid = jget(root, "mid_operation");
    ck_assert_msg(mid && mid->t == J_BOOL && !mid->b, "snapshot of an idle target marked mid-operation");
    jfree(root);
}

/* ---- live tests ------------------------------------------------------------------------------- */

static const char *target_prog(int is_static)
{
    return is_static ? "tests/progs/hv_scripted_static" : "tests/progs/hv_scripted";
}

static void live_case(int is_static)
{
    make_tmpdir();
    struct target t;
    start(&t, target_prog(is_static), !is_static, NULL, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--dump=json", "-p", pid, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    verify(&t, r.out);
    assert_running(&t, 0);
    /* a second snapshot from the same target gives the same picture */
    hv_run_free(&r);
    r = run_hv(args, NULL, -1, 20);
    ck_assert_int_eq(r.status, 0);
    verify(&t, r.out);
    hv_run_free(&r);
    hv_stop_target(&t);
    rm_tmpdir();
}

START_TEST(live_dynamic) { live_case(0); }
END_TEST
START_TEST(live_static) { live_case(1); }
END_TEST

/* heapview --dump=text --check on the live target t; it must exit 0 */
static struct run live_text_dump(const struct target *t)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t->pid);
    const char *args[] = { "--dump=text", "--check", "-p", pid, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    return r;
}

/* With the big-chunk cache on (the test target's large-bin chunks then wait
 * in it), the dump shows the cache's classes and its chunks' lines name it,
 * and the walk finds no problem. */
START_TEST(text_dump_bigcache)
{
    make_tmpdir();
    setenv("LIBALLOC_OPTIONS", "tcache_count=7", 1);   /* inherited by the target */
    struct target t;
    start(&t, target_prog(0), 1, NULL, 0);
    struct run r = live_text_dump(&t);
    ck_assert_msg(strstr(r.out, "problems: 0"), "problems found: %s", r.out);
    ck_assert_msg(strstr(r.out, "  bigcache "), "no big-chunk cache class in the dump: %s", r.out);
    ck_assert_msg(strstr(r.out, "bigcache["), "no chunk line names the big-chunk cache: %s", r.out);
    int found = 0;
    for (int i = 0; i < t.n; i++)
        if (strcmp(t.ptr[i].bin, "large") == 0) {
            char key[64];
            snprintf(key, sizeof key, "  0x%012llx  user 0x%012llx", t.ptr[i].p - 16, t.ptr[i].p);
            char *line = strstr(r.out, key);
            ck_assert_msg(line, "no line for %#llx", t.ptr[i].p);
            char *eol = strchr(line, '\n');
            *eol = 0;
            found += strstr(line, "bigcache[") != NULL;
            *eol = '\n';
        }
    ck_assert_msg(found > 0, "no freed large chunk shown in the big-chunk cache");
    hv_run_free(&r);
    assert_running(&t, 0);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

START_TEST(text_dump)
{
    make_tmpdir();
    struct target t;
    start(&t, target_prog(0), 1, NULL, 0);
    struct run r = live_text_dump(&t);
    for (const char *kw = "tcachebins\0fastbins\0unsortedbin\0smallbins\0largebins\0mmapped chunks: 1\0"
                          "problems: 0\0totals (mallinfo2)\0";
         *kw; kw += strlen(kw) + 1)
        ck_assert_msg(strstr(r.out, kw), "text dump lacks '%s'", kw);
    /* every pointer's line names its state and bin */
    for (int i = 0; i < t.n; i++) {
        char key[64];
        snprintf(key, sizeof key, "  0x%012llx  user 0x%012llx", t.ptr[i].p - 16, t.ptr[i].p);
        char *line = strstr(r.out, key);
        ck_assert_msg(line, "no line for %#llx", t.ptr[i].p);
        char *eol = strchr(line, '\n');
        *eol = 0;
        ck_assert_msg(strstr(line, t.ptr[i].state), "line for %#llx lacks state %s: %s", t.ptr[i].p, t.ptr[i].state,
                      line);
        if (strcmp(t.ptr[i].bin, "none") != 0)
            ck_assert_msg(strstr(line, t.ptr[i].bin), "line for %#llx lacks bin %s", t.ptr[i].p, t.ptr[i].bin);
        *eol = '\n';
    }
    hv_run_free(&r);
    assert_running(&t, 0);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

/* ---- cores --------------------------------------------------------------------------------- */

/* Make a kernel core dump of a fresh target in tmpdir; returns its path (static buffer)
 * and fills t with the target's account. */
static const char *kernel_core(struct target *t, int is_static)
{
    static char path[400];
    char pat[256];
    int changed = hv_core_pattern_plain(pat, sizeof pat);
    start(t, target_prog(is_static), !is_static, NULL, 1);
    pid_t pid = t->pid;
    kill(pid, SIGABRT);
    int st = 0;
    waitpid(pid, &st, 0);
    t->pid = 0;
    hv_core_pattern_restore(pat, changed);
    snprintf(path, sizeof path, "%s/core", tmpdir);
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof path, "%s/core.%d", tmpdir, (int)pid);
    ck_assert_msg(WIFSIGNALED(st) && WCOREDUMP(st) && access(path, R_OK) == 0,
                  "KERNEL CORE DUMP COULD NOT BE PRODUCED on this machine (core_pattern '%s', status %#x): "
                  "the kernel-core tests did not run", pat, st);
    return path;
}

static void core_case(int is_static, int use_gcore)
{
    make_tmpdir();
    struct target t;
    const char *core;
    char path[400];
    if (use_gcore) {
        start(&t, target_prog(is_static), !is_static, NULL, 0);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "gcore -o '%s/gcore' %d >/dev/null 2>&1", tmpdir, (int)t.pid);
        ck_assert_msg(system(cmd) == 0, "gcore failed");
        snprintf(path, sizeof path, "%s/gcore.%d", tmpdir, (int)t.pid);
        core = path;
    } else {
        core = kernel_core(&t, is_static);
    }
    const char *args[] = { "--dump=json", core, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    verify(&t, r.out);
    hv_run_free(&r);
    /* with the executable (or liballoc.so) named explicitly */
    const char *args2[] = { "--dump=json", core,
                            is_static ? hv_target_path(target_prog(1)) : hv_target_path("liballoc/liballoc.so"),
                            NULL };
    r = run_hv(args2, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    verify(&t, r.out);
    ck_assert_msg(strstr(r.out, "\"debug_found_by\":\"symbol liballoc_debug"), "symbol not used");
    hv_run_free(&r);
    if (use_gcore)
        assert_running(&t, 0);
    hv_stop_target(&t);
    rm_tmpdir();
}

START_TEST(gcore_dynamic) { core_case(0, 1); }
END_TEST
START_TEST(gcore_static) { core_case(1, 1); }
END_TEST
START_TEST(kcore_dynamic) { core_case(0, 0); }
END_TEST
START_TEST(kcore_static) { core_case(1, 0); }
END_TEST

/* The executable is gone: heapview falls back to the magic scan and says so. */
START_TEST(core_magic_fallback)
{
    make_tmpdir();
    char copy[400], cmd[1000];
    snprintf(copy, sizeof copy, "%s/hv_copy", tmpdir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", hv_target_path(target_prog(1)), copy);
    ck_assert_int_eq(system(cmd), 0);
    struct target t;
    start(&t, copy, 0, NULL, 0);
    snprintf(cmd, sizeof cmd, "gcore -o '%s/gcore' %d >/dev/null 2>&1", tmpdir, (int)t.pid);
    ck_assert_int_eq(system(cmd), 0);
    unlink(copy);
    char core[400];
    snprintf(core, sizeof core, "%s/gcore.%d", tmpdir, (int)t.pid);
    const char *args[] = { "--dump=json", core, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    verify(&t, r.out);
    ck_assert_msg(strstr(r.out, "scanning writable memory for the liballoc magic"), "fallback not reported");
    hv_run_free(&r);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

/* ---- stopping safely ------------------------------------------------------------------------- */

static int wait_state(pid_t pid, char want, double secs)
{
    double t0 = hv_now_s();
    while (hv_now_s() - t0 < secs) {
        if (hv_proc_state(pid) == want)
            return 1;
        usleep(2000);
    }
    return 0;
}

static pid_t spawn_hv_holding(const char *pid, const char *hold)
{
    pid_t h = fork();
    ck_assert_int_ge(h, 0);
    if (h == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        setenv("HEAPVIEW_HOLD_MS", hold, 1);
        unsetenv("LD_PRELOAD");
        execl(check_build_path("heapview/heapview"), "heapview", "--dump=json", "-p", pid, (char *)NULL);
        _exit(127);
    }
    return h;
}

static void kill_while_stopped(int sig)
{
    make_tmpdir();
    struct target t;
    start(&t, target_prog(0), 1, NULL, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    pid_t h = spawn_hv_holding(pid, "20000");
    ck_assert_msg(wait_state(t.pid, 't', 10), "target never entered tracing stop");
    /* a signal for the target while it is stopped must reach it afterwards */
    kill(t.pid, SIGUSR1);
    usleep(50000);
    kill(h, sig);
    int st;
    waitpid(h, &st, 0);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig, "heapview did not die of signal %d (status %#x)", sig, st);
    assert_running(&t, 1);
    hv_stop_target(&t);
    rm_tmpdir();
}

START_TEST(sigkill_leaves_target_running) { kill_while_stopped(SIGKILL); }
END_TEST
START_TEST(sigterm_detaches_target) { kill_while_stopped(SIGTERM); }
END_TEST
START_TEST(sigint_detaches_target) { kill_while_stopped(SIGINT); }
END_TEST

/* A signal that arrives while heapview holds the target is delivered after a normal run. */
START_TEST(signal_during_snapshot_delivered)
{
    make_tmpdir();
    struct target t;
    start(&t, target_prog(1), 0, NULL, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    pid_t h = spawn_hv_holding(pid, "700");
    ck_assert_msg(wait_state(t.pid, 't', 10), "target never entered tracing stop");
    kill(t.pid, SIGUSR1);
    int st;
    waitpid(h, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "heapview status %#x", st);
    assert_running(&t, 1);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

/* A process stopped by SIGSTOP (group-stop) stays stopped after a snapshot, and
 * runs again on SIGCONT. */
START_TEST(group_stop_kept)
{
    make_tmpdir();
    struct target t;
    start(&t, target_prog(0), 1, NULL, 0);
    kill(t.pid, SIGSTOP);
    ck_assert(wait_state(t.pid, 'T', 5));
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--dump=json", "-p", pid, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    verify(&t, r.out);
    hv_run_free(&r);
    usleep(100000);
    ck_assert_msg(hv_proc_state(t.pid) == 'T', "group-stopped target was resumed by heapview (state %c)",
                  hv_proc_state(t.pid));
    kill(t.pid, SIGCONT);
    assert_running(&t, 0);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

/* ---- corruption ------------------------------------------------------------------------------ */

static void corrupt_case(const char *mode, const char *const *expect)
{
    make_tmpdir();
    struct target t;
    start(&t, "tests/progs/hv_corrupt", 1, mode, 0);
    ck_assert_int_ge(t.ncorr, 1);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--check", "--dump=json", "-p", pid, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 1, "heapview --check on a corrupted heap: exit %d (%s)", r.status, r.err);
    const char *err;
    struct jv *root = jparse(r.out, &err);
    ck_assert_msg(root, "JSON does not parse: %s", err);
    struct jv *probs = jget(root, "problems");
    for (int k = 0; expect[k]; k++) {
        /* the problem is reported at the corrupted address, in the expected words */
        int ok = 0;
        for (size_t i = 0; probs && i < probs->n; i++) {
            const char *m = jstr(probs->items[i], "message");
            if (m && strstr(m, expect[k]) && jhex(probs->items[i], "address") == t.corr_addr[k])
                ok = 1;
        }
        ck_assert_msg(ok, "mode %s: no problem '%s' at %#llx; got:\n%s", mode, expect[k], t.corr_addr[k], r.out);
    }
    jfree(root);
    hv_run_free(&r);
    const char *args2[] = { "--dump=text", "-p", pid, NULL };
    r = run_hv(args2, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "text dump of a corrupted heap: exit %d", r.status);
    hv_run_free(&r);
    ck_assert_msg(kill(t.pid, 0) == 0 && hv_proc_state(t.pid) != 't', "target not running after the dump");
    hv_stop_target(&t);
    rm_tmpdir();
}

/* One row per kind of corruption hv_corrupt can make: its mode and the
 * problem heapview must report. */
static const struct { const char *mode, *expect; } CORRUPT_ROWS[] = {
    { "size", "free(): invalid size" },
    { "cycle", "cycle" },
    { "tcount", "count says 3 but the chain has 1" },
    { "outside", "outside the heap" },
    { "dll", "unsorted double linked list corrupted" },
    { "nextsize", "largebin double linked list corrupted (nextsize)" },
};
#define NCORRUPT (int)(sizeof CORRUPT_ROWS / sizeof CORRUPT_ROWS[0])

START_TEST(corrupt_one)
{
    const char *e[] = { CORRUPT_ROWS[_i].expect, NULL };
    corrupt_case(CORRUPT_ROWS[_i].mode, e);
}
END_TEST
START_TEST(corrupt_all)
{
    const char *e[NCORRUPT + 1] = { NULL };
    for (int i = 0; i < NCORRUPT; i++)
        e[i] = CORRUPT_ROWS[i].expect;
    corrupt_case("all", e);
}
END_TEST

/* An arena's remote-free list whose last link points at itself: heapview's walk
 * of the list is bounded and reports the cycle at that chunk. */
START_TEST(corrupt_remote_cycle)
{
    const char *e[] = { "remote-free list: cycle", NULL };
    corrupt_case("remote", e);
}
END_TEST

/* ---- consistency ------------------------------------------------------------------------- */

/* liballoc looks busy for ever: heapview retries, then keeps the copy marked mid-operation. */
static void midop_case(const char *mode, const char *reason)
{
    make_tmpdir();
    struct target t;
    start(&t, "tests/progs/hv_corrupt", 1, mode, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--dump=json", "-p", pid, NULL };
    struct run r = run_hv(args, NULL, -1, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    const char *err;
    struct jv *root = jparse(r.out, &err);
    ck_assert_msg(root, "JSON does not parse: %s", err);
    struct jv *mid = jget(root, "mid_operation"), *att = jget(root, "attempts");
    const char *why = jstr(root, "mid_reason");
    ck_assert_msg(mid && mid->t == J_BOOL && mid->b, "snapshot not marked mid-operation");
    ck_assert_msg(why && strstr(why, reason), "mid_reason '%s' lacks '%s'", why ? why : "(null)", reason);
    ck_assert_msg(att && att->num == 51, "expected 51 stops (1 + 50 retries), got %g", att ? att->num : -1);
    jfree(root);
    hv_run_free(&r);
    ck_assert_msg(wait_state(t.pid, 'S', 3), "target not running after the dump");
    hv_stop_target(&t);
    rm_tmpdir();
}

START_TEST(midop_generation) { midop_case("midop", "generation"); }
END_TEST
START_TEST(midop_locked) { midop_case("locked", "arena 0 was locked"); }
END_TEST

/* Threads that allocate without pause: every snapshot that is not marked
 * mid-operation must be free of problems (all threads really were stopped and
 * liballoc idle), and most snapshots should find liballoc idle. */
START_TEST(churn_snapshots_consistent)
{
    make_tmpdir();
    struct target t;
    start(&t, "tests/progs/hv_churn", 1, "2", 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--dump=json", "-p", pid, NULL };
    int consistent = 0, runs = 8;
    for (int i = 0; i < runs; i++) {
        struct run r = run_hv(args, NULL, -1, 30);
        ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
        const char *err;
        struct jv *root = jparse(r.out, &err);
        ck_assert_msg(root, "JSON does not parse: %s", err);
        struct jv *mid = jget(root, "mid_operation"), *probs = jget(root, "problems");
        if (mid && mid->t == J_BOOL && !mid->b) {
            consistent++;
            ck_assert_msg(probs && probs->n == 0, "consistent snapshot %d of a churning heap has %zu problems, "
                          "first: %s", i, probs ? probs->n : 0, probs && probs->n ? jstr(probs->items[0], "message") : "");
        }
        jfree(root);
        hv_run_free(&r);
    }
    ck_assert_msg(consistent * 2 >= runs, "only %d of %d snapshots found liballoc idle", consistent, runs);
    ck_assert_msg(kill(t.pid, 0) == 0 && (wait_state(t.pid, 'S', 3) || hv_proc_state(t.pid) == 'R'),
                  "churning target not running (state %c)", hv_proc_state(t.pid));
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------------- */

static void expect_error(const char *const *args, int as_uid, int status, const char *words)
{
    struct run r = run_hv(args, NULL, as_uid, 20);
    ck_assert_msg(r.status == status, "exit %d, expected %d; stderr: %s", r.status, status, r.err);
    ck_assert_msg(strncmp(r.err, "heapview: ", 10) == 0 && strstr(r.err, words), "stderr lacks '%s': %s", words, r.err);
    char *nl = strchr(r.err, '\n');
    ck_assert_msg(nl && nl[1] == 0, "error is not exactly one line: %s", r.err);
    ck_assert_msg(r.out[0] == 0, "stdout not empty on error");
    hv_run_free(&r);
}

START_TEST(err_no_such_process)
{
    make_tmpdir();
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)p);
    const char *args[] = { "--dump=text", "-p", pid, NULL };
    expect_error(args, -1, 3, "no such process");
    /* an exited child not yet reaped (a zombie) is no process to look at either */
    p = fork();
    if (p == 0)
        _exit(0);
    ck_assert_msg(wait_state(p, 'Z', 5), "child did not become a zombie");
    snprintf(pid, sizeof pid, "%d", (int)p);
    expect_error(args, -1, 3, "no such process");
    waitpid(p, NULL, 0);
    rm_tmpdir();
}
END_TEST

START_TEST(err_permission)
{
    make_tmpdir();
    ck_assert_int_eq(chmod(tmpdir, 0777), 0);
    struct target t;
    start(&t, target_prog(0), 1, NULL, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--dump=text", "-p", pid, NULL };
    if (getuid() == 0)
        expect_error(args, 65534, 4, "permission denied");
    else
        expect_error(args, -1, 4, "permission denied");
    struct run r = run_hv(args, NULL, getuid() == 0 ? 65534 : -1, 20);
    ck_assert_msg(strstr(r.err, "ptrace_scope"), "permission error does not mention ptrace_scope: %s", r.err);
    hv_run_free(&r);
    assert_running(&t, 0);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

/* Another tracer (a debugger) holds the target: heapview says so and leaves it alone. */
START_TEST(err_already_traced)
{
    make_tmpdir();
    struct target t;
    start(&t, target_prog(0), 1, NULL, 0);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t tracer = fork();
    if (tracer == 0) {
        char ok = ptrace(PTRACE_SEIZE, t.pid, 0, 0) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    ck_assert_int_eq(read(ready[0], &ok, 1), 1);
    ck_assert_msg(ok == 'y', "helper could not seize the target");
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "--dump=json", "-p", pid, NULL };
    expect_error(args, -1, 4, "already traced by pid");
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    assert_running(&t, 0);
    hv_stop_target(&t);
    rm_tmpdir();
}
END_TEST

START_TEST(err_not_liballoc)
{
    make_tmpdir();
    pid_t p = fork();
    if (p == 0) {
        unsetenv("LD_PRELOAD");
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    char comm[64] = "", cpath[64];
    snprintf(cpath, sizeof cpath, "/proc/%d/comm", (int)p);
    for (int i = 0; i < 500 && strcmp(comm, "sleep\n") != 0; i++) {   /* until exec is done */
        usleep(10000);
        FILE *f = fopen(cpath, "r");
        if (f) {
            if (!fgets(comm, sizeof comm, f))
                comm[0] = 0;
            fclose(f);
        }
    }
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)p);
    const char *args[] = { "--dump=text", "-p", pid, NULL };
    expect_error(args, -1, 5, "does not use liballoc");
    ck_assert_msg(wait_state(p, 'S', 3), "sleep not left running (state %c)", hv_proc_state(p));
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    rm_tmpdir();
}
END_TEST

/* Write a modified copy of src: len bytes (0 = all), then patch at off (if patch). */
static void write_copy(const char *dst, const char *src_buf, size_t len, size_t off, const void *patch, size_t plen)
{
    char *b = malloc(len);
    memcpy(b, src_buf, len);
    if (patch)
        memcpy(b + off, patch, plen);
    FILE *f = fopen(dst, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
}

START_TEST(err_cores)
{
    make_tmpdir();
    struct target t;
    const char *core = kernel_core(&t, 1);
    size_t len;
    char *buf = hv_slurp(core, &len);
    ck_assert_msg(buf && len > 4096, "core unreadable");
    char p[400];

    snprintf(p, sizeof p, "%s/text", tmpdir);
    write_copy(p, "this is not a core\n", 19, 0, NULL, 0);
    const char *a1[] = { "--dump=text", p, NULL };
    expect_error(a1, -1, 6, "not an ELF core");

    const char *a2[] = { "--dump=text", check_build_path("heapview/heapview"), NULL };
    expect_error(a2, -1, 6, "not an ELF core");

    const char *a3[] = { "--dump=text", "/nonexistent/core", NULL };
    expect_error(a3, -1, 3, "cannot open core file");

    snprintf(p, sizeof p, "%s/trunc", tmpdir);
    write_copy(p, buf, len / 2, 0, NULL, 0);
    const char *a4[] = { "--dump=text", p, NULL };
    expect_error(a4, -1, 6, "truncated core");

    snprintf(p, sizeof p, "%s/trunc2", tmpdir);
    write_copy(p, buf, 40, 0, NULL, 0);
    expect_error(a4, -1, 6, "truncated core");
    snprintf(p, sizeof p, "%s/trunc", tmpdir);

    uint16_t aarch64 = 183;
    snprintf(p, sizeof p, "%s/arm", tmpdir);
    write_copy(p, buf, len, 18, &aarch64, 2);
    const char *a5[] = { "--dump=text", p, NULL };
    expect_error(a5, -1, 6, "another architecture");

    unsigned char c32 = 1;
    snprintf(p, sizeof p, "%s/c32", tmpdir);
    write_copy(p, buf, len, 4, &c32, 1);
    const char *a6[] = { "--dump=text", p, NULL };
    expect_error(a6, -1, 6, "another architecture");

    /* compat_version (offset 20 of struct la_debug) raised beyond what we read */
    size_t at = 0;
    static const unsigned char magic[8] = { 'A', 'L', 'H', 'E', 'A', 'P', 'V', '1' };
    for (size_t i = 0; i + 24 <= len; i += 8)
        if (!memcmp(buf + i, magic, 8)) {
            at = i;
            break;
        }
    ck_assert_msg(at, "magic not found in the core");
    uint32_t v = 99;
    snprintf(p, sizeof p, "%s/abi", tmpdir);
    write_copy(p, buf, len, at + 20, &v, 4);
    const char *a7[] = { "--dump=text", p, NULL };
    expect_error(a7, -1, 7, "ABI version");
    free(buf);
    rm_tmpdir();
}
END_TEST

START_TEST(err_usage)
{
    make_tmpdir();
    const char *a1[] = { "--dump=xml", "core", NULL };
    expect_error(a1, -1, 2, "--dump takes text or json");
    const char *a2[] = { "-p", "12x", NULL };
    expect_error(a2, -1, 2, "invalid process id");
    const char *a3[] = { NULL };
    expect_error(a3, -1, 2, "give either -p PID or CORE");
    const char *a4[] = { "--version", NULL };
    struct run r = run_hv(a4, NULL, -1, 5);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "ABI"), "version output: %s", r.out);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* ---- core reader smoke fuzz: mutated kernel cores never crash or hang heapview ----------- */

START_TEST(fuzz_smoke_cores)
{
    make_tmpdir();
    struct target t;
    const char *core = kernel_core(&t, 1);
    size_t len;
    char *buf = hv_slurp(core, &len);
    ck_assert_ptr_nonnull(buf);
    char p[400];
    snprintf(p, sizeof p, "%s/mut", tmpdir);
    unsigned seed = 12345;
    int runs = 0, crashes = 0;
    for (int i = 0; i < 150; i++) {
        char *b = malloc(len);
        memcpy(b, buf, len);
        size_t n = len;
        int kind = i % 3;
        int flips = 1 + (int)(rand_r(&seed) % 16);
        for (int k = 0; k < flips; k++) {
            /* headers and notes (first 16 KiB) half the time, anywhere otherwise */
            size_t off = (kind == 0 ? (size_t)rand_r(&seed) % 16384 : (size_t)rand_r(&seed) % len);
            if (off < len)
                b[off] = (char)rand_r(&seed);
        }
        if (kind == 2)
            n = (size_t)rand_r(&seed) % len;
        FILE *f = fopen(p, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
        free(b);
        const char *args[] = { "--dump=json", "--check", p, NULL };
        struct run r = run_hv(args, NULL, -1, 10);
        runs++;
        if (r.status >= 128 || r.status == 99) {
            crashes++;
            char keep[420];
            snprintf(keep, sizeof keep, "/tmp/heapview-crash-%d.core", i);
            rename(p, keep);
            fprintf(stderr, "fuzz_smoke_cores: heapview failed with status %d; input kept as %s\n%s", r.status,
                    keep, r.err);
        }
        hv_run_free(&r);
    }
    free(buf);
    ck_assert_msg(crashes == 0, "%d of %d mutated cores crashed heapview", crashes, runs);
    rm_tmpdir();
}
END_TEST

static Suite *suite_heapview(void)
{
    Suite *s = suite_create("heapview");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, live_dynamic);
    tcase_add_test(tc, live_static);
    tcase_add_test(tc, text_dump);
    tcase_add_test(tc, text_dump_bigcache);
    tcase_add_test(tc, group_stop_kept);
    suite_add_tcase(s, tc);

    tc = tcase_create("cores");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, gcore_dynamic);
    tcase_add_test(tc, gcore_static);
    tcase_add_test(tc, kcore_dynamic);
    tcase_add_test(tc, kcore_static);
    tcase_add_test(tc, core_magic_fallback);
    suite_add_tcase(s, tc);

    tc = tcase_create("stopping");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sigkill_leaves_target_running);
    tcase_add_test(tc, sigterm_detaches_target);
    tcase_add_test(tc, sigint_detaches_target);
    tcase_add_test(tc, signal_during_snapshot_delivered);
    suite_add_tcase(s, tc);

    tc = tcase_create("consistency");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, midop_generation);
    tcase_add_test(tc, midop_locked);
    tcase_add_test(tc, churn_snapshots_consistent);
    suite_add_tcase(s, tc);

    tc = tcase_create("corruption");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, corrupt_one, 0, NCORRUPT);
    tcase_add_test(tc, corrupt_remote_cycle);
    tcase_add_test(tc, corrupt_all);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, err_no_such_process);
    tcase_add_test(tc, err_permission);
    tcase_add_test(tc, err_not_liballoc);
    tcase_add_test(tc, err_already_traced);
    tcase_add_test(tc, err_cores);
    tcase_add_test(tc, err_usage);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz_smoke");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fuzz_smoke_cores);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_SUITE(suite_heapview)
