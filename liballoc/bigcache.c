/*
 * liballoc/bigcache.c - the big-chunk cache: a second, per-thread cache level
 * for freed chunks of LA_BC_MIN_CHUNK (just above the largest tcache chunk)
 * to LA_BC_MAX_CHUNK bytes (a 64 KiB request).
 *
 * Why.  Requests of 1 KiB .. 64 KiB never reach the tcache, and in a heap
 * where such blocks are allocated and freed at random (bench randmix) every
 * one of them went through the arena: lock, unsorted-bin sorting, best-fit
 * search in the large bins, split, and on free the coalescing back into the
 * unsorted bin, about 400 instructions per call.  Here a free of such a chunk
 * keeps it, still "in use" by its boundary tags as a tcache chunk is, and a
 * later malloc of a size of the same class takes it back without a lock.
 *
 * How data flows.  The cache is part of the thread's struct la_tcache
 * (shared/debug_abi.h, ABI 5), i.e. in liballoc's metadata pages outside the
 * heap: per class c = la_bc_class(size) (8 classes per power of two) up to
 * LA_BC_WAYS slots, each a chunk address and its size, slots 0..bc_count[c]-1
 * used, plus the bytes cached (bc_bytes, capped by tunables.bigcache_bytes,
 * LIBALLOC_OPTIONS bigcache=BYTES, 0 = off) and a bound on the chunks' ends
 * (bc_hi).  free (malloc.c, once free's ownership, address and size checks
 * passed) calls la_bc_put: only a chunk of the thread's own arena, in its
 * arena's newest segment (the thread's ownership window) and not next to top
 * (so that it would have merged into top: it goes to the arena instead); its
 * next chunk is checked as glibc's free checks it; all of the class's slots
 * are compared with the chunk (SSE2; free slots hold 0: a double free is
 * found even if the key was wiped).  A full class gives up its smallest chunk
 * to the arena when the new one is larger (first asked with 4 compares:
 * usually none is smaller), else the new one
 * goes to the arena; so does a chunk that would pass the byte cap.  malloc
 * (la_malloc_slow, a request beyond the tcache) rounds nb up to its class's
 * largest chunk size (la_bc_round: at most 1/8 more), so that the chunks of a
 * class normally have one size, and calls la_bc_take when the class has
 * slots: the newest cached chunk (or, if it is too small, e.g. a chunk cut by
 * memalign or calloc at its exact size, the smallest that fits) is removed,
 * checked (own window, size field, key) and returned whole; on a miss the
 * arena serves the rounded size.  A chunk that left the thread's window
 * (the thread moved to another arena, or a new segment) is freed to its arena
 * instead.
 *
 * Giving memory back.  A cached chunk pins the heap like any block in use.
 * Chunks next to top are never cached, and when a free coalesces 64 KiB or
 * more (the point where the arena may trim), cached chunks of this thread
 * that now border top go back to the arena first (la_bc_flush_top, repeated
 * while top moves down onto another one).  malloc_trim and thread exit empty
 * the thread's cache (la_bc_flush).
 */
#include "internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* slot i of class c out: the last slot moves into it */
LA_INLINE void bc_remove(struct la_tcache *tc, unsigned c, unsigned i)
{
    unsigned last = (unsigned)tc->bc_count[c] - 1u;
    tc->bc_bytes -= tc->bc_size[c][i];
    tc->bc_chunk[c][i] = tc->bc_chunk[c][last];
    tc->bc_size[c][i] = tc->bc_size[c][last];
    tc->bc_chunk[c][last] = 0;          /* free slots hold 0 (la_bc_put's scan) */
    tc->bc_count[c] = (uint8_t)last;
}

/* one of a class's LA_BC_WAYS slots (free ones hold 0) is x: all compared,
 * two at a time, with no branch per slot (a loop bounded by the class's
 * count mispredicted its exit on most puts) */
