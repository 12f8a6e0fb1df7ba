/*
 * heapview/source_ptrace.c - the live-process source.
 *
 * Between snapshots the target is not traced at all (so signals reach it as
 * usual).  hv_source_stop() seizes every thread listed in /proc/PID/task
 * (PTRACE_SEIZE, re-listing until no new thread appears), interrupts each
 * (PTRACE_INTERRUPT) and waits for its stop with waitpid(__WALL):
 *   - PTRACE_EVENT_STOP with SIGTRAP: our interrupt;
 *   - PTRACE_EVENT_STOP with a stop signal: a group-stop (someone stopped the
 *     process); detaching leaves it in that group-stop, as it was;
 *   - a plain stop: a signal-delivery stop; the signal is remembered and handed
 *     back with PTRACE_DETACH so the target receives it;
 *   - exit: the thread is gone.
 * hv_source_resume() detaches every thread (re-injecting remembered signals).
 * While threads are stopped, SIGINT/SIGTERM/SIGHUP to heapview detach them the
 * same way before heapview dies; on SIGKILL the kernel detaches them.
 * Memory is read with process_vm_readv (one call per range), falling back to
 * /proc/PID/mem.  liballoc_debug is found through /proc/PID/maps: the mapped
 * liballoc.so or the executable, symbol via libelf + load bias, else a scan of
 * writable memory for the magic.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debug_abi.h"
#include "source_impl.h"

#define MAX_TIDS 65536

struct tstate {
    pid_t tid;
    int sig;            /* signal to re-inject on detach (0 = none) */
    int stopped;        /* in a ptrace stop we waited for */
};

struct live {
    struct hv_source base;
    int memfd;                  /* /proc/PID/mem, opened lazily */
    int use_mem;                /* process_vm_readv failed with ENOSYS/EPERM: use memfd */
    struct tstate *t;
    size_t nt, capt;
    int is_stopped;
    uint64_t stop_t0;
};

/* The source whose threads are stopped right now, for the signal handlers. */
static struct live *volatile g_stopped;

static void detach_all(struct live *L)
{
    for (size_t i = 0; i < L->nt; i++) {
        if (L->t[i].tid > 0)
            ptrace(PTRACE_DETACH, L->t[i].tid, 0, (void *)(long)L->t[i].sig);
    }
}

/* The handlers are installed only while threads are stopped (see live_stop and
 * live_resume), on top of whatever the program (e.g. the interactive view) has
 * installed: they detach, then hand the signal to the previous disposition. */
static const int fatal_sigs[3] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction saved[3];
static volatile sig_atomic_t handlers_on;

static void on_fatal_signal(int sig)
{
    struct live *L = g_stopped;
    if (L) {
        detach_all(L);
        g_stopped = NULL;
    }
    for (int i = 0; i < 3; i++) {
        if (fatal_sigs[i] != sig)
            continue;
        if (saved[i].sa_handler == SIG_IGN)
            return;
        sigaction(sig, &saved[i], NULL);
        if (saved[i].sa_handler == SIG_DFL) {
            signal(sig, SIG_DFL);
            raise(sig);             /* delivered on return: the process ends */
        } else {
            raise(sig);             /* pending until we return, then goes to the program's handler */
        }
        return;
    }
}

static void install_handlers(void)
{
    if (handlers_on)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaddset(&sa.sa_mask, fatal_sigs[i]);
    for (int i = 0; i < 3; i++)
        sigaction(fatal_sigs[i], &sa, &saved[i]);
    handlers_on = 1;
}

static void remove_handlers(void)
{
    if (!handlers_on)
        return;
    for (int i = 0; i < 3; i++)
        sigaction(fatal_sigs[i], &saved[i], NULL);
    handlers_on = 0;
}

/* 1 if the process exists and has not exited (a zombie has exited). */
static int proc_exists(pid_t pid)
{
    char p[64], line[128];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    int alive = 1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "State:", 6) == 0) {
            alive = strchr(line, 'Z') == NULL && strchr(line, 'X') == NULL;
            break;
        }
    fclose(f);
    return alive;
}

/* TracerPid of a process (0 if none or unknown). */
static long tracer_of(pid_t pid)
{
    char p[64], line[128];
    long t = 0;
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "TracerPid:", 10) == 0) {
            t = strtol(line + 10, NULL, 10);
            break;
        }
    fclose(f);
    return t;
}

