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

/* ++*c as one read-modify-write instruction: gcc otherwise reloads and
 * re-stores the count it has just compared (two more instructions). */
LA_INLINE void la_count_inc(uint16_t *c)
{
#if defined(__x86_64__)
    __asm__("addw $1, %0" : "+m"(*c) : : "cc");
#else
    ++*c;
#endif
}

LA_INLINE void *la_malloc_inline(size_t n)
{
    if (la_likely(n <= la_g.fast_max_req)) {
        struct la_tcache *tc = la_tc;                 /* never NULL: LA_TC_NONE */
        /* la_tcache_index(la_request2size(n)): u = (n + 7) / 16 sixteen-byte
         * units beyond the header, and requests of 0..24 bytes share bin 0;
         * max(u, 1) - 1 written so that gcc emits cmp/adc, not a branch or cmov */
        size_t u = (n + 7) >> 4;
        size_t idx = u - 1 + (u < 1);
        struct la_tcache_entry *e = tc->entries[idx];
        if (la_likely(e != NULL)) {
#if LA_HARDEN_EXTRA
            /* the entry itself must be in a heap (it may come from a poisoned
             * next pointer or a tampered entries[]): aligned and in a window
             * (the thread's own arena through its tcache, any non-main heap
             * through la_wintab, the main arena) */
            if (la_likely(la_any_win_ok(tc, (uintptr_t)e))) {
                tc->entries[idx] = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next);
#else
            uintptr_t next = la_reveal_ptr((uintptr_t)&e->next, e->next);
            if (la_likely(la_aligned(next))) {
                tc->entries[idx] = (struct la_tcache_entry *)next;
#endif
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
#if LA_HARDEN_EXTRA
    /* ownership filter before any read of the chunk (see internal.h); NULL
     * fails it and is handled by the slow path */
    struct la_tcache *tc = la_tc;
    if (la_unlikely(!la_any_win_ok(tc, (uintptr_t)mem)))
        goto slow;
    {
        /* keep IS_MMAPPED: a set bit makes idx huge (ror), so an mmapped (or
         * corrupted) chunk takes the slow path; so does a size below 32 */
        size_t size = mem2ck(mem)->size & ~(size_t)(LA_PREV_INUSE | LA_NON_MAIN_ARENA);
        size_t idx = la_ror4(size - LA_MINSIZE);         /* la_tcache_index(size) */
        /* the next chunk must say this one is in use (house of botcake, a
         * chunk already coalesced into a free neighbour, a bad size) */
        if (la_likely(idx < la_g.fast_bins && (ck_at(mem2ck(mem), size)->size & LA_PREV_INUSE))) {
#else
    if (la_unlikely(mem == NULL)) return;
    {
        /* keep IS_MMAPPED: a set bit fails the alignment test below, so an
         * mmapped (or corrupted) chunk always takes the slow path */
        size_t size = mem2ck(mem)->size & ~(size_t)(LA_PREV_INUSE | LA_NON_MAIN_ARENA);
        size_t idx = (size - 17) >> 4;                   /* la_tcache_index(size); huge if size < 17 */
        if (la_likely(idx < la_g.fast_bins && (((uintptr_t)mem | size) & LA_ALIGN_MASK) == 0)) {
            struct la_tcache *tc = la_tc;
#endif
            struct la_tcache_entry *e = mem;
            uint64_t key = la_g.tc_key;
            if (la_likely(tc->counts[idx] < la_g.tc_count && e->key != key)) {
                /* two plain stores (volatile keeps gcc from pairing them through SSE) */
                *(volatile uint64_t *)&e->key = key;
                e->next = la_protect_ptr((uintptr_t)&e->next, (uintptr_t)tc->entries[idx]);
                tc->entries[idx] = e;
                la_count_inc(&tc->counts[idx]);
                return;
            }
#if LA_HARDEN_EXTRA
            /* full bin or key: the pointer is already known to be in a heap */
            la_free_slow_inheap(mem);
            return;
#endif
        }
    }
#if LA_HARDEN_EXTRA
slow:
#endif
    la_free_slow(mem);
}

#endif
