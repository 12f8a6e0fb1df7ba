/*
 * tests/check_bigcache.c - the big-chunk cache (liballoc/bigcache.c): freed
 * chunks of 1 KiB .. 64 KiB kept per thread, per class, and taken back by a
 * malloc of their class.
 *
 * Each test is a fresh Check child (liballoc not initialised yet), so
 * LIBALLOC_OPTIONS set at its start takes effect.  The tests look at the
 * calling thread's struct la_tcache (published, shared/debug_abi.h ABI 5):
 * counts, slots and byte total, and at the main arena's top and system_mem.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "check_suites.h"
#include "check_la.h"

#define M liballoc_malloc
#define F liballoc_free

static unsigned cls(const void *mem) { return la_bc_class(t_csize(mem)); }

static void opts_default(void) { setenv("LIBALLOC_OPTIONS", "tcache_count=7", 1); }

/* a freed 5000-byte block is cached and the next malloc of its class gets it */
START_TEST(bc_hit_same_class)
{
    char *p = M(5000), *g = M(100);          /* g: p is not next to top */
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    unsigned c = cls(p);
    size_t cs = t_csize(p);
    F(p);
    ck_assert_uint_eq(tc->bc_count[c], 1);
    ck_assert_uint_eq(tc->bc_bytes, cs);
    ck_assert_uint_eq(tc->bc_chunk[c][0], (uintptr_t)t_chunk(p));
    ck_assert(la_prev_inuse(t_next_chunk(t_chunk(p))->size));   /* in use by its tags */
    ck_assert_int_eq(liballoc_check_heap(), 0);
    char *q = M(4900);                       /* smaller request, same class */
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(tc->bc_count[c], 0);
    ck_assert_uint_eq(tc->bc_bytes, 0);
    ck_assert_uint_eq(((uint64_t *)q)[1], 0);  /* key cleared */
    F(q);
    F(g);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* malloc rounds a request of the cache's range up to its class's one chunk
 * size (so the newest cached chunk always fits); a chunk of another size (from
 * memalign: exact size) that is too small is not handed out, nor one of
 * another class */
START_TEST(bc_miss_too_big_or_other_class)
{
    char *p = M(4100), *g = M(100);
    struct la_tcache *tc = t_my_tcache();
    unsigned c = cls(p);
    ck_assert_uint_eq(t_csize(p), la_bc_round(la_request2size(4100)));
    size_t n = la_bc_class_lo(c) + la_bc_class_lo(c) / 8 - 2 * LA_ALIGNMENT;   /* same class, bigger */
    ck_assert_uint_eq(la_bc_class(la_request2size(n)), c);
    char *a = liballoc_memalign(64, 4100), *g2 = M(100);
    ck_assert_uint_eq(la_bc_class(t_csize(a)), c);
    ck_assert_uint_lt(t_csize(a), la_bc_round(la_request2size(n)));
    F(a);
    ck_assert_uint_eq(tc->bc_count[c], 1);
    char *q = M(n);                          /* a is too small for it */
    ck_assert_ptr_ne(q, a);
    ck_assert_uint_eq(tc->bc_count[c], 1);
    F(p);
    ck_assert_uint_eq(tc->bc_count[c], 2);
    char *r = M(9000);                       /* another class */
    ck_assert_ptr_ne(r, p);
    ck_assert_uint_eq(tc->bc_count[c], 2);
    char *s2 = M(n);                         /* p fits (the newest) */
    ck_assert_ptr_eq(s2, p);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    F(q); F(r); F(g); F(g2); F(s2);
}
END_TEST

/* a chunk next to top is not cached: it merges into top as before */
START_TEST(bc_skips_chunk_next_to_top)
{
    char *p = M(5000);
    struct la_tcache *tc = t_my_tcache();
    F(p);
    ck_assert_uint_eq(tc->bc_bytes, 0);
    ck_assert_ptr_eq(t_main_arena()->top, t_chunk(p));
}
END_TEST

/* the byte cap: with bigcache=12000 two 5 KB chunks fit, the third goes to the arena */
START_TEST(bc_byte_cap)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7:bigcache=12000", 1);
    char *p[4];
    for (int i = 0; i < 4; i++) p[i] = M(5000);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_uint_eq(liballoc_debug.tunables.bigcache_bytes, 12000);
    for (int i = 0; i < 3; i++) F(p[i]);
    ck_assert_uint_eq(tc->bc_count[cls(p[3])], 2);
    ck_assert_uint_le(tc->bc_bytes, 12000);
    ck_assert(!la_prev_inuse(t_chunk(p[3])->size));   /* p[2] went to the bins */
    ck_assert_int_eq(liballoc_check_heap(), 0);
    F(p[3]);
}
END_TEST

