/*
 * large.c - large blocks around the mmap threshold (64 KiB .. 512 KiB).
 *
 * A working set of SLOTS blocks; each step replaces a random slot with a new
 * block of uniform random size 64..512 KiB and writes one byte in every page
 * of it (a program that asks for a big block uses it).  glibc's threshold is
 * 128 KiB and moves up dynamically as mmapped blocks are freed; an allocator
 * that maps and unmaps every large block pays a system call and page faults
 * for each, one that keeps them pays in RSS (see the peak RSS table).
 * -t runs independent copies in several threads.  Timed: all steps.
 */
#include "bench.h"

#define SLOTS 16
#define MINSZ (64 * 1024)
#define MAXSZ (512 * 1024)

struct lg_arg {
    long steps;
    uint64_t rng;
};

static void touch(unsigned char *p, size_t n)
{
    for (size_t off = 0; off < n; off += 4096)
        p[off] = (unsigned char)off;
}

static void *lg_worker(void *arg)
{
    struct lg_arg *a = arg;
    unsigned char *obj[SLOTS] = { 0 };
    size_t len[SLOTS] = { 0 };
    for (long i = 0; i < a->steps; i++) {
        size_t k = (size_t)(bench_rand(&a->rng) % SLOTS);
        if (obj[k]) {
            bench_check(obj[k], len[k], "large");
            free(obj[k]);
        }
        size_t n = bench_uniform(&a->rng, MINSZ, MAXSZ);
        obj[k] = bench_xmalloc(n);
        len[k] = n;
        touch(obj[k], n);
        bench_tag(obj[k], n);
    }
    for (int k = 0; k < SLOTS; k++)
        if (obj[k]) {
            bench_check(obj[k], len[k], "large");
            free(obj[k]);
        }
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 1);
    long steps = bench_scaled(60000, &o);
    struct lg_arg *args = calloc((size_t)o.threads, sizeof *args);
    pthread_t *th = calloc((size_t)o.threads, sizeof *th);
    if (!args || !th) {
        fprintf(stderr, "large: out of memory\n");
        return 1;
    }
    double t0 = bench_now();
    for (int i = 0; i < o.threads; i++) {
        args[i].steps = steps;
        args[i].rng = bench_seed((uint64_t)i + 300);
        if (o.threads == 1)
            lg_worker(&args[i]);
        else
            bench_thread_create(&th[i], lg_worker, &args[i]);
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
