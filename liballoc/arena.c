/*
 * liballoc/arena.c - the arena list and which arena a thread uses.
 *
 * The first thread to call liballoc uses the main arena (in .bss, grown by
 * sbrk).  Every other thread, on its first allocation, attaches to an arena
 * that no thread uses (free list, arenas of exited threads first), or, once
 * there are more arenas than cores, to an arena whose threads have not
 * allocated from it for a while (see "idle arenas"), or creates one (each
 * non-main arena lives at the start of its first 64 MiB-aligned heap) while
 * there are fewer than arena_max (default 8 x cores), or else shares one
 * round-robin.  It then sticks to it (initial-exec TLS la_t_arena).  When its
 * arena's lock is busy and another attached thread shares that arena, a
 * thread moves: to a new arena while the limit allows, or to another arena
 * whose lock it can take; a thread alone on its arena waits for the lock
 * (the holder is freeing chunks of this arena, see la_arena_lock_mine).
 * Frees always go back to the chunk's own arena (la_arena_of); chunks
 * freed by threads of other arenas come back through its lock-free remote
 * list (remote.c), which whoever locks the arena here drains first.
 *
 * Lock order: an arena lock before the registry lock (sysmalloc registers
 * mmapped chunks while holding its arena).  Under the registry lock an arena
 * lock is only ever tried, never waited for.
 */
#include "internal.h"

/* 64-aligned (not only 8), like every other arena's 16-aligned place in its
 * heap: the bin headers are then 16-aligned and la_bin_hdr_ok tests them as
 * a window (internal.h) */
struct la_arena la_main_arena __attribute__((aligned(64)));
LA_TLS struct la_arena *la_t_arena;

void la_registry_lock(void) { la_lock(&la_dbg.registry_lock); }
void la_registry_unlock(void) { la_unlock(&la_dbg.registry_lock); }

void la_arena_init(struct la_arena *av, uint32_t index)
{
    av->lock = 0;
    av->index = index;
    av->flags = 0;
    for (unsigned i = 1; i < LA_NBINS; i++) {
        la_chunk *b = bin_at(av, i);
        b->fd = b->bk = b;
    }
    for (unsigned i = 0; i < LA_NFASTBINS; i++) av->fastbins[i] = NULL;
    av->remote_spare[0] = la_ror4(la_bin_at((uintptr_t)av, 1));     /* la_bin_hdr_ok */
    av->top = NULL;
    av->last_remainder = NULL;
    av->have_fastchunks = 0;
}

static uint64_t arena_limit(void)
{
    struct la_tunables *t = &la_dbg.tunables;
    if (t->arena_max) return t->arena_max;
    uint64_t n = 8u * (uint64_t)la_g.ncores;
    return n > t->arena_test ? n : t->arena_test;
}

/* Create a new arena (in a fresh heap); registry lock held.  NULL on failure.
 * With `locked` the arena is published already locked by the caller (the lock
 * order is arena before registry, so it must not be taken after publishing). */
static struct la_arena *arena_new(int locked)
{
    struct la_segment *h = la_new_heap(sizeof(struct la_arena) + 2 * LA_MINSIZE, la_dbg.tunables.top_pad);
    if (!h) return NULL;
    struct la_arena *av = (struct la_arena *)(h + 1);
    la_arena_init(av, la_dbg.narenas);
    h->arena = av;
    uintptr_t chunks = la_align_up((uintptr_t)(av + 1), LA_ALIGNMENT);
    h->chunks = chunks;
    la_chunk *top = (la_chunk *)chunks;
    top->prev_size = 0;
    top->size = (((uintptr_t)h + h->size) - chunks) | LA_PREV_INUSE;
    av->top = top;
    av->segments = h;
    av->system_mem = av->max_system_mem = h->size;
    la_win_init(av);                    /* no thread attached yet: attach() copies it */
    if (locked) av->lock = 1;
    /* publish at the end of the list */
    la_gen_begin();
    struct la_arena *last = &la_main_arena;
    while (last->next) last = last->next;
    last->next = av;
    la_dbg.narenas++;
    la_gen_end();
    return av;
}

static void free_list_remove(struct la_arena *av)
{
    struct la_arena **pp = &la_g.free_list;
    while (*pp && *pp != av) pp = &(*pp)->next_free;
    if (*pp) *pp = av->next_free;
    av->next_free = NULL;
}

