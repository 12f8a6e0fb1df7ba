/*
 * tests/check_mechanisms.c - one unit test per allocator mechanism.
 *
 * How the tests work: each test runs in its own Check child (fork mode), so it
 * starts with an untouched liballoc (the runner itself only ever uses the
 * system malloc).  A test drives liballoc through its own entry points
 * (liballoc_malloc, liballoc_free, ...) into a known shape - tcache full, a
 * fastbin holding three chunks, two free neighbours, ... - and then reads the
 * resulting state back through the published metadata `liballoc_debug`: the
 * thread's tcache (found by tid), the main arena's fastbins, regular bins,
 * binmap, top and system_mem, the mmap registry and the tunables.  Safe-linked
 * pointers are decoded with la_reveal_ptr from shared/layout.h.  Chunk sizes are
 * derived with la_request2size, so the expectations follow the published layout
 * rather than numbers typed by hand.  Every test ends with liballoc_check_heap().
 *
 * The expected behaviour is glibc 2.36's (ptmalloc2) unless a comment says so.
 * Small frees are intercepted by the tcache (7 per size, up to 1032-byte
 * requests) and then by fastbins (up to 128-byte requests); tests that need the
 * unsorted, small or large bins use requests above 1032 bytes or fill the
 * tcache first.  "guard" allocations keep a freed chunk from merging with its
 * neighbour or with top.
 *
 * Test cases: tcache_fastbins, bins (coalescing, unsorted -> small/large bins, best
 * fit, binmap), system (top growth and trim, mmap threshold and registry),
 * realloc_align, arenas_options (per-thread arenas, their heaps and limit, thread
 * exit, LIBALLOC_OPTIONS), random (the heap checker catches damage; thousands of
 * random calls per tunable configuration with the heap checked after each) and brk
 * (a foreign sbrk; brk blocked, so the main heap falls back to mmap).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "check_suites.h"
#include "check_la.h"

#define KiB (1024ul)
#define MiB (1024ul * 1024ul)

static void fill_tcache(size_t req, void *out[LA_TCACHE_FILL])
{
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++)
        out[i] = liballoc_malloc(req);
}

static void free_all(void **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        liballoc_free(v[i]);
}

/* ---- tcache ------------------------------------------------------------------- */

/* glibc: the first 7 frees of a size go to the thread's tcache (LIFO), the 8th and
 * 9th of a fast size go to the fastbin; a malloc takes the tcache head back. */
START_TEST(tcache_fill_and_overflow)
{
    enum { N = 9 };
    const size_t req = 100, cs = la_request2size(req);
    void *p[N];
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(p[i] = liballoc_malloc(req));
    void *guard = liballoc_malloc(16);
    ck_assert_ptr_nonnull(guard);
    ck_assert(liballoc_debug.initialized != 0);
    ck_assert_uint_eq(liballoc_debug.magic, LA_DEBUG_MAGIC);
    ck_assert_uint_eq(liballoc_debug.tunables.tcache_count, LA_TCACHE_FILL);

    struct la_tcache *tc = t_my_tcache();
    ck_assert_msg(tc != NULL, "no tcache registered for tid %d", (int)gettid());
    struct la_arena *a = t_main_arena();
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(tc->arena, a);
    const unsigned ti = la_tcache_index(cs), fi = la_fastbin_index(cs);
    ck_assert_uint_eq(tc->counts[ti], 0);

    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) {
        liballoc_free(p[i]);
        ck_assert_uint_eq(tc->counts[ti], i + 1);
        ck_assert_ptr_eq(tc->entries[ti], p[i]);
        /* A chunk in the tcache still looks in use to the arena. */
        ck_assert(la_prev_inuse(t_chunk(p[i + 1])->size));
    }
    ck_assert_ptr_null(a->fastbins[fi]);

    /* Overflow: the tcache bin is full, the next two go to the fastbin. */
    liballoc_free(p[7]);
    ck_assert_uint_eq(tc->counts[ti], LA_TCACHE_FILL);
    ck_assert_ptr_eq(a->fastbins[fi], t_chunk(p[7]));
    liballoc_free(p[8]);
    ck_assert_uint_eq(tc->counts[ti], LA_TCACHE_FILL);
    ck_assert_ptr_eq(a->fastbins[fi], t_chunk(p[8]));
    ck_assert_int_eq(t_fastbin_count(a, fi), 2);

    /* The tcache list, decoded through safe-linking: p6 -> p5 -> ... -> p0 -> NULL. */
    struct la_tcache_entry *e = tc->entries[ti];
    for (int k = LA_TCACHE_FILL - 1; k >= 0; k--) {
        ck_assert_ptr_eq(e, p[k]);
        e = t_tc_next(e);
    }
    ck_assert_ptr_null(e);

    /* LIFO: the next malloc of that size is the last chunk put in the tcache. */
    void *q = liballoc_malloc(req);
    ck_assert_ptr_eq(q, p[6]);
    ck_assert_uint_eq(tc->counts[ti], LA_TCACHE_FILL - 1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- fastbins ------------------------------------------------------------------ */

/* glibc: fastbins are LIFO singly linked lists; fd is stored safe-linked
 * ((&fd >> 12) ^ next).  Fast chunks stay marked in use (no coalescing). */
START_TEST(fastbin_lifo_safe_linked)
{
    const size_t req = 40, cs = la_request2size(req);
    void *fill[LA_TCACHE_FILL];
    fill_tcache(req, fill);
    void *x = liballoc_malloc(req), *y = liballoc_malloc(req), *z = liballoc_malloc(req);
    void *guard = liballoc_malloc(req);
    ck_assert_ptr_nonnull(guard);
    free_all(fill, LA_TCACHE_FILL);

    struct la_arena *a = t_main_arena();
    const unsigned fi = la_fastbin_index(cs);
    liballoc_free(x);
    liballoc_free(y);
    liballoc_free(z);
    ck_assert(a->have_fastchunks != 0);
    ck_assert_ptr_eq(a->fastbins[fi], t_chunk(z));
    struct la_chunk *zc = t_chunk(z), *yc = t_chunk(y), *xc = t_chunk(x);
    /* Stored value is not the plain pointer (unless the mask happens to be zero). */
    if (((uintptr_t)&zc->fd >> 12) != 0)
        ck_assert_ptr_ne(zc->fd, yc);
    ck_assert_ptr_eq(t_fast_next(zc), yc);
    ck_assert_ptr_eq(t_fast_next(yc), xc);
    ck_assert_ptr_null(t_fast_next(xc));
    /* No coalescing: the chunks after x and y still have PREV_INUSE. */
    ck_assert(la_prev_inuse(yc->size));
    ck_assert(la_prev_inuse(zc->size));
    ck_assert(la_prev_inuse(t_chunk(guard)->size));
    ck_assert_int_eq(t_bin_find(a, xc), -1);

    /* Drain the tcache, then the fastbin answers with its head: z. */
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    const unsigned ti = la_tcache_index(cs);
    for (int k = LA_TCACHE_FILL - 1; k >= 0; k--)
        ck_assert_ptr_eq(liballoc_malloc(req), fill[k]);
    ck_assert_uint_eq(tc->counts[ti], 0);
    ck_assert_ptr_eq(liballoc_malloc(req), z);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: a large-bin request (>= 1024-byte chunk) while fastbins hold chunks runs
 * malloc_consolidate: adjacent fast chunks merge, and the merged chunk is sorted
 * into its small bin by the same malloc's unsorted pass. */
START_TEST(malloc_consolidate_merges_fastbins)
{
    enum { N = 5 };
    const size_t req = 40, cs = la_request2size(req);
    void *fill[LA_TCACHE_FILL], *p[N];
    fill_tcache(req, fill);
    for (int i = 0; i < N; i++)
        p[i] = liballoc_malloc(req);
    void *guard = liballoc_malloc(req);
    free_all(fill, LA_TCACHE_FILL);
    free_all(p, N);

    struct la_arena *a = t_main_arena();
    const unsigned fi = la_fastbin_index(cs);
    ck_assert_int_eq(t_fastbin_count(a, fi), N);
    ck_assert(la_prev_inuse(t_chunk(guard)->size));

    void *big = liballoc_malloc(2000);
    ck_assert_ptr_nonnull(big);

    ck_assert_ptr_null(a->fastbins[fi]);
    ck_assert_int_eq(a->have_fastchunks, 0);
    struct la_chunk *m = t_chunk(p[0]);
    ck_assert_uint_eq(la_chunksize(m->size), N * cs);
    ck_assert(la_prev_inuse(m->size));                 /* fill[6] is in use (tcache) */
    ck_assert(!la_prev_inuse(t_chunk(guard)->size));
    ck_assert_uint_eq(t_chunk(guard)->prev_size, N * cs);
    ck_assert_int_eq(t_bin_find(a, m), (int)la_bin_index(N * cs));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- coalescing --------------------------------------------------------------------- */

/* Sizes above the tcache range and above the fast range: frees coalesce at once and
 * the result goes to the unsorted bin (glibc _int_free). */
#define COAL_REQ 1100

static void coal_setup(void *v[4])
{
    for (int i = 0; i < 4; i++)      /* a, b, c, guard */
        v[i] = liballoc_malloc(COAL_REQ);
}

START_TEST(coalesce_with_previous)
{
    void *v[4];
    coal_setup(v);
    const size_t cs = la_request2size(COAL_REQ);
    struct la_arena *a = t_main_arena();
    liballoc_free(v[0]);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[0])), LA_BIN_UNSORTED);
    ck_assert(!la_prev_inuse(t_chunk(v[1])->size));
    ck_assert_uint_eq(t_chunk(v[1])->prev_size, cs);
    liballoc_free(v[1]);                           /* merges backwards into a */
    ck_assert_uint_eq(t_csize(v[0]), 2 * cs);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[0])), LA_BIN_UNSORTED);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[1])), -1);
    ck_assert_int_eq(t_bin_count(a, LA_BIN_UNSORTED), 1);
    ck_assert(!la_prev_inuse(t_chunk(v[2])->size));
    ck_assert_uint_eq(t_chunk(v[2])->prev_size, 2 * cs);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

START_TEST(coalesce_with_next)
{
    void *v[4];
    coal_setup(v);
    const size_t cs = la_request2size(COAL_REQ);
    struct la_arena *a = t_main_arena();
    liballoc_free(v[1]);
    liballoc_free(v[0]);                           /* absorbs the free b after it */
    ck_assert_uint_eq(t_csize(v[0]), 2 * cs);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[0])), LA_BIN_UNSORTED);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[1])), -1);
    ck_assert_int_eq(t_bin_count(a, LA_BIN_UNSORTED), 1);
    ck_assert_uint_eq(t_chunk(v[2])->prev_size, 2 * cs);
    ck_assert(!la_prev_inuse(t_chunk(v[2])->size));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

START_TEST(coalesce_with_both)
{
    void *v[4];
    coal_setup(v);
    const size_t cs = la_request2size(COAL_REQ);
    struct la_arena *a = t_main_arena();
    liballoc_free(v[0]);
    liballoc_free(v[2]);
    ck_assert_int_eq(t_bin_count(a, LA_BIN_UNSORTED), 2);
    liballoc_free(v[1]);                           /* a + b + c */
    ck_assert_uint_eq(t_csize(v[0]), 3 * cs);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[0])), LA_BIN_UNSORTED);
    ck_assert_int_eq(t_bin_find(a, t_chunk(v[2])), -1);
    ck_assert_int_eq(t_bin_count(a, LA_BIN_UNSORTED), 1);
    ck_assert_uint_eq(t_chunk(v[3])->prev_size, 3 * cs);
    ck_assert(!la_prev_inuse(t_chunk(v[3])->size));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* A free next to top merges into top (glibc): top starts at the freed chunk. */
