/*
 * tests/check_heapview_trace.c - heapview's tracing features against real targets:
 * --leaks (live and from a core, text and collapsed), --diff of two cores,
 * --explain, --history and the double-free account, and step mode's path words.
 *
 * The target tests/progs/hv_leaky.c keeps 5 blocks of 100 bytes from
 * leak_small() and 3 of 2000 from leak_big(), and on SIGUSR1 frees one of the
 * first and keeps 4 of 48 from leak_more(); it prints every pointer, so the
 * expected report is known exactly: 100 bytes -> chunk 0x70, 2000 -> 0x7e0,
 * 48 -> 0x40.  Runs with LD_PRELOAD=liballoc.so and LIBALLOC_OPTIONS asking
 * for sites and history.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "hv_testutil.h"
#include "debug_abi.h"

#define TRACE_OPTS "LIBALLOC_OPTIONS=sites=8,history=4096"

static char tmpdir[256];

static void make_tmpdir(void) { hv_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/hvtrace.XXXXXX"); }
static void rm_tmpdir(void) { hv_rm_tmpdir(tmpdir, "check_heapview_trace"); }

struct leaky {
    pid_t pid;
    FILE *out;
    unsigned long long a[5], b[3], n[4], freed;
    int na, nb, nn;
};

/* Start hv_leaky under liballoc with env (e.g. TRACE_OPTS); read up to READY. */
static void leaky_start(struct leaky *t, const char *env, const char *arg)
{
    memset(t, 0, sizeof *t);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char path[4096], so[4096];
    ck_assert_ptr_nonnull(realpath(hv_target_path("tests/progs/hv_leaky"), path));
    ck_assert_ptr_nonnull(realpath(hv_target_path("liballoc/liballoc.so"), so));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("LD_PRELOAD", so, 1);
        if (env)
            putenv((char *)env);
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        setrlimit(RLIMIT_CORE, &rl);
        if (chdir(tmpdir) != 0)
            _exit(126);
        execl(path, path, arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    t->pid = pid;
    t->out = fdopen(fds[0], "r");
    char line[256];
    while (fgets(line, sizeof line, t->out)) {
        if (!strcmp(line, "READY\n"))
            return;
        if (!strncmp(line, "L a ", 4) && t->na < 5)
            t->a[t->na++] = strtoull(line + 4, NULL, 16);
        else if (!strncmp(line, "L b ", 4) && t->nb < 3)
            t->b[t->nb++] = strtoull(line + 4, NULL, 16);
    }
    ck_abort_msg("hv_leaky exited before READY");
}

/* SIGUSR1: phase 2; read F and N lines up to READY2. */
static void leaky_phase2(struct leaky *t)
{
    kill(t->pid, SIGUSR1);
    char line[256];
    while (fgets(line, sizeof line, t->out)) {
        if (!strcmp(line, "READY2\n"))
            return;
        if (!strncmp(line, "F ", 2))
            t->freed = strtoull(line + 2, NULL, 16);
        else if (!strncmp(line, "N ", 2) && t->nn < 4)
            t->n[t->nn++] = strtoull(line + 2, NULL, 16);
    }
    ck_abort_msg("hv_leaky exited before READY2");
}

static void leaky_stop(struct leaky *t)
{
    hv_stop_child(&t->pid, &t->out);
}

static struct run run_hv_in(const char *const *args, double timeout_s, const char *input);
static struct run run_hv(const char *const *args, double timeout_s) { return run_hv_in(args, timeout_s, NULL); }

/* input: text for heapview's stdin (NULL: /dev/null) */
static struct run run_hv_in(const char *const *args, double timeout_s, const char *input)
{
    return hv_run_heapview(tmpdir, args, input, NULL, -1, timeout_s);
}

static const char *gcore(pid_t pid, const char *name)
{
    static char path[2][400];
    static int k;
    char *p = path[k++ % 2], cmd[800];
    snprintf(cmd, sizeof cmd, "gcore -o '%s/%s' %d >/dev/null 2>&1", tmpdir, name, (int)pid);
    ck_assert_msg(system(cmd) == 0, "gcore failed");
    snprintf(p, 400, "%s/%s.%d", tmpdir, name, (int)pid);
    return p;
}

/* The group whose first frame is in function fn: its header line's numbers. */
struct group {
    unsigned long long req, bytes, count, oldest;
    char frame[256];
};

static int find_group(const char *report, const char *fn, struct group *g)
{
    const char *p = report;
    char want[128];
    snprintf(want, sizeof want, "    %s+0x", fn);
    while ((p = strstr(p, "\nsite "))) {
        p++;
        struct group x;
        memset(&x, 0, sizeof x);
        if (sscanf(p, "site %*u: %llu bytes requested, %llu chunk bytes, %llu chunks, oldest #%llu", &x.req,
                   &x.bytes, &x.count, &x.oldest) != 4)
            continue;
        const char *nl = strchr(p, '\n');
        if (nl && !strncmp(nl + 1, want, strlen(want))) {
            const char *e = strchr(nl + 1, '\n');
            size_t len = e ? (size_t)(e - nl - 1) : strlen(nl + 1);
            if (len >= sizeof x.frame)
                len = sizeof x.frame - 1;
            memcpy(x.frame, nl + 1, len);
            *g = x;
            return 1;
        }
    }
    return 0;
}

/* The report names both sites with the right bytes and counts, and the frames
 * carry file:line from the debug info. */
static void check_leaks(const char *out)
{
    struct group g;
    ck_assert_msg(find_group(out, "leak_small", &g), "no leak_small site in:\n%s", out);
    ck_assert_uint_eq(g.req, 500);
    ck_assert_uint_eq(g.count, 5);
    ck_assert_uint_eq(g.bytes, 5 * 0x70);
    ck_assert_msg(strstr(g.frame, "(hv_leaky.c:"), "no file:line in '%s'", g.frame);
    ck_assert_msg(find_group(out, "leak_big", &g), "no leak_big site in:\n%s", out);
    ck_assert_uint_eq(g.req, 6000);
    ck_assert_uint_eq(g.count, 3);
    ck_assert_uint_eq(g.bytes, 3 * 0x7e0);
    ck_assert_msg(!find_group(out, "churn", &g), "freed blocks of churn() reported:\n%s", out);
    ck_assert_msg(!find_group(out, "leak_more", &g), "leak_more reported before it ran:\n%s", out);
}

START_TEST(leaks_live)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "-p", pid, "--leaks", NULL };
    struct run r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    check_leaks(r.out);
    hv_run_free(&r);
    /* collapsed stacks: outermost first, value = bytes requested */
    const char *args2[] = { "-p", pid, "--leaks=collapsed", NULL };
    r = run_hv(args2, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, ";main;leak_small 500\n") && strstr(r.out, ";main;leak_big 6000\n"),
                  "collapsed output:\n%s", r.out);
    hv_run_free(&r);
    leaky_stop(&t);
    rm_tmpdir();
}
END_TEST

