/*
 * frag.c - fragmentation and the return of memory to the system.
 *
 * Reports the process RSS (from /proc/self/statm, KiB) after each phase:
 *   rss_base_kb     before the test
 *   rss_full_kb     after allocating NOBJ blocks of random size 16..1024 bytes
 *                   (about 100 MiB at scale 1) and writing all of them
 *   rss_holes_kb    after freeing 3 of every 4 blocks (random choice): the
 *                   survivors pin their pages, so little can go back
 *   rss_refill_kb   after allocating blocks of 1.5..3 KiB (too big for most
 *                   holes unless the allocator coalesces neighbours) worth half
 *                   of what was freed: a good allocator reuses the holes
 *   rss_release_kb  after freeing everything: the memory should go back to the
 *                   system (glibc trims the top of the heap and releases
 *                   mmapped blocks; no malloc_trim call is made)
 * then the same again in a second thread (its own arena in ptmalloc designs),
 * whose figures are rss_thread_full_kb and rss_thread_release_kb.
 * Timed: all phases (the statm reads are outside).
 */
#include "bench.h"

struct fr_arg {
    long nobj;
    uint64_t seed;
    long rss_full, rss_holes, rss_refill, rss_release;
    double secs;
};

static void *fr_run(void *arg)
{
    struct fr_arg *a = arg;
    uint64_t rng = bench_seed(a->seed);
    long n = a->nobj;
    void **obj = calloc((size_t)n, sizeof *obj);
    size_t *len = calloc((size_t)n, sizeof *len);
    if (!obj || !len) {
        fprintf(stderr, "frag: out of memory\n");
        exit(1);
    }
    double secs = 0, t0 = bench_now();
    for (long i = 0; i < n; i++) {
        len[i] = bench_uniform(&rng, 16, 1024);
        obj[i] = bench_xmalloc(len[i]);
        memset(obj[i], 0x5a, len[i]);
        bench_tag(obj[i], len[i]);
    }
    secs += bench_now() - t0;
    a->rss_full = bench_rss_kb();

    t0 = bench_now();
    size_t freed = 0;
    for (long i = 0; i < n; i++)
        if (bench_rand(&rng) % 4 != 0) {
            bench_check(obj[i], len[i], "frag");
            freed += len[i];
            free(obj[i]);
            obj[i] = NULL;
        }
    secs += bench_now() - t0;
    a->rss_holes = bench_rss_kb();

    t0 = bench_now();
    long nbig = 0, cap = (long)(freed / 2 / 1536) + 1;
    void **big = calloc((size_t)cap, sizeof *big);
    size_t *blen = calloc((size_t)cap, sizeof *blen);
    if (!big || !blen) {
        fprintf(stderr, "frag: out of memory\n");
        exit(1);
    }
    for (size_t got = 0; got < freed / 2 && nbig < cap; nbig++) {
        blen[nbig] = bench_uniform(&rng, 1536, 3072);
        big[nbig] = bench_xmalloc(blen[nbig]);
        memset(big[nbig], 0xa5, blen[nbig]);
        bench_tag(big[nbig], blen[nbig]);
        got += blen[nbig];
    }
    secs += bench_now() - t0;
    a->rss_refill = bench_rss_kb();

    t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (obj[i]) {
            bench_check(obj[i], len[i], "frag");
            free(obj[i]);
        }
    for (long i = 0; i < nbig; i++) {
        bench_check(big[i], blen[i], "frag");
        free(big[i]);
    }
    free(big);
    free(blen);
    free(obj);
    free(len);
    secs += bench_now() - t0;
    a->rss_release = bench_rss_kb();
    a->secs = secs;
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 0);
    long nobj = bench_scaled(200000, &o);
    long base = bench_rss_kb();

    struct fr_arg m = { .nobj = nobj, .seed = 1 };
    fr_run(&m);

    struct fr_arg t = { .nobj = nobj, .seed = 2 };
    pthread_t th;
    bench_thread_create(&th, fr_run, &t);
    pthread_join(th, NULL);

    bench_report_time(m.secs + t.secs);
    printf("ops %ld\n", 2 * nobj);
    printf("rss_base_kb %ld\n", base);
    printf("rss_full_kb %ld\n", m.rss_full);
    printf("rss_holes_kb %ld\n", m.rss_holes);
    printf("rss_refill_kb %ld\n", m.rss_refill);
    printf("rss_release_kb %ld\n", m.rss_release);
    printf("rss_thread_full_kb %ld\n", t.rss_full);
    printf("rss_thread_release_kb %ld\n", t.rss_release);
    return 0;
}
