/*
 * liballoc/bins.c - the arena algorithms: allocation from fastbins, small bins,
 * the unsorted bin, large bins (binmap) and top; free with coalescing;
 * malloc_consolidate; in-place realloc; aligned allocation; trimming.
 * Every function here runs with the arena's lock held (la_int_free takes it
 * itself when asked to).
 *
 * Bin discipline (as in ptmalloc2):
 *   fastbins   LIFO, singly linked through fd (safe-linked), chunks stay marked
 *              in use so they never coalesce until la_consolidate.
 *   unsorted   bin 1: every freed or split-off chunk goes to its front; malloc
 *              takes from its back, returns an exact fit (or a split of the last
 *              remainder for small requests) and sorts everything else into bins.
 *   small      bins 2..63, one size each, FIFO (insert at front, take from back).
 *   large      bins 64..126, sorted largest first; the first chunk of each size
 *              is on the fd_nextsize/bk_nextsize list so a best fit skips runs of
 *              equal sizes.  A run of equal sizes is kept oldest first (a new
 *              chunk joins at its end) and a best fit takes its head, so among
 *              equal sizes the least recently freed chunk is used.
 *   binmap     one bit per bin, set when a chunk is binned, cleared lazily when
 *              a search finds the bin empty.
 *   top        the wilderness; split last; grown by la_sysmalloc.
 *
 * The hot paths are kept short without changing any of this: a fastbin push
 * from free runs without a stack frame (la_int_free_sized), unlink is inline in
 * its hot callers, the binmap search takes the lowest marked bin of a word with
 * one ctz.  realloc (la_int_realloc) grows in place into top or a free next
 * chunk as glibc's _int_realloc does; a block that must move (or grows into
 * top) gets its new size again as slack (geometric growth, as a vector
 * does), which a later growth uses in place (la_realloc only checks the
 * next chunk's size then), so a block growing by small steps is copied O(log n) times
 * instead of at nearly every neighbour it runs into.
 *
 * Frees that reach the arena in a row (a thread emptying its heap) come in
 * batches: a free that finds its grown tcache bin full sends itself and the
 * bin's newest half to the arena under one lock (la_tcache_flush), merging
 * one chunk while the headers the next merge reads are prefetched; the
 * unsorted sort and la_consolidate prefetch their next chunk the same way.
 * Links into an older heap of a non-main arena are checked inline
 * (in_any_heap), not through unlink_slow's calls.
 */
#include <sys/mman.h>

#include "internal.h"

/* set by the batch refill, cleared by drain_tcache (see there) */
static LA_TLS int la_t_carved;
static LA_TLS uint64_t la_t_flushed;   /* tcache bins flushed since the last drain */

LA_INLINE void mark_bin(struct la_arena *av, unsigned i) { av->binmap[la_binmap_word(i)] |= la_binmap_bit(i); }

LA_INLINE void perturb_alloc(void *mem, size_t n)
{
    if (la_unlikely(la_dbg.tunables.perturb)) memset(mem, (int)(la_dbg.tunables.perturb ^ 0xff) & 0xff, n);
}
LA_INLINE void perturb_free(void *mem, size_t n)
{
    if (la_unlikely(la_dbg.tunables.perturb)) memset(mem, (int)la_dbg.tunables.perturb & 0xff, n);
}

#if LA_HARDEN_EXTRA
#define EXTRA_CHECK(cond, msg, ptr, sz) do { if (la_unlikely(!(cond))) la_fatal_arena(av, msg, ptr, sz); } while (0)
#define EXTRA_CHECK_NS(cond, msg, ptr) do { if (la_unlikely(!(cond))) la_fatal_arena_ns(av, msg, ptr); } while (0)
#else
#define EXTRA_CHECK(cond, msg, ptr, sz) do { } while (0)
#define EXTRA_CHECK_NS(cond, msg, ptr) do { } while (0)
#endif
#define OUTSIDE_FAST "malloc(): fastbin chunk outside the heap detected"

#if LA_HARDEN_EXTRA
/* Is p (a chunk of fastbin idx) in that fastbin?  Caller holds av->lock.  The
 * walk checks each link like malloc would and is bounded. */
static int fastbin_contains(struct la_arena *av, unsigned idx, const la_chunk *p)
{
    uint64_t limit = av->system_mem / LA_MINSIZE + 1;
    for (la_chunk *c = av->fastbins[idx]; c; c = (la_chunk *)la_reveal_ptr((uintptr_t)&c->fd, (uintptr_t)c->fd)) {
        if (c == p) return 1;
        if (la_unlikely(!la_aligned((uintptr_t)c) || !la_chunk_in_arena(av, (uintptr_t)c) || limit-- == 0))
            la_fatal_arena_ns(av, OUTSIDE_FAST, c);
    }
    return 0;
}

/* A chunk carrying the tcache key (which fastbin chunks also carry) was not
 * in the tcache: it must not be in its fastbin either.  have_lock: the
 * caller holds av->lock. */
static void fastbin_check_double_free(struct la_arena *av, la_chunk *p, int have_lock)
{
    if (!have_lock) la_lock(&av->lock);
    unsigned idx = la_fastbin_index(ck_size(p));
    if (la_unlikely(av->fastbins[idx] == p))          /* glibc's message for the head */
        la_fatal_arena(av, "double free or corruption (fasttop)", ck2mem(p), p->size);
    if (fastbin_contains(av, idx, p))
        la_fatal_arena(av, "free(): double free detected in fastbin", ck2mem(p), p->size);
    if (!have_lock) la_arena_unlock(av);
}
#endif

/* free's tcache branch, for chunk p (size; tcache bin idx < tc_bins) of
 * arena av: a chunk carrying the tcache key is looked for in its tcache bin
 * (glibc) and, with the extra checks, in its fastbin; with the extra checks
 * the count and the next chunk are checked too (glibc checks the next chunk
 * only on the arena path).  Then p goes into the tcache if its bin has room.
 * 1 when cached, 0 when the bin is full.  have_lock: the caller holds
 * av->lock (realloc). */
int la_tcache_free(struct la_tcache *tc, struct la_arena *av, la_chunk *p, size_t size, size_t idx, int have_lock)
{
    struct la_tcache_entry *e = ck2mem(p);
    if (la_unlikely(e->key == la_g.tc_key)) {
        la_tcache_check_double_free(tc, e, idx);
#if LA_HARDEN_EXTRA
        if (size <= la_g.max_fast) fastbin_check_double_free(av, p, have_lock);
#endif
        la_remote_check_double_free(av, p, have_lock);     /* remote.c */
    }
#if LA_HARDEN_EXTRA
    if (la_unlikely(tc->counts[idx] > la_g.tc_cap[idx]))
        la_fatal("free(): corrupted tcache count", e, p->size);
#else
    (void)av;
#endif
    /* a bin grows on free() only: the chunks realloc leaves behind would
     * otherwise grow it and pin more small islands in the heap (realloc_grow's
     * peak RSS 11.8 -> 14.6 MiB with bin 0 at 14) */
    if (tc->counts[idx] >= tc->limit[idx] && (have_lock || !la_tc_grow(tc, idx))) return 0;
#if LA_HARDEN_EXTRA
    la_chunk *next = ck_at(p, size);
    if (la_unlikely(next->size <= LA_CHUNK_HDR || ck_size(next) >= av->system_mem))
        la_fatal("free(): invalid next size (fast)", e, p->size);
    if (la_unlikely(!(next->size & LA_PREV_INUSE)))
        la_fatal("double free or corruption (!prev)", e, p->size);
#endif
    perturb_free(e, size - LA_CHUNK_HDR);
    tc_put(tc, p, idx);
    return 1;
}

/* The checks of a chunk p (size) about to enter fastbin idx, as glibc's free
 * makes them (next chunk's size; p not already the head; the head's size
 * fits the bin), and with the extra checks the next chunk's PREV_INUSE (p is
 * in use).  Returns the bin's head. */
LA_INLINE la_chunk *fast_put_checks(struct la_arena *av, la_chunk *p, size_t size, unsigned idx)
{
    la_chunk *next = ck_at(p, size);
    if (la_unlikely(next->size <= LA_CHUNK_HDR || ck_size(next) >= av->system_mem))
        la_fatal_arena(av, "free(): invalid next size (fast)", ck2mem(p), p->size);
    la_chunk *old = av->fastbins[idx];
    if (la_unlikely(old == p)) la_fatal_arena(av, "double free or corruption (fasttop)", ck2mem(p), p->size);
    if (old && la_unlikely(la_fastbin_index(ck_size(old)) != idx))
        la_fatal_arena(av, "invalid fastbin entry (free)", ck2mem(p), p->size);
    EXTRA_CHECK(next->size & LA_PREV_INUSE, "double free or corruption (!prev)", ck2mem(p), p->size);
    return old;
}