START_TEST(leaks_core)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    const char *core = gcore(t.pid, "core");
    leaky_stop(&t);                 /* the core alone must do */
    const char *args[] = { "--leaks", core, NULL };
    struct run r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    check_leaks(r.out);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* --since: only what was allocated after a mark (growth). */
START_TEST(leaks_since_mark)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *hargs[] = { "-p", pid, "--history", NULL };
    struct run r = run_hv(hargs, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    unsigned long long total = 0;
    ck_assert_msg(sscanf(r.out, "history: %*u of %llu operations", &total) == 1, "history:\n%s", r.out);
    hv_run_free(&r);
    char mark[32];
    snprintf(mark, sizeof mark, "%llu", total);
    /* nothing allocated since the mark yet */
    const char *a0[] = { "-p", pid, "--leaks", "--since", mark, NULL };
    r = run_hv(a0, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "(allocated since the mark): 0 sites, 0 chunks, 0 bytes requested"), "%s", r.out);
    hv_run_free(&r);
    leaky_phase2(&t);
    const char *args[] = { "-p", pid, "--leaks", "--since", mark, NULL };
    r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    struct group g;
    ck_assert_msg(find_group(r.out, "leak_more", &g), "no leak_more site in:\n%s", r.out);
    ck_assert_uint_eq(g.req, 4 * 48);
    ck_assert_uint_eq(g.count, 4);
    ck_assert_uint_eq(g.bytes, 4 * 0x40);
    ck_assert_msg(!find_group(r.out, "leak_small", &g) && !find_group(r.out, "leak_big", &g),
                  "blocks from before the mark reported:\n%s", r.out);
    hv_run_free(&r);
    leaky_stop(&t);
    rm_tmpdir();
}
END_TEST

static int count_lines(const char *out, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += !strncmp(p, prefix, pl);
    return n;
}

/* The --diff output between hv_leaky's two phases: exactly its four new
 * blocks and its one freed block, and the summary line. */
