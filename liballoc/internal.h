/*
 * liballoc/internal.h - private types, inline chunk helpers and the prototypes
 * of every liballoc file, grouped by the file that defines them.
 *
 * Glossary
 *   chunk      a block of the heap with a boundary-tag header (struct la_chunk,
 *              shared/layout.h).  In use: prev_size (maybe the previous chunk's
 *              data), size|flags, user data.  Free: fd/bk (and fd_nextsize/
 *              bk_nextsize in large bins) plus a footer = the next chunk's prev_size.
 *   arena      struct la_arena (shared/debug_abi.h): one lock, fastbins, bins,
 *              binmap, top.  The main arena lives in liballoc's .bss and grows
 *              with sbrk; the others live in their first 64 MiB-aligned heap.
 *   segment    struct la_segment: a contiguous run of chunks of one arena (a brk
 *              region, an mmap'd fallback region or a non-main heap).  An older,
 *              closed segment ends with fenceposts; seg->spare holds the address
 *              of its first fencepost header (0 while it is the open segment).
 *   top        the last chunk of the arena's newest segment; never in a bin.
 *   tcache     struct la_tcache: per-thread, lock-free cache of recently freed
 *              small chunks (singly linked, safe-linked next pointers).
 *   fastbin    per-arena LIFO of small chunks that stay "in use" for coalescing.
 *   remote-free list  per-arena lock-free LIFO (la_arena.remote) of chunks that
 *              threads of other arenas freed; pushed by CAS, taken by exchange
 *              under the arena lock (remote.c).
 *   nb         a normalised request: a chunk size (la_request2size).
 *   registry   the tcache list, the mmapped chunk table, the arena list and
 *              liballoc's metadata pages, protected by liballoc_debug.registry_lock.
 */
#ifndef LIBALLOC_INTERNAL_H
#define LIBALLOC_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/single_threaded.h>

#include "debug_abi.h"
#include "layout.h"
#include "liballoc.h"

#define LA_HIDDEN     __attribute__((visibility("hidden")))
#define LA_EXPORT     __attribute__((visibility("default")))
#define LA_NOINLINE   __attribute__((noinline))
#define LA_INLINE     static inline __attribute__((always_inline))
#define LA_NORETURN   __attribute__((noreturn))
#define LA_TLS        __thread __attribute__((tls_model("initial-exec")))
#define la_likely(x)   __builtin_expect(!!(x), 1)
#define la_unlikely(x) __builtin_expect(!!(x), 0)

typedef struct la_chunk la_chunk;

/* ---- hardening ------------------------------------------------------------------
 * Every integrity check glibc 2.36 makes is always compiled in.  The checks
 * beyond glibc (ownership of freed pointers, decoded tcache/fastbin pointers
 * that leave the heap, fastbin double free below the head, bin links that leave
 * the arena, exact top size, tcache bookkeeping, next-chunk checks on the tcache
 * path) are compiled in when LA_HARDEN_EXTRA is 1 (the default); building with
 * -DLA_HARDEN_EXTRA=0 (make liballoc-noextra) leaves them out to measure their cost.
 *
 * Ownership.  A user pointer belongs to liballoc when its chunk lies
 *   - in a segment of the main arena (walk of its few segments), or
 *   - in a non-main heap: la_heapmap has one bit per 64 MiB slot of the address
 *     space, set while a heap is mapped there, so la_heap_of() is only
 *     dereferenced for real heaps; the heap's arena must be set and the chunk
 *     must lie between its first chunk and its end, or
 *   - nowhere, but its address is in the mmapped-chunk registry.
 * No chunk memory is read before this is known.  The inline fast paths use a
 * cheaper, conservative filter (la_any_win_ok): the user pointer must be
 * 16-aligned and inside an ownership "window" (an arena's newest segment, less
 * LA_WIN_TAIL bytes at its end so that the next chunk's header of any
 * tcache-sized chunk is readable); la_ror4 folds the alignment test into the
 * range test.  Tried inline, in order: the thread's own arena (a copy in its
 * tcache, la_tc_win_ok), then the thread's copies of the other windows it
 * used lately (la_tc_dm_ok: a small direct-mapped table in the private tail of
 * its tcache, struct la_tcache_x, one entry per 64 MiB slot modulo
 * LA_TC_DM); then, out of line, the window table la_wintab's entry for the
 * address (any non-main heap), the main arena's window and its last closed
 * segment's (la_win_find), whose match is copied into the table.  Anything
 * outside goes to the slow path's full check.  With the heap zone (below,
 * la_zone) the thread's own window is the zone's, which covers every arena's
 * heaps in it: a thread of a program whose threads hand blocks to each other
 * (larson's successors, a consumer) tests another arena's chunk with the one
 * range test; without it, with the copied window's test (the same, plus three
 * instructions for the slot), not with a lookup in the global table.  A thread
 * that frees another arena's blocks in batch after batch while its own arena
 * allocates nothing (a consumer) holds that arena's window in place of its
 * own (la_tc_fw_note, remote_free), until its own arena allocates again.
 * The window is stored in la_arena.spare[0] (lowest user pointer / 16, see
 * la_win_in) and spare[1]
 * (window length / 16); spare[2] and spare[3] hold the same for chunk
 * addresses over the whole newest segment (first chunk; number of 16-byte
 * steps at which a minimal chunk still fits), used by la_chunk_in_arena.  Both
 * are rewritten under the arena lock whenever the newest segment changes
 * (la_win_update).  A chunk of another arena's heap (freed by another thread)
 * is recognised through la_wintab (la_heap_win): one entry per 64 MiB
 * slot holding the same window over that heap (no walk, no read of the heap).
 * Copies never outlive the memory they describe: before a heap is unmapped,
 * and after a brk segment shrank, every tcache's copied entries are emptied
 * (la_tc_dm_clear_all, under the registry lock); the thread that copies a
 * window reads it again after storing the copy (la_tc_dm_fill) and empties
 * the entry if it changed meanwhile.  A copy of a window that has since
 * shrunk by MADV_DONTNEED still covers only mapped heap memory (it reads as
 * zeros, which no chunk check accepts), as the own window does between its
 * updates. */
#ifndef LA_HARDEN_EXTRA
#define LA_HARDEN_EXTRA 1
#endif
#define LA_WIN_TAIL 1056u
LA_INLINE uintptr_t la_ror4(uintptr_t x) { return (x >> 4) | (x << 60); }
/* The window test: x is 16-aligned and lo16 * 16 <= x < (lo16 + span) * 16.
 * A window's low end is stored divided by 16 (lo16, the 16-aligned address
 * rotated right by 4), so that the test rotates x and subtracts: for an aligned
 * x that is (x - lo) / 16, wrapping to a huge value below the window; a
 * misaligned x carries its low 4 bits into the top 4 (k * 2^60, k >= 1) and no
 * address difference (below 2^60 in magnitude) brings it under any span.  With
 * BMI2 the rotation is rorx, which keeps x: 4 instructions (rorx, sub, cmp,
 * jcc), where rotating x - lo needs a copy of x first (5). */
