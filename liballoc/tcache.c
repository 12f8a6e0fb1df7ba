/*
 * liballoc/tcache.c - per-thread caches: creation, registry, thread exit, and
 * liballoc's metadata pages (which hold the tcache structs outside the heap).
 *
 * A thread's tcache is made on its first allocation that reaches the slow path,
 * linked into liballoc_debug.tcaches with its tid, and remembered in the
 * initial-exec TLS variable la_tc that the inline fast paths read.  At thread
 * exit the pthread key destructor flushes every cached chunk back to its own
 * arena, unregisters and recycles the struct, and detaches the thread from its
 * arena; anything that thread allocates afterwards (other libraries' destructors)
 * goes to its old arena under the lock, without a tcache.
 */
#include <sys/mman.h>

#include "internal.h"

/* its arena has an empty ownership window, so the inline free's filter fails */
const struct la_arena la_arena_none;
const struct la_tcache_x la_tc_none = { .pub = { .counts = { [0 ... LA_TCACHE_BINS - 1] = UINT16_MAX },
                                                 .arena = LA_ARENA_NONE } };
LA_TLS struct la_tcache *la_tc = LA_TC_NONE;

LA_TLS int la_t_state;

/* ---- metadata pages ------------------------------------------------------------ */

#define META_OBJ   ((sizeof(struct la_tcache_x) + 63) & ~(size_t)63)   /* with its private tail */
#define META_RUN   (64u << 10)

void *la_meta_alloc(size_t size)
{
    (void)size;                        /* every metadata object is one tcache */
    if (la_g.meta_free) {
        void *p = la_g.meta_free;
        la_g.meta_free = *(void **)p;
        return p;
    }
    if ((size_t)(la_g.meta_end - la_g.meta_cur) < META_OBJ) {
        void *m;
        if (la_os_mmap(META_RUN, PROT_READ | PROT_WRITE, 0, &m)) return NULL;
        la_g.meta_cur = m;
        la_g.meta_end = (char *)m + META_RUN;
    }
    void *p = la_g.meta_cur;
    la_g.meta_cur += META_OBJ;
    return p;
}

void la_meta_free(void *p)
{
    *(void **)p = la_g.meta_free;
    la_g.meta_free = p;
}

/* ---- creation and registry -------------------------------------------------------- */

/* Copy av's ownership window into tc (see la_tc_win_ok); registry lock held.
 * The owning thread reads it without a lock: it sees the old window, an empty
 * one (and takes the slow path) or the new one. */
static void win_copy(uint64_t *lo, uint64_t *span, const struct la_arena *av)
{
    uint64_t l = __atomic_load_n(&av->spare[0], __ATOMIC_ACQUIRE), n = __atomic_load_n(&av->spare[1], __ATOMIC_ACQUIRE);
    /* an arena whose newest heap lies in the heap zone: the zone's window,
     * which covers that heap and every other arena's heap in the zone
     * (internal.h la_zone; it never changes once made) */
    const struct la_segment *s = __atomic_load_n(&av->segments, __ATOMIC_ACQUIRE);
    if (n && s && la_in_zone((uintptr_t)s)) {
        l = la_zone.lo16;
        n = la_zone.span;
    }
    __atomic_store_n(span, 0, __ATOMIC_RELEASE);
    __atomic_store_n(lo, l, __ATOMIC_RELEASE);
    __atomic_store_n(span, n, __ATOMIC_RELEASE);
}

/* av is tc's new arena: its window goes to tc->spare */
void la_tc_win_set(struct la_tcache *tc, const struct la_arena *av)
{
    struct la_tcache_x *t = la_tcx(tc);
    t->fw_arena = av;
    t->fw_streak = 0;
    win_copy(&tc->spare[0], &tc->spare[1], av);
}

void la_tc_win_refresh(struct la_tcache *tc, const struct la_arena *av)
{
    if (la_tcx(tc)->fw_arena == av) win_copy(&tc->spare[0], &tc->spare[1], av);
}

