/*
 * liballoc/malloc.c - public entry points and dispatch.
 *
 * How a request flows.  malloc(n) first tries the calling thread's tcache
 * (fastpath.h: no lock, no atomics): a request of up to tcache_max bytes maps to
 * one of 64 tcache bins and pops its first entry.  A request of 1 KiB .. 64 KiB
 * is rounded up to its size class and served from the thread's big-chunk
 * cache when that class holds a chunk (bigcache.c; free puts such chunks of
 * the thread's own arena there).  A miss that needs nothing
 * but the arena (an empty tcache bin or a request beyond it, no debugging
 * option) goes from la_malloc_slow straight to la_int_malloc; otherwise
 * la_malloc_slow (malloc_slow_rest)
 * initialises liballoc if needed, creates the thread's tcache, rejects sizes
 * above PTRDIFF_MAX (ENOMEM), normalises n to a chunk size nb and locks the
 * thread's arena (arena.c; a busy lock makes the thread move to another arena).
 * la_int_malloc (bins.c) then tries, in order: the fastbin of nb (refilling the
 * tcache from the same bin), the small bin of nb, the unsorted bin (exact fits
 * are returned or cached; the last remainder is split for small requests;
 * everything else is sorted into small/large bins, at most 10000 per call),
 * for large requests the best fit in nb's large bin, then the binmap to find the
 * smallest non-empty larger bin (split, remainder to unsorted), then the top
 * chunk (after 32 arena allocations for one tcache bin, the same split of top
 * also fills that bin: batch refill, one lock per tcache_count chunks), and
 * finally la_sysmalloc (sysmem.c): an own mmap for nb >=
 * mmap_threshold, else grow top (sbrk for the main arena, mprotect of the heap
 * or a new heap for the others).  If that arena is out of memory another one is
 * tried.
 *
 * How a free flows.  free(p) puts p's chunk in the thread's tcache when its
 * size has a tcache bin with room (a chunk carrying the tcache key is first
 * checked for a double free).  A chunk of another thread's arena that finds
 * the bin full (or no tcache: one is made) goes back with that bin's chunks
 * of the same arena, as one chain pushed onto that arena's lock-free remote
 * list (remote_free, remote.c); the arena's next locked malloc frees them.  A
 * chunk of the thread's own arena that finds a bin full which grew beyond 7
 * entries (and that no malloc found empty since) goes to the arena with the
 * newest half of that bin, under one lock (la_tcache_flush, bins.c).
 * Otherwise la_free_slow validates the pointer,
 * unmaps mmapped chunks (raising the dynamic mmap threshold), and hands the
 * chunk to its owning arena (NON_MAIN_ARENA bit -> heap -> arena): la_int_free
 * pushes small chunks on a fastbin, and coalesces the others with free
 * neighbours into the unsorted bin or into top; a coalesced chunk of 64 KiB or
 * more consolidates the fastbins and may trim top (sbrk down, or MADV_DONTNEED
 * and unmapping of emptied heaps) down to top_pad plus a reserve that grows
 * when the arena regrows right after a trim (la_auto_trim, sysmem.c); if that
 * region stays below top and the thread's tcache holds batch-refilled chunks
 * (la_t_carved), its cached chunks of the arena go back first (bins.c
 * drain_tcache), so batch-refilled chunks do not pin the heap.
 * While the process is single-threaded the arena locks are plain stores.
 *
 * How a realloc flows.  An mmapped chunk is resized with mremap.  A heap
 * chunk is resized under its arena's lock (la_int_realloc, bins.c), as glibc's
 * _int_realloc does: in place when top or a free next chunk has room, else
 * moved to a chunk from la_int_malloc (never from the tcache; no copy when
 * that chunk is the one right after, when top grew); the old chunk and any
 * tail cut off go where glibc's _int_free puts them (the tcache when the bin
 * has room, else the arena).  Where blocks land decides how often a growing
 * block must move again, so this order is kept.  Unlike glibc, a block that
 * moves or grows into top gets slack (its old size, at most its new size
 * again; below the mmap threshold), and a tail smaller than what stays is kept rather than
 * split off, so a growing block moves O(log n) times; a realloc that finds
 * its chunk already big enough (and not twice too big) only checks the next
 * chunk's size under the lock and returns.  Only
 * when the arena is out of memory does realloc fall back to malloc (another
 * arena), copy, free.
 *
 * Tracing (trace.c, LIBALLOC_OPTIONS trace/history/sites/step).  The options
 * set the inline limits to 0, so every call reaches a slow path here; each
 * public entry's slow path hands the call to la_traced_*() (LA_TRACE_ENTRY),
 * which runs the same slow path again with la_t_tracing set, while bins.c,
 * sysmem.c and this file note the path taken (LA_NOTE), and then publishes the
 * record, the history slot and the allocation site.  Without the options the
 * inline paths are unchanged and each slow entry pays one not-taken branch.
 *
 * Where the hardening sits (internal.h "hardening", man liballoc(3) SECURITY).
 * Nothing is read from a pointer handed to free or realloc before it is known
 * to lie in liballoc's memory: the inline free tests it against the ownership
 * windows (this thread's free window, then its copies of other arenas'
 * windows; out of line the window table la_wintab, one entry per 64 MiB slot,
 * and the main arena's windows) before reading the header, then also
 * requires the next chunk's PREV_INUSE; the inline malloc tests the tcache
 * entry it is about to return the same way (own window, copies).  Whatever fails goes to the slow paths, which decide with the
 * full check (owner_or_die: segments, heap map, mmap registry) and abort with
 * glibc's message where glibc has one.  Inside the arena (bins.c) every link
 * that is followed or written through must stay in the arena; fastbin chunks
 * carry the tcache key so a double free below a fastbin's head is found.  All
 * aborts go through la_fatal (check.c), which names the function, the pointer
 * and, when it could be read safely, the chunk size.
 */