LA_INLINE int la_win_in(uintptr_t x, uint64_t lo16, uint64_t span)
{
#if defined(__x86_64__)
    /* volatile: gcc would otherwise keep one rotated x for a second window
     * test on the miss path, at the cost of a copy on the hit path */
    uint64_t t;
#if defined(__BMI2__)
    __asm__ volatile("rorx $4, %1, %0" : "=r"(t) : "r"(x));
#else
    __asm__ volatile("mov %1, %0\n\tror $4, %0" : "=&r"(t) : "r"(x) : "cc");
#endif
    return t - lo16 < span;
#else
    return la_ror4(x) - lo16 < span;
#endif
}
/* mem is 16-aligned and inside av's fast ownership window */
LA_INLINE int la_win_ok(const struct la_arena *av, uintptr_t mem)
{
    return la_win_in(mem, av->spare[0], av->spare[1]);
}
/* chunk address x is 16-aligned and a minimal chunk at x fits in av's newest segment */
LA_INLINE int la_seg_ok(const struct la_arena *av, uintptr_t x)
{
    return la_win_in(x, av->spare[2], av->spare[3]);
}
/* The heap zone (sysmem.c): one LA_HEAP_MAX-aligned mapping, read/write and
 * MAP_NORESERVE, in which every heap (non-main heaps, and the main arena's
 * when it has no brk) is carved while it has free slots.  Its window
 * (la_zone.lo16/span, la_win_in's form) covers every chunk of every arena
 * whose newest heap lies in it: a thread of such an arena holds the zone's
 * window as its own (tc->spare, tcache.c win_copy), so that the inline paths
 * test a chunk of any such arena, its own or another thread's, with one range
 * test.  Nothing in the zone is ever unmapped: a dropped heap's pages are
 * given back (MADV_DONTNEED) and read as zeros, which no chunk check accepts;
 * so a pointer the window accepts can always be read.  Slots nobody uses are
 * MADV_DONTDUMP (no core-dump bytes); a heap marks what it uses MADV_DODUMP. */
#define LA_ZONE_MAX_SLOTS 8192u           /* 512 GiB of address space */
struct la_zone_win { uint64_t lo16, span; uintptr_t lo, hi; };
extern struct la_zone_win la_zone LA_HIDDEN;
/* heap h (its LA_HEAP_MAX slot) lies in the zone */
LA_INLINE int la_in_zone(uintptr_t h)
{
    uintptr_t lo = __atomic_load_n(&la_zone.lo, __ATOMIC_ACQUIRE);   /* hi is written before it */
    return h - lo < la_zone.hi - lo;
}
/* an arena with empty windows (la_tc_none's) */
extern const struct la_arena la_arena_none LA_HIDDEN;
#define LA_ARENA_NONE ((struct la_arena *)&la_arena_none)

/* One bit per LA_HEAP_MAX slot of the user address space, set while a
 * non-main heap is mapped there (sysmem.c). */
#define LA_HEAPMAP_SLOTS ((size_t)1 << 21)     /* 2^47 bytes / LA_HEAP_MAX */
extern uint64_t la_heapmap[LA_HEAPMAP_SLOTS / 64] LA_HIDDEN;
/* The non-main heap holding address x, or NULL when no heap is mapped there. */
LA_INLINE struct la_segment *la_heap_at(uintptr_t x)
{
    size_t slot = x / LA_HEAP_MAX;
    if (slot >= LA_HEAPMAP_SLOTS) return NULL;
    if (!((__atomic_load_n(&la_heapmap[slot >> 6], __ATOMIC_ACQUIRE) >> (slot & 63)) & 1)) return NULL;
    return (struct la_segment *)la_heap_of(x);
}
/* The fast ownership windows of the non-main heaps: a table indexed by the
 * 64 MiB slot number modulo 2^18 (one entry per slot of any 16 TiB stretch of
 * the address space).  lo is the first user pointer of the window (first chunk
 * + 16), span its length / 16 (0 = empty), as la_arena.spare[0..1] are for an
 * arena's newest segment.  An entry belongs to at most one heap at a time
 * (sysmem.c wintab_set; a second heap 16 TiB away gets none and takes the slow
 * path's full check), is written under that heap's arena lock (span 0, lo,
 * span) and emptied before the heap is unmapped, so a reader sees that heap's
 * window or an empty one.  The exact range test rejects an address that only
 * aliases a slot. */
#define LA_WINTAB_SLOTS ((size_t)1 << 18)
struct la_wintab { uint64_t lo, span; };
extern struct la_wintab la_wintab[LA_WINTAB_SLOTS] LA_HIDDEN;
LA_INLINE struct la_wintab *la_wintab_at(uintptr_t x)
{
    return &la_wintab[(x / LA_HEAP_MAX) & (LA_WINTAB_SLOTS - 1)];
}
/* The window test for any non-main heap: mem is 16-aligned, in a mapped heap,
 * at or after its first chunk's user pointer and LA_WIN_TAIL before the end of
 * what the heap had when it was last its arena's newest.  One table load pair
 * and a range test; no heap memory is read.  Returns the heap or NULL. */
LA_INLINE int la_heap_win_ok(uintptr_t mem)
{
    const struct la_wintab *w = la_wintab_at(mem);
    uint64_t lo = __atomic_load_n(&w->lo, __ATOMIC_ACQUIRE);
    return la_win_in(mem, lo, __atomic_load_n(&w->span, __ATOMIC_RELAXED));
}
LA_INLINE struct la_segment *la_heap_win(uintptr_t mem)
{
    return la_heap_win_ok(mem) ? (struct la_segment *)la_heap_of(mem) : NULL;
}

/* ---- chunk helpers on live pointers (the value arithmetic is in layout.h) ---- */

LA_INLINE la_chunk *ck_at(const void *p, size_t off) { return (la_chunk *)((char *)p + off); }
LA_INLINE size_t ck_size(const la_chunk *p) { return la_chunksize(p->size); }
LA_INLINE la_chunk *ck_next(const la_chunk *p) { return ck_at(p, ck_size(p)); }
LA_INLINE la_chunk *ck_prev(const la_chunk *p) { return (la_chunk *)((char *)p - p->prev_size); }
LA_INLINE void *ck2mem(const la_chunk *p) { return (char *)p + LA_CHUNK_HDR; }
LA_INLINE la_chunk *mem2ck(const void *m) { return (la_chunk *)((char *)m - LA_CHUNK_HDR); }
LA_INLINE int ck_inuse_at(const la_chunk *p, size_t off) { return (int)(ck_at(p, off)->size & LA_PREV_INUSE); }
LA_INLINE void ck_set_inuse_at(la_chunk *p, size_t off) { ck_at(p, off)->size |= LA_PREV_INUSE; }
LA_INLINE void ck_clear_inuse_at(la_chunk *p, size_t off) { ck_at(p, off)->size &= ~(size_t)LA_PREV_INUSE; }
LA_INLINE void ck_set_foot(la_chunk *p, size_t s) { ck_at(p, s)->prev_size = s; }