/* Whose window tc->spare holds.  A thread whose own arena served no
 * allocation (its pad0 count, la_note_alloc, did not move) during
 * LA_FW_STREAK consecutive remote-free batches to the same arena av frees,
 * but does not allocate: it holds av's window there, so that those frees cost
 * what a free into its own arena costs (its own arena's chunks, rare, go
 * through the copied-window table).  As soon as its own arena allocates
 * again, the copy goes back to it.  Either switch takes the registry lock (as
 * la_win_update, which refreshes the copy).  (The big-chunk cache tests its
 * chunks against the arena's own window, not this copy.) */
#define LA_FW_STREAK 4
void la_tc_fw_note_slow(struct la_tcache *tc, const struct la_arena *av)
{
    struct la_tcache_x *t = la_tcx(tc);
    const struct la_arena *own = tc->arena;
    if (!own) return;
    uint32_t n = (uint32_t)__atomic_load_n(&own->pad0, __ATOMIC_RELAXED);
    const struct la_arena *want = NULL;
    if (n != t->fw_allocs) {
        t->fw_allocs = n;
        t->fw_streak = 0;
        if (t->fw_arena != own) want = own;
    } else if (av != t->fw_cand) {
        t->fw_cand = av;
        t->fw_streak = 1;
    } else if (t->fw_arena != av && ++t->fw_streak >= LA_FW_STREAK) {
        want = av;
    }
    t->fw_cand = av;
    if (!want) return;
    la_registry_lock();
    t->fw_arena = want;
    win_copy(&tc->spare[0], &tc->spare[1], want);
    la_registry_unlock();
}

/* ---- copied windows of other arenas (internal.h "Ownership", la_tc_dm_ok) -------- */

/* Only the owning thread writes a value into its table; anyone holding the
 * registry lock may empty it (la_tc_dm_clear_all), after changing a window.
 * Store the copy, then (full fence) read w again: if it changed meanwhile the
 * copy may be older than a clear that already ran, so the entry is emptied.
 * Either the clearer's store comes after ours, or the window's new value is
 * visible to our second read (both sides fence between their store and load). */
