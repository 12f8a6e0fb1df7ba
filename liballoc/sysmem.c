/*
 * liballoc/sysmem.c - memory from the system: growing and trimming arenas,
 * segments and non-main heaps, mmapped chunks and their registry.
 *
 * Main arena: one segment per contiguous brk run.  The top grows with sbrk
 * while the break is where liballoc left it; when someone else moved the break,
 * or brk fails, the old top is closed with two fencepost headers (its usable
 * part is freed) and a new segment starts: at the new break, or in an mmap'd
 * region (the arena is then marked LA_ARENA_NONCONTIG): a LA_HEAP_MAX-aligned
 * heap like the non-main ones (grown in place, in la_heapmap/la_wintab), else
 * a plain mapping.
 * Non-main arenas: heaps of LA_HEAP_MAX bytes reserved PROT_NONE at a LA_HEAP_MAX
 * alignment (so la_heap_of(chunk) finds the heap and its arena), made read/write
 * as they grow, given back with MADV_DONTNEED or unmapped when empty.
 * Large requests (>= mmap_threshold) get their own mapping; each mmapped chunk
 * is recorded in liballoc_debug.mmaps, and free/realloc refuse a chunk that is
 * not recorded there.
 */
#include <sys/mman.h>

#include "internal.h"

/* ---- registry of mmapped chunks ---------------------------------------------------- */

/* An open-addressed table (linear probing; 0 empty, 1 tombstone) of the
 * addresses of the mmapped chunks, written under the registry lock, each
 * change between la_gen_begin and la_gen_end.  Readers
 * (la_mreg_lookup_inline, internal.h: free and realloc asking "is this an
 * mmapped chunk of ours?") probe it without the lock.  A hit is an answer: the
 * address was stored by a writer, and for a chunk the caller may legally pass
 * (its own block, published to it before it could be freed) the slots on its
 * probe path never become empty while it is registered (deletion leaves a
 * tombstone; a rebuild publishes a complete new table).  A miss is an answer
 * when la_dbg.generation was even and the same before and after the probe
 * (no writer ran meanwhile), else it is asked again under the lock.  Racing a
 * free of the same block (a double free in two threads) is caught under the
 * lock by la_munmap_chunk's reg_del.  For this a table is never unmapped: the
 * word before the slots holds the table's capacity (slots and capacity come
 * with one pointer load), and a table replaced by reg_grow is kept for reuse
 * by a later table of the same capacity (at most two per capacity, so the
 * memory kept is bounded by a few times the largest table); a reader still
 * probing a replaced or reused table reads mapped memory. */
#define REG_KEEP 2
static uint64_t *reg_kept[64][REG_KEEP];   /* replaced tables (slot pointers) by log2(capacity) */

static void reg_put(uint64_t *slots, uint64_t cap, uintptr_t c)
{
    size_t i = la_mreg_hash(c, cap);
    while (slots[i] > 1) i = (i + 1) & (cap - 1);
    __atomic_store_n(&slots[i], c, __ATOMIC_RELAXED);
}

/* an empty table of cap slots (a kept one, or a new mapping), or NULL */
static uint64_t *reg_table(uint64_t cap)
{
    uint64_t **keep = reg_kept[__builtin_ctzll(cap)];
    for (int k = 0; k < REG_KEEP; k++) {
        uint64_t *t = keep[k];
        if (t) {
            keep[k] = NULL;
            for (uint64_t i = 0; i < cap; i++) __atomic_store_n(&t[i], 0, __ATOMIC_RELAXED);
            return t;
        }
    }
    void *m;
    if (la_os_mmap((cap + 1) * sizeof(uint64_t), PROT_READ | PROT_WRITE, 0, &m)) return NULL;
    uint64_t *t = m;
    t[0] = cap;
    return t + 1;
}

static int reg_grow(void)
{
    struct la_mmap_registry *r = &la_dbg.mmaps;
    uint64_t cap = 256;
    while (cap < 4 * (r->count + 1)) cap <<= 1;
    uint64_t *ns = reg_table(cap), *os = r->slots;
    if (!ns) return -1;
    uint64_t ocap = r->capacity;
    for (uint64_t i = 0; i < ocap; i++)
        if (os[i] > 1) reg_put(ns, cap, os[i]);
    __atomic_store_n(&r->slots, ns, __ATOMIC_RELEASE);
    r->capacity = cap;
    r->tombstones = 0;
    if (os) {
        /* kept, not unmapped: a reader may still probe it (see above); a
         * third table of one capacity (never seen in practice) stays mapped */
        uint64_t **keep = reg_kept[__builtin_ctzll(ocap)];
        for (int k = 0; k < REG_KEEP; k++)
            if (!keep[k]) {
                keep[k] = os;
                break;
            }
    }
    return 0;
}

static long reg_find(uintptr_t c)
{
    struct la_mmap_registry *r = &la_dbg.mmaps;
    if (!r->capacity) return -1;
    size_t i = la_mreg_hash(c, r->capacity);
    for (uint64_t n = 0; n < r->capacity; n++) {
        if (r->slots[i] == c) return (long)i;
        if (r->slots[i] == 0) return -1;
        i = (i + 1) & (r->capacity - 1);
    }
    return -1;
}

int la_mreg_lookup_locked(uintptr_t chunk)
{
    la_registry_lock();
    int r = reg_find(chunk) >= 0;
    la_registry_unlock();
    return r;
}

int la_mreg_lookup(uintptr_t chunk) { return la_mreg_lookup_inline(chunk); }

