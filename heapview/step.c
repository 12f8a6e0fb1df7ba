/*
 * heapview/step.c - step mode: `heapview [--step-batch] -- PROGRAM [ARGS]`.
 *
 * How it runs.  heapview forks and execs PROGRAM with liballoc.so preloaded and
 * LIBALLOC_OPTIONS=...,trace=1,sites=8,history=4096,step=1.  liballoc, at the
 * end of its initialisation, stops its own process with SIGSTOP (step=1);
 * heapview (the parent) sees the stop with waitpid(WUNTRACED), opens the
 * process as a live source (source_ptrace.c: seize, interrupt, detach -- the
 * process stays in its group-stop) and sets liballoc_debug.trace.step_armed
 * to 1 with process_vm_writev.  From then on liballoc's operation hook
 * (liballoc_debug_op_hook, called after every recorded malloc/free/... with all
 * locks released) raises SIGSTOP while step_armed is set.  Each stop is one
 * finished allocator call: heapview reads trace.last (the operation record:
 * call, arguments, result, path taken, bin, count, sizes), takes a snapshot,
 * marks what changed since the previous stop (hv_snapshot_diff) and shows both;
 * SIGCONT runs the program to its next call.  Commands decide whether to show
 * a stop or to continue at once (f: next free, m: next allocation, b: size or
 * address breakpoints); `c` without breakpoints clears step_armed so the
 * program runs at full speed.  On quit (or EOF) the program is killed; when it
 * exits by itself its status is reported.  Signals other than the stops
 * reach the program as usual (heapview is not its tracer between stops).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump.h"
#include "ui.h"
#include "report.h"
#include "snapshot.h"
#include "step.h"

#define X(v) ((unsigned long long)(v))

static int find_liballoc(const char *given, char *out, size_t len)
{
    const char *env = getenv("HEAPVIEW_LIBALLOC");
    char self[PATH_MAX], cand[PATH_MAX + 64];
    if (given || (env && *env))
        return realpath(given ? given : env, out) && len >= PATH_MAX ? 0 : -1;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    static const char *const rel[] = { "../liballoc/liballoc.so", "../lib/liballoc.so", "liballoc.so" };
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(cand, sizeof cand, "%s/%s", self, rel[i]);
        if (access(cand, R_OK) == 0 && realpath(cand, out))
            return 0;
    }
    return -1;
}

struct stepper {
    pid_t pid;
    struct hv_source *src;
    uint64_t da;                /* liballoc_debug */
    struct hv_snapshot *prev;
    int exited, status;
    /* stop conditions */
    enum { RUN_STEP, RUN_FREE, RUN_MALLOC, RUN_CONT } mode;
    uint64_t bp_size[8], bp_addr[8];
    int nbs, nba;
    FILE *out;
    /* the screen (ui.c drives these through struct hv_ui_step) */
    const char *prog;
    int running, armed;         /* SIGCONT sent and no wanted stop since; step_armed as written */
    struct la_op cur;           /* the call of the current stop */
    uint64_t tcc;
    int have_cur;
};

static int write_armed(struct stepper *S, uint32_t v)
{
    uint64_t at = S->da + LA_TRACE_OFFSET + offsetof(struct la_trace, step_armed);
    struct iovec l = { &v, sizeof v }, r = { (void *)(uintptr_t)at, sizeof v };
    return process_vm_writev(S->pid, &l, 1, &r, 1, 0) == (ssize_t)sizeof v ? 0 : -1;
}

/* SIGCONT, then wait for the next stop or the exit.  0 stopped, 1 exited. */
static int run_to_stop(struct stepper *S)
{
    /* a stop already reported again after a snapshot's seize/detach: drop it */
    int st0 = 0;
    while (waitpid(S->pid, &st0, WNOHANG | WUNTRACED) > 0)
        if (WIFEXITED(st0) || WIFSIGNALED(st0)) {
            S->exited = 1;
            S->status = st0;
            return 1;
        }
    kill(S->pid, SIGCONT);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(S->pid, &st, WUNTRACED);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            S->exited = 1;
            S->status = -1;
            return 1;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            S->exited = 1;
            S->status = st;
            return 1;
        }
        if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP)
            return 0;
        if (WIFSTOPPED(st))             /* SIGTSTP and friends: let it go on */
            kill(S->pid, SIGCONT);
    }
}