/* Put a free chunk at the front of the unsorted bin. */
LA_INLINE void unsorted_push(struct la_arena *av, la_chunk *p, size_t size, const char *msg)
{
    la_chunk *bck = bin_at(av, LA_BIN_UNSORTED), *fwd = bck->fd;
    if (la_unlikely(fwd->bk != bck)) la_fatal_arena(av, msg, ck2mem(p), p->size);
    p->fd = fwd;
    p->bk = bck;
    if (!la_in_smallbin_range(size)) p->fd_nextsize = p->bk_nextsize = NULL;
    bck->fd = p;
    fwd->bk = p;
}

/* The extra link checks of unlink: links stay in the arena and never point
 * back at p itself (unsafe unlink, house of einherjar with a self-linked fake
 * chunk).  `full` also walks older segments (out of line); the inline test
 * only knows the newest segment and the bin headers. */
LA_INLINE void unlink_links_ok(struct la_arena *av, la_chunk *p, size_t size, int full, const la_chunk *hdr)
{
#if LA_HARDEN_EXTRA
    la_chunk *fd = p->fd, *bk = p->bk;
    int (*cin)(struct la_arena *, uintptr_t) = full ? la_chunk_in_arena : la_seg_ok_fn;
    int fh = la_bin_hdr_ok(av, (uintptr_t)fd), bh = la_bin_hdr_ok(av, (uintptr_t)bk);
    /* A link is a chunk of av or a bin header, and the only header in p's
     * list is its own bin's: the caller's hdr when it knows the bin, else
     * one header for both links at most (fd and bk on two different bins'
     * headers would make the unlink join two bins: a bin's bk could then be
     * another bin's header, whose "size" leads out of the heap) */
    if (la_unlikely(fd == p || bk == p || !(fh || cin(av, (uintptr_t)fd)) || !(bh || cin(av, (uintptr_t)bk)) ||
                    (hdr != NULL ? (fh && fd != hdr) || (bh && bk != hdr) : fh && bh && fd != bk)))
        la_fatal_arena(av, "corrupted double-linked list", ck2mem(p), p->size);
    if (!la_in_smallbin_range(size) && p->fd_nextsize != NULL &&
        la_unlikely(!(cin(av, (uintptr_t)p->fd_nextsize) && cin(av, (uintptr_t)p->bk_nextsize))))
        la_fatal_arena(av, "corrupted double-linked list (not small)", ck2mem(p), p->size);
#else
    (void)av; (void)p; (void)size; (void)full; (void)hdr;
#endif
}

#if LA_HARDEN_EXTRA
static LA_NOINLINE void unlink_slow(struct la_arena *av, la_chunk *p, size_t size, const la_chunk *hdr);
/* x is a chunk of one of a non-main arena av's heaps: la_chunk_in_arena_slow's
 * test (heap map bit, the heap's arena, its chunk bounds) inline.  An arena of
 * more than one heap (bench frag's second thread: 2) has about half its links
 * outside the newest heap, and each took unlink_slow and a call per link. */
LA_INLINE int in_any_heap(const struct la_arena *av, uintptr_t x)
{
    if (av == &la_main_arena || !la_aligned(x)) return 0;
    const struct la_segment *h = la_heap_at(x);
    if (!h || h->arena != av) return 0;
    uintptr_t end = (uintptr_t)h + h->size;
    return x >= h->chunks && x < end && end - x >= LA_MINSIZE;
}
/* la_chunk_in_arena with the older heaps of a non-main arena inline too */
LA_INLINE int chunk_in_av(struct la_arena *av, uintptr_t x)
{
    return la_seg_in(av, x) || in_any_heap(av, x) || la_chunk_in_arena(av, x);
}
#endif

/* Unlink free chunk p (size) from its bin.  fast (the inline callers): the
 * extra link tests are made here, inline; a link they reject sends p to
 * unlink_slow, which makes the full tests (unlink_links_ok: older segments,
 * out of line) and then this with fast = 0.  hdr: p's bin header when the
 * caller knows it (a link equal to it needs no test), else NULL.  p_ok
 * (a constant at each call): 1, the caller knows p lies in the arena (a
 * bin header's link, which liballoc writes only with a tested address),
 * which a size-list link equal to p then answers; 2, p is moreover a chunk
 * of a segment, never a bin header (free_merge's neighbours, below).
 *
 * The fast tests look at each link once, and not at all where hdr or p's
 * own (known) address answers.  A chunk alone in its bin (fd == bk; most
 * unlinks of bench large) can only link to its bin's header: fd is tested
 * against the bin headers alone (glibc's test then reads that header, whose
 * fd and bk liballoc alone writes, and finds p there).  A self-linked chunk
 * (fd == bk == p) fails them: a header test that accepts fd says fd != p
 * when p is known to be no bin header (p_ok 2), which holds for
 * free_merge's neighbours: the previous chunk passed chunk_in_av (a
 * segment's chunks, which never hold a header: those lie in struct
 * la_arena), and the next one, were it a header, would have failed free's
 * PREV_INUSE test (a header's size word is the previous header's bk or
 * last_remainder, a 16-aligned address).  A bin header's link may itself
 * be a header after earlier corruption, so the other callers test fd != p.
 * fd == p where fd != bk fails glibc's fd->bk == p (p->bk = bk != p), so
 * the extra build needs no other test of it.
 *
 * The size-list links (fn, bn) of a large chunk are tested in the branch
 * glibc's own size-list test needs anyway (large chunk, fn not NULL), after
 * fd/bk are unlinked (those writes were tested above), so the branch and the
 * loads are not paid twice; a link the fast test rejects goes to
 * unlink_nextsize_slow, which makes the full test and aborts (the same
 * message as before, only with fd/bk already unlinked) or finishes.  A chunk
 * alone of its size links to itself (fn == bn == p): with p_ok, fn == p
 * alone is tested, since glibc's fn->bk_nextsize == p then reads
 * p->bk_nextsize, bn, and makes bn == p before bn is read through.  The
 * writes use the links as they were read and tested. */
#if LA_HARDEN_EXTRA
static LA_NOINLINE void unlink_nextsize_slow(struct la_arena *av, la_chunk *p, la_chunk *fd, la_chunk *fn, la_chunk *bn);
#endif
/* glibc's size-list test and the size-list writes of an unlink whose fd/bk
 * are done (fd: p's old fd; fn, bn: p's size-list links, fn not NULL) */
LA_INLINE void unlink_nextsize(struct la_arena *av, la_chunk *p, la_chunk *fd, la_chunk *fn, la_chunk *bn)
{
    if (la_unlikely(fn->bk_nextsize != p || bn->fd_nextsize != p))
        la_fatal_arena(av, "corrupted double-linked list (not small)", ck2mem(p), p->size);
    if (fd->fd_nextsize == NULL) {
        /* fd has the same size: it takes p's place in the size list */
        if (fn == p) {
            fd->fd_nextsize = fd->bk_nextsize = fd;
        } else {
            fd->fd_nextsize = fn;
            fd->bk_nextsize = bn;
            fn->bk_nextsize = fd;
            bn->fd_nextsize = fd;
        }
    } else {
        fn->bk_nextsize = bn;
        bn->fd_nextsize = fn;
    }
}

