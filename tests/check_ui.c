/*
 * tests/check_ui.c - the interactive view, driven in tmux like a person would.
 *
 * Each test starts a target (tests/progs/hv_scripted, which prints every pointer
 * it made with the state and bin it must have, or the demo workload for live
 * changes), opens a private tmux server (-L hvui<runner pid>_<test>, 100x30) running
 * a plain bash, types the heapview command line into it, and from then on only
 * sends keys and reads the screen (capture-pane -p; -e for the attributes).
 * Assertions are made against the target's own account of its pointers: a chunk
 * address found by `/` with an interior address must be the selected row, with
 * the right state; bins show the right chains; the chunk view reveals the right
 * safe-linked pointer.  Every wait is a bounded poll.  After `q` the shell prompt
 * is back (tmux's alternate_on is 0) and the target still runs (its heartbeat
 * advances, it answers SIGUSR1 with its heap intact).
 *
 * HV_UI_HEAPVIEW=PATH tests another heapview binary, and HV_TARGET_BUILD=DIR takes
 * liballoc.so and the targets from another build directory (for the sanitizer
 * build, as `make sanitize` runs it).  With HV_UI_SCREENS=DIR set, the
 * screens are saved there as text (that is how the committed tests/ui_screens
 * files are made).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "hv_testutil.h"
#include "../heapview/ui_keys.h"

static pid_t runner_pid;
static char ui_tmp[256];

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static char *slurp_fd(FILE *f)
{
    size_t cap = 8192, n = 0, r;
    char *b = malloc(cap + 1);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            b = realloc(b, (cap *= 2) + 1);
    }
    b[n] = 0;
    return b;
}

static const char *abs_build(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int k;
    char *o = buf[k++ & 3];
    if (!realpath(check_build_path(rel), o))
        snprintf(o, PATH_MAX, "%s", check_build_path(rel));
    return o;
}

/* liballoc.so and the target programs: from HV_TARGET_BUILD (a build directory) if
 * set, so that a sanitizer build of heapview (LA_BUILD=build-san) can be tested
 * against ordinary targets (ASan cannot run under a preloaded malloc). */
static const char *target_path(const char *rel)
{
    const char *d = getenv("HV_TARGET_BUILD");
    if (!d || !*d)
        return abs_build(rel);
    static char buf[4][PATH_MAX];
    static int k;
    char *o = buf[k++ & 3], tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s", d, rel);
    if (!realpath(tmp, o))
        snprintf(o, PATH_MAX, "%s", tmp);
    return o;
}

/* ---- targets ----------------------------------------------------------------------- */

/* Start prog (preloaded with liballoc); with want_ready, read its lines up to READY.
 * The target dies with the test process (PR_SET_PDEATHSIG), whatever happens. */
static void start_target_arg(struct target *t, const char *prog, const char *env, int want_ready, const char *arg)
{
    memset(t, 0, sizeof *t);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    snprintf(t->hb, sizeof t->hb, "%s/heartbeat", ui_tmp);
    unlink(t->hb);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("LD_PRELOAD", target_path("liballoc/liballoc.so"), 1);
        if (env)
            putenv((char *)env);
        const char *path = target_path(prog);
        execl(path, path, arg ? arg : t->hb, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    t->pid = pid;
    t->out = fdopen(fds[0], "r");
    if (!want_ready)
        return;
    hv_target_read_ready(t, prog);
}

static void start_target(struct target *t, const char *prog, const char *env, int want_ready)
{
    start_target_arg(t, prog, env, want_ready, NULL);
}

static const struct ptr *find_ptr(const struct target *t, const char *state, const char *bin, const char *arena, int nth)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->ptr[i].state, state) && !strcmp(t->ptr[i].bin, bin) && (!arena || !strcmp(t->ptr[i].arena, arena)))
            if (nth-- == 0)
                return &t->ptr[i];
    ck_abort_msg("the target printed no %s/%s pointer", state, bin);
    return NULL;
}

/* The target runs (not stopped), its heartbeat advances, and it answers SIGUSR1
 * number `nth` with its in-use blocks intact. */
static void assert_target_running(struct target *t, int nth)
{
    double t0 = hv_now_s();
    char st = 0;
    while (hv_now_s() - t0 < 5) {
        st = hv_proc_state(t->pid);
        if (st == 'S' || st == 'R')
            break;
        nap_ms(20);
    }
    ck_assert_msg(st == 'S' || st == 'R', "target is in state '%c' after heapview left", st ? st : '?');
    unsigned long b0 = hv_heartbeat(t);
    t0 = hv_now_s();
    while (hv_heartbeat(t) <= b0 + 2 && hv_now_s() - t0 < 5)
        nap_ms(20);
    ck_assert_msg(hv_heartbeat(t) > b0 + 2, "target heartbeat stuck at %lu", b0);
    kill(t->pid, SIGUSR1);
    char line[256], want[64];
    snprintf(want, sizeof want, "USR1 %d\n", nth);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, t->out));
    ck_assert_str_eq(line, want);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, t->out));
    ck_assert_str_eq(line, "INTACT\n");
}

/* ---- tmux ------------------------------------------------------------------------------ */

struct tm_s {
    char sock[64];
};

static void tm_name(struct tm_s *m, const char *test)
{
    snprintf(m->sock, sizeof m->sock, "hvui%d_%s", (int)runner_pid, test);
}