int la_tc_dm_fill(struct la_tcache *tc, const struct la_wintab *w, uintptr_t x)
{
    struct la_tcache_x *t = la_tcx(tc);
    size_t j = la_tc_dm_slot(x);
    uint64_t lo = __atomic_load_n(&w->lo, __ATOMIC_ACQUIRE);
    uint64_t span = __atomic_load_n(&w->span, __ATOMIC_ACQUIRE);
    if (!la_win_in(x, lo, span)) return 0;
    __atomic_store_n(&t->dm_span[j], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->dm_lo[j], lo, __ATOMIC_RELAXED);
    __atomic_store_n(&t->dm_span[j], span, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (la_unlikely(__atomic_load_n(&w->lo, __ATOMIC_ACQUIRE) != lo ||
                    __atomic_load_n(&w->span, __ATOMIC_ACQUIRE) != span)) {
        __atomic_store_n(&t->dm_span[j], 0, __ATOMIC_RELAXED);
        return 0;
    }
    return 1;
}

void la_tc_dm_clear_all(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the window's change before the clears */
    for (struct la_tcache *tc = la_dbg.tcaches; tc; tc = tc->next)
        for (unsigned j = 0; j < LA_TC_DM; j++) __atomic_store_n(&la_tcx(tc)->dm_span[j], 0, __ATOMIC_RELAXED);
}

int la_win_lookup(struct la_tcache *tc, uintptr_t mem)
{
    const struct la_wintab *w = la_win_find(mem);
    if (!w) return 0;
    if (tc == LA_TC_NONE) return 1;
    /* a window that changed between la_win_find and the copy: the answer
     * stands only if the copy (made from one consistent read) holds mem */
    return la_tc_dm_fill(tc, w, mem) || la_wt_ok(w, mem);
}

struct la_tcache *la_tcache_create(void)
{
    if (la_g.tc_bins == 0 && la_dbg.tunables.tcache_count == 0) return NULL;
    uint64_t tid = (uint64_t)la_os_gettid();
    struct la_tcache *tc = NULL;
    if (!la_t_arena) __atomic_store_n(&la_g.multi_threaded, 1, __ATOMIC_SEQ_CST);  /* see arena_choose */
    la_registry_lock();
    /* A thread whose TLS was reset under it (the loader re-initialises TLS
     * after early allocations) finds its own tcache again by tid. */
    for (struct la_tcache *t = la_dbg.tcaches; t; t = t->next)
        if (t->tid == tid) { tc = t; break; }
    if (tc) {
        if (!la_t_arena) la_t_arena = tc->arena;
    } else {
        tc = la_meta_alloc(sizeof(struct la_tcache_x));
        if (tc) {
            memset(tc, 0, sizeof(struct la_tcache_x));
            for (unsigned i = 0; i < LA_TCACHE_BINS; i++)
                tc->limit[i] = la_g.tc_cap[i] < LA_TCACHE_FILL ? la_g.tc_cap[i] : LA_TCACHE_FILL;
            tc->tid = tid;
            tc->arena = la_t_arena;
            la_gen_begin();
            tc->next = la_dbg.tcaches;
            if (tc->next) tc->next->prev = tc;
            la_dbg.tcaches = tc;
            la_dbg.ntcaches++;
            la_gen_end();
        }
    }
    if (tc && tc->arena) la_tc_win_set(tc, tc->arena);
    la_registry_unlock();
    if (!tc) return NULL;
    /* before la_tc is set: the inline paths read the thread's window */
    if (!tc->arena) {
        struct la_arena *av = la_arena_attach();
        la_registry_lock();
        tc->arena = av;
        la_tc_win_set(tc, av);
        la_registry_unlock();
    }
    la_tc = tc;
    la_t_state = LA_T_LIVE;
    /* May allocate (keys beyond the first 32): la_tc is already set. */
    if (la_g.have_key) pthread_setspecific(la_g.key, tc);
    return tc;
}

static void unregister(struct la_tcache *tc)
{
    la_registry_lock();
    la_gen_begin();
    if (tc->prev) tc->prev->next = tc->next; else la_dbg.tcaches = tc->next;
    if (tc->next) tc->next->prev = tc->prev;
    la_dbg.ntcaches--;
    la_gen_end();
    la_meta_free(tc);
    la_registry_unlock();
}

/* Return every cached chunk to its arena. */
static void flush(struct la_tcache *tc)
{
    for (size_t i = 0; i < LA_TCACHE_BINS; i++) {
        struct la_tcache_entry *e = tc->entries[i];
        while (e) {
            la_tc_entry_ok(tc, e, "tcache_thread_shutdown(): unaligned tcache chunk detected",
                     "tcache_thread_shutdown(): tcache chunk outside the heap detected");
            struct la_tcache_entry *next = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next);
            e->key = 0;
            la_chunk *p = mem2ck(e);
            la_int_free(la_arena_of(p), p, 0);
            e = next;
        }
        tc->entries[i] = NULL;
        tc->counts[i] = 0;
    }
}

void la_tcache_thread_exit(void *arg)
{
    (void)arg;
    struct la_tcache *tc = la_tc_get();
    la_t_state = LA_T_DEAD;
    if (tc) {
        la_tc = LA_TC_NONE;    /* from now on frees go to the arena */
        flush(tc);
        la_bc_flush(tc);
        unregister(tc);
    }
    la_arena_detach_thread();
}

/* ---- double free detection -------------------------------------------------------------- */

void la_tcache_double_free(struct la_tcache *tc, void *mem, size_t idx)
{
    (void)tc; (void)idx;
    la_fatal("free(): double free detected in tcache 2", mem, mem2ck(mem)->size);
}

/* The freed chunk carries the tcache key: it is either in this bin (a double
 * free) or the key is a coincidence.  Scan the bin to know. */
void la_tcache_check_double_free(struct la_tcache *tc, void *mem, size_t idx)
{
    size_t n = 0;
    for (struct la_tcache_entry *t = tc->entries[idx]; t;
         t = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&t->next, t->next)) {
        if (la_unlikely(n++ >= la_g.tc_cap[idx]))
            la_fatal("free(): too many chunks detected in tcache", mem, mem2ck(mem)->size);
        la_tc_entry_ok(tc, t, "free(): unaligned chunk detected in tcache 2", "free(): tcache chunk outside the heap detected");
        if (t == mem) la_tcache_double_free(tc, mem, idx);
    }
}

/* Pop the first entry of bin idx (not empty).  The inline malloc does the same
 * with a cheaper check; this is where its failures land. */
void *la_tcache_get_slow(struct la_tcache *tc, size_t idx)
{
    return la_tcache_pop_checked(tc, idx);
}
