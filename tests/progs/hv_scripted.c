/*
 * tests/progs/hv_scripted.c - a target with a scripted liballoc heap, for heapview's tests.
 *
 * Run under LD_PRELOAD=liballoc.so (dynamic build) or as hv_scripted_static (linked
 * statically against liballoc.a).  It builds a heap whose every interesting chunk
 * has a known place, prints one line per pointer, then "READY", then waits:
 *
 *   T <name> <tid>                          a thread (main, t2)
 *   P <user-ptr> <state> <bin> <thread> <arena>
 *       state: inuse free mmapped; bin: none tcache fast unsorted small large remote;
 *       thread: the tcache owner's name for bin tcache, else -; arena: main other -
 *   READY
 *
 * Main thread (main arena): in-use chunks; a full tcache bin (7 x 0x30) and a
 * partly full one (3 x 0x50); a small-bin chunk (0x100) and a large-bin chunk
 * (0x610) sorted out of the unsorted bin by a 0x1000 request; an unsorted chunk
 * (0x510); two fastbin chunks (0x40, after filling that tcache bin); an mmapped
 * chunk (1 MiB).  Thread t2 (attached to a second arena): an in-use chunk, a full
 * tcache bin (7 x 0x30) and a partly full one (2 x 0x90), and 8 chunks of 0xb0
 * that the main thread frees last: they wait in t2's arena's remote-free list.
 * Output goes through write(2) from stack buffers so that printing never
 * allocates and the heap stays exactly as scripted.
 *
 * While waiting it increments a heartbeat counter written (as text) to the file
 * named by argv[1], if given, every 10 ms.  On SIGUSR1 it prints "USR1 <n>" with
 * the number of SIGUSR1 received, and "INTACT" or "DAMAGED" after checking the
 * fill pattern of its in-use chunks.
 */
/* Printing the address of a freed block is the point of this program. */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && write(1, buf, (size_t)n) < 0)
        _exit(3);
}

static void P(void *p, const char *state, const char *bin, const char *thread, const char *arena)
{
    say("P %p %s %s %s %s\n", p, state, bin, thread, arena);
}

/* in-use chunks whose contents are checked on SIGUSR1 */
static struct { unsigned char *p; size_t n; unsigned char fill; } keep[16];
static int nkeep;

static void *inuse(size_t n, const char *arena)
{
    unsigned char *p = malloc(n);
    if (!p)
        _exit(4);
    memset(p, 0x40 + nkeep, n);
    keep[nkeep].p = p;
    keep[nkeep].n = n;
    keep[nkeep].fill = (unsigned char)(0x40 + nkeep);
    nkeep++;
    P(p, "inuse", "none", "-", arena);
    return p;
}

static void *remote[8];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int t2_done;

static void *t2_main(void *arg)
{
    (void)arg;
    void *a[7], *b[2];
    say("T t2 %ld\n", (long)syscall(SYS_gettid));
    inuse(100, "other");
    for (int i = 0; i < 7; i++)
        a[i] = malloc(40);              /* 0x30 */
    for (int i = 0; i < 2; i++)
        b[i] = malloc(0x80);            /* 0x90 */
    inuse(24, "other");                 /* guard */
    for (int i = 0; i < 8; i++)
        remote[i] = malloc(0xa0);       /* 0xb0: freed by the main thread (remote-free list) */
    inuse(24, "other");                 /* guard */
    for (int i = 0; i < 7; i++) {
        free(a[i]);
        P(a[i], "free", "tcache", "t2", "other");
    }
    for (int i = 0; i < 2; i++) {
        free(b[i]);
        P(b[i], "free", "tcache", "t2", "other");
    }
    pthread_mutex_lock(&mu);
    t2_done = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    for (;;)
        pause();
    return NULL;
}

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
    (void)sig;
    usr1++;
}