static void check_leaky_diff(const struct leaky *t, const char *out)
{
    ck_assert_msg(count_lines(out, "new ") == 4, "new lines:\n%s", out);
    for (int i = 0; i < 4; i++) {
        char want[80];
        snprintf(want, sizeof want, "\nnew 0x%llx: chunk 0x40 bytes, 48 requested, at leak_more+", t->n[i]);
        ck_assert_msg(strstr(out, want), "missing '%s' in:\n%s", want + 1, out);
    }
    ck_assert_msg(count_lines(out, "freed ") == 1, "freed lines:\n%s", out);
    char want[80];
    snprintf(want, sizeof want, "\nfreed 0x%llx: chunk 0x70 bytes, allocated at leak_small+", t->freed);
    ck_assert_msg(strstr(out, want), "missing '%s' in:\n%s", want + 1, out);
    ck_assert_msg(strstr(out, "summary: 4 new (256 chunk bytes), 1 freed (112 chunk bytes), 0 resized"),
                  "summary:\n%s", out);
}

START_TEST(diff_cores)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s", gcore(t.pid, "a"));
    leaky_phase2(&t);
    snprintf(b, sizeof b, "%s", gcore(t.pid, "b"));
    leaky_stop(&t);
    const char *args[] = { "--diff", a, b, NULL };
    struct run r = run_hv(args, 30);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    /* exactly the four new blocks, exactly the one freed block */
    check_leaky_diff(&t, r.out);
    ck_assert_msg(count_lines(r.out, "resized ") == 0, "resized lines:\n%s", r.out);
    ck_assert_msg(strstr(r.out, "  +192 bytes requested, +256 chunk bytes, +4 chunks\n      leak_more+"),
                  "growth:\n%s", r.out);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* A saved snapshot (-p PID --save FILE, a small core) against a later gcore core:
 * the same exact lists as two cores, symbolised from the saved file's NT_FILE. */
