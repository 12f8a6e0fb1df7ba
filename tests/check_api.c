/*
 * tests/check_api.c - the edges of liballoc's public API (REFERENCE.md "API edges").
 *
 * Each test calls liballoc's own entry points (liballoc_core.a) in a forked Check
 * child and asserts the result and errno.  The comment above each test says what
 * glibc 2.36 does (probed on Debian 12's libc); where liballoc follows a later
 * standard instead (aligned_alloc, C17/glibc 2.38) the comment says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/stat.h>
#include "check_suites.h"
#include "check_la.h"

#define KiB (1024ul)
#define MiB (1024ul * 1024ul)

/* glibc 2.36: malloc(n > PTRDIFF_MAX) -> NULL, errno ENOMEM (so are SIZE_MAX and
 * sizes whose request2size would wrap). */
START_TEST(malloc_too_big)
{
    const size_t bad[] = { (size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 8, SIZE_MAX - 30,
                           (size_t)PTRDIFF_MAX };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = liballoc_malloc(bad[i]);
        ck_assert_msg(p == NULL, "malloc(%zu) = %p", bad[i], p);
        ck_assert_int_eq(errno, ENOMEM);
    }
    /* The allocator still works afterwards. */
    void *p = liballoc_malloc(10);
    ck_assert_ptr_nonnull(p);
    liballoc_free(p);
}
END_TEST

/* glibc 2.36: a size below PTRDIFF_MAX that the kernel cannot map (tens of TiB) fails
 * with NULL and ENOMEM, and the allocator keeps working; a huge alignment is honoured. */
START_TEST(unmappable_sizes_fail_cleanly)
{
    void *keep = liballoc_malloc(100);
    t_fill(keep, 100, 5);
    const size_t sizes[] = { (size_t)1 << 46, (size_t)1 << 44, ((size_t)1 << 45) + 12345 };
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        void *p = liballoc_malloc(sizes[i]);
        ck_assert_msg(p == NULL, "malloc(%zu) = %p", sizes[i], p);
        ck_assert_int_eq(errno, ENOMEM);
        errno = 0;
        ck_assert_ptr_null(liballoc_calloc(1, sizes[i]));
        ck_assert_int_eq(errno, ENOMEM);
        errno = 0;
        ck_assert_ptr_null(liballoc_memalign(4096, sizes[i]));
        ck_assert_int_eq(errno, ENOMEM);
        errno = 0;
        ck_assert_ptr_null(liballoc_realloc(keep, sizes[i]));
        ck_assert_int_eq(errno, ENOMEM);
    }
    ck_assert(t_check(keep, 100, 5));
    void *big = liballoc_memalign((size_t)1 << 28, 100);   /* 256 MiB alignment */
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq((uintptr_t)big % ((size_t)1 << 28), 0);
    memset(big, 1, 100);
    liballoc_free(big);
    void *p = liballoc_malloc(3000);
    ck_assert_ptr_nonnull(p);
    liballoc_free(p);
    liballoc_free(keep);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: malloc(0) returns a unique minimum chunk, usable size 24. */
START_TEST(malloc_zero)
{
    void *p = liballoc_malloc(0), *q = liballoc_malloc(0);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_ne(p, q);
    ck_assert_uint_eq(liballoc_malloc_usable_size(p), 24);
    ck_assert_uint_eq(liballoc_malloc_usable_size(q), 24);
    ck_assert_uint_eq(t_csize(p), LA_MINSIZE);
    memset(p, 0xff, 24);
    ck_assert_uint_eq(liballoc_malloc_usable_size(q), 24);   /* q's header untouched */
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    liballoc_free(p);
    liballoc_free(q);
}
END_TEST

/* glibc 2.36: calloc with nmemb * size overflowing or above PTRDIFF_MAX -> NULL,
 * ENOMEM; calloc(0, n) returns a unique pointer. */