int main(int argc, char **argv)
{
    signal(SIGUSR1, on_usr1);
    say("T main %ld\n", (long)syscall(SYS_gettid));

    /* The main thread allocates first (so it owns the main arena); t2 scripts its
     * arena before the main thread starts (pthread_create allocates). */
    inuse(24, "main");
    pthread_t th;
    if (pthread_create(&th, NULL, t2_main, NULL) != 0)
        return 5;
    pthread_mutex_lock(&mu);
    while (!t2_done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    /* allocate everything first, with in-use guards between chunks that will be freed */
    inuse(200, "main");
    inuse(1000, "main");
    void *tfull[7], *tpart[3], *small7[7], *fast7[7], *fast[2];
    for (int i = 0; i < 7; i++)
        tfull[i] = malloc(40);          /* 0x30 */
    for (int i = 0; i < 3; i++)
        tpart[i] = malloc(72);          /* 0x50 */
    for (int i = 0; i < 7; i++)
        small7[i] = malloc(0xf8);       /* 0x100 */
    void *small = malloc(0xf8);
    inuse(24, "main");
    void *large = malloc(0x600);        /* 0x610 */
    inuse(24, "main");
    void *unsorted = malloc(0x500);     /* 0x510 */
    inuse(24, "main");
    for (int i = 0; i < 7; i++)
        fast7[i] = malloc(56);          /* 0x40 */
    for (int i = 0; i < 2; i++)
        fast[i] = malloc(56);
    inuse(24, "main");
    void *mm = malloc(1 << 20);
    if (!mm)
        return 4;
    memset(mm, 0x55, 4096);

    /* then free in an order that leaves each chunk where it is printed */
    for (int i = 0; i < 7; i++)
        free(tfull[i]);
    for (int i = 0; i < 3; i++)
        free(tpart[i]);
    for (int i = 0; i < 7; i++)
        free(small7[i]);                /* fills tcache bin 0x100 */
    free(small);                        /* -> unsorted */
    free(large);                        /* -> unsorted */
    void *sorter = malloc(0x1000);      /* sorts them into the small and the large bin */
    if (!sorter)
        return 4;
    free(unsorted);                     /* stays in the unsorted bin */
    for (int i = 0; i < 7; i++)
        free(fast7[i]);                 /* fills tcache bin 0x40 */
    for (int i = 0; i < 2; i++)
        free(fast[i]);                  /* -> fastbin 0x40 */

    for (int i = 0; i < 7; i++)
        P(tfull[i], "free", "tcache", "main", "main");
    for (int i = 0; i < 3; i++)
        P(tpart[i], "free", "tcache", "main", "main");
    for (int i = 0; i < 7; i++)
        P(small7[i], "free", "tcache", "main", "main");
    P(small, "free", "small", "-", "main");
    P(large, "free", "large", "-", "main");
    P(unsorted, "free", "unsorted", "-", "main");
    for (int i = 0; i < 7; i++)
        P(fast7[i], "free", "tcache", "main", "main");
    for (int i = 0; i < 2; i++)
        P(fast[i], "free", "fast", "-", "main");
    P(sorter, "inuse", "none", "-", "main");
    P(mm, "mmapped", "none", "-", "-");

    /* t2's chunks freed here: 7 fill this thread's tcache bin 0xb0, the 8th
     * finds it full and pushes all 8 onto t2's arena's remote-free list, where
     * they stay (t2 never allocates again) */
    for (int i = 0; i < 8; i++)
        free(remote[i]);
    for (int i = 0; i < 8; i++)
        P(remote[i], "free", "remote", "-", "other");

    say("READY\n");

    int hb = argc > 1 ? open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    unsigned long beat = 0;
    sig_atomic_t seen = 0;
    for (;;) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        beat++;
        if (hb >= 0) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%lu\n", beat);
            if (pwrite(hb, buf, (size_t)n, 0) < 0)
                return 6;
        }
        if (usr1 != seen) {
            seen = usr1;
            int ok = 1;
            for (int k = 0; k < nkeep; k++)
                for (size_t i = 0; i < keep[k].n; i++)
                    ok &= keep[k].p[i] == keep[k].fill;
            say("USR1 %d\n%s\n", (int)seen, ok ? "INTACT" : "DAMAGED");
        }
    }
}
