/*
 * tests/progs/stress.c - multi-threaded allocator stress, built against the system
 * malloc and run with LD_PRELOAD=liballoc.so by tests/check_integration.c.
 *
 *   stress [PHASE...]      PHASE: random churn fork sigfork (default: the first three;
 *                          sigfork needs a process that never started a thread, so
 *                          it runs alone: `stress sigfork`)
 *   environment: STRESS_SECONDS  length of the random phase (default 5)
 *                STRESS_THREADS  worker threads (default 4)
 *                STRESS_CHURN    short-lived threads in the churn phase (default 3000)
 *                STRESS_FORKS    forks in the fork phase (default 40)
 *                STRESS_REQUIRE_LIBALLOC=1  fail unless liballoc is the malloc in use
 *
 * Data flow.  Every block carries a pattern derived from a per-block seed and the
 * byte offset; a block is described by {pointer, size, seed}.  Workers keep their
 * blocks in private slot tables and hand some over to other threads through one
 * mutex-protected ring (cross-thread frees and reallocs).  A block's pattern is verified before
 * every free and realloc (and its prefix after realloc), calloc memory is checked
 * to be zero, posix_memalign results to be aligned.  The churn phase starts
 * thousands of short-lived threads (each allocating, freeing, and leaving one
 * block for the main thread to free after it exited) and checks that the
 * resident set stays bounded (and, on liballoc, that only the main thread's tcache
 * is still registered).  The fork phase forks while workers allocate; each
 * child must allocate and free at once and exit 0, within a timeout (a deadlock
 * on an arena lock inherited from the parent shows up as a hang).  The sigfork
 * phase forks from a SIGALRM handler that interrupts a single-threaded malloc/free
 * loop (so often inside the allocator): fork's prepare handlers must not deadlock
 * on a lock the interrupted code holds.  When liballoc is preloaded its heap
 * checker (liballoc_check_heap, found with dlsym) runs after each phase.  Any
 * fault prints one line and exits 1.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "debug_abi.h"

#define SLOTS 256
#define QUEUE 1024

struct blk {
    unsigned char *p;
    size_t n;
    uint64_t seed;
};

static int (*check_heap)(void);
static struct la_debug *dbg;        /* liballoc's metadata when it is the malloc in use */
static atomic_int stop_flag;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
    _exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- patterns ------------------------------------------------------------------ */

static inline uint64_t pat_word(uint64_t seed, size_t i) { return (seed ^ (i * 0x9E3779B97F4A7C15ull)) + i; }

static void pat_fill(unsigned char *p, size_t n, uint64_t seed)
{
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = pat_word(seed, i);
        memcpy(p + 8 * i, &w, 8);
    }
    uint64_t w = pat_word(seed, words);
    memcpy(p + 8 * words, &w, n % 8);
}

/* Returns the first bad offset, or (size_t)-1. */
static size_t pat_check(const unsigned char *p, size_t n, uint64_t seed)
{
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = pat_word(seed, i), v;
        memcpy(&v, p + 8 * i, 8);
        if (v != w)
            return 8 * i;
    }
    uint64_t w = pat_word(seed, words);
    if (memcmp(p + 8 * words, &w, n % 8) != 0)
        return 8 * words;
    return (size_t)-1;
}

static void blk_verify(const struct blk *b, const char *when)
{
    size_t off = pat_check(b->p, b->n, b->seed);
    if (off != (size_t)-1)
        die("stress: block %p of %zu bytes corrupted at offset %zu (%s)", (void *)b->p, b->n, off, when);
}

static void check_usable(const struct blk *b)
{
    size_t u = malloc_usable_size(b->p);
    if (u < b->n)
        die("stress: malloc_usable_size(%p) = %zu < %zu requested", (void *)b->p, u, b->n);
}

static size_t pick_size(uint64_t *r)
{
    uint64_t x = rng_next(r) % 1000;
    if (x < 700) return 1 + rng_next(r) % 256;
    if (x < 900) return 257 + rng_next(r) % 3840;
    if (x < 985) return 4096 + rng_next(r) % (60 * 1024);
    return 64 * 1024 + rng_next(r) % (960 * 1024);
}