/* Bin header of bin i, addressed as a fake chunk (only fd/bk are valid). */
LA_INLINE la_chunk *bin_at(struct la_arena *av, unsigned i)
{
    return (la_chunk *)la_bin_at((uintptr_t)av, i);
}

LA_INLINE uintptr_t la_align_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

/* ---- futex lock: 0 free, 1 held, 2 held with waiters ------------------------ */

void la_lock_wait(int32_t *l) LA_HIDDEN;   /* os_linux.c */
void la_lock_wake(int32_t *l) LA_HIDDEN;   /* os_linux.c */

/* While the process has a single thread (glibc's __libc_single_threaded,
 * which pthread_create clears in the creating thread before the new thread
 * exists, and which never becomes true again) a lock is taken and released
 * with plain stores: no other thread can contend, and the value still says
 * "held" to a fork handler or to heapview.  As glibc's own malloc does. */
LA_INLINE void la_lock(int32_t *l)
{
    int32_t z = 0;
    if (la_likely(__libc_single_threaded && *l == 0)) {
        __atomic_store_n(l, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_ACQUIRE);
        return;
    }
    if (!__atomic_compare_exchange_n(l, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        la_lock_wait(l);
}
LA_INLINE int la_trylock(int32_t *l)
{
    int32_t z = 0;
    if (la_likely(__libc_single_threaded)) {
        if (*l != 0) return 0;
        __atomic_store_n(l, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_ACQUIRE);
        return 1;
    }
    return __atomic_compare_exchange_n(l, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
/* Release l; 1 when a waiter must be woken (la_lock_wake), which the caller
 * does: la_unlock, or a frameless caller out of line. */
LA_INLINE int la_unlock_nowake(int32_t *l)
{
    if (la_likely(__libc_single_threaded)) {
        __atomic_signal_fence(__ATOMIC_RELEASE);
        __atomic_store_n(l, 0, __ATOMIC_RELAXED);
        return 0;
    }
    return __atomic_exchange_n(l, 0, __ATOMIC_RELEASE) == 2;
}
LA_INLINE void la_unlock(int32_t *l)
{
    if (la_unlock_nowake(l)) la_lock_wake(l);
}

/* ---- process-wide state ----------------------------------------------------- */

struct la_globals {
    /* Fast-path limits: equal to the tcache tunables, or 0 when a debugging
     * option (perturb, check) routes every call through the slow path. */
    size_t fast_max_req;        /* largest request the inline malloc serves */
    size_t fast_bins;           /* tcache bins the inline free may fill */
    uint64_t tc_key;            /* random per-process tcache key */
    uint16_t tc_cap[LA_TCACHE_BINS]; /* most entries a tcache bin may grow to (la_tcache_bin_limit) */
    uint64_t bc_cap;            /* big-chunk cache byte cap per thread; 0 = off (bigcache.c) */
    /* Slow-path values derived from the tunables. */
    size_t tc_bins;             /* tcache bins in use (from tcache_max) */
    size_t max_fast;            /* largest fastbin chunk size */
    size_t pagesize;
    volatile int init_state;    /* 0 none, 1 running, 2 core ready, 3 complete */
    int multi_threaded;         /* a second thread has used liballoc */
    int ncores;
    int have_key;
    pthread_key_t key;
    uint64_t check_calls;       /* calls since the last periodic heap check */
    struct la_arena *next_reuse;/* round-robin pointer for arena reuse */
    struct la_arena *free_list; /* arenas without threads (mirrors arena->next_free) */
    void *meta_free;            /* free list of metadata objects (tcaches) */
    char *meta_cur, *meta_end;  /* current metadata page run */
    int unwind_ready;           /* constructors ran: stacks may be unwound (trace.c) */
};

extern struct la_globals la_g LA_HIDDEN;
extern struct la_debug la_dbg LA_HIDDEN;           /* = liballoc_debug */
extern struct la_arena la_main_arena LA_HIDDEN;

extern LA_TLS struct la_tcache *la_tc LA_HIDDEN;   /* this thread's tcache or LA_TC_NONE */
/* A thread without a tcache points la_tc at this read-only tcache (la_tc_none,
 * below) that is both empty (malloc misses) and full (free misses), with empty
 * windows, so the inline fast paths need no NULL test.  Nothing ever writes to it. */
/* The private tail of a tcache (liballoc's own bookkeeping, after the struct
 * that liballoc_debug publishes: heapview reads sizeof(struct la_tcache)
 * bytes and never sees it).  dm_lo/dm_span: copies of ownership windows of
 * other arenas' segments (internal.h "Ownership"), entry (x >> 26) % LA_TC_DM
 * for a pointer x; span 0 = empty.  Written by the owning thread
 * (la_tc_dm_fill) and emptied by anyone under the registry lock
 * (la_tc_dm_clear_all); read only by the owning thread. */
#define LA_TC_DM 8
struct la_tcache_x {
    struct la_tcache pub;
    uint64_t dm_lo[LA_TC_DM];
    uint64_t dm_span[LA_TC_DM];
    /* fw_arena: the arena whose window tc->spare[0..1] holds (la_tc_win_ok,
     * tested first by the inline paths; la_tc_win_set, la_tc_win_refresh,
     * registry lock).  The thread's own arena, except for a thread that only
     * frees another arena's blocks (a consumer: la_tc_fw_note) */
    const struct la_arena *fw_arena;
    const struct la_arena *fw_cand;     /* remote_free's last target, */
    uint32_t fw_streak;                 /* its consecutive batches with no */
    uint32_t fw_allocs;                 /* allocation from tc->arena (its pad0 then) */
};
LA_INLINE struct la_tcache_x *la_tcx(struct la_tcache *tc) { return (struct la_tcache_x *)tc; }
LA_INLINE size_t la_tc_dm_slot(uintptr_t x) { return (x / LA_HEAP_MAX) & (LA_TC_DM - 1); }
/* x lies in the window copied into its entry of tc's table (no call, no
 * global load: tc is already in a register on the inline paths) */
LA_INLINE int la_tc_dm_ok(const struct la_tcache *tc, uintptr_t x)
{
    /* plain loads, as la_tc_win_ok's: gcc folds them into the sub and cmp */
    const struct la_tcache_x *t = (const struct la_tcache_x *)tc;
    size_t j = la_tc_dm_slot(x);
    return la_win_in(x, t->dm_lo[j], t->dm_span[j]);
}
extern const struct la_tcache_x la_tc_none LA_HIDDEN;
#define LA_TC_NONE ((struct la_tcache *)&la_tc_none.pub)
LA_INLINE struct la_tcache *la_tc_get(void) { return la_tc == LA_TC_NONE ? NULL : la_tc; }

/* Growing tcache bins (debug_abi.h, la_tcache.limit).  A malloc that finds bin
 * idx empty marks it; a free that then finds it full doubles its limit, up to
 * the bin's cap, and clears the mark.  A bin that only fills (a thread that
 * frees what others allocate, chunks realloc leaves behind) or only empties (a
 * producer) keeps glibc's 7; a bin a thread cycles through (alloc n, free n)
 * grows to hold n.  1 when the limit grew. */
LA_INLINE void la_tc_missed(struct la_tcache *tc, size_t idx) { tc->missed |= (uint64_t)1 << idx; }
LA_INLINE int la_tc_can_grow(const struct la_tcache *tc, size_t idx)
{
    return (tc->missed & ((uint64_t)1 << idx)) && tc->limit[idx] < la_g.tc_cap[idx];
}
LA_INLINE int la_tc_grow(struct la_tcache *tc, size_t idx)
{
    if (!la_tc_can_grow(tc, idx)) return 0;
    unsigned n = 2u * tc->limit[idx];
    tc->limit[idx] = (uint16_t)(n < la_g.tc_cap[idx] ? n : la_g.tc_cap[idx]);
    tc->missed &= ~((uint64_t)1 << idx);
    return 1;
}
extern LA_TLS struct la_arena *la_t_arena LA_HIDDEN;/* arena this thread is attached to */
/* The thread's own ownership window: tc->spare[0] and tc->spare[1] hold a copy
 * of tc->arena's window (spare[0..1] of the arena), so that the inline paths
 * test the chunks of the thread's own arena with two loads from the tcache the
 * thread already holds in a register.  The copy is written by la_tc_win_set
 * (span 0, lo, span, as la_win_update does) whenever tc->arena changes and, by
 * la_win_update (la_tc_win_refresh), for every tcache whose copy is of an
 * arena whose window changes; both under the registry lock, so no change is
 * missed.  A thread that only frees another arena's blocks holds that arena's
 * window there instead (struct la_tcache_x fw_arena, la_tc_fw_note). */
LA_INLINE int la_tc_win_ok(const struct la_tcache *tc, uintptr_t mem)
{
    return la_win_in(mem, tc->spare[0], tc->spare[1]);
}
void la_tc_win_set(struct la_tcache *tc, const struct la_arena *av) LA_HIDDEN;
/* registry lock held: av's window changed; refresh tc's copies of it */
void la_tc_win_refresh(struct la_tcache *tc, const struct la_arena *av) LA_HIDDEN;
/* the calling thread (tc, not LA_TC_NONE) pushed a batch to av's remote
 * list: maybe make av its free window (tcache.c).  Not when the thread holds
 * the heap zone's window: that covers av's chunks already, or av is one of
 * the few arenas made after the zone filled up, whose chunks the copied
 * windows then serve (no zone: lo16 is 0, which no thread's window has).
 * Inline, so that a zone thread's remote frees pay one compare, no call. */
void la_tc_fw_note_slow(struct la_tcache *tc, const struct la_arena *av) LA_HIDDEN;
LA_INLINE void la_tc_fw_note(struct la_tcache *tc, const struct la_arena *av)
{
    if (tc->spare[0] != la_zone.lo16) la_tc_fw_note_slow(tc, av);
}
LA_INLINE int la_wt_ok(const struct la_wintab *w, uintptr_t mem)
{
    uint64_t lo = __atomic_load_n(&w->lo, __ATOMIC_ACQUIRE);
    return la_win_in(mem, lo, __atomic_load_n(&w->span, __ATOMIC_RELAXED));
}
/* the window of the main arena's last closed segment (sysmem.c) */
extern struct la_wintab la_main_oldwin LA_HIDDEN;
/* The window holding user pointer mem, out of the inline paths' sight: the
 * window table la_wintab (any non-main heap), the main arena's window, its
 * last closed segment's (la_main_oldwin, same lo/span layout); NULL if none.
 * Used by the out-of-line paths that the inline filter sent a pointer to (a
 * call inside the inline paths would make gcc save registers on every hit). */
LA_INLINE const struct la_wintab *la_win_find(uintptr_t mem)
{
    const struct la_wintab *w = la_wintab_at(mem);
    if (la_wt_ok(w, mem)) return w;
    w = (const struct la_wintab *)&la_main_arena.spare[0];
    if (la_wt_ok(w, mem)) return w;
    w = &la_main_oldwin;
    return la_wt_ok(w, mem) ? w : NULL;
}
/* tc (not LA_TC_NONE) copies window w, which held x, into x's entry of its
 * table; 1 when the copy holds x (w did not change meanwhile), 0 when the
 * entry was left empty (tcache.c) */
int la_tc_dm_fill(struct la_tcache *tc, const struct la_wintab *w, uintptr_t x) LA_HIDDEN;
/* registry lock held: empty every tcache's copied windows (a window shrank,
 * moved or went away) */
void la_tc_dm_clear_all(void) LA_HIDDEN;
/* la_win_find, and a copy of the match for the calling thread: 1 when mem
 * lies in a window (tc may be LA_TC_NONE: nothing copied) */
int la_win_lookup(struct la_tcache *tc, uintptr_t mem) LA_HIDDEN;
/* mem lies in a heap's ownership window: the thread's own arena (copy in the
 * tcache) or one it copied lately (la_tc_dm_ok); else the out-of-line
 * paths (la_win_lookup). */
LA_INLINE int la_any_win_ok(struct la_tcache *tc, uintptr_t mem)
{
    return la_likely(la_tc_win_ok(tc, mem)) || la_tc_dm_ok(tc, mem);
}

/* Set by la_malloc_slow around an arena allocation for a tcache bin that keeps
 * missing: a split of top then also fills that tcache bin (bins.c). */
extern LA_TLS int la_t_carve LA_HIDDEN;
extern LA_TLS int la_t_state LA_HIDDEN;            /* 0 fresh, 1 has tcache, 2 exited */

/* Heaps unlinked from their arena under its lock, to be unmapped by this
 * thread once the lock is released (linked through la_segment.prev). */
extern LA_TLS struct la_segment *la_t_unmap LA_HIDDEN;
void la_unmap_pending(void) LA_HIDDEN;      /* sysmem.c */
/* Release an arena lock, then do the munmaps that operation left behind. */
LA_INLINE void la_arena_unlock(struct la_arena *av)
{
    la_unlock(&av->lock);
    if (la_unlikely(la_t_unmap != NULL)) la_unmap_pending();
}

#define LA_T_FRESH 0
#define LA_T_LIVE  1
#define LA_T_DEAD  2

/* generation odd: a change is in progress (heapview; the lock-free registry
 * readers, la_mreg_lookup_inline).  The fence keeps the change's stores after
 * the odd value. */
LA_INLINE void la_gen_begin(void)
{
    __atomic_add_fetch(&la_dbg.generation, 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}
LA_INLINE void la_gen_end(void) { __atomic_add_fetch(&la_dbg.generation, 1, __ATOMIC_RELEASE); }

LA_INLINE size_t la_arena_bit(const struct la_arena *av)
{
    return av == &la_main_arena ? 0 : LA_NON_MAIN_ARENA;
}

/* ---- tcache inline operations (used by malloc.c, tcache.c, bins.c) ----------- */

/* Take e, the head of tcache bin idx, off the bin: next (e's successor,
 * decoded and checked by the caller as it sees fit) becomes the head, the
 * count drops and e's key goes (e no longer looks cached).  The checked pop,
 * the batch pops of remote_free and la_tcache_flush, and the inline malloc
 * without the extra checks; with them the inline malloc writes the same with
 * la_count_dec (fastpath.h la_tc_pop_owned: a plain decrement there became
 * load, decrement, store; in the loops, the asm kept gcc from holding the
 * count in a register: remote_free +0.3M Ir in bench prodcons). */
LA_INLINE void *la_tc_take_head(struct la_tcache *tc, size_t idx, struct la_tcache_entry *e, uintptr_t next)
{
    tc->entries[idx] = (struct la_tcache_entry *)next;
    tc->counts[idx]--;
    e->key = 0;
    return e;
}

LA_INLINE void tc_put(struct la_tcache *tc, la_chunk *p, size_t idx)
{
    struct la_tcache_entry *e = (struct la_tcache_entry *)ck2mem(p);
    e->next = la_protect_ptr((uintptr_t)&e->next, (uintptr_t)tc->entries[idx]);
    e->key = la_g.tc_key;
    tc->entries[idx] = e;
    tc->counts[idx]++;
}

/* ---- debug.c (initialisation, the liballoc_debug symbol) ---------------------- */
void la_init(void) LA_HIDDEN;
void la_update_fastpath(void) LA_HIDDEN;
LA_INLINE void la_ensure_init(void) { if (la_unlikely(la_g.init_state < 2)) la_init(); }

/* ---- os_linux.c (raw syscalls: return 0 or an errno, never touch errno) ------- */
int la_os_mmap(size_t len, int prot, int extra_flags, void **out) LA_HIDDEN;
int la_os_munmap(void *p, size_t len) LA_HIDDEN;
int la_os_mprotect(void *p, size_t len, int prot) LA_HIDDEN;
int la_os_madvise(void *p, size_t len, int advice) LA_HIDDEN;
int la_os_overcommit(void) LA_HIDDEN;

/* Fault-ahead (sysmem.c): called after top was split for `one`-byte chunks
 * (nb bytes in all, the rest of top at rem, rsize bytes), arena lock held. */
#define LA_MADV_POPULATE_WRITE 23
#define LA_FA_SMALL 4096u
#define LA_FA_RUN ((size_t)1 << 20)
#define LA_FA_BYTES_DEFAULT (256u << 10)
/* liballoc's private per-arena state (not in the published struct la_arena),
 * one slot per arena index (sysmem.c): the trim hysteresis and fault-ahead */
struct la_arena_priv {
    size_t trim_keep;     /* bytes of top the automatic trim leaves beyond top_pad */
    size_t trim_trimmed;  /* bytes released by automatic trims since the last growth */
    uint64_t trim_mark;   /* av->ops at the last growth or decay */
    uintptr_t fa_hi;      /* end of what fault-ahead populated */
    size_t fa_run;        /* bytes of the current run of small top splits */
    uint64_t fa_ops;      /* av->ops at the last top split */
};
extern struct la_arena_priv la_arena_priv[64] LA_HIDDEN;
LA_INLINE struct la_arena_priv *la_priv(const struct la_arena *av) { return &la_arena_priv[av->index & 63]; }
void la_fault_ahead_slow(struct la_arena_priv *f, uintptr_t top, uintptr_t end) LA_HIDDEN;
LA_INLINE void la_fault_ahead(const struct la_arena *av, size_t one, size_t nb, const la_chunk *rem, size_t rsize)
{
    struct la_arena_priv *f = la_priv(av);
    /* the run: small top splits in consecutive arena operations */
    if (one > LA_FA_SMALL || av->ops != f->fa_ops + 1) f->fa_run = 0;
    f->fa_ops = av->ops;
    if (one > LA_FA_SMALL) return;
    f->fa_run += nb;
    uintptr_t r = (uintptr_t)rem, end = r + rsize;
    if (f->fa_run >= LA_FA_RUN && (r + LA_FA_SMALL > f->fa_hi || f->fa_hi > end) && la_dbg.tunables.fault_ahead)
        la_fault_ahead_slow(f, r, end);
}
int la_os_mremap(void *old, size_t oldlen, size_t newlen, int flags, void **out) LA_HIDDEN;
void la_os_write(int fd, const char *buf, size_t len) LA_HIDDEN;
long la_os_gettid(void) LA_HIDDEN;
uint64_t la_os_random(void) LA_HIDDEN;
int la_os_ncores(void) LA_HIDDEN;
uint64_t la_os_now_ns(void) LA_HIDDEN;         /* CLOCK_MONOTONIC (vDSO, no syscall), 0 if unavailable */
LA_NORETURN void la_os_abort(void) LA_HIDDEN;
/* sbrk that keeps errno; returns (void *)-1 on failure */
void *la_os_sbrk(intptr_t inc) LA_HIDDEN;

/* ---- malloc.c (entry points) ---------------------------------------------------- */
void *la_malloc(size_t n) LA_HIDDEN;
void la_free(void *p) LA_HIDDEN;
void *la_calloc(size_t nmemb, size_t size) LA_HIDDEN;
void *la_realloc(void *p, size_t n) LA_HIDDEN;
void *la_reallocarray(void *p, size_t nmemb, size_t size) LA_HIDDEN;
void *la_memalign(size_t alignment, size_t n) LA_HIDDEN;
int la_posix_memalign(void **memptr, size_t alignment, size_t n) LA_HIDDEN;
void *la_aligned_alloc(size_t alignment, size_t n) LA_HIDDEN;
void *la_valloc(size_t n) LA_HIDDEN;
void *la_pvalloc(size_t n) LA_HIDDEN;
size_t la_malloc_usable_size(void *p) LA_HIDDEN;
void *la_malloc_slow(size_t n) LA_HIDDEN;
void la_free_slow(void *p) LA_HIDDEN;
void la_free_slow_inheap(void *p) LA_HIDDEN;   /* passed the inline ownership window */
/* the inline filter missed: window table, then the hit path or the slow path
 * (arguments: what the inline path had already computed) */
void *la_malloc_lookup(size_t n, struct la_tcache *tc, size_t idx, struct la_tcache_entry *e) LA_HIDDEN;
void la_free_lookup(struct la_tcache *tc, void *p) LA_HIDDEN;

/* ---- tcache.c ----------------------------------------------------------------- */
struct la_tcache *la_tcache_create(void) LA_HIDDEN;
void la_tcache_thread_exit(void *arg) LA_HIDDEN;
LA_NORETURN void la_tcache_double_free(struct la_tcache *tc, void *mem, size_t idx) LA_HIDDEN;
void la_tcache_check_double_free(struct la_tcache *tc, void *mem, size_t idx) LA_HIDDEN;
void *la_tcache_get_slow(struct la_tcache *tc, size_t idx) LA_HIDDEN;
void *la_meta_alloc(size_t size) LA_HIDDEN;        /* under registry lock */
void la_meta_free(void *p) LA_HIDDEN;              /* under registry lock */

/* ---- bigcache.c (per-thread cache of freed chunks of 1 KiB .. 64 KiB) ----------- */
#define LA_BC_BYTES_DEFAULT (8u << 20)
/* free: cache chunk p (size bytes, passed free's address/size checks, owner
 * its arena); 1 when cached */
int la_bc_put(struct la_tcache *tc, struct la_arena *owner, la_chunk *p, size_t size) LA_HIDDEN;
/* malloc: a cached chunk of at least nb bytes (at most 1/8 more), or NULL */
void *la_bc_take(struct la_tcache *tc, size_t nb) LA_HIDDEN;
void la_bc_flush(struct la_tcache *tc) LA_HIDDEN;                 /* every cached chunk back to its arena */
void la_bc_flush_top(struct la_arena *av) LA_HIDDEN;              /* av->lock held: cached chunks next to top */
LA_INLINE int la_bc_range(size_t size) { return size - LA_BC_MIN_CHUNK <= LA_BC_MAX_CHUNK - LA_BC_MIN_CHUNK; }

/* ---- remote.c (chunks freed by threads of other arenas: la_arena.remote) ---------- */
void la_remote_push(struct la_arena *av, la_chunk *first, la_chunk *last, size_t n) LA_HIDDEN;
void la_remote_drain_slow(struct la_arena *av, struct la_tcache *tc) LA_HIDDEN;
void la_remote_check_double_free(struct la_arena *av, la_chunk *p, int have_lock) LA_HIDDEN;
int la_remote_validate(struct la_arena *av, const char **what, uintptr_t *addr) LA_HIDDEN;
/* av->lock held: free what other threads pushed onto av's remote list (one
 * relaxed load when it is empty) */
LA_INLINE void la_remote_drain(struct la_arena *av)
{
    if (la_unlikely(__atomic_load_n(&av->remote, __ATOMIC_RELAXED) != NULL)) la_remote_drain_slow(av, NULL);
}
/* the same by a thread attached to av that is about to allocate from it:
 * chunks that fit go to its tcache */
LA_INLINE void la_remote_drain_mine(struct la_arena *av)
{
    if (la_unlikely(__atomic_load_n(&av->remote, __ATOMIC_RELAXED) != NULL))
        la_remote_drain_slow(av, av == la_t_arena ? la_tc_get() : NULL);
}

/* ---- arena.c ------------------------------------------------------------------ */
void la_arena_init(struct la_arena *av, uint32_t index) LA_HIDDEN;
struct la_arena *la_arena_lock_mine(void) LA_HIDDEN;   /* this thread's arena, locked */
/* av (locked) serves an allocation of an attached thread: it is not idle
 * (pad0 counts those allocations; arena.c, "idle arenas") */
LA_INLINE struct la_arena *la_note_alloc(struct la_arena *av)
{
    __atomic_store_n(&av->pad0, (int32_t)((uint32_t)av->pad0 + 1u), __ATOMIC_RELAXED);
    return av;
}
/* av, just locked to serve an allocation of this thread: what other threads
 * freed into it comes back first (remote.c), and it is marked busy */
LA_INLINE struct la_arena *la_locked_for_alloc(struct la_arena *av)
{
    la_remote_drain_mine(av);
    return la_note_alloc(av);
}
/* The same, with the common case (attached, lock free) inline. */
LA_INLINE struct la_arena *la_arena_lock_mine_fast(void)
{
    struct la_arena *av = la_t_arena;
    if (la_likely(av != NULL) && la_likely(la_trylock(&av->lock))) {
        return la_locked_for_alloc(av);
    }
    return la_arena_lock_mine();
}
struct la_arena *la_arena_attach(void) LA_HIDDEN;      /* this thread's arena, chosen if need be */
struct la_arena *la_arena_retry(struct la_arena *failed) LA_HIDDEN; /* another arena, locked, or NULL */
void la_arena_detach_thread(void) LA_HIDDEN;
LA_INLINE struct la_arena *la_arena_of(const la_chunk *p)
{
    if (!(p->size & LA_NON_MAIN_ARENA)) return &la_main_arena;
    return ((struct la_segment *)la_heap_of((uintptr_t)p))->arena;
}
/* The same for a chunk whose size field is not trusted yet: NULL when its
 * NON_MAIN_ARENA bit names no mapped heap. */
LA_INLINE struct la_arena *la_arena_of_mapped(const la_chunk *p)
{
    if (!(p->size & LA_NON_MAIN_ARENA)) return &la_main_arena;
    struct la_segment *h = la_heap_at((uintptr_t)p);
    return h ? h->arena : NULL;
}
void la_registry_lock(void) LA_HIDDEN;
void la_registry_unlock(void) LA_HIDDEN;

/* ---- bins.c (the arena algorithms; the caller holds av->lock) ---------------------- */
void *la_int_malloc(struct la_arena *av, size_t nb) LA_HIDDEN;
void la_int_free(struct la_arena *av, la_chunk *p, int have_lock) LA_HIDDEN;
/* the same once p's alignment and size (= ck_size(p)) have been checked */
void la_int_free_sized(struct la_arena *av, la_chunk *p, size_t size, int have_lock) LA_HIDDEN;
void la_consolidate(struct la_arena *av) LA_HIDDEN;
void la_unlink(struct la_arena *av, la_chunk *p) LA_HIDDEN;
int la_tcache_free(struct la_tcache *tc, struct la_arena *av, la_chunk *p, size_t size, size_t idx,
                   int have_lock) LA_HIDDEN;   /* free's tcache branch; 1 when cached */
/* free p (size, of av = the thread's own arena; its tcache bin idx is full)
 * with the newest half of that bin's entries of av, under one lock */
void la_tcache_flush(struct la_tcache *tc, struct la_arena *av, la_chunk *p, size_t size, size_t idx) LA_HIDDEN;
void *la_int_realloc(struct la_arena *av, la_chunk *p, size_t oldsize, size_t nb) LA_HIDDEN;
void *la_int_memalign(struct la_arena *av, size_t alignment, size_t nb) LA_HIDDEN;
int la_trim_arena(struct la_arena *av, size_t pad) LA_HIDDEN;

/* ---- sysmem.c (memory from the system) ------------------------------------------- */
void *la_sysmalloc(struct la_arena *av, size_t nb) LA_HIDDEN;
void *la_mmap_chunk(size_t nb) LA_HIDDEN;
void la_munmap_chunk(la_chunk *p) LA_HIDDEN;
la_chunk *la_mremap_chunk(la_chunk *p, size_t nb) LA_HIDDEN;
int la_systrim(struct la_arena *av, size_t pad) LA_HIDDEN;
void la_heap_trim(struct la_arena *av, size_t keep) LA_HIDDEN;
void la_auto_trim(struct la_arena *av) LA_HIDDEN;   /* after a large free: trim with hysteresis */
struct la_segment *la_new_heap(size_t size, size_t top_pad) LA_HIDDEN;
void la_mreg_insert(uintptr_t chunk, size_t size) LA_HIDDEN;     /* takes the registry lock */
void la_mreg_move(uintptr_t from, uintptr_t to, size_t oldsize, size_t newsize) LA_HIDDEN;
int la_mreg_lookup(uintptr_t chunk) LA_HIDDEN;                   /* lock-free unless a writer is active */
int la_mreg_lookup_locked(uintptr_t chunk) LA_HIDDEN;            /* takes the registry lock */
/* the registry's hash (heapview/walk.c computes the same) */
LA_INLINE size_t la_mreg_hash(uintptr_t a, uint64_t cap)
{
    return (size_t)(((a >> 4) * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}
/* chunk is a registered mmapped chunk: la_mreg_lookup inline.  The table is
 * probed without the lock (sysmem.c "registry of mmapped chunks"): a hit is
 * an answer; a miss is one when la_dbg.generation was even and unchanged
 * across the probe (no writer was active), else it is asked again under the
 * lock.  A table's capacity is the word before its slots. */
LA_INLINE int la_mreg_lookup_inline(uintptr_t chunk)
{
    uint64_t g = __atomic_load_n(&la_dbg.generation, __ATOMIC_ACQUIRE);
    const uint64_t *s = __atomic_load_n(&la_dbg.mmaps.slots, __ATOMIC_ACQUIRE);
    if (la_likely(s != NULL)) {
        uint64_t cap = s[-1];
        size_t i = la_mreg_hash(chunk, cap);
        for (uint64_t n = 0; n < cap; n++) {
            uint64_t v = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
            if (v == chunk) return 1;
            if (v == 0) break;
            i = (i + 1) & (cap - 1);
        }
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (la_likely(!(g & 1) && __atomic_load_n(&la_dbg.generation, __ATOMIC_RELAXED) == g)) return 0;
    return la_mreg_lookup_locked(chunk);
}
void la_win_update(struct la_arena *av) LA_HIDDEN;               /* arena lock held; takes the registry lock */
int la_win_init(struct la_arena *av) LA_HIDDEN;      /* the same for an arena no thread is attached to yet */
/* The arena whose heap holds the chunk of user pointer mem (and its segment),
 * or NULL; reads no chunk memory. */
struct la_arena *la_heap_owner(uintptr_t mem, struct la_segment **seg) LA_HIDDEN;
/* la_seg_ok for the link tests (the arena lock held): the same test with
 * both of the window's words read by the subtraction and the compare
 * themselves, the result in the carry flag.  gcc loaded them into registers
 * wherever a function tests more than one link (both links of an unlink,
 * each chunk of a consolidation), 2 instructions more per test or pair than
 * rotate, subtract, compare, branch. */
LA_INLINE int la_seg_in(const struct la_arena *av, uintptr_t x)
{
#if defined(__x86_64__) && defined(__BMI2__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    uint64_t t;
    int below;
    __asm__("rorx $4, %2, %0\n\tsub %3, %0\n\tcmp %4, %0"
            : "=&r"(t), "=@ccb"(below)
            : "r"(x), "m"(av->spare[2]), "m"(av->spare[3]));
    return below;
#else
    return la_seg_ok(av, x);
#endif
}
/* x is a chunk inside one of av's segments (no chunk memory read; pure: it
 * writes nothing, so a caller need not read memory again after calling it) */
int la_chunk_in_arena_slow(struct la_arena *av, uintptr_t x) LA_HIDDEN __attribute__((pure));
LA_INLINE int la_chunk_in_arena(struct la_arena *av, uintptr_t x)
{
    return la_seg_in(av, x) || (av == &la_main_arena && la_wt_ok(&la_main_oldwin, x + LA_CHUNK_HDR)) ||
           la_chunk_in_arena_slow(av, x);
}
/* bin i's header is la_bin_at(av, i) = la_bin_at(av, 1) + 16 (i - 1), i = 1..127:
 * x is one of av's bin headers (bins 1..127; no call).  The headers are
 * 16-aligned (every arena is), so this is a window test (la_win_in) whose
 * low end / 16, la_ror4(la_bin_at(av, 1)), la_arena_init keeps in
 * av->remote_spare[0]: rotate, subtract it from memory, compare (4
 * instructions; computing the base from av took 6) */
LA_INLINE int la_bin_hdr_ok(struct la_arena *av, uintptr_t x)
{
    return la_win_in(x, av->remote_spare[0], LA_NBINS - 1);
}
/* x is a chunk in av's newest segment or one of av's bin headers (no call) */
LA_INLINE int la_link_fast(struct la_arena *av, uintptr_t x)
{
    return la_seg_in(av, x) || la_bin_hdr_ok(av, x);
}
LA_INLINE int la_seg_ok_fn(struct la_arena *av, uintptr_t x) { return la_seg_in(av, x); }
/* x is a chunk of av or one of av's bin headers: a valid fd/bk target */
LA_INLINE int la_link_in_arena(struct la_arena *av, uintptr_t x)
{
    return la_link_fast(av, x) || (av == &la_main_arena && la_wt_ok(&la_main_oldwin, x + LA_CHUNK_HDR)) ||
           la_chunk_in_arena_slow(av, x);
}
void la_heapmap_set(uintptr_t heap, int on) LA_HIDDEN;

/* ---- options.c ------------------------------------------------------------------- */
void la_options_init(void) LA_HIDDEN;
int la_mallopt(int param, int value) LA_HIDDEN;

/* ---- stats.c ---------------------------------------------------------------------- */
struct mallinfo2 la_mallinfo2(void) LA_HIDDEN;
struct mallinfo la_mallinfo(void) LA_HIDDEN;
void la_malloc_stats(void) LA_HIDDEN;
int la_malloc_info(int options, FILE *fp) LA_HIDDEN;
int la_malloc_trim(size_t pad) LA_HIDDEN;

/* ---- check.c ---------------------------------------------------------------------- */
/* the abort path; the _ns variants for a pointer whose chunk must not be read */
LA_NORETURN void la_fatal(const char *msg, const void *ptr, size_t size_field) LA_HIDDEN;
LA_NORETURN void la_fatal_ns(const char *msg, const void *ptr) LA_HIDDEN;
LA_NORETURN void la_fatal_arena(struct la_arena *av, const char *msg, const void *ptr, size_t size_field) LA_HIDDEN;
LA_NORETURN void la_fatal_arena_ns(struct la_arena *av, const char *msg, const void *ptr) LA_HIDDEN;
/* name of the public function being served (set on entry to each slow path) */
extern LA_TLS const char *la_t_fn LA_HIDDEN;
void la_warn(const char *a, const char *b, const char *c) LA_HIDDEN;
int la_check_heap(void) LA_HIDDEN;
void la_periodic_check(void) LA_HIDDEN;
/* small formatting helpers that never allocate */
size_t la_fmt_u(char *buf, uint64_t v) LA_HIDDEN;
size_t la_fmt_x(char *buf, uint64_t v) LA_HIDDEN;

/* ---- trace.c (LIBALLOC_OPTIONS trace/history/sites/step; liballoc_debug.trace) ---- */
void la_trace_init(void) LA_HIDDEN;             /* phase 1: ring and site table */
void la_trace_init2(void) LA_HIDDEN;            /* phase 2: unwinder; step mode stop */
/* ra: the return address the public entry was called with (the caller) */
void *la_traced_malloc(size_t n, void *ra) LA_HIDDEN;
void la_traced_free(void *p, void *ra) LA_HIDDEN;
void *la_traced_calloc(size_t nmemb, size_t size, void *ra) LA_HIDDEN;
void *la_traced_realloc(void *p, size_t n, void *ra) LA_HIDDEN;
void *la_traced_memalign(size_t alignment, size_t n, void *(*fn)(size_t, size_t), void *ra) LA_HIDDEN;
#define LA_RA() __builtin_return_address(0)
/* set while this thread records an operation: nested calls are served, not recorded */
extern LA_TLS int la_t_tracing LA_HIDDEN;
/* what the current operation did, noted by the slow paths (LA_NOTE) */
extern LA_TLS struct la_op la_t_note LA_HIDDEN;
extern LA_TLS uint64_t la_t_tid LA_HIDDEN;     /* cached thread id (0: not yet) */
/* true when a public entry must hand the call to la_traced_*() */
#define LA_TRACE_ENTRY() (la_unlikely(la_dbg.trace.flags != 0) && !la_t_tracing)
/* note the path (enum la_op_path), bin index, bin count, chunk, chunk size and a
 * path-specific number; costs a TLS load and a branch when not recording */
#define LA_NOTE(path_, bin_, count_, chunk_, csize_, aux_) do {                   \
        if (la_unlikely(la_t_tracing)) {                                            \
            la_t_note.path = (path_); la_t_note.bin = (uint32_t)(bin_);            \
            la_t_note.count = (uint32_t)(count_);                                  \
            la_t_note.chunk = (uint64_t)(uintptr_t)(chunk_);                       \
            la_t_note.csize = (csize_); la_t_note.aux0 = (aux_);                   \
        } } while (0)
#define LA_NOTE_PATH(path_, bin_, aux_) do {                                      \
        if (la_unlikely(la_t_tracing)) {                                            \
            la_t_note.path = (path_); la_t_note.bin = (uint32_t)(bin_); la_t_note.aux0 = (aux_); \
        } } while (0)
#define LA_NOTE_FLAG(f) do { if (la_unlikely(la_t_tracing)) la_t_note.flags |= (f); } while (0)

/* ---- fork.c ----------------------------------------------------------------------- */
void la_fork_prepare(void) LA_HIDDEN;
void la_fork_parent(void) LA_HIDDEN;
void la_fork_child(void) LA_HIDDEN;

/* ---- checked tcache pops (tcache.c, and inlined into loops that empty a bin) ---- */

/* An entry of tcache tc about to be read: aligned (glibc's check, message
 * `unaligned`) and, with the extra checks, inside a heap (message `outside`;
 * tc's windows first: tc may be a tcache being flushed at thread exit, after
 * la_tc was reset). */
LA_INLINE void la_tc_entry_ok(struct la_tcache *tc, const void *e, const char *unaligned, const char *outside)
{
    if (la_unlikely(!la_aligned((uintptr_t)e))) la_fatal_ns(unaligned, e);
#if LA_HARDEN_EXTRA
    if (la_unlikely(!la_any_win_ok(tc, (uintptr_t)e) && !la_win_lookup(tc, (uintptr_t)e) &&
                    !la_heap_owner((uintptr_t)e, NULL)))
        la_fatal_ns(outside, e);
#else
    (void)tc;
    (void)outside;
#endif
}

/* Pop the first entry of bin idx (not empty), checked.  The inline malloc does
 * the same with a cheaper check; la_tcache_get_slow is this out of line, and a
 * loop that empties a whole bin (remote_free) inlines it, so the checks cost no
 * call and no register saves per entry. */
LA_INLINE void *la_tcache_pop_checked(struct la_tcache *tc, size_t idx)
{
    struct la_tcache_entry *e = tc->entries[idx];
#if LA_HARDEN_EXTRA
    la_tc_entry_ok(tc, e, "malloc(): unaligned tcache chunk detected", "malloc(): tcache chunk outside the heap detected");
    if (la_unlikely(tc->counts[idx] == 0 || tc->counts[idx] > la_g.tc_cap[idx]))
        la_fatal_ns("malloc(): corrupted tcache count", e);
    uintptr_t next = la_reveal_ptr((uintptr_t)&e->next, e->next);
#else
    uintptr_t next = la_reveal_ptr((uintptr_t)&e->next, e->next);
    if (la_unlikely(!la_aligned(next)))
        la_fatal_ns("malloc(): unaligned tcache chunk detected", (void *)next);
#endif
    return la_tc_take_head(tc, idx, e, next);
}

#endif /* LIBALLOC_INTERNAL_H */