/* bigcache=0 turns it off */
START_TEST(bc_off)
{
    setenv("LIBALLOC_OPTIONS", "bigcache=0", 1);
    char *p = M(5000), *g = M(100);
    struct la_tcache *tc = t_my_tcache();
    F(p);
    ck_assert_uint_eq(tc->bc_bytes, 0);
    ck_assert(!la_prev_inuse(t_next_chunk(t_chunk(p))->size));   /* free in the bins */
    F(g);
}
END_TEST

/* a full class (LA_BC_WAYS slots) sends a chunk no larger than its chunks
 * to the arena, and gives up its smallest chunk for a larger one (memalign
 * makes chunks of exact sizes, smaller than the class's malloc size) */
START_TEST(bc_full_class_evicts_smallest)
{
    char *a[LA_BC_WAYS + 1], *g[LA_BC_WAYS + 2];
    for (unsigned i = 0; i <= LA_BC_WAYS; i++) {
        a[i] = liballoc_memalign(64, 4200 + 16 * i);
        g[i] = M(100);
    }
    char *big = M(4200);
    g[LA_BC_WAYS + 1] = M(100);
    struct la_tcache *tc = t_my_tcache();
    unsigned c = cls(big);
    for (unsigned i = 0; i <= LA_BC_WAYS; i++) {
        ck_assert_uint_eq(cls(a[i]), c);
        ck_assert_uint_lt(t_csize(a[i]), t_csize(big));
    }
    for (unsigned i = 1; i <= LA_BC_WAYS; i++) F(a[i]);
    ck_assert_uint_eq(tc->bc_count[c], LA_BC_WAYS);
    F(a[0]);                                 /* smallest of all: to the arena */
    ck_assert_uint_eq(tc->bc_count[c], LA_BC_WAYS);
    for (unsigned i = 0; i < LA_BC_WAYS; i++) ck_assert_uint_ne(tc->bc_chunk[c][i], (uintptr_t)t_chunk(a[0]));
    F(big);                                  /* larger: replaces a[1], the smallest cached */
    ck_assert_uint_eq(tc->bc_count[c], LA_BC_WAYS);
    int has_big = 0;
    for (unsigned i = 0; i < LA_BC_WAYS; i++) {
        ck_assert_uint_ne(tc->bc_chunk[c][i], (uintptr_t)t_chunk(a[1]));
        has_big |= tc->bc_chunk[c][i] == (uintptr_t)t_chunk(big);
    }
    ck_assert(has_big);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (unsigned i = 0; i < LA_BC_WAYS + 2; i++) F(g[i]);
}
END_TEST

/* freeing everything gives the memory back: cached chunks that come to
 * border top go to the arena, top absorbs them and is trimmed */