LA_INLINE void unlink_body(struct la_arena *av, la_chunk *p, size_t size, int fast, const la_chunk *hdr, int p_ok)
{
    /* (relaxed atomic loads: plain ones, which gcc also loaded as one
     * 16-byte vector and then moved fd out of it again, 2 instructions more
     * per unlink) */
    la_chunk *fd = __atomic_load_n(&p->fd, __ATOMIC_RELAXED), *bk = __atomic_load_n(&p->bk, __ATOMIC_RELAXED);
#if LA_HARDEN_EXTRA
    if (fast) {
        int ok;
        /* (the only bin header in p's list is its own bin's: the caller's
         * hdr when it knows the bin; see unlink_links_ok) */
        if (fd == bk) {
            ok = hdr != NULL ? fd == hdr : ((p_ok == 2 || fd != p) && la_bin_hdr_ok(av, (uintptr_t)fd));
        } else if (hdr != NULL) {
            ok = (fd == hdr || la_seg_in(av, (uintptr_t)fd) || in_any_heap(av, (uintptr_t)fd)) &&
                 (bk == hdr || la_seg_in(av, (uintptr_t)bk) || in_any_heap(av, (uintptr_t)bk));
        } else if (la_likely(la_seg_in(av, (uintptr_t)fd))) {
            ok = la_link_fast(av, (uintptr_t)bk) || in_any_heap(av, (uintptr_t)bk);
        } else if (la_bin_hdr_ok(av, (uintptr_t)fd)) {
            ok = la_seg_in(av, (uintptr_t)bk) || in_any_heap(av, (uintptr_t)bk);   /* not a second header */
        } else {
            ok = in_any_heap(av, (uintptr_t)fd) && (la_link_fast(av, (uintptr_t)bk) || in_any_heap(av, (uintptr_t)bk));
        }
        if (la_unlikely(!ok)) {
            unlink_slow(av, p, size, hdr);  /* tail call */
            return;
        }
    }
#else
    (void)fast; (void)hdr; (void)p_ok;
#endif
    if (la_unlikely(fd->bk != p || bk->fd != p))
        la_fatal_arena(av, "corrupted double-linked list", ck2mem(p), p->size);
    fd->bk = bk;
    bk->fd = fd;
    la_chunk *fn;
    if (!la_in_smallbin_range(size) && (fn = p->fd_nextsize) != NULL) {
        la_chunk *bn = p->bk_nextsize;
#if LA_HARDEN_EXTRA
        if (fast && la_unlikely(!((p_ok && fn == p) || (la_seg_in(av, (uintptr_t)fn) && la_seg_in(av, (uintptr_t)bn))))) {
            unlink_nextsize_slow(av, p, fd, fn, bn);        /* tail call */
            return;
        }
#endif
        unlink_nextsize(av, p, fd, fn, bn);
    }
}

#if LA_HARDEN_EXTRA
/* links outside the newest segment: the full check, out of line */
static LA_NOINLINE void unlink_slow(struct la_arena *av, la_chunk *p, size_t size, const la_chunk *hdr)
{
    unlink_links_ok(av, p, size, 1, hdr);
    unlink_body(av, p, size, 0, NULL, 0);
}
/* size-list links outside the newest segment (p's fd/bk are unlinked): the
 * full test, out of line */
static LA_NOINLINE void unlink_nextsize_slow(struct la_arena *av, la_chunk *p, la_chunk *fd, la_chunk *fn, la_chunk *bn)
{
    if (la_unlikely(!(la_chunk_in_arena(av, (uintptr_t)fn) && la_chunk_in_arena(av, (uintptr_t)bn))))
        la_fatal_arena(av, "corrupted double-linked list (not small)", ck2mem(p), p->size);
    unlink_nextsize(av, p, fd, fn, bn);
}
#endif

/* la_unlink inline, for the hot callers (best fit, binmap, coalescing);
 * hdr, p_ok: see unlink_body */
LA_INLINE void unlink_chunk(struct la_arena *av, la_chunk *p, const la_chunk *hdr, int p_ok)
{
    size_t size = ck_size(p);
    if (la_unlikely(size != ck_at(p, size)->prev_size))
        la_fatal_arena(av, "corrupted size vs. prev_size", ck2mem(p), p->size);
    unlink_body(av, p, size, 1, hdr, p_ok);
}

/* (its callers' p: a neighbour found through a size field not checked
 * against the arena, in heap trimming; p_ok 0) */
void la_unlink(struct la_arena *av, la_chunk *p) { unlink_chunk(av, p, NULL, 0); }

/* The nextsize walk of a large bin's sorted insertion (step 3) follows one
 * link per distinct size, and every chunk it reaches must lie in the arena
 * before its size is read.  Inline, each step only tests the newest segment
 * (la_seg_in, its two bounds as memory operands: a walk that takes no step,
 * the most common one, loads nothing for them; and no call in the loop,
 * which would make gcc spill a dozen registers around every walk); the first
 * chunk outside it hands the rest of the walk to this out-of-line loop, which
 * makes the full test (older segments: la_chunk_in_arena) at every step.
 * (The best-fit walk of step 4 is short, one or two steps: there the inline
 * la_chunk_in_arena per step measured cheaper than hoisting.) */
#if LA_HARDEN_EXTRA
/* continue "while (size < ck_size(fwd)) fwd = fwd->fd_nextsize" from fwd */
static LA_NOINLINE la_chunk *walk_fd_nextsize_slow(struct la_arena *av, la_chunk *fwd, size_t size)
{
    for (;;) {
        EXTRA_CHECK_NS(chunk_in_av(av, (uintptr_t)fwd), "malloc(): largebin double linked list corrupted (nextsize)", fwd);
        if (size >= ck_size(fwd)) return fwd;
        fwd = fwd->fd_nextsize;
    }
}
#endif

/* Split nb bytes off the front of free chunk `victim` (already unlinked) of
 * `size`; the remainder goes to the unsorted bin. */
LA_INLINE void *split_victim(struct la_arena *av, la_chunk *victim, size_t size, size_t nb, int small_req)
{
    size_t rsize = size - nb;
    size_t abit = la_arena_bit(av);
    if (rsize < LA_MINSIZE)
        LA_NOTE(LA_PATH_BIN_FIT, la_bin_index(size), 0, victim, size, 0);
    else
        LA_NOTE(LA_PATH_SPLIT, la_bin_index(size), 0, victim, nb, rsize);
    if (rsize < LA_MINSIZE) {
        ck_set_inuse_at(victim, size);
        victim->size |= abit;
    } else {
        la_chunk *rem = ck_at(victim, nb);
        unsorted_push(av, rem, rsize, "malloc(): corrupted unsorted chunks");
        if (small_req) av->last_remainder = rem;
        victim->size = nb | LA_PREV_INUSE | abit;
        rem->size = rsize | LA_PREV_INUSE;
        ck_set_foot(rem, rsize);
    }
    return ck2mem(victim);
}

/* A free chunk p of a small bin for size nb agrees with its boundary tags:
 * its size is nb, and then (only then is the next chunk read) the next
 * chunk's prev_size is nb and its PREV_INUSE is clear, these two in one
 * branch.  Checked on every chunk taken from a small bin, the ones stashed
 * into the tcache included.  (Two branches, each comparing memory with a
 * register or a constant, measured 2 instructions fewer per chunk here but
 * changed gcc's register allocation of all of la_int_malloc: bench large
 * +28K Ir.) */
LA_INLINE int smallbin_tags_ok(const la_chunk *p, size_t nb)
{
    if (ck_size(p) != nb) return 0;
    const la_chunk *next = ck_at(p, nb);
    return ((next->prev_size ^ nb) | (next->size & LA_PREV_INUSE)) == 0;
}

