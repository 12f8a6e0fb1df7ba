/*
 * randmix.c - random allocate/free mix over a wide size range.
 *
 * Each thread (default 1) keeps SLOTS slots.  A step picks a random slot: if it
 * is empty it allocates a block of log-uniform random size 16 B .. 64 KiB
 * (every power of two equally likely, so most blocks are small but the large
 * bins and the top of the heap are exercised too) and writes its first and last
 * bytes; if it is full it checks and frees the block.  The slots stay about half
 * full, so the heap is a fragmented mix of sizes: this is the path through the
 * unsorted, small and large bins and through coalescing, not just the tcache.
 * Timed: all steps, over all threads.
 */
#include "bench.h"

#define SLOTS 4096
#define MINSZ 16
#define MAXSZ (64 * 1024)

struct rm_arg {
    long steps;
    uint64_t rng;
};

static void *rm_worker(void *arg)
{
    struct rm_arg *a = arg;
    void **obj = calloc(SLOTS, sizeof *obj);
    size_t *len = calloc(SLOTS, sizeof *len);
    if (!obj || !len) {
        fprintf(stderr, "randmix: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < a->steps; i++) {
        size_t k = (size_t)(bench_rand(&a->rng) % SLOTS);
        if (obj[k]) {
            bench_check(obj[k], len[k], "randmix");
            free(obj[k]);
            obj[k] = NULL;
        } else {
            size_t n = bench_loguniform(&a->rng, MINSZ, MAXSZ);
            obj[k] = bench_xmalloc(n);
            len[k] = n;
            bench_tag(obj[k], n);
        }
    }
    for (size_t k = 0; k < SLOTS; k++)
        if (obj[k]) {
            bench_check(obj[k], len[k], "randmix");
            free(obj[k]);
        }
    free(obj);
    free(len);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 1);
    long steps = bench_scaled(8000000, &o);
    struct rm_arg *args = calloc((size_t)o.threads, sizeof *args);
    pthread_t *th = calloc((size_t)o.threads, sizeof *th);
    if (!args || !th) {
        fprintf(stderr, "randmix: out of memory\n");
        return 1;
    }
    double t0 = bench_now();
    for (int i = 0; i < o.threads; i++) {
        args[i].steps = steps;
        args[i].rng = bench_seed((uint64_t)i + 100);
        if (o.threads == 1)
            rm_worker(&args[i]); /* single-threaded: no thread at all */
        else
            bench_thread_create(&th[i], rm_worker, &args[i]);
    }
    if (o.threads > 1)
        for (int i = 0; i < o.threads; i++)
            pthread_join(th[i], NULL);
    double t1 = bench_now();
    bench_report_time(t1 - t0);
    printf("ops %ld\n", (long)o.threads * steps);
    free(th);
    free(args);
    return 0;
}