static int tmux(const struct tm_s *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tmux(const struct tm_s *m, const char *fmt, ...)
{
    char args[2048], cmd[2300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "tmux -L %s -f /dev/null %s >/dev/null 2>&1", m->sock, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *tm_out(const struct tm_s *m, const char *args)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tmux -L %s -f /dev/null %s 2>/dev/null", m->sock, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return strdup("");
    char *s = slurp_fd(p);
    pclose(p);
    return s;
}

static char *screen(const struct tm_s *m) { return tm_out(m, "capture-pane -p -t hv"); }

static int tm_num(const struct tm_s *m, const char *fmt)
{
    char args[200];
    snprintf(args, sizeof args, "display -p -t hv '%s'", fmt);
    char *s = tm_out(m, args);
    int v = atoi(s);
    free(s);
    return v;
}

static void tm_start(struct tm_s *m, const char *test)
{
    tm_name(m, test);
    tmux(m, "kill-server");
    ck_assert_int_eq(tmux(m, "new-session -d -s hv -x 100 -y 30 -c %s 'env -u TMUX PS1=\"$ \" TERM=screen "
                             "bash --norc --noprofile'", ui_tmp), 0);
    tmux(m, "set-option -t hv -g status off");
    /* the shell is up when it has printed its prompt */
    double t0 = hv_now_s();
    for (;;) {
        char *s = screen(m);
        int ok = strstr(s, "$") != NULL;
        free(s);
        if (ok)
            break;
        ck_assert_msg(hv_now_s() - t0 < 10, "tmux shell did not start");
        nap_ms(50);
    }
}

/* Kill the private server and remove its socket file (tmux leaves it behind). */
static void tm_stop(struct tm_s *m)
{
    tmux(m, "kill-server");
    const char *dir = getenv("TMUX_TMPDIR");
    char path[600];
    snprintf(path, sizeof path, "%s/tmux-%u/%s", dir && *dir ? dir : "/tmp", (unsigned)getuid(), m->sock);
    unlink(path);
}

/* Type a line into the shell (literally) and press Enter. */
static void tm_line(const struct tm_s *m, const char *line)
{
    char q[1200];
    size_t o = 0;
    for (const char *p = line; *p && o + 5 < sizeof q; p++) {
        if (*p == '\'') {
            memcpy(q + o, "'\\''", 4);
            o += 4;
        } else
            q[o++] = *p;
    }
    q[o] = 0;
    ck_assert_int_eq(tmux(m, "send-keys -t hv -l '%s'", q), 0);
    ck_assert_int_eq(tmux(m, "send-keys -t hv Enter"), 0);
}

/* Send tmux key names (e.g. "Tab", "NPage", "j") or literal text with -l. */
static void tm_keys(const struct tm_s *m, const char *keys) { ck_assert_int_eq(tmux(m, "send-keys -t hv %s", keys), 0); }
static void tm_lit(const struct tm_s *m, const char *text) { ck_assert_int_eq(tmux(m, "send-keys -t hv -l '%s'", text), 0); }

typedef int (*screen_pred)(const char *scr, const void *arg);

static int has_all(const char *scr, const void *arg)
{
    for (const char *const *w = arg; *w; w++)
        if (!strstr(scr, *w))
            return 0;
    return 1;
}

/* Poll the screen until pred holds (at most secs); returns the screen (caller frees). */
static char *wait_screen(const struct tm_s *m, screen_pred pred, const void *arg, double secs, const char *what)
{
    double t0 = hv_now_s();
    char *s = NULL;
    for (;;) {
        free(s);
        s = screen(m);
        if (pred(s, arg))
            return s;
        if (hv_now_s() - t0 > secs)
            break;
        nap_ms(40);
    }
    ck_abort_msg("screen never showed %s; last screen:\n%s", what, s);
    return s;
}

static char *wait_words(const struct tm_s *m, double secs, const char *w1, const char *w2, const char *w3)
{
    const char *w[4] = { w1, w2, w3, NULL };
    char what[300];
    snprintf(what, sizeof what, "'%s' '%s' '%s'", w1, w2 ? w2 : "", w3 ? w3 : "");
    return wait_screen(m, has_all, w, secs, what);
}

/* The selected row of a list view: the line that starts with '>'. */
static int sel_line(const char *scr, char *out, size_t len)
{
    const char *p = scr;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (*p == '>') {
            snprintf(out, len, "%.*s", (int)n, p);
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

struct selwant {
    const char *a, *b, *c;
};

static int sel_has(const char *scr, const void *arg)
{
    const struct selwant *w = arg;
    char l[400];
    if (!sel_line(scr, l, sizeof l))
        return 0;
    return (!w->a || strstr(l, w->a)) && (!w->b || strstr(l, w->b)) && (!w->c || strstr(l, w->c));
}

static char *wait_sel(const struct tm_s *m, const char *a, const char *b, const char *c)
{
    struct selwant w = { a, b, c };
    char what[300];
    snprintf(what, sizeof what, "a selected row with '%s' '%s' '%s'", a ? a : "", b ? b : "", c ? c : "");
    return wait_screen(m, sel_has, &w, 8, what);
}

static void save_screen(const char *name, const char *scr)
{
    const char *dir = getenv("HV_UI_SCREENS");
    if (!dir || !*dir)
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(scr, f);
    fclose(f);
}

/* Go to an interior address of the chunk of user pointer p and check the selected
 * row: that chunk, with the class name expected. */
static void goto_check(const struct tm_s *m, unsigned long long p, const char *cls, const char *extra)
{
    char addr[40], chunk[40];
    snprintf(addr, sizeof addr, "%llx", p + 8);          /* inside the user data */
    snprintf(chunk, sizeof chunk, "0x%012llx", p - 16);
    tm_keys(m, "/");
    tm_lit(m, addr);
    tm_keys(m, "Enter");
    char *s = wait_sel(m, chunk, cls, extra);
    char st[100];
    snprintf(st, sizeof st, "is in chunk 0x%llx (+0x18", p - 16);
    ck_assert_msg(strstr(s, st) != NULL, "status line does not say '%s':\n%s", st, s);
    free(s);
}

/* After q: the prompt is back, the alternate screen is off, heapview's status shown. */
static void expect_exit(const struct tm_s *m, int status)
{
    char w[40];
    snprintf(w, sizeof w, "HV_EXIT=%d", status);
    char *s = wait_words(m, 10, w, NULL, NULL);
    free(s);
    ck_assert_int_eq(tm_num(m, "#{alternate_on}"), 0);
    ck_assert_int_eq(tm_num(m, "#{pane_dead}"), 0);
}

/* The heapview under test: HV_UI_HEAPVIEW if set (e.g. the sanitizer build, run
 * against the ordinary targets), else the one in the build directory. */
static const char *hv_path(void)
{
    const char *e = getenv("HV_UI_HEAPVIEW");
    return e && *e ? e : abs_build("heapview/heapview");
}

static void run_hv(const struct tm_s *m, const char *args, const char *env)
{
    char line[1000];
    snprintf(line, sizeof line, "%s%s%s %s; echo HV_EXIT=$?", env ? env : "", env ? " " : "", hv_path(), args);
    tm_line(m, line);
}

/* ---- fixtures ------------------------------------------------------------------------- */

static void ui_setup(void)
{
    runner_pid = getpid();
    snprintf(ui_tmp, sizeof ui_tmp, "/tmp/hvui.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(ui_tmp));
}

static void ui_teardown(void)
{
    static const char *const names[] = { "views", "core", "refresh", "signals", "refuse", "mono", "corrupt", "trace", "step", NULL };
    for (int i = 0; names[i]; i++) {
        struct tm_s m;
        tm_name(&m, names[i]);
        tm_stop(&m);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ui_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "check_ui: could not remove %s\n", ui_tmp);
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(live_views)
{
    struct target t;
    start_target(&t, "tests/progs/hv_scripted", NULL, 1);
    struct tm_s m;
    tm_start(&m, "views");
    char args[64], w1[128], w2[128];
    snprintf(args, sizeof args, "-p %d", (int)t.pid);
    run_hv(&m, args, NULL);

    /* Overview: both arenas, both threads, mmap figures, tunables */
    snprintf(w1, sizeof w1, "thread %ld  arena 0", hv_target_tid(&t, "main"));
    snprintf(w2, sizeof w2, "thread %ld  arena 1", hv_target_tid(&t, "t2"));
    char *s = wait_words(&m, 15, "[1:Overview]", w1, w2);
    free(s);
    /* the lines below the threads may come in a later screen update */
    s = wait_words(&m, 15, "[1:Overview]", "n_mmaps 1  n_mmaps_max 65536  max_n_mmaps 1", "fragmentation");
    ck_assert_msg(strstr(s, "Arena 0 (main)") && strstr(s, "Arena 1 @"), "arenas missing:\n%s", s);
    ck_assert_msg(strstr(s, "n_mmaps 1  n_mmaps_max 65536  max_n_mmaps 1"), "mmap figures missing:\n%s", s);
    ck_assert_msg(strstr(s, "tcache_count 7") && strstr(s, "fragmentation"), "tunables/fragmentation:\n%s", s);
    save_screen("overview", s);
    free(s);

    /* Heap map: every kind of chunk the target made, found by an interior address */
    tm_keys(&m, "2");
    free(wait_words(&m, 5, "[2:Heap map]", "first bytes", NULL));
    char tmain[32], tt2[32];
    snprintf(tmain, sizeof tmain, "@%ld", hv_target_tid(&t, "main"));
    snprintf(tt2, sizeof tt2, "@%ld", hv_target_tid(&t, "t2"));
    goto_check(&m, find_ptr(&t, "inuse", "none", "main", 1)->p, "inuse", NULL);
    goto_check(&m, find_ptr(&t, "inuse", "none", "other", 0)->p, "inuse", "-N");
    goto_check(&m, find_ptr(&t, "free", "tcache", "main", 3)->p, "tcache", tmain);
    goto_check(&m, find_ptr(&t, "free", "tcache", "other", 1)->p, "tcache", tt2);
    goto_check(&m, find_ptr(&t, "free", "fast", "main", 0)->p, "fast", "fast[2]");
    goto_check(&m, find_ptr(&t, "free", "unsorted", "main", 0)->p, "unsorted", NULL);
    goto_check(&m, find_ptr(&t, "free", "small", "main", 0)->p, "small", "small[16]");
    goto_check(&m, find_ptr(&t, "free", "large", "main", 0)->p, "large", "large[");
    goto_check(&m, find_ptr(&t, "mmapped", "none", "-", 0)->p, "mmapped", "-M-");
    /* back to the fast chunk for the screenshot: the strip, the legend, the rows */
    goto_check(&m, find_ptr(&t, "free", "fast", "main", 0)->p, "fast", NULL);
    s = screen(&m);
    ck_assert_msg(strstr(s, "U inuse") && strstr(s, "! corrupt") && strstr(s, "cell~"), "legend missing:\n%s", s);
    save_screen("heapmap", s);
    free(s);

    /* navigation: g selects the lowest chunk, j the next one, k back, PgDn further */
    tm_keys(&m, "g");
    char first[40];
    snprintf(first, sizeof first, "0x%012llx", find_ptr(&t, "inuse", "none", "main", 0)->p - 16);
    free(wait_sel(&m, first, "inuse", NULL));
    tm_keys(&m, "j");
    s = wait_screen(&m, sel_has, &(struct selwant){ "0x", NULL, NULL }, 5, "a selection");
    char l1[400];
    nap_ms(200);
    free(s);
    s = screen(&m);
    ck_assert(sel_line(s, l1, sizeof l1));
    ck_assert_msg(!strstr(l1, first), "j did not move: %s", l1);
    free(s);
    tm_keys(&m, "k");
    free(wait_sel(&m, first, NULL, NULL));
    tm_keys(&m, "NPage");
    nap_ms(300);
    s = screen(&m);
    ck_assert(sel_line(s, l1, sizeof l1));
    unsigned long long a_pg = strtoull(l1 + 2, NULL, 16), a_first = strtoull(first, NULL, 16);
    ck_assert_msg(a_pg > a_first, "PgDn did not move down: %s", l1);
    free(s);

    /* Bins: the first thread's tcache, then t (the other), fastbin/unsorted/small/large chains */
    tm_keys(&m, "3");
    s = wait_words(&m, 5, "[3:Bins]", "tcachebins of thread", "Arena 0 (main) bins");
    char fastc[2][40];
    for (int i = 0; i < 2; i++)
        snprintf(fastc[i], sizeof fastc[i], "0x%llx", find_ptr(&t, "free", "fast", "main", i)->p - 16);
    char unsc[40], smc[40], lgc[40];
    snprintf(unsc, sizeof unsc, "0x%llx", find_ptr(&t, "free", "unsorted", "main", 0)->p - 16);
    snprintf(smc, sizeof smc, "0x%llx", find_ptr(&t, "free", "small", "main", 0)->p - 16);
    snprintf(lgc, sizeof lgc, "0x%llx", find_ptr(&t, "free", "large", "main", 0)->p - 16);
    /* the chains may run past one screen: look at the top and the bottom */
    tm_keys(&m, "G");
    nap_ms(300);
    char *s2 = screen(&m);
    size_t both_len = strlen(s) + strlen(s2) + 1;
    char *both = malloc(both_len + 1);
    snprintf(both, both_len + 1, "%s\n%s", s, s2);
    ck_assert_msg(strstr(both, "fast[2]") && strstr(both, fastc[0]) && strstr(both, fastc[1]), "fastbin:\n%s", both);
    ck_assert_msg(strstr(both, "unsorted") && strstr(both, unsc), "unsorted bin:\n%s", both);
    ck_assert_msg(strstr(both, "small[16]") && strstr(both, smc), "small bin:\n%s", both);
    ck_assert_msg(strstr(both, "large[72]") && strstr(both, lgc), "large bin:\n%s", both);
    /* fastbin order: the last freed first */
    char chain[100];
    snprintf(chain, sizeof chain, "-> %s -> %s", fastc[1], fastc[0]);
    ck_assert_msg(strstr(both, chain), "fastbin chain order '%s' missing:\n%s", chain, both);
    save_screen("bins", s);
    free(s2);
    /* whose tcache is shown, then t: the other thread's chunks */
    long shown = -1;
    const char *q = strstr(s, "tcachebins of thread ");
    if (q)
        shown = atol(q + strlen("tcachebins of thread "));
    ck_assert_msg(shown == hv_target_tid(&t, "main") || shown == hv_target_tid(&t, "t2"), "tcache of unknown thread:\n%s", s);
    free(s);
    free(both);
    tm_keys(&m, "t");
    long other = shown == hv_target_tid(&t, "main") ? hv_target_tid(&t, "t2") : hv_target_tid(&t, "main");
    snprintf(w1, sizeof w1, "tcachebins of thread %ld", other);
    const struct ptr *tp = find_ptr(&t, "free", "tcache", other == hv_target_tid(&t, "t2") ? "other" : "main", 0);
    snprintf(w2, sizeof w2, "0x%llx", tp->p - 16);
    tm_keys(&m, "g");
    s = wait_words(&m, 5, w1, "tcache[1]", w2);
    save_screen("bins_thread2", s);
    free(s);

    /* Chunk detail of the fastbin head: the safe-linked fd revealed to the other fast chunk */
    goto_check(&m, find_ptr(&t, "free", "fast", "main", 1)->p, "fast", NULL);
    tm_keys(&m, "Enter");
    snprintf(w1, sizeof w1, "Chunk %s", fastc[1]);
    snprintf(w2, sizeof w2, "revealed %s -> chunk %s", fastc[0], fastc[0]);
    s = wait_words(&m, 5, w1, w2, "fastbin 2 (chunks 0x40");
    ck_assert_msg(strstr(s, "malloc(n) for n = 41..56") && strstr(s, "0x41 = size 0x40 | flags 0x1: PREV_INUSE"), "arithmetic:\n%s", s);
    ck_assert_msg(strstr(s, "Memory (64 of 64 bytes)"), "hexdump:\n%s", s);
    save_screen("chunk", s);
    free(s);
    /* Enter on the revealed line follows the link */
    tm_keys(&m, "j j j j j");
    nap_ms(200);
    tm_keys(&m, "Enter");
    snprintf(w1, sizeof w1, "Chunk %s", fastc[0]);
    free(wait_words(&m, 5, w1, "fast[2]", NULL));

    /* Problems: none in this heap */
    tm_keys(&m, "5");
    s = wait_words(&m, 5, "[5:Problems(0)]", "No problems", NULL);
    save_screen("problems", s);
    free(s);
    tm_keys(&m, "n");
    free(wait_words(&m, 5, "no problems in this snapshot", NULL, NULL));

    /* Help: every key of the table */
    tm_keys(&m, "'?'");
    s = wait_words(&m, 5, "[Help]", "Keys", "Legend");
#define CHECK_KEY(fn, names, help, ...)                                                            \
    {                                                                                              \
        char kl[200];                                                                              \
        snprintf(kl, sizeof kl, "%-10s %s", names, help);                                         \
        ck_assert_msg(strstr(s, kl) != NULL, "help does not list key '%s':\n%s", names, s);        \
    }
    UI_KEY_TABLE(CHECK_KEY)
    save_screen("help", s);
    free(s);
    tm_keys(&m, "x");
    free(wait_words(&m, 5, "[5:Problems(0)]", "No problems", NULL));

    /* resizing never kills it, and every size is redrawn */
    static const int sizes[][2] = { { 80, 24 }, { 50, 12 }, { 30, 6 }, { 132, 43 }, { 100, 30 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tmux(&m, "resize-window -t hv -x %d -y %d", sizes[i][0], sizes[i][1]);
        s = wait_words(&m, 5, sizes[i][0] < 40 || sizes[i][1] < 8 ? "too small" : "heapview  pid", NULL, NULL);
        free(s);
        tm_keys(&m, "Tab");
    }
    tm_keys(&m, "1");
    s = wait_words(&m, 5, "[1:Overview]", "Arena 0 (main)", NULL);
    free(s);
    tmux(&m, "resize-window -t hv -x 80 -y 24");
    tm_keys(&m, "2");
    s = wait_words(&m, 5, "[2:Heap map]", "first bytes", NULL);
    save_screen("heapmap_80x24", s);
    free(s);

    /* q: terminal restored, target running and intact */
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    assert_target_running(&t, 1);
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

START_TEST(core_views)
{
    if (system("command -v gcore >/dev/null 2>&1") != 0) {
        fprintf(stderr, "check_ui: gcore not installed; core_views not run\n");
        ck_abort_msg("gcore (gdb) is needed: apt-get install gdb");
    }
    struct target t;
    start_target(&t, "tests/progs/hv_scripted", NULL, 1);
    char cmd[600], core[400];
    snprintf(cmd, sizeof cmd, "gcore -o '%s/core' %d >/dev/null 2>&1", ui_tmp, (int)t.pid);
    ck_assert_msg(system(cmd) == 0, "gcore failed");
    snprintf(core, sizeof core, "%s/core.%d", ui_tmp, (int)t.pid);
    struct tm_s m;
    tm_start(&m, "core");
    run_hv(&m, core, NULL);
    char *s = wait_words(&m, 15, "core file: one snapshot", "[1:Overview]", "Arena 1 @");
    save_screen("core_overview", s);
    free(s);
    tm_keys(&m, "2");
    free(wait_words(&m, 5, "[2:Heap map]", NULL, NULL));
    goto_check(&m, find_ptr(&t, "free", "tcache", "main", 0)->p, "tcache", NULL);
    goto_check(&m, find_ptr(&t, "free", "small", "main", 0)->p, "small", NULL);
    goto_check(&m, find_ptr(&t, "free", "large", "main", 0)->p, "large", NULL);
    goto_check(&m, find_ptr(&t, "free", "unsorted", "main", 0)->p, "unsorted", NULL);
    goto_check(&m, find_ptr(&t, "free", "tcache", "other", 0)->p, "tcache", NULL);
    goto_check(&m, find_ptr(&t, "inuse", "none", "other", 0)->p, "inuse", NULL);
    tm_keys(&m, "r");
    free(wait_words(&m, 5, "core file: one snapshot, nothing to refresh", NULL, NULL));
    /* an address in no chunk */
    tm_keys(&m, "/");
    tm_lit(&m, "10");
    tm_keys(&m, "Enter");
    free(wait_words(&m, 5, "0x10 is not inside any chunk", NULL, NULL));
    tm_keys(&m, "3");
    s = wait_words(&m, 5, "[3:Bins]", "tcachebins of thread", NULL);
    save_screen("core_bins", s);
    free(s);
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

static long title_num(const char *s, const char *after)
{
    const char *p = strstr(s, after);
    return p ? atol(p + strlen(after)) : -1;
}

static int changed_rows(const char *scr, const void *arg)
{
    (void)arg;
    /* a heap map row marked + (new) or ~ (changed) */
    for (const char *p = scr; (p = strstr(p, "\n")) != NULL; p++)
        if ((p[1] == ' ' || p[1] == '>') && (p[2] == '+' || p[2] == '~') && p[3] == '0' && p[4] == 'x')
            return 1;
    return 0;
}

START_TEST(live_refresh_exit)
{
    struct target t;
    start_target(&t, "tests/progs/demo", "DEMO_STEP_MS=20", 0);
    struct tm_s m;
    tm_start(&m, "refresh");
    char args[64];
    snprintf(args, sizeof args, "-p %d -d 0.2", (int)t.pid);
    run_hv(&m, args, NULL);
    free(wait_words(&m, 15, "live every 0.2s", "[1:Overview]", NULL));
    tm_keys(&m, "2");
    /* the workload changes its heap all the time: some rows get + or ~ */
    char *s = wait_screen(&m, changed_rows, NULL, 15, "a row marked + or ~");
    save_screen("heapmap_live", s);
    long n0 = title_num(s, "#");
    free(s);
    /* refreshes go on (about 5 per second) */
    double t0 = hv_now_s();
    long n1 = n0;
    while (hv_now_s() - t0 < 10 && n1 < n0 + 3) {
        nap_ms(100);
        s = screen(&m);
        n1 = title_num(s, "#");
        free(s);
    }
    ck_assert_msg(n1 >= n0 + 3, "refresh count stuck at %ld", n1);
    /* Space pauses: no refresh for a second; r refreshes once */
    tm_keys(&m, "Space");
    free(wait_words(&m, 5, "PAUSED", NULL, NULL));
    tm_keys(&m, "1");
    nap_ms(300);
    s = screen(&m);
    long p0 = title_num(s, "#");   /* not shown while paused */
    free(s);
    ck_assert_int_eq(p0, -1);
    tm_keys(&m, "Space");
    s = wait_words(&m, 5, "live every 0.2s", NULL, NULL);
    long a = title_num(s, "#");
    free(s);
    tm_keys(&m, "Space");
    free(wait_words(&m, 5, "PAUSED", NULL, NULL));
    nap_ms(1200);
    tm_keys(&m, "r");
    nap_ms(100);
    tm_keys(&m, "Space");
    s = wait_words(&m, 5, "live every 0.2s", NULL, NULL);
    long b = title_num(s, "#");
    free(s);
    /* paused 1.2 s at 0.2 s per refresh would have been 6 refreshes: only r (and the
     * refresh on resume) happened, plus at most one in flight */
    ck_assert_msg(b >= a + 1 && b <= a + 4, "pause: refresh count went from %ld to %ld", a, b);

    /* the target exits: the screen says so and keeps the last snapshot */
    kill(t.pid, SIGKILL);
    waitpid(t.pid, NULL, 0);
    t.pid = 0;
    tm_keys(&m, "2");
    s = wait_words(&m, 10, "TARGET EXITED", "[2:Heap map]", "first bytes");
    ck_assert_msg(strstr(s, " 0x") != NULL, "no chunk rows left after the target exited:\n%s", s);
    save_screen("target_exited", s);
    free(s);
    tm_keys(&m, "r");
    free(wait_words(&m, 5, "the target exited: nothing to refresh", NULL, NULL));
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

/* pid of the heapview started by the pane's shell */
static pid_t hv_pid(const struct tm_s *m)
{
    int shell = tm_num(m, "#{pane_pid}");
    double t0 = hv_now_s();
    while (hv_now_s() - t0 < 10) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        pid_t found = 0;
        while (d && (de = readdir(d)) != NULL) {
            if (!isdigit((unsigned char)de->d_name[0]))
                continue;
            char p[300], buf[512];
            snprintf(p, sizeof p, "/proc/%s/stat", de->d_name);
            FILE *f = fopen(p, "r");
            if (!f)
                continue;
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            char *rp = strrchr(buf, ')');
            int ppid = 0;
            char st;
            if (rp && strstr(buf, "(heapview)") && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == shell)
                found = (pid_t)atoi(de->d_name);
        }
        if (d)
            closedir(d);
        if (found)
            return found;
        nap_ms(50);
    }
    ck_abort_msg("no heapview process under the tmux shell");
    return 0;
}

/* Send sig to heapview while it runs the live view; with mid_snapshot, heapview
 * holds the target stopped 700 ms per snapshot (HEAPVIEW_HOLD_MS) and the signal
 * is sent while the target IS stopped. */
static void signal_case_at(struct tm_s *m, struct target *t, int sig, int usr1_nth, int mid_snapshot)
{
    char args[64], w[32];
    snprintf(args, sizeof args, "-p %d -d %s", (int)t->pid, mid_snapshot ? "0.05" : "0.1");
    run_hv(m, args, mid_snapshot ? "HEAPVIEW_HOLD_MS=700" : NULL);
    free(wait_words(m, 15, "[1:Overview]", "Arena 0 (main)", NULL));
    ck_assert_int_eq(tm_num(m, "#{alternate_on}"), 1);
    nap_ms(300);                                  /* a few refreshes: the target is seized and resumed */
    if (mid_snapshot) {
        double t0 = hv_now_s();
        while (hv_proc_state(t->pid) != 't' && hv_now_s() - t0 < 10)
            nap_ms(5);
        ck_assert_msg(hv_proc_state(t->pid) == 't', "the target was never seen stopped by a snapshot");
    }
    if (sig == SIGINT)
        tm_keys(m, "C-c");
    else
        kill(hv_pid(m), sig);
    snprintf(w, sizeof w, "HV_EXIT=%d", 128 + sig);
    free(wait_words(m, 10, w, NULL, NULL));
    ck_assert_int_eq(tm_num(m, "#{alternate_on}"), 0);
    assert_target_running(t, usr1_nth);
    tm_line(m, "clear");
    nap_ms(200);
}

static void signal_case(struct tm_s *m, struct target *t, int sig, int usr1_nth)
{
    signal_case_at(m, t, sig, usr1_nth, 0);
}

START_TEST(signals_restore)
{
    struct target t;
    start_target(&t, "tests/progs/hv_scripted", NULL, 1);
    struct tm_s m;
    tm_start(&m, "signals");
    signal_case(&m, &t, SIGTERM, 1);
    signal_case(&m, &t, SIGINT, 2);
    signal_case(&m, &t, SIGHUP, 3);
    signal_case(&m, &t, SIGSEGV, 4);              /* crash path: restore and re-raise */
    signal_case(&m, &t, SIGABRT, 5);
    signal_case_at(&m, &t, SIGTERM, 6, 1);        /* while a snapshot holds the target stopped */
    signal_case_at(&m, &t, SIGHUP, 7, 1);
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

START_TEST(refuse_without_terminal)
{
    struct target t;
    start_target(&t, "tests/progs/hv_scripted", NULL, 1);
    struct tm_s m;
    tm_start(&m, "refuse");
    char args[64];
    snprintf(args, sizeof args, "-p %d", (int)t.pid);
    run_hv(&m, args, "TERM=dumb");
    char *s = wait_words(&m, 10, "HV_EXIT=2", "use --dump", NULL);
    ck_assert_msg(strstr(s, "needs a terminal"), "%s", s);
    free(s);
    tm_stop(&m);
    /* not a tty: stdout to a file */
    char out[300], cmd[900];
    snprintf(out, sizeof out, "%s/notty.err", ui_tmp);
    snprintf(cmd, sizeof cmd, "'%s' -p %d </dev/null >/dev/null 2>'%s'", hv_path(), (int)t.pid, out);
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 2);
    char *e = hv_slurp(out, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strstr(e, "--dump") && strchr(e, '\n') == e + strlen(e) - 1, "want one line pointing at --dump: '%s'", e);
    free(e);
    assert_target_running(&t, 1);
    hv_stop_target(&t);
}
END_TEST

/* Does a capture-pane -e screen contain a colour SGR (30-38, 40-48, 90-107; 39/49 only reset)? */
static int has_colour_sgr(const char *s)
{
    for (const char *p = s; (p = strstr(p, "\033[")) != NULL; p += 2) {
        const char *q = p + 2;
        while (*q && *q != 'm' && (isdigit((unsigned char)*q) || *q == ';')) {
            int v = atoi(q);
            if ((v >= 30 && v <= 48 && v != 39) || (v >= 90 && v <= 107))
                return 1;
            while (isdigit((unsigned char)*q))
                q++;
            if (*q == ';')
                q++;
        }
    }
    return 0;
}

START_TEST(monochrome)
{
    struct target t;
    start_target(&t, "tests/progs/hv_scripted", NULL, 1);
    struct tm_s m;
    tm_start(&m, "mono");
    char args[64];
    snprintf(args, sizeof args, "-p %d 2", (int)t.pid);
    /* colour first (TERM=screen has 8 colours) */
    snprintf(args, sizeof args, "-p %d", (int)t.pid);
    run_hv(&m, args, NULL);
    free(wait_words(&m, 15, "[1:Overview]", NULL, NULL));
    tm_keys(&m, "2");
    free(wait_words(&m, 5, "[2:Heap map]", "U inuse", NULL));
    char *s = tm_out(&m, "capture-pane -e -p -t hv");
    ck_assert_msg(has_colour_sgr(s), "no colour in the colour view");
    free(s);
    tm_keys(&m, "c");                                  /* c turns colours off */
    nap_ms(400);
    s = tm_out(&m, "capture-pane -e -p -t hv");
    ck_assert_msg(!has_colour_sgr(s), "colour left after c");
    free(s);
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    /* NO_COLOR and --no-color: no colour at all, and the states still told apart by letters */
    for (int k = 0; k < 2; k++) {
        tm_line(&m, "clear");
        snprintf(args, sizeof args, "-p %d%s", (int)t.pid, k ? " --no-color" : "");
        run_hv(&m, args, k ? NULL : "NO_COLOR=1");
        free(wait_words(&m, 15, "[1:Overview]", NULL, NULL));
        tm_keys(&m, "2");
        free(wait_words(&m, 5, "[2:Heap map]", "U inuse t tcache f fast u unsorted s small L large T top", NULL));
        s = tm_out(&m, "capture-pane -e -p -t hv");
        ck_assert_msg(!has_colour_sgr(s), "colour SGR with %s", k ? "--no-color" : "NO_COLOR");
        free(s);
        s = screen(&m);
        /* the strip uses the letters: in use, tcache, top and mmapped cells are all there */
        const char *strip = strchr(s, '\n');
        strip = strip ? strchr(strip + 1, '\n') : NULL;
        ck_assert_ptr_nonnull(strip);
        char row[120];
        snprintf(row, sizeof row, "%.100s", strip + 1);
        ck_assert_msg(strchr(row, 'U') && strchr(row, 't') && strchr(row, 'T'), "strip row: %s", row);
        if (k == 0)
            save_screen("heapmap_mono", s);
        free(s);
        tm_keys(&m, "c");
        free(wait_words(&m, 5, "no colours", NULL, NULL));
        tm_keys(&m, "q");
        expect_exit(&m, 0);
    }
    assert_target_running(&t, 1);
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

/* A heap the target corrupted itself (tests/progs/hv_corrupt all): the Problems
 * view lists every corruption at its address, n walks them, the chunk of one is
 * marked corrupt in the Heap map and its Chunk view names the problem, and the
 * Bins view flags the cut tcache chain and the fastbin cycle. */
START_TEST(corrupt_heap)
{
    struct target t;
    start_target_arg(&t, "tests/progs/hv_corrupt", NULL, 1, "all");
    ck_assert_int_ge(t.ncorr, 5);
    struct tm_s m;
    tm_start(&m, "corrupt");
    char args[64], w[200];
    snprintf(args, sizeof args, "-p %d", (int)t.pid);
    run_hv(&m, args, NULL);
    char tab[40];
    snprintf(tab, sizeof tab, "5:Problems(%d)", t.ncorr);
    free(wait_words(&m, 15, "[1:Overview]", tab, NULL));
    tm_keys(&m, "5");
    char *s = wait_words(&m, 5, "[5:Problems(", "corrupted", "cycle");
    for (int i = 0; i < t.ncorr; i++) {
        snprintf(w, sizeof w, "0x%llx: ", t.corr_addr[i]);
        ck_assert_msg(strstr(s, w) != NULL, "problem at %s (%s) not listed:\n%s", w, t.corr[i], s);
    }
    save_screen("problems_corrupt", s);
    free(s);
    /* n walks the problems, one by one, and says which */
    for (int i = 1; i <= t.ncorr; i++) {
        tm_keys(&m, "n");
        snprintf(w, sizeof w, "problem %d/%d: 0x", i, t.ncorr);
        free(wait_words(&m, 5, w, NULL, NULL));
    }
    tm_keys(&m, "N");
    snprintf(w, sizeof w, "problem %d/%d: 0x", t.ncorr - 1, t.ncorr);
    free(wait_words(&m, 5, w, NULL, NULL));
    /* the fastbin chunk whose fd points at itself: corrupt in the Heap map, named in its Chunk view */
    unsigned long long cyc = 0;
    for (int i = 0; i < t.ncorr; i++)
        if (!strcmp(t.corr[i], "cycle"))
            cyc = t.corr_addr[i];
    ck_assert(cyc != 0);
    tm_keys(&m, "2");
    goto_check(&m, cyc + 16, "corrupt", "fast[2]");
    s = screen(&m);
    save_screen("heapmap_corrupt", s);
    free(s);
    tm_keys(&m, "Enter");
    snprintf(w, sizeof w, "Chunk 0x%llx", cyc);
    s = wait_words(&m, 5, w, "Problems", "cycle");
    snprintf(w, sizeof w, "revealed 0x%llx -> chunk 0x%llx", cyc, cyc);
    ck_assert_msg(strstr(s, w) != NULL, "the self-pointing fd is not revealed as such:\n%s", s);
    save_screen("chunk_corrupt", s);
    free(s);
    tm_keys(&m, "3");
    s = wait_words(&m, 5, "[3:Bins]", "COUNT 3 != CHAIN 1", "TRUNCATED");
    save_screen("bins_corrupt", s);
    free(s);
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    ck_assert_msg(kill(t.pid, 0) == 0 && hv_proc_state(t.pid) != 't', "target not running after heapview quit");
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

/* The tracing views on a target run with sites and history (tests/progs/hv_leaky):
 * 6 Leaks names both sites with their bytes, m marks and after the target's
 * phase 2 only the growth (leak_more) is shown, 7 History lists the calls, e
 * explains the selected chunk. */
/* The address after "= 0x" on the step line (row 3), or 0. */
static unsigned long long step_result(const char *scr)
{
    const char *nl = strchr(scr, '\n');
    nl = nl ? strchr(nl + 1, '\n') : NULL;
    const char *r = nl ? strstr(nl + 1, " = 0x") : NULL;
    return r ? strtoull(r + 3, NULL, 16) : 0;
}

/* heapview -- PROGRAM in the screen: n steps a call at a time, the step line names
 * the call and the path, the chunk the call touched is the selected row of the Heap
 * map with its change marker (+ new, ~ changed); f runs to the next free; b sets a
 * size breakpoint that c stops at; with no breakpoint c runs to the end and the
 * screen says the program exited. */
START_TEST(step_screen)
{
    struct tm_s m;
    tm_start(&m, "step");
    char args[1200], w[200];
    snprintf(args, sizeof args, "-d 0.1 --liballoc %s -- %s", target_path("liballoc/liballoc.so"),
             target_path("tests/progs/hv_steps"));
    run_hv(&m, args, NULL);
    char *s = wait_words(&m, 10, "STEP stopped", "stopped at liballoc's start", "[2:Heap map]");
    free(s);

    /* the help lists the step keys from their table */
    tm_keys(&m, "'?'");
    s = wait_words(&m, 5, "[Help]", "Step mode keys", NULL);
#define CHECK_STEP_KEY(fn, names, help, ...)                                                       \
    {                                                                                              \
        char kl[200];                                                                              \
        snprintf(kl, sizeof kl, "%-10s %s", names, help);                                         \
        ck_assert_msg(strstr(s, kl) != NULL, "help does not list step key '%s':\n%s", names, s);   \
    }
    UI_STEP_KEY_TABLE(CHECK_STEP_KEY)
    free(s);
    tm_keys(&m, "x");
    free(wait_words(&m, 5, "[2:Heap map]", NULL, NULL));

    /* n: malloc(40) from an empty tcache; its chunk is new and selected */
    tm_keys(&m, "n");
    s = wait_words(&m, 10, "#1 malloc(40) = 0x", "STEP stopped", NULL);
    unsigned long long p = step_result(s);
    ck_assert_msg(p != 0, "no result address on the step line:\n%s", s);
    snprintf(w, sizeof w, ">+0x%012llx", p - 16);
    if (!strstr(s, w)) {            /* the selection may be drawn in a later update */
        free(s);
        s = wait_words(&m, 10, w, "#1 malloc(40) = 0x", NULL);
    }
    ck_assert_msg(strstr(s, w) != NULL, "the new chunk is not the selected, marked row '%s':\n%s", w, s);
    save_screen("step_malloc", s);
    free(s);

    /* n: its free goes to tcache bin 1, the chunk is marked changed */
    tm_keys(&m, "n");
    char row[64];
    snprintf(w, sizeof w, "#2 free(0x%llx)", p);
    snprintf(row, sizeof row, ">~0x%012llx      30 tcache", p - 16);
    /* the step line and the selected, changed row (it may come in a later update) */
    s = wait_words(&m, 10, w, "size 0x30 -> tcache bin 1 (1 of 7)", row);
    ck_assert_msg(strstr(s, row) != NULL, "the freed chunk is not the selected, changed row '%s':\n%s", row, s);
    free(s);

    /* the Bins view marks the same chunk as changed in tcache bin 1's chain */
    tm_keys(&m, "3");
    snprintf(w, sizeof w, "->~0x%llx", p - 16);
    s = wait_words(&m, 10, "[3:Bins]", w, "(1 changed)");
    free(s);
    tm_keys(&m, "2");
    free(wait_words(&m, 5, "[2:Heap map]", NULL, NULL));

    /* n: the same chunk comes back from the tcache */
    tm_keys(&m, "n");
    snprintf(w, sizeof w, "#3 malloc(40) = 0x%llx", p);
    free(wait_words(&m, 10, w, "tcache bin 1 hit (0 of 7 left)", NULL));

    /* f: the next free skips the mallocs between */
    tm_keys(&m, "f");
    s = wait_words(&m, 10, "#6 free(0x", "STEP stopped", NULL);
    free(s);

    /* b s 300000, then c: stops at the mmapped request */
    tm_keys(&m, "b");
    free(wait_words(&m, 5, "break on", NULL, NULL));
    tm_lit(&m, "s 300000");
    tm_keys(&m, "Enter");
    free(wait_words(&m, 5, "breakpoint on size 0x493e0", NULL, NULL));
    tm_keys(&m, "c");
    s = wait_words(&m, 10, "malloc(300000) = 0x", "-> mmapped 0x4a000", "STEP stopped");
    free(s);

    /* b Enter clears; c runs to the end and says so */
    tm_keys(&m, "b");
    free(wait_words(&m, 5, "break on", NULL, NULL));
    tm_keys(&m, "Enter");
    free(wait_words(&m, 5, "breakpoints deleted", NULL, NULL));
    tm_keys(&m, "c");
    s = wait_words(&m, 10, "exited with status 0", "PROGRAM EXITED", NULL);
    save_screen("step_exited", s);
    free(s);
    tm_keys(&m, "n");
    free(wait_words(&m, 5, "the program has exited", NULL, NULL));
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    tm_stop(&m);
}
END_TEST

START_TEST(trace_views)
{
    struct target t;
    start_target(&t, "tests/progs/hv_leaky", "LIBALLOC_OPTIONS=sites=8,history=4096", 1);
    struct tm_s m;
    tm_start(&m, "trace");
    char args[64];
    snprintf(args, sizeof args, "-d 0.2 -p %d", (int)t.pid);
    run_hv(&m, args, NULL);
    free(wait_words(&m, 15, "[1:Overview]", NULL, NULL));
    tm_keys(&m, "6");
    char *s = wait_words(&m, 5, "[6:Leaks]", "500 bytes requested, 560 chunk bytes, 5 chunks", "leak_small+0x");
    ck_assert_msg(strstr(s, "6000 bytes requested, 6048 chunk bytes, 3 chunks") && strstr(s, "leak_big+0x"),
                  "leak_big missing:\n%s", s);
    save_screen("leaks", s);
    free(s);
    tm_keys(&m, "m");
    free(wait_words(&m, 5, "marked at operation #", "allocated since the mark", NULL));
    kill(t.pid, SIGUSR1);           /* frees one leak_small block, keeps 4 x 48 bytes in leak_more */
    s = wait_words(&m, 10, "192 bytes requested, 256 chunk bytes, 4 chunks", "leak_more+0x", NULL);
    ck_assert_msg(!strstr(s, "leak_small+0x") && !strstr(s, "leak_big+0x"), "growth view shows old sites:\n%s", s);
    save_screen("leaks_growth", s);
    free(s);
    tm_keys(&m, "7");
    s = wait_words(&m, 5, "[7:History]", "history: ", "malloc(");
    save_screen("history", s);
    free(s);
    tm_keys(&m, "2");
    free(wait_words(&m, 5, "[2:Heap map]", NULL, NULL));
    tm_keys(&m, "e");
    s = wait_words(&m, 5, "[8:Explain]", "chunk: 0x", "why this size");
    save_screen("explain", s);
    free(s);
    tm_keys(&m, "q");
    expect_exit(&m, 0);
    tm_stop(&m);
    hv_stop_target(&t);
}
END_TEST

static Suite *suite_ui(void)
{
    Suite *s = suite_create("heapview_ui");
    TCase *tc = tcase_create("tmux");
    tcase_add_unchecked_fixture(tc, ui_setup, ui_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, live_views);
    tcase_add_test(tc, core_views);
    tcase_add_test(tc, live_refresh_exit);
    tcase_add_test(tc, signals_restore);
    tcase_add_test(tc, refuse_without_terminal);
    tcase_add_test(tc, monochrome);
    tcase_add_test(tc, corrupt_heap);
    tcase_add_test(tc, trace_views);
    tcase_add_test(tc, step_screen);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_SUITE(suite_ui)