static int perm_error(struct hv_error *err, pid_t pid)
{
    long tracer = tracer_of(pid);
    if (tracer > 0 && tracer != (long)getpid())
        return hv_fail(err, HV_EXIT_PERM,
                       "permission denied: pid %d is already traced by pid %ld (a debugger such as gdb or "
                       "strace); detach it first", (int)pid, tracer);

    char scope[32] = "";
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
    if (f) {
        if (!fgets(scope, sizeof scope, f))
            scope[0] = 0;
        fclose(f);
        scope[strcspn(scope, "\n")] = 0;
    }
    if (scope[0])
        return hv_fail(err, HV_EXIT_PERM,
                       "permission denied: cannot ptrace pid %d (/proc/sys/kernel/yama/ptrace_scope is %s; "
                       "run heapview as root or as the target's user, or set kernel.yama.ptrace_scope=0 "
                       "with sysctl, or start the target under heapview's user with CAP_SYS_PTRACE)",
                       (int)pid, scope);
    return hv_fail(err, HV_EXIT_PERM,
                   "permission denied: cannot ptrace pid %d (run heapview as root or as the target's "
                   "user; if /proc/sys/kernel/yama/ptrace_scope exists and is 1 or more, set it to 0 "
                   "with sysctl kernel.yama.ptrace_scope=0)",
                   (int)pid);
}

/* ---- reading -------------------------------------------------------------------- */

static ssize_t live_read(struct hv_source *src, uint64_t addr, void *buf, size_t len)
{
    struct live *L = (struct live *)src;
    size_t done = 0;
    if (!L->use_mem) {
        while (done < len) {
            struct iovec lv = { (char *)buf + done, len - done };
            struct iovec rv = { (void *)(uintptr_t)(addr + done), len - done };
            ssize_t n = process_vm_readv(src->pid, &lv, 1, &rv, 1, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if ((errno == ENOSYS || errno == EPERM) && done == 0) {
                    L->use_mem = 1;
                    break;
                }
                return (ssize_t)done;
            }
            if (n == 0)
                return (ssize_t)done;
            done += (size_t)n;
        }
        if (!L->use_mem)
            return (ssize_t)done;
    }
    if (L->memfd < 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/mem", (int)src->pid);
        L->memfd = open(p, O_RDONLY | O_CLOEXEC);
        if (L->memfd < 0)
            return -1;
    }
    while (done < len) {
        ssize_t n = pread(L->memfd, (char *)buf + done, len - done, (off_t)(addr + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* ---- regions ----------------------------------------------------------------------- */

static int live_regions(struct hv_source *src, struct hv_error *err)
{
    char p[64], line[4096];
    snprintf(p, sizeof p, "/proc/%d/maps", (int)src->pid);
    FILE *f = fopen(p, "re");
    if (!f) {
        if (errno == EACCES || errno == EPERM)
            return perm_error(err, src->pid);
        return hv_fail(err, HV_EXIT_NOPROC, "no such process: %d", (int)src->pid);
    }
    src->nregions = 0;
    while (fgets(line, sizeof line, f)) {
        struct hv_region r;
        memset(&r, 0, sizeof r);
        unsigned long long s, e, off;
        char perms[8] = "";
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &s, &e, perms, &off, &pos) < 4)
            continue;
        r.start = s;
        r.end = e;
        r.offset = off;
        r.prot = (perms[0] == 'r' ? HV_PROT_R : 0) | (perms[1] == 'w' ? HV_PROT_W : 0) |
                 (perms[2] == 'x' ? HV_PROT_X : 0);
        r.readable = perms[0] == 'r';
        const char *path = line + pos;
        while (*path == ' ' || *path == '\t')
            path++;
        snprintf(r.path, sizeof r.path, "%.*s", (int)strcspn(path, "\n"), path);
        if (strcmp(r.path, "[vvar]") == 0 || strcmp(r.path, "[vsyscall]") == 0)
            r.readable = 0;
        if (hv_src_add_region(src, &r) < 0) {
            fclose(f);
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        }
    }
    fclose(f);
    hv_src_sort_regions(src);
    return 0;
}

/* ---- stop / resume ------------------------------------------------------------------- */

static struct tstate *find_t(struct live *L, pid_t tid)
{
    for (size_t i = 0; i < L->nt; i++)
        if (L->t[i].tid == tid)
            return &L->t[i];
    return NULL;
}

/* Wait until thread ts is in a ptrace stop (or gone). */
static void wait_stop(struct tstate *ts)
{
    for (int guard = 0; guard < 1000; guard++) {
        int st = 0;
        pid_t r = waitpid(ts->tid, &st, __WALL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ts->tid = -ts->tid;     /* gone (ECHILD) */
            return;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            ts->tid = -ts->tid;
            return;
        }
        if (!WIFSTOPPED(st))
            continue;
        int event = (st >> 16) & 0xff;
        int sig = WSTOPSIG(st);
        if (event == PTRACE_EVENT_STOP) {
            /* SIGTRAP: our interrupt; a stop signal: group-stop (kept on detach). */
            ts->stopped = 1;
            return;
        }
        if (event == 0) {
            /* signal-delivery stop: remember the signal and stay stopped here. */
            ts->sig = sig;
            ts->stopped = 1;
            return;
        }
        /* Some other ptrace event (we set no options, so unexpected): treat as stopped. */
        ts->stopped = 1;
        return;
    }
}

static int list_tasks(pid_t pid, pid_t *out, size_t max, size_t *n)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/task", (int)pid);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    struct dirent *de;
    *n = 0;
    while ((de = readdir(d)) != NULL && *n < max) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        out[(*n)++] = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return 0;
}

static int live_stop(struct hv_source *src, struct hv_error *err)
{
    struct live *L = (struct live *)src;
    if (L->is_stopped)
        return 0;
    install_handlers();
    L->nt = 0;
    pid_t *tids = malloc(MAX_TIDS * sizeof *tids);
    if (!tids)
        return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
    L->stop_t0 = hv_now_ns();
    g_stopped = L;
    int rc = 0;
    for (int round = 0; round < 100; round++) {
        size_t n = 0;
        if (list_tasks(src->pid, tids, MAX_TIDS, &n) < 0 || n == 0) {
            rc = hv_fail(err, HV_EXIT_NOPROC, "no such process: %d (it exited)", (int)src->pid);
            break;
        }
        int added = 0;
        for (size_t i = 0; i < n; i++) {
            if (find_t(L, tids[i]) || find_t(L, -tids[i]))
                continue;
            if (L->nt == L->capt) {
                size_t cap = L->capt ? 2 * L->capt : 16;
                struct tstate *t = realloc(L->t, cap * sizeof *t);
                if (!t) {
                    rc = hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
                    goto out;
                }
                L->t = t;
                L->capt = cap;
            }
            if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) < 0) {
                if (errno == ESRCH)
                    continue;           /* thread exited meanwhile */
                if ((errno == EPERM || errno == EACCES) && !proc_exists(src->pid)) {
                    rc = hv_fail(err, HV_EXIT_NOPROC, "no such process: %d (it has exited)", (int)src->pid);
                    goto out;
                }
                if (errno == EPERM || errno == EACCES) {
                    rc = perm_error(err, src->pid);
                    goto out;
                }
                rc = hv_fail(err, HV_EXIT_INTERNAL, "ptrace(PTRACE_SEIZE, %d): %m", (int)tids[i]);
                goto out;
            }
            struct tstate *ts = &L->t[L->nt];
            ts->tid = tids[i];
            ts->sig = 0;
            ts->stopped = 0;
            L->nt++;                     /* visible to the signal handler from here */
            added = 1;
            if (ptrace(PTRACE_INTERRUPT, ts->tid, 0, 0) < 0) {
                ts->tid = -ts->tid;
                continue;
            }
            wait_stop(ts);
        }
        if (!added)
            break;
    }
