/*
 * tests/hv_testutil.c - helpers shared by the heapview suites; see hv_testutil.h.
 *
 * Not a check_*.c file, so it registers no suite; tests/module.mk links it into
 * the runner explicitly.  The helpers only use the test process's own state (no
 * globals here): the suites keep their temporary directories and pass them in.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "hv_testutil.h"

double hv_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *hv_target_path(const char *rel)
{
    static char buf[4][4096];
    static int next;
    const char *b = getenv("HV_TARGET_BUILD");
    if (!b || !*b)
        return check_build_path(rel);
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "%s/%s", b, rel);
    return out;
}

void hv_make_tmpdir(char *dir, size_t len, const char *templ)
{
    snprintf(dir, len, "%s", templ);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void hv_rm_tmpdir(const char *dir, const char *who)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n", who, dir);
}

char *hv_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap + 1);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    b[n] = 0;
    if (len)
        *len = n;
    return b;
}

char hv_proc_state(pid_t pid)
{
    char p[64], line[256], st = 0;
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "State:", 6)) {
            char *q = line + 6;
            while (*q == ' ' || *q == '\t')
                q++;
            st = *q;
        }
    fclose(f);
    return st;
}

void hv_stop_child(pid_t *pid, FILE **out)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
    if (*out)
        fclose(*out);
    *out = NULL;
}

int hv_wait_deadline(pid_t pid, double timeout_s)
{
    double t0 = hv_now_s();
    int st = 0;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        if (hv_now_s() - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("heapview did not finish within %.0f s", timeout_s);
        }
        usleep(2000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void hv_run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

void hv_target_read_ready(struct target *t, const char *prog)
{
    char line[512];
    while (fgets(line, sizeof line, t->out)) {
        if (!strcmp(line, "READY\n"))
            return;
        struct ptr *p = &t->ptr[t->n];
        if (line[0] == 'P' && t->n < 128 &&
            sscanf(line, "P %llx %15s %15s %15s %15s", &p->p, p->state, p->bin, p->thread, p->arena) == 5)
            t->n++;
        else if (line[0] == 'T' && t->nth < 4 && sscanf(line, "T %15s %ld", t->thname[t->nth], &t->tid[t->nth]) == 2)
            t->nth++;
        else if (line[0] == 'C' && t->ncorr < 8 &&
                 sscanf(line, "C %15s %llx", t->corr[t->ncorr], &t->corr_addr[t->ncorr]) == 2)
            t->ncorr++;
    }
    ck_abort_msg("target %s exited before READY", prog);
}

void hv_stop_target(struct target *t)
{
    hv_stop_child(&t->pid, &t->out);
}

long hv_target_tid(const struct target *t, const char *name)
{
    for (int i = 0; i < t->nth; i++)
        if (!strcmp(t->thname[i], name))
            return t->tid[i];
    return -1;
}

unsigned long hv_heartbeat(const struct target *t)
{
    char *s = hv_slurp(t->hb, NULL);
    unsigned long v = s ? strtoul(s, NULL, 10) : 0;
    free(s);
    return v;
}

int hv_core_pattern_plain(char *pat, size_t len)
{
    pat[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/core_pattern", "r");
    if (f) {
        if (!fgets(pat, (int)len, f))
            pat[0] = 0;
        fclose(f);
    }
    pat[strcspn(pat, "\n")] = 0;
    int changed = 0;
    if (pat[0] == '|' || strchr(pat, '/') || strchr(pat, '%')) {
        /* the kernel would pipe or place the core elsewhere: use a plain "core" file
         * in the target's directory for the duration of the test */
        f = fopen("/proc/sys/kernel/core_pattern", "w");
        ck_assert_msg(f && fputs("core", f) >= 0 && fclose(f) == 0,
                      "KERNEL CORE DUMP NOT POSSIBLE HERE: core_pattern is '%s' and cannot be set (not root?)", pat);
        changed = 1;
    }
    return changed;
}

void hv_core_pattern_restore(const char *pat, int changed)
{
    FILE *f;
    if (changed && (f = fopen("/proc/sys/kernel/core_pattern", "w"))) {
        fputs(pat, f);
        fclose(f);
    }
}

struct run hv_run_heapview(const char *dir, const char *const *args, const char *input, const char *env, int as_uid,
                           double timeout_s)
{
    struct run r = { -1, NULL, NULL };
    char outp[320], errp[320], inp[320];
    snprintf(outp, sizeof outp, "%s/hv.out", dir);
    snprintf(errp, sizeof errp, "%s/hv.err", dir);
    snprintf(inp, sizeof inp, "%s/hv.in", dir);
    if (input) {
        FILE *f = fopen(inp, "w");
        ck_assert_ptr_nonnull(f);
        fputs(input, f);
        fclose(f);
    }
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        int in = open(input ? inp : "/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
        if (env)
            putenv((char *)env);
        unsetenv("LD_PRELOAD");
        /* a sanitized heapview (make sanitize) reports with a status no test expects */
        setenv("ASAN_OPTIONS", "exitcode=99", 0);
        if (as_uid >= 0 && (setgid((gid_t)as_uid) != 0 || setuid((uid_t)as_uid) != 0))
            _exit(125);
        const char *argv[32];
        int n = 0;
        argv[n++] = check_build_path("heapview/heapview");
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    r.status = hv_wait_deadline(pid, timeout_s);
    r.out = hv_slurp(outp, NULL);
    r.err = hv_slurp(errp, NULL);
    return r;
}