/* ---- cross-thread queue ------------------------------------------------------------ */

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk queue[QUEUE];
static size_t q_head, q_len;

static int q_push(struct blk b)
{
    int ok = 0;
    pthread_mutex_lock(&q_lock);
    if (q_len < QUEUE) {
        queue[(q_head + q_len++) % QUEUE] = b;
        ok = 1;
    }
    pthread_mutex_unlock(&q_lock);
    return ok;
}

static int q_pop(struct blk *b)
{
    int ok = 0;
    pthread_mutex_lock(&q_lock);
    if (q_len > 0) {
        *b = queue[q_head];
        q_head = (q_head + 1) % QUEUE;
        q_len--;
        ok = 1;
    }
    pthread_mutex_unlock(&q_lock);
    return ok;
}

/* ---- random phase ------------------------------------------------------------------- */

struct worker {
    pthread_t th;
    uint64_t rng;
    double deadline;        /* 0: run until stop_flag */
    uint64_t ops, handed, taken;
    struct blk slot[SLOTS];
};

static void slot_free(struct blk *b)
{
    if (!b->p)
        return;
    blk_verify(b, "before free");
    free(b->p);
    b->p = NULL;
}

static void worker_op(struct worker *w)
{
    uint64_t *r = &w->rng;
    struct blk *b = &w->slot[rng_next(r) % SLOTS];
    unsigned op = (unsigned)(rng_next(r) % 100);
    if (op < 30) {                                         /* malloc */
        slot_free(b);
        b->n = pick_size(r);
        b->p = malloc(b->n);
        if (!b->p) die("stress: malloc(%zu) failed: %s", b->n, strerror(errno));
        b->seed = rng_next(r);
        pat_fill(b->p, b->n, b->seed);
    } else if (op < 40) {                                  /* calloc */
        slot_free(b);
        size_t n = pick_size(r), k = 1 + rng_next(r) % 4;
        b->n = (n + k - 1) / k * k;
        b->p = calloc(k, b->n / k);
        if (!b->p) die("stress: calloc(%zu, %zu) failed", k, b->n / k);
        for (size_t i = 0; i < b->n; i++)
            if (b->p[i]) die("stress: calloc(%zu, %zu) byte %zu is %#x, not 0", k, b->n / k, i, b->p[i]);
        b->seed = rng_next(r);
        pat_fill(b->p, b->n, b->seed);
    } else if (op < 55) {                                  /* realloc */
        size_t n = pick_size(r);
        if (b->p)
            blk_verify(b, "before realloc");
        unsigned char *q = realloc(b->p, n);
        if (!q) die("stress: realloc(%p, %zu) failed", (void *)b->p, n);
        if (b->p) {
            struct blk nb = { q, n < b->n ? n : b->n, b->seed };
            blk_verify(&nb, "content after realloc");
        }
        b->p = q;
        b->n = n;
        b->seed = rng_next(r);
        pat_fill(b->p, b->n, b->seed);
    } else if (op < 60) {                                  /* posix_memalign */
        slot_free(b);
        size_t al = (size_t)16 << (rng_next(r) % 9);       /* 16 .. 4096 */
        void *q = NULL;
        b->n = pick_size(r);
        int e = posix_memalign(&q, al, b->n);
        if (e) die("stress: posix_memalign(%zu, %zu) = %d", al, b->n, e);
        if ((uintptr_t)q % al) die("stress: posix_memalign(%zu) returned %p", al, q);
        b->p = q;
        b->seed = rng_next(r);
        pat_fill(b->p, b->n, b->seed);
    } else if (op < 75) {                                  /* hand over */
        if (b->p && q_push(*b)) {
            b->p = NULL;
            w->handed++;
        }
    } else if (op < 88) {                                  /* take over: free or keep */
        struct blk t;
        if (q_pop(&t)) {
            w->taken++;
            if (rng_next(r) % 2) {
                slot_free(&t);
            } else {                                       /* realloc another thread's block */
                blk_verify(&t, "before cross-thread realloc");
                size_t n = pick_size(r);
                unsigned char *q = realloc(t.p, n);
                if (!q) die("stress: cross-thread realloc(%p, %zu) failed", (void *)t.p, n);
                struct blk nb = { q, n < t.n ? n : t.n, t.seed };
                blk_verify(&nb, "content after cross-thread realloc");
                slot_free(b);
                b->p = q;
                b->n = n;
                b->seed = rng_next(r);
                pat_fill(b->p, b->n, b->seed);
            }
        }
    } else if (op < 90) {                                  /* aligned_alloc / memalign */
        slot_free(b);
        size_t al = (size_t)16 << (rng_next(r) % 13);      /* 16 .. 64 KiB */
        b->n = pick_size(r);
        b->p = (rng_next(r) % 2) ? aligned_alloc(al, b->n) : memalign(al, b->n);
        if (!b->p) die("stress: aligned allocation (%zu, %zu) failed", al, b->n);
        if ((uintptr_t)b->p % al) die("stress: aligned allocation (%zu) returned %p", al, (void *)b->p);
        b->seed = rng_next(r);
        pat_fill(b->p, b->n, b->seed);
    } else if (op == 99 && rng_next(r) % 64 == 0) {       /* whole-heap calls, now and then */
        if (rng_next(r) % 2) {
            malloc_trim(0);
        } else {
            struct mallinfo2 mi = mallinfo2();
            if (mi.uordblks > mi.arena + mi.hblkhd + ((size_t)1 << 40))
                die("stress: mallinfo2 nonsense: uordblks %zu arena %zu", mi.uordblks, mi.arena);
        }
    } else {                                               /* free */
        slot_free(b);
    }
    w->ops++;
}

