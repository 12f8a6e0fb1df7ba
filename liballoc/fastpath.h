/*
 * liballoc/fastpath.h - the inline tcache hit paths of malloc and free.
 *
 * Included by malloc.c (liballoc_malloc/liballoc_free) and override.c
 * (malloc/free), so both names get the hit path inline with no call.  No lock,
 * no atomic instruction, no statistics: a TLS load, a bounds check, a list pop
 * or push.  Anything else (first call, empty bin, full bin, key collision,
 * debugging options) goes to the noinline slow paths in malloc.c.
 */
#ifndef LIBALLOC_FASTPATH_H
#define LIBALLOC_FASTPATH_H

#include "internal.h"

LA_INLINE void *la_malloc_inline(size_t n)
{
    if (la_likely(n <= la_g.fast_max_req)) {
        struct la_tcache *tc = la_tc;                 /* never NULL: LA_TC_NONE */
        size_t idx = n < 9 ? 0 : (n - 9) >> 4;     /* la_tcache_index(la_request2size(n)) */
        struct la_tcache_entry *e = tc->entries[idx];
        if (la_likely(e != NULL)) {
            uintptr_t next = la_reveal_ptr((uintptr_t)&e->next, e->next);
            if (la_likely(la_aligned(next))) {
                tc->entries[idx] = (struct la_tcache_entry *)next;
                tc->counts[idx]--;
                e->key = 0;
                return e;
            }
        }
    }
    return la_malloc_slow(n);
}

LA_INLINE void la_free_inline(void *mem)
{
    if (la_unlikely(mem == NULL)) return;
    /* keep IS_MMAPPED: a set bit fails the alignment test below, so an
     * mmapped (or corrupted) chunk always takes the slow path */
    size_t size = mem2ck(mem)->size & ~(size_t)(LA_PREV_INUSE | LA_NON_MAIN_ARENA);
    size_t idx = (size - 17) >> 4;                   /* la_tcache_index(size); huge if size < 17 */
    if (la_likely(idx < la_g.fast_bins && (((uintptr_t)mem | size) & LA_ALIGN_MASK) == 0)) {
        struct la_tcache *tc = la_tc;
        struct la_tcache_entry *e = mem;
        uint64_t key = la_g.tc_key;
        if (la_likely(tc->counts[idx] < la_g.tc_count && e->key != key)) {
            /* two plain stores (volatile keeps gcc from pairing them through SSE) */
            *(volatile uint64_t *)&e->key = key;
            e->next = la_protect_ptr((uintptr_t)&e->next, (uintptr_t)tc->entries[idx]);
            tc->entries[idx] = e;
            tc->counts[idx]++;
            return;
        }
    }
    la_free_slow(mem);
}

#endif
