/*
 * tests/check_integration.c - real programs on liballoc, counted in the one Check
 * summary.
 *
 * Each test forks and execs one integration script (tests/integration/NAME.sh) or
 * the stress program under LD_PRELOAD=$(LA_BUILD)/liballoc/liballoc.so, in its own
 * process group, with stdout and stderr sent to a log file.  It waits with its own
 * deadline (below Check's tcase timeout), kills the whole group when the deadline
 * passes, and asserts exit status 0; on failure the tail of the log becomes the
 * failure message.  Scripts are found relative to the source tree (the current
 * directory, or LA_SRC); built artefacts are looked up in LA_BUILD.
 *
 * In a sanitizer build (`make sanitize`) the runner is built with ASan but
 * liballoc.so and the helper programs are not (ASan cannot sit under a preloaded
 * malloc): HV_TARGET_BUILD then names the normal build, and these tests use its
 * artefacts instead of LA_BUILD's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check_suites.h"

static const char *src_path(const char *rel)
{
    static char buf[4][4096];
    static int next;
    const char *s = getenv("LA_SRC");
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "%s/%s", s && *s ? s : ".", rel);
    return out;
}

/* Build directory holding liballoc.so and tests/progs (see the header comment). */
static const char *target_build(void)
{
    const char *t = getenv("HV_TARGET_BUILD");
    return t && *t ? t : check_build_path("");
}

static const char *target_path(const char *rel)
{
    static char buf[4][4096];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "%s/%s", target_build(), rel);
    return out;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run argv with extra "NAME=VALUE" environment entries (NULL-terminated); return
 * the wait status, or -1 on timeout.  Output goes to log (appended to msg on error). */
static int run_logged(char *const argv[], const char *const env[], int timeout_s, char *log,
                      size_t logsz, double *secs)
{
    char path[] = "/tmp/la_integ_log_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    double t0 = mono();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        setenv("LA_BUILD", target_build(), 1);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    int st = 0;
    double limit = t0 + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -2;
            break;
        }
        if (mono() > limit) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            st = -1;
            break;
        }
        usleep(20000);
    }
    kill(-pid, SIGKILL);               /* leftovers of the group, if any */
    *secs = mono() - t0;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)logsz - 1 ? end - (off_t)logsz + 1 : 0;
    ssize_t n = pread(fd, log, logsz - 1, from);
    log[n > 0 ? n : 0] = '\0';
    close(fd);
    return st;
}

static void run_expect_ok(const char *what, char *const argv[], const char *const env[], int timeout_s)
{
    char log[2048];
    double secs = 0;
    int st = run_logged(argv, env, timeout_s, log, sizeof log, &secs);
    ck_assert_msg(st != -1, "%s: still running after %d s (killed); output ends: %s", what, timeout_s, log);
    ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "%s failed (%s %d) after %.1f s; output ends: %s", what,
                  st >= 0 && WIFSIGNALED(st) ? "signal" : "exit",
                  st >= 0 && WIFSIGNALED(st) ? WTERMSIG(st) : (st >= 0 ? WEXITSTATUS(st) : st), secs, log);
    /* Show the script's own one-line summary in the test log. */
    char *last = log + strlen(log);
    while (last > log && last[-1] == '\n')
        *--last = '\0';
    char *nl = strrchr(log, '\n');
    fprintf(stderr, "  [%s %.1f s] %s\n", what, secs, nl ? nl + 1 : log);
}

static void run_script(const char *name, int timeout_s)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/integration/%s.sh", name);
    const char *script = src_path(rel);
    struct stat sb;
    ck_assert_msg(stat(script, &sb) == 0, "%s not found (run from the source tree or set LA_SRC)", script);
    char *argv[] = { "bash", (char *)script, NULL };
    run_expect_ok(name, argv, NULL, timeout_s);
}

START_TEST(stress_preloaded)
{
    const char *so = target_path("liballoc/liballoc.so");
    const char *prog = target_path("tests/progs/stress");
    ck_assert_msg(access(so, R_OK) == 0, "%s is not built", so);
    ck_assert_msg(access(prog, X_OK) == 0, "%s is not built", prog);
    static char pre[4200];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", so);
    /* LIBALLOC_OPTIONS empty: liballoc's defaults (growing tcache bins, the
     * big-chunk cache), not the glibc-like options the runner sets */
    const char *env[] = { pre, "STRESS_REQUIRE_LIBALLOC=1", "STRESS_SECONDS=6", "STRESS_THREADS=4",
                          "STRESS_CHURN=3000", "STRESS_FORKS=40", "LIBALLOC_OPTIONS=", NULL };
    char *argv[] = { (char *)prog, NULL };
    run_expect_ok("stress", argv, env, 80);
}
END_TEST