#include <sys/mman.h>

#include "fastpath.h"

#define LA_ALIAS(name) __attribute__((alias(#name), visibility("default")))

/* ---- slow paths ------------------------------------------------------------------ */

LA_INLINE void maybe_check(void)
{
    if (la_unlikely(la_dbg.tunables.check)) la_periodic_check();
}

LA_INLINE void alloc_perturb(void *mem, size_t n)
{
    if (la_unlikely(la_dbg.tunables.perturb))
        memset(mem, (int)(la_dbg.tunables.perturb ^ 0xff) & 0xff, n);
}

LA_INLINE struct la_tcache *my_tcache(void)
{
    struct la_tcache *tc = la_tc_get();
    if (la_unlikely(!tc) && la_t_state == LA_T_FRESH) tc = la_tcache_create();
    return tc;
}

/* Allocate chunk size nb from an arena (not the tcache).  Inline: with the
 * lock fast path it saves two call frames per arena allocation. */
LA_INLINE void *arena_malloc(size_t nb)
{
    struct la_arena *av = la_arena_lock_mine_fast();
    void *m = la_int_malloc(av, nb);
    la_arena_unlock(av);
    if (la_unlikely(!m)) {
        struct la_arena *alt = la_arena_retry(av);
        if (alt) {
            m = la_int_malloc(alt, nb);
            la_arena_unlock(alt);
        }
    }
    return m;
}

#define LA_CARVE_AFTER 32
LA_TLS int la_t_carve;
static LA_TLS uint8_t la_t_miss[LA_TCACHE_BINS];   /* arena allocations per tcache bin, up to LA_CARVE_AFTER */

static LA_NOINLINE void *malloc_slow_rest(size_t n, void *ra);

/* An arena allocation for tcache bin idx, which was empty: mark the bin missed
 * (it may grow, la_tc_grow) and count the miss for the batch refill; 1 when
 * this allocation should carve the bin's refill (la_t_carve). */
LA_INLINE int tcache_missed(struct la_tcache *tc, size_t idx)
{
    la_tc_missed(tc, idx);
    if (la_t_miss[idx] >= LA_CARVE_AFTER) return 1;
    la_t_miss[idx]++;
    return 0;
}

/* A request of *nb bytes in the big-chunk cache's range (bigcache.c): rounded
 * up to its class's one chunk size (also for the arena, on a miss), then a
 * cached chunk of the class if there is one. */
LA_INLINE void *bigcache_take(struct la_tcache *tc, size_t *nb)
{
    *nb = la_bc_round(*nb);
    return tc->bc_count[la_bc_class(*nb)] ? la_bc_take(tc, *nb) : NULL;
}

/* The inline malloc missed.  The common cases here, from a thread that has a
 * tcache and with no option that watches malloc (trace, check, perturb) set:
 * a request too big for the tcache, or an empty tcache bin (counted for the
 * batch refill, see malloc_slow_rest), go straight to the arena in one small
 * frame: the lock fast path, la_int_malloc.  Everything else (first call, a
 * thread without tcache, options, an entry the inline path refused, out of
 * memory) is malloc_slow_rest. */
LA_NOINLINE void *la_malloc_slow(size_t n)
{
    la_t_fn = "malloc";
    struct la_tcache *tc = la_tc;
    if (la_likely(n <= PTRDIFF_MAX && la_g.init_state >= 2 && tc != LA_TC_NONE &&
                  !(la_dbg.trace.flags | la_dbg.tunables.check | la_dbg.tunables.perturb))) {
        size_t nb = la_request2size(n);
        size_t idx = la_tcache_index(nb);
        if (idx < la_g.tc_bins) {
            if (tc->entries[idx]) goto rest;
            la_t_carve = tcache_missed(tc, idx);
        } else if (la_bc_range(nb) && la_g.bc_cap) {
            void *m = bigcache_take(tc, &nb);
            if (m) return m;
        }
        struct la_arena *av = la_arena_lock_mine_fast();
        if (idx < la_g.tc_bins && tc->entries[idx]) {
            /* the remote-free drain that locking ran refilled this bin
             * (remote.c): serve from it, as a tcache hit */
            la_arena_unlock(av);
            la_t_carve = 0;
            return la_tcache_get_slow(tc, idx);
        }
        void *m = la_int_malloc(av, nb);
        la_arena_unlock(av);
        la_t_carve = 0;
        if (la_likely(m != NULL)) return m;
        /* av is out of memory: the general path tries another arena */
    }
rest:
    return malloc_slow_rest(n, LA_RA());
}

