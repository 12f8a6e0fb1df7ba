/*
 * tests/check_zone.c - the heap zone (liballoc/sysmem.c, internal.h la_zone):
 * every heap is carved from one read/write MAP_NORESERVE mapping, and a
 * thread of an arena whose newest heap lies there holds the zone's window as
 * its own ownership window (tc->spare), so that its inline free and malloc
 * accept a chunk of any arena in the zone with one range test.
 *
 * What is asserted: the heaps of two threads' arenas lie in the zone and each
 * thread's window is the zone's; a thread that frees the other's blocks does
 * it without the out-of-line lookup (its table of copied windows stays empty,
 * where with heap_zone=0 the same frees fill it); a dropped heap's slot is
 * given back (not resident) and reused; a zone of one slot sends the next
 * heap outside it, and that heap still works; the zone's unused slots are
 * left out of core dumps (MADV_DONTDUMP: "dd" in /proc/self/smaps) and the
 * part a heap uses is not.  Each Check test is a fresh child whose liballoc
 * is not initialised yet, so LIBALLOC_OPTIONS set at its start takes effect.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check_suites.h"
#include "check_la.h"
#include "internal.h"

#define M liballoc_malloc
#define F liballoc_free
#define NB 2000

static int in_zone(const void *p)
{
    return la_zone.lo && (uintptr_t)p - la_zone.lo < la_zone.hi - la_zone.lo;
}

/* what a thread saw of itself */
struct thr {
    void *b[NB];
    struct la_arena *arena;
    uint64_t win_lo, win_span;
    int dm_used;            /* entries of its copied-window table in use */
    pthread_barrier_t *bar;
    struct thr *other;      /* whose blocks this thread frees (NULL: none) */
};

static int dm_entries(struct la_tcache *tc)
{
    int n = 0;
    for (unsigned j = 0; j < LA_TC_DM; j++) n += la_tcx(tc)->dm_span[j] != 0;
    return n;
}

/* allocate NB blocks, wait for the other thread, free the other's blocks
 * (reading nothing of them but what free reads), report */
static void *worker(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < NB; i++) t->b[i] = M(48 + (size_t)(i % 8) * 16);
    struct la_tcache *tc = t_my_tcache();
    t->arena = tc ? tc->arena : NULL;
    pthread_barrier_wait(t->bar);
    if (t->other)
        for (int i = 0; i < NB; i++) F(t->other->b[i]);
    if (tc) {
        t->win_lo = tc->spare[0];
        t->win_span = tc->spare[1];
        t->dm_used = dm_entries(tc);
    }
    pthread_barrier_wait(t->bar);
    return NULL;
}

/* under LIBALLOC_OPTIONS options (liballoc starts with them: the main
 * thread's first malloc), two threads, each with its own arena; the second
 * frees the first's blocks */
static void run_pair(const char *options, struct thr *a, struct thr *b)
{
    setenv("LIBALLOC_OPTIONS", options, 1);
    F(M(1));
    static pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->bar = b->bar = &bar;
    b->other = a;
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, worker, a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, worker, b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&bar);
    ck_assert_ptr_nonnull(a->arena);
    ck_assert_ptr_nonnull(b->arena);
    ck_assert_ptr_ne(a->arena, b->arena);
    ck_assert_ptr_ne(a->arena, t_main_arena());
    ck_assert_ptr_ne(b->arena, t_main_arena());
}