static inline int bc_slots_hold(const uint64_t *slot, uint64_t x)
{
#if defined(__SSE2__)
    __m128i xv = _mm_set1_epi64x((long long)x), acc = _mm_setzero_si128();
    for (unsigned i = 0; i < LA_BC_WAYS; i += 2) {
        __m128i e = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(slot + i)), xv);
        /* a 64-bit slot is equal when both its 32-bit halves are */
        acc = _mm_or_si128(acc, _mm_and_si128(e, _mm_shuffle_epi32(e, _MM_SHUFFLE(2, 3, 0, 1))));
    }
    return _mm_movemask_epi8(acc) != 0;
#else
    uint64_t hit = 0;
    for (unsigned i = 0; i < LA_BC_WAYS; i++) hit |= slot[i] == x;
    return hit != 0;
#endif
}

/* one of a full class's LA_BC_WAYS sizes is below size (else the new chunk
 * would not replace any: the common case, as a class's chunks normally have
 * its one size), without the search for the smallest */
static inline int bc_any_smaller(const uint32_t *sizes, uint32_t size)
{
#if defined(__SSE2__)
    __m128i sv = _mm_set1_epi32((int)size), acc = _mm_setzero_si128();   /* sizes < 2^31: signed compare */
    for (unsigned i = 0; i < LA_BC_WAYS; i += 4)
        acc = _mm_or_si128(acc, _mm_cmpgt_epi32(sv, _mm_loadu_si128((const __m128i *)(sizes + i))));
    return _mm_movemask_epi8(acc) != 0;
#else
    unsigned any = 0;
    for (unsigned i = 0; i < LA_BC_WAYS; i++) any |= sizes[i] < size;
    return any != 0;
#endif
}

/* a chunk that was cached goes to its arena (no lock held) */
static void bc_release(la_chunk *p, size_t size)
{
    struct la_segment *seg = NULL;
    struct la_arena *av = la_heap_owner((uintptr_t)ck2mem(p), &seg);
    if (!av) la_fatal_ns("free(): corrupted big-chunk cache entry", ck2mem(p));
    if (ck_size(p) != size) la_fatal("free(): corrupted big-chunk cache entry", ck2mem(p), p->size);
    ((struct la_tcache_entry *)ck2mem(p))->key = 0;
    la_int_free(av, p, 0);
}

int la_bc_put(struct la_tcache *tc, struct la_arena *owner, la_chunk *p, size_t size)
{
    uint64_t cap = la_g.bc_cap;
    if (!tc || !cap || owner != tc->arena || !la_bc_range(size)) return 0;
    void *mem = ck2mem(p);
    if (!la_win_ok(owner, (uintptr_t)mem)) return 0;
    la_chunk *next = ck_at(p, size);
    /* next == top: the chunk merges into top (trimmable); beyond top: a bad
     * size, left to the arena's checks */
    if ((uintptr_t)next >= (uintptr_t)__atomic_load_n(&owner->top, __ATOMIC_RELAXED)) return 0;
    if (la_unlikely(!(next->size & LA_PREV_INUSE)))
        la_fatal("double free or corruption (!prev)", mem, p->size);
    if (la_unlikely(next->size <= LA_CHUNK_HDR || ck_size(next) >= owner->system_mem))
        la_fatal("free(): invalid next size (normal)", mem, p->size);
    unsigned c = la_bc_class(size);
    struct la_tcache_entry *e = mem;
    /* double free: the class's slots are scanned on every put (metadata
     * only), so wiping the key in the freed chunk does not hide one.  All
     * LA_BC_WAYS of them, with no branch per slot (free slots hold 0, never
     * a chunk): a loop bounded by the count cost a mispredicted exit per put */
    if (la_unlikely(bc_slots_hold(tc->bc_chunk[c], (uintptr_t)p)))
        la_fatal("free(): double free detected in tcache 2", mem, p->size);
    if (tc->bc_bytes + size > cap) return 0;
    unsigned n = tc->bc_count[c];
    if (n == LA_BC_WAYS) {
        if (!bc_any_smaller(tc->bc_size[c], (uint32_t)size)) return 0;
        unsigned s = 0;
        for (unsigned i = 1; i < n; i++)
            if (tc->bc_size[c][i] < tc->bc_size[c][s]) s = i;
        if (tc->bc_size[c][s] >= size) return 0;
        la_chunk *victim = (la_chunk *)(uintptr_t)tc->bc_chunk[c][s];
        size_t vsize = tc->bc_size[c][s];
        bc_remove(tc, c, s);
        bc_release(victim, vsize);
        n = tc->bc_count[c];
    }
    e->key = la_g.tc_key;
    tc->bc_chunk[c][n] = (uintptr_t)p;
    tc->bc_size[c][n] = (uint32_t)size;
    tc->bc_count[c] = (uint8_t)(n + 1u);
    tc->bc_bytes += size;
    if ((uintptr_t)next > tc->bc_hi) tc->bc_hi = (uintptr_t)next;
    return 1;
}