void *la_int_malloc(struct la_arena *av, size_t nb)
{
    struct la_tcache *tc = la_tc_get();
    size_t tidx = la_tcache_index(nb);
    int can_cache = tc != NULL && tidx < la_g.tc_bins;
    size_t abit = la_arena_bit(av);
    unsigned idx;
    la_chunk *victim, *bin;

    av->ops++;

    /* 1. fastbins */
    if (nb <= la_g.max_fast) {
        idx = la_fastbin_index(nb);
        victim = av->fastbins[idx];
        if (victim) {
            if (la_unlikely(!la_aligned((uintptr_t)victim)))
                la_fatal_arena_ns(av, "malloc(): unaligned fastbin chunk detected 2", victim);
            EXTRA_CHECK_NS(la_chunk_in_arena(av, (uintptr_t)victim), OUTSIDE_FAST, victim);
            av->fastbins[idx] = (la_chunk *)la_reveal_ptr((uintptr_t)&victim->fd, (uintptr_t)victim->fd);
            /* the decoded link must stay in the arena (fastbin dup into the stack) */
            EXTRA_CHECK_NS(!av->fastbins[idx] || la_chunk_in_arena(av, (uintptr_t)av->fastbins[idx]), OUTSIDE_FAST,
                        av->fastbins[idx]);
            if (la_unlikely(la_fastbin_index(ck_size(victim)) != idx))
                la_fatal_arena(av, "malloc(): memory corruption (fast)", ck2mem(victim), victim->size);
            if (can_cache) {
                la_chunk *t;
                while (tc->counts[tidx] < tc->limit[tidx] && (t = av->fastbins[idx]) != NULL) {
                    if (la_unlikely(!la_aligned((uintptr_t)t)))
                        la_fatal_arena_ns(av, "malloc(): unaligned fastbin chunk detected 3", t);
                    av->fastbins[idx] = (la_chunk *)la_reveal_ptr((uintptr_t)&t->fd, (uintptr_t)t->fd);
                    EXTRA_CHECK_NS(!av->fastbins[idx] || la_chunk_in_arena(av, (uintptr_t)av->fastbins[idx]), OUTSIDE_FAST,
                                av->fastbins[idx]);
                    if (la_unlikely(la_fastbin_index(ck_size(t)) != idx))
                        la_fatal_arena(av, "malloc(): memory corruption (fast)", ck2mem(t), t->size);
                    tc_put(tc, t, tidx);
                }
            }
#if LA_HARDEN_EXTRA
            victim->bk = NULL;          /* the fastbin key (see la_int_free) */
#endif
            LA_NOTE(LA_PATH_FAST_HIT, idx, 0, victim, nb, 0);
            return ck2mem(victim);
        }
    }

    /* 2. small bin of exactly this size */
    if (la_in_smallbin_range(nb)) {
        idx = la_smallbin_index(nb);
        bin = bin_at(av, idx);
        if ((victim = bin->bk) != bin) {
            la_chunk *bck = victim->bk;
            /* house of lore: bk must stay in the arena; the chunk must agree
             * with its next chunk (footer, PREV_INUSE clear) */
            EXTRA_CHECK(bck == bin || la_link_in_arena(av, (uintptr_t)bck), "malloc(): smallbin double linked list corrupted",
                        ck2mem(victim), victim->size);
            EXTRA_CHECK(smallbin_tags_ok(victim, nb), "malloc(): mismatching next->prev_size (smallbin)", ck2mem(victim),
                        victim->size);
            if (la_unlikely(bck->fd != victim))
                la_fatal_arena(av, "malloc(): smallbin double linked list corrupted", ck2mem(victim), victim->size);
            ck_set_inuse_at(victim, nb);
            bin->bk = bck;
            bck->fd = bin;
            victim->size |= abit;
            if (can_cache) {
                la_chunk *t;
                while (tc->counts[tidx] < tc->limit[tidx] && (t = bin->bk) != bin) {
                    bck = t->bk;
                    /* tcache stashing unlink: the same checks for every stashed chunk */
                    EXTRA_CHECK(bck == bin || la_link_in_arena(av, (uintptr_t)bck),
                                "malloc(): smallbin double linked list corrupted", ck2mem(t), t->size);
                    EXTRA_CHECK(smallbin_tags_ok(t, nb), "malloc(): mismatching next->prev_size (smallbin)", ck2mem(t), t->size);
                    if (la_unlikely(bck->fd != t))
                        la_fatal_arena(av, "malloc(): smallbin double linked list corrupted", ck2mem(t), t->size);
                    ck_set_inuse_at(t, nb);
                    t->size |= abit;
                    bin->bk = bck;
                    bck->fd = bin;
                    tc_put(tc, t, tidx);
                }
            }
            LA_NOTE(LA_PATH_SMALL_HIT, idx, 0, victim, nb, 0);
            return ck2mem(victim);
        }
    } else {
        idx = la_largebin_index(nb);
        if (av->have_fastchunks) la_consolidate(av);
    }

    int return_cached = 0;
    la_chunk *unsorted = bin_at(av, LA_BIN_UNSORTED);
    for (;;) {
        /* 3. sort the unsorted bin, returning an exact fit */
        int iters = 0;
        while ((victim = unsorted->bk) != unsorted) {
            la_chunk *bck = victim->bk;
            size_t size = ck_size(victim);
            la_chunk *next = ck_at(victim, size);
            /* next's size field, read once: the extra link test below may
             * call out of line, after which it was read again (larson: one
             * instruction per chunk sorted) */
            size_t next_sf = next->size;
            if (la_unlikely(victim->size <= LA_CHUNK_HDR || size > av->system_mem))
                la_fatal_arena(av, "malloc(): invalid size (unsorted)", ck2mem(victim), victim->size);
            if (la_unlikely(next_sf < LA_CHUNK_HDR || la_chunksize(next_sf) > av->system_mem))
                la_fatal_arena(av, "malloc(): invalid next size (unsorted)", ck2mem(victim), victim->size);
            if (la_unlikely(next->prev_size != size))
                la_fatal_arena(av, "malloc(): mismatching next->prev_size (unsorted)", ck2mem(victim), victim->size);
            EXTRA_CHECK(bck == unsorted || la_link_in_arena(av, (uintptr_t)bck), "malloc(): unsorted double linked list corrupted",
                        ck2mem(victim), victim->size);
            if (la_unlikely(bck->fd != victim || victim->fd != unsorted))
                la_fatal_arena(av, "malloc(): unsorted double linked list corrupted", ck2mem(victim), victim->size);
            /* the next victim's next header and the one after it: their
             * misses overlap with this one's sorting (bck lies in the arena;
             * a prefetch cannot fault) */
            __builtin_prefetch((char *)bck + ck_size(bck) + LA_SIZE_SZ);
            __builtin_prefetch((char *)bck->bk + LA_SIZE_SZ);
            if (la_unlikely(next_sf & LA_PREV_INUSE))
                la_fatal_arena(av, "malloc(): invalid next->prev_inuse (unsorted)", ck2mem(victim), victim->size);

            /* a small request takes a piece of the last remainder when it is
             * the only unsorted chunk: consecutive small requests stay together */
            if (la_in_smallbin_range(nb) && bck == unsorted && victim == av->last_remainder &&
                size > nb + LA_MINSIZE) {
                size_t rsize = size - nb;
                la_chunk *rem = ck_at(victim, nb);
                unsorted->bk = unsorted->fd = rem;
                rem->bk = rem->fd = unsorted;
                if (!la_in_smallbin_range(rsize)) rem->fd_nextsize = rem->bk_nextsize = NULL;
                av->last_remainder = rem;
                victim->size = nb | LA_PREV_INUSE | abit;
                rem->size = rsize | LA_PREV_INUSE;
                ck_set_foot(rem, rsize);
                LA_NOTE(LA_PATH_LAST_REMAINDER, 1, 0, victim, nb, rsize);
                return ck2mem(victim);
            }

            unsorted->bk = bck;
            bck->fd = unsorted;

            if (size == nb) {
                ck_set_inuse_at(victim, size);
                victim->size |= abit;
                LA_NOTE(LA_PATH_UNSORTED_EXACT, 1, 0, victim, nb, 0);
                if (can_cache && tc->counts[tidx] < tc->limit[tidx]) {
                    tc_put(tc, victim, tidx);
                    return_cached = 1;
                    continue;
                }
                return ck2mem(victim);
            }

            unsigned vi;
            la_chunk *fwd;
            if (la_in_smallbin_range(size)) {
                vi = la_smallbin_index(size);
                bck = bin_at(av, vi);
                fwd = bck->fd;
            } else {
                vi = la_largebin_index(size);
                bck = bin_at(av, vi);
                fwd = bck->fd;
                if (fwd != bck) {
                    if (size < ck_size(bck->bk)) {
                        /* smaller than everything: goes last, new size-list entry.
                         * glibc checks nothing here (the large-bin attack writes
                         * through fwd->fd->bk_nextsize): check both links.  The
                         * last chunk, bck->bk, is most often the smallest size's
                         * head, fwd->bk_nextsize (that size has one chunk): then
                         * the first test has shown it to be a chunk of the arena
                         * and the second needs no range test of its own. */
                        EXTRA_CHECK(chunk_in_av(av, (uintptr_t)fwd->bk_nextsize) && fwd->bk_nextsize->fd_nextsize == fwd,
                                    "malloc(): largebin double linked list corrupted (nextsize)", ck2mem(fwd), fwd->size);
                        EXTRA_CHECK((bck->bk == fwd->bk_nextsize || chunk_in_av(av, (uintptr_t)bck->bk)) && bck->bk->fd == bck,
                                    "malloc(): largebin double linked list corrupted (bk)", ck2mem(fwd), fwd->size);
                        fwd = bck;
                        bck = bck->bk;
                        victim->fd_nextsize = fwd->fd;
                        victim->bk_nextsize = fwd->fd->bk_nextsize;
                        fwd->fd->bk_nextsize = victim;
                        victim->bk_nextsize->fd_nextsize = victim;
                    } else {
#if LA_HARDEN_EXTRA
                        while (size < ck_size(fwd)) {
                            fwd = fwd->fd_nextsize;
                            if (la_unlikely(!la_seg_in(av, (uintptr_t)fwd))) {
                                fwd = walk_fd_nextsize_slow(av, fwd, size);
                                break;
                            }
                        }
#else
                        while (size < ck_size(fwd)) fwd = fwd->fd_nextsize;
#endif
                        if (size == ck_size(fwd)) {
                            /* last of its size run (runs are oldest first); the
                             * size list is untouched */
                            victim->fd_nextsize = victim->bk_nextsize = NULL;
                            la_chunk *nh = fwd->fd_nextsize;
                            fwd = ck_size(nh) < size ? nh : bck;
                        } else {
                            victim->fd_nextsize = fwd;
                            victim->bk_nextsize = fwd->bk_nextsize;
                            if (la_unlikely(fwd->bk_nextsize->fd_nextsize != fwd))
                                la_fatal_arena(av, "malloc(): largebin double linked list corrupted (nextsize)", ck2mem(fwd), fwd->size);
                            fwd->bk_nextsize = victim;
                            victim->bk_nextsize->fd_nextsize = victim;
                        }
                        bck = fwd->bk;
                        if (la_unlikely(bck->fd != fwd))
                            la_fatal_arena(av, "malloc(): largebin double linked list corrupted (bk)", ck2mem(fwd), fwd->size);
                    }
                } else {
                    victim->fd_nextsize = victim->bk_nextsize = victim;
                }
            }
            mark_bin(av, vi);
            victim->bk = bck;
            victim->fd = fwd;
            fwd->bk = victim;
            bck->fd = victim;

            if (++iters >= LA_UNSORTED_MAX_ITERS) break;
        }

        if (return_cached) return la_tcache_get_slow(tc, tidx);

        /* 4. large request: best fit in its own bin */
        if (!la_in_smallbin_range(nb)) {
            bin = bin_at(av, idx);
            if ((victim = bin->fd) != bin && ck_size(victim) >= nb) {
                /* Every step of the walk is tested before the chunk it
                 * reaches is read, the first one too (bin->fd, the header's
                 * link, lies in the arena; its bk_nextsize is the smallest
                 * size's head, itself when the bin holds one size): victim
                 * then lies in the arena (p_ok), which spares the unlink its
                 * size-list link tests when victim is alone of its size. */
                la_chunk *first = victim;
                victim = victim->bk_nextsize;           /* smallest size */
                EXTRA_CHECK_NS(victim == first || la_chunk_in_arena(av, (uintptr_t)victim),
                               "corrupted double-linked list (not small)", victim);
                (void)first;
                size_t size;
                while ((size = ck_size(victim)) < nb) {
                    victim = victim->bk_nextsize;
                    EXTRA_CHECK_NS(la_chunk_in_arena(av, (uintptr_t)victim), "corrupted double-linked list (not small)",
                                victim);
                }
                /* the head of its size run is the least recently freed chunk of
                 * that size; la_unlink hands the size list on to the next one */
                unlink_chunk(av, victim, bin, 1);
                return split_victim(av, victim, size, nb, 0);
            }
        }

        /* 5. the next non-empty larger bin, found with the binmap */
        ++idx;
        bin = bin_at(av, idx);
        unsigned block = la_binmap_word(idx);
        uint32_t map = av->binmap[block];
        uint32_t bit = la_binmap_bit(idx);
        for (;;) {
            if (bit > map || bit == 0) {
                do {
                    if (++block >= LA_BINMAP_WORDS) goto use_top;
                } while ((map = av->binmap[block]) == 0);
                idx = block << 5;
                bin = bin_at(av, idx);
                bit = 1;
            }
            if ((bit & map) == 0) {
                /* the lowest marked bin at or above bit (bit <= map: there is
                 * one), in one step instead of a bit-by-bit walk */
                unsigned k = (unsigned)__builtin_ctz(map & ~(bit - 1));
                idx = (block << 5) + k;
                bin = bin_at(av, idx);
                bit = (uint32_t)1 << k;
            }
            victim = bin->bk;
            if (victim == bin) {
                av->binmap[block] = map &= ~bit;     /* stale bit */
                idx++;
                bin = bin_at(av, idx);
                bit <<= 1;
                continue;
            }
            size_t size = ck_size(victim);
            unlink_chunk(av, victim, bin, 1);
            return split_victim(av, victim, size, nb, la_in_smallbin_range(nb));
        }

    use_top:
        /* 6. top */
        victim = av->top;
        {
            size_t size = victim ? ck_size(victim) : 0;
            if (la_unlikely(size > av->system_mem))
                la_fatal_arena(av, "malloc(): corrupted top size", ck2mem(victim), victim->size);
            /* house of force and smaller lies: top ends exactly at its segment's end */
            EXTRA_CHECK(!victim || (uintptr_t)victim + size == (uintptr_t)av->segments + av->segments->size,
                        "malloc(): corrupted top size", ck2mem(victim), victim->size);
            if (size >= nb + LA_MINSIZE) {
                size_t rsize = size - nb, one = nb;
                victim->size = nb | LA_PREV_INUSE | abit;
                if (la_unlikely(la_t_carve) && can_cache) {
                    /* batch refill (see la_malloc_slow): the next chunks of
                     * top go to the tcache, pushed last first so that they
                     * come out in address order, as top splits would */
                    size_t k = (rsize - LA_MINSIZE) / nb, room = tc->limit[tidx] - tc->counts[tidx];
                    if (k > room) k = room;
                    for (size_t i = k; i > 0; i--) {
                        la_chunk *c = ck_at(victim, i * nb);
                        c->size = nb | LA_PREV_INUSE | abit;
                        tc_put(tc, c, tidx);
                    }
                    rsize -= k * nb;
                    nb += k * nb;
                    if (k) la_t_carved = 1;
                }
                la_chunk *rem = ck_at(victim, nb);
                av->top = rem;
                rem->size = rsize | LA_PREV_INUSE;
                la_fault_ahead(av, one, nb, rem, rsize);
                LA_NOTE(LA_PATH_TOP, 0, 0, victim, nb, rsize);
                return ck2mem(victim);
            }
        }
        if (av->have_fastchunks) {
            la_consolidate(av);
            idx = la_in_smallbin_range(nb) ? la_smallbin_index(nb) : la_largebin_index(nb);
            continue;
        }
        /* 7. more memory (or an mmapped chunk) */
        return la_sysmalloc(av, nb);
    }
}

