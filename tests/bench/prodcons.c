/*
 * prodcons.c - producer/consumer: every block is freed by a thread other than
 * the one that allocated it.
 *
 * -t T starts T/2 pairs (at least one).  In a pair the producer allocates
 * objects of random size (16..512 bytes), tags them, and hands them over in
 * batches of BATCH pointers through a small bounded queue (mutex + condition
 * variables); the consumer checks and frees every object it receives.  The
 * allocator sees a steady stream of remote frees: a thread-caching allocator
 * must send the memory back to the producer's heap (or keep it and grow).
 * Batching keeps the queue's locking small next to the allocator's work.
 * Timed: from the start of the threads to the join of the last one.
 */
#include "bench.h"

#define BATCH 256
#define QCAP 8 /* batches in flight per pair */
#define MINSZ 16
#define MAXSZ 512

struct batch {
    void *p[BATCH];
    size_t n[BATCH];
};

struct pair {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    struct batch *q[QCAP];
    int head, count;
    long batches; /* batches the producer sends */
    uint64_t rng;
};

static void *producer(void *arg)
{
    struct pair *pr = arg;
    for (long b = 0; b < pr->batches; b++) {
        struct batch *bt = bench_xmalloc(sizeof *bt);
        for (int i = 0; i < BATCH; i++) {
            size_t n = bench_uniform(&pr->rng, MINSZ, MAXSZ);
            bt->p[i] = bench_xmalloc(n);
            bt->n[i] = n;
            bench_tag(bt->p[i], n);
        }
        pthread_mutex_lock(&pr->mu);
        while (pr->count == QCAP)
            pthread_cond_wait(&pr->not_full, &pr->mu);
        pr->q[(pr->head + pr->count) % QCAP] = bt;
        pr->count++;
        pthread_cond_signal(&pr->not_empty);
        pthread_mutex_unlock(&pr->mu);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pair *pr = arg;
    for (long b = 0; b < pr->batches; b++) {
        pthread_mutex_lock(&pr->mu);
        while (pr->count == 0)
            pthread_cond_wait(&pr->not_empty, &pr->mu);
        struct batch *bt = pr->q[pr->head];
        pr->head = (pr->head + 1) % QCAP;
        pr->count--;
        pthread_cond_signal(&pr->not_full);
        pthread_mutex_unlock(&pr->mu);
        for (int i = 0; i < BATCH; i++) {
            bench_check(bt->p[i], bt->n[i], "prodcons");
            free(bt->p[i]);
        }
        free(bt);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 2);
    int pairs = o.threads / 2 > 0 ? o.threads / 2 : 1;
    long batches = bench_scaled(20000, &o) / pairs;
    if (batches < 1)
        batches = 1;

    struct pair *ps = calloc((size_t)pairs, sizeof *ps);
    pthread_t *th = calloc((size_t)pairs * 2, sizeof *th);
    if (!ps || !th) {
        fprintf(stderr, "prodcons: out of memory\n");
        return 1;
    }
    for (int i = 0; i < pairs; i++) {
        pthread_mutex_init(&ps[i].mu, NULL);
        pthread_cond_init(&ps[i].not_full, NULL);
        pthread_cond_init(&ps[i].not_empty, NULL);
        ps[i].batches = batches;
        ps[i].rng = bench_seed((uint64_t)i + 7);
    }
    double t0 = bench_now();
    for (int i = 0; i < pairs; i++) {
        bench_thread_create(&th[2 * i], producer, &ps[i]);
        bench_thread_create(&th[2 * i + 1], consumer, &ps[i]);
    }
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(th[i], NULL);
    double t1 = bench_now();
    bench_report_time(t1 - t0);
    printf("ops %ld\n", (long)pairs * batches * BATCH);
    free(th);
    free(ps);
    return 0;
}