static void reg_add(uintptr_t c, size_t size)
{
    struct la_mmap_registry *r = &la_dbg.mmaps;
    struct la_mstats *s = &la_dbg.mstats;
    if ((r->count + r->tombstones + 1) * 2 > r->capacity && reg_grow() != 0) {
        if (r->count + r->tombstones + 1 >= r->capacity) return;   /* cannot record; still works */
    }
    size_t i = la_mreg_hash(c, r->capacity);
    while (r->slots[i] > 1) i = (i + 1) & (r->capacity - 1);
    if (r->slots[i] == 1) r->tombstones--;
    __atomic_store_n(&r->slots[i], c, __ATOMIC_RELAXED);
    r->count++;
    s->n_mmaps++;
    if (s->n_mmaps > s->max_n_mmaps) s->max_n_mmaps = s->n_mmaps;
    s->mmapped_mem += size;
    if (s->mmapped_mem > s->max_mmapped_mem) s->max_mmapped_mem = s->mmapped_mem;
}

/* 0 if removed, -1 if the chunk is not registered. */
static int reg_del(uintptr_t c, size_t size)
{
    long i = reg_find(c);
    if (i < 0) return -1;
    __atomic_store_n(&la_dbg.mmaps.slots[i], 1, __ATOMIC_RELAXED);
    la_dbg.mmaps.count--;
    la_dbg.mmaps.tombstones++;
    la_dbg.mstats.n_mmaps--;
    la_dbg.mstats.mmapped_mem -= size;
    return 0;
}

void la_mreg_insert(uintptr_t chunk, size_t size)
{
    la_registry_lock();
    la_gen_begin();
    reg_add(chunk, size);
    la_gen_end();
    la_registry_unlock();
}

void la_mreg_move(uintptr_t from, uintptr_t to, size_t oldsize, size_t newsize)
{
    la_registry_lock();
    la_gen_begin();
    reg_del(from, oldsize);
    reg_add(to, newsize);
    la_gen_end();
    la_registry_unlock();
}

/* ---- mmapped chunks ------------------------------------------------------------------ */

void *la_mmap_chunk(size_t nb)
{
    size_t ps = la_g.pagesize;
    if (nb > SIZE_MAX - ps - LA_SIZE_SZ) return NULL;
    size_t size = la_align_up(nb + LA_SIZE_SZ, ps);
    if (size <= nb) return NULL;
    void *m;
    if (la_os_mmap(size, PROT_READ | PROT_WRITE, 0, &m)) return NULL;
    la_chunk *p = m;
    p->prev_size = 0;
    p->size = size | LA_IS_MMAPPED;
    la_mreg_insert((uintptr_t)p, size);
    return ck2mem(p);
}

void la_munmap_chunk(la_chunk *p)
{
    size_t size = ck_size(p);
    uintptr_t block = (uintptr_t)p - p->prev_size;
    size_t total = p->prev_size + size;
    if (la_unlikely(((block | total) & (la_g.pagesize - 1)) != 0))
        la_fatal("munmap_chunk(): invalid pointer", ck2mem(p), p->size);
    la_registry_lock();
    la_gen_begin();
    int bad = reg_del((uintptr_t)p, size);
    la_gen_end();
    la_registry_unlock();
    if (la_unlikely(bad)) la_fatal("munmap_chunk(): invalid pointer", ck2mem(p), p->size);
    la_os_munmap((void *)block, total);
}

/* Resize an mmapped chunk with mremap; NULL if the kernel refuses. */
la_chunk *la_mremap_chunk(la_chunk *p, size_t nb)
{
    size_t ps = la_g.pagesize;
    size_t off = p->prev_size, size = ck_size(p);
    uintptr_t block = (uintptr_t)p - off;
    size_t total = off + size;
    if (la_unlikely(((block | total) & (ps - 1)) != 0))
        la_fatal("mremap_chunk(): invalid pointer", ck2mem(p), p->size);
    if (nb > SIZE_MAX - off - ps - LA_SIZE_SZ) return NULL;
    size_t newtotal = la_align_up(nb + off + LA_SIZE_SZ, ps);
    if (newtotal == total) return p;
    if (la_unlikely(!la_mreg_lookup((uintptr_t)p))) la_fatal("mremap_chunk(): invalid pointer", ck2mem(p), p->size);
    void *nm;
    if (la_os_mremap((void *)block, total, newtotal, MREMAP_MAYMOVE, &nm)) return NULL;
    la_chunk *np = (la_chunk *)((char *)nm + off);
    np->size = (newtotal - off) | LA_IS_MMAPPED;
    la_mreg_move((uintptr_t)p, (uintptr_t)np, size, newtotal - off);
    return np;
}

/* ---- ownership (see "hardening" in internal.h) ----------------------------------------- */

uint64_t la_heapmap[LA_HEAPMAP_SLOTS / 64];
struct la_wintab la_wintab[LA_WINTAB_SLOTS];
/* which heap (its slot number + 1) owns each la_wintab entry; 0 = none */
static uint32_t wintab_owner[LA_WINTAB_SLOTS];

/* Set heap h's entry of la_wintab; span 0 empties it and gives it up.  A heap
 * whose entry is owned by another heap (16 TiB apart) has none: its pointers
 * take the slow path.  So an entry has one writer at a time. */