/* One random operation, then a malloc_usable_size check of a random live block. */
static void worker_step(struct worker *w)
{
    worker_op(w);
    struct blk *b = &w->slot[w->rng % SLOTS];
    if (b->p)
        check_usable(b);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        for (int i = 0; i < 64; i++)
            worker_step(w);
        if (w->deadline > 0 && now() >= w->deadline)
            break;
    }
    for (int i = 0; i < SLOTS; i++)
        slot_free(&w->slot[i]);
    return NULL;
}

static void drain_queue(void)
{
    struct blk t;
    while (q_pop(&t))
        slot_free(&t);
}

static void run_heap_check(const char *phase)
{
    if (check_heap && check_heap() != 0)
        die("stress: liballoc_check_heap failed after the %s phase", phase);
}

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v <= 0 || v > 1000000)
        die("stress: bad %s=%s (want a positive integer)", name, s);
    return (int)v;
}

static void phase_random(void)
{
    int nthreads = env_int("STRESS_THREADS", 4), secs = env_int("STRESS_SECONDS", 5);
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    if (!w) die("stress: out of memory");
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        w[i].rng = 0x1234567ull * (uint64_t)(i + 1) + 99;
        w[i].deadline = t0 + secs;
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]))
            die("stress: pthread_create failed");
    }
    uint64_t ops = 0, handed = 0, taken = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].th, NULL);
        ops += w[i].ops;
        handed += w[i].handed;
        taken += w[i].taken;
    }
    drain_queue();
    free(w);
    run_heap_check("random");
    printf("random: %d threads, %.1f s, %llu ops, %llu blocks handed over, %llu freed or realloc'ed by another thread\n",
           nthreads, now() - t0, (unsigned long long)ops, (unsigned long long)handed, (unsigned long long)taken);
    fflush(stdout);
}

/* ---- thread churn --------------------------------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) die("stress: cannot open /proc/self/status: %s", strerror(errno));
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    fclose(f);
    if (v < 0) die("stress: no VmRSS in /proc/self/status");
    return v;
}

struct churn_arg {
    uint64_t seed;
    struct blk left;         /* one block freed by the main thread after this one exits */
};

static void *churn_main(void *arg)
{
    struct churn_arg *a = arg;
    uint64_t r = a->seed;
    struct blk b[32];
    for (int i = 0; i < 32; i++) {
        b[i].n = (rng_next(&r) % 8 == 0) ? 2048 + rng_next(&r) % 8192 : 1 + rng_next(&r) % 512;
        b[i].p = malloc(b[i].n);
        if (!b[i].p) die("stress: churn malloc failed");
        b[i].seed = rng_next(&r);
        pat_fill(b[i].p, b[i].n, b[i].seed);
    }
    if (rng_next(&r) % 16 == 0) {          /* sometimes an mmapped block too */
        void *m = malloc(300 * 1024);
        if (!m) die("stress: churn malloc(300K) failed");
        memset(m, 7, 300 * 1024);
        free(m);
    }
    for (int i = 1; i < 32; i++)
        slot_free(&b[i]);
    a->left = b[0];
    return NULL;
}

