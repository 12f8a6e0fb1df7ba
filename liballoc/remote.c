/*
 * liballoc/remote.c - lock-free return of chunks freed by other threads.
 *
 * How the data flows.  A thread frees a chunk of an arena it is not attached
 * to (a consumer freeing what a producer allocated).  The chunk goes to the
 * freeing thread's tcache first, as any free does.  When that tcache bin is
 * full, malloc.c remote_free takes the bin's chunks of the same arena out of
 * the tcache, links them with the chunk being freed into one chain (through
 * their fd words, safe-linked like fastbin fd; each keeps the tcache key in
 * its bk word as the mark "freed, not yet in the arena") and pushes the whole
 * chain onto the owner arena's list head, la_arena.remote, with ONE
 * compare-and-swap (la_remote_push).  The freeing thread never takes the
 * owner's lock, so the owner never waits for it.
 *
 * Any thread that holds the arena's lock takes the whole list with one atomic
 * exchange and frees each chunk into the bins under the lock it already holds
 * (la_remote_drain).  Where that happens (the list is empty almost always, and
 * testing it is one load of a line nobody else writes):
 *   - every locked allocation from the arena (arena.c: la_arena_lock_mine and
 *     its inline fast form, so malloc's and calloc's/memalign's arena paths,
 *     la_arena_retry), before the bins are searched: the producer gets its
 *     own chunks back as soon as its tcache misses, which keeps the heap (and
 *     RSS) as small as when the consumer freed them under the lock;
 *   - realloc of a heap chunk (under its arena's lock), malloc_trim and the
 *     statistics (malloc_stats, malloc_info, mallinfo2), liballoc_check_heap
 *     (which validates the list first), and when a thread detaches from the
 *     arena;
 *   - a push to an arena no thread is attached to (its producer exited) does
 *     not wait for anyone's malloc: the pusher takes that arena's lock and
 *     frees the chain itself.
 * The fork handlers hold every arena lock; a list that only changes by a CAS
 * of its head and an exchange is consistent at any instant, so the child
 * inherits it as it is and drains it on its first allocation.
 *
 * Checks.  Nothing in the list is followed blindly: a drained chunk address
 * must be aligned and lie in the arena before it is read (else "malloc():
 * remote-free chunk outside the heap detected"), must carry the mark (else
 * "malloc(): corrupted remote-free list"), and the walk is bounded by the
 * number of minimal chunks the arena could hold.  Then each chunk is freed
 * exactly as free() would free it (la_int_free: size, alignment, next chunk's
 * size and PREV_INUSE, top, fastbin head...).  A second free of a chunk that
 * sits in a list sees the tcache key (the inline free sends it to the slow
 * path); when neither its tcache bin nor its fastbin holds it, the owner
 * arena's list is searched under the lock (la_remote_check_double_free):
 * "free(): double free detected in remote-free list".
 *
 * Measured (prodcons -t 2, against main 8829ebc, where the consumer returned
 * each full bin under the producer's lock): callgrind Ir at -s 0.2 570.9M ->
 * 463.9-497.5M (glibc 454.8M; the producer no longer spins for the lock);
 * peak RSS 2364 -> 2292 KB (glibc 2176 KB, median of 5).  Wall time did not
 * drop on the shared 2-core machine (median 0.28 -> 0.38 s, load 5-6): user
 * time is the same (0.23-0.25 s) but the consumer, which now only pushes,
 * idles on the benchmark's queue and every hand-off wakes it (involuntary
 * context switches 4.5k -> 23k, system time 0.03 -> 0.10 s); the producer,
 * which now also frees, sets the pace.  Drained chunks that fit go to the
 * producer's tcache, and a bin the producer missed since it last grew may
 * grow for them (la_tc_grow, as a free would); the malloc whose lock ran the
 * drain is then served from its refilled bin (malloc.c la_malloc_slow).
 * Measured (make bench --runs 5 on five benchmarks, load 1-2): prodcons
 * 0.49 -> 0.41 x glibc's time, 92% of drained chunks now go straight to the
 * tcache (7 per bin before), peak RSS 0.98 -> 1.02 x glibc.  The walk is
 * pipelined with a look-ahead hint (REMOTE_AHEAD): prodcons -s 2, median of
 * 7, 0.56 -> 0.43 s.
 */
#include "internal.h"

#define REMOTE_OUTSIDE "malloc(): remote-free chunk outside the heap detected"
#define REMOTE_CORRUPT "malloc(): corrupted remote-free list"
/* Look-ahead hint.  A drain is a pointer chase through chunks another thread
 * wrote last: every link is a cache miss that the next one waits for.  So a
 * pusher also stores in each chunk's third user word (fd_nextsize: inside the
 * chunk's usable size, which is at least 24 bytes) the chunk REMOTE_AHEAD
 * places further down its chain (NULL for the last ones), and the drain
 * prefetches it: several misses in flight instead of one.  The hint is only
 * ever prefetched, never dereferenced, so a wrong or corrupted one costs a
 * useless prefetch and nothing else; every link the drain follows is still
 * the safe-linked, checked fd. */