void *la_bc_take(struct la_tcache *tc, size_t nb)
{
    unsigned c = la_bc_class(nb), n = tc->bc_count[c], best = n - 1u;
    uint32_t bs = tc->bc_size[c][best];
    if (la_unlikely(bs < nb)) {
        /* the newest does not fit (a chunk cached at another size than its
         * class's one, e.g. cut by realloc): the smallest that does */
        best = LA_BC_WAYS;
        bs = UINT32_MAX;
        for (unsigned i = 0; i < n; i++) {
            uint32_t s = tc->bc_size[c][i];
            if (s >= nb && s < bs) { bs = s; best = i; }
        }
        if (best == LA_BC_WAYS) return NULL;
    }
    la_chunk *p = (la_chunk *)(uintptr_t)tc->bc_chunk[c][best];
    bc_remove(tc, c, best);
    void *mem = ck2mem(p);
    if (la_unlikely(!tc->arena || !la_win_ok(tc->arena, (uintptr_t)mem))) {
        bc_release(p, bs);             /* not (or no longer) in this thread's arena window */
        return NULL;
    }
    struct la_tcache_entry *e = mem;
    if (la_unlikely((p->size & ~(size_t)LA_PREV_INUSE) != (bs | la_arena_bit(tc->arena)) ||
                    e->key != la_g.tc_key))
        la_fatal("malloc(): corrupted big-chunk cache entry", mem, p->size);
    e->key = 0;
    return mem;
}

void la_bc_flush(struct la_tcache *tc)
{
    if (!tc) return;
    for (unsigned c = 0; c < LA_BC_CLASSES; c++)
        while (tc->bc_count[c]) {
            unsigned i = tc->bc_count[c] - 1u;
            la_chunk *p = (la_chunk *)(uintptr_t)tc->bc_chunk[c][i];
            size_t size = tc->bc_size[c][i];
            bc_remove(tc, c, i);
            bc_release(p, size);
        }
    tc->bc_hi = 0;
}

void la_bc_flush_top(struct la_arena *av)
{
    struct la_tcache *tc = la_tc_get();
    if (!tc || tc->arena != av) return;
    for (;;) {
        uintptr_t top = (uintptr_t)av->top, hi = 0;
        int found = 0;
        for (unsigned c = 0; c < LA_BC_CLASSES && !found; c++)
            for (unsigned i = 0; i < tc->bc_count[c]; i++) {
                uintptr_t p = tc->bc_chunk[c][i], end = p + tc->bc_size[c][i];
                if (end == top && la_win_ok(av, p + LA_CHUNK_HDR)) {
                    la_chunk *ck = (la_chunk *)p;
                    if (ck_size(ck) != tc->bc_size[c][i])
                        la_fatal_arena(av, "free(): corrupted big-chunk cache entry", ck2mem(ck), ck->size);
                    bc_remove(tc, c, i);
                    ((struct la_tcache_entry *)ck2mem(ck))->key = 0;
                    la_int_free(av, ck, 2);     /* merges into top; the caller trims */
                    found = 1;
                    break;
                }
                if (end > hi) hi = end;
            }
        if (!found) {
            tc->bc_hi = hi;
            return;
        }
    }
}