/* A large free region formed below top but did not reach it: chunks cached in
 * this thread's tcache may be what separates it from top (the batch refill
 * carves them off top), and while cached they pin the heap.  Give this
 * thread's cached chunks of av back to av (lock held), at most once per 4096
 * operations of the arena, so top can absorb the region and be trimmed.
 * Only when the batch refill carved chunks since the last drain
 * (la_t_carved: then every bin), or only the bins a tcache flush ran on
 * since then (la_t_flushed): otherwise the tcache holds only the first
 * chunks the program freed into it, which pin no more than in glibc, and
 * draining them would just turn later tcache hits into arena calls (a random
 * mix of sizes in a fragmented heap forms such regions all the time).  A
 * flush (la_tcache_flush) keeps the bin's older half and refills it with
 * recent frees: a program freeing its heap in address order then leaves its
 * last chunks, next to top, cached (bench frag without the batch refill kept
 * 105 of its 107 MiB; draining every bin instead of the flushed ones raised
 * randmix's peak RSS by 0.8 MiB).  Entries of other arenas stay cached. */
static LA_TLS int la_t_draining;
static LA_TLS uint64_t la_t_drain_ops;
static LA_NOINLINE void drain_tcache(struct la_arena *av)
{
    struct la_tcache *tc = la_tc_get();
    if (!tc || !(la_t_carved | la_t_flushed) || la_t_draining || av->ops - la_t_drain_ops < 4096) return;
    uint64_t bins = la_t_carved ? ~(uint64_t)0 : la_t_flushed;
    la_t_drain_ops = av->ops;
    la_t_carved = 0;
    la_t_flushed = 0;
    la_t_draining = 1;
    for (size_t i = 0; i < la_g.tc_bins; i++) {
        if (!((bins >> i) & 1)) continue;
        la_chunk *keep = NULL;
        while (tc->counts[i] > 0) {
            la_chunk *c = mem2ck(la_tcache_get_slow(tc, i));
            if (la_arena_of_mapped(c) == av) {
                la_int_free(av, c, 2);
            } else {
                c->fd = keep;           /* cached again below */
                keep = c;
            }
        }
        while (keep) {
            la_chunk *c = keep;
            keep = c->fd;
            tc_put(tc, c, i);
        }
    }
    la_t_draining = 0;
}

/* Free a non-fast chunk into the unsorted bin or top, coalescing; lock held.
 * traced: note the path for tracing, the caller's value of la_t_tracing.
 * Tested here, la_t_tracing (TLS) was read again in every merge, since the
 * register that held it from the caller's own test was taken by the link
 * tests (larson: 2 instructions per merge, 0.2M Ir at scale 0.05). */