/* The first entry of tcache bin idx (for a chunk of nb bytes), or NULL when
 * there is no tcache, no such bin or the bin is empty. */
LA_INLINE void *tcache_take(struct la_tcache *tc, size_t idx, size_t nb)
{
    if (!tc || idx >= la_g.tc_bins || !tc->entries[idx]) return NULL;
    void *m = la_tcache_get_slow(tc, idx);
    LA_NOTE(LA_PATH_TCACHE_HIT, idx, tc->counts[idx], mem2ck(m), nb, 0);
    return m;
}

/* ra: the return address la_malloc_slow was called with (for tracing) */
static LA_NOINLINE void *malloc_slow_rest(size_t n, void *ra)
{
    la_ensure_init();
    if (LA_TRACE_ENTRY()) return la_traced_malloc(n, ra);
    maybe_check();
    if (la_unlikely(n > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t nb = la_request2size(n);
    struct la_tcache *tc = my_tcache();
    size_t idx = la_tcache_index(nb);
    void *m = tcache_take(tc, idx, nb);
    if (!m) {
        /* Batch refill.  A thread that keeps missing the same tcache bin
         * (LA_CARVE_AFTER misses) gets that bin filled by the next split of
         * top in one arena visit, instead of one lock per chunk.  A short
         * program (or a test that lays out a few chunks) never gets there. */
        int carve_bin = tc && idx < la_g.tc_bins;
        if (tc && la_bc_range(nb) && la_g.bc_cap && (m = bigcache_take(tc, &nb)) != NULL) goto done;
        if (carve_bin) la_t_carve = tcache_missed(tc, idx);
        m = arena_malloc(nb);
        if (carve_bin) la_t_carve = 0;
        if (!m) {
            errno = ENOMEM;
            return NULL;
        }
    }
done:
    alloc_perturb(m, la_usable_size(ck_size(mem2ck(m)), la_is_mmapped(mem2ck(m)->size)));
    return m;
}

#if LA_HARDEN_EXTRA
/* An mmapped chunk made by la_mmap_chunk starts a page, and every page size
 * is a multiple of 4096: the ownership checks ask the registry first for a
 * chunk at a 4096-byte boundary (a constant: no load of la_g.pagesize). */
#define LA_MIN_PAGE 4096u

/* The full ownership check of a pointer passed to free or realloc (see
 * "hardening" in internal.h).  Returns the owning arena, or NULL for a
 * registered mmapped chunk; aborts with msg ("free(): invalid pointer") for
 * anything else: stack, globals, another mapping, a misaligned pointer, a fake
 * chunk inside top, an (interior) pointer whose chunk would run past top or past
 * the end of its segment.  Reads the chunk header only once it is known to lie
 * in liballoc's memory. */
static LA_NOINLINE struct la_arena *owner_or_die(void *mem, const char *msg)
{
    la_chunk *p = mem2ck(mem);
    struct la_segment *seg = NULL;
    /* (a chunk at a page start outside the main arena's window was looked up
     * in the registry by owner_check; one inside it is no mmapped chunk) */
    struct la_arena *av = la_heap_owner((uintptr_t)mem, &seg);
    if (!av) {
        if (!la_aligned((uintptr_t)mem) || (uintptr_t)mem < LA_CHUNK_HDR ||
            ((uintptr_t)p & (LA_MIN_PAGE - 1)) == 0 || !la_mreg_lookup_inline((uintptr_t)p))
            la_fatal_ns(msg, mem);
        if (!(p->size & LA_IS_MMAPPED)) la_fatal(msg, mem, p->size);
        return NULL;
    }
    size_t sf = p->size, size = la_chunksize(sf);
    if ((sf & LA_IS_MMAPPED) || (sf & LA_NON_MAIN_ARENA) != la_arena_bit(av)) la_fatal(msg, mem, sf);
    uintptr_t end = (uintptr_t)seg + seg->size;
    la_chunk *top = __atomic_load_n(&av->top, __ATOMIC_RELAXED);
    if (seg == __atomic_load_n(&av->segments, __ATOMIC_RELAXED) && top) {
        if (p == top) la_fatal("double free or corruption (top)", mem, sf);
        if (p > top) la_fatal(msg, mem, sf);               /* inside top: never handed out */
        end = (uintptr_t)top + LA_CHUNK_HDR;               /* a chunk ends at or before top */
    }
    /* the chunk and the next chunk's header lie in the segment */
    if (size >= LA_MINSIZE && end - (uintptr_t)p < size + LA_CHUNK_HDR) la_fatal(msg, mem, sf);
    return av;
}

/* The common cases inline, in the order of their frequency on the paths that
 * call this (realloc, and free's slow paths):
 *   - a chunk in the window of the main arena's newest segment, below top and
 *     ending at or before it, with no IS_MMAPPED or NON_MAIN_ARENA bit (an
 *     mmapped chunk is its own mapping: never in a heap's window, so the
 *     window test goes first and a heap chunk pays no registry test);
 *   - a chunk at a page start is most likely mmapped (a block past the mmap
 *     threshold): the registry, lock-free (la_mreg_lookup_inline), no read of
 *     the chunk before it answers;
 *   - the same in this thread's arena or in the newest heap of another
 *     non-main arena (window table), with the arena bit that fits.
 * Anything else takes the full check (owner_or_die). */
LA_INLINE struct la_arena *owner_check(void *mem, const char *msg)
{
    la_chunk *p = mem2ck(mem);
    struct la_arena *av = &la_main_arena;
    struct la_segment *h;
    if (la_likely(la_win_ok(av, (uintptr_t)mem))) {
        size_t sf = p->size;
        la_chunk *top = __atomic_load_n(&la_main_arena.top, __ATOMIC_RELAXED);
        if (la_likely(p < top && !(sf & (LA_IS_MMAPPED | LA_NON_MAIN_ARENA)) &&
                      la_chunksize(sf) <= (uintptr_t)top - (uintptr_t)p))
            return av;
    } else if (((uintptr_t)p & (LA_MIN_PAGE - 1)) == 0 && (uintptr_t)p && la_mreg_lookup_inline((uintptr_t)p)) {
        if (la_unlikely(!(p->size & LA_IS_MMAPPED))) la_fatal(msg, mem, p->size);
        return NULL;
    } else if (la_win_ok(av = la_tc->arena, (uintptr_t)mem) ||
               ((h = la_heap_win((uintptr_t)mem)) && (av = __atomic_load_n(&h->arena, __ATOMIC_ACQUIRE)) &&
                h == __atomic_load_n(&av->segments, __ATOMIC_ACQUIRE))) {
        size_t sf = p->size;
        la_chunk *top = __atomic_load_n(&av->top, __ATOMIC_RELAXED);
        if (la_likely(p < top && !(sf & LA_IS_MMAPPED) && (sf & LA_NON_MAIN_ARENA) == la_arena_bit(av) &&
                      la_chunksize(sf) <= (uintptr_t)top - (uintptr_t)p))
            return av;
    }
    return owner_or_die(mem, msg);
}
#endif

/* A chunk of another arena than the calling thread's is freed, and its tcache
 * bin is full (or the thread has no tcache yet).  Freed alone, it would take
 * the owner's lock once per chunk: a thread that frees what another thread
 * allocates (a consumer) then takes that lock as often as the owner does, and
 * on two CPUs they hand the lock and the arena's cache lines back and forth.
 * Before the remote list, a full bin was emptied of the owner's chunks under
 * one lock (prodcons 0.80 x glibc's time, the producer waiting for that lock).
 * Now a thread without a tcache gets one (as glibc's free does) and caches
 * the chunk, and a full bin's chunks of the owner's arena are linked with
 * this one into a chain that goes onto the owner's remote list with one
 * compare-and-swap, without its lock (remote.c; up to the bin's limit + 1
 * chunks per push).  Only an arena no thread is attached to (nobody would drain it
 * soon) gets the chain under its lock, as before.  0: the caller frees the
 * chunk alone. */
static LA_NOINLINE int remote_free(struct la_arena *av, la_chunk *p, size_t idx)
{
    struct la_tcache *tc = la_tc_get();
    if (idx >= la_g.tc_bins) return 0;
    if (!tc) {
        if (la_t_state != LA_T_FRESH || !(tc = la_tcache_create())) return 0;
        if (tc->counts[idx] >= tc->limit[idx]) return 0;
        tc_put(tc, p, idx);
        return 1;
    }
    if (tc->counts[idx] != tc->limit[idx]) return 0;
    uint64_t key = la_g.tc_key;
    la_chunk *first = p, *others = NULL;
    size_t n = 1;
    p->bk = (la_chunk *)(uintptr_t)key;         /* the mark: freed, on its way to the arena */
    p->fd = NULL;
#if LA_HARDEN_EXTRA
    /* counts only fall below: one test for the whole loop (a count above its
     * chain's length ends the chain early, at a NULL entry, which the checked
     * pop refuses) */
    if (la_unlikely(tc->counts[idx] > la_g.tc_cap[idx]))
        la_fatal_ns("malloc(): corrupted tcache count", tc->entries[idx]);
#endif
    while (tc->counts[idx] > 0) {
        struct la_tcache_entry *e = tc->entries[idx];
        la_chunk *c = mem2ck(e);
        /* A chunk in av's newest segment (la_seg_ok: aligned, a minimal chunk
         * fits) is av's and may be read: one range test instead of the
         * checked pop's ownership filter and the arena lookup through the
         * chunk's size field and the heap map.  Its NON_MAIN_ARENA bit is
         * checked by the drain, before anything else is done with it. */
        int mine = la_likely(la_seg_ok(av, (uintptr_t)c));
        /* The same test for the thread's own arena (remote_free's caller
         * saw av != la_t_arena; a chunk of av's newest segment matched
         * above): such a chunk is the thread's own, not av's, and may be
         * read.  It stays cached, like the other arena's entries the checked
         * pop finds below, whose ownership filter and arena lookup this
         * spares (larson: most entries that are not av's). */
        const struct la_arena *own = tc->arena;
        if (mine || (own != NULL && la_seg_ok(own, (uintptr_t)c))) {
            uintptr_t next = la_reveal_ptr((uintptr_t)&e->next, e->next);
            if (la_unlikely(!la_aligned(next)))
                la_fatal_ns("malloc(): unaligned tcache chunk detected", (void *)next);
            la_tc_take_head(tc, idx, e, next);
            if (!mine) {
                c->fd = others;
                others = c;
                continue;
            }
        } else {
            c = mem2ck(la_tcache_pop_checked(tc, idx));
            if (la_arena_of_mapped(c) != av) {
                c->fd = others;
                others = c;
                continue;
            }
        }
        c->bk = (la_chunk *)(uintptr_t)key;
        c->fd = first;
        first = c;
        n++;
    }
    while (others) {                    /* cached again, in their old order */
        la_chunk *c = others;
        others = c->fd;
        tc_put(tc, c, idx);
    }
    if (la_likely(__atomic_load_n(&av->nthreads, __ATOMIC_RELAXED) != 0)) {
        la_remote_push(av, first, p, n);
#if LA_HARDEN_EXTRA
        la_tc_fw_note(tc, av);          /* a thread that only frees av's blocks */
#endif
        return 1;
    }
    la_lock(&av->lock);
    la_remote_drain(av);
    while (first) {
        la_chunk *c = first;
        first = c->fd;
        c->bk = NULL;
        la_int_free(av, c, 1);
    }
    la_arena_unlock(av);
    return 1;
}

#if LA_HARDEN_EXTRA
static LA_NOINLINE void remote_or_arena_free(struct la_arena *av, la_chunk *p, size_t idx)
{
    if (!remote_free(av, p, idx)) la_int_free(av, p, 0);
}
#endif

/* free's slow path once the owning arena is known (NULL: an mmapped chunk, or
 * nothing checked in the build without the extra checks). */
LA_INLINE void free_body(void *mem, struct la_arena *owner)
{
    la_chunk *p = mem2ck(mem);
    size_t size = ck_size(p);
    if (la_unlikely((uintptr_t)p > (uintptr_t)-size || !la_aligned((uintptr_t)mem)))
        la_fatal("free(): invalid pointer", mem, p->size);
    if (la_unlikely(size < LA_MINSIZE || !la_aligned(size)))
        la_fatal("free(): invalid size", mem, p->size);
    if (p->size & LA_IS_MMAPPED) {
        struct la_tunables *t = &la_dbg.tunables;
        if (!t->no_dyn_threshold && size > t->mmap_threshold && size <= LA_MMAP_THRESHOLD_MAX) {
            t->mmap_threshold = size;
            t->trim_threshold = 2 * size;
        }
        LA_NOTE(LA_PATH_MUNMAP, 0, 0, p, size, size);
        la_munmap_chunk(p);             /* raw syscall: errno untouched */
        return;
    }
#if LA_HARDEN_EXTRA
    /* here owner is the heap chunk's arena (owner_check) */
#else
    owner = la_arena_of(p);
#endif
    struct la_tcache *tc = la_tc_get();
    size_t idx = la_tcache_index(size);
    if (tc && idx < la_g.tc_bins && la_tcache_free(tc, owner, p, size, idx, 0)) {
        LA_NOTE(LA_PATH_TCACHE_PUT, idx, tc->counts[idx], p, size, 0);
        return;
    }
    if (tc && la_bc_range(size) && la_bc_put(tc, owner, p, size)) return;   /* bigcache.c */
    /* another arena's chunk in a multi-threaded process: batched (remote_free) */
    if (la_unlikely(la_g.multi_threaded) && owner != la_t_arena && !la_dbg.tunables.perturb &&
        remote_free(owner, p, idx))
        return;
    la_int_free_sized(owner, p, size, 0);     /* address and size checked above */
}

#if LA_HARDEN_EXTRA
static LA_NOINLINE void free_slow_rest(void *mem)
{
    free_body(mem, owner_check(mem, "free(): invalid pointer"));
}
#endif

LA_NOINLINE void la_free_slow(void *mem)
{
    if (!mem) return;
    if (LA_TRACE_ENTRY()) {
        la_traced_free(mem, LA_RA());
        return;
    }
    la_t_fn = "free";
    maybe_check();
#if LA_HARDEN_EXTRA
    /* The common case in a small frame: a chunk of the main arena's newest
     * segment (window), below top and ending at or before it, not mmapped, a
     * main-arena chunk, with a valid size too big for the tcache.  These are
     * the checks owner_check and free_body make on this path, so the chunk goes
     * straight to la_int_free_sized; anything else takes the full path. */
    la_chunk *p = mem2ck(mem);
    if (la_likely(la_win_ok(&la_main_arena, (uintptr_t)mem))) {
        size_t sf = p->size, size = la_chunksize(sf);
        la_chunk *top = __atomic_load_n(&la_main_arena.top, __ATOMIC_RELAXED);
        if (la_likely(p < top && !(sf & (LA_IS_MMAPPED | LA_NON_MAIN_ARENA)) &&
                      size <= (uintptr_t)top - (uintptr_t)p && size >= LA_MINSIZE && la_aligned(size) &&
                      la_tcache_index(size) >= la_g.tc_bins)) {
            if (la_bc_range(size) && la_bc_put(la_tc_get(), &la_main_arena, p, size)) return;
            la_int_free_sized(&la_main_arena, p, size, 0);
            return;
        }
    }
    free_slow_rest(mem);
#else
    free_body(mem, NULL);
#endif
}

#if LA_HARDEN_EXTRA
/* From the inline free, for a pointer that passed an ownership window, with a
 * tcache-sized, aligned, not mmapped chunk whose next chunk says it is in use
 * (so chunk and next header lie in the heap).  The arena follows from the
 * NON_MAIN_ARENA bit, which must agree with where the chunk is: a main-arena
 * chunk in the main arena's window, a non-main one in a mapped heap. */
static LA_NOINLINE void free_inheap_rest(void *mem, struct la_arena *av)
{
    if (la_unlikely(!av)) av = owner_check(mem, "free(): invalid pointer");
    free_body(mem, av);
}

/* The inline filter's second half (fastpath.h): a pointer in neither the
 * thread's own window nor the windows it copied is looked up in the global
 * windows (and its window copied); found, the hit path finishes here, else
 * the slow path. */
LA_NOINLINE void *la_malloc_lookup(size_t n, struct la_tcache *tc, size_t idx, struct la_tcache_entry *e)
{
    if (e && la_win_lookup(tc, (uintptr_t)e)) return la_tc_pop_owned(tc, idx, e);
    return la_malloc_slow(n);           /* also an empty bin (e NULL) */
}

LA_NOINLINE void la_free_lookup(struct la_tcache *tc, void *mem)
{
    /* a chunk at a page start is most likely mmapped (in no window): straight
     * to the slow path, whose ownership check asks the registry first */
    if ((((uintptr_t)mem - LA_CHUNK_HDR) & (LA_MIN_PAGE - 1)) != 0 && la_win_lookup(tc, (uintptr_t)mem)) {
        la_free_owned(tc, mem);
        return;
    }
    la_free_slow(mem);
}

LA_NOINLINE void la_free_slow_inheap(void *mem)
{
    if (LA_TRACE_ENTRY()) {
        la_traced_free(mem, LA_RA());
        return;
    }
    la_t_fn = "free";
    maybe_check();
    la_chunk *p = mem2ck(mem);
    struct la_arena *av = &la_main_arena;
    if (p->size & LA_NON_MAIN_ARENA) {
        /* (the inline filter's zone window covers whole heap slots: the chunk
         * must also lie in its heap's used part.)  The heap's own window
         * (la_wintab: one table entry, no read of the heap) settles it for a
         * tcache-sized chunk (the window ends LA_WIN_TAIL before the heap's
         * end); else the heap map and the heap's bounds */
        struct la_segment *h = la_heap_win((uintptr_t)mem);
        if (la_likely(h != NULL)) {
            av = __atomic_load_n(&h->arena, __ATOMIC_ACQUIRE);
        } else {
            h = la_heap_at((uintptr_t)p);
            av = h && (uintptr_t)p >= h->chunks &&
                 (uintptr_t)mem + ck_size(p) <= (uintptr_t)h + __atomic_load_n(&h->size, __ATOMIC_RELAXED)
                 ? __atomic_load_n(&h->arena, __ATOMIC_ACQUIRE) : NULL;
        }
    } else if (!la_win_ok(av, (uintptr_t)mem)) {
        av = NULL;
    }
    /* the common case, a full tcache bin and no key: straight to the arena
     * (the inline path checked size, alignment and the next chunk's
     * PREV_INUSE; la_int_free makes glibc's checks); the rest out of line */
    /* (a thread that never allocated has no tcache: la_tc_none, every bin full) */
    struct la_tcache *tc = la_tc;
    size_t size = ck_size(p);
    size_t idx = la_tcache_index(size);
    /* (a bin marked missed may grow instead: la_tcache_free, by the rest) */
    if (la_likely(av && ((tc->counts[idx] == tc->limit[idx] && !la_tc_can_grow(tc, idx)) || tc == LA_TC_NONE) &&
                  ((struct la_tcache_entry *)mem)->key != la_g.tc_key && !la_dbg.tunables.perturb)) {
        /* glibc's address and size checks (those of la_int_free), then the arena */
        if (la_unlikely((uintptr_t)p > (uintptr_t)-size || !la_aligned((uintptr_t)p)))
            la_fatal("free(): invalid pointer", mem, p->size);
        if (la_unlikely(size < LA_MINSIZE || !la_aligned(size)))
            la_fatal("free(): invalid size", mem, p->size);
        if (la_unlikely(la_g.multi_threaded) && av != la_t_arena) {
            remote_or_arena_free(av, p, idx);
            return;
        }
        /* a bin that grew beyond glibc's 7 entries (its thread churns that
         * size) and that no malloc found empty since it last grew (the
         * thread frees more of that size than it allocates) sends half of its
         * chunks of the thread's own arena along, under one lock (bins.c
         * la_tcache_flush); otherwise p goes alone, as in glibc (a bin that
         * empties as often as it fills kept more holes apart when flushed:
         * randmix's peak RSS 24.1 -> 25.6 MiB, with this test 24.6) */
        if (tc->limit[idx] > LA_TCACHE_FILL && !(tc->missed & ((uint64_t)1 << idx)) && av == tc->arena &&
            tc->counts[idx] != 0 && !la_t_tracing) {
            la_tcache_flush(tc, av, p, size, idx);
            return;
        }
        la_int_free_sized(av, p, size, 0);
        return;
    }
    free_inheap_rest(mem, av);
}
#endif

/* ---- malloc / free --------------------------------------------------------------- */

void *la_malloc(size_t n) { return la_malloc_inline(n); }
void la_free(void *p) { la_free_inline(p); }

/* ---- calloc ------------------------------------------------------------------------- */

void *la_calloc(size_t nmemb, size_t size)
{
    size_t n;
    if (la_unlikely(__builtin_mul_overflow(nmemb, size, &n) || n > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    la_t_fn = "calloc";
    la_ensure_init();
    if (LA_TRACE_ENTRY()) return la_traced_calloc(nmemb, size, LA_RA());
    maybe_check();
    size_t nb = la_request2size(n);
    void *m = tcache_take(my_tcache(), la_tcache_index(nb), nb);
    if (m) {
        memset(m, 0, ck_size(mem2ck(m)) - LA_SIZE_SZ);
        return m;
    }
    struct la_arena *av = la_arena_lock_mine();
    la_chunk *oldtop = av->top;
    size_t oldtopsize = oldtop ? ck_size(oldtop) : 0;
    m = la_int_malloc(av, nb);
    la_arena_unlock(av);
    if (!m) {
        struct la_arena *alt = la_arena_retry(av);
        if (alt) {
            oldtop = NULL;
            m = la_int_malloc(alt, nb);
            la_arena_unlock(alt);
        }
        if (!m) {
            errno = ENOMEM;
            return NULL;
        }
    }
    la_chunk *p = mem2ck(m);
    if (p->size & LA_IS_MMAPPED) {
        if (la_unlikely(la_dbg.tunables.perturb)) memset(m, 0, ck_size(p) - 2 * LA_SIZE_SZ);
        return m;                       /* fresh pages are zero */
    }
    size_t csz = ck_size(p);
    /* Memory beyond the old top's end came fresh from the kernel: zero. */
    if (p == oldtop && csz > oldtopsize && !la_dbg.tunables.perturb) csz = oldtopsize;
    memset(m, 0, csz - LA_SIZE_SZ);
    return m;
}

/* ---- realloc ------------------------------------------------------------------------- */

void *la_realloc(void *mem, size_t n)
{
    if (LA_TRACE_ENTRY()) return la_traced_realloc(mem, n, LA_RA());
    if (!mem) return la_malloc(n);
    if (n == 0) {
        la_free(mem);
        return NULL;
    }
    if (la_unlikely(n > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    la_ensure_init();
    maybe_check();
    la_t_fn = "realloc";
    la_chunk *p = mem2ck(mem);
#if LA_HARDEN_EXTRA
    /* A heap chunk that owner_check accepted (av != NULL) is aligned, has no
     * IS_MMAPPED bit and ends inside its segment (so p + oldsize does not
     * wrap): of glibc's checks only the old size's is left to make. */
    struct la_arena *av = owner_check(mem, "realloc(): invalid pointer");   /* NULL: an mmapped chunk */
    size_t oldsize = ck_size(p);
    if (la_unlikely(!av && ((uintptr_t)p > (uintptr_t)-oldsize || !la_aligned((uintptr_t)mem))))
        la_fatal("realloc(): invalid pointer", mem, p->size);
#else
    size_t oldsize = ck_size(p);
    if (la_unlikely((uintptr_t)p > (uintptr_t)-oldsize || !la_aligned((uintptr_t)mem)))
        la_fatal("realloc(): invalid pointer", mem, p->size);
#endif
    if (la_unlikely(oldsize < LA_MINSIZE || !la_aligned(oldsize)))
        la_fatal("realloc(): invalid old size", mem, p->size);
    size_t nb = la_request2size(n);

#if LA_HARDEN_EXTRA
    if (!av) {
#else
    if (p->size & LA_IS_MMAPPED) {
#endif
        la_chunk *np = la_mremap_chunk(p, nb);
        if (np) return ck2mem(np);
        if (oldsize - 2 * LA_SIZE_SZ >= nb - LA_SIZE_SZ) return mem;   /* big enough already */
        void *nm = la_malloc(n);
        if (!nm) return NULL;
        memcpy(nm, mem, oldsize - 2 * LA_SIZE_SZ);
        la_munmap_chunk(p);
        return nm;
    }

#if !LA_HARDEN_EXTRA
    struct la_arena *av = la_arena_of(p);
#endif
    /* (with the extra checks av is owner_check's: the arena of this heap chunk) */
    la_lock(&av->lock);
    if (oldsize >= nb && oldsize - nb < nb) {
        /* The chunk stays as it is (la_int_realloc keeps a tail smaller than
         * what stays: the slack of an earlier move): only the check
         * la_int_realloc makes first.  Under the lock: the next chunk may be
         * top, which another thread may be growing (its size can then pass
         * system_mem for a moment). */
        la_chunk *next = ck_at(p, oldsize);
        if (la_unlikely(next->size <= LA_CHUNK_HDR || ck_size(next) >= av->system_mem))
            la_fatal_arena(av, "realloc(): invalid next size", mem, p->size);
        la_arena_unlock(av);
        return mem;
    }
    la_remote_drain(av);
    void *r = la_int_realloc(av, p, oldsize, nb);
    la_arena_unlock(av);
    if (r) return r;
    /* av is out of memory: malloc may find another arena */
    void *nm = la_malloc(n);
    if (!nm) return NULL;              /* errno is ENOMEM; the old block is intact */
    memcpy(nm, mem, oldsize - LA_SIZE_SZ);
    la_free(mem);
    return nm;
}

void *la_reallocarray(void *p, size_t nmemb, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return la_realloc(p, n);
}

/* ---- aligned allocation ---------------------------------------------------------------- */

static void *aligned_malloc(size_t alignment, size_t n)
{
    if (LA_TRACE_ENTRY()) return la_traced_memalign(alignment, n, aligned_malloc, LA_RA());
    if (alignment <= LA_ALIGNMENT) return la_malloc(n);
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (alignment < LA_MINSIZE) alignment = LA_MINSIZE;
    if (alignment & (alignment - 1)) {
        size_t a = LA_MINSIZE;
        while (a < alignment) a <<= 1;
        alignment = a;
    }
    /* nb + alignment + LA_MINSIZE must not overflow (glibc CVE-2013-4332) */
    size_t room = n > PTRDIFF_MAX ? 0 : (size_t)PTRDIFF_MAX - n;
    if (room < 3 * LA_MINSIZE || alignment > room - 3 * LA_MINSIZE) {
        errno = ENOMEM;
        return NULL;
    }
    la_t_fn = "memalign";
    la_ensure_init();
    maybe_check();
    my_tcache();
    size_t nb = la_request2size(n);
    struct la_arena *av = la_arena_lock_mine();
    void *m = la_int_memalign(av, alignment, nb);
    la_arena_unlock(av);
    if (!m) {
        struct la_arena *alt = la_arena_retry(av);
        if (alt) {
            m = la_int_memalign(alt, alignment, nb);
            la_arena_unlock(alt);
        }
    }
    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    alloc_perturb(m, la_malloc_usable_size(m));
    return m;
}

void *la_memalign(size_t alignment, size_t n) { return aligned_malloc(alignment, n); }

void *la_aligned_alloc(size_t alignment, size_t n)
{
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_malloc(alignment, n);
}

int la_posix_memalign(void **memptr, size_t alignment, size_t n)
{
    if (alignment % sizeof(void *) != 0 || alignment == 0 || (alignment & (alignment - 1)))
        return EINVAL;
    int saved = errno;
    void *m = aligned_malloc(alignment, n);
    int e = errno;
    errno = saved;
    if (!m) return e == EINVAL ? EINVAL : ENOMEM;
    *memptr = m;
    return 0;
}

void *la_valloc(size_t n)
{
    la_ensure_init();
    return aligned_malloc(la_g.pagesize, n);
}

void *la_pvalloc(size_t n)
{
    la_ensure_init();
    size_t ps = la_g.pagesize;
    if (n > SIZE_MAX - ps) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_malloc(ps, la_align_up(n ? n : 1, ps));
}

size_t la_malloc_usable_size(void *mem)
{
    if (!mem) return 0;
    la_chunk *p = mem2ck(mem);
    if (p->size & LA_IS_MMAPPED) return ck_size(p) - 2 * LA_SIZE_SZ;
    /* as glibc: 0 for a chunk the boundary tags say is free (tcache and
     * fastbin chunks count as in use) */
    size_t size = ck_size(p);
    return ck_inuse_at(p, size) ? size - LA_SIZE_SZ : 0;
}

/* ---- the liballoc_* names ---------------------------------------------------------------- */

void *liballoc_malloc(size_t n) LA_ALIAS(la_malloc);
void liballoc_free(void *p) LA_ALIAS(la_free);
void *liballoc_calloc(size_t nmemb, size_t size) LA_ALIAS(la_calloc);
void *liballoc_realloc(void *p, size_t n) LA_ALIAS(la_realloc);
void *liballoc_reallocarray(void *p, size_t nmemb, size_t size) LA_ALIAS(la_reallocarray);
void *liballoc_memalign(size_t alignment, size_t n) LA_ALIAS(la_memalign);
int liballoc_posix_memalign(void **memptr, size_t alignment, size_t n) LA_ALIAS(la_posix_memalign);
void *liballoc_aligned_alloc(size_t alignment, size_t n) LA_ALIAS(la_aligned_alloc);
void *liballoc_valloc(size_t n) LA_ALIAS(la_valloc);
void *liballoc_pvalloc(size_t n) LA_ALIAS(la_pvalloc);
size_t liballoc_malloc_usable_size(void *p) LA_ALIAS(la_malloc_usable_size);