#define REMOTE_AHEAD 2

/* Push the chain first..last (n chunks, linked through plain fd pointers,
 * last->fd unused) onto av's remote list.  Lock-free: one CAS (retried only
 * when another pusher or the owner changed the head meanwhile). */
void la_remote_push(struct la_arena *av, la_chunk *first, la_chunk *last, size_t n)
{
    /* safe-link every link but the last one now (they do not change), and
     * give each chunk its look-ahead hint (REMOTE_AHEAD) */
    la_chunk *win[REMOTE_AHEAD];
    size_t k = 0;
    for (la_chunk *c = first;;) {
        if (k >= REMOTE_AHEAD) win[k % REMOTE_AHEAD]->fd_nextsize = c;
        win[k++ % REMOTE_AHEAD] = c;
        if (c == last) break;
        la_chunk *next = c->fd;
        c->fd = (la_chunk *)la_protect_ptr((uintptr_t)&c->fd, (uintptr_t)next);
        c = next;
    }
    for (size_t j = k > REMOTE_AHEAD ? k - REMOTE_AHEAD : 0; j < k; j++) win[j % REMOTE_AHEAD]->fd_nextsize = NULL;
    la_chunk *old = __atomic_load_n(&av->remote, __ATOMIC_RELAXED);
    do {
        last->fd = (la_chunk *)la_protect_ptr((uintptr_t)&last->fd, (uintptr_t)old);
    } while (!__atomic_compare_exchange_n(&av->remote, &old, first, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    /* statistics for heapview and the tests; the line is ours already */
    __atomic_fetch_add(&av->remote_chunks, n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&av->remote_batches, 1, __ATOMIC_RELAXED);
}

/* The link after c (a checked list member). */
LA_INLINE la_chunk *remote_next(const la_chunk *c)
{
    return (la_chunk *)la_reveal_ptr((uintptr_t)&c->fd, (uintptr_t)c->fd);
}

/* c, a list member about to be read: aligned and inside av (no read before). */
LA_INLINE void remote_entry_ok(struct la_arena *av, la_chunk *c)
{
    if (la_unlikely(!la_aligned((uintptr_t)c) || !la_chunk_in_arena(av, (uintptr_t)c)))
        la_fatal_arena_ns(av, REMOTE_OUTSIDE, ck2mem(c));
}

/* av->lock held, av->remote non-empty: take the list and free its chunks.
 * tc: the tcache of the draining thread when it is attached to av and about
 * to allocate from it (NULL otherwise): a chunk whose tcache bin has room, or
 * may grow (la_tc_grow: the thread missed that bin since it last grew), goes
 * there, with the checks the tcache branch of free() makes, so the chunk is
 * neither coalesced into the bins now nor carved out of them again by the
 * next malloc (prodcons: the producer, which never frees, gets its blocks
 * back straight into its empty tcache).  The rest are freed into the bins
 * (la_int_free, all of free()'s checks). */
void la_remote_drain_slow(struct la_arena *av, struct la_tcache *tc)
{
    la_chunk *c = __atomic_exchange_n(&av->remote, NULL, __ATOMIC_ACQUIRE);
    uint64_t limit = av->system_mem / LA_MINSIZE + 1, n = 0;
    uint64_t key = la_g.tc_key;
    size_t abit = la_arena_bit(av);
    /* The chunks were last written by the freeing thread: each read here
     * misses.  The walk is pipelined one chunk deep: the link of the chunk
     * after c is read (a demand miss) and the line of its next chunk's header
     * prefetched before c is checked and freed, so that miss overlaps c's
     * work instead of following it (c's own lines were fetched or prefetched
     * one step earlier).  Every member is checked (aligned, inside the arena,
     * the walk bounded) before anything of it is read; a prefetch reads
     * nothing it may not: it cannot fault. */
    la_chunk *next = NULL;
    if (c) {
        remote_entry_ok(av, c);
        n++;
        next = remote_next(c);
        __builtin_prefetch(next);
        __builtin_prefetch(ck_at(c, la_chunksize(c->size)));
    }
    while (c) {
        la_chunk *after = NULL;
        if (next) {
            remote_entry_ok(av, next);
            if (la_unlikely(n++ >= limit)) la_fatal_arena_ns(av, REMOTE_CORRUPT, ck2mem(next));
            after = remote_next(next);
            size_t nsz = la_chunksize(next->size);
            __builtin_prefetch(after);
            __builtin_prefetch(ck_at(next, nsz));
            if (la_likely(la_chunk_in_arena(av, (uintptr_t)next + LA_MINSIZE))) {
                /* the hint: a chunk of the same chain, so likely of the same size */
                la_chunk *ahead = next->fd_nextsize;
                __builtin_prefetch(ahead);
                __builtin_prefetch((char *)ahead + nsz);
            }
        }
        size_t sf = c->size;            /* read now: freeing the chunk before may have changed it */
        if (la_unlikely((uint64_t)(uintptr_t)c->bk != key)) la_fatal_arena(av, REMOTE_CORRUPT, ck2mem(c), sf);
        /* ownership: the chunk's arena bit must name av, as free's owner check demands */
        if (la_unlikely((sf & (LA_NON_MAIN_ARENA | LA_IS_MMAPPED)) != abit))
            la_fatal_arena(av, "free(): invalid pointer", ck2mem(c), sf);
        size_t size = la_chunksize(sf), idx = la_tcache_index(size);
        if (tc && idx < la_g.tc_bins && (tc->counts[idx] < tc->limit[idx] || la_tc_grow(tc, idx)) && size >= LA_MINSIZE &&
            la_aligned(size) && la_chunk_in_arena(av, (uintptr_t)c + size)) {
            /* free()'s tcache branch: the next chunk's size and PREV_INUSE */
            la_chunk *nx = ck_at(c, size);
            if (la_unlikely(nx->size <= LA_CHUNK_HDR || ck_size(nx) >= av->system_mem))
                la_fatal_arena(av, "free(): invalid next size (fast)", ck2mem(c), sf);
            if (la_unlikely(!(nx->size & LA_PREV_INUSE)))
                la_fatal_arena(av, "double free or corruption (!prev)", ck2mem(c), sf);
            tc_put(tc, c, idx);         /* keeps the key: still marked as freed */
        } else {
            c->bk = NULL;               /* no longer marked: a free of it from now on is a plain free */
            la_int_free(av, c, 1);
        }
        c = next;
        next = after;
    }
    av->remote_drained += n;
}

/* A chunk p of av carries the tcache key and is in neither its tcache bin nor
 * its fastbin: if it sits in av's remote list, this is a double free.  The
 * list below its head only changes under the lock, so a walk from a head read
 * under the lock is safe against concurrent pushes. */
void la_remote_check_double_free(struct la_arena *av, la_chunk *p, int have_lock)
{
    if (!__atomic_load_n(&av->remote, __ATOMIC_RELAXED)) return;
    if (!have_lock) la_lock(&av->lock);
    uint64_t limit = av->system_mem / LA_MINSIZE + 1;
    for (la_chunk *c = __atomic_load_n(&av->remote, __ATOMIC_ACQUIRE); c; c = remote_next(c)) {
        remote_entry_ok(av, c);
        if (la_unlikely(limit-- == 0)) la_fatal_arena_ns(av, REMOTE_CORRUPT, ck2mem(c));
        if (c == p) la_fatal_arena(av, "free(): double free detected in remote-free list", ck2mem(p), p->size);
    }
    if (!have_lock) la_arena_unlock(av);
}

/* liballoc_check_heap: take av's list (lock held) and check every member as
 * the drain would, without aborting.  0 and the list freed into the bins, or
 * -1 with what and addr naming the fault (the list is then dropped: its chunks
 * stay allocated, nothing is freed from a list that is known to be bad).
 * Pushes that arrive meanwhile start a new list (drained later). */
int la_remote_validate(struct la_arena *av, const char **what, uintptr_t *addr)
{
    la_chunk *head = __atomic_exchange_n(&av->remote, NULL, __ATOMIC_ACQUIRE);
    uint64_t limit = av->system_mem / LA_MINSIZE + 1, n = 0;
    for (la_chunk *c = head; c; c = remote_next(c)) {
        *addr = (uintptr_t)c;
        if (!la_aligned((uintptr_t)c)) return *what = "misaligned remote-free chunk", -1;
        if (!la_chunk_in_arena(av, (uintptr_t)c)) return *what = "remote-free chunk outside the arena", -1;
        if (++n > limit) return *what = "remote-free list does not end (cycle)", -1;
        size_t size = ck_size(c);
        if (size < LA_MINSIZE || !la_aligned(size) || !la_chunk_in_arena(av, (uintptr_t)c + size - LA_MINSIZE))
            return *what = "remote-free chunk size invalid", -1;
        if ((c->size & (LA_NON_MAIN_ARENA | LA_IS_MMAPPED)) != la_arena_bit(av))
            return *what = "remote-free chunk's flags disagree with its arena", -1;
        if ((uint64_t)(uintptr_t)c->bk != la_g.tc_key) return *what = "remote-free chunk without its mark", -1;
        if (!(ck_at(c, size)->size & LA_PREV_INUSE)) return *what = "remote-free chunk marked free by its next chunk", -1;
        if (c == av->top) return *what = "top is in the remote-free list", -1;
    }
    /* checked: free them into the bins, as the drain would */
    for (la_chunk *c = head; c;) {
        la_chunk *next = remote_next(c);
        c->bk = NULL;
        la_int_free(av, c, 1);
        c = next;
    }
    av->remote_drained += n;
    return 0;
}
