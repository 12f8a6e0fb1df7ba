/*
 * falseshare.h - the common body of cache_thrash.c and cache_scratch.c
 * (the shape of Hoard's cache-thrash / cache-scratch tests).
 *
 * Each of T threads repeats ITERS times: allocate a small object (OBJSZ bytes),
 * write every byte of it REPS times, free it.  If the allocator places objects
 * of different threads in one cache line, the line bounces between the cores
 * on every write and the run is many times slower: false sharing.
 *   active  (cache_thrash):  the threads allocate their own objects; an
 *           allocator that serves concurrent threads from one pool of adjacent
 *           blocks causes the sharing itself.
 *   passive (cache_scratch): main allocates T adjacent objects and gives one to
 *           each thread, which frees it first; an allocator that hands that
 *           freed block (or its neighbours) back to the thread inherits the
 *           sharing that main created.
 * Timed: from the start of the threads to the last join.
 */
#include "bench.h"

#define OBJSZ 8
#define ITERS 1000

struct fs_arg {
    void *initial; /* passive: object allocated by main, freed by the thread */
    long reps;
};

static void *fs_worker(void *arg)
{
    struct fs_arg *a = arg;
    if (a->initial) {
        bench_check(a->initial, OBJSZ, "cache-scratch");
        free(a->initial);
    }
    for (int i = 0; i < ITERS; i++) {
        volatile unsigned char *p = bench_xmalloc(OBJSZ);
        for (long r = 0; r < a->reps; r++)
            for (int j = 0; j < OBJSZ; j++)
                p[j] = (unsigned char)(p[j] + 1);
        free((void *)p);
    }
    return NULL;
}

static int fs_main(int argc, char **argv, int passive)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 2);
    long reps = bench_scaled(FS_REPS, &o);
    struct fs_arg *args = calloc((size_t)o.threads, sizeof *args);
    pthread_t *th = calloc((size_t)o.threads, sizeof *th);
    if (!args || !th) {
        fprintf(stderr, "falseshare: out of memory\n");
        return 1;
    }
    for (int i = 0; i < o.threads; i++) {
        args[i].reps = reps;
        if (passive) {
            args[i].initial = bench_xmalloc(OBJSZ);
            bench_tag(args[i].initial, OBJSZ);
        }
    }
    double t0 = bench_now();
    for (int i = 0; i < o.threads; i++)
        bench_thread_create(&th[i], fs_worker, &args[i]);
    for (int i = 0; i < o.threads; i++)
        pthread_join(th[i], NULL);
    double t1 = bench_now();
    bench_report_time(t1 - t0);
    printf("ops %ld\n", (long)o.threads * ITERS);
    free(th);
    free(args);
    return 0;
}
