/*
 * tests/progs/demo.c - the teaching workload `make demo` opens heapview on.
 *
 * Run under LD_PRELOAD=liballoc.so with LIBALLOC_OPTIONS=tcache_count=7 (glibc's
 * tcache: the steps below count on 7 entries per bin; `make demo` sets it).  It allocates and frees in slow, visible
 * patterns so that each mechanism of the allocator can be watched live, one step
 * every DEMO_STEP_MS milliseconds (default 250):
 *   1. tcache filling: seven 40-byte blocks freed one by one -> tcache[1] grows to 7;
 *   2. fastbins: nine 56-byte blocks freed -> tcache[2] fills, two go to fastbin 0x40;
 *   3. unsorted / small / large: a 0x100 and a 0x610 chunk freed (after the 0x100
 *      tcache bin is full) land in the unsorted bin, a 4 KiB malloc sorts them into
 *      small bin 16 and large bin 72; a 0x510 chunk freed afterwards stays unsorted;
 *   4. mmap: a 1 MiB block appears as an mmapped chunk, is held, then unmapped;
 *   5. everything is given back and the cycle starts again (a few blocks are kept
 *      each round, up to a bound, so the in-use pattern changes);
 * while a second thread (its own arena) keeps a ring of 48 blocks of random sizes.
 * It dies with its parent (PR_SET_PDEATHSIG): `make demo` execs heapview in the
 * shell that started it, so quitting heapview ends the workload.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static long step_ms = 250;

static void step(void)
{
    struct timespec ts = { step_ms / 1000, (step_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        _exit(4);
    memset(p, 0x41 + (int)(n % 26), n < 64 ? n : 64);
    return p;
}

static void *ring_thread(void *arg)
{
    (void)arg;
    void *ring[48] = { 0 };
    unsigned seed = 12345;
    for (;;) {
        for (int k = 0; k < 4; k++) {
            unsigned i = (unsigned)rand_r(&seed) % 48;
            free(ring[i]);
            ring[i] = xmalloc(16 + (size_t)(rand_r(&seed) % 2000));
        }
        step();
    }
    return NULL;
}

int main(void)
{
    const char *e = getenv("DEMO_STEP_MS");
    if (e && atol(e) > 0)
        step_ms = atol(e);
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 0;

    pthread_t th;
    if (pthread_create(&th, NULL, ring_thread, NULL) != 0)
        return 5;

    void *kept[64] = { 0 };
    int nkept = 0;
    for (unsigned round = 0;; round++) {
        /* 1. tcache filling */
        void *t[7];
        for (int i = 0; i < 7; i++)
            t[i] = xmalloc(40);
        void *guard1 = xmalloc(24);
        step();
        for (int i = 0; i < 7; i++) {
            free(t[i]);
            step();
        }
        /* 2. fastbins once the tcache bin is full */
        void *f[9];
        for (int i = 0; i < 9; i++)
            f[i] = xmalloc(56);
        void *guard2 = xmalloc(24);
        step();
        for (int i = 0; i < 9; i++) {
            free(f[i]);
            step();
        }
        /* 3. unsorted, then sorted into a small and a large bin */
        void *s7[7];
        for (int i = 0; i < 7; i++)
            s7[i] = xmalloc(0xf8);
        void *small = xmalloc(0xf8);
        void *g3 = xmalloc(24);
        void *large = xmalloc(0x600);
        void *g4 = xmalloc(24);
        void *uns = xmalloc(0x500);
        void *g5 = xmalloc(24);
        step();
        for (int i = 0; i < 7; i++)
            free(s7[i]);
        step();
        free(small);
        step();
        free(large);
        step();
        step();
        void *sorter = xmalloc(0x1000);     /* sorts the unsorted bin */
        step();
        step();
        free(uns);
        step();
        step();
        /* 4. an mmapped block */
        void *mm = xmalloc(1 << 20);
        for (int i = 0; i < 6; i++)
            step();
        free(mm);
        step();
        /* 5. give (nearly) everything back; keep a block or two for next round */
        if (nkept < 64)
            kept[nkept++] = guard1;
        else
            free(guard1);
        free(guard2);
        free(g3);
        free(g4);
        free(g5);
        free(sorter);
        if (round % 3 == 2 && nkept < 64)
            kept[nkept++] = xmalloc(100 + 40 * (round % 10));
        if (nkept >= 48) {
            for (int i = 0; i < nkept; i++)
                free(kept[i]);
            nkept = 0;
        }
        for (int i = 0; i < 4; i++)
            step();
    }
}