static void phase_churn(void)
{
    int total = env_int("STRESS_CHURN", 3000);
    const int wave = 8;
    int warm = total / 10 > wave ? total / 10 : wave;
    long rss_warm = 0;
    struct churn_arg args[8];
    pthread_t th[8];
    double t0 = now();
    for (int done = 0; done < total; done += wave) {
        for (int i = 0; i < wave; i++) {
            args[i].seed = 0xabcdefull + (uint64_t)(done + i) * 7919;
            if (pthread_create(&th[i], NULL, churn_main, &args[i]))
                die("stress: pthread_create failed after %d threads", done + i);
        }
        for (int i = 0; i < wave; i++) {
            pthread_join(th[i], NULL);
            slot_free(&args[i].left);          /* its owner thread is gone */
        }
        if (done < warm && done + wave >= warm)
            rss_warm = rss_kib();
    }
    long rss_end = rss_kib();
    run_heap_check("churn");
    printf("churn: %d threads in %.1f s, RSS after %d threads %ld KiB, at the end %ld KiB\n",
           total, now() - t0, warm, rss_warm, rss_end);
    fflush(stdout);
    /* 4 MiB over ~2700 threads: a leak of 1.5 KiB per thread (a tcache) shows. */
    const long bound = 4 * 1024;
    if (rss_end - rss_warm > bound)
        die("stress: RSS grew by %ld KiB over %d short-lived threads (bound %ld KiB): per-thread memory leaks",
            rss_end - rss_warm, total - warm, bound);
    if (dbg) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (dbg->ntcaches > 1)
            die("stress: %llu tcaches registered after every churn thread exited (want 1: main's)",
                (unsigned long long)dbg->ntcaches);
        if (dbg->narenas > 8 * (uint64_t)(cores > 0 ? cores : 1))
            die("stress: %u arenas for %ld cores", dbg->narenas, cores);
        printf("churn: %llu tcache(s) and %u arenas left\n", (unsigned long long)dbg->ntcaches, dbg->narenas);
    }
}

/* ---- fork while allocating --------------------------------------------------------------- */

static void *child_thread(void *arg)
{
    (void)arg;
    void *p[16];
    for (int i = 0; i < 16; i++)
        if (!(p[i] = malloc(64 + (size_t)i * 300))) return (void *)1;
    for (int i = 0; i < 16; i++)
        free(p[i]);
    return NULL;
}

static int child_work(void)
{
    static const size_t sizes[] = { 16, 100, 1000, 1100, 5000, 70000, 300 * 1024 };
    void *p[sizeof sizes / sizeof sizes[0]];
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p[i] = malloc(sizes[i]);
        if (!p[i]) return 2;
        memset(p[i], (int)i, sizes[i]);
    }
    void *c = calloc(100, 100);
    if (!c) return 3;
    void *q = realloc(p[2], 20000);
    if (!q) return 4;
    p[2] = q;
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        free(p[i]);
    free(c);
    /* A new thread in the child gets an arena and allocates too. */
    pthread_t th;
    void *ret = (void *)1;
    if (pthread_create(&th, NULL, child_thread, NULL) || pthread_join(th, &ret) || ret)
        return 6;
    if (check_heap && check_heap() != 0)
        return 5;
    return 0;
}