START_TEST(bc_release_returns_memory)
{
    enum { N = 120 };
    static char *p[N];
    for (int i = 0; i < N; i++) p[i] = M(20000 + 100 * (i % 7));
    uint64_t full = t_main_arena()->system_mem;
    ck_assert_uint_gt(full, (uint64_t)N * 20000);
    struct la_tcache *tc = t_my_tcache();
    for (int i = 0; i < N; i++) F(p[i]);     /* low to high: all cached until the last */
    ck_assert_uint_eq(tc->bc_bytes, 0);
    ck_assert_uint_lt(t_main_arena()->system_mem, 512u << 10);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* malloc_trim empties the calling thread's cache */
START_TEST(bc_malloc_trim_flushes)
{
    char *p = M(5000), *q = M(30000), *g = M(100);
    struct la_tcache *tc = t_my_tcache();
    F(p);
    F(q);
    ck_assert_uint_gt(tc->bc_bytes, 0);
    liballoc_malloc_trim(0);
    ck_assert_uint_eq(tc->bc_bytes, 0);
    for (unsigned c = 0; c < LA_BC_CLASSES; c++) ck_assert_uint_eq(tc->bc_count[c], 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    F(g);
}
END_TEST

/* a thread's cached chunks go back to its arena when it exits */
static void *bc_thread(void *arg)
{
    char *p[20];
    for (int i = 0; i < 20; i++) p[i] = M(5000);
    for (int i = 0; i < 20; i += 2) F(p[i]);
    *(uint64_t *)arg = t_my_tcache()->bc_bytes;
    for (int i = 1; i < 20; i += 2) F(p[i]);   /* p[19] next to top: not cached */
    return NULL;
}

START_TEST(bc_thread_exit_flushes)
{
    F(M(10));
    uint64_t cached = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, bc_thread, &cached), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_uint_gt(cached, 0);
    for (struct la_tcache *t = liballoc_debug.tcaches; t; t = t->next)
        ck_assert_uint_eq(t->bc_bytes, 0);       /* the exited thread's cache is gone */
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* the heap checker finds a cached chunk whose size field was overwritten */
START_TEST(bc_check_heap_detects_damage)
{
    char *p = M(5000), *g = M(100);
    F(p);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    size_t saved = t_chunk(p)->size;
    t_chunk(p)->size = saved + 16;
    ck_assert_int_eq(liballoc_check_heap(), -1);
    t_chunk(p)->size = saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);
    F(g);
}
END_TEST

/* random sizes 16 B .. 64 KiB, half-full slots (bench randmix in small): the
 * heap stays consistent and every block keeps its contents */
START_TEST(bc_random_mix_consistent)
{
    enum { SLOTS = 512, STEPS = 40000 };
    static unsigned char *obj[SLOTS];
    static size_t len[SLOTS];
    uint64_t r = 88172645463325252ull;
    for (int s = 0; s < STEPS; s++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        unsigned k = (unsigned)(r % SLOTS);
        if (obj[k]) {
            ck_assert_uint_eq(obj[k][0], (unsigned char)k);
            ck_assert_uint_eq(obj[k][len[k] - 1], (unsigned char)k);
            F(obj[k]);
            obj[k] = NULL;
        } else {
            len[k] = (size_t)16 << ((r >> 20) % 12);
            len[k] += (r >> 32) % len[k];
            obj[k] = M(len[k]);
            ck_assert_ptr_nonnull(obj[k]);
            obj[k][0] = obj[k][len[k] - 1] = (unsigned char)k;
        }
        if (s % 5000 == 0) ck_assert_int_eq(liballoc_check_heap(), 0);
    }
    ck_assert_uint_gt(t_my_tcache()->bc_bytes, 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int k = 0; k < SLOTS; k++) F(obj[k]);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

static Suite *suite_bigcache(void)
{
    Suite *s = suite_create("bigcache");
    TCase *tc = tcase_create("bigcache");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, opts_default, NULL);
    tcase_add_test(tc, bc_hit_same_class);
    tcase_add_test(tc, bc_miss_too_big_or_other_class);
    tcase_add_test(tc, bc_skips_chunk_next_to_top);
    tcase_add_test(tc, bc_byte_cap);
    tcase_add_test(tc, bc_off);
    tcase_add_test(tc, bc_full_class_evicts_smallest);
    tcase_add_test(tc, bc_release_returns_memory);
    tcase_add_test(tc, bc_malloc_trim_flushes);
    tcase_add_test(tc, bc_thread_exit_flushes);
    tcase_add_test(tc, bc_check_heap_detects_damage);
    tcase_add_test(tc, bc_random_mix_consistent);
    suite_add_tcase(s, tc);
    return s;
}
CHECK_SUITE(suite_bigcache)