static int is_alloc(unsigned call)
{
    return call == LA_OP_MALLOC || call == LA_OP_CALLOC || call == LA_OP_REALLOC || call == LA_OP_MEMALIGN;
}

static int wanted(const struct stepper *S, const struct la_op *op)
{
    for (int i = 0; i < S->nbs; i++)
        if ((is_alloc(op->call) && (op->call == LA_OP_CALLOC ? op->arg0 * op->arg1 : op->call == LA_OP_MALLOC
                                                                                      ? op->arg0 : op->arg1) ==
                                       S->bp_size[i]) ||
            op->csize == S->bp_size[i])
            return 1;
    for (int i = 0; i < S->nba; i++) {
        uint64_t a = S->bp_addr[i];
        if (op->result == a || ((op->call == LA_OP_FREE || op->call == LA_OP_REALLOC) && op->arg0 == a) ||
            (op->chunk && a >= op->chunk && a < op->chunk + op->csize))
            return 1;
    }
    switch (S->mode) {
    case RUN_STEP: return 1;
    case RUN_FREE: return op->call == LA_OP_FREE || (op->call == LA_OP_REALLOC && op->arg0);
    case RUN_MALLOC: return is_alloc(op->call);
    default: return 0;
    }
}

static int read_last(struct stepper *S, struct la_op *op, uint64_t *tcache_count)
{
    uint64_t at = S->da + LA_TRACE_OFFSET + offsetof(struct la_trace, last);
    if (hv_source_read(S->src, at, op, sizeof *op) != (ssize_t)sizeof *op)
        return -1;
    struct la_tunables t;
    if (hv_source_read(S->src, S->da + offsetof(struct la_debug, tunables), &t, sizeof t) == (ssize_t)sizeof t)
        *tcache_count = t.tcache_count;
    return 0;
}

/* Show the stop: the call, what the allocator did, what changed. */
static void show(struct stepper *S, const struct la_op *op, uint64_t tcc)
{
    char call[200], path[320];
    hv_op_call_text(op, call, sizeof call);
    hv_op_path_text(op, tcc, path, sizeof path);
    fprintf(S->out, "#%llu %s: %s\n", X(op->seq), call, path);
    struct hv_snapshot_opts so = { 0, 100, 0, 0 };
    struct hv_error err;
    struct hv_snapshot *s = hv_snapshot_take(S->src, &so, &err);
    if (!s) {
        fprintf(S->out, "  (no snapshot: %s)\n", err.msg);
        return;
    }
    if (S->prev) {
        hv_snapshot_diff(S->prev, s);
        int shown = 0;
        for (int pass = 0; pass < 2; pass++) {
            const struct hv_chunk *arr = pass ? s->mmapped : s->chunks;
            size_t n = pass ? s->nmmapped : s->nchunks;
            for (size_t i = 0; i < n; i++) {
                const struct hv_chunk *c = &arr[i];
                if (c->change == HV_SAME)
                    continue;
                if (shown++ < 12) {
                    const char *bn = hv_bin_name(c->bin);
                    fprintf(S->out, "  %s 0x%llx size 0x%llx %s%s%s", c->change == HV_NEW ? "new    " : "changed",
                            X(c->addr), X(c->size), hv_state_name(c->state), bn ? " " : "", bn ? bn : "");
                    if (bn && c->bin != HV_BIN_UNSORTED)
                        fprintf(S->out, " %u", c->bin_index);
                    fputc('\n', S->out);
                }
            }
        }
        if (shown > 12)
            fprintf(S->out, "  ... %d more changed\n", shown - 12);
        hv_snapshot_free(S->prev);
    }
    S->prev = s;
    fflush(S->out);
}

/* ---- step mode in the screen (ui.c): the callbacks of struct hv_ui_step ---- */