/* Attach the calling thread to `to` (and detach it from `from`); registry lock held. */
static void attach(struct la_arena *from, struct la_arena *to)
{
    la_gen_begin();
    if (from && from->nthreads > 0 && --from->nthreads == 0) {
        from->next_free = la_g.free_list;
        la_g.free_list = from;
    }
    if (to->nthreads++ == 0) free_list_remove(to);
    la_gen_end();
    la_t_arena = to;
    if (la_tc_get()) {
        la_tc->arena = to;
        la_tc_win_set(la_tc, to);
    }
}

/* ---- idle arenas ------------------------------------------------------------------
 * A thread that finds no free arena would create one.  But an arena can be
 * idle while a thread is still attached to it: a thread that has done its
 * work and not yet run its exit destructor (on a loaded machine, short-lived
 * threads that start their successor before they return pile up: larson
 * reached 6-12 arenas for 2 busy threads, each arena holding ~1 MiB), or a
 * main thread that only waits for its workers.  So once there is an arena
 * per core besides the main one, a new thread first shares an arena that
 * none of its threads has allocated from (la_note_alloc counts those
 * allocations in pad0) for LA_IDLE_NS, and whose lock is free (the one
 * idle longest).  The snapshots are taken here, under the registry lock,
 * whenever a thread chooses: one slot per arena index modulo 64 (two arenas
 * sharing a slot keep resetting it, so neither looks idle).  A thread that
 * shares and then finds the lock busy moves as usual (la_arena_lock_mine).
 * Threads that only hit their tcache do not count as activity, so their
 * arena may be shared, but only beyond one arena per core.
 * Measured, larson pinned to one CPU (10 runs): peak RSS median 10.4 ->
 * 7.3 MiB, heaps 6-7 -> median 3-4 (glibc 9.4-11.6 MiB, 8-12 heaps).  Under
 * heavier load it catches fewer: a thread's arena is busy until just before
 * it creates its successor, so that successor rarely finds it idle yet. */
#define LA_IDLE_NS 500000ull
struct la_idle {
    const struct la_arena *arena;   /* whose snapshot this is */
    uint32_t allocs;                /* its pad0 when last seen changed (or first seen) */
    uint64_t since;                 /* when that was */
};
static struct la_idle la_idle[64];

static struct la_arena *idle_arena(void)
{
    uint64_t now = la_os_now_ns();
    if (!now) return NULL;
    struct la_arena *best = NULL;
    uint64_t best_age = 0;
    for (struct la_arena *a = &la_main_arena; a; a = a->next) {
        struct la_idle *s = &la_idle[a->index & 63];
        uint32_t n = (uint32_t)__atomic_load_n(&a->pad0, __ATOMIC_RELAXED);
        if (s->arena != a || s->allocs != n) {
            s->arena = a;
            s->allocs = n;
            s->since = now;
            continue;
        }
        uint64_t age = now - s->since;
        if (age >= LA_IDLE_NS && age > best_age && __atomic_load_n(&a->lock, __ATOMIC_RELAXED) == 0) {
            best = a;
            best_age = age;
        }
    }
    return best;
}

/* Pick an arena for a thread that has none; returns it attached (not locked). */
static struct la_arena *arena_choose(void)
{
    /* Only threads other than the first reach this; say so before taking any
     * lock, so a concurrent fork's prepare handler takes the locks. */
    if (la_t_state != LA_T_DEAD) __atomic_store_n(&la_g.multi_threaded, 1, __ATOMIC_SEQ_CST);
    la_registry_lock();
    struct la_arena *av = la_g.free_list;
    if (!av && la_dbg.narenas > (uint32_t)la_g.ncores) av = idle_arena();
    if (!av && la_dbg.narenas < arena_limit()) av = arena_new(0);
    if (!av) {
        /* share: round-robin, preferring an unlocked arena */
        struct la_arena *start = la_g.next_reuse ? la_g.next_reuse : &la_main_arena;
        struct la_arena *a = start;
        do {
            if (__atomic_load_n(&a->lock, __ATOMIC_RELAXED) == 0) { av = a; break; }
            a = a->next ? a->next : &la_main_arena;
        } while (a != start);
        if (!av) av = start;
        la_g.next_reuse = av->next ? av->next : &la_main_arena;
    }
    attach(NULL, av);
    la_registry_unlock();
    /* Make sure the thread-exit destructor runs even without a tcache
     * (tcache_count=0), so the arena is released when the thread ends.
     * May allocate: la_t_arena is already set. */
    if (la_g.have_key && la_t_state != LA_T_DEAD && !la_tc_get())
        pthread_setspecific(la_g.key, av);
    return av;
}