START_TEST(coalesce_into_top)
{
    void *g = liballoc_malloc(COAL_REQ);
    void *p = liballoc_malloc(COAL_REQ);
    struct la_arena *a = t_main_arena();
    ck_assert_ptr_eq(t_next_chunk(t_chunk(p)), a->top);
    size_t top_before = la_chunksize(a->top->size);
    liballoc_free(p);
    ck_assert_ptr_eq(a->top, t_chunk(p));
    ck_assert_uint_eq(la_chunksize(a->top->size), top_before + la_request2size(COAL_REQ));
    ck_assert(la_prev_inuse(a->top->size));
    ck_assert_int_eq(t_bin_find(a, t_chunk(p)), -1);
    liballoc_free(g);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- unsorted -> small / large bins, binmap --------------------------------------- */

/* glibc: a freed non-fast chunk goes to the unsorted bin; the next malloc that does
 * not take it sorts it into its small or large bin and sets the binmap bit. */
START_TEST(unsorted_then_sorted)
{
    const size_t sreq = 500, scs = la_request2size(sreq);     /* small bin */
    const size_t lreq = 1100, lcs = la_request2size(lreq);    /* large bin */
    void *fill[LA_TCACHE_FILL];
    fill_tcache(sreq, fill);
    void *s = liballoc_malloc(sreq);
    void *g1 = liballoc_malloc(16);
    void *l = liballoc_malloc(lreq);
    void *g2 = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g1);
    ck_assert_ptr_nonnull(g2);
    free_all(fill, LA_TCACHE_FILL);
    struct la_arena *a = t_main_arena();
    liballoc_free(s);
    liballoc_free(l);
    ck_assert_int_eq(t_bin_find(a, t_chunk(s)), LA_BIN_UNSORTED);
    ck_assert_int_eq(t_bin_find(a, t_chunk(l)), LA_BIN_UNSORTED);
    ck_assert_int_eq(t_bin_count(a, LA_BIN_UNSORTED), 2);

    void *big = liballoc_malloc(3000);                       /* fits neither: from top */
    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_ne(big, s);
    ck_assert_ptr_ne(big, l);
    ck_assert_int_eq(t_bin_count(a, LA_BIN_UNSORTED), 0);
    const unsigned sbin = la_bin_index(scs), lbin = la_bin_index(lcs);
    ck_assert_uint_lt(sbin, LA_NSMALLBINS);
    ck_assert_uint_ge(lbin, LA_NSMALLBINS);
    ck_assert_int_eq(t_bin_find(a, t_chunk(s)), (int)sbin);
    ck_assert_int_eq(t_bin_find(a, t_chunk(l)), (int)lbin);
    ck_assert(t_binmap_bit(a, sbin));
    ck_assert(t_binmap_bit(a, lbin));

    /* An exact small request is now served from the small bin. */
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++)            /* empty the tcache bin */
        liballoc_malloc(sreq);
    ck_assert_uint_eq(tc->counts[la_tcache_index(scs)], 0);
    ck_assert_ptr_eq(liballoc_malloc(sreq), s);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: large bins are sorted by decreasing size with a nextsize skip list over the
 * distinct sizes; a large request takes the smallest chunk that fits (best fit). */
