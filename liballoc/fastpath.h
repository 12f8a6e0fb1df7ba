/*
 * liballoc/fastpath.h - the inline tcache hit paths of malloc and free.
 *
 * Included by malloc.c (liballoc_malloc/liballoc_free) and override.c
 * (malloc/free), so both names get the hit path inline with no call.  No lock,
 * no atomic instruction, no statistics: a TLS load, a bounds check, a list pop
 * or push.  Anything else (first call, empty bin, full bin, key collision,
 * debugging options) goes to the noinline slow paths in malloc.c.
 *
 * With the extra checks (LA_HARDEN_EXTRA) a pointer is used only once it lies
 * in an ownership window (internal.h, la_any_win_ok): the thread's own arena,
 * or a window of another arena that the thread copied into its tcache's table
 * (la_tc_dm_ok).  A pointer in neither goes, by a tail call, to
 * la_malloc_lookup / la_free_lookup, which look it up in the global windows
 * (la_win_lookup: window table, main arena; the match is copied) and then finish the same
 * hit path (the *_owned helpers below, instantiated there too) or take the slow
 * path.  A call inside the inline paths would make gcc save registers on every
 * hit; a tail call does not.
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

/* --*c likewise (gcc may otherwise load, decrement and store: 3 instructions) */
LA_INLINE void la_count_dec(uint16_t *c)
{
#if defined(__x86_64__)
    __asm__("subw $1, %0" : "+m"(*c) : : "cc");
#else
    --*c;
#endif
}

/* Push mem (a chunk of tcache bin idx) when the bin has room and mem does
 * not carry the tcache key (else the slow path: full bin, or a possible
 * double free).  1 when pushed. */
LA_INLINE int la_tc_push_try(struct la_tcache *tc, void *mem, size_t idx)
{
    struct la_tcache_entry *e = mem;
    uint64_t key = la_g.tc_key;
    if (la_likely(tc->counts[idx] < tc->limit[idx] && e->key != key)) {
        /* two plain stores (volatile keeps gcc from pairing them through SSE) */
        *(volatile uint64_t *)&e->key = key;
        e->next = la_protect_ptr((uintptr_t)&e->next, (uintptr_t)tc->entries[idx]);
        tc->entries[idx] = e;
        la_count_inc(&tc->counts[idx]);
        return 1;
    }
    return 0;
}

/* tc->entries[idx] for a request of n bytes: la_tcache_index(la_request2size(n)).
 * u = (n + 7) / 16 sixteen-byte units beyond the header, and requests of
 * 0..24 bytes share bin 0; max(u, 1) - 1 written so that gcc emits no branch. */
LA_INLINE size_t la_req_tcache_idx(size_t n)
{
    size_t u = (n + 7) >> 4;
    return u - 1 + (u < 1);
}

#if LA_HARDEN_EXTRA
/* Pop entry e (known to lie in a heap) from bin idx. */
LA_INLINE void *la_tc_pop_owned(struct la_tcache *tc, size_t idx, struct la_tcache_entry *e)
{
    /* la_tc_take_head, with the decrement as one instruction */
    tc->entries[idx] = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next);
    la_count_dec(&tc->counts[idx]);
    e->key = 0;
    return e;
}

/* free(mem) for a pointer known to lie in a heap's ownership window. */
LA_INLINE void la_free_owned(struct la_tcache *tc, void *mem)
{
    /* keep IS_MMAPPED: a set bit makes idx huge (ror), so an mmapped (or
     * corrupted) chunk takes the slow path; so does a size below 32 */
    size_t size = mem2ck(mem)->size & ~(size_t)(LA_PREV_INUSE | LA_NON_MAIN_ARENA);
    size_t idx = la_ror4(size - LA_MINSIZE);         /* la_tcache_index(size) */
    /* the next chunk must say this one is in use (house of botcake, a
     * chunk already coalesced into a free neighbour, a bad size) */
    if (la_likely(idx < la_g.fast_bins && (ck_at(mem2ck(mem), size)->size & LA_PREV_INUSE))) {
        if (la_likely(la_tc_push_try(tc, mem, idx))) return;
        /* full bin or key: the pointer is already known to be in a heap */
        la_free_slow_inheap(mem);
        return;
    }
    la_free_slow(mem);
}
#endif

LA_INLINE void *la_malloc_inline(size_t n)
{
    if (la_likely(n <= la_g.fast_max_req)) {
        struct la_tcache *tc = la_tc;                 /* never NULL: LA_TC_NONE */
        size_t idx = la_req_tcache_idx(n);
        struct la_tcache_entry *e = tc->entries[idx];
#if LA_HARDEN_EXTRA
        /* the entry itself must be in a heap (it may come from a poisoned
         * next pointer or a tampered entries[]).  An empty bin's NULL fails
         * every window (none starts at 0), so it is tested only after the
         * own window's test failed (2 fewer instructions on every hit), and
         * before the copied windows' (an empty bin, a producer's usual case,
         * is more frequent than a hit in another arena's chunk) */
        if (la_likely(la_tc_win_ok(tc, (uintptr_t)e))) return la_tc_pop_owned(tc, idx, e);
        if (e == NULL) return la_malloc_slow(n);
        if (la_likely(la_tc_dm_ok(tc, (uintptr_t)e))) return la_tc_pop_owned(tc, idx, e);
        return la_malloc_lookup(n, tc, idx, e);
#else
        if (la_likely(e != NULL)) {
            uintptr_t next = la_reveal_ptr((uintptr_t)&e->next, e->next);
            if (la_likely(la_aligned(next))) return la_tc_take_head(tc, idx, e, next);
        }
#endif
    }
    return la_malloc_slow(n);
}

LA_INLINE void la_free_inline(void *mem)
{
#if LA_HARDEN_EXTRA
    /* ownership filter before any read of the chunk (see internal.h); NULL
     * fails it and is handled by the slow path */
    struct la_tcache *tc = la_tc;
    if (la_likely(la_any_win_ok(tc, (uintptr_t)mem))) {
        la_free_owned(tc, mem);
        return;
    }
    la_free_lookup(tc, mem);
#else
    if (la_unlikely(mem == NULL)) return;
    /* keep IS_MMAPPED: a set bit fails the alignment test below, so an
     * mmapped (or corrupted) chunk always takes the slow path */
    size_t size = mem2ck(mem)->size & ~(size_t)(LA_PREV_INUSE | LA_NON_MAIN_ARENA);
    size_t idx = (size - 17) >> 4;                   /* la_tcache_index(size); huge if size < 17 */
    if (la_likely(idx < la_g.fast_bins && (((uintptr_t)mem | size) & LA_ALIGN_MASK) == 0)) {
        if (la_likely(la_tc_push_try(la_tc, mem, idx))) return;
    }
    la_free_slow(mem);
#endif
}

#endif