START_TEST(calloc_overflow)
{
    errno = 0;
    ck_assert_ptr_null(liballoc_calloc(SIZE_MAX / 2, 3));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(liballoc_calloc((size_t)1 << 32, (size_t)1 << 32));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(liballoc_calloc((size_t)PTRDIFF_MAX / 2 + 1, 2));
    ck_assert_int_eq(errno, ENOMEM);
    void *p = liballoc_calloc(0, 5);
    ck_assert_ptr_nonnull(p);
    liballoc_free(p);
}
END_TEST

/* glibc 2.36: calloc memory is zero even when it reuses dirty chunks (tcache, fastbin,
 * unsorted/small bins, a split remainder, a mmapped chunk). */
START_TEST(calloc_zeroes_reused_memory)
{
    const size_t sizes[] = { 24, 100, 500, 1000, 1100, 5000, 70000, 300 * KiB };
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p[10];
        for (int k = 0; k < 10; k++) {      /* 10 > tcache fill: also fastbin/bins */
            p[k] = liballoc_malloc(n);
            ck_assert_ptr_nonnull(p[k]);
            memset(p[k], 0xaa, liballoc_malloc_usable_size(p[k]));
        }
        for (int k = 0; k < 10; k++)
            liballoc_free(p[k]);
        for (int k = 0; k < 10; k++) {
            p[k] = liballoc_calloc(1, n);
            ck_assert_ptr_nonnull(p[k]);
            ck_assert_msg(t_all_zero(p[k], n), "calloc(1, %zu) #%d returned dirty memory", n, k);
        }
        for (int k = 0; k < 10; k++)
            liballoc_free(p[k]);
    }
    /* A bigger dirty block split for a smaller calloc. */
    void *big = liballoc_malloc(20000), *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    memset(big, 0x77, 20000);
    liballoc_free(big);
    void *c = liballoc_calloc(3000, 2);
    ck_assert_ptr_nonnull(c);
    ck_assert(t_all_zero(c, 6000));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: reallocarray with nmemb * size overflow -> NULL, ENOMEM, and the old
 * block is left as it was. */