START_TEST(diff_saved_vs_core)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char a[400], b[400], pid[32];
    snprintf(a, sizeof a, "%s/saved.a", tmpdir);
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *sargs[] = { "-p", pid, "--save", a, NULL };
    struct run r = run_hv(sargs, 30);
    ck_assert_msg(r.status == 0, "heapview --save exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "saved pid ") && strstr(r.out, a), "%s", r.out);
    hv_run_free(&r);
    /* bad input: one line naming the file, non-zero, the target still fine */
    const char *bargs[] = { "-p", pid, "--save", "/nonexistent/dir/x", NULL };
    r = run_hv(bargs, 10);
    ck_assert_msg(r.status != 0 && strstr(r.err, "cannot create /nonexistent/dir/x") &&
                  strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%d: %s", r.status, r.err);
    hv_run_free(&r);
    leaky_phase2(&t);
    snprintf(b, sizeof b, "%s", gcore(t.pid, "b"));
    leaky_stop(&t);
    const char *args[] = { "--diff", a, b, NULL };
    r = run_hv(args, 30);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    check_leaky_diff(&t, r.out);
    hv_run_free(&r);
    /* the saved file is a core to every other reader too */
    const char *largs[] = { "--leaks", a, NULL };
    r = run_hv(largs, 30);
    ck_assert_msg(r.status == 0 && strstr(r.out, "leak_small"), "--leaks of the saved file (%d):\n%s%s", r.status,
                  r.out, r.err);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* The chunk rows of a --dump=text: lines that start with "  0x" (address first). */
static char *chunk_rows(const char *dump)
{
    size_t n = strlen(dump);
    char *o = calloc(1, n + 1), *w = o;
    ck_assert_ptr_nonnull(o);
    for (const char *p = dump; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p + 1) : strlen(p);
        if (!strncmp(p, "  0x", 4)) {
            memcpy(w, p, l);
            w += l;
        }
        p += l;
    }
    return o;
}

/* A newer heapview reads a version-1 liballoc: a core of a traced program whose
 * liballoc_debug is patched to say ABI 1 with the version-1 size.  The trace
 * block is still in the memory after it, so a reader that ignored the version
 * would show the history and sites: heapview must not, and must show the same
 * heap as from the unpatched core. */
START_TEST(reads_abi_v1)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char v2[400], v1[400];
    snprintf(v2, sizeof v2, "%s", gcore(t.pid, "v2"));
    leaky_stop(&t);
    snprintf(v1, sizeof v1, "%s/v1.core", tmpdir);
    FILE *f = fopen(v2, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    int patched = 0;
    for (long i = 0; i + (long)sizeof(struct la_debug) <= len; i += 8) {
        struct la_debug d;
        if (memcmp(buf + i, &(uint64_t){ LA_DEBUG_MAGIC }, 8) != 0)
            continue;
        memcpy(&d, buf + i, offsetof(struct la_debug, layout));
        if (d.abi_version != LA_DEBUG_ABI_VERSION || d.size != sizeof(struct la_debug))
            continue;
        d.abi_version = 1;
        d.compat_version = 1;   /* as a version-1 liballoc wrote it */
        d.size = (uint32_t)offsetof(struct la_debug, trace);
        memcpy(buf + i, &d, offsetof(struct la_debug, layout));
        patched++;
    }
    ck_assert_msg(patched == 1, "liballoc_debug found %d times in the core", patched);
    f = fopen(v1, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    free(buf);

    const char *j1[] = { "--dump=json", v1, NULL };
    struct run r = run_hv(j1, 30);
    ck_assert_msg(r.status == 0, "v1 dump exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "\"abi_version\":1,"), "not read as ABI 1:\n%.400s", r.out);
    hv_run_free(&r);
    const char *d1[] = { "--dump=text", v1, NULL }, *d2[] = { "--dump=text", v2, NULL };
    struct run a = run_hv(d1, 30), b = run_hv(d2, 30);
    ck_assert_msg(a.status == 0 && b.status == 0, "dump exits %d %d: %s%s", a.status, b.status, a.err, b.err);
    char cur[32];
    snprintf(cur, sizeof cur, "ABI %u ", LA_DEBUG_ABI_VERSION);
    ck_assert_msg(strstr(a.out, "ABI 1 (compat 1)") && strstr(b.out, cur), "%.300s\n%.300s", a.out, b.out);
    char *ra = chunk_rows(a.out), *rb = chunk_rows(b.out);
    ck_assert_msg(strlen(ra) > 200 && strcmp(ra, rb) == 0, "chunk rows differ:\n%s\n---\n%s", ra, rb);
    free(ra);
    free(rb);
    hv_run_free(&a);
    hv_run_free(&b);
    const char *h1[] = { "--history", v1, NULL };
    r = run_hv(h1, 30);
    ck_assert_msg(r.status == 0 && strstr(r.out, "# no history recorded"), "%d:\n%s%s", r.status, r.out, r.err);
    hv_run_free(&r);
    const char *l1[] = { "--leaks", v1, NULL };
    r = run_hv(l1, 30);
    ck_assert_msg(r.status == 0 && strstr(r.out, "# allocation sites were not recorded"), "%d:\n%s%s", r.status,
                  r.out, r.err);
    hv_run_free(&r);
    /* and the unpatched core does have them */
    const char *h2[] = { "--history", v2, NULL };
    r = run_hv(h2, 30);
    ck_assert_msg(r.status == 0 && strstr(r.out, "history: "), "%d:\n%s%s", r.status, r.out, r.err);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

START_TEST(explain_sites)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char pid[32], addr[40];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    snprintf(addr, sizeof addr, "0x%llx", t.a[2] + 10);
    const char *args[] = { "-p", pid, "--explain", addr, NULL };
    struct run r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    char want[160];
    snprintf(want, sizeof want, "%s: 10 bytes into the user data of chunk 0x%llx (user pointer 0x%llx)\n", addr,
             t.a[2] - 16, t.a[2]);
    ck_assert_msg(strstr(r.out, want), "missing '%s' in:\n%s", want, r.out);
    ck_assert_msg(strstr(r.out, "size 0x70, inuse, in the main arena"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "requested 100 bytes; 100 + 8 (size field) = 108, rounded up to 16 = 0x70"), "%s",
                  r.out);
    ck_assert_msg(strstr(r.out, "pointed to by: no allocator list"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "\n    leak_small+0x"), "%s", r.out);
    hv_run_free(&r);
    /* an address in no chunk: exit 1 and one line */
    const char *args2[] = { "-p", pid, "--explain", "0x10", NULL };
    r = run_hv(args2, 20);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "0x10: not inside any chunk of this heap\n");
    hv_run_free(&r);
    leaky_stop(&t);
    rm_tmpdir();
}
END_TEST