LA_INLINE void free_merge(struct la_arena *av, la_chunk *p, size_t size, int may_trim, int traced)
{
    la_chunk *next = ck_at(p, size);
    if (la_unlikely(p == av->top)) la_fatal_arena(av, "double free or corruption (top)", ck2mem(p), p->size);
    if (av == &la_main_arena) {
        if (!(av->flags & LA_ARENA_NONCONTIG) && av->segments && !av->segments->prev && av->top &&
            la_unlikely((uintptr_t)next >= (uintptr_t)av->top + ck_size(av->top)))
            la_fatal_arena(av, "double free or corruption (out)", ck2mem(p), p->size);
    } else {
        struct la_segment *h = (struct la_segment *)la_heap_of((uintptr_t)p);
        if (la_unlikely((uintptr_t)next >= (uintptr_t)h + h->size))
            la_fatal_arena(av, "double free or corruption (out)", ck2mem(p), p->size);
    }
    if (la_unlikely(!(next->size & LA_PREV_INUSE)))
        la_fatal_arena(av, "double free or corruption (!prev)", ck2mem(p), p->size);
    size_t nextsize = ck_size(next);
    if (la_unlikely(next->size <= LA_CHUNK_HDR || nextsize >= av->system_mem))
        la_fatal_arena(av, "free(): invalid next size (normal)", ck2mem(p), p->size);

    perturb_free(ck2mem(p), size - LA_CHUNK_HDR);

    if (!(p->size & LA_PREV_INUSE)) {
        size_t prevsize = p->prev_size;
        size += prevsize;
        /* house of einherjar / poison null byte: the previous chunk must be in
         * the arena before it is even read */
        EXTRA_CHECK(chunk_in_av(av, (uintptr_t)p - prevsize), "corrupted size vs. prev_size while consolidating",
                    ck2mem(p), p->size);
        p = ck_at(p, -prevsize);
        if (la_unlikely(ck_size(p) != prevsize))
            la_fatal_arena(av, "corrupted size vs. prev_size while consolidating", ck2mem(p), p->size);
        unlink_chunk(av, p, NULL, 2);
    }
    if (next != av->top) {
        if (!ck_inuse_at(next, nextsize)) {
            unlink_chunk(av, next, NULL, 2);
            size += nextsize;
        } else {
            ck_clear_inuse_at(next, 0);
        }
        unsorted_push(av, p, size, "free(): corrupted unsorted chunks");
        p->size = size | LA_PREV_INUSE;
        ck_set_foot(p, size);
        if (traced) LA_NOTE_PATH(LA_PATH_FREE_UNSORTED, 1, size);
    } else {
        size += nextsize;
        p->size = size | LA_PREV_INUSE;
        av->top = p;
        if (traced) LA_NOTE_PATH(LA_PATH_FREE_TOP, 0, size);
    }

    if (may_trim && size >= LA_CONSOLIDATE_THRESHOLD) {
        if (p != av->top && size >= la_dbg.tunables.trim_threshold) drain_tcache(av);
        /* this thread's cached big chunks that border top go back (bigcache.c) */
        if (la_unlikely(la_tc->bc_hi >= (uintptr_t)av->top) && la_tc->bc_bytes) la_bc_flush_top(av);
        if (av->have_fastchunks) la_consolidate(av);
        la_auto_trim(av);
    }
}

/* have_lock: 0 = take av->lock here; 1 = caller holds it; 2 = caller holds it
 * and the arena must not be trimmed now (sysmalloc closing an old top). */
void la_int_free(struct la_arena *av, la_chunk *p, int have_lock)
{
    size_t size = ck_size(p);
    if (la_unlikely((uintptr_t)p > (uintptr_t)-size || !la_aligned((uintptr_t)p)))
        la_fatal("free(): invalid pointer", ck2mem(p), p->size);
    if (la_unlikely(size < LA_MINSIZE || !la_aligned(size)))
        la_fatal("free(): invalid size", ck2mem(p), p->size);
    la_int_free_sized(av, p, size, have_lock);
}

static void int_free_general(struct la_arena *av, la_chunk *p, size_t size, int have_lock);

/* After the fastbin push below: the wake-up of a waiter and the deferred
 * unmaps of la_arena_unlock, out of line. */
static LA_NOINLINE void fast_unlock_rest(struct la_arena *av, int wake)
{
    if (wake) la_lock_wake(&av->lock);
    if (la_t_unmap != NULL) la_unmap_pending();
}

#if LA_HARDEN_EXTRA
/* A fastbin chunk carrying the tcache key, lock held: the general path. */
static LA_NOINLINE void fast_free_keyed(struct la_arena *av, la_chunk *p, size_t size)
{
    int_free_general(av, p, size, 1);
    la_arena_unlock(av);
}
#endif

/* la_int_free once p's address and size (its chunk size) have passed those
 * two checks (free's slow path makes them first).
 *
 * The most common arena free, a fastbin push by a caller that does not hold
 * the lock, runs here without a stack frame: the lock taken without waiting
 * (else the general path waits for it), the same checks in the same order as
 * int_free_general's fastbin branch, and no call that returns except in tail
 * position.  Tracing, perturb and a chunk that carries the tcache key take the
 * general path. */
void la_int_free_sized(struct la_arena *av, la_chunk *p, size_t size, int have_lock)
{
    if (la_likely(!have_lock && size <= la_g.max_fast && !la_t_tracing && !la_dbg.tunables.perturb)) {
        if (!la_trylock(&av->lock)) goto general;
        unsigned idx = la_fastbin_index(size);
        la_chunk *old = fast_put_checks(av, p, size, idx);
#if LA_HARDEN_EXTRA
        if (la_unlikely((uint64_t)(uintptr_t)p->bk == la_g.tc_key)) {
            fast_free_keyed(av, p, size);
            return;
        }
        p->bk = (la_chunk *)(uintptr_t)la_g.tc_key;
#endif
        av->ops++;
        av->have_fastchunks = 1;
        p->fd = (la_chunk *)la_protect_ptr((uintptr_t)&p->fd, (uintptr_t)old);
        av->fastbins[idx] = p;
        int wake = la_unlock_nowake(&av->lock);
        if (la_unlikely(wake || la_t_unmap != NULL)) fast_unlock_rest(av, wake);
        return;
    }
general:
    int_free_general(av, p, size, have_lock);
}

static void int_free_general(struct la_arena *av, la_chunk *p, size_t size, int have_lock)
{
    if (!have_lock) la_lock(&av->lock);
    av->ops++;
    if (size <= la_g.max_fast) {
        unsigned idx = la_fastbin_index(size);
        la_chunk *old = fast_put_checks(av, p, size, idx);
        perturb_free(ck2mem(p), size - LA_CHUNK_HDR);
        av->have_fastchunks = 1;
#if LA_HARDEN_EXTRA
        /* a fastbin chunk carries the tcache key in bk (as a tcache entry
         * would): a free that finds it looks deeper than the head */
        if (la_unlikely((uint64_t)(uintptr_t)p->bk == la_g.tc_key)) {
            if (fastbin_contains(av, idx, p))
                la_fatal_arena(av, "free(): double free detected in fastbin", ck2mem(p), p->size);
            la_remote_check_double_free(av, p, 1);
        }
        p->bk = (la_chunk *)(uintptr_t)la_g.tc_key;
#endif
        p->fd = (la_chunk *)la_protect_ptr((uintptr_t)&p->fd, (uintptr_t)old);
        av->fastbins[idx] = p;
        LA_NOTE(LA_PATH_FAST_PUT, idx, 0, p, size, 0);
    } else {
        int traced = la_t_tracing;
        if (la_unlikely(traced)) {
            la_t_note.chunk = (uint64_t)(uintptr_t)p;
            la_t_note.csize = size;
        }
        free_merge(av, p, size, have_lock != 2, traced);
    }
    if (!have_lock) la_arena_unlock(av);
}