static void exit_text(const struct stepper *S, char *buf, size_t len)
{
    if (S->status >= 0 && WIFEXITED(S->status))
        snprintf(buf, len, "%s exited with status %d", S->prog, WEXITSTATUS(S->status));
    else if (S->status >= 0)
        snprintf(buf, len, "%s killed by signal %d", S->prog, WTERMSIG(S->status));
    else
        snprintf(buf, len, "%s exited", S->prog);
}

static void ui_resume(void *ctx, int mode)
{
    struct stepper *S = ctx;
    if (S->exited)
        return;
    if (!S->running) {
        /* a stop reported again after the snapshot's seize/detach: drop it */
        int st = 0;
        while (waitpid(S->pid, &st, WNOHANG | WUNTRACED) > 0)
            if (WIFEXITED(st) || WIFSIGNALED(st)) {
                S->exited = 1;
                S->status = st;
                return;
            }
    }
    S->mode = mode == HV_STEP_FREE ? RUN_FREE : mode == HV_STEP_MALLOC ? RUN_MALLOC
            : mode == HV_STEP_CONT ? RUN_CONT : RUN_STEP;
    /* c without breakpoints: no stops at all, the program runs at full speed */
    int arm = !(S->mode == RUN_CONT && !S->nbs && !S->nba);
    if (arm != S->armed && write_armed(S, (uint32_t)arm) == 0)
        S->armed = arm;
    S->running = 1;
    kill(S->pid, SIGCONT);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int ui_poll(void *ctx, int ms, int refresh_due)
{
    struct stepper *S = ctx;
    if (S->exited)
        return HV_STEP_EXITED;
    if (!S->running)
        return HV_STEP_STOPPED;
    if (refresh_due && !S->armed)
        return HV_STEP_PAUSED;          /* it never stops by itself: snapshot it running */
    uint64_t end = mono_ms() + (uint64_t)ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(S->pid, &st, WNOHANG | WUNTRACED);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            S->exited = 1;
            S->status = -1;
            return HV_STEP_EXITED;
        }
        if (r == 0) {
            if (mono_ms() >= end)
                return HV_STEP_RUNNING;
            usleep(500);
            continue;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            S->exited = 1;
            S->status = st;
            return HV_STEP_EXITED;
        }
        if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) {
            kill(S->pid, SIGCONT);      /* SIGTSTP and friends: let it go on */
            continue;
        }
        struct la_op op;
        uint64_t tcc = 7;
        if (read_last(S, &op, &tcc) == 0 && (!S->have_cur || op.seq != S->cur.seq)) {
            int w = wanted(S, &op);
            if (w || refresh_due) {
                S->cur = op;
                S->tcc = tcc;
                S->have_cur = 1;
                S->running = 0;
                return w ? HV_STEP_STOPPED : HV_STEP_PAUSED;
            }
        }
        kill(S->pid, SIGCONT);
    }
}

static void ui_describe(void *ctx, char *buf, size_t len)
{
    struct stepper *S = ctx;
    if (S->exited) {
        exit_text(S, buf, len);
        return;
    }
    if (S->running && !S->armed) {
        snprintf(buf, len, "continuing at full speed, the screen refreshing (last stop #%llu); n stops at the next "
                 "call", X(S->have_cur ? S->cur.seq : 0));
        return;
    }
    if (!S->have_cur) {
        snprintf(buf, len, "%s stopped at liballoc's start: n runs it to its first allocator call", S->prog);
        return;
    }
    char call[200], path[320];
    hv_op_call_text(&S->cur, call, sizeof call);
    hv_op_path_text(&S->cur, S->tcc, path, sizeof path);
    snprintf(buf, len, "#%llu %s: %s%s", X(S->cur.seq), call, path, S->running ? "  (running)" : "");
}