static void phase_fork(void)
{
    int nforks = env_int("STRESS_FORKS", 40);
    const int nthreads = 3;
    struct worker *w = calloc(nthreads, sizeof *w);
    if (!w) die("stress: out of memory");
    atomic_store(&stop_flag, 0);
    for (int i = 0; i < nthreads; i++) {
        w[i].rng = 0x777ull * (uint64_t)(i + 3);
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]))
            die("stress: pthread_create failed");
    }
    double t0 = now();
    for (int k = 0; k < nforks; k++) {
        usleep(5000);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            die("stress: fork failed: %s", strerror(errno));
        if (pid == 0)
            _exit(child_work());
        int st = 0;
        double limit = now() + 10.0;
        for (;;) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid)
                break;
            if (r < 0)
                die("stress: waitpid: %s", strerror(errno));
            if (now() > limit) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                die("stress: fork child %d hung for 10 s (fork #%d): deadlock in the child's allocator", (int)pid, k);
            }
            usleep(1000);
        }
        if (WIFSIGNALED(st))
            die("stress: fork child #%d died of signal %d", k, WTERMSIG(st));
        if (WEXITSTATUS(st) != 0)
            die("stress: fork child #%d exited %d", k, WEXITSTATUS(st));
    }
    atomic_store(&stop_flag, 1);
    uint64_t ops = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].th, NULL);
        ops += w[i].ops;
    }
    drain_queue();
    free(w);
    run_heap_check("fork");
    printf("fork: %d forks while %d threads allocated (%llu ops) in %.1f s, every child exited 0\n",
           nforks, nthreads, (unsigned long long)ops, now() - t0);
    fflush(stdout);
}

/* ---- fork from a signal handler (single-threaded) ----------------------------------- */

static volatile sig_atomic_t sf_forks, sf_failed;

static void sf_handler(int sig)
{
    (void)sig;
    int e = errno;
    if (sf_forks < 300) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0)
            sf_failed = 1;
        else
            sf_forks++;
    }
    errno = e;
}

static void phase_sigfork(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sf_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL))
        die("stress: sigaction: %s", strerror(errno));
    struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
    if (setitimer(ITIMER_REAL, &it, NULL))
        die("stress: setitimer: %s", strerror(errno));
    struct worker *w = calloc(1, sizeof *w);
    if (!w) die("stress: out of memory");
    w->rng = 0x5151;
    double t0 = now(), end = t0 + 2.0;
    int reaped = 0;
    while (now() < end && sf_forks < 300) {
        for (int i = 0; i < 256; i++)
            worker_step(w);
        int st;
        pid_t r;
        while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
            reaped++;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("stress: a child forked from the signal handler did not exit 0 (status %#x)", st);
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    int st;
    while (waitpid(-1, &st, 0) > 0) {
        reaped++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("stress: a child forked from the signal handler did not exit 0 (status %#x)", st);
    }
    if (sf_failed)
        die("stress: fork from the signal handler failed");
    for (int i = 0; i < SLOTS; i++)
        slot_free(&w->slot[i]);
    drain_queue();
    uint64_t ops = w->ops;
    free(w);
    run_heap_check("sigfork");
    if (sf_forks < 10)
        die("stress: only %d forks from the signal handler in %.1f s", (int)sf_forks, now() - t0);
    printf("sigfork: %d forks from SIGALRM during %llu single-threaded ops in %.1f s, %d children reaped\n",
           (int)sf_forks, (unsigned long long)ops, now() - t0, reaped);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    check_heap = (int (*)(void))dlsym(RTLD_DEFAULT, "liballoc_check_heap");
    dbg = dlsym(RTLD_DEFAULT, LA_DEBUG_SYMBOL);
    const char *req = getenv("STRESS_REQUIRE_LIBALLOC");
    if (req && strcmp(req, "1") == 0 && (!dbg || !check_heap))
        die("stress: liballoc is not loaded (no liballoc_debug / liballoc_check_heap symbol)");
    printf("stress: allocator %s\n", dbg ? "liballoc" : "system");
    int all = argc < 2;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "random") && strcmp(argv[i], "churn") && strcmp(argv[i], "fork") &&
            strcmp(argv[i], "sigfork"))
            die("stress: unknown phase '%s' (want random, churn, fork or sigfork)", argv[i]);
    for (int i = 1; i <= argc; i++) {
        const char *ph = all ? NULL : (i < argc ? argv[i] : NULL);
        if (all) {
            phase_random();
            phase_churn();
            phase_fork();
            break;
        }
        if (!ph)
            break;
        if (!strcmp(ph, "random")) phase_random();
        else if (!strcmp(ph, "churn")) phase_churn();
        else if (!strcmp(ph, "sigfork")) phase_sigfork();
        else phase_fork();
    }
    printf("stress: ok\n");
    return 0;
}