/* The same with two arenas for four threads (arenas shared, picked round robin)
 * and no tcache, so that every operation takes an arena lock. */
START_TEST(stress_shared_arenas)
{
    const char *so = target_path("liballoc/liballoc.so");
    const char *prog = target_path("tests/progs/stress");
    ck_assert_msg(access(so, R_OK) == 0, "%s is not built", so);
    static char pre[4200];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", so);
    const char *env[] = { pre, "STRESS_REQUIRE_LIBALLOC=1", "STRESS_SECONDS=3", "STRESS_THREADS=4",
                          "STRESS_FORKS=20", "LIBALLOC_OPTIONS=arena_max=2:tcache_count=0", NULL };
    char *argv[] = { (char *)prog, "random", "fork", NULL };
    run_expect_ok("stress (arena_max=2, no tcache)", argv, env, 60);
}
END_TEST

/* fork from a SIGALRM handler that interrupts malloc/free in a single-threaded
 * process: the atfork handlers must not deadlock on a lock the interrupted code holds. */
START_TEST(stress_fork_in_signal_handler)
{
    const char *so = target_path("liballoc/liballoc.so");
    const char *prog = target_path("tests/progs/stress");
    ck_assert_msg(access(so, R_OK) == 0, "%s is not built", so);
    static char pre[4200];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", so);
    const char *env[] = { pre, "STRESS_REQUIRE_LIBALLOC=1", NULL };
    char *argv[] = { (char *)prog, "sigfork", NULL };
    run_expect_ok("stress sigfork", argv, env, 30);
}
END_TEST

/* The benchmark programs (tests/bench) at a small scale under liballoc: each
 * must finish cleanly.  Their mixes of threads handing blocks over (larson's
 * successor threads, prodcons) reach paths the stress program does not: a
 * tcache flush that took another arena's chunks for its own once corrupted
 * every larson run (liballoc/bins.c la_tcache_flush). */
START_TEST(bench_programs_preloaded)
{
    const char *so = target_path("liballoc/liballoc.so");
    ck_assert_msg(access(so, R_OK) == 0, "%s is not built", so);
    static char pre[4200];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", so);
    /* liballoc's defaults (growing tcache bins, big-chunk cache), not the
     * glibc-like options the runner gives child programs */
    const char *env[] = { pre, "LIBALLOC_OPTIONS=", NULL };
    static const char *const runs[][3] = {
        { "larson", "-t", "2" }, { "larson", "-t", "2" }, { "larson", "-t", "2" },
        { "prodcons", "-t", "2" }, { "cache_thrash", "-t", "2" }, { "cache_scratch", "-t", "2" },
        { "randmix", "-t", "2" }, { "churn", "-t", "2" }, { "realloc_grow", NULL, NULL },
        { "large", "-t", "2" }, { "frag", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/bench/bin/%s", runs[i][0]);
        const char *prog = target_path(rel);
        ck_assert_msg(access(prog, X_OK) == 0, "%s is not built", prog);
        char *argv[] = { (char *)prog, "-s", "0.1", (char *)runs[i][1], (char *)runs[i][2], NULL };
        run_expect_ok(runs[i][0], argv, env, 30);
    }
}
END_TEST

START_TEST(preload_workload) { run_script("preload", 60); }
END_TEST

START_TEST(static_link) { run_script("static", 60); }
END_TEST

START_TEST(python3_workload) { run_script("python", 90); }
END_TEST

START_TEST(gcc_compiles) { run_script("gcc", 120); }
END_TEST

START_TEST(git_session) { run_script("git", 90); }
END_TEST

START_TEST(cxx_program) { run_script("cxx", 90); }
END_TEST

START_TEST(make_install) { run_script("install", 120); }
END_TEST

static Suite *suite_integration(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("stress");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, stress_preloaded);
    tcase_add_test(tc, stress_shared_arenas);
    tcase_add_test(tc, stress_fork_in_signal_handler);
    tcase_add_test(tc, bench_programs_preloaded);
    suite_add_tcase(s, tc);

    tc = tcase_create("programs");
    tcase_set_timeout(tc, 130);
    tcase_add_test(tc, preload_workload);
    tcase_add_test(tc, static_link);
    tcase_add_test(tc, python3_workload);
    tcase_add_test(tc, gcc_compiles);
    tcase_add_test(tc, git_session);
    tcase_add_test(tc, cxx_program);
    tcase_add_test(tc, make_install);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_SUITE(suite_integration)
