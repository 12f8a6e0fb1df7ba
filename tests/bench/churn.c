/*
 * churn.c - small-object churn, the shape of glibc's bench-malloc-simple
 * (single thread) and bench-malloc-thread (several threads).
 *
 * Each thread repeats: allocate BLOCK objects whose sizes cycle through
 * 16, 32, ..., 256 bytes, write one word into each, then free them all in
 * allocation order.  Nothing is shared between threads.  This is the fast
 * path: per-thread caches (tcache), fastbins and small bins; with -t > 1, any
 * lock or shared cache line on that path shows up.  -t 1 runs in the main
 * thread (no thread is created, so a single-threaded allocator fast path can be
 * used).  Timed: all rounds, over all threads.
 */
#include "bench.h"

#define BLOCK 100

struct ch_arg {
    long rounds;
};

static void *ch_worker(void *arg)
{
    struct ch_arg *a = arg;
    void *p[BLOCK];
    for (long r = 0; r < a->rounds; r++) {
        for (int i = 0; i < BLOCK; i++) {
            size_t n = (size_t)16 << (i % 5); /* 16, 32, 64, 128, 256 */
            p[i] = bench_xmalloc(n);
            *(volatile long *)p[i] = r;
        }
        for (int i = 0; i < BLOCK; i++)
            free(p[i]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 1);
    long rounds = bench_scaled(200000, &o);
    struct ch_arg a = { rounds };
    pthread_t *th = calloc((size_t)o.threads, sizeof *th);
    if (!th) {
        fprintf(stderr, "churn: out of memory\n");
        return 1;
    }
    double t0 = bench_now();
    if (o.threads == 1) {
        ch_worker(&a);
    } else {
        for (int i = 0; i < o.threads; i++)
            bench_thread_create(&th[i], ch_worker, &a);
        for (int i = 0; i < o.threads; i++)
            pthread_join(th[i], NULL);
    }
    double t1 = bench_now();
    bench_report_time(t1 - t0);
    printf("ops %ld\n", (long)o.threads * rounds * BLOCK);
    free(th);
    return 0;
}