static int ui_brk(void *ctx, const char *text, char *msg, size_t len)
{
    struct stepper *S = ctx;
    while (*text == ' ')
        text++;
    if (!*text) {
        S->nbs = S->nba = 0;
        snprintf(msg, len, "breakpoints deleted");
        return 0;
    }
    int kind = 0;                       /* 's', 'a' or 0: by value */
    if ((text[0] == 's' || text[0] == 'S' || text[0] == 'a' || text[0] == 'A') && text[1] == ' ') {
        kind = text[0] | 0x20;
        text += 2;
        while (*text == ' ')
            text++;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    while (*end == ' ')
        end++;
    if (errno || *end || end == text || text[0] == '-') {
        snprintf(msg, len, "not a number: '%s' (s SIZE, a ADDRESS, or a number)", text);
        return -1;
    }
    if (!kind)
        kind = v >= (1ull << 32) ? 'a' : 's';
    if ((kind == 's' && S->nbs >= 8) || (kind == 'a' && S->nba >= 8)) {
        snprintf(msg, len, "at most 8 breakpoints of each kind (b, then Enter on empty, clears)");
        return -1;
    }
    if (kind == 's')
        S->bp_size[S->nbs++] = v;
    else
        S->bp_addr[S->nba++] = v;
    snprintf(msg, len, "breakpoint on %s 0x%llx (%d size, %d address breakpoints)", kind == 's' ? "size" : "address",
             v, S->nbs, S->nba);
    return 0;
}

static unsigned long long ui_focus(void *ctx)
{
    const struct stepper *S = ctx;
    return S->have_cur && !S->exited ? S->cur.chunk : 0;
}

static void help(FILE *f)
{
    fprintf(f, "commands: n (or Enter) next call, c continue, f next free, m next malloc, b size N | b addr A "
               "breakpoint, d delete breakpoints, v view the heap, l leaks, e ADDR explain, q quit\n");
}

int hv_step_run(char **argv, const struct hv_step_opts *o)
{
    char so[PATH_MAX];
    if (find_liballoc(o->liballoc, so, sizeof so) < 0) {
        fprintf(stderr, "heapview: cannot find liballoc.so for step mode (give --liballoc PATH or set "
                        "HEAPVIEW_LIBALLOC)\n");
        return HV_EXIT_USAGE;
    }
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        fprintf(stderr, "heapview: pipe: %s\n", strerror(errno));
        return HV_EXIT_INTERNAL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "heapview: fork: %s\n", strerror(errno));
        return HV_EXIT_INTERNAL;
    }
    if (pid == 0) {
        close(errpipe[0]);
        char opts[1024];
        const char *old = getenv("LIBALLOC_OPTIONS");
        snprintf(opts, sizeof opts, "%s%strace=1,sites=8,history=4096,step=1", old ? old : "",
                 old && *old ? "," : "");
        setenv("LIBALLOC_OPTIONS", opts, 1);
        setenv("LD_PRELOAD", so, 1);
        if (o->quiet_program || o->screen) {
            FILE *n = freopen("/dev/null", "w", stdout);
            (void)n;
        }
        if (o->screen && o->ui_run) {
            /* the terminal is heapview's screen: the program reads and writes /dev/null */
            FILE *n = freopen("/dev/null", "w", stderr);
            FILE *i = freopen("/dev/null", "r", stdin);
            (void)n;
            (void)i;
        }
        /* the write end (O_CLOEXEC) closes on a successful exec */
        execvp(argv[0], argv);
        int e = errno;
        if (write(errpipe[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(errpipe[1]);
    int e = 0;
    if (read(errpipe[0], &e, sizeof e) == (ssize_t)sizeof e) {
        close(errpipe[0]);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "heapview: cannot run %s: %s\n", argv[0], strerror(e));
        return HV_EXIT_NOPROC;
    }
    close(errpipe[0]);

    struct stepper S;
    memset(&S, 0, sizeof S);
    S.pid = pid;
    S.out = stdout;
    S.mode = RUN_STEP;
    int st = 0;
    while (waitpid(pid, &st, WUNTRACED) < 0 && errno == EINTR)
        ;
    if (!WIFSTOPPED(st)) {
        fprintf(stderr, "heapview: %s finished before liballoc started (a static program, or one that never "
                        "allocates, cannot be stepped)\n", argv[0]);
        return HV_EXIT_NOLIB;
    }
    struct hv_error err = { 0, "" };
    S.src = hv_source_open_pid(pid, &err);
    if (!S.src) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "heapview: %s\n", err.msg);
        return err.status;
    }
    S.da = hv_source_debug_addr(S.src);
    struct la_debug d;
    memset(&d, 0, sizeof d);
    if (hv_source_read(S.src, S.da, &d, offsetof(struct la_debug, spare)) <= 0 || d.abi_version < 2 ||
        write_armed(&S, 1) < 0) {
        hv_source_close(S.src);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "heapview: %s does not support step mode (liballoc_debug ABI %u, need 2)\n", so,
                d.abi_version);
        return HV_EXIT_ABI;
    }
    S.armed = 1;
    S.prog = argv[0];
    if (o->screen && o->ui_run) {
        struct hv_ui_step us = { &S, ui_resume, ui_poll, ui_describe, ui_brk, ui_focus };
        struct hv_ui_options uio = { o->delay_s > 0 ? o->delay_s : 1.0, o->colour, 0, 0, &us };
        int status = o->ui_run(S.src, &uio);
        if (!S.exited) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        hv_source_close(S.src);
        return status;
    }
    fprintf(S.out, "started %s (pid %d) on %s; stopped at liballoc's start\n", argv[0], (int)pid, so);
    if (!o->batch)
        help(S.out);
    long steps = 0;
    int quit = 0;
    while (!quit) {
        if (run_to_stop(&S))
            break;
        struct la_op op;
        uint64_t tcc = 7;
        if (read_last(&S, &op, &tcc) < 0)
            continue;
        if (!wanted(&S, &op))
            continue;
        show(&S, &op, tcc);
        steps++;
        if (o->max_steps && steps >= o->max_steps)
            break;
        if (o->batch)
            continue;
        /* read commands until one resumes the program */
        for (;;) {
            fprintf(S.out, "step> ");
            fflush(S.out);
            char line[256];
            if (!fgets(line, sizeof line, stdin)) {
                quit = 1;
                break;
            }
            char *p = line;
            while (*p == ' ')
                p++;
            p[strcspn(p, "\r\n")] = 0;
            if (!*p || !strcmp(p, "n")) {
                S.mode = RUN_STEP;
                break;
            } else if (!strcmp(p, "f")) {
                S.mode = RUN_FREE;
                break;
            } else if (!strcmp(p, "m")) {
                S.mode = RUN_MALLOC;
                break;
            } else if (!strcmp(p, "c")) {
                S.mode = RUN_CONT;
                if (!S.nbs && !S.nba)
                    write_armed(&S, 0);
                break;
            } else if (!strcmp(p, "q")) {
                quit = 1;
                break;
            } else if (!strcmp(p, "d")) {
                S.nbs = S.nba = 0;
                fprintf(S.out, "breakpoints deleted\n");
            } else if (!strncmp(p, "b size ", 7) || !strncmp(p, "b addr ", 7)) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p + 7, &end, 0);
                if (errno || *end || end == p + 7)
                    fprintf(S.out, "not a number: %s\n", p + 7);
                else if (p[2] == 's' && S.nbs < 8)
                    S.bp_size[S.nbs++] = v;
                else if (p[2] == 'a' && S.nba < 8)
                    S.bp_addr[S.nba++] = v;
                else
                    fprintf(S.out, "at most 8 breakpoints of each kind\n");
            } else if (!strcmp(p, "v") && S.prev) {
                hv_dump_text(S.out, S.prev);
            } else if (!strcmp(p, "l") && S.prev) {
                hv_report_leaks(S.out, S.prev, NULL);
            } else if (!strncmp(p, "e ", 2) && S.prev) {
                hv_report_explain(S.out, S.prev, strtoull(p + 2, NULL, 0));
            } else {
                help(S.out);
            }
        }
    }
    int status = 0;
    if (S.exited) {
        if (S.status >= 0 && WIFEXITED(S.status))
            fprintf(S.out, "%s exited with status %d\n", argv[0], WEXITSTATUS(S.status));
        else if (S.status >= 0)
            fprintf(S.out, "%s killed by signal %d\n", argv[0], WTERMSIG(S.status));
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(S.out, "%s killed (quit)\n", argv[0]);
    }
    hv_snapshot_free(S.prev);
    hv_source_close(S.src);
    fflush(S.out);
    return status;
}