START_TEST(zone_holds_heaps_and_is_the_window)
{
    static struct thr a, b;
    run_pair(T_GLIBC_OPTIONS, &a, &b);
    ck_assert_msg(la_zone.lo != 0, "no heap zone was made");
    ck_assert(in_zone(a.arena->segments));
    ck_assert(in_zone(b.arena->segments));
    for (int i = 0; i < NB; i++) ck_assert(in_zone(b.b[i]));
    /* both threads hold the zone's window; the arenas keep their own */
    ck_assert_uint_eq(b.win_lo, la_zone.lo16);
    ck_assert_uint_eq(b.win_span, la_zone.span);
    ck_assert_uint_ne(a.arena->spare[0], la_zone.lo16);
    /* b freed a's 2000 blocks through its own window: no copy was needed */
    ck_assert_int_eq(b.dm_used, 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* the contrast: without the zone the same frees go through the lookup,
 * which copies a's window into b's table */
START_TEST(zone_off)
{
    static struct thr a, b;
    run_pair(T_GLIBC_OPTIONS ":heap_zone=0", &a, &b);
    ck_assert_uint_eq(la_zone.lo, 0);
    /* b's window is its own arena's, or a's once b's batches of remote frees
     * made it a "free window" (tcache.c la_tc_fw_note); before that switch
     * its frees of a's blocks needed copies */
    ck_assert(b.win_lo == b.arena->spare[0] || b.win_lo == a.arena->spare[0]);
    ck_assert_int_ge(b.dm_used, 1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* a thread fills two heaps of 64 MiB and frees everything: the second heap is
 * dropped, its first page is no longer resident, and its slot is taken again
 * by the next thread that needs a second heap */
#define BIG_N 800
static void *fill_two_heaps(void *arg)
{
    uintptr_t *second = arg;
    static void *p[BIG_N];
    uintptr_t first = 0;
    *second = 0;
    for (int i = 0; i < BIG_N; i++) {
        p[i] = M(100 * 1024);
        if (!p[i]) return NULL;
        uintptr_t slot = (uintptr_t)p[i] & ~(uintptr_t)(LA_HEAP_MAX - 1);
        if (!first) first = slot;
        else if (slot != first && !*second) *second = slot;
    }
    for (int i = BIG_N - 1; i >= 0; i--) F(p[i]);
    return NULL;
}

START_TEST(zone_slot_given_back_and_reused)
{
    setenv("LIBALLOC_OPTIONS", T_GLIBC_OPTIONS ":mmap_max=0", 1);
    F(M(1));
    uintptr_t s1 = 0, s2 = 0;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fill_two_heaps, &s1), 0);
    pthread_join(t, NULL);
    ck_assert_uint_ne(s1, 0);
    ck_assert(in_zone((void *)s1));
    liballoc_malloc_trim(0);
    unsigned char v = 1;
    ck_assert_int_eq(mincore((void *)s1, 4096, &v), 0);      /* still mapped, */
    ck_assert_int_eq(v & 1, 0);                              /* not resident */
    ck_assert_int_eq(pthread_create(&t, NULL, fill_two_heaps, &s2), 0);
    pthread_join(t, NULL);
    ck_assert(in_zone((void *)s2));
    ck_assert_uint_eq(s2, s1);          /* the lowest free slot: the same one */
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* a full zone: the next heap is reserved on its own, outside the zone, and
 * blocks there are freed as anywhere else (by another thread too) */
START_TEST(zone_full_falls_back)
{
    static struct thr a, b;
    run_pair(T_GLIBC_OPTIONS ":heap_zone=1", &a, &b);   /* a's heap takes the slot; b's is outside */
    ck_assert(la_zone.lo != 0);
    ck_assert_uint_eq(la_zone.hi - la_zone.lo, LA_HEAP_MAX);
    ck_assert(in_zone(a.arena->segments) != in_zone(b.arena->segments));
    /* the thread outside holds its own arena's window (b, which frees a's
     * blocks, may hold a's instead: the zone's, a's heap being in it) */
    struct thr *out = in_zone(a.arena->segments) ? &b : &a;
    ck_assert(out->win_lo == out->arena->spare[0] || (out == &b && out->win_lo == la_zone.lo16));
    ck_assert_uint_ne(out->win_lo, 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    for (int i = 0; i < NB; i++) F(b.b[i]);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* VmFlags of the mapping of /proc/self/smaps holding address x: 1 if it has
 * "dd" (left out of core dumps), 0 if not, -1 if no mapping holds x */
static int dontdump_at(uintptr_t x)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int in = 0, r = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = x >= lo && x < hi;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            r = strstr(line, " dd") != NULL;
            break;
        }
    }
    fclose(f);
    return r;
}

START_TEST(zone_core_dump_flags)
{
    static struct thr a, b;
    run_pair(T_GLIBC_OPTIONS, &a, &b);
    uintptr_t h = (uintptr_t)a.arena->segments;
    ck_assert(in_zone((void *)h));
    ck_assert_int_eq(dontdump_at(h), 0);                     /* the heap's used part */
    ck_assert_int_eq(dontdump_at(h + a.arena->segments->mprotect_size + 4096), 1);   /* past it */
    ck_assert_int_eq(dontdump_at(la_zone.hi - 4096), 1);      /* the last slot, unused */
}
END_TEST

static Suite *suite_zone(void)
{
    Suite *s = suite_create("zone");
    TCase *tc = tcase_create("zone");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, zone_holds_heaps_and_is_the_window);
    tcase_add_test(tc, zone_off);
    tcase_add_test(tc, zone_slot_given_back_and_reused);
    tcase_add_test(tc, zone_full_falls_back);
    tcase_add_test(tc, zone_core_dump_flags);
    suite_add_tcase(s, tc);
    return s;
}
CHECK_SUITE(suite_zone)