out:
    free(tids);
    if (rc < 0) {
        detach_all(L);
        L->nt = 0;
        g_stopped = NULL;
        remove_handlers();
        return rc;
    }
    size_t live_threads = 0;
    for (size_t i = 0; i < L->nt; i++)
        live_threads += L->t[i].tid > 0;
    if (live_threads == 0) {
        g_stopped = NULL;
        L->nt = 0;
        remove_handlers();
        return hv_fail(err, HV_EXIT_NOPROC, "no such process: %d (it exited)", (int)src->pid);
    }
    L->is_stopped = 1;
    return 0;
}

static void live_resume(struct hv_source *src)
{
    struct live *L = (struct live *)src;
    if (!L->is_stopped)
        return;
    detach_all(L);
    src->last_stop_ns = hv_now_ns() - L->stop_t0;
    g_stopped = NULL;
    remove_handlers();
    L->nt = 0;
    L->is_stopped = 0;
}

static int live_threads(struct hv_source *src, struct hv_error *err)
{
    struct live *L = (struct live *)src;
    src->nthreads = 0;
    for (size_t i = 0; i < L->nt; i++) {
        if (L->t[i].tid <= 0 || !L->t[i].stopped)
            continue;
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, L->t[i].tid, 0, &regs) < 0)
            continue;
        struct hv_thread t = { (uint64_t)L->t[i].tid, regs.rip, regs.rsp };
        if (hv_src_add_thread(src, &t) < 0)
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
    }
    return 0;
}

static int live_alive(struct hv_source *src) { return proc_exists(src->pid); }

