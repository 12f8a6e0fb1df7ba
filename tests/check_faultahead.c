/*
 * tests/check_faultahead.c - fault-ahead (liballoc/sysmem.c): once an arena
 * has split 1 MiB off top in a row with small chunks, the next pages of top
 * are populated in batches of tunables.fault_ahead bytes (MADV_POPULATE_WRITE)
 * instead of faulting one by one; a larger request from top stops it.
 *
 * The tests count the resident pages of the main arena's top chunk beyond the
 * page holding its header (mincore): nothing but fault-ahead makes them
 * resident, since nobody writes to top's memory.  Each test is a fresh Check
 * child (liballoc not initialised yet), so LIBALLOC_OPTIONS set at its start
 * takes effect.  A kernel without MADV_POPULATE_WRITE (before 5.14) makes the
 * first test fail: the feature would be off there.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check_suites.h"
#include "check_la.h"

#define M liballoc_malloc

/* resident pages of top after the page of its header, up to its end */
static size_t top_resident_pages(void)
{
    struct la_arena *a = t_main_arena();
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)a->top + sizeof(struct la_chunk) + ps - 1) & ~(ps - 1);
    uintptr_t hi = ((uintptr_t)a->top + la_chunksize(a->top->size)) & ~(ps - 1);
    if (hi <= lo) return 0;
    size_t n = (hi - lo) / ps, res = 0;
    unsigned char *v = calloc(n, 1);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(mincore((void *)lo, hi - lo, v), 0);
    for (size_t i = 0; i < n; i++) res += v[i] & 1;
    free(v);
    return res;
}

/* fill 8 MiB with 200-byte blocks (2048 pages; the run qualifies after
 * 1 MiB); every `big_every` blocks (0 = never) also take an 8 KiB block from
 * top.  Returns the most pages of top found resident ahead of its header,
 * sampled every 1000 blocks. */
static size_t fill(int big_every)
{
    size_t most = 0;
    for (int i = 1; i <= 40000; i++) {
        ck_assert_ptr_nonnull(M(200));
        if (big_every && i % big_every == 0) ck_assert_ptr_nonnull(M(8192));
        if (i % 1000 == 0) {
            size_t r = top_resident_pages();
            if (r > most) most = r;
        }
    }
    return most;
}

/* the default: small blocks carved from top in a row populate what comes next,
 * at most fault_ahead (256 KiB) at a time */
START_TEST(fa_populates_ahead)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7", 1);
    size_t res = fill(0);
    ck_assert_uint_eq(liballoc_debug.tunables.fault_ahead, 256 << 10);
    ck_assert_msg(res >= 8 && res <= (256 << 10) / (size_t)sysconf(_SC_PAGESIZE),
                  "at most %zu pages of top resident ahead of its header", res);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* fault_ahead=0 turns it off: top's pages stay untouched */
START_TEST(fa_off)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7:fault_ahead=0", 1);
    ck_assert_uint_eq(fill(0), 0);
    ck_assert_uint_eq(liballoc_debug.tunables.fault_ahead, 0);
}
END_TEST

/* a request above 4 KiB from top between the small ones resets the run (a
 * heap of big blocks the program may touch sparsely is never populated) */
START_TEST(fa_big_requests_stop_it)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7", 1);
    ck_assert_uint_eq(fill(500), 0);
}
END_TEST

/* a smaller batch is honoured */
START_TEST(fa_batch_size)
{
    setenv("LIBALLOC_OPTIONS", "tcache_count=7:fault_ahead=64k", 1);
    size_t res = fill(0);
    ck_assert_msg(res >= 4 && res <= (64 << 10) / (size_t)sysconf(_SC_PAGESIZE),
                  "at most %zu pages of top resident ahead of its header", res);
}
END_TEST

static Suite *suite_faultahead(void)
{
    Suite *s = suite_create("faultahead");
    TCase *tc = tcase_create("faultahead");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, fa_populates_ahead);
    tcase_add_test(tc, fa_off);
    tcase_add_test(tc, fa_big_requests_stop_it);
    tcase_add_test(tc, fa_batch_size);
    suite_add_tcase(s, tc);
    return s;
}
CHECK_SUITE(suite_faultahead)
