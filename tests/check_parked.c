/*
 * tests/check_parked.c - parked tcaches (liballoc/tcache.c): an exiting
 * thread's non-empty tcache waits in the registry with tid 0, and the next
 * thread that makes a tcache adopts it, chunks and all; at most one per core
 * (8 in all) is parked; malloc_trim flushes them.
 *
 * Each test is a fresh Check child (liballoc not initialised yet).  Threads
 * allocate through liballoc_malloc/liballoc_free; liballoc's pthread key
 * destructor runs its thread-exit code when they end.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "check_suites.h"
#include "check_la.h"

#define M liballoc_malloc
#define F liballoc_free

static void setup(void) { t_glibc_options(); }

/* registered tcaches: live (tid != 0) and parked (tid 0) */
static void count_tcaches(unsigned *live, unsigned *parked, struct la_tcache **last_parked)
{
    *live = *parked = 0;
    unsigned n = 0;
    for (struct la_tcache *t = liballoc_debug.tcaches; t && n < 1000; t = t->next, n++) {
        if (t->tid) {
            (*live)++;
        } else {
            (*parked)++;
            if (last_parked) *last_parked = t;
        }
    }
    ck_assert_uint_eq(n, liballoc_debug.ntcaches);
}

struct filler {
    void *p[5];
    int nfree;          /* how many of p to free before exiting */
    pthread_barrier_t *hold;
    struct la_tcache *tc;
    uint64_t tid;
};

static void *filler_fn(void *arg)
{
    struct filler *f = arg;
    for (int i = 0; i < 5; i++) f->p[i] = M(100);
    for (int i = 0; i < f->nfree; i++) F(f->p[i]);
    f->tc = t_my_tcache();
    f->tid = (uint64_t)gettid();
    if (f->hold) pthread_barrier_wait(f->hold);
    return NULL;
}

static void *taker_fn(void *arg)
{
    struct filler *f = arg;
    f->p[0] = M(100);
    f->tc = t_my_tcache();
    f->tid = (uint64_t)gettid();
    return NULL;
}

/* A frees 5 blocks of one size into its tcache and exits: its tcache stays
 * registered with tid 0, holding them; B, the next new thread, adopts that
 * very tcache and its first malloc of the size gets A's last freed block. */
START_TEST(parked_tcache_adopted)
{
    F(M(16));                                   /* main's tcache */
    struct filler a = { .nfree = 5 }, b = { 0 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, filler_fn, &a), 0);
    pthread_join(t, NULL);
    unsigned live, parked;
    struct la_tcache *pk = NULL;
    count_tcaches(&live, &parked, &pk);
    ck_assert_uint_eq(live, 1);
    ck_assert_uint_eq(parked, 1);
    ck_assert_ptr_eq(pk, a.tc);
    size_t idx = la_tcache_index(t_csize(a.p[0]));
    ck_assert_uint_eq(pk->counts[idx], 5);
    ck_assert_int_eq(liballoc_check_heap(), 0);  /* its chunks count as cached */

    ck_assert_int_eq(pthread_create(&t, NULL, taker_fn, &b), 0);
    pthread_join(t, NULL);
    ck_assert_ptr_eq(b.tc, a.tc);               /* adopted, not a new struct */
    ck_assert_ptr_eq(b.p[0], a.p[4]);           /* the last block A freed */
    /* B exited in turn: the same tcache is parked again, one block fewer */
    count_tcaches(&live, &parked, &pk);
    ck_assert_uint_eq(parked, 1);
    ck_assert_ptr_eq(pk, a.tc);
    ck_assert_uint_eq(pk->counts[idx], 4);
    F(b.p[0]);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* a thread whose tcache is empty at exit is unregistered, not parked */
START_TEST(empty_tcache_not_parked)
{
    F(M(16));
    struct filler a = { .nfree = 0 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, filler_fn, &a), 0);
    pthread_join(t, NULL);
    unsigned live, parked;
    count_tcaches(&live, &parked, NULL);
    ck_assert_uint_eq(live, 1);
    ck_assert_uint_eq(parked, 0);
    for (int i = 0; i < 5; i++) F(a.p[i]);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* malloc_trim gives the parked tcaches' chunks back to their arenas */
START_TEST(trim_flushes_parked)
{
    F(M(16));
    struct filler a = { .nfree = 5 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, filler_fn, &a), 0);
    pthread_join(t, NULL);
    unsigned live, parked;
    count_tcaches(&live, &parked, NULL);
    ck_assert_uint_eq(parked, 1);
    ck_assert(la_non_main_arena(t_chunk(a.p[0])->size));
    struct la_arena *av = ((struct la_segment *)la_heap_of((uintptr_t)t_chunk(a.p[0])))->arena;
    ck_assert_ptr_nonnull(av);
    liballoc_malloc_trim(0);
    count_tcaches(&live, &parked, NULL);
    ck_assert_uint_eq(live, 1);
    ck_assert_uint_eq(parked, 0);
    /* the blocks are free in A's arena now: they were the first chunks of
     * its heap, and trimming consolidated them into its top */
    ck_assert_uint_le((uintptr_t)av->top, (uintptr_t)t_chunk(a.p[0]));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* threads that end together: at most one tcache per core (8 in all) is
 * parked, the others are flushed and unregistered */
START_TEST(parked_at_most_per_core)
{
    enum { N = 12 };
    F(M(16));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cap = cores < 1 ? 1u : cores > 8 ? 8u : (unsigned)cores;
    pthread_barrier_t hold;
    ck_assert_int_eq(pthread_barrier_init(&hold, NULL, N + 1), 0);
    struct filler f[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        f[i] = (struct filler){ .nfree = 5, .hold = &hold };
        ck_assert_int_eq(pthread_create(&t[i], NULL, filler_fn, &f[i]), 0);
    }
    pthread_barrier_wait(&hold);                /* all N have their tcaches */
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    unsigned live, parked;
    count_tcaches(&live, &parked, NULL);
    ck_assert_uint_eq(live, 1);
    ck_assert_uint_eq(parked, cap);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    pthread_barrier_destroy(&hold);
}
END_TEST

static Suite *suite_parked(void)
{
    Suite *s = suite_create("parked");
    TCase *tc = tcase_create("parked");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, parked_tcache_adopted);
    tcase_add_test(tc, empty_tcache_not_parked);
    tcase_add_test(tc, trim_flushes_parked);
    tcase_add_test(tc, parked_at_most_per_core);
    suite_add_tcase(s, tc);
    return s;
}
CHECK_SUITE(suite_parked)