static void live_close(struct hv_source *src)
{
    struct live *L = (struct live *)src;
    live_resume(src);
    if (L->memfd >= 0)
        close(L->memfd);
    free(L->t);
    hv_src_free_common(src);
    free(L);
}

static const struct hv_source_ops live_ops = {
    live_stop, live_resume, live_regions, live_read, live_threads, live_alive, live_close,
};

/* ---- finding liballoc_debug --------------------------------------------------------- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int is_liballoc_path(const char *p)
{
    return strncmp(base_name(p), "liballoc", 8) == 0 && strstr(base_name(p), ".so") != NULL;
}

/* Try the symbol in file `path` mapped with offset 0 at map_start. */
static int try_file(struct hv_source *src, const char *path, const char *open_path, uint64_t map_start,
                    char *why, size_t whylen)
{
    uint64_t value = 0, base = 0;
    if (hv_elf_symbol(open_path, LA_DEBUG_SYMBOL, &value, &base, why, whylen) < 0)
        return -1;
    uint64_t bias = map_start - base;
    uint64_t addr = value + bias;
    if (!hv_src_magic_at(src, addr)) {
        snprintf(why, whylen, "symbol %s in %s does not point at liballoc metadata", LA_DEBUG_SYMBOL, path);
        return -1;
    }
    src->debug_addr = addr;
    snprintf(src->debug_how, sizeof src->debug_how, "symbol %s in %s (load bias 0x%llx)",
             LA_DEBUG_SYMBOL, path, (unsigned long long)bias);
    return 0;
}

static int live_find_debug(struct live *L, struct hv_error *err)
{
    struct hv_source *src = &L->base;
    char why[600] = "";
    char exe[300] = "";
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/exe", (int)src->pid);
    ssize_t n = readlink(p, exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = 0;
    else
        exe[0] = 0;
    /* 1. a mapped liballoc*.so*  2. the executable (static link) */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < src->nregions; i++) {
            const struct hv_region *r = &src->regions[i];
            if (r->offset != 0 || r->path[0] != '/')
                continue;
            int want = pass == 0 ? is_liballoc_path(r->path) : (exe[0] && strcmp(r->path, exe) == 0);
            if (!want)
                continue;
            char open_path[400];
            if (pass == 1)
                snprintf(open_path, sizeof open_path, "/proc/%d/exe", (int)src->pid);
            else
                snprintf(open_path, sizeof open_path, "%s", r->path);
            if (try_file(src, r->path, open_path, r->start, why, sizeof why) == 0)
                return 0;
            if (pass == 0) {   /* the file may be deleted or elsewhere: map_files */
                snprintf(open_path, sizeof open_path, "/proc/%d/map_files/%llx-%llx", (int)src->pid,
                         (unsigned long long)r->start, (unsigned long long)r->end);
                if (try_file(src, r->path, open_path, r->start, why, sizeof why) == 0)
                    return 0;
            }
            break;
        }
    }
    uint64_t a = hv_src_scan_magic(src);
    if (a) {
        snprintf(src->debug_how, sizeof src->debug_how,
                 "found by scanning writable memory for the liballoc magic (no usable symbol%s%.280s)",
                 why[0] ? ": " : "", why);
        src->debug_addr = a;
        return 0;
    }
    return hv_fail(err, HV_EXIT_NOLIB,
                   "process %d does not use liballoc (no %s symbol in its mappings and no liballoc "
                   "metadata in its writable memory)",
                   (int)src->pid, LA_DEBUG_SYMBOL);
}

struct hv_source *hv_source_open_pid(pid_t pid, struct hv_error *err)
{
    if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH) || !proc_exists(pid)) {
        hv_fail(err, HV_EXIT_NOPROC, "no such process: %d", (int)pid);
        return NULL;
    }
    struct live *L = calloc(1, sizeof *L);
    if (!L) {
        hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    L->base.ops = &live_ops;
    L->base.kind = HV_SOURCE_LIVE;
    L->base.pid = pid;
    L->memfd = -1;
    char comm[64] = "?", p[64];
    snprintf(p, sizeof p, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(p, "re");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = 0;
        fclose(f);
    }
    snprintf(L->base.describe, sizeof L->base.describe, "pid %d (%s)", (int)pid, comm);
    /* Check permission the way the snapshot will need it: seize + interrupt + detach. */
    if (live_stop(&L->base, err) < 0)
        goto fail;
    live_resume(&L->base);
    /* The lookup reads memory without stopping the target (the magic does not move). */
    if (live_regions(&L->base, err) < 0 || live_find_debug(L, err) < 0)
        goto fail;
    return &L->base;
fail:
    live_close(&L->base);
    return NULL;
}