START_TEST(history_live)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, TRACE_OPTS, NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "-p", pid, "--history", NULL };
    struct run r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    for (int i = 0; i < 5; i++) {
        char want[80];
        snprintf(want, sizeof want, " malloc(100) = 0x%llx: ", t.a[i]);
        const char *p = strstr(r.out, want);
        ck_assert_msg(p, "missing '%s' in:\n%s", want, r.out);
        const char *nl = strchr(p, '\n');
        ck_assert_msg(nl && memmem(p, (size_t)(nl - p), "[leak_small+0x", 14), "caller not named: %.*s",
                      (int)(nl ? nl - p : 80), p);
    }
    hv_run_free(&r);
    leaky_stop(&t);
    rm_tmpdir();
}
END_TEST

/* Without LIBALLOC_OPTIONS the reports say that nothing was recorded. */
START_TEST(leaks_not_recorded)
{
    make_tmpdir();
    struct leaky t;
    leaky_start(&t, NULL, NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    const char *args[] = { "-p", pid, "--leaks", NULL };
    struct run r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    ck_assert_msg(!strncmp(r.out, "# allocation sites were not recorded", 36), "%s", r.out);
    hv_run_free(&r);
    leaky_stop(&t);
    rm_tmpdir();
}
END_TEST

START_TEST(report_usage_errors)
{
    make_tmpdir();
    const char *a1[] = { "--diff", "/nonexistent", NULL };
    struct run r = run_hv(a1, 10);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--diff takes exactly two core files"), "%s", r.err);
    hv_run_free(&r);
    const char *a2[] = { "-p", "1", "--explain", "zz", NULL };
    r = run_hv(a2, 10);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "heapview: invalid address: zz\n");
    hv_run_free(&r);
    const char *a3[] = { "--leaks=xml", "core", NULL };
    r = run_hv(a3, 10);
    ck_assert_int_eq(r.status, 2);
    hv_run_free(&r);
    const char *a4[] = { "--diff", "/nonexistent/a", "/nonexistent/b", NULL };
    r = run_hv(a4, 10);
    ck_assert_int_eq(r.status, 3);
    ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* A double free aborts the program; from the kernel core, --history names the
 * call that did not return and where the block was freed before. */
START_TEST(double_free_core)
{
    make_tmpdir();
    char pat[256];
    int changed = hv_core_pattern_plain(pat, sizeof pat);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char path[4096], so[4096];
    ck_assert_ptr_nonnull(realpath(hv_target_path("tests/progs/hv_leaky"), path));
    ck_assert_ptr_nonnull(realpath(hv_target_path("liballoc/liballoc.so"), so));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);                /* the abort message */
        setenv("LD_PRELOAD", so, 1);
        putenv((char *)TRACE_OPTS);
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        setrlimit(RLIMIT_CORE, &rl);
        if (chdir(tmpdir) != 0)
            _exit(126);
        execl(path, path, "double", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[128];
    unsigned long long ptr = 0;
    while (fgets(line, sizeof line, out))
        if (!strncmp(line, "D ", 2))
            ptr = strtoull(line + 2, NULL, 16);
    fclose(out);
    int st = 0;
    waitpid(pid, &st, 0);
    hv_core_pattern_restore(pat, changed);
    char core[400];
    snprintf(core, sizeof core, "%s/core", tmpdir);
    if (access(core, R_OK) != 0)
        snprintf(core, sizeof core, "%s/core.%d", tmpdir, (int)pid);
    ck_assert_msg(ptr && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "hv_leaky double: status %#x, ptr %llx", st, ptr);
    ck_assert_msg(WCOREDUMP(st) && access(core, R_OK) == 0,
                  "KERNEL CORE DUMP COULD NOT BE PRODUCED on this machine (core_pattern '%s')", pat);
    const char *args[] = { "--history", core, NULL };
    struct run r = run_hv(args, 20);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    char want[160];
    snprintf(want, sizeof want, "\nin progress: free(0x%llx) (did not return)\n0x%llx was freed before: operation #", ptr,
             ptr);
    ck_assert_msg(strstr(r.out, want), "missing '%s' in:\n%s", want + 1, r.out);
    const char *p = strstr(r.out, want);
    ck_assert_msg(strstr(p, " at free_once+0x") && strstr(p, "(hv_leaky.c:"), "where it was freed: %s", p);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* ---- step mode ------------------------------------------------------------------------ */

static void assert_has(const char *out, const char *want)
{
    ck_assert_msg(strstr(out, want), "missing '%s' in:\n%s", want, out);
}

/* Every path of tests/progs/hv_steps.c, in the words of the design. */
START_TEST(step_paths)
{
    make_tmpdir();
    char so[4096], prog[4096];
    ck_assert_ptr_nonnull(realpath(hv_target_path("liballoc/liballoc.so"), so));
    ck_assert_ptr_nonnull(realpath(hv_target_path("tests/progs/hv_steps"), prog));
    const char *args[] = { "--step-batch", "--liballoc", so, "--", prog, NULL };
    struct run r = run_hv(args, 30);
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    assert_has(r.out, "stopped at liballoc's start\n");
    assert_has(r.out, ": size 0x30 -> tcache bin 1 (1 of 7)\n");
    assert_has(r.out, ": size 0x30 -> tcache bin 1 hit (0 of 7 left)\n");
    assert_has(r.out, ": size 0x510 -> coalesced to 0x510 in unsorted\n");
    assert_has(r.out, ": request 0x510 -> unsorted scan, exact fit\n");
    assert_has(r.out, ": 0x510 to caller, remainder 0x2f0 to unsorted\n");
    assert_has(r.out, ": size 0x40: tcache full -> fastbin 2\n");
    assert_has(r.out, ": request 0x5f0 -> carved from top; consolidated fastbins\n");
    assert_has(r.out, ": request 0x1d4d0 -> top extended by 0x");
    assert_has(r.out, ": request 0x4a000 -> mmapped 0x4a000\n");
    assert_has(r.out, ": munmapped 0x4a000\n");
    assert_has(r.out, "hv_steps exited with status 0\n");
    /* the split names the chunk it split, and what changed is listed */
    const char *sp = strstr(r.out, "malloc(1280) = 0x");
    ck_assert_ptr_nonnull(sp);
    sp = strstr(sp + 1, "malloc(1280) = 0x");       /* the exact fit */
    ck_assert_ptr_nonnull(sp);
    sp = strstr(sp + 1, "malloc(1280) = 0x");       /* the split */
    ck_assert_msg(sp && !strncmp(strchr(sp, ':'), ": split chunk 0x", 16), "third malloc(1280): %.120s", sp);
    const char *fr = strstr(r.out, ": size 0x30 -> tcache bin 1 (1 of 7)\n");
    ck_assert_msg(!strncmp(strchr(fr, '\n') + 1, "  changed 0x", 12) &&
                      strstr(strchr(fr, '\n') + 1, " size 0x30 free tcache 1\n"),
                  "freed chunk not highlighted: %.200s", fr);
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

/* Commands: f runs to the next free, a size breakpoint with c stops exactly
 * there, q kills the program. */
START_TEST(step_commands)
{
    make_tmpdir();
    char so[4096], prog[4096];
    ck_assert_ptr_nonnull(realpath(hv_target_path("liballoc/liballoc.so"), so));
    ck_assert_ptr_nonnull(realpath(hv_target_path("tests/progs/hv_steps"), prog));
    const char *args[] = { "--liballoc", so, "--", prog, NULL };
    struct run r = run_hv_in(args, 30, "f\nb size 1500\nc\nq\n");
    ck_assert_msg(r.status == 0, "heapview exit %d: %s", r.status, r.err);
    const char *p1 = strstr(r.out, "\n#1 malloc(40) = ");
    const char *p2 = p1 ? strstr(p1, "step> #2 free(") : NULL;
    const char *p3 = p2 ? strstr(p2, "step> step> #29 malloc(1500) = ") : NULL;
    ck_assert_msg(p1 && p2 && p3, "stops not as commanded:\n%s", r.out);
    ck_assert_int_eq(count_lines(r.out, "#"), 1);   /* later stops each follow a prompt */
    assert_has(r.out, "hv_steps killed (quit)\n");
    hv_run_free(&r);
    rm_tmpdir();
}
END_TEST

static Suite *suite_heapview_trace(void)
{
    Suite *s = suite_create("heapview_trace");
    TCase *tc = tcase_create("reports");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, leaks_live);
    tcase_add_test(tc, leaks_core);
    tcase_add_test(tc, leaks_since_mark);
    tcase_add_test(tc, diff_cores);
    tcase_add_test(tc, diff_saved_vs_core);
    tcase_add_test(tc, reads_abi_v1);
    tcase_add_test(tc, explain_sites);
    tcase_add_test(tc, history_live);
    tcase_add_test(tc, leaks_not_recorded);
    tcase_add_test(tc, report_usage_errors);
    tcase_add_test(tc, double_free_core);
    suite_add_tcase(s, tc);
    tc = tcase_create("step");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, step_paths);
    tcase_add_test(tc, step_commands);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_SUITE(suite_heapview_trace)