static void wintab_set(const struct la_segment *h, uint64_t lo, uint64_t span)
{
    struct la_wintab *w = la_wintab_at((uintptr_t)h);
    uint32_t *own = &wintab_owner[w - la_wintab];
    uint32_t me = (uint32_t)((uintptr_t)h / LA_HEAP_MAX) + 1, cur = __atomic_load_n(own, __ATOMIC_ACQUIRE);
    if (cur != me) {
        if (!span || cur != 0 || !__atomic_compare_exchange_n(own, &cur, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return;
    }
    __atomic_store_n(&w->span, 0, __ATOMIC_RELEASE);
    if (span) {
        __atomic_store_n(&w->lo, lo, __ATOMIC_RELEASE);
        __atomic_store_n(&w->span, span, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(own, 0, __ATOMIC_RELEASE);
    }
}

void la_heapmap_set(uintptr_t heap, int on)
{
    size_t slot = heap / LA_HEAP_MAX;
    if (slot >= LA_HEAPMAP_SLOTS) return;
    uint64_t bit = (uint64_t)1 << (slot & 63);
    if (on) __atomic_fetch_or(&la_heapmap[slot >> 6], bit, __ATOMIC_RELEASE);
    else __atomic_fetch_and(&la_heapmap[slot >> 6], ~bit, __ATOMIC_RELEASE);
}

/* chunk c (header and a minimal body) lies in segment s */
static int in_seg(const struct la_segment *s, uintptr_t c)
{
    uintptr_t end = (uintptr_t)s + s->size;
    return c >= s->chunks && c < end && end - c >= LA_MINSIZE;
}

/* The main arena's segments sorted by address, so that a heap that fell back
 * to many mmap'd segments (brk exhausted, or under valgrind) is searched in
 * O(log n).  Written under the main arena lock; read without it, so a miss
 * (a racing insert) falls back to the walk of the segment list, which is
 * authoritative.  Entries are always valid segments (main segments are never
 * unmapped). */
#define MAIN_IDX_MAX 512
static struct la_segment *main_idx[MAIN_IDX_MAX];
static uint32_t main_idx_n;

static struct la_segment *main_seg_search(uintptr_t c);

static void main_idx_add(struct la_segment *s)
{
    uint32_t n = main_idx_n;
    if (n >= MAIN_IDX_MAX) return;
    uint32_t i = n;
    while (i > 0 && main_idx[i - 1]->chunks > s->chunks) {
        __atomic_store_n(&main_idx[i], main_idx[i - 1], __ATOMIC_RELEASE);
        i--;
    }
    __atomic_store_n(&main_idx[i], s, __ATOMIC_RELEASE);
    __atomic_store_n(&main_idx_n, n + 1, __ATOMIC_RELEASE);
}

/* the segment main_seg_of found last: an arena that moved on to mmap'd
 * segments keeps most of its older chunks in the one old brk segment, which
 * the newest segment's window does not cover (written only when it changes) */
static struct la_segment *main_hit;

static struct la_segment *main_seg_of(uintptr_t c)
{
    struct la_segment *hit = __atomic_load_n(&main_hit, __ATOMIC_RELAXED);
    if (hit && in_seg(hit, c)) return hit;
    struct la_segment *s = main_seg_search(c);
    if (s && s != hit) __atomic_store_n(&main_hit, s, __ATOMIC_RELAXED);
    return s;
}

static struct la_segment *main_seg_search(uintptr_t c)
{
    uint32_t lo = 0, hi = __atomic_load_n(&main_idx_n, __ATOMIC_ACQUIRE);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (__atomic_load_n(&main_idx[mid], __ATOMIC_ACQUIRE)->chunks <= c) lo = mid + 1;
        else hi = mid;
    }
    if (lo > 0) {
        struct la_segment *s = __atomic_load_n(&main_idx[lo - 1], __ATOMIC_ACQUIRE);
        if (in_seg(s, c)) return s;
    }
    for (struct la_segment *s = __atomic_load_n(&la_main_arena.segments, __ATOMIC_ACQUIRE); s; s = s->prev)
        if (in_seg(s, c)) return s;
    return NULL;
}

struct la_arena *la_heap_owner(uintptr_t mem, struct la_segment **segp)
{
    if (!la_aligned(mem) || mem < LA_CHUNK_HDR) return NULL;
    uintptr_t c = mem - LA_CHUNK_HDR;
    struct la_segment *h = la_heap_at(c);
    struct la_arena *av = h ? __atomic_load_n(&h->arena, __ATOMIC_ACQUIRE) : NULL;
    if (av && in_seg(h, c)) {
        if (segp) *segp = h;
        return av;
    }
    if (h) return NULL;                 /* inside a heap's reservation, not in its chunks */
    if ((h = main_seg_of(c)) != NULL) {
        if (segp) *segp = h;
        return &la_main_arena;
    }
    return NULL;
}

int la_chunk_in_arena_slow(struct la_arena *av, uintptr_t x)
{
    if (!la_aligned(x)) return 0;
    struct la_segment *h = la_heap_at(x);
    if (h) return h->arena == av && in_seg(h, x);
    return av == &la_main_arena && main_seg_of(x) != NULL;   /* (la_main_oldwin: tested inline) */
}

/* the user-pointer window of segment s (la_win_ok's lo and span) */
static void seg_window(const struct la_segment *s, uint64_t *lo, uint64_t *span)
{
    uintptr_t end = (uintptr_t)s + s->size, first = s->chunks + LA_CHUNK_HDR;
    *lo = first >> 4;                                  /* la_win_in */
    *span = end > first + LA_WIN_TAIL ? (end - LA_WIN_TAIL - first) >> 4 : 0;
}

struct la_wintab la_main_oldwin;

/* Returns 1 when the window written does not contain the one before (it
 * shrank, moved or went away): copies of it must go (la_tc_dm_clear_all). */
int la_win_init(struct la_arena *av)
{
    struct la_segment *s = av->segments;
    uint64_t lo = 0, span = 0, clo = 0, cspan = 0;
    uint64_t olo = av->spare[0], ospan = av->spare[1];
    if (s) {
        uintptr_t end = (uintptr_t)s + s->size;
        seg_window(s, &lo, &span);
        clo = s->chunks >> 4;                          /* la_win_in */
        if (end >= s->chunks + LA_MINSIZE) cspan = ((end - LA_MINSIZE - s->chunks) >> 4) + 1;
    }
    /* a racing reader sees an empty window, never a wrong one */
    __atomic_store_n(&av->spare[1], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&av->spare[3], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&av->spare[0], lo, __ATOMIC_RELEASE);
    __atomic_store_n(&av->spare[2], clo, __ATOMIC_RELEASE);
    __atomic_store_n(&av->spare[1], span, __ATOMIC_RELEASE);
    __atomic_store_n(&av->spare[3], cspan, __ATOMIC_RELEASE);
    /* a non-main heap's window also goes to its la_wintab entry (la_heap_win);
     * only the newest heap of an arena ever changes size */
    if (s && (av != &la_main_arena || la_heap_at((uintptr_t)s) == s)) wintab_set(s, lo, span);
    return ospan && (lo != olo || span < ospan);
}

void la_win_update(struct la_arena *av)
{
    int shrunk = la_win_init(av);
    /* and to the copies in the tcaches of the threads attached to av.  The
     * copies other threads made of av's windows (internal.h "Ownership") must
     * go when memory they cover leaves the process: a brk segment that
     * shrank (la_systrim).  A heap that shrank keeps its pages mapped
     * (MADV_DONTNEED: they read as zeros, and nothing else is mapped there);
     * a heap that is dropped is unmapped by la_unmap_pending, which empties
     * the copies first; main segments are never unmapped.  So a window that
     * only shrank or moved there leaves the copies alone (a trim cycle would
     * otherwise send every thread back to the global lookup each time). */
    struct la_segment *seg = av->segments;
    la_registry_lock();
    for (struct la_tcache *tc = la_dbg.tcaches; tc; tc = tc->next)
        la_tc_win_refresh(tc, av);
    if (shrunk && seg && seg->kind == LA_SEG_SBRK) la_tc_dm_clear_all();
    la_registry_unlock();
}

static void account(struct la_arena *av, size_t add)
{
    av->system_mem += add;
    if (av->system_mem > av->max_system_mem) av->max_system_mem = av->system_mem;
}

/* The arena's newest segment is being replaced: close the old top with two
 * fencepost headers and free whatever is left of it. */
static void close_top(struct la_arena *av, struct la_segment *seg, la_chunk *old)
{
    if (!old) return;
    size_t s = ck_size(old);
    uintptr_t end = (uintptr_t)old + s;
    la_chunk *f1 = (la_chunk *)(end - 2 * LA_CHUNK_HDR), *f2 = (la_chunk *)(end - LA_CHUNK_HDR);
    f2->size = LA_CHUNK_HDR | LA_PREV_INUSE;
    seg->spare = (uint64_t)(uintptr_t)f1;
    if (s >= 2 * LA_CHUNK_HDR + LA_MINSIZE) {
        f1->size = LA_CHUNK_HDR | LA_PREV_INUSE;
        old->size = (s - 2 * LA_CHUNK_HDR) | LA_PREV_INUSE | la_arena_bit(av);
        la_int_free(av, old, 2);
    } else if (s == 3 * LA_CHUNK_HDR) {
        old->size = LA_CHUNK_HDR | LA_PREV_INUSE;
        f1->size = LA_CHUNK_HDR | LA_PREV_INUSE;
        seg->spare = (uint64_t)(uintptr_t)old;
    } else {
        f1->size = LA_CHUNK_HDR | LA_PREV_INUSE;   /* f1 == old */
    }
}

/* Start a new segment in [base, base + len) for the main arena. */
static void main_new_segment(struct la_arena *av, uintptr_t base, size_t len, uint32_t kind)
{
    uintptr_t b = la_align_up(base, LA_ALIGNMENT);
    uintptr_t end = (base + len) & ~(uintptr_t)LA_ALIGN_MASK;
    struct la_segment *s = (struct la_segment *)b;
    s->arena = av;
    s->prev = av->segments;
    s->size = end - b;
    s->mprotect_size = 0;
    s->reserved = len;
    s->chunks = la_align_up(b + sizeof *s, LA_ALIGNMENT);
    s->kind = kind;
    s->pad = 0;
    s->spare = 0;
    la_chunk *top = (la_chunk *)s->chunks;
    top->prev_size = 0;
    top->size = (end - s->chunks) | LA_PREV_INUSE;
    la_chunk *old = av->top;
    struct la_segment *olds = av->segments;
    /* the index starts with the second segment (then holding both): a heap of
     * one segment, nearly every program, never writes (faults in) its page */
    if (olds && __atomic_load_n(&main_idx_n, __ATOMIC_RELAXED) == 0)
        for (struct la_segment *o = olds; o; o = o->prev) main_idx_add(o);
    if (olds) main_idx_add(s);
    if (olds) {
        /* the segment being closed keeps a window of its own (main segments
         * are never unmapped): an arena that moved on from brk keeps most of
         * its older chunks there */
        uint64_t wlo, wspan;
        seg_window(olds, &wlo, &wspan);
        __atomic_store_n(&la_main_oldwin.span, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&la_main_oldwin.lo, wlo, __ATOMIC_RELEASE);
        __atomic_store_n(&la_main_oldwin.span, wspan, __ATOMIC_RELEASE);
    }
    av->segments = s;
    av->top = top;
    account(av, len);
    la_win_update(av);
    if (olds) close_top(av, olds, old);
}

/* ---- fault-ahead ---------------------------------------------------------------------------
 * A program that fills a fresh heap with small blocks (a parser, a cache
 * warming up, bench frag's first phase) takes one page fault per 4 KiB page as
 * the top chunk moves up: splitting top writes the new top's header, so every
 * page top passes is touched by liballoc itself, in address order.  Once an
 * arena has carved LA_FA_RUN bytes from top with chunks of at most
 * LA_FA_SMALL bytes in consecutive arena operations (no larger request and no
 * other operation in between), each time top's header
 * reaches the end of what was populated, the next tunables.fault_ahead bytes
 * of top (LIBALLOC_OPTIONS fault_ahead=BYTES, default 256 KiB, 0 = off) are
 * populated with one madvise(MADV_POPULATE_WRITE): one system call instead of
 * 64 faults.  The pages are ones the small splits would touch next; if the
 * program stops allocating, at most fault_ahead bytes are resident early, per
 * arena.  A larger request from top resets the run, so a heap that hands out
 * big blocks a program may touch sparsely (bench randmix, large) is never
 * populated ahead; a trim below the populated mark resets the mark (the pages
 * went back).  Kernels without MADV_POPULATE_WRITE (before 5.14) answer
 * EINVAL once and the feature turns itself off.  State in la_arena_priv
 * (fa_*), as for trimming. */
struct la_arena_priv la_arena_priv[64];
static int fa_broken;

void la_fault_ahead_slow(struct la_arena_priv *f, uintptr_t top, uintptr_t end)
{
    uintptr_t ps = la_g.pagesize;
    uintptr_t lo = la_align_up(top + sizeof(la_chunk), ps);
    if (lo < f->fa_hi && f->fa_hi <= end) lo = f->fa_hi;   /* continue where the last batch ended */
    uintptr_t hi = lo + la_dbg.tunables.fault_ahead;
    if (hi > (end & ~(ps - 1)) || hi < lo) hi = end & ~(ps - 1);
    f->fa_hi = hi > lo ? hi : lo;
    if (hi <= lo || fa_broken) return;
    if (la_os_madvise((void *)lo, hi - lo, LA_MADV_POPULATE_WRITE) == EINVAL) fa_broken = 1;
}

/* ---- trimming with hysteresis ---------------------------------------------------------------
 * Trimming top on every large free and growing it again on the next burst
 * costs a syscall and a page fault per page each time (a program that builds
 * and drops a few MiB in rounds did 25 brk calls and 1500 faults per round).
 * Each arena counts the bytes its automatic trims released since it last grew.
 * Growing again after such trims means they were premature, so the arena keeps
 * (does not trim) that much more from then on: "keep" becomes at least those
 * bytes and at least twice its old value, capped at LA_TRIM_KEEP_MAX.  keep
 * halves each time trims go on for LA_TRIM_DECAY_OPS arena operations without
 * a regrowth, so an arena that stopped cycling returns its memory over its
 * later large frees; malloc_trim ignores keep.  The state is private
 * (la_arena_priv, trim_*), one slot per arena index. */
#define LA_TRIM_KEEP_MAX ((size_t)32 << 20)
#define LA_TRIM_DECAY_OPS 65536

static void note_grow(struct la_arena *av)
{
    struct la_arena_priv *ts = la_priv(av);
    /* nothing trimmed and no reserve: mark is not needed (decay of 0 is 0) */
    if (!ts->trim_trimmed && !ts->trim_keep) return;
    if (ts->trim_trimmed) {
        size_t k = ts->trim_keep * 2;
        if (k < ts->trim_trimmed) k = ts->trim_trimmed;
        ts->trim_keep = k < LA_TRIM_KEEP_MAX ? k : LA_TRIM_KEEP_MAX;
        ts->trim_trimmed = 0;
    }
    ts->trim_mark = av->ops;
}

static void note_trim(struct la_arena *av, size_t released)
{
    struct la_arena_priv *ts = la_priv(av);
    ts->trim_trimmed += released;
    if (av->ops - ts->trim_mark > LA_TRIM_DECAY_OPS) {
        ts->trim_keep /= 2;
        ts->trim_mark = av->ops;
    }
}

void la_auto_trim(struct la_arena *av)
{
    struct la_tunables *t = &la_dbg.tunables;
    size_t keep = la_priv(av)->trim_keep;
    size_t before = av->system_mem;
    if (av == &la_main_arena) {
        if (ck_size(av->top) >= t->trim_threshold + keep) la_systrim(av, t->top_pad + keep);
    } else {
        la_heap_trim(av, keep);
    }
    if (av->system_mem < before) note_trim(av, before - av->system_mem);
}

static size_t grow_heap(struct la_segment *h, size_t need, size_t pad);

static int grow_main(struct la_arena *av, size_t nb)
{
    note_grow(av);
    struct la_tunables *t = &la_dbg.tunables;
    size_t ps = la_g.pagesize;
    struct la_segment *seg = av->segments;
    size_t topsize = av->top ? ck_size(av->top) : 0;
    if (nb > PTRDIFF_MAX / 2) return 0;

    if (seg && seg->kind == LA_SEG_SBRK && !(av->flags & LA_ARENA_NONCONTIG)) {
        uintptr_t end = (uintptr_t)seg + seg->size;
        if ((uintptr_t)la_os_sbrk(0) == end) {
            size_t want = nb + t->top_pad + LA_MINSIZE;
            want = want > topsize ? want - topsize : 0;
            want = la_align_up(want, ps);
            void *r = la_os_sbrk((intptr_t)want);
            if (r == (void *)-1 && want > la_align_up(nb + LA_MINSIZE - topsize, ps)) {
                want = la_align_up(nb + LA_MINSIZE - topsize, ps);
                r = la_os_sbrk((intptr_t)want);
            }
            if (r != (void *)-1) {
                if ((uintptr_t)r == end) {
                    seg->size += want;
                    seg->reserved += want;
                    av->top->size += want;
                    account(av, want);
                    la_win_update(av);
                    return 1;
                }
                /* the break moved between our two calls: a new segment there */
                main_new_segment(av, (uintptr_t)r, want, LA_SEG_SBRK);
                return ck_size(av->top) >= nb + LA_MINSIZE;
            }
        }
    }
    /* A new segment: at the break if brk works, else mmap'd. */
    size_t want = la_align_up(nb + t->top_pad + LA_MINSIZE + sizeof(struct la_segment) + 2 * LA_ALIGNMENT, ps);
    void *r = (void *)-1;
    if (!(av->flags & LA_ARENA_NONCONTIG) && !t->no_brk) {
        r = la_os_sbrk((intptr_t)want);
        if (r != (void *)-1 && (((uintptr_t)r + want) & LA_ALIGN_MASK)) {
            /* a foreign sbrk left the break unaligned: round our end up */
            size_t fix = LA_ALIGNMENT - (((uintptr_t)r + want) & LA_ALIGN_MASK);
            if (la_os_sbrk((intptr_t)fix) != (void *)-1) want += fix;
        }
    }
    if (r != (void *)-1) {
        main_new_segment(av, (uintptr_t)r, want, LA_SEG_SBRK);
        return 1;
    }
    /* Without brk the main arena lives in mmap'd segments.  First choice: a
     * LA_HEAP_MAX-aligned heap, as the non-main arenas use (reserved
     * PROT_NONE, made read/write as it grows, so one segment serves up to
     * 64 MiB), marked in la_heapmap and la_wintab: the ownership checks then
     * find any chunk of it in O(1), as for a non-main heap (la_heap_owner,
     * la_chunk_in_arena_slow), however many segments the arena has.  The
     * segment keeps kind LA_SEG_MMAP and its chunks keep NON_MAIN_ARENA clear. */
    av->flags |= LA_ARENA_NONCONTIG;
    if (seg && seg->kind == LA_SEG_MMAP && la_heap_at((uintptr_t)seg) == seg && av->top &&
        la_heap_of((uintptr_t)av->top) == (uintptr_t)seg) {
        size_t need = nb + LA_MINSIZE > topsize ? nb + LA_MINSIZE - topsize : 0;
        size_t added = grow_heap(seg, need, t->top_pad);
        if (added) {
            av->top->size += added;
            seg->reserved = LA_HEAP_MAX;
            account(av, added);
            la_win_update(av);
            return 1;
        }
    }
    struct la_segment *h = la_new_heap(nb + LA_MINSIZE + sizeof *h + LA_ALIGNMENT, t->top_pad);
    if (h) {
        size_t hsize = h->size;
        main_new_segment(av, (uintptr_t)h, hsize, LA_SEG_MMAP);
        h->mprotect_size = hsize;
        h->reserved = LA_HEAP_MAX;
        return 1;
    }
    /* Else (a request beyond LA_HEAP_MAX, or no aligned reservation): plain
     * mappings, each twice the previous one (1 MiB up to 64 MiB; untouched
     * pages cost no memory), found by the sorted segment index. */
    static size_t next_mm = (size_t)1 << 20;
    size_t mm = want < next_mm ? next_mm : want;
    if (la_os_mmap(mm, PROT_READ | PROT_WRITE, 0, &r)) {
        mm = want < ((size_t)1 << 20) ? ((size_t)1 << 20) : want;
        if (la_os_mmap(mm, PROT_READ | PROT_WRITE, 0, &r)) return 0;
    } else if (next_mm < ((size_t)64 << 20)) {
        next_mm *= 2;
    }
    av->flags |= LA_ARENA_NONCONTIG;
    main_new_segment(av, (uintptr_t)r, mm, LA_SEG_MMAP);
    return 1;
}

/* ---- the heap zone (internal.h la_zone) ---------------------------------------------------- */

/* Reserved on the first heap: heap_zone slots of LA_HEAP_MAX bytes (4 GiB for
 * 64), read/write with MAP_NORESERVE (untouched pages cost neither memory nor
 * commit charge), LA_HEAP_MAX-aligned, MADV_DONTDUMP.  A heap takes a free
 * slot (zone_used, one bit per slot, claimed with a compare-and-swap: heaps
 * are made under different arenas' locks) and marks the part it uses
 * MADV_DODUMP as it grows (where a heap outside the zone calls mprotect); a
 * dropped heap's slot is emptied with MADV_DONTNEED, marked MADV_DONTDUMP
 * again, and freed.  No zone when the kernel charges MAP_NORESERVE mappings
 * (overcommit_memory 2: the whole zone would count against the commit limit,
 * where PROT_NONE reservations do not), when heap_zone is 0 or when the
 * mapping fails (RLIMIT_AS); heaps are then reserved one by one, as before,
 * and a full zone sends further heaps there too. */
/* len bytes (a multiple of LA_HEAP_MAX) mapped with prot at an LA_HEAP_MAX
 * alignment, MAP_NORESERVE: len + LA_HEAP_MAX mapped, the ends cut off; 0
 * when the mapping fails.  The zone and each heap outside it. */
static uintptr_t map_heap_aligned(size_t len, int prot)
{
    void *m;
    if (la_os_mmap(len + LA_HEAP_MAX, prot, MAP_NORESERVE, &m)) return 0;
    uintptr_t a = la_align_up((uintptr_t)m, LA_HEAP_MAX), end = (uintptr_t)m + len + LA_HEAP_MAX;
    if (a > (uintptr_t)m) la_os_munmap(m, a - (uintptr_t)m);
    if (end > a + len) la_os_munmap((void *)(a + len), end - (a + len));
    return a;
}

struct la_zone_win la_zone;
static uint64_t zone_used[LA_ZONE_MAX_SLOTS / 64];
static uint32_t zone_slots;
static int32_t zone_lock;
static int zone_tried;

static void zone_init(void)
{
    la_lock(&zone_lock);
    if (!zone_tried) {
        /* (a thread that sees this before the zone is made takes no slot
         * this once: its heap is reserved on its own) */
        __atomic_store_n(&zone_tried, 1, __ATOMIC_RELEASE);
        uint32_t n = la_dbg.tunables.heap_zone;
        uintptr_t a;
        if (n > LA_ZONE_MAX_SLOTS) n = LA_ZONE_MAX_SLOTS;
        if (n && la_os_overcommit() != 2 && (a = map_heap_aligned((size_t)n * LA_HEAP_MAX, PROT_READ | PROT_WRITE))) {
            uintptr_t hi = a + (size_t)n * LA_HEAP_MAX;
            la_os_madvise((void *)a, hi - a, MADV_DONTDUMP);
            zone_slots = n;
            /* the window: the first aligned user pointer of the zone up to
             * LA_WIN_TAIL before its end (la_win_in's form) */
            la_zone.lo16 = (a + LA_ALIGNMENT) >> 4;
            la_zone.span = (hi - LA_WIN_TAIL - (a + LA_ALIGNMENT)) >> 4;
            la_zone.hi = hi;
            __atomic_store_n(&la_zone.lo, a, __ATOMIC_RELEASE);
        }
    }
    la_unlock(&zone_lock);
}

/* a free slot of the zone, claimed; 0 when there is no zone or it is full */
static uintptr_t zone_claim(void)
{
    if (!__atomic_load_n(&zone_tried, __ATOMIC_ACQUIRE)) zone_init();
    uintptr_t base = __atomic_load_n(&la_zone.lo, __ATOMIC_ACQUIRE);
    if (!base) return 0;
    for (uint32_t w = 0; w * 64 < zone_slots; w++) {
        uint64_t cur = __atomic_load_n(&zone_used[w], __ATOMIC_RELAXED);
        uint64_t valid = zone_slots - w * 64 >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (zone_slots - w * 64)) - 1;
        while ((cur & valid) != valid) {
            unsigned b = (unsigned)__builtin_ctzll(~cur & valid);
            if (__atomic_compare_exchange_n(&zone_used[w], &cur, cur | ((uint64_t)1 << b), 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                return base + ((size_t)w * 64 + b) * LA_HEAP_MAX;
        }
    }
    return 0;
}

/* heap h, in the zone, is dropped: its pages go back and its slot is free */
static void zone_release(struct la_segment *h)
{
    size_t used = h->mprotect_size;
    la_os_madvise(h, used, MADV_DONTNEED);
    la_os_madvise(h, used, MADV_DONTDUMP);
    size_t slot = ((uintptr_t)h - la_zone.lo) / LA_HEAP_MAX;
    __atomic_fetch_and(&zone_used[slot / 64], ~((uint64_t)1 << (slot % 64)), __ATOMIC_RELEASE);
}

/* ---- non-main heaps ------------------------------------------------------------------------- */

struct la_segment *la_new_heap(size_t size, size_t top_pad)
{
    size_t ps = la_g.pagesize;
    if (size + top_pad < LA_HEAP_MIN) size = LA_HEAP_MIN;
    else if (size + top_pad <= LA_HEAP_MAX) size += top_pad;
    else if (size > LA_HEAP_MAX) return NULL;
    else size = LA_HEAP_MAX;            /* as much of the pad as the heap holds */
    size = la_align_up(size, ps);
    uintptr_t a = zone_claim();
    if (a) {
        la_os_madvise((void *)a, size, MADV_DODUMP);    /* (read/write already) */
    } else {
        if (!(a = map_heap_aligned(LA_HEAP_MAX, PROT_NONE))) return NULL;
        if (la_os_mprotect((void *)a, size, PROT_READ | PROT_WRITE)) {
            la_os_munmap((void *)a, LA_HEAP_MAX);
            return NULL;
        }
    }
    struct la_segment *h = (struct la_segment *)a;
    h->arena = NULL;
    h->prev = NULL;
    h->size = size;
    h->mprotect_size = size;
    h->reserved = LA_HEAP_MAX;
    h->chunks = la_align_up(a + sizeof *h, LA_ALIGNMENT);
    h->kind = LA_SEG_HEAP;
    h->pad = 0;
    h->spare = 0;
    la_heapmap_set(a, 1);
    return h;
}

/* Grow heap h by at least diff bytes; returns the bytes added (0 on failure). */
static size_t grow_heap_by(struct la_segment *h, size_t diff)
{
    size_t ps = la_g.pagesize;
    if (diff > LA_HEAP_MAX) return 0;
    size_t ns = la_align_up(h->size + diff, ps);
    if (ns > LA_HEAP_MAX) return 0;
    if (ns > h->mprotect_size) {
        /* in the zone the pages are read/write already: they only join the
         * core dump (a failure there costs nothing but that) */
        if (la_in_zone((uintptr_t)h))
            la_os_madvise((char *)h + h->mprotect_size, ns - h->mprotect_size, MADV_DODUMP);
        else if (la_os_mprotect((char *)h + h->mprotect_size, ns - h->mprotect_size, PROT_READ | PROT_WRITE))
            return 0;
        h->mprotect_size = ns;
    }
    size_t added = ns - h->size;
    h->size = ns;
    return added;
}

/* Grow heap h by need bytes plus as much of pad as the heap still holds (or,
 * if that fails, by need alone); returns the bytes added (0 on failure).
 * Without the pad, top would end at the heap's end after every growth: the
 * last LA_WIN_TAIL bytes lie outside the ownership window, so the chunks
 * split from top there would take the slow paths (seen under valgrind with
 * top_pad=64m, which no heap holds). */
static size_t grow_heap(struct la_segment *h, size_t need, size_t pad)
{
    if (h->size > LA_HEAP_MAX || need > LA_HEAP_MAX - h->size) return 0;
    size_t room = LA_HEAP_MAX - h->size - need;
    size_t added = grow_heap_by(h, need + (pad < room ? pad : room));
    if (!added && pad) added = grow_heap_by(h, need);
    return added;
}

static int grow_nonmain(struct la_arena *av, size_t nb)
{
    struct la_tunables *t = &la_dbg.tunables;
    la_chunk *top = av->top;
    struct la_segment *h = (struct la_segment *)la_heap_of((uintptr_t)top);
    size_t topsize = ck_size(top);
    size_t need = nb + LA_MINSIZE - topsize;
    note_grow(av);
    size_t added = grow_heap(h, need, t->top_pad);
    if (added) {
        top->size = (topsize + added) | LA_PREV_INUSE;
        account(av, added);
        la_win_update(av);
        return 1;
    }
    struct la_segment *nh = la_new_heap(nb + LA_MINSIZE + sizeof *nh + LA_ALIGNMENT, t->top_pad);
    if (!nh) return 0;
    nh->arena = av;
    nh->prev = h;
    la_chunk *nt = (la_chunk *)nh->chunks;
    nt->prev_size = 0;
    nt->size = ((uintptr_t)nh + nh->size - nh->chunks) | LA_PREV_INUSE;
    av->segments = nh;
    av->top = nt;
    account(av, nh->size);
    la_win_update(av);
    close_top(av, h, top);
    return 1;
}

void *la_sysmalloc(struct la_arena *av, size_t nb)
{
    struct la_tunables *t = &la_dbg.tunables;
    int tried = 0;
    if (nb >= t->mmap_threshold && la_dbg.mstats.n_mmaps < t->mmap_max) {
        tried = 1;
        void *m = la_mmap_chunk(nb);
        if (m) {
            LA_NOTE(LA_PATH_MMAP, 0, 0, mem2ck(m), ck_size(mem2ck(m)), ck_size(mem2ck(m)));
            return m;
        }
    }
    uint64_t sys0 = av->system_mem;
    int ok = av == &la_main_arena ? grow_main(av, nb) : grow_nonmain(av, nb);
    if (ok) {
        la_chunk *top = av->top;
        size_t size = ck_size(top);
        if (size >= nb + LA_MINSIZE) {
            la_chunk *rem = ck_at(top, nb);
            av->top = rem;
            top->size = nb | LA_PREV_INUSE | la_arena_bit(av);
            rem->size = (size - nb) | LA_PREV_INUSE;
            la_fault_ahead(av, nb, nb, rem, size - nb);
            LA_NOTE(LA_PATH_TOP_EXTENDED, 0, 0, top, nb, av->system_mem - sys0);
            return ck2mem(top);
        }
    }
    if (!tried && la_dbg.mstats.n_mmaps < t->mmap_max) {
        void *m = la_mmap_chunk(nb);
        if (m) LA_NOTE(LA_PATH_MMAP, 0, 0, mem2ck(m), ck_size(mem2ck(m)), ck_size(mem2ck(m)));
        return m;
    }
    return NULL;
}

LA_TLS struct la_segment *la_t_unmap;

void la_unmap_pending(void)
{
    while (la_t_unmap) {
        struct la_segment *h = la_t_unmap;
        la_t_unmap = h->prev;
        wintab_set(h, 0, 0);
        la_registry_lock();
        la_tc_dm_clear_all();          /* no copy of its window survives the munmap */
        la_registry_unlock();
        la_heapmap_set((uintptr_t)h, 0);
        if (la_in_zone((uintptr_t)h)) zone_release(h);
        else la_os_munmap(h, LA_HEAP_MAX);
    }
}

/* ---- giving memory back ------------------------------------------------------------------------ */

/* Give back the pages at the end of heap h beyond pad bytes of top (MADV_DONTNEED;
 * they stay read/write for the next growth).  1 when something was released. */
static int shrink_heap_top(struct la_arena *av, struct la_segment *h, size_t pad)
{
    size_t ps = la_g.pagesize;
    la_chunk *top = av->top;
    size_t topsize = ck_size(top);
    if (topsize <= pad + LA_MINSIZE + 1) return 0;
    size_t extra = (topsize - LA_MINSIZE - 1 - pad) & ~(ps - 1);
    if (extra == 0) return 0;
    uintptr_t nend = (uintptr_t)h + h->size - extra;
    if (nend < (uintptr_t)top + LA_MINSIZE) return 0;
    if (la_os_madvise((void *)nend, extra, MADV_DONTNEED)) return 0;
    h->size -= extra;
    la_win_update(av);
    top->size = (topsize - extra) | LA_PREV_INUSE;
    av->system_mem -= extra;
    return 1;
}

int la_systrim(struct la_arena *av, size_t pad)
{
    la_chunk *top = av->top;
    struct la_segment *seg = av->segments;
    if (!top || !seg) return 0;
    if (seg->kind != LA_SEG_SBRK) {
        /* without brk the main arena grows a 64 MiB heap in place: shrink it the
         * same way (an older, wholly free heap is not dropped: left alone) */
        if (seg->kind == LA_SEG_MMAP && la_heap_at((uintptr_t)seg) == seg &&
            la_heap_of((uintptr_t)top) == (uintptr_t)seg)
            return shrink_heap_top(av, seg, pad);
        return 0;
    }
    size_t ps = la_g.pagesize;
    size_t topsize = ck_size(top);
    if (topsize <= pad + LA_MINSIZE + 1) return 0;
    size_t extra = (topsize - LA_MINSIZE - 1 - pad) & ~(ps - 1);
    if (extra == 0) return 0;
    uintptr_t end = (uintptr_t)seg + seg->size;
    if ((uintptr_t)la_os_sbrk(0) != end) return 0;
    la_os_sbrk(-(intptr_t)extra);
    uintptr_t nend = (uintptr_t)la_os_sbrk(0);
    if (nend >= end || nend < (uintptr_t)top + LA_MINSIZE) return 0;
    size_t released = end - nend;
    seg->size -= released;
    la_win_update(av);
    seg->reserved -= released;
    top->size = (topsize - released) | LA_PREV_INUSE;
    av->system_mem -= released;
    return 1;
}

void la_heap_trim(struct la_arena *av, size_t keep)
{
    struct la_tunables *t = &la_dbg.tunables;
    size_t ps = la_g.pagesize;
    la_chunk *top = av->top;
    struct la_segment *h = (struct la_segment *)la_heap_of((uintptr_t)top);

    /* Drop heaps that hold nothing but top, back to the previous heap. */
    while ((uintptr_t)top == h->chunks && h->prev) {
        struct la_segment *ph = h->prev;
        uintptr_t pend = (uintptr_t)ph + ph->size;
        la_chunk *nt = (la_chunk *)(uintptr_t)ph->spare;
        if (!nt) break;
        size_t ns = pend - (uintptr_t)nt;
        if (!(nt->size & LA_PREV_INUSE)) {
            la_chunk *prev = ck_prev(nt);
            ns += ck_size(prev);
            if (ns + (LA_HEAP_MAX - ph->size) < t->top_pad + LA_MINSIZE + ps) break;
            la_unlink(av, prev);
            nt = prev;
        } else if (ns + (LA_HEAP_MAX - ph->size) < t->top_pad + LA_MINSIZE + ps) {
            break;
        }
        av->system_mem -= h->size;
        nt->size = ns | LA_PREV_INUSE;
        av->top = nt;
        av->segments = ph;
        ph->spare = 0;
        h->prev = la_t_unmap;          /* unmapped after the arena lock is released */
        la_t_unmap = h;
        h = ph;
        top = nt;
        la_win_update(av);
    }

    if (ck_size(top) < t->trim_threshold + keep) return;
    shrink_heap_top(av, h, t->top_pad + keep);
}
