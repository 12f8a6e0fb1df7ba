/*
 * larson.c - server simulation in the shape of the Larson benchmark.
 *
 * T lineages of worker threads run at once.  Each lineage owns an array of
 * SLOTS objects of random size (8..1000 bytes).  A worker performs OPS steps
 * "pick a random slot, free its object, allocate a new one of random size",
 * then starts its successor thread, hands it the array and exits.  The successor
 * therefore frees objects that a thread now dead allocated: blocks cross threads,
 * and threads come and go, as in a server whose requests are served by
 * short-lived threads.  Timed: from the start of the first workers to the end of
 * the last generation; the arrays are then emptied outside the timed section.
 */
#include "bench.h"

#define SLOTS 1000
#define MINSZ 8
#define MAXSZ 1000

struct lineage {
    void *obj[SLOTS];
    size_t len[SLOTS];
    uint64_t rng;
    long ops;       /* steps per generation */
    int gens_left;
};

struct lineage_done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
};

static struct lineage_done done = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

/* One generation: OPS free/malloc steps, then start the successor (detached)
 * or, for the last generation, tell main that this lineage is finished. */
static void *worker(void *arg)
{
    struct lineage *l = arg;
    for (long i = 0; i < l->ops; i++) {
        size_t k = (size_t)(bench_rand(&l->rng) % SLOTS);
        bench_check(l->obj[k], l->len[k], "larson");
        free(l->obj[k]);
        size_t n = bench_uniform(&l->rng, MINSZ, MAXSZ);
        l->obj[k] = bench_xmalloc(n);
        l->len[k] = n;
        bench_tag(l->obj[k], n);
    }
    if (--l->gens_left > 0) {
        pthread_t next;
        bench_thread_create(&next, worker, l);
        pthread_detach(next);
        return NULL;
    }
    pthread_mutex_lock(&done.mu);
    done.left--;
    pthread_cond_signal(&done.cv);
    pthread_mutex_unlock(&done.mu);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 2);
    int gens = (int)bench_scaled(1000, &o);
    long ops = 20000;

    struct lineage *ls = calloc((size_t)o.threads, sizeof *ls);
    if (!ls) {
        fprintf(stderr, "larson: out of memory\n");
        return 1;
    }
    for (int t = 0; t < o.threads; t++) {
        ls[t].rng = bench_seed((uint64_t)t + 1);
        ls[t].ops = ops;
        ls[t].gens_left = gens;
        for (int k = 0; k < SLOTS; k++) {
            size_t n = bench_uniform(&ls[t].rng, MINSZ, MAXSZ);
            ls[t].obj[k] = bench_xmalloc(n);
            ls[t].len[k] = n;
            bench_tag(ls[t].obj[k], n);
        }
    }
    done.left = o.threads;
    double t0 = bench_now();
    pthread_t *th = malloc(sizeof *th * (size_t)o.threads);
    if (!th)
        return 1;
    for (int t = 0; t < o.threads; t++) {
        bench_thread_create(&th[t], worker, &ls[t]);
        pthread_detach(th[t]);
    }
    pthread_mutex_lock(&done.mu);
    while (done.left > 0)
        pthread_cond_wait(&done.cv, &done.mu);
    pthread_mutex_unlock(&done.mu);
    double t1 = bench_now();

    for (int t = 0; t < o.threads; t++)
        for (int k = 0; k < SLOTS; k++) {
            bench_check(ls[t].obj[k], ls[t].len[k], "larson");
            free(ls[t].obj[k]);
        }
    bench_report_time(t1 - t0);
    printf("ops %ld\n", (long)o.threads * gens * ops);
    free(th);
    free(ls);
    return 0;
}