/* The lock of this thread's arena is busy: find another arena we can lock now,
 * creating one if the limits allow.  NULL if none. */
static struct la_arena *arena_move(struct la_arena *cur)
{
    struct la_arena *got = NULL;
    la_registry_lock();
    if (la_g.free_list) {
        struct la_arena *a = la_g.free_list;
        if (la_trylock(&a->lock)) got = a;
    }
    if (!got && la_dbg.narenas < arena_limit()) {
        /* a new arena only while there are no more arenas than threads
         * attached (plus one): a thread that keeps finding its arena busy (a
         * consumer freeing into it) otherwise hops through a trail of new
         * arenas, each keeping its own top and free chunks (prodcons: 12 MiB
         * peak RSS, 5x glibc's; 4 MiB with this limit, same speed) */
        uint32_t live = 0;
        for (struct la_arena *a = &la_main_arena; a; a = a->next) live += a->nthreads;
        if (la_dbg.narenas < live + 1) got = arena_new(1);
    }
    if (!got) {
        for (struct la_arena *a = cur->next ? cur->next : &la_main_arena; a != cur;
             a = a->next ? a->next : &la_main_arena) {
            if (la_trylock(&a->lock)) { got = a; break; }
        }
    }
    if (got && la_t_state != LA_T_DEAD) attach(cur, got);
    la_registry_unlock();
    return got;
}

struct la_arena *la_arena_attach(void)
{
    return la_t_arena ? la_t_arena : arena_choose();
}

struct la_arena *la_arena_lock_mine(void)
{
    struct la_arena *av = la_t_arena;
    if (la_unlikely(!av)) av = arena_choose();
    if (la_likely(la_trylock(&av->lock))) {
        return la_locked_for_alloc(av);
    }
    /* Move only away from an arena another attached thread allocates from.
     * A thread alone on its arena finds the lock busy because other threads
     * free its chunks into it: they follow the chunks wherever it allocates,
     * so moving does not end that contention; it only leaves the chunks
     * freed meanwhile behind in the old arena while a new one grows
     * (prodcons, a consumer freeing a producer's blocks: the producer hopped
     * through three arenas that each grew to the whole working set, peak RSS
     * 3.2-4.0 MiB; waiting for the lock as glibc does: 2.4 MiB, glibc
     * 2.1-2.5 MiB).  The price is lock traffic when both threads run at
     * once (prodcons 0.6 s instead of 0.2 s, glibc 0.8 s; the same 0.23-0.28 s
     * when they take turns).  Remote frees no longer take this lock: they
     * are pushed onto the arena's lock-free remote-free list (remote.c), so
     * the holder here is another thread attached to this arena, or a
     * statistics or trim call. */
    if (la_g.multi_threaded && __atomic_load_n(&av->nthreads, __ATOMIC_RELAXED) > 1) {
        struct la_arena *other = arena_move(av);
        if (other) {
            return la_locked_for_alloc(other);
        }
    }
    la_lock(&av->lock);
    return la_locked_for_alloc(av);
}

/* Allocation in `failed` (locked by the caller, which unlocks it) ran out of
 * memory: try another arena.  Returns it locked, or NULL. */
struct la_arena *la_arena_retry(struct la_arena *failed)
{
    if (failed != &la_main_arena) {
        la_lock(&la_main_arena.lock);
        la_remote_drain_mine(&la_main_arena);
        return &la_main_arena;
    }
    struct la_arena *a = NULL;
    la_registry_lock();
    a = la_main_arena.next;
    if (!a && la_dbg.narenas < arena_limit()) a = arena_new(0);
    la_registry_unlock();
    if (a) {
        la_lock(&a->lock);
        la_remote_drain_mine(a);
    }
    return a;
}

void la_arena_detach_thread(void)
{
    struct la_arena *av = la_t_arena;
    if (!av) return;
    la_registry_lock();
    la_gen_begin();
    if (av->nthreads > 0 && --av->nthreads == 0) {
        av->next_free = la_g.free_list;
        la_g.free_list = av;
    }
    la_gen_end();
    la_registry_unlock();
    /* what other threads pushed back to it: into the bins now, since nobody
     * may allocate from this arena for a while (remote.c) */
    if (__atomic_load_n(&av->remote, __ATOMIC_RELAXED)) {
        la_lock(&av->lock);
        la_remote_drain(av);
        la_arena_unlock(av);
    }
    /* la_t_arena stays set: a destructor that runs later on this thread may
     * still allocate from it (under its lock, without a tcache). */
}