START_TEST(reallocarray_overflow)
{
    void *p = liballoc_malloc(100);
    t_fill(p, 100, 21);
    size_t us = liballoc_malloc_usable_size(p);
    errno = 0;
    ck_assert_ptr_null(liballoc_reallocarray(p, SIZE_MAX / 2, 3));
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert(t_check(p, 100, 21));
    ck_assert_uint_eq(liballoc_malloc_usable_size(p), us);
    void *q = liballoc_reallocarray(p, 20, 10);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_ge(liballoc_malloc_usable_size(q), 200);
    ck_assert(t_check(q, 100, 21));
    liballoc_free(q);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: realloc(NULL, n) = malloc(n); realloc(NULL, 0) returns a non-NULL
 * minimum chunk. */
START_TEST(realloc_null)
{
    void *p = liballoc_realloc(NULL, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(liballoc_malloc_usable_size(p), la_request2size(100) - LA_SIZE_SZ);
    void *z = liballoc_realloc(NULL, 0);
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_eq(liballoc_malloc_usable_size(z), 24);
    liballoc_free(p);
    liballoc_free(z);
}
END_TEST

/* glibc 2.36: realloc(p, 0) frees p (REALLOC_ZERO_BYTES_FREES) and returns NULL; for a
 * tcache-sized block the chunk shows up in the thread's tcache. */
START_TEST(realloc_zero_frees)
{
    const size_t req = 40;
    void *p = liballoc_malloc(req);
    void *g = liballoc_malloc(req);
    ck_assert_ptr_nonnull(g);
    struct la_tcache *tc = t_my_tcache();
    ck_assert_ptr_nonnull(tc);
    unsigned ti = la_tcache_index(la_request2size(req));
    unsigned before = tc->counts[ti];
    ck_assert_ptr_null(liballoc_realloc(p, 0));
    ck_assert_uint_eq(tc->counts[ti], before + 1);
    ck_assert_ptr_eq(tc->entries[ti], p);
    /* Mmapped block: realloc(p, 0) unmaps it. */
    void *m = liballoc_malloc(1 * MiB);
    ck_assert(t_mmap_registered(t_chunk(m)));
    ck_assert_ptr_null(liballoc_realloc(m, 0));
    ck_assert(!t_mmap_registered(t_chunk(m)));
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: a realloc that cannot be satisfied returns NULL with ENOMEM and leaves
 * the block intact (heap and mmapped blocks). */
START_TEST(realloc_failure_keeps_block)
{
    void *p = liballoc_malloc(100);
    void *m = liballoc_malloc(1 * MiB);
    t_fill(p, 100, 31);
    t_fill(m, 1 * MiB, 32);
    const size_t bad[] = { (size_t)PTRDIFF_MAX + 1, SIZE_MAX, (size_t)PTRDIFF_MAX - 100000 };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        ck_assert_ptr_null(liballoc_realloc(p, bad[i]));
        ck_assert_int_eq(errno, ENOMEM);
        errno = 0;
        ck_assert_ptr_null(liballoc_realloc(m, bad[i]));
        ck_assert_int_eq(errno, ENOMEM);
    }
    ck_assert(t_check(p, 100, 31));
    ck_assert(t_check(m, 1 * MiB, 32));
    ck_assert_int_eq(liballoc_check_heap(), 0);
    liballoc_free(p);
    liballoc_free(m);
}
END_TEST

/* glibc 2.36: memalign rounds an alignment that is not a power of two up to the next
 * one; alignment <= 16 is plain malloc; alignment > SIZE_MAX/2 + 1 -> EINVAL;
 * SIZE_MAX/2 + 1 itself and sizes that would overflow nb + alignment -> ENOMEM. */
START_TEST(memalign_edges)
{
    void *p = liballoc_memalign(24, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 32, 0);
    void *q = liballoc_memalign(100, 10);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq((uintptr_t)q % 128, 0);
    void *r = liballoc_memalign(1, 10);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq((uintptr_t)r % 16, 0);
    void *s = liballoc_memalign(0, 10);
    ck_assert_ptr_nonnull(s);
    errno = 0;
    ck_assert_ptr_null(liballoc_memalign(SIZE_MAX / 2 + 2, 100));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(liballoc_memalign(SIZE_MAX, 100));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(liballoc_memalign(SIZE_MAX / 2 + 1, 100));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(liballoc_memalign(4096, (size_t)PTRDIFF_MAX));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(liballoc_memalign((size_t)1 << 20, SIZE_MAX - 100)); /* nb + align wraps */
    ck_assert_int_eq(errno, ENOMEM);
    liballoc_free(p);
    liballoc_free(q);
    liballoc_free(r);
    liballoc_free(s);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: posix_memalign returns EINVAL unless the alignment is a power of two
 * multiple of sizeof(void *), ENOMEM when the memory cannot be had, and leaves
 * *memptr untouched on error. */
START_TEST(posix_memalign_edges)
{
    const size_t bad[] = { 0, 1, 4, 24, 48, 3 * sizeof(void *), SIZE_MAX };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *q = (void *)0x1234;
        ck_assert_int_eq(liballoc_posix_memalign(&q, bad[i], 10), EINVAL);
        ck_assert_ptr_eq(q, (void *)0x1234);
    }
    void *q = (void *)0x1234;
    ck_assert_int_eq(liballoc_posix_memalign(&q, 64, SIZE_MAX - 100), ENOMEM);
    ck_assert_ptr_eq(q, (void *)0x1234);
    ck_assert_int_eq(liballoc_posix_memalign(&q, 64, (size_t)PTRDIFF_MAX + 1), ENOMEM);
    ck_assert_ptr_eq(q, (void *)0x1234);
    ck_assert_int_eq(liballoc_posix_memalign(&q, sizeof(void *), 10), 0);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq((uintptr_t)q % sizeof(void *), 0);
    liballoc_free(q);
    ck_assert_int_eq(liballoc_posix_memalign(&q, 8192, 0), 0);
    ck_assert_uint_eq((uintptr_t)q % 8192, 0);
    liballoc_free(q);
}
END_TEST

/* glibc 2.36 accepted any alignment in aligned_alloc (it was memalign); liballoc
 * follows C17 and glibc >= 2.38: alignment 0 or not a power of two -> NULL, EINVAL. */
START_TEST(aligned_alloc_edges)
{
    const size_t bad[] = { 0, 3, 24, 48, 100, SIZE_MAX };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = liballoc_aligned_alloc(bad[i], 64);
        ck_assert_msg(p == NULL, "aligned_alloc(%zu, 64) = %p", bad[i], p);
        ck_assert_int_eq(errno, EINVAL);
    }
    void *p = liballoc_aligned_alloc(256, 100);          /* size need not be a multiple */
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 256, 0);
    liballoc_free(p);
    errno = 0;
    ck_assert_ptr_null(liballoc_aligned_alloc(64, SIZE_MAX - 10));
    ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

/* glibc 2.36: pvalloc rounds the size up to a page, ENOMEM when that overflows;
 * valloc(n) is memalign(page, n). */
START_TEST(pvalloc_valloc_edges)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    errno = 0;
    ck_assert_ptr_null(liballoc_pvalloc(SIZE_MAX));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(liballoc_pvalloc(SIZE_MAX - page + 1));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(liballoc_pvalloc((size_t)PTRDIFF_MAX));
    ck_assert_int_eq(errno, ENOMEM);
    void *p = liballoc_pvalloc(page + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % page, 0);
    ck_assert_uint_ge(liballoc_malloc_usable_size(p), 2 * page);
    memset(p, 1, 2 * page);
    void *v = liballoc_valloc(1);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq((uintptr_t)v % page, 0);
    errno = 0;
    ck_assert_ptr_null(liballoc_valloc(SIZE_MAX - 10));
    ck_assert_int_eq(errno, ENOMEM);
    liballoc_free(p);
    liballoc_free(v);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: malloc_usable_size(NULL) = 0; in-use chunk: chunksize - 8; mmapped:
 * chunksize - 16. */
START_TEST(usable_size)
{
    ck_assert_uint_eq(liballoc_malloc_usable_size(NULL), 0);
    const size_t reqs[] = { 1, 24, 25, 100, 1000, 1032, 1033, 5000, 100000 };
    for (unsigned i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        void *p = liballoc_malloc(reqs[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert(!la_is_mmapped(t_chunk(p)->size));
        ck_assert_uint_eq(liballoc_malloc_usable_size(p), la_request2size(reqs[i]) - LA_SIZE_SZ);
        memset(p, 0xee, liballoc_malloc_usable_size(p));   /* all of it is usable */
        liballoc_free(p);
    }
    void *m = liballoc_malloc(4 * MiB);
    ck_assert(la_is_mmapped(t_chunk(m)->size));
    ck_assert_uint_eq(liballoc_malloc_usable_size(m), t_csize(m) - 2 * LA_SIZE_SZ);
    ck_assert_uint_ge(liballoc_malloc_usable_size(m), 4 * MiB);
    memset(m, 0xee, liballoc_malloc_usable_size(m));
    liballoc_free(m);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

/* glibc 2.36: free(NULL) does nothing; free preserves errno (also across munmap). */
START_TEST(free_null_and_errno)
{
    errno = 4242;
    liballoc_free(NULL);
    ck_assert_int_eq(errno, 4242);
    const size_t reqs[] = { 10, 2000, 200000, 8 * MiB };
    for (unsigned i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        void *p = liballoc_malloc(reqs[i]);
        ck_assert_ptr_nonnull(p);
        errno = 4243;
        liballoc_free(p);
        ck_assert_int_eq(errno, 4243);
    }
    /* A free that trims the heap (brk/munmap underneath) keeps errno too. */
    void *v[40];
    for (int i = 0; i < 40; i++)
        v[i] = liballoc_malloc(100000);
    errno = 4244;
    for (int i = 39; i >= 0; i--)
        liballoc_free(v[i]);
    ck_assert_int_eq(errno, 4244);
}
END_TEST

/* glibc 2.36: M_MXFAST accepts 0..160 (returns 1), returns 0 above (or negative);
 * the documented parameters return 1; an unknown parameter returns 1. */
START_TEST(mallopt_values)
{
    for (int v = 0; v <= 160; v++) {
        ck_assert_int_eq(liballoc_mallopt(M_MXFAST, v), 1);
        ck_assert_uint_eq(liballoc_debug.tunables.mxfast, (uint64_t)v);
    }
    ck_assert_int_eq(liballoc_mallopt(M_MXFAST, 161), 0);
    ck_assert_uint_eq(liballoc_debug.tunables.mxfast, 160);
    ck_assert_int_eq(liballoc_mallopt(M_MXFAST, -1), 0);
    ck_assert_int_eq(liballoc_mallopt(12345, 1), 1);
    ck_assert_int_eq(liballoc_mallopt(-100, 1), 1);
    ck_assert_int_eq(liballoc_mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.trim_threshold, 1 << 20);
    ck_assert(liballoc_debug.tunables.no_dyn_threshold != 0);
    ck_assert_int_eq(liballoc_mallopt(M_TOP_PAD, 64 << 10), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.top_pad, 64 << 10);
    ck_assert_int_eq(liballoc_mallopt(M_MMAP_THRESHOLD, 256 << 10), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_threshold, 256 << 10);
    ck_assert_int_eq(liballoc_mallopt(M_MMAP_MAX, 100), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.mmap_max, 100);
    ck_assert_int_eq(liballoc_mallopt(M_CHECK_ACTION, 3), 1);
    ck_assert_int_eq(liballoc_mallopt(M_PERTURB, 0), 1);
    ck_assert_int_eq(liballoc_mallopt(M_ARENA_TEST, 4), 1);
    ck_assert_int_eq(liballoc_mallopt(M_ARENA_MAX, 4), 1);
    ck_assert_uint_eq(liballoc_debug.tunables.arena_max, 4);
    /* Still allocates with the new settings. */
    void *p = liballoc_malloc(300 << 10);
    ck_assert(la_is_mmapped(t_chunk(p)->size));
    liballoc_free(p);
}
END_TEST

/* glibc 2.36: M_PERTURB p fills malloc'ed memory (not calloc's) with p ^ 0xff and
 * freed memory with p. */
START_TEST(mallopt_perturb)
{
    ck_assert_int_eq(liballoc_mallopt(M_PERTURB, 0x5c), 1);
    void *p = liballoc_malloc(2000);
    void *g = liballoc_malloc(16);
    ck_assert_ptr_nonnull(g);
    const unsigned char *b = p;
    for (size_t i = 0; i < 2000; i++)
        ck_assert_uint_eq(b[i], 0x5c ^ 0xff);
    void *c = liballoc_calloc(1, 2000);
    ck_assert(t_all_zero(c, 2000));
    liballoc_free(p);
    /* Beyond the free-list links (fd, bk, fd/bk_nextsize: 32 bytes) the chunk holds p. */
    for (size_t i = 32; i < 2000 - LA_SIZE_SZ; i++)
        ck_assert_uint_eq(b[i], 0x5c);
    liballoc_free(c);
}
END_TEST

/* glibc 2.36 mallinfo2: uordblks grows by the chunk size of a malloc from top;
 * hblks/hblkhd count mmapped chunks; arena = system bytes; keepcost = top size;
 * fastbin chunks show in smblks/fsmblks.  mallinfo is the same in ints. */
START_TEST(mallinfo2_fields)
{
    void *first = liballoc_malloc(16);
    ck_assert_ptr_nonnull(first);
    struct la_arena *a = t_main_arena();
    struct mallinfo2 m0 = liballoc_mallinfo2();
    ck_assert_uint_eq(m0.arena, a->system_mem);
    ck_assert_uint_eq(m0.keepcost, la_chunksize(a->top->size));
    ck_assert_uint_eq(m0.uordblks + m0.fordblks, m0.arena);
    void *p = liballoc_malloc(2000);
    struct mallinfo2 m1 = liballoc_mallinfo2();
    ck_assert_uint_eq(m1.uordblks - m0.uordblks, la_request2size(2000));
    ck_assert_uint_eq(m1.uordblks + m1.fordblks, m1.arena);
    ck_assert_uint_eq(m1.hblks, m0.hblks);

    void *m = liballoc_malloc(2 * MiB);
    struct mallinfo2 m2 = liballoc_mallinfo2();
    ck_assert_uint_eq(m2.hblks, m1.hblks + 1);
    ck_assert_uint_eq(m2.hblkhd, m1.hblkhd + t_csize(m));
    ck_assert_uint_eq(m2.uordblks, m1.uordblks);
    struct mallinfo mi = liballoc_mallinfo();
    ck_assert_int_eq(mi.hblks, (int)m2.hblks);
    ck_assert_int_eq(mi.hblkhd, (int)m2.hblkhd);
    ck_assert_int_eq(mi.arena, (int)m2.arena);
    ck_assert_int_eq(mi.uordblks, (int)m2.uordblks);
    liballoc_free(m);
    struct mallinfo2 m3 = liballoc_mallinfo2();
    ck_assert_uint_eq(m3.hblks, m1.hblks);
    ck_assert_uint_eq(m3.hblkhd, m1.hblkhd);

    /* Fast chunks: fill the tcache, then two more frees land in a fastbin. */
    void *v[9];
    for (int i = 0; i < 9; i++)
        v[i] = liballoc_malloc(40);
    void *g = liballoc_malloc(40);
    ck_assert_ptr_nonnull(g);
    struct mallinfo2 m4 = liballoc_mallinfo2();
    for (int i = 0; i < 9; i++)
        liballoc_free(v[i]);
    struct mallinfo2 m5 = liballoc_mallinfo2();
    ck_assert_uint_eq(m5.smblks, m4.smblks + 2);
    ck_assert_uint_eq(m5.fsmblks, m4.fsmblks + 2 * la_request2size(40));
    liballoc_free(p);
}
END_TEST

/* Run fn with stderr sent to a temporary file; return what was written (static buffer). */
static const char *capture_stderr(void (*fn)(void))
{
    static char buf[65536];
    char path[] = "/tmp/la_check_stderr_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void call_malloc_stats(void) { liballoc_malloc_stats(); }

/* glibc 2.36: malloc_stats prints "Arena 0:", "system bytes", "in use bytes" per arena
 * and a "Total (incl. mmap):" block to stderr. */
START_TEST(malloc_stats_output)
{
    void *p = liballoc_malloc(1000), *m = liballoc_malloc(1 * MiB);
    const char *out = capture_stderr(call_malloc_stats);
    ck_assert_msg(strstr(out, "Arena 0:") != NULL, "malloc_stats wrote: %s", out);
    ck_assert(strstr(out, "system bytes") != NULL);
    ck_assert(strstr(out, "in use bytes") != NULL);
    ck_assert(strstr(out, "Total (incl. mmap):") != NULL);
    ck_assert(strstr(out, "max mmap regions") != NULL);
    liballoc_free(p);
    liballoc_free(m);
}
END_TEST

/* glibc 2.36: malloc_info(0, fp) writes <malloc version="1"> XML with a <heap nr="0">
 * element per arena; options != 0 is refused with EINVAL (glibc returns EINVAL
 * itself; the man page says -1 with errno EINVAL: either is accepted). */
START_TEST(malloc_info_output)
{
    void *p = liballoc_malloc(1000), *m = liballoc_malloc(1 * MiB);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(liballoc_malloc_info(0, f), 0);
    fflush(f);
    long n = ftell(f);
    ck_assert_int_gt(n, 0);
    char *buf = calloc(1, (size_t)n + 1);    /* system malloc: the runner's */
    rewind(f);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    ck_assert_msg(strncmp(buf, "<malloc version=\"1\">", 20) == 0, "malloc_info wrote: %.200s", buf);
    ck_assert(strstr(buf, "<heap nr=\"0\">") != NULL);
    ck_assert(strstr(buf, "</malloc>") != NULL);
    ck_assert(strstr(buf, "<system type=\"current\"") != NULL);
    free(buf);

    f = tmpfile();
    errno = 0;
    int r = liballoc_malloc_info(1, f);
    ck_assert_msg(r == EINVAL || (r == -1 && errno == EINVAL), "malloc_info(1) = %d errno %d", r, errno);
    fflush(f);
    ck_assert_int_eq(ftell(f), 0);
    fclose(f);
    liballoc_free(p);
    liballoc_free(m);
}
END_TEST

static void *thr_touch(void *arg)
{
    void **out = arg;
    *out = liballoc_malloc(5000);
    return NULL;
}

static void call_malloc_stats2(void) { liballoc_malloc_stats(); }

/* glibc 2.36: with a second arena, malloc_stats prints "Arena 1:" and malloc_info a
 * <heap nr="1"> element; mallinfo2's arena counts the system bytes of both. */
START_TEST(stats_with_two_arenas)
{
    void *p = liballoc_malloc(1000), *q = NULL;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, thr_touch, &q), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(q);
    ck_assert(la_non_main_arena(t_chunk(q)->size));
    const char *out = capture_stderr(call_malloc_stats2);
    ck_assert_msg(strstr(out, "Arena 0:") && strstr(out, "Arena 1:"), "malloc_stats wrote: %s", out);
    FILE *f = tmpfile();
    ck_assert_int_eq(liballoc_malloc_info(0, f), 0);
    fflush(f);
    long n = ftell(f);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(f);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    ck_assert(strstr(buf, "<heap nr=\"0\">") != NULL);
    ck_assert_msg(strstr(buf, "<heap nr=\"1\">") != NULL, "malloc_info wrote: %.400s", buf);
    free(buf);
    struct la_arena *a1 = t_main_arena()->next;
    ck_assert_ptr_nonnull(a1);
    struct mallinfo2 mi = liballoc_mallinfo2();
    ck_assert_uint_eq(mi.arena, t_main_arena()->system_mem + a1->system_mem);
    liballoc_free(q);
    liballoc_free(p);
}
END_TEST

/* glibc 2.36: malloc_trim returns 1 when it released memory: here whole free pages
 * inside a big free chunk that is not next to top (MADV_DONTNEED). */
START_TEST(malloc_trim_return)
{
    void *v[30], *g;
    for (int i = 0; i < 30; i++)
        v[i] = liballoc_malloc(64 * KiB);
    g = liballoc_malloc(16);                    /* keeps the freed run off top */
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < 30; i++)
        liballoc_free(v[i]);
    ck_assert_int_eq(liballoc_malloc_trim(0), 1);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    /* The memory is still usable after its pages were given back. */
    void *p = liballoc_malloc(1 * MiB / 2);
    ck_assert_ptr_nonnull(p);
    memset(p, 3, 1 * MiB / 2);
    liballoc_free(p);
    liballoc_free(g);
}
END_TEST


static Suite *suite_api(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("edges");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, malloc_too_big);
    tcase_add_test(tc, malloc_zero);
    tcase_add_test(tc, unmappable_sizes_fail_cleanly);
    tcase_add_test(tc, calloc_overflow);
    tcase_add_test(tc, calloc_zeroes_reused_memory);
    tcase_add_test(tc, reallocarray_overflow);
    tcase_add_test(tc, realloc_null);
    tcase_add_test(tc, realloc_zero_frees);
    tcase_add_test(tc, realloc_failure_keeps_block);
    tcase_add_test(tc, memalign_edges);
    tcase_add_test(tc, posix_memalign_edges);
    tcase_add_test(tc, aligned_alloc_edges);
    tcase_add_test(tc, pvalloc_valloc_edges);
    tcase_add_test(tc, usable_size);
    tcase_add_test(tc, free_null_and_errno);
    suite_add_tcase(s, tc);

    tc = tcase_create("control");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, t_glibc_options, NULL);
    tcase_add_test(tc, mallopt_values);
    tcase_add_test(tc, mallopt_perturb);
    tcase_add_test(tc, mallinfo2_fields);
    tcase_add_test(tc, malloc_stats_output);
    tcase_add_test(tc, malloc_info_output);
    tcase_add_test(tc, stats_with_two_arenas);
    tcase_add_test(tc, malloc_trim_return);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_SUITE(suite_api)