/* Tcache flush: free p (size; its tcache bin idx is full) to av, the
 * calling thread's own arena, together with the newest half of that bin's
 * entries of av, under one lock.
 *
 * Why.  A thread that frees many blocks in a row (a fragmented heap emptied
 * at random: bench frag) finds its bins full, and each free then took the
 * whole arena path alone: the slow-path dispatch, the lock (atomic once the
 * process has threads), free's checks, the merge.  The merge itself waits on
 * cache misses (the header after the next chunk, the neighbours' links),
 * one after the other.  Here those fixed costs are paid once per batch, and
 * the misses of chunk i + 1 are prefetched while chunk i is merged, so that
 * they overlap.
 *
 * What goes to the arena is what glibc's free sends there (p, whose bin is
 * full) plus up to limit/2 - 1 entries popped from the bin with the checks
 * of la_tcache_pop_checked (aligned, in a heap, count sane), whose key is
 * cleared; entries of other arenas are cached again in their old order.
 * Every chunk then gets la_int_free's address and size checks and the whole
 * arena free (free_merge, or int_free_general for a fastbin chunk: all of
 * glibc's checks and the extra ones).  The lookahead reads the next chunk's
 * header of a chunk only when its size is the bin's one and it lies in the
 * thread's own ownership window, which keeps LA_WIN_TAIL bytes clear of its
 * segment's end: that header is readable; everything else it only
 * prefetches, which cannot fault.  The
 * bin is marked flushed (la_t_flushed) so that drain_tcache may empty it when
 * a large free region forms below top (its recent entries could pin it). */
#define FLUSH_MAX 32
LA_INLINE void flush_prefetch_next(la_chunk *c, size_t tcsize, int readable)
{
    if (readable && ck_size(c) == tcsize) {
        la_chunk *n = ck_at(c, tcsize);
        __builtin_prefetch((char *)n + ck_size(n) + LA_SIZE_SZ);     /* the chunk after next: in use? */
        if (!(c->size & LA_PREV_INUSE)) __builtin_prefetch((char *)c - c->prev_size + LA_SIZE_SZ);
    }
}

void la_tcache_flush(struct la_tcache *tc, struct la_arena *av, la_chunk *p, size_t size, size_t idx)
{
    la_chunk *batch[FLUSH_MAX], *others = NULL;
    size_t tcsize = la_tcache_chunk_size(idx);
    unsigned want = tc->limit[idx] / 2u, n = 1;
    if (want > FLUSH_MAX) want = FLUSH_MAX;
    uint32_t readable = 1;              /* batch[i]'s next header may be read: bit i */
    flush_prefetch_next(p, size, 1);    /* (the inline free read p's next header) */
    batch[0] = p;
    while (n < want && tc->counts[idx] > 0) {
        struct la_tcache_entry *e = tc->entries[idx];
        la_chunk *c = mem2ck(e);
#if LA_HARDEN_EXTRA
        size_t abit = la_arena_bit(av);
        /* the common entry, popped with the checks of la_tcache_pop_checked
         * made the cheap way: in av's own window (aligned, in av; not the
         * tcache's copy, which may be the heap zone's, covering every arena,
         * or another arena's window, la_tc_fw_note), av's arena bit, the
         * bin's size; anything else the general way */
        if (la_likely(la_win_ok(av, (uintptr_t)e) &&
                      tc->counts[idx] <= la_g.tc_cap[idx] &&
                      (c->size & ~(size_t)LA_PREV_INUSE) == (tcsize | abit))) {
            la_tc_take_head(tc, idx, e, la_reveal_ptr((uintptr_t)&e->next, e->next));
            readable |= (uint32_t)1 << n;   /* in the own window */
            batch[n++] = c;
            __builtin_prefetch((char *)c + tcsize + LA_SIZE_SZ);           /* its next chunk's header */
            continue;
        }
#endif
        c = mem2ck(la_tcache_pop_checked(tc, idx));
        if (la_arena_of_mapped(c) == av) {
            batch[n++] = c;
            __builtin_prefetch((char *)c + tcsize + LA_SIZE_SZ);
        } else {
            c->fd = others;
            others = c;
        }
    }
    while (others) {                    /* cached again, in their old order */
        la_chunk *c = others;
        others = c->fd;
        tc_put(tc, c, idx);
    }
    la_t_flushed |= (uint64_t)1 << idx; /* the bin now holds recent frees: drain_tcache may take them */
    la_lock(&av->lock);
    av->ops += n;
    for (unsigned i = 0; i < n; i++) {
        la_chunk *c = batch[i];
        if (i + 1 < n) flush_prefetch_next(batch[i + 1], tcsize, (readable >> (i + 1)) & 1);
        size_t sz = ck_size(c);
        if (la_unlikely((uintptr_t)c > (uintptr_t)-sz || !la_aligned((uintptr_t)c)))
            la_fatal_arena(av, "free(): invalid pointer", ck2mem(c), c->size);
        if (la_unlikely(sz < LA_MINSIZE || !la_aligned(sz)))
            la_fatal_arena(av, "free(): invalid size", ck2mem(c), c->size);
        /* int_free_general's arena free, its lock, count and tracing done
         * here once (the caller excludes tracing and perturb) */
        if (sz <= la_g.max_fast) {
            av->ops--;
            int_free_general(av, c, sz, 1);
        } else {
            free_merge(av, c, sz, 1, 0);     /* (never traced: see la_free_slow_inheap) */
        }
    }
    la_arena_unlock(av);
}

void la_consolidate(struct la_arena *av)
{
    LA_NOTE_FLAG(LA_OPF_CONSOLIDATED);
    la_chunk *unsorted = bin_at(av, LA_BIN_UNSORTED);
    av->have_fastchunks = 0;
    for (unsigned i = 0; i < LA_NFASTBINS; i++) {
        la_chunk *p = av->fastbins[i];
        av->fastbins[i] = NULL;
        while (p) {
            if (la_unlikely(!la_aligned((uintptr_t)p)))
                la_fatal_arena_ns(av, "malloc_consolidate(): unaligned fastbin chunk detected", p);
            EXTRA_CHECK_NS(chunk_in_av(av, (uintptr_t)p), "malloc_consolidate(): fastbin chunk outside the heap detected",
                        p);
            if (la_unlikely(la_fastbin_index(ck_size(p)) != i))
                la_fatal_arena(av, "malloc_consolidate(): invalid chunk size", ck2mem(p), p->size);
            la_chunk *nextp = (la_chunk *)la_reveal_ptr((uintptr_t)&p->fd, (uintptr_t)p->fd);
            __builtin_prefetch((char *)nextp + LA_SIZE_SZ);     /* the next one's header (cannot fault) */
#if LA_HARDEN_EXTRA
            p->bk = NULL;               /* no stale fastbin key inside a merged chunk */
#endif
            size_t size = ck_size(p);
            la_chunk *next = ck_at(p, size);
            size_t nextsize = ck_size(next);
            if (!(p->size & LA_PREV_INUSE)) {
                size_t prevsize = p->prev_size;
                size += prevsize;
                EXTRA_CHECK(chunk_in_av(av, (uintptr_t)p - prevsize), "corrupted size vs. prev_size in fastbins",
                            ck2mem(p), p->size);
                p = ck_at(p, -prevsize);
                if (la_unlikely(ck_size(p) != prevsize))
                    la_fatal_arena(av, "corrupted size vs. prev_size in fastbins", ck2mem(p), p->size);
                la_unlink(av, p);
            }
            if (next != av->top) {
                if (!ck_inuse_at(next, nextsize)) {
                    size += nextsize;
                    la_unlink(av, next);
                } else {
                    ck_clear_inuse_at(next, 0);
                }
                la_chunk *first = unsorted->fd;
                unsorted->fd = p;
                first->bk = p;
                if (!la_in_smallbin_range(size)) p->fd_nextsize = p->bk_nextsize = NULL;
                p->size = size | LA_PREV_INUSE;
                p->bk = unsorted;
                p->fd = first;
                ck_set_foot(p, size);
            } else {
                size += nextsize;
                p->size = size | LA_PREV_INUSE;
                av->top = p;
            }
            p = nextp;
        }
    }
}

/* Free an in-use chunk of av that realloc gives up (the old chunk after a
 * move, or the tail cut off): as glibc's _int_free, into this thread's tcache
 * when its bin has room, else into the arena.  Lock held.  The tcache branch
 * makes the checks of free's (malloc.c free_body): a chunk carrying the
 * tcache key is looked for in its tcache bin and, with the extra checks, in
 * its fastbin (a realloc of a block already freed: "free(): double free
 * detected in tcache 2", as glibc's realloc reports it). */
static void realloc_free(struct la_arena *av, la_chunk *p, size_t size)
{
    struct la_tcache *tc = la_tc_get();
    size_t idx = la_tcache_index(size);
    if (tc && idx < la_g.tc_bins && la_tcache_free(tc, av, p, size, idx, 1)) return;
    la_int_free(av, p, 1);
}