START_TEST(largebin_best_fit)
{
    /* Four chunks of one 512-byte-spaced large bin, sizes given as chunk sizes. */
    const size_t sizes[4] = { 3136, 3520, 3328, 3328 };
    const unsigned bin = la_bin_index(3136);
    void *p[4], *g[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(la_bin_index(sizes[i]), bin);
        p[i] = liballoc_malloc(sizes[i] - LA_SIZE_SZ);
        g[i] = liballoc_malloc(16);
        ck_assert_ptr_nonnull(g[i]);
        ck_assert_uint_eq(t_csize(p[i]), sizes[i]);
    }
    for (int i = 0; i < 4; i++)
        liballoc_free(p[i]);
    struct la_arena *a = t_main_arena();
    void *sorter = liballoc_malloc(8000);       /* sorts the unsorted chunks into bin */
    ck_assert_ptr_nonnull(sorter);
    ck_assert_int_eq(t_bin_count(a, bin), 4);
    ck_assert(t_binmap_bit(a, bin));

    /* fd order: non-increasing sizes. */
    struct la_chunk *b = t_bin(a, bin);
    size_t prev = SIZE_MAX;
    size_t expect_order[4] = { 3520, 3328, 3328, 3136 };
    int k = 0;
    for (struct la_chunk *c = b->fd; c != b; c = c->fd, k++) {
        ck_assert_uint_le(la_chunksize(c->size), prev);
        ck_assert_uint_eq(la_chunksize(c->size), expect_order[k]);
        prev = la_chunksize(c->size);
        ck_assert_ptr_eq(c->fd->bk, c);
    }
    /* nextsize ring: the first chunk of each distinct size, strictly decreasing,
     * closing back on the largest; bk_nextsize mirrors it. */
    struct la_chunk *first = b->fd, *n = first;
    size_t ring[8];
    int distinct = 0;
    do {
        ck_assert_int_lt(distinct, 8);
        ring[distinct++] = la_chunksize(n->size);
        ck_assert_ptr_nonnull(n->fd_nextsize);
        ck_assert_ptr_eq(n->fd_nextsize->bk_nextsize, n);
        n = n->fd_nextsize;
    } while (n != first);
    ck_assert_int_eq(distinct, 3);
    ck_assert_uint_eq(ring[0], 3520);
    ck_assert_uint_eq(ring[1], 3328);
    ck_assert_uint_eq(ring[2], 3136);

    /* Best fit: 3312 -> one of the 3328s (remainder 16 < MINSIZE: not split). */
    void *q1 = liballoc_malloc(3300);
    ck_assert_msg(q1 == p[2] || q1 == p[3], "3300 took %p, not a 3328 chunk", q1);
    ck_assert_uint_eq(t_csize(q1), 3328);
    /* 3216 -> the other 3328 (3136 is too small, 3520 is not the best), split. */
    void *q2 = liballoc_malloc(3200);
    ck_assert_ptr_eq(q2, q1 == p[2] ? p[3] : p[2]);
    ck_assert_uint_eq(t_csize(q2), la_request2size(3200));
    /* 3120 -> the 3136 chunk, although the 3520 one comes first in the bin. */
    void *q3 = liballoc_malloc(3100);
    ck_assert_ptr_eq(q3, p[0]);
    void *q4 = liballoc_malloc(3500);
    ck_assert_ptr_eq(q4, p[1]);
    ck_assert_int_eq(t_bin_count(a, bin), 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: a request whose own bin is empty finds the next non-empty larger bin through
 * the binmap and splits its chunk (before touching top); the remainder goes to the
 * unsorted bin.  Invariant: every non-empty bin has its binmap bit set. */
START_TEST(binmap_search)
{
    const size_t big = 5000, bcs = la_request2size(big);
    void *p = liballoc_malloc(big);
    void *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    liballoc_free(p);
    struct la_arena *a = t_main_arena();
    void *sorter = liballoc_malloc(9000);
    ck_assert_ptr_nonnull(sorter);
    const unsigned bbin = la_bin_index(bcs);
    ck_assert_int_eq(t_bin_find(a, t_chunk(p)), (int)bbin);
    ck_assert(t_binmap_bit(a, bbin));
    for (unsigned i = 2; i < LA_NBINS - 1; i++) {
        int n = t_bin_count(a, i);
        ck_assert_int_ge(n, 0);
        if (n > 0)
            ck_assert_msg(t_binmap_bit(a, i), "bin %u holds %d chunks but its binmap bit is clear", i, n);
    }

    const size_t req = 1100, rcs = la_request2size(req);
    ck_assert_uint_lt(la_bin_index(rcs), bbin);
    ck_assert_int_eq(t_bin_count(a, la_bin_index(rcs)), 0);
    void *q = liballoc_malloc(req);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(t_csize(q), rcs);
    struct la_chunk *rem = t_next_chunk(t_chunk(q));
    ck_assert_uint_eq(la_chunksize(rem->size), bcs - rcs);
    int rb = t_bin_find(a, rem);
    ck_assert_msg(rb == LA_BIN_UNSORTED || rb == (int)la_bin_index(bcs - rcs),
                  "remainder in bin %d", rb);
    ck_assert_int_eq(t_bin_count(a, bbin), 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- top: growth and trimming ------------------------------------------------------ */

/* glibc: top grows (system_mem grows) to serve requests below the mmap threshold;
 * freeing the chunks next to top merges them into it and, once top exceeds the trim
 * threshold, shrinks the heap.  With the trim threshold raised, malloc_trim(0)
 * releases the memory and returns 1. */
START_TEST(top_grow_and_trim)
{
    enum { N = 64 };
    const size_t req = 64 * KiB;
    void *p[N];
    void *first = liballoc_malloc(16);
    ck_assert_ptr_nonnull(first);
    struct la_arena *a = t_main_arena();
    uint64_t s0 = a->system_mem;
    size_t top0 = la_chunksize(a->top->size);
    ck_assert_uint_gt(s0, 0);
    for (int i = 0; i < N; i++) {
        p[i] = liballoc_malloc(req);
        ck_assert_ptr_nonnull(p[i]);
    }
    for (int i = 0; i < N; i++)
        ck_assert(!la_is_mmapped(t_chunk(p[i])->size));
    uint64_t s1 = a->system_mem;
    ck_assert_uint_ge(s1 + top0, s0 + N * la_request2size(req));  /* top served part of it */
    ck_assert_uint_ge(a->max_system_mem, s1);
    for (int i = N - 1; i >= 0; i--)
        liballoc_free(p[i]);
    uint64_t s2 = a->system_mem;
    ck_assert_msg(s2 + N * req / 2 < s1, "system_mem %llu -> %llu after freeing %d KiB next to top",
                  (unsigned long long)s1, (unsigned long long)s2, (int)(N * req / KiB));
    ck_assert_uint_le(la_chunksize(a->top->size), 2 * LA_TRIM_THRESHOLD_DEFAULT + 64 * KiB);

    /* No automatic trim with a huge threshold; malloc_trim does it. */
    ck_assert_int_eq(liballoc_mallopt(M_TRIM_THRESHOLD, 256 << 20), 1);
    for (int i = 0; i < N; i++)
        p[i] = liballoc_malloc(req);
    uint64_t s3 = a->system_mem;
    ck_assert_uint_ge(s3, s2 + N * req / 2);
    for (int i = N - 1; i >= 0; i--)
        liballoc_free(p[i]);
    ck_assert_uint_eq(a->system_mem, s3);
    ck_assert_int_eq(liballoc_malloc_trim(0), 1);
    uint64_t s4 = a->system_mem;
    ck_assert_msg(s4 + N * req / 2 < s3, "malloc_trim: system_mem %llu -> %llu",
                  (unsigned long long)s3, (unsigned long long)s4);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: M_TOP_PAD is added to every heap extension, and malloc_trim(pad) leaves at
 * least pad bytes in top. */
START_TEST(top_pad_and_trim_pad)
{
    ck_assert_int_eq(liballoc_mallopt(M_TOP_PAD, 1 * MiB), 1);
    void *first = liballoc_malloc(16);
    ck_assert_ptr_nonnull(first);
    struct la_arena *a = t_main_arena();
    ck_assert_uint_ge(la_chunksize(a->top->size), 1 * MiB);
    ck_assert_int_eq(liballoc_mallopt(M_TRIM_THRESHOLD, 256 << 20), 1);
    void *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = liballoc_malloc(64 * KiB);
    for (int i = 63; i >= 0; i--)
        liballoc_free(p[i]);
    uint64_t s0 = a->system_mem;
    ck_assert_uint_ge(la_chunksize(a->top->size), 4 * MiB);
    ck_assert_int_eq(liballoc_malloc_trim(2 * MiB), 1);
    ck_assert_uint_lt(a->system_mem, s0);
    ck_assert_uint_ge(la_chunksize(a->top->size), 2 * MiB);
    ck_assert_uint_le(la_chunksize(a->top->size), 2 * MiB + 2 * (size_t)sysconf(_SC_PAGESIZE));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- mmap ------------------------------------------------------------------------ */

/* glibc: a request of at least the mmap threshold (128 KiB) that top cannot serve is
 * mmapped: IS_MMAPPED set, chunk size page-rounded, usable size chunk - 16; liballoc
 * also registers it in liballoc_debug.mmaps.  A smaller request grows top instead. */
START_TEST(mmap_threshold)
{
    void *first = liballoc_malloc(16);
    ck_assert_ptr_nonnull(first);
    struct la_arena *a = t_main_arena();
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_threshold, LA_MMAP_THRESHOLD_DEFAULT);
    size_t top = la_chunksize(a->top->size);
    size_t n = (top > LA_MMAP_THRESHOLD_DEFAULT ? top : LA_MMAP_THRESHOLD_DEFAULT) + 16 * KiB;
    uint64_t sys0 = a->system_mem;
    void *p = liballoc_malloc(n);
    ck_assert_ptr_nonnull(p);
    struct la_chunk *c = t_chunk(p);
    ck_assert(la_is_mmapped(c->size));
    ck_assert_uint_eq(la_chunksize(c->size) % (size_t)sysconf(_SC_PAGESIZE), 0);
    ck_assert_uint_ge(la_chunksize(c->size), n + LA_SIZE_SZ);
    ck_assert_uint_eq(liballoc_malloc_usable_size(p), la_chunksize(c->size) - 2 * LA_SIZE_SZ);
    ck_assert(t_mmap_registered(c));
    ck_assert_uint_ge(liballoc_debug.mmaps.count, 1);
    ck_assert_uint_ge(liballoc_debug.mstats.n_mmaps, 1);
    ck_assert_uint_ge(liballoc_debug.mstats.mmapped_mem, la_chunksize(c->size));
    ck_assert_uint_eq(a->system_mem, sys0);            /* not from the heap */
    memset(p, 0x5a, n);

    /* Below the threshold: never mmapped. */
    void *q = liballoc_malloc(LA_MMAP_THRESHOLD_DEFAULT - 8 * KiB);
    ck_assert_ptr_nonnull(q);
    ck_assert(!la_is_mmapped(t_chunk(q)->size));

    uint64_t nm = liballoc_debug.mstats.n_mmaps;
    liballoc_free(p);
    ck_assert(!t_mmap_registered(c));
    ck_assert_uint_eq(liballoc_debug.mstats.n_mmaps, nm - 1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: freeing an mmapped chunk larger than the threshold (and <= 32 MiB) raises the
 * threshold to its size and the trim threshold to twice that; mallopt(M_MMAP_THRESHOLD)
 * sets it and turns the dynamic update off. */
START_TEST(mmap_dynamic_threshold)
{
    void *p = liballoc_malloc(1 * MiB);
    ck_assert_ptr_nonnull(p);
    ck_assert(la_is_mmapped(t_chunk(p)->size));
    size_t cs = t_csize(p);
    ck_assert_uint_eq(liballoc_debug.tunables.no_dyn_threshold, 0);
    liballoc_free(p);
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_threshold, cs);
    ck_assert_uint_eq(liballoc_debug.tunables.trim_threshold, 2 * cs);
    void *q = liballoc_malloc(512 * KiB);               /* now below the threshold */
    ck_assert_ptr_nonnull(q);
    ck_assert(!la_is_mmapped(t_chunk(q)->size));

    ck_assert_int_eq(liballoc_mallopt(M_MMAP_THRESHOLD, 128 * KiB), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_threshold, 128 * KiB);
    ck_assert(liballoc_debug.tunables.no_dyn_threshold != 0);
    void *r = liballoc_malloc(1 * MiB);
    ck_assert(la_is_mmapped(t_chunk(r)->size));
    liballoc_free(r);
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_threshold, 128 * KiB);
    void *s = liballoc_malloc(2 * MiB);
    ck_assert(la_is_mmapped(t_chunk(s)->size));
    liballoc_free(s);
    liballoc_free(q);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: M_MMAP_MAX 0 disables mmap for chunks; big requests then grow the heap. */
START_TEST(mmap_max_zero)
{
    ck_assert_int_eq(liballoc_mallopt(M_MMAP_MAX, 0), 1);
    void *p = liballoc_malloc(2 * MiB);
    ck_assert_ptr_nonnull(p);
    ck_assert(!la_is_mmapped(t_chunk(p)->size));
    ck_assert_uint_ge(t_main_arena()->system_mem, 2 * MiB);
    memset(p, 1, 2 * MiB);
    liballoc_free(p);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- M_MXFAST ------------------------------------------------------------------- */

/* glibc: mallopt(M_MXFAST, 0) disables fastbins: with the tcache full, a small free
 * goes to the unsorted bin instead. */
START_TEST(mxfast_zero_disables_fastbins)
{
    ck_assert_int_eq(liballoc_mallopt(M_MXFAST, 0), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.mxfast, 0);
    const size_t req = 24;
    void *fill[LA_TCACHE_FILL];
    fill_tcache(req, fill);
    void *x = liballoc_malloc(req);
    void *g = liballoc_malloc(req);
    ck_assert_ptr_nonnull(g);
    free_all(fill, LA_TCACHE_FILL);
    liballoc_free(x);
    struct la_arena *a = t_main_arena();
    for (unsigned i = 0; i < LA_NFASTBINS; i++)
        ck_assert_ptr_null(a->fastbins[i]);
    ck_assert_int_eq(t_bin_find(a, t_chunk(x)), LA_BIN_UNSORTED);
    ck_assert(!la_prev_inuse(t_chunk(g)->size));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- realloc ---------------------------------------------------------------------- */

/* glibc: shrinking in place keeps the pointer and splits off the tail when it is at
 * least MINSIZE. */
START_TEST(realloc_shrink_in_place)
{
    void *p = liballoc_malloc(2000);
    void *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    t_fill(p, 2000, 3);
    void *q = liballoc_realloc(p, 1000);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(t_csize(q), la_request2size(1000));
    ck_assert(t_check(q, 1000, 3));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: growing into a free next chunk keeps the pointer. */
START_TEST(realloc_grow_into_free_next)
{
    void *p = liballoc_malloc(1100), *n = liballoc_malloc(1100), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    t_fill(p, 1100, 9);
    liballoc_free(n);
    void *q = liballoc_realloc(p, 2000);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_ge(liballoc_malloc_usable_size(q), 2000);
    ck_assert(t_check(q, 1100, 9));
    ck_assert_int_eq(t_bin_find(t_main_arena(), t_chunk(n)), -1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: a chunk just below top grows into top in place. */
START_TEST(realloc_grow_into_top)
{
    void *p = liballoc_malloc(1100);
    struct la_arena *a = t_main_arena();
    ck_assert_ptr_eq(t_next_chunk(t_chunk(p)), a->top);
    t_fill(p, 1100, 11);
    void *q = liballoc_realloc(p, 60000);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_ge(liballoc_malloc_usable_size(q), 60000);
    ck_assert_ptr_eq(t_next_chunk(t_chunk(q)), a->top);
    ck_assert(t_check(q, 1100, 11));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36 _int_realloc: a block that must move gets its new chunk from the arena
 * (_int_malloc), not from the tcache, and the old chunk is freed as _int_free frees
 * it: into the tcache when its bin has room.  Where blocks land decides how often a
 * growing block must move again (realloc_grow copied 2.8 x glibc's bytes when the
 * new chunk came from the tcache). */
START_TEST(realloc_move_like_glibc)
{
    void *p = liballoc_malloc(100), *n = liballoc_malloc(100), *x = liballoc_malloc(200);
    void *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(t_csize(x), la_request2size(200));
    liballoc_free(x);                     /* cached: the exact size realloc wants */
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    ck_assert_ptr_eq(tc->entries[la_tcache_index(t_csize(x))], x);
    size_t psize = t_csize(p);
    t_fill(p, 100, 21);
    void *q = liballoc_realloc(p, 200);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_ne(q, p);
    ck_assert_ptr_ne(q, x);               /* not taken from the tcache */
    ck_assert_ptr_eq(tc->entries[la_tcache_index(t_csize(x))], x);
    ck_assert(t_check(q, 100, 21));
    ck_assert_ptr_eq(tc->entries[la_tcache_index(psize)], p);   /* old chunk cached */
    ck_assert_ptr_nonnull(n);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36 _int_realloc: growing into a free next chunk splits off what is left;
 * that tail is freed as _int_free frees it, so a tcache-sized tail is cached. */
START_TEST(realloc_tail_to_tcache)
{
    void *p = liballoc_malloc(1100), *n = liballoc_malloc(1100), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    size_t both = t_csize(p) + t_csize(n);
    liballoc_free(n);                     /* too big for the tcache: unsorted */
    ck_assert_int_eq(t_bin_find(t_main_arena(), t_chunk(n)), LA_BIN_UNSORTED);
    t_fill(p, 1100, 23);
    size_t nb = both - 48;                /* leaves a 48-byte tail */
    void *q = liballoc_realloc(p, nb - LA_SIZE_SZ);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(t_csize(q), nb);
    ck_assert(t_check(q, 1100, 23));
    void *tail = (char *)t_chunk(q) + nb + LA_CHUNK_HDR;
    ck_assert_uint_eq(t_csize(tail), 48);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    ck_assert_ptr_eq(tc->entries[la_tcache_index(48)], tail);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* liballoc (not glibc): a block that must move gets slack, as much as its old chunk
 * size (at most its new size again); growing within it, or shrinking to more than
 * half, keeps the block whole and in place; a shrink to half or less splits the tail
 * off as glibc does. */
START_TEST(realloc_move_slack)
{
    void *p = liballoc_malloc(2000), *n = liballoc_malloc(100), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(n);
    ck_assert_ptr_nonnull(g);
    t_fill(p, 2000, 31);
    size_t old = t_csize(p);
    void *q = liballoc_realloc(p, 3000);          /* n is in use: it moves */
    ck_assert_ptr_ne(q, p);
    size_t nb = la_request2size(3000), cs = t_csize(q);
    ck_assert_uint_eq(cs, nb + old);              /* old < nb */
    void *big = liballoc_realloc(n, 20000);       /* 112 -> 20016: slack 112 only */
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(t_csize(big), la_request2size(20000) + la_request2size(100));
    n = big;
    ck_assert(t_check(q, 2000, 31));
    void *r = liballoc_realloc(q, cs - LA_SIZE_SZ);   /* all of the slack: in place */
    ck_assert_ptr_eq(r, q);
    ck_assert_uint_eq(t_csize(r), cs);
    r = liballoc_realloc(r, 3100);                /* down to more than half: kept */
    ck_assert_ptr_eq(r, q);
    ck_assert_uint_eq(t_csize(r), cs);
    r = liballoc_realloc(r, cs / 2 - LA_SIZE_SZ); /* to half: split */
    ck_assert_ptr_eq(r, q);
    ck_assert_uint_eq(t_csize(r), cs / 2);
    r = liballoc_realloc(r, 1000);                /* and again: split */
    ck_assert_ptr_eq(r, q);
    ck_assert_uint_eq(t_csize(r), la_request2size(1000));
    ck_assert(t_check(r, 1000, 31));
    ck_assert_int_eq(liballoc_check_heap(), 0);
    liballoc_free(r);
    liballoc_free(n);
    liballoc_free(g);
}
END_TEST

/* liballoc (not glibc): a block growing into top takes the same slack when top has
 * it, and a realloc that fits then changes nothing. */
START_TEST(realloc_top_slack)
{
    void *p = liballoc_malloc(1100);
    struct la_arena *a = t_main_arena();
    ck_assert_ptr_eq(t_next_chunk(t_chunk(p)), a->top);
    t_fill(p, 1100, 33);
    void *q = liballoc_realloc(p, 3000);
    ck_assert_ptr_eq(q, p);
    size_t cs = t_csize(q);
    ck_assert_uint_eq(cs, la_request2size(3000) + la_request2size(1100));
    ck_assert_ptr_eq(t_next_chunk(t_chunk(q)), a->top);
    void *top = a->top;
    ck_assert_ptr_eq(liballoc_realloc(q, cs - LA_SIZE_SZ), q);
    ck_assert_uint_eq(t_csize(q), cs);
    ck_assert_ptr_eq(a->top, top);                /* top untouched */
    ck_assert(t_check(q, 1100, 33));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: when the neighbour is in use the block moves; the content is copied and the
 * old chunk freed. Mmapped blocks keep their content when they grow (mremap). */
START_TEST(realloc_by_copy)
{
    void *p = liballoc_malloc(1100), *n = liballoc_malloc(1100), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    t_fill(p, 1100, 13);
    t_fill(n, 1100, 14);
    void *q = liballoc_realloc(p, 5000);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_ne(q, p);
    ck_assert(t_check(q, 1100, 13));
    ck_assert(t_check(n, 1100, 14));
    ck_assert_int_eq(t_bin_find(t_main_arena(), t_chunk(p)), LA_BIN_UNSORTED);

    void *m = liballoc_malloc(1 * MiB);
    ck_assert(la_is_mmapped(t_chunk(m)->size));
    t_fill(m, 1 * MiB, 15);
    void *m2 = liballoc_realloc(m, 3 * MiB);
    ck_assert_ptr_nonnull(m2);
    ck_assert(t_check(m2, 1 * MiB, 15));
    ck_assert(la_is_mmapped(t_chunk(m2)->size));
    ck_assert(t_mmap_registered(t_chunk(m2)));
    void *m3 = liballoc_realloc(m2, 200 * KiB);
    ck_assert_ptr_nonnull(m3);
    ck_assert(t_check(m3, 200 * KiB, 15));
    /* From the heap to an mmapped chunk and back. */
    void *h = liballoc_realloc(q, 2 * MiB);
    ck_assert(t_check(h, 1100, 13));
    void *h2 = liballoc_realloc(h, 100);
    ck_assert(t_check(h2, 100, 13));
    liballoc_free(m3);
    liballoc_free(h2);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- aligned allocation ----------------------------------------------------------- */

START_TEST(aligned_family)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t al = 16; al <= 64 * KiB; al <<= 1) {
        const size_t sizes[3] = { 1, 100, 5000 };
        for (int k = 0; k < 3; k++) {
            size_t n = sizes[k];
            void *p = liballoc_memalign(al, n);
            ck_assert_msg(p && (uintptr_t)p % al == 0, "memalign(%zu, %zu) = %p", al, n, p);
            ck_assert_uint_ge(liballoc_malloc_usable_size(p), n);
            memset(p, 0xa5, n);
            void *q = NULL;
            ck_assert_int_eq(liballoc_posix_memalign(&q, al, n), 0);
            ck_assert_msg(q && (uintptr_t)q % al == 0, "posix_memalign(%zu, %zu) = %p", al, n, q);
            memset(q, 0x5a, n);
            void *r = liballoc_aligned_alloc(al, n);
            ck_assert_msg(r && (uintptr_t)r % al == 0, "aligned_alloc(%zu, %zu) = %p", al, n, r);
            memset(r, 0x3c, n);
            ck_assert_uint_ge(liballoc_malloc_usable_size(r), n);
            liballoc_free(q);
            liballoc_free(p);
            liballoc_free(r);
        }
    }
    /* A big aligned block (mmapped). */
    void *big = liballoc_memalign(64 * KiB, 1 * MiB);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq((uintptr_t)big % (64 * KiB), 0);
    memset(big, 1, 1 * MiB);
    ck_assert_uint_ge(liballoc_malloc_usable_size(big), 1 * MiB);

    void *v = liballoc_valloc(100);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq((uintptr_t)v % page, 0);
    void *pv = liballoc_pvalloc(100);
    ck_assert_ptr_nonnull(pv);
    ck_assert_uint_eq((uintptr_t)pv % page, 0);
    ck_assert_uint_ge(liballoc_malloc_usable_size(pv), page);
    memset(pv, 2, page);
    liballoc_free(v);
    liballoc_free(pv);
    liballoc_free(big);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: an aligned mmapped chunk keeps its front offset in prev_size; realloc (mremap)
 * and free must honour it.  Aligned heap chunks realloc like any other. */
START_TEST(aligned_then_realloc)
{
    void *p = liballoc_memalign(64 * KiB, 1 * MiB);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % (64 * KiB), 0);
    ck_assert(la_is_mmapped(t_chunk(p)->size));
    ck_assert(t_mmap_registered(t_chunk(p)));
    t_fill(p, 1 * MiB, 41);
    void *q = liballoc_realloc(p, 4 * MiB);
    ck_assert_ptr_nonnull(q);
    ck_assert(t_check(q, 1 * MiB, 41));
    ck_assert_uint_ge(liballoc_malloc_usable_size(q), 4 * MiB);
    memset((char *)q + 1 * MiB, 0, 3 * MiB);
    void *r = liballoc_realloc(q, 100);
    ck_assert_ptr_nonnull(r);
    ck_assert(t_check(r, 100, 41));
    liballoc_free(r);

    void *h[32];
    for (int i = 0; i < 32; i++) {
        size_t al = (size_t)32 << (i % 8);
        h[i] = liballoc_memalign(al, 100 + (size_t)i * 37);
        ck_assert_uint_eq((uintptr_t)h[i] % al, 0);
        t_fill(h[i], 100 + (size_t)i * 37, (unsigned)i);
    }
    for (int i = 0; i < 32; i += 2) {
        void *n = liballoc_realloc(h[i], 3000 + (size_t)i);
        ck_assert_ptr_nonnull(n);
        ck_assert(t_check(n, 100 + (size_t)i * 37, (unsigned)i));
        h[i] = n;
    }
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < 32; i++)
        liballoc_free(h[i]);
    ck_assert(liballoc_realloc(liballoc_malloc(5000), 5000) != NULL);

    /* Big alignments served from the heap (threshold raised): the leading part of
     * the over-sized chunk is split off and freed. */
    ck_assert_int_eq(liballoc_mallopt(M_MMAP_THRESHOLD, 32 << 20), 1);
    void *big[6];
    for (int i = 0; i < 6; i++) {
        size_t al = (size_t)256 * KiB << (i % 3);
        big[i] = liballoc_memalign(al, 1000 + (size_t)i);
        ck_assert_ptr_nonnull(big[i]);
        ck_assert_uint_eq((uintptr_t)big[i] % al, 0);
        ck_assert(!la_is_mmapped(t_chunk(big[i])->size));
        t_fill(big[i], 1000 + (size_t)i, 50u + (unsigned)i);
        ck_assert_int_eq(liballoc_check_heap(), 0);
    }
    for (int i = 0; i < 6; i++) {
        ck_assert(t_check(big[i], 1000 + (size_t)i, 50u + (unsigned)i));
        liballoc_free(big[i]);
    }
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* Many mmapped chunks: every one registered (the open-addressed table grows and
 * reuses deleted slots), counts match, and M_MMAP_MAX caps their number. */
START_TEST(mmap_registry_many)
{
    enum { N = 300 };
    static void *p[N];
    ck_assert_int_eq(liballoc_mallopt(M_MMAP_THRESHOLD, 128 * KiB), 1);   /* no dynamic raise */
    for (int i = 0; i < N; i++) {
        p[i] = liballoc_malloc(200 * KiB + (size_t)i * 100);
        ck_assert_ptr_nonnull(p[i]);
        ck_assert(la_is_mmapped(t_chunk(p[i])->size));
    }
    ck_assert_uint_eq(liballoc_debug.mmaps.count, N);
    ck_assert_uint_eq(liballoc_debug.mstats.n_mmaps, N);
    for (int i = 0; i < N; i += 2)
        liballoc_free(p[i]);
    ck_assert_uint_eq(liballoc_debug.mmaps.count, N / 2);
    for (int i = 0; i < N; i += 2)
        p[i] = liballoc_malloc(150 * KiB);
    for (int i = 0; i < N; i++)
        ck_assert_msg(t_mmap_registered(t_chunk(p[i])), "mmapped chunk #%d not registered", i);
    ck_assert_uint_eq(liballoc_debug.mmaps.count, N);
    struct mallinfo2 mi = liballoc_mallinfo2();
    ck_assert_uint_eq(mi.hblks, N);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < N; i++)
        liballoc_free(p[i]);
    ck_assert_uint_eq(liballoc_debug.mmaps.count, 0);
    ck_assert_uint_eq(liballoc_debug.mstats.n_mmaps, 0);
    ck_assert_uint_ge(liballoc_debug.mstats.max_n_mmaps, N);

    ck_assert_int_eq(liballoc_mallopt(M_MMAP_MAX, 2), 1);
    void *a = liballoc_malloc(1 * MiB), *b = liballoc_malloc(1 * MiB), *c = liballoc_malloc(1 * MiB);
    ck_assert(la_is_mmapped(t_chunk(a)->size));
    ck_assert(la_is_mmapped(t_chunk(b)->size));
    ck_assert(!la_is_mmapped(t_chunk(c)->size));
    liballoc_free(a);
    liballoc_free(b);
    liballoc_free(c);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- arenas ------------------------------------------------------------------------ */

struct thr_out {
    void *p;                    /* a block left for the main thread to free */
    struct la_arena *arena;     /* the arena of the thread's tcache */
    uint64_t tid;
};

static void *thr_alloc(void *arg)
{
    struct thr_out *o = arg;
    o->p = liballoc_malloc(1000);
    void *q = liballoc_malloc(3000);
    liballoc_free(q);
    struct la_tcache *tc = t_my_tcache();
    o->arena = tc ? tc->arena : NULL;
    o->tid = (uint64_t)gettid();
    return NULL;
}

/* The remote-free list (liballoc/remote.c).  A thread T allocates 8 chunks of
 * 0x30 from its own arena and waits; this thread (main arena) frees them: 7
 * fill its tcache bin, the 8th finds the bin full and pushes all 8 as one
 * chain onto T's arena's list with one CAS.  The published metadata shows
 * the list (8 chunks, safe-linked, in use by their boundary tags, carrying
 * the tcache key, one batch) while T's arena lock stays free.  T's next
 * malloc of that size drains it into T's tcache bin, which it then serves
 * the malloc from (no arena allocation): with glibc's tcache (tcache_count=7)
 * 7 chunks go to the bin and the 8th into the arena, the malloc takes one,
 * 6 stay; with liballoc's default the drain lets the bin T missed grow past
 * 7, so all 8 go to the bin (none is coalesced into the bins) and the 7 left
 * plus the chunk returned are the 8 freed ones.  Either way the list is
 * empty, the counters say 8 pushed and 8 drained, and the heap checks clean. */
struct rl_owner {
    int go[2], done[2];
    void *p[8];
    void *again;
    void *cached[LA_TCACHE_FILL];
    unsigned tc_count_after, tc_limit_after;
};
static void rl_wait(int fd) { char c; while (read(fd, &c, 1) < 0 && errno == EINTR) { } }
static void rl_post(int fd) { char c = 0; ck_assert_int_eq(write(fd, &c, 1), 1); }
static void *rl_owner_fn(void *arg)
{
    struct rl_owner *o = arg;
    for (int i = 0; i < 8; i++) o->p[i] = liballoc_malloc(0x28);
    rl_post(o->done[1]);
    rl_wait(o->go[0]);
    o->again = liballoc_malloc(0x28);
    struct la_tcache *tc = t_my_tcache();
    size_t idx = la_tcache_index(0x30);
    o->tc_count_after = tc ? tc->counts[idx] : 999;
    o->tc_limit_after = tc ? tc->limit[idx] : 0;
    int k = 0;
    for (struct la_tcache_entry *e = tc ? tc->entries[idx] : NULL; e && k < (int)LA_TCACHE_FILL;
         e = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next))
        o->cached[k++] = e;
    rl_post(o->done[1]);
    rl_wait(o->go[0]);
    return NULL;
}

/* This thread uses the main arena; T (rl_owner_fn) allocates its 8 chunks in
 * a non-main arena and waits.  Returns T's arena. */
static struct la_arena *rl_start(struct rl_owner *o, pthread_t *t)
{
    liballoc_free(liballoc_malloc(1));          /* this thread: the main arena */
    memset(o, 0, sizeof *o);
    ck_assert_int_eq(pipe(o->go), 0);
    ck_assert_int_eq(pipe(o->done), 0);
    ck_assert_int_eq(pthread_create(t, NULL, rl_owner_fn, o), 0);
    rl_wait(o->done[0]);
    ck_assert_uint_ne(t_chunk(o->p[0])->size & LA_NON_MAIN_ARENA, 0);
    return ((struct la_segment *)la_heap_of((uintptr_t)o->p[0]))->arena;
}

static void remote_free_list_case(int glibc_tcache)
{
    if (!glibc_tcache) unsetenv("LIBALLOC_OPTIONS");
    struct rl_owner o;
    pthread_t t;
    struct la_arena *av = rl_start(&o, &t);
    ck_assert_ptr_ne(av, t_main_arena());
    ck_assert_uint_eq(liballoc_debug.layout.off_arena_remote, offsetof(struct la_arena, remote));
    ck_assert_ptr_null(av->remote);
    uint64_t pushed0 = av->remote_chunks, drained0 = av->remote_drained, batches0 = av->remote_batches;

    for (int i = 0; i < 8; i++) liballoc_free(o.p[i]);
    ck_assert_uint_eq(av->lock, 0);             /* pushed without the owner's lock */
    ck_assert_uint_eq(av->remote_chunks - pushed0, 8);
    ck_assert_uint_eq(av->remote_batches - batches0, 1);
    ck_assert_uint_eq(av->remote_drained - drained0, 0);
    int n = 0, seen[8] = { 0 };
    for (struct la_chunk *c = av->remote; c && n < LA_WALK_MAX;
         c = (struct la_chunk *)la_reveal_ptr((uintptr_t)&c->fd, (uintptr_t)c->fd), n++) {
        int k = -1;
        for (int i = 0; i < 8; i++)
            if (t_mem(c) == o.p[i]) k = i;
        ck_assert_msg(k >= 0, "chunk %p in the list was not freed here", (void *)c);
        seen[k]++;
        ck_assert_uint_eq(la_chunksize(c->size), 0x30);
        ck_assert_uint_ne(t_next_chunk(c)->size & LA_PREV_INUSE, 0);   /* in use by the tags */
        ck_assert_uint_ne((uintptr_t)c->bk, 0);                         /* the mark (tcache key) */
    }
    ck_assert_int_eq(n, 8);
    for (int i = 0; i < 8; i++) ck_assert_int_eq(seen[i], 1);
    /* this thread's tcache bin gave its 7 up with the 8th */
    ck_assert_uint_eq(t_my_tcache()->counts[la_tcache_index(0x30)], 0);

    rl_post(o.go[1]);                           /* T allocates: drains */
    rl_wait(o.done[0]);
    ck_assert_ptr_null(av->remote);
    ck_assert_uint_eq(av->remote_drained - drained0, 8);
    /* served from the refilled bin: o.again and the chunks left cached are
     * all chunks of the list, each once */
    int from_list[8] = { 0 }, total = 0;
    for (int i = 0; i < 8; i++) {
        from_list[i] += o.again == o.p[i];
        for (int j = 0; j < (int)LA_TCACHE_FILL; j++) from_list[i] += o.cached[j] == o.p[i];
        ck_assert_int_le(from_list[i], 1);
        total += from_list[i];
    }
    ck_assert_int_eq(total, 1 + (int)o.tc_count_after);
    if (glibc_tcache) {
        ck_assert_uint_eq(o.tc_count_after, LA_TCACHE_FILL - 1);
        ck_assert_uint_eq(o.tc_limit_after, LA_TCACHE_FILL);
    } else {
        ck_assert_uint_eq(o.tc_count_after, LA_TCACHE_FILL);
        ck_assert_uint_gt(o.tc_limit_after, LA_TCACHE_FILL);    /* the drain grew the missed bin */
    }
    ck_assert_int_eq(liballoc_check_heap(), 0);
    rl_post(o.go[1]);
    pthread_join(t, NULL);
}

START_TEST(remote_free_list_used_and_drained)
{
    remote_free_list_case(1);
}
END_TEST

START_TEST(remote_free_list_drain_grows_bin)
{
    remote_free_list_case(0);
}
END_TEST

/* liballoc_check_heap validates a pending list before freeing anything from
 * it: a member whose mark was overwritten (a write after free) is reported,
 * with its address, and the list is not followed further */
START_TEST(remote_free_list_check_heap_reports)
{
    struct rl_owner o;
    pthread_t t;
    struct la_arena *av = rl_start(&o, &t);
    for (int i = 0; i < 8; i++) liballoc_free(o.p[i]);
    ck_assert_ptr_nonnull(av->remote);
    ((uint64_t *)o.p[3])[1] = 0;                /* the mark (bk word) */
    char msg[512], want[200];
    ck_assert_int_eq(t_check_heap_quiet(msg, sizeof msg), -1);
    snprintf(want, sizeof want, "liballoc: check_heap: remote-free chunk without its mark at %#lx (arena %u)\n",
             (unsigned long)t_chunk(o.p[3]), av->index);
    ck_assert_str_eq(msg, want);
    ck_assert_ptr_null(av->remote);             /* taken: the bad list is not drained later */
    rl_post(o.go[1]);
    rl_wait(o.done[0]);
    rl_post(o.go[1]);
    pthread_join(t, NULL);
}
END_TEST

/* fork while a list is pending: the child inherits the same consistent list
 * (8 chunks) and its liballoc_check_heap validates and drains it */
START_TEST(remote_free_list_fork)
{
    struct rl_owner o;
    pthread_t t;
    struct la_arena *av = rl_start(&o, &t);
    for (int i = 0; i < 8; i++) liballoc_free(o.p[i]);
    ck_assert_ptr_nonnull(av->remote);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int n = 0;
        for (struct la_chunk *c = av->remote; c && n < LA_WALK_MAX;
             c = (struct la_chunk *)la_reveal_ptr((uintptr_t)&c->fd, (uintptr_t)c->fd))
            n++;
        int ok = n == 8 && liballoc_check_heap() == 0 && av->remote == NULL;
        void *m = liballoc_malloc(0x28);        /* the child allocates normally */
        liballoc_free(m);
        _exit(ok && m ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    ck_assert_ptr_nonnull(av->remote);          /* the parent's list is untouched */
    rl_post(o.go[1]);
    rl_wait(o.done[0]);
    ck_assert_ptr_null(av->remote);
    rl_post(o.go[1]);
    pthread_join(t, NULL);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* liballoc_check_heap takes a pending list, validates it and frees it into the bins */
START_TEST(remote_free_list_check_heap_drains)
{
    struct rl_owner o;
    pthread_t t;
    struct la_arena *av = rl_start(&o, &t);
    uint64_t drained0 = av->remote_drained;
    for (int i = 0; i < 8; i++) liballoc_free(o.p[i]);
    ck_assert_ptr_nonnull(av->remote);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    ck_assert_ptr_null(av->remote);
    ck_assert_uint_eq(av->remote_drained - drained0, 8);
    rl_post(o.go[1]);
    rl_wait(o.done[0]);
    rl_post(o.go[1]);
    pthread_join(t, NULL);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc: a second thread gets its own arena (a 64 MiB-aligned heap whose chunks carry
 * NON_MAIN_ARENA); its chunks can be freed by another thread; when the thread exits
 * its tcache goes away and its arena is free, and the next new thread reuses it. */
START_TEST(arena_per_thread)
{
    void *m = liballoc_malloc(100);
    ck_assert(!la_non_main_arena(t_chunk(m)->size));
    struct thr_out o1 = { 0 }, o2 = { 0 };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, thr_alloc, &o1), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(o1.p);
    ck_assert_ptr_nonnull(o1.arena);
    ck_assert_ptr_ne(o1.arena, t_main_arena());
    ck_assert_uint_ge(liballoc_debug.narenas, 2);
    struct la_chunk *c = t_chunk(o1.p);
    ck_assert(la_non_main_arena(c->size));
    struct la_segment *seg = (struct la_segment *)la_heap_of((uintptr_t)c);
    ck_assert_ptr_eq(seg->arena, o1.arena);
    ck_assert_uint_eq(seg->kind, LA_SEG_HEAP);
    /* The exited thread's tcache left the registry. */
    for (struct la_tcache *t = liballoc_debug.tcaches; t; t = t->next)
        ck_assert_uint_ne(t->tid, o1.tid);
    ck_assert_uint_eq(o1.arena->nthreads, 0);
    liballoc_free(o1.p);                        /* freed by another thread */

    ck_assert_int_eq(pthread_create(&th, NULL, thr_alloc, &o2), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_eq(o2.arena, o1.arena);       /* the free arena is reused */
    liballoc_free(o2.p);
    liballoc_free(m);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

struct heap_out {
    struct la_arena *arena;
    unsigned nsegs_full, nsegs_after;
    uint64_t sys_full, sys_after, top_seg_size_full, top_seg_size_after;
    int bad_owner;
    int win_copy_full, win_copy_after;  /* the tcache's window copy equals the arena's */
};

/* liballoc keeps a copy of the thread's arena ownership window in its tcache
 * (spare[0..1], the inline paths' first test): it must follow the arena's
 * window (spare[0..1]) as heaps are added and removed. */
/* (liballoc's heap zone, internal.h struct la_zone_win: hidden, but linked
 * into this program from liballoc_core.a) */
extern struct { uint64_t lo16, span; uintptr_t lo, hi; } la_zone;
static int win_copy_ok(const struct la_tcache *tc, const struct la_arena *a)
{
    /* an arena whose newest heap is in the heap zone: the copy is the zone's
     * window, which covers that heap */
    int zone = la_zone.lo && (uintptr_t)a->segments - la_zone.lo < la_zone.hi - la_zone.lo;
    uint64_t lo = zone ? la_zone.lo16 : a->spare[0], span = zone ? la_zone.span : a->spare[1];
    return tc->spare[0] == lo && tc->spare[1] == span && a->spare[1] != 0;
}

static unsigned seg_count(struct la_arena *a)
{
    unsigned n = 0;
    for (struct la_segment *g = a->segments; g && n < 1000; g = g->prev)
        n++;
    return n;
}

/* A thread fills its arena past one 64 MiB heap (100 KiB chunks, below the mmap
 * threshold), checks every chunk's heap belongs to its arena, then frees all. */
static void *thr_heaps(void *arg)
{
    enum { N = 800 };
    struct heap_out *o = arg;
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = liballoc_malloc(100 * KiB);
        if (!p[i])
            return NULL;
    }
    struct la_tcache *tc = t_my_tcache();
    o->arena = tc ? tc->arena : NULL;
    if (!o->arena)
        return NULL;
    for (int i = 0; i < N; i++) {
        struct la_chunk *c = t_chunk(p[i]);
        struct la_segment *g = (struct la_segment *)la_heap_of((uintptr_t)c);
        if (la_is_mmapped(c->size) || !la_non_main_arena(c->size) || g->arena != o->arena)
            o->bad_owner++;
    }
    o->win_copy_full = win_copy_ok(tc, o->arena);
    o->nsegs_full = seg_count(o->arena);
    o->sys_full = o->arena->system_mem;
    o->top_seg_size_full = o->arena->segments->size;
    for (int i = N - 1; i >= 0; i--)
        liballoc_free(p[i]);
    o->win_copy_after = win_copy_ok(tc, o->arena);
    o->nsegs_after = seg_count(o->arena);
    o->sys_after = o->arena->system_mem;
    o->top_seg_size_after = o->arena->segments->size;
    return NULL;
}

/* glibc: a non-main arena grows by mprotect inside its 64 MiB heap, then chains a new
 * heap (prev link); freeing everything gives the memory back (empty heaps are unmapped
 * and the last one shrinks), so system_mem falls. */
START_TEST(arena_heaps_grow_and_shrink)
{
    struct heap_out o = { 0 };
    pthread_t th;
    void *m = liballoc_malloc(10);
    ck_assert_int_eq(pthread_create(&th, NULL, thr_heaps, &o), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(o.arena);
    ck_assert_ptr_ne(o.arena, t_main_arena());
    ck_assert_int_eq(o.bad_owner, 0);
    ck_assert_uint_ge(o.nsegs_full, 2);                 /* 80 MiB does not fit one heap */
    ck_assert_uint_ge(o.sys_full, 800 * 100 * KiB);
    ck_assert_msg(o.sys_after + 40 * MiB < o.sys_full, "arena system_mem %llu -> %llu after freeing all",
                  (unsigned long long)o.sys_full, (unsigned long long)o.sys_after);
    ck_assert_uint_lt(o.nsegs_after, o.nsegs_full);
    ck_assert_int_eq(o.win_copy_full, 1);
    ck_assert_int_eq(o.win_copy_after, 1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    liballoc_free(m);
}
END_TEST

static pthread_barrier_t arena_barrier;

static void *thr_hold(void *arg)
{
    struct la_arena **out = arg;
    void *p = liballoc_malloc(200);
    struct la_tcache *tc = t_my_tcache();
    *out = tc ? tc->arena : NULL;
    pthread_barrier_wait(&arena_barrier);      /* all threads alive at once */
    pthread_barrier_wait(&arena_barrier);      /* main has looked */
    liballoc_free(p);
    return NULL;
}

/* glibc: at most 8 x cores arenas by default (M_ARENA_MAX / arena_max lowers it);
 * threads beyond the limit share existing arenas. */
static void arena_limit_case(unsigned nthreads, uint64_t limit)
{
    pthread_t th[64];
    struct la_arena *ar[64];
    void *m = liballoc_malloc(10);
    ck_assert_int_eq(pthread_barrier_init(&arena_barrier, NULL, nthreads + 1), 0);
    for (unsigned i = 0; i < nthreads; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, thr_hold, &ar[i]), 0);
    pthread_barrier_wait(&arena_barrier);
    ck_assert_uint_le(liballoc_debug.narenas, limit);
    ck_assert_uint_ge(liballoc_debug.narenas, 2);
    unsigned n = 0;
    for (struct la_arena *a = t_main_arena(); a && n < 1000; a = a->next)
        n++;
    ck_assert_uint_eq(n, liballoc_debug.narenas);
    for (unsigned i = 0; i < nthreads; i++)
        ck_assert_ptr_nonnull(ar[i]);
    pthread_barrier_wait(&arena_barrier);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&arena_barrier);
    liballoc_free(m);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}

START_TEST(arena_limit_default)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t limit = 8 * (uint64_t)(cores > 0 ? cores : 1);
    unsigned n = limit + 4 <= 64 ? (unsigned)limit + 4 : 64;
    arena_limit_case(n, limit);
}
END_TEST

START_TEST(arena_limit_option)
{
    setenv("LIBALLOC_OPTIONS", "arena_max=3", 1);
    arena_limit_case(10, 3);
}
END_TEST

/* ---- LIBALLOC_OPTIONS (liballoc-specific, read once at initialisation) -------- */

/* Each Check test is a fresh child whose liballoc is not initialised yet, so setting
 * the environment before the first call takes effect. */
START_TEST(options_tcache_count_zero)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=0:mmap_threshold=256k", 1);
    void *x = liballoc_malloc(40), *y = liballoc_malloc(40), *g = liballoc_malloc(40);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(liballoc_debug.tunables.tcache_count, 0);
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_threshold, 256 * KiB);
    ck_assert(liballoc_debug.tunables.no_dyn_threshold != 0);
    struct la_arena *a = t_main_arena();
    const unsigned fi = la_fastbin_index(la_request2size(40));
    liballoc_free(x);                           /* no tcache: straight to the fastbin */
    ck_assert_ptr_eq(a->fastbins[fi], t_chunk(x));
    liballoc_free(y);
    ck_assert_ptr_eq(a->fastbins[fi], t_chunk(y));
    ck_assert_ptr_eq(t_fast_next(t_chunk(y)), t_chunk(x));
    ck_assert_ptr_eq(liballoc_malloc(40), y);    /* LIFO */
    ck_assert_ptr_eq(liballoc_malloc(40), x);
    void *big = liballoc_malloc(200 * KiB);      /* below the raised threshold */
    ck_assert(!la_is_mmapped(t_chunk(big)->size));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* A malformed or unknown item gets a one-line warning on stderr and is ignored; the
 * other items still apply. */
static void init_with_bad_options(void)
{
    setenv("LIBALLOC_OPTIONS", "mxfast=bogus,tcache_count=3,no_such_option=1", 1);
    void *p = liballoc_malloc(10);
    liballoc_free(p);
}

START_TEST(options_malformed_warns)
{
    char path[] = "/tmp/la_check_opts_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    int saved = dup(2);
    dup2(fd, 2);
    init_with_bad_options();
    dup2(saved, 2);
    close(saved);
    char buf[2048];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_msg(strstr(buf, "mxfast=bogus") != NULL, "stderr was: %s", buf);
    ck_assert_msg(strstr(buf, "no_such_option") != NULL, "stderr was: %s", buf);
    ck_assert_uint_eq(liballoc_debug.tunables.mxfast, LA_DEFAULT_MXFAST);
    ck_assert_uint_eq(liballoc_debug.tunables.tcache_count, 3);
}
END_TEST

/* ---- the program break ---------------------------------------------------------------- */

/* Someone else moves the break (a foreign sbrk) between two growths of the main heap:
 * liballoc must not hand out or clobber the foreign bytes (glibc copes the same way:
 * it starts a non-contiguous extension and fenceposts the old top). */
START_TEST(foreign_sbrk)
{
    enum { N = 40 };
    void *first = liballoc_malloc(1000);
    ck_assert_ptr_nonnull(first);
    unsigned char *foreign = sbrk(64 * KiB);
    ck_assert_ptr_ne(foreign, (void *)-1);
    memset(foreign, 0xf0, 64 * KiB);
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = liballoc_malloc(60 * KiB);
        ck_assert_ptr_nonnull(p[i]);
        ck_assert_msg((unsigned char *)p[i] + 60 * KiB <= foreign || (unsigned char *)p[i] >= foreign + 64 * KiB,
                      "block %p overlaps the foreign sbrk region %p", p[i], (void *)foreign);
        t_fill(p[i], 60 * KiB, (unsigned)i);
    }
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < N; i++)
        ck_assert(t_check(p[i], 60 * KiB, (unsigned)i));
    for (size_t i = 0; i < 64 * KiB; i++)
        ck_assert_uint_eq(foreign[i], 0xf0);
    for (int i = 0; i < N; i++)
        liballoc_free(p[i]);
    liballoc_malloc_trim(0);
    for (size_t i = 0; i < 64 * KiB; i += 4096)
        ck_assert_uint_eq(foreign[i], 0xf0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* When brk cannot grow (a mapping sits right above the break), the main heap falls
 * back to mmap'd segments (glibc: MORECORE failure -> mmap as a substitute); the
 * arena is then marked non-contiguous and its newest segment is LA_SEG_MMAP. */
START_TEST(brk_blocked_falls_back_to_mmap)
{
    enum { N = 40 };
    void *first = liballoc_malloc(1000);
    ck_assert_ptr_nonnull(first);
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t brk_end = ((uintptr_t)sbrk(0) + page - 1) & ~(page - 1);
    void *wall = mmap((void *)brk_end, 64 * MiB, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    ck_assert_msg(wall == (void *)brk_end, "could not map above the break: %p", wall);
    ck_assert_int_eq(brk((void *)(brk_end + 16 * page)), -1);   /* brk really is blocked */
    struct la_arena *a = t_main_arena();
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = liballoc_malloc(60 * KiB);
        ck_assert_msg(p[i] != NULL, "malloc(60 KiB) #%d failed with brk blocked", i);
        ck_assert(!la_is_mmapped(t_chunk(p[i])->size));
        t_fill(p[i], 60 * KiB, (unsigned)i);
    }
    ck_assert(a->flags & LA_ARENA_NONCONTIG);
    ck_assert_ptr_nonnull(a->segments);
    ck_assert_uint_eq(a->segments->kind, LA_SEG_MMAP);
    /* the mmap'd segment is a LA_HEAP_MAX-aligned heap grown in place (so the
     * ownership checks find it in O(1)): 40 x 60 KiB make one segment */
    ck_assert_uint_eq((uintptr_t)a->segments & (LA_HEAP_MAX - 1), 0);
    unsigned nmm = 0;
    for (struct la_segment *s = a->segments; s; s = s->prev) nmm += s->kind == LA_SEG_MMAP;
    ck_assert_uint_eq(nmm, 1);
    ck_assert_uint_ge(a->segments->size, N / 2 * 60 * KiB);    /* grown in place, not a new segment */
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < N; i++)
        ck_assert(t_check(p[i], 60 * KiB, (unsigned)i));
    for (int i = 0; i < N; i++)
        liballoc_free(p[i]);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    munmap(wall, 64 * MiB);
}
END_TEST

/* no_brk=1: the main arena starts in a mmap'd heap and never moves the break;
 * a top_pad bigger than a heap gives as much pad as the heap holds (so top does
 * not end at the heap's end after each growth, where chunks fall outside the
 * ownership window). */
START_TEST(no_brk_option)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7:no_brk=1:top_pad=64m", 1);
    void *brk0 = sbrk(0);
    void *p[8];
    for (int i = 0; i < 8; i++) {
        ck_assert_ptr_nonnull(p[i] = liballoc_malloc(100 * KiB));
        t_fill(p[i], 100 * KiB, (unsigned)i);
    }
    ck_assert_ptr_eq(sbrk(0), brk0);
    ck_assert_uint_eq(liballoc_debug.tunables.no_brk, 1);
    struct la_arena *a = t_main_arena();
    ck_assert_ptr_nonnull(a->segments);
    ck_assert_ptr_null(a->segments->prev);
    ck_assert_uint_eq(a->segments->kind, LA_SEG_MMAP);
    ck_assert_uint_eq((uintptr_t)a->segments & (LA_HEAP_MAX - 1), 0);
    ck_assert_uint_eq(a->segments->size, LA_HEAP_MAX);    /* need + top_pad, clamped to the heap */
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < 8; i++) {
        ck_assert(t_check(p[i], 100 * KiB, (unsigned)i));
        liballoc_free(p[i]);
    }
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* no_brk=1: the main arena's heap is trimmed like a non-main heap (the end of
 * top beyond top_pad goes back with MADV_DONTNEED) */
START_TEST(no_brk_trims)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7:no_brk=1", 1);
    enum { N = 200 };
    void *p[N];
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(p[i] = liballoc_malloc(20 * KiB));
    struct la_arena *a = t_main_arena();
    ck_assert_uint_eq(a->segments->kind, LA_SEG_MMAP);
    ck_assert_uint_ge(a->segments->size, N * 20 * KiB);
    for (int i = N - 1; i >= 0; i--)
        liballoc_free(p[i]);
    ck_assert_uint_le(a->segments->size, 1 * MiB);
    ck_assert_uint_le(a->system_mem, 1 * MiB);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < N; i++)                 /* and it grows again */
        ck_assert_ptr_nonnull(p[i] = liballoc_malloc(20 * KiB));
    ck_assert_uint_ge(a->segments->size, N * 20 * KiB);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < N; i++)
        liballoc_free(p[i]);
}
END_TEST

/* glibc: mallopt consolidates the fastbins first, so lowering M_MXFAST leaves no
 * chunk stranded in a fastbin that is no longer used. */
START_TEST(mxfast_lowered_consolidates)
{
    const size_t req = 100, cs = la_request2size(req);
    void *fill[LA_TCACHE_FILL];
    fill_tcache(req, fill);
    void *x = liballoc_malloc(req), *y = liballoc_malloc(req), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    free_all(fill, LA_TCACHE_FILL);
    liballoc_free(x);
    liballoc_free(y);
    struct la_arena *a = t_main_arena();
    ck_assert_int_eq(t_fastbin_count(a, la_fastbin_index(cs)), 2);
    ck_assert_int_eq(liballoc_mallopt(M_MXFAST, 32), 1);
    for (unsigned i = 0; i < LA_NFASTBINS; i++)
        ck_assert_ptr_null(a->fastbins[i]);
    ck_assert_uint_eq(t_csize(x), 2 * cs);          /* x and y merged */
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- thread exit --------------------------------------------------------------------- */

static pthread_key_t late_key;
static void *late_block;

/* Runs after liballoc's own thread-exit cleanup (its key was created first). */
static void late_destructor(void *v)
{
    (void)v;
    void *p = liballoc_malloc(200);
    memset(p, 0x11, 200);
    void *q = liballoc_malloc(5000);
    liballoc_free(q);
    late_block = p;
}

static void *late_thread(void *arg)
{
    (void)arg;
    void *p = liballoc_malloc(100);
    liballoc_free(p);
    pthread_setspecific(late_key, (void *)1);
    return (void *)(uintptr_t)gettid();
}

/* PITFALLS: destructors of other libraries may allocate after liballoc cleaned up the
 * thread; that must work and must not leave a tcache behind in the registry. */
START_TEST(malloc_after_thread_cleanup)
{
    void *m = liballoc_malloc(10);      /* liballoc initialises and creates its key first */
    ck_assert_int_eq(pthread_key_create(&late_key, late_destructor), 0);
    pthread_t th;
    void *ret;
    ck_assert_int_eq(pthread_create(&th, NULL, late_thread, NULL), 0);
    pthread_join(th, &ret);
    uint64_t tid = (uint64_t)(uintptr_t)ret;
    ck_assert_ptr_nonnull(late_block);
    for (size_t i = 0; i < 200; i++)
        ck_assert_uint_eq(((unsigned char *)late_block)[i], 0x11);
    for (struct la_tcache *t = liballoc_debug.tcaches; t; t = t->next)
        ck_assert_msg(t->tid != tid, "a tcache of exited thread %llu is still registered",
                      (unsigned long long)tid);
    liballoc_free(late_block);
    liballoc_free(m);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- the heap checker itself ------------------------------------------------------------- */

static int check_heap_quiet(void)
{
    fflush(stderr);
    int saved = dup(2), nul = open("/dev/null", O_WRONLY);
    dup2(nul, 2);
    int r = liballoc_check_heap();
    dup2(saved, 2);
    close(saved);
    close(nul);
    return r;
}

/* Every test uses liballoc_check_heap as its oracle, so show that it does catch
 * damage: a wrong prev_size behind a free chunk, a poisoned safe-linked fastbin
 * pointer, a broken bin link; each repaired again afterwards. */
START_TEST(check_heap_detects_damage)
{
    void *fill[LA_TCACHE_FILL];
    fill_tcache(40, fill);
    void *f1 = liballoc_malloc(40), *f2 = liballoc_malloc(40);
    void *a = liballoc_malloc(1100), *b = liballoc_malloc(1100), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    free_all(fill, LA_TCACHE_FILL);
    liballoc_free(f1);
    liballoc_free(f2);
    liballoc_free(a);
    ck_assert_int_eq(liballoc_check_heap(), 0);

    struct la_chunk *bc = t_chunk(b);
    size_t saved = bc->prev_size;
    bc->prev_size = saved + 16;
    ck_assert_int_eq(check_heap_quiet(), -1);
    bc->prev_size = saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);

    struct la_chunk *fc = t_chunk(f2);
    struct la_chunk *fd_saved = fc->fd;
    fc->fd = (struct la_chunk *)la_protect_ptr((uintptr_t)&fc->fd, (uintptr_t)&saved); /* into the stack */
    ck_assert_int_eq(check_heap_quiet(), -1);
    fc->fd = fd_saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);

    struct la_chunk *ac = t_chunk(a);
    struct la_chunk *bk_saved = ac->bk;
    ac->bk = ac;
    ck_assert_int_eq(check_heap_quiet(), -1);
    ac->bk = bk_saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);

    size_t size_saved = t_chunk(g)->size;
    t_chunk(g)->size = size_saved | LA_IS_MMAPPED;
    ck_assert_int_eq(check_heap_quiet(), -1);
    t_chunk(g)->size = size_saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* ---- random operations, heap checked after each -------------------------------------- */

static const char *const random_configs[] = {
    "",                                             /* defaults */
    "tcache_count=0",                               /* every free reaches the arena */
    "tcache_count=0:mxfast=0",                      /* ... and no fastbins either */
    "mxfast=160:tcache_count=1:perturb=77",
    "mmap_threshold=8k:trim_threshold=16k:top_pad=0",
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* 20000 random malloc/calloc/realloc/memalign/free calls under one
 * LIBALLOC_OPTIONS configuration; every block carries a pattern checked before it is
 * freed or moved, and liballoc_check_heap runs after every call. */
static void random_ops(int cfg)
{
    enum { SLOTS = 128, OPS = 20000 };
    static void *p[SLOTS];
    static size_t n[SLOTS];
    uint64_t s = 0x9e3779b97f4a7c15ull + (uint64_t)cfg;
    for (int op = 0; op < OPS; op++) {
        unsigned k = (unsigned)(rnd(&s) % SLOTS), what = (unsigned)(rnd(&s) % 10);
        uint64_t r = rnd(&s) % 100;
        size_t sz = r < 60 ? rnd(&s) % 200 : r < 90 ? 200 + rnd(&s) % 3000 : r < 98 ? 3000 + rnd(&s) % 60000
                                                                               : 100000 + rnd(&s) % 300000;
        if (p[k] && !t_check(p[k], n[k], k))
            ck_abort_msg("op %d: block %u (%zu bytes) corrupted (config '%s')", op, k, n[k], random_configs[cfg]);
        if (what < 4) {
            liballoc_free(p[k]);
            p[k] = liballoc_malloc(sz);
        } else if (what < 5) {
            liballoc_free(p[k]);
            p[k] = liballoc_calloc(1, sz);
            ck_assert_msg(p[k] && t_all_zero(p[k], sz), "op %d: calloc(1, %zu) not zeroed", op, sz);
        } else if (what < 7) {
            void *q = liballoc_realloc(p[k], sz);
            if (p[k] && sz == 0) {                  /* realloc(p, 0) frees, returns NULL */
                ck_assert_ptr_null(q);
            } else {
                ck_assert_ptr_nonnull(q);
                size_t keep = n[k] < sz ? n[k] : sz;
                ck_assert_msg(t_check(q, keep, k), "op %d: realloc lost content", op);
            }
            p[k] = q;
        } else if (what < 8) {
            liballoc_free(p[k]);
            size_t al = (size_t)16 << (rnd(&s) % 10);
            p[k] = liballoc_memalign(al, sz);
            ck_assert_msg(p[k] && (uintptr_t)p[k] % al == 0, "op %d: memalign(%zu, %zu) = %p", op, al, sz, p[k]);
        } else {
            liballoc_free(p[k]);
            p[k] = NULL;
        }
        n[k] = p[k] ? sz : 0;
        if (p[k]) {
            ck_assert_uint_ge(liballoc_malloc_usable_size(p[k]), sz);
            t_fill(p[k], sz, k);
        }
        if (liballoc_check_heap() != 0)
            ck_abort_msg("op %d (kind %u, size %zu): liballoc_check_heap failed (config '%s')", op, what, sz,
                         random_configs[cfg]);
    }
    for (unsigned k = 0; k < SLOTS; k++) {
        if (p[k])
            ck_assert(t_check(p[k], n[k], k));
        liballoc_free(p[k]);
    }
    ck_assert_int_eq(liballoc_malloc_trim(0) >= 0, 1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}

START_TEST(random_ops_heap_checked)
{
    if (random_configs[_i][0])
        setenv("LIBALLOC_OPTIONS", random_configs[_i], 1);
    random_ops(_i);
}
END_TEST

static void *random_ops_thread(void *arg)
{
    int cfg = (int)(intptr_t)arg;
    random_ops(cfg);
    /* The thread's arena, from a chunk's heap (with tcache_count=0 there may be no
     * tcache to ask). */
    void *p = liballoc_malloc(100);
    struct la_chunk *c = t_chunk(p);
    struct la_arena *a = la_non_main_arena(c->size) ? ((struct la_segment *)la_heap_of((uintptr_t)c))->arena
                                                    : t_main_arena();
    liballoc_free(p);
    return a;
}

/* The same in a second thread: its own (non-main) arena, heaps grown by mprotect. */
START_TEST(random_ops_in_thread)
{
    if (random_configs[_i][0])
        setenv("LIBALLOC_OPTIONS", random_configs[_i], 1);
    void *m = liballoc_malloc(10);
    pthread_t th;
    void *arena = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, random_ops_thread, (void *)(intptr_t)_i), 0);
    pthread_join(th, &arena);
    ck_assert_ptr_nonnull(arena);
    ck_assert_ptr_ne(arena, t_main_arena());
    liballoc_free(m);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST


/* ---- growing tcache bins (liballoc's default; la_tcache.limit) --------------- */

/* Allocate n chunks of req bytes, then free them all (a thread cycling through
 * one tcache bin, as churn does). */
static void cycle(size_t req, int n)
{
    void *p[64];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_nonnull(p[i] = liballoc_malloc(req));
    for (int i = 0; i < n; i++)
        liballoc_free(p[i]);
}

/* Default options: a bin starts at glibc's 7 and doubles each time a free finds
 * it full after a malloc found it empty, up to its cap la_tcache_bin_limit(
 * tcache_count 32, tcache_bytes 8192): 32 for small chunks, 8192/size for big
 * ones.  The bin then holds a whole cycle. */
START_TEST(tcache_bin_grows_with_use)
{
    unsetenv("LIBALLOC_OPTIONS");
    const size_t req = 100, cs = la_request2size(req);
    const unsigned idx = la_tcache_index(cs);
    void *first = liballoc_malloc(req);         /* the tcache exists from here */
    liballoc_free(first);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    ck_assert_uint_eq(liballoc_debug.tunables.tcache_count, LA_TCACHE_COUNT_DEFAULT);
    ck_assert_uint_eq(liballoc_debug.tunables.tcache_bytes, LA_TCACHE_BYTES_DEFAULT);
    ck_assert_uint_eq(tc->limit[idx], LA_TCACHE_FILL);
    cycle(req, 20);                             /* 1 from the bin, 19 misses; the 8th free grows it */
    ck_assert_uint_eq(tc->limit[idx], 14);
    /* frees 9..14 fill it; the 15th finds it full: 7 chunks (it and the 6
     * newest) go to the arena together (tcache flush), frees 16..20 refill */
    ck_assert_uint_eq(tc->counts[idx], 13);
    cycle(req, 20);
    ck_assert_uint_eq(tc->limit[idx], 28);
    ck_assert_uint_eq(tc->counts[idx], 20);     /* the whole cycle is cached */
    cycle(req, 40);
    ck_assert_uint_eq(tc->limit[idx], LA_TCACHE_COUNT_DEFAULT);  /* capped */
    /* the mallocs end with a batch refill (20 left cached); of the 40 frees
     * two find the bin full at 32 and flush 16 each (themselves and the 15
     * newest): 20 + 40 - 2 * 16 */
    ck_assert_uint_eq(tc->counts[idx], 28);
    /* a big chunk's cap comes from the byte budget: 8192 / 0x3f0 = 8 */
    const size_t big = 1000, bidx = la_tcache_index(la_request2size(big));
    ck_assert_uint_eq(la_tcache_bin_limit(LA_TCACHE_COUNT_DEFAULT, LA_TCACHE_BYTES_DEFAULT, bidx), 8);
    for (int r = 0; r < 4; r++)
        cycle(big, 20);
    ck_assert_uint_eq(tc->limit[bidx], 8);
    ck_assert_uint_eq(tc->counts[bidx], 8);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* Tcache flush (default options): a free that finds a bin full that grew
 * beyond glibc's 7 sends itself and the bin's newest limit/2 - 1 entries to
 * the arena under one lock; the older half stays cached, newest first. */
START_TEST(tcache_flush_sends_half)
{
    unsetenv("LIBALLOC_OPTIONS");
    const size_t req = 200, cs = la_request2size(req);   /* above max_fast: no fastbin */
    const unsigned idx = la_tcache_index(cs);
    void *first = liballoc_malloc(req);
    liballoc_free(first);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    cycle(req, 20);                             /* grows the bin to 14 (see above) */
    ck_assert_uint_eq(tc->limit[idx], 14);
    enum { N = 15 };
    void *a[N];
    /* calloc: 13 from the bin, 2 from the arena, and unlike malloc it does
     * not mark the bin missed (which would let the next full free grow it) */
    for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(a[i] = liballoc_calloc(1, req));
    ck_assert_uint_eq(tc->counts[idx], 0);
    for (int i = 0; i < 14; i++) liballoc_free(a[i]);
    ck_assert_uint_eq(tc->counts[idx], 14);
    liballoc_free(a[14]);                       /* full: a[14] and a[13..8] go */
    ck_assert_uint_eq(tc->counts[idx], 8);
    /* the bin now holds a[7], a[6], ..., a[0] */
    struct la_tcache_entry *e = tc->entries[idx];
    for (int i = 7; i >= 0; i--) {
        ck_assert_ptr_eq(e, a[i]);
        e = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next);
    }
    ck_assert_ptr_null(e);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    /* the flushed chunks are free in the arena (coalesced, binned): the heap
     * walk counts none of them in use */
    ck_assert_ptr_eq(liballoc_malloc(req), a[7]);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* No flush for a bin that a malloc found empty since it last grew (the thread
 * allocates that size as often as it frees it): the chunk that finds it full
 * goes to the arena alone, as in glibc.  A 1000-byte request's bin is capped
 * at 8 (8192 / 1008), so once there it cannot grow instead. */
START_TEST(tcache_flush_not_when_missed)
{
    unsetenv("LIBALLOC_OPTIONS");
    const size_t req = 1000;
    const unsigned idx = la_tcache_index(la_request2size(req));
    void *first = liballoc_malloc(req);
    liballoc_free(first);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    cycle(req, 20);                             /* 7 -> 8, the cap */
    ck_assert_uint_eq(tc->limit[idx], 8);
    enum { N = 9 };
    void *v[N];
    for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(v[i] = liballoc_malloc(req));
    ck_assert_uint_eq(tc->counts[idx], 0);      /* (the last ones missed: the bin is marked) */
    for (int i = 0; i < N; i++) liballoc_free(v[i]);
    ck_assert_uint_eq(tc->counts[idx], 8);      /* a flush would have left 5 */
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* A flush keeps a bin's older half and refills it with recent frees, so a
 * heap freed in address order leaves its last chunks, next to top, in the
 * tcache.  The flush lets the next large free region below top drain the
 * tcache (as the batch refill does) so that top absorbs the region and the
 * heap shrinks.  calloc is used throughout: it never counts a tcache miss, so
 * no batch refill runs here to allow the drain instead. */
START_TEST(tcache_flush_heap_still_shrinks)
{
    unsetenv("LIBALLOC_OPTIONS");
    enum { N = 2000 };
    const size_t req = 200;
    const unsigned idx = la_tcache_index(la_request2size(req));
    void *first = liballoc_malloc(req);
    liballoc_free(first);
    struct la_tcache *tc = t_my_tcache();
    struct la_arena *a = t_main_arena();
    ck_assert_ptr_nonnull(tc);
    cycle(req, 20);                             /* the bin grows to 14: flushes from now on */
    ck_assert_uint_eq(tc->limit[idx], 14);
    void *lo = liballoc_calloc(1, 100 * KiB);   /* below the blocks; freed last */
    static void *v[N];
    for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(v[i] = liballoc_calloc(1, req));
    uint64_t s1 = a->system_mem;
    for (int i = 0; i < N; i++) liballoc_free(v[i]);   /* in address order: flushes */
    ck_assert_uint_gt(tc->counts[idx], 0);
    /* 4096 arena operations that form no free region (a block off top and
     * back), so that the drain is due whenever one forms */
    for (int i = 0; i < 2100; i++) liballoc_free(liballoc_calloc(1, 2000));
    liballoc_free(lo);                          /* a region of 500 KiB below top */
    uint64_t s2 = a->system_mem;
    ck_assert_msg(s2 + N * req / 2 < s1, "system_mem %llu -> %llu after freeing %d KiB",
                  (unsigned long long)s1, (unsigned long long)s2, (int)((N * req + 100 * KiB) / KiB));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* With tcache_count=7 every bin keeps glibc's 7, however it is used. */
START_TEST(tcache_count_7_is_glibc)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7", 1);
    const size_t req = 100, idx = la_tcache_index(la_request2size(req));
    for (int r = 0; r < 4; r++)
        cycle(req, 20);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    ck_assert_uint_eq(tc->limit[idx], 7);
    ck_assert_uint_eq(tc->counts[idx], 7);
}
END_TEST

struct grow_arg {
    void *p[20];
    size_t req;
};
static void *thr_alloc20(void *arg)
{
    struct grow_arg *g = arg;
    for (int i = 0; i < 20; i++)
        g->p[i] = liballoc_malloc(g->req);
    return NULL;
}

/* A bin that only fills keeps 7: a thread freeing what another thread
 * allocated (a consumer), and chunks realloc leaves behind. */
START_TEST(tcache_bin_only_filled_stays)
{
    unsetenv("LIBALLOC_OPTIONS");
    const size_t req = 200, idx = la_tcache_index(la_request2size(req));
    struct grow_arg g = { .req = req };
    for (int r = 0; r < 3; r++) {
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, thr_alloc20, &g), 0);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        for (int i = 0; i < 20; i++) {
            ck_assert_ptr_nonnull(g.p[i]);
            liballoc_free(g.p[i]);
        }
    }
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    ck_assert_uint_eq(tc->limit[idx], LA_TCACHE_FILL);
    /* realloc: a bin full and marked missed (8 mallocs found it empty, 7
     * frees filled it) does not grow from the chunk a realloc moves out of */
    const size_t ridx = la_tcache_index(la_request2size(24));
    void *x[7], *a, *b;
    for (int i = 0; i < 7; i++)
        ck_assert_ptr_nonnull(x[i] = liballoc_malloc(24));
    ck_assert_ptr_nonnull(a = liballoc_malloc(24));
    ck_assert_ptr_nonnull(b = liballoc_malloc(24));     /* a's neighbour: a must move */
    for (int i = 0; i < 7; i++)
        liballoc_free(x[i]);
    ck_assert_uint_eq(tc->counts[ridx], LA_TCACHE_FILL);
    ck_assert(tc->missed & (1ull << ridx));
    void *a2 = liballoc_realloc(a, 600);
    ck_assert_ptr_nonnull(a2);
    ck_assert_ptr_ne(a2, a);
    ck_assert_uint_eq(tc->limit[ridx], LA_TCACHE_FILL);
    ck_assert_uint_eq(tc->counts[ridx], LA_TCACHE_FILL);
    liballoc_free(a2);
    liballoc_free(b);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

static Suite *suite_mechanisms(void)
{
    Suite *s = suite_create("mechanisms");
    TCase *tc = tcase_create("tcache_fastbins");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, tcache_fill_and_overflow);
    tcase_add_test(tc, fastbin_lifo_safe_linked);
    tcase_add_test(tc, malloc_consolidate_merges_fastbins);
    tcase_add_test(tc, mxfast_zero_disables_fastbins);
    tcase_add_test(tc, mxfast_lowered_consolidates);
    tcase_add_test(tc, tcache_bin_grows_with_use);
    tcase_add_test(tc, tcache_flush_sends_half);
    tcase_add_test(tc, tcache_flush_not_when_missed);
    tcase_add_test(tc, tcache_flush_heap_still_shrinks);
    tcase_add_test(tc, tcache_count_7_is_glibc);
    tcase_add_test(tc, tcache_bin_only_filled_stays);
    suite_add_tcase(s, tc);

    tc = tcase_create("bins");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, coalesce_with_previous);
    tcase_add_test(tc, coalesce_with_next);
    tcase_add_test(tc, coalesce_with_both);
    tcase_add_test(tc, coalesce_into_top);
    tcase_add_test(tc, unsorted_then_sorted);
    tcase_add_test(tc, largebin_best_fit);
    tcase_add_test(tc, binmap_search);
    suite_add_tcase(s, tc);

    tc = tcase_create("system");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, top_grow_and_trim);
    tcase_add_test(tc, top_pad_and_trim_pad);
    tcase_add_test(tc, mmap_threshold);
    tcase_add_test(tc, mmap_dynamic_threshold);
    tcase_add_test(tc, mmap_max_zero);
    tcase_add_test(tc, mmap_registry_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("realloc_align");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, realloc_shrink_in_place);
    tcase_add_test(tc, realloc_grow_into_free_next);
    tcase_add_test(tc, realloc_grow_into_top);
    tcase_add_test(tc, realloc_by_copy);
    tcase_add_test(tc, realloc_move_like_glibc);
    tcase_add_test(tc, realloc_tail_to_tcache);
    tcase_add_test(tc, realloc_move_slack);
    tcase_add_test(tc, realloc_top_slack);
    tcase_add_test(tc, aligned_family);
    tcase_add_test(tc, aligned_then_realloc);
    suite_add_tcase(s, tc);

    tc = tcase_create("arenas_options");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, arena_per_thread);
    tcase_add_test(tc, remote_free_list_used_and_drained);
    tcase_add_test(tc, remote_free_list_drain_grows_bin);
    tcase_add_test(tc, remote_free_list_check_heap_drains);
    tcase_add_test(tc, remote_free_list_check_heap_reports);
    tcase_add_test(tc, remote_free_list_fork);
    tcase_add_test(tc, arena_heaps_grow_and_shrink);
    tcase_add_test(tc, arena_limit_default);
    tcase_add_test(tc, arena_limit_option);
    tcase_add_test(tc, options_tcache_count_zero);
    tcase_add_test(tc, no_brk_option);
    tcase_add_test(tc, no_brk_trims);
    tcase_add_test(tc, options_malformed_warns);
    tcase_add_test(tc, malloc_after_thread_cleanup);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, check_heap_detects_damage);
    tcase_add_loop_test(tc, random_ops_heap_checked, 0, (int)(sizeof random_configs / sizeof random_configs[0]));
    tcase_add_loop_test(tc, random_ops_in_thread, 0, (int)(sizeof random_configs / sizeof random_configs[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("brk");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, foreign_sbrk);
    tcase_add_test(tc, brk_blocked_falls_back_to_mmap);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_SUITE(suite_mechanisms)