/* Slack given to a block that realloc moves or grows into top: as much as its
 * old chunk size, at most its new size again (a vector's doubling for a block
 * that grows step by step; little for a small block asked to become a big
 * one, which is no sign of growth to come), capped just below the mmap
 * threshold for a move so that the block stays in the heap.  A chunk resized
 * to more than half of itself keeps its tail (la_int_realloc).
 * realloc_grow (8 buffers growing side by side by 1..256 bytes up to
 * 512 KiB; moves / GB copied / peak RSS):
 *   glibc, and liballoc without slack   47.3k / 3.8 / 11.2-15.1 MiB
 *   nb/2, no slack at the cap            21.5k / 2.0 / 14.0 MiB
 *   nb/2, capped                         21.1k / 1.5 /  9.4 MiB
 *   nb, capped                           15.3k / 1.0 /  9.0 MiB
 *   min(oldsize, nb), capped (this)      16.4k / 1.1 /  8.6 MiB
 * (without the cap the large blocks got no slack and landed worse).  A mix
 * of random jumps up to 300 KB, halvings and small steps (4 threads x 64
 * buffers) peaked at 64.8 MiB with a slack of nb, 52.8 MiB with this
 * (no slack 49.9 MiB, glibc 45.2 MiB). */
#define REALLOC_SLACK(nb, oldsize) ((oldsize) < (nb) ? (oldsize) : (nb))

/* Grow p by moving it, still under the lock, as glibc's _int_realloc does:
 * the new chunk comes from the arena (la_int_malloc), never from the tcache,
 * and the old chunk is freed as glibc's _int_free frees it: into the tcache
 * when its bin has room, else to the arena.  The placement matters: taking
 * the new chunk from the tcache (as malloc would) reuses the small holes that
 * the tcache keeps apart, and the growing blocks then run into in-use
 * neighbours sooner (realloc_grow copied 2.5 x the bytes glibc copies; glibc
 * itself does so with tcache_count=0).  Unlike glibc, the new chunk is asked
 * for with REALLOC_SLACK on top (up to just below the mmap threshold; nb
 * exactly when av cannot give that).  When the new
 * chunk is the one right after p (top grew in place), p just extends into
 * it: no copy.  Returns NULL (p intact) when av has no memory. */
static void *realloc_move(struct la_arena *av, la_chunk *p, size_t oldsize, size_t nb, size_t *newsizep)
{
    size_t want = nb + REALLOC_SLACK(nb, oldsize), cap = la_dbg.tunables.mmap_threshold;
    void *m = NULL;
    if (want >= cap) want = cap > nb + LA_MINSIZE ? (cap - LA_MINSIZE) & ~(size_t)LA_ALIGN_MASK : nb;
    if (want > nb) m = la_int_malloc(av, want);
    if (!m) m = la_int_malloc(av, nb);
    if (!m) return NULL;
    la_chunk *np = mem2ck(m);
    if (np == ck_at(p, oldsize) && !(np->size & LA_IS_MMAPPED)) {
        *newsizep = oldsize + ck_size(np);
        return ck2mem(p);
    }
    perturb_alloc(m, la_usable_size(ck_size(np), la_is_mmapped(np->size)));
    memcpy(m, ck2mem(p), oldsize - LA_SIZE_SZ);
    realloc_free(av, p, oldsize);
    return m;
}

/* Resize chunk p (oldsize, not mmapped) to nb: in place when the next chunk
 * (top or a free chunk) has room, else by moving it within av (realloc_move).
 * A chunk that already has room keeps a tail smaller than nb (the slack of
 * an earlier move, or a shrink to more than half); a larger tail, and what is
 * left of a free next chunk grown into, is split off and freed as in glibc.
 * Returns the user pointer, or NULL when av is out of memory (p intact). */
void *la_int_realloc(struct la_arena *av, la_chunk *p, size_t oldsize, size_t nb)
{
    size_t abit = la_arena_bit(av);
    la_chunk *next = ck_at(p, oldsize);
    if (la_unlikely(next->size <= LA_CHUNK_HDR || ck_size(next) >= av->system_mem))
        la_fatal_arena(av, "realloc(): invalid next size", ck2mem(p), p->size);
    size_t newsize = oldsize;
    av->ops++;
    if (oldsize < nb) {
        size_t nextsize = ck_size(next);
        if (next == av->top) {
            if (oldsize + nextsize >= nb + LA_MINSIZE) {
                /* with the slack a move would get, when top has it */
                size_t want = nb + REALLOC_SLACK(nb, oldsize);
                if (want <= nb || oldsize + nextsize < want + LA_MINSIZE) want = nb;
                p->size = want | (p->size & LA_PREV_INUSE) | abit;
                la_chunk *t = ck_at(p, want);
                t->size = (oldsize + nextsize - want) | LA_PREV_INUSE;
                av->top = t;
                return ck2mem(p);
            }
        } else if (!ck_inuse_at(next, nextsize) && oldsize + nextsize >= nb) {
            la_unlink(av, next);
            newsize += nextsize;
        }
        if (newsize < nb) {
            void *m = realloc_move(av, p, oldsize, nb, &newsize);
            if (m != ck2mem(p)) return m;
        }
    }
    size_t rsize = newsize - nb;
    if (rsize < LA_MINSIZE || (newsize == oldsize && rsize < nb)) {
        p->size = newsize | (p->size & LA_PREV_INUSE) | abit;
        ck_set_inuse_at(p, newsize);
    } else {
        la_chunk *rem = ck_at(p, nb);
        p->size = nb | (p->size & LA_PREV_INUSE) | abit;
        rem->size = rsize | LA_PREV_INUSE | abit;
        ck_set_inuse_at(rem, rsize);
        realloc_free(av, rem, rsize);
    }
    return ck2mem(p);
}

/* Caller checked: alignment is a power of two > LA_ALIGNMENT and
 * nb + alignment + LA_MINSIZE does not overflow. */
void *la_int_memalign(struct la_arena *av, size_t alignment, size_t nb)
{
    size_t abit = la_arena_bit(av);
    char *m = la_int_malloc(av, nb + alignment + LA_MINSIZE);
    if (!m) return NULL;
    la_chunk *p = mem2ck(m);
    if ((uintptr_t)m & (alignment - 1)) {
        char *brk = (char *)mem2ck((void *)(((uintptr_t)m + alignment - 1) & -(uintptr_t)alignment));
        if ((size_t)(brk - (char *)p) < LA_MINSIZE) brk += alignment;
        la_chunk *newp = (la_chunk *)brk;
        size_t lead = (size_t)(brk - (char *)p);
        size_t newsize = ck_size(p) - lead;
        if (p->size & LA_IS_MMAPPED) {
            newp->prev_size = p->prev_size + lead;
            newp->size = newsize | LA_IS_MMAPPED;
            la_mreg_move((uintptr_t)p, (uintptr_t)newp, ck_size(p), newsize);
            return ck2mem(newp);
        }
        newp->size = newsize | LA_PREV_INUSE | abit;
        ck_set_inuse_at(newp, newsize);
        p->size = lead | (p->size & LA_PREV_INUSE) | abit;
        la_int_free(av, p, 1);
        p = newp;
    }
    if (!(p->size & LA_IS_MMAPPED)) {
        size_t size = ck_size(p);
        if (size > nb + LA_MINSIZE) {
            size_t rsize = size - nb;
            la_chunk *rem = ck_at(p, nb);
            rem->size = rsize | LA_PREV_INUSE | abit;
            p->size = nb | (p->size & LA_PREV_INUSE) | abit;
            la_int_free(av, rem, 1);
        }
    }
    return ck2mem(p);
}

/* malloc_trim for one arena: give back whole free pages inside free chunks and
 * shrink top.  Returns 1 if memory was released. */
int la_trim_arena(struct la_arena *av, size_t pad)
{
    int released = 0;
    size_t ps = la_g.pagesize;
    la_consolidate(av);
    for (unsigned i = 1; i < LA_NBINS; i++) {
        la_chunk *bin = bin_at(av, i);
        for (la_chunk *p = bin->fd; p != bin; p = p->fd) {
            size_t size = ck_size(p);
            if (size > ps + sizeof(la_chunk)) {
                uintptr_t from = la_align_up((uintptr_t)p + sizeof(la_chunk), ps);
                uintptr_t to = ((uintptr_t)p + size) & ~(uintptr_t)(ps - 1);
                if (to > from && la_os_madvise((void *)from, to - from, MADV_DONTNEED) == 0) released = 1;
            }
        }
    }
    if (av == &la_main_arena) released |= la_systrim(av, pad);
    else la_heap_trim(av, 0);
    return released;
}
