/*
 * heapview/walk.c - the validating walk over a copied heap image.
 *
 * Input: the image (target bytes copied by snapshot.c) and the plan (which
 * arenas, segments, tcaches and mmapped chunks were copied).  Output: the
 * snapshot's arrays.  Order of work:
 *   1. arenas and segments (segments oldest first);
 *   2. the chunk walk of each segment, header to header, from `chunks` to the
 *      segment end; a size that is too small, misaligned or runs past the end
 *      stops that segment (problem), and the walk resumes at the next segment;
 *      the arena's top chunk ends its newest segment;
 *   3. free-by-boundary-tag state: a chunk whose successor has PREV_INUSE clear
 *      is free, and the successor's prev_size must equal its size;
 *   4. every list (fastbins, unsorted/small/large bins, each thread's tcache
 *      bins) walked from its head with a step bound; each entry must be aligned,
 *      land exactly on a chunk of the right arena and size; doubly linked lists
 *      check bk == previous; a chunk met twice in one list is a cycle, a chunk
 *      in two lists is reported as such;
 *   5. free chunks by tags found in no bin, tcache counts vs chains, the mmap
 *      registry, totals (mallinfo2 vocabulary).
 * Nothing here reads the target: only hv_img_get(), which returns NULL for any
 * range that was not copied.  So every pointer is checked before use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_impl.h"

struct w {
    struct hv_snapshot *s;
    const struct hv_image *img;
    const struct hv_plan *plan;
    const struct hv_snapshot_opts *opts;
    size_t cap_chunks, cap_binents;
    uint32_t *seg_order;        /* segment indices sorted by address */
    uint32_t *mark;             /* per chunk: id of the list that last visited it */
    uint32_t *hash;             /* chunk address -> index + 1 (open addressing) */
    size_t hmask;
    const struct hv_img_range *cache;   /* last range rd64 read from */
    uint32_t list_id;
    int oom;
};

static struct hv_chunk *add_chunk(struct w *w)
{
    struct hv_snapshot *s = w->s;
    if (s->nchunks == w->cap_chunks) {
        size_t cap = w->cap_chunks ? 2 * w->cap_chunks : 1024;
        struct hv_chunk *p = realloc(s->chunks, cap * sizeof *p);
        if (!p) {
            w->oom = 1;
            return NULL;
        }
        s->chunks = p;
        w->cap_chunks = cap;
    }
    struct hv_chunk *c = &s->chunks[s->nchunks++];
    memset(c, 0, sizeof *c);
    c->tcache = HV_NONE;
    return c;
}

/* A chunk of segment g of arena ar, as its header reads (field = size word). */
static struct hv_chunk *seg_chunk(struct w *w, const struct hv_arena *ar, const struct hv_segment *g, uint64_t p,
                                  uint64_t sz, uint64_t prev_size, uint64_t field, int state)
{
    struct hv_chunk *c = add_chunk(w);
    if (!c)
        return NULL;
    c->addr = p;
    c->size = sz;
    c->prev_size = prev_size;
    c->size_flags = (uint8_t)(field & LA_SIZE_FLAGS);
    c->state = (uint8_t)state;
    c->arena = (uint32_t)(ar - w->s->arenas);
    c->segment = (uint32_t)(g - w->s->segments);
    return c;
}

static int add_binent(struct w *w, uint64_t addr, uint32_t chunk)
{
    struct hv_snapshot *s = w->s;
    if (s->nbinents == w->cap_binents) {
        size_t cap = w->cap_binents ? 2 * w->cap_binents : 256;
        struct hv_binent *p = realloc(s->binents, cap * sizeof *p);
        if (!p) {
            w->oom = 1;
            return -1;
        }
        s->binents = p;
        w->cap_binents = cap;
    }
    struct hv_binent *e = &s->binents[s->nbinents++];
    e->addr = addr;
    e->chunk = chunk;
    e->pad = 0;
    return 0;
}

static uint64_t rd64(struct w *w, uint64_t addr, int *ok)
{
    uint64_t v = 0;
    const struct hv_img_range *r = w->cache;
    if (!r || addr < r->addr || addr - r->addr > r->len - 8 || r->len < 8) {
        r = hv_img_range_of(w->img, addr);
        if (!r || r->len < 8 || addr - r->addr > r->len - 8) {
            if (hv_img_read64(w->img, addr, &v) < 0)   /* straddles two ranges, or absent */
                *ok = 0;
            return v;
        }
        w->cache = r;
    }
    memcpy(&v, r->data + (addr - r->addr), 8);
    return v;
}

static size_t hslot(uint64_t addr, size_t mask)
{
    return (size_t)(((addr >> 4) * 0x9e3779b97f4a7c15ull) >> 20) & mask;
}

static int build_hash(struct w *w)
{
    size_t cap = 1024;
    while (cap < 2 * w->s->nchunks)
        cap *= 2;
    w->hash = calloc(cap, sizeof *w->hash);
    if (!w->hash)
        return -1;
    w->hmask = cap - 1;
    for (size_t i = 0; i < w->s->nchunks; i++) {
        size_t h = hslot(w->s->chunks[i].addr, w->hmask);
        while (w->hash[h])
            h = (h + 1) & w->hmask;
        w->hash[h] = (uint32_t)i + 1;
    }
    return 0;
}

/* Index of the chunk starting exactly at addr, HV_NONE if none; *inside is set to
 * the index of a chunk that contains addr without starting there. */
static uint32_t chunk_at(struct w *w, uint64_t addr, uint32_t *inside)
{
    struct hv_snapshot *s = w->s;
    *inside = HV_NONE;
    if (w->hash) {
        for (size_t h = hslot(addr, w->hmask); w->hash[h]; h = (h + 1) & w->hmask)
            if (s->chunks[w->hash[h] - 1].addr == addr)
                return w->hash[h] - 1;
    }
    size_t lo = 0, hi = s->nsegments;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segments[w->seg_order[mid]].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return HV_NONE;
    const struct hv_segment *g = &s->segments[w->seg_order[lo - 1]];
    if (addr >= g->end || g->nchunks == 0)
        return HV_NONE;
    const struct hv_chunk *a = s->chunks + g->first_chunk;
    lo = hv_chunks_upper(a, g->nchunks, addr);
    if (lo == 0)
        return HV_NONE;
    const struct hv_chunk *c = &a[lo - 1];
    if (c->addr == addr)
        return g->first_chunk + (uint32_t)(lo - 1);
    if (addr < c->addr + c->size)
        *inside = g->first_chunk + (uint32_t)(lo - 1);
    return HV_NONE;
}

/* ---- 1-3: segments and chunks --------------------------------------------------------- */

static int seg_cmp_ctx_cmp(const void *a, const void *b, void *ctx)
{
    const struct hv_segment *s = ctx;
    uint64_t x = s[*(const uint32_t *)a].addr, y = s[*(const uint32_t *)b].addr;
    return x < y ? -1 : x > y;
}

/* After a bad size at p: the first 16-byte aligned q in (p, end) from which the
 * headers chain validly for a few steps (or exactly to the top / segment end).
 * Bounded: looks at most 1 MiB ahead.  0 if none. */
static uint64_t resync(struct w *w, const struct hv_arena *ar, uint64_t p, uint64_t end, int newest)
{
    uint64_t limit = end - p > (1u << 20) ? p + (1u << 20) : end;
    for (uint64_t q = p + 16; q < limit; q += 16) {
        uint64_t r = q;
        int steps = 0, good = 0;
        while (steps < 8) {
            if (r == end || (newest && r == ar->top)) {
                good = steps > 0 || r == ar->top;
                break;
            }
            int ok = 1;
            uint64_t f = rd64(w, r + 8, &ok), z = la_chunksize(f);
            if (!ok || z < LA_MINSIZE || !la_aligned(z) || z > end - r)
                break;
            r += z;
            if (++steps == 8)
                good = 1;
        }
        if (good)
            return q;
    }
    return 0;
}

static void walk_segment(struct w *w, struct hv_arena *ar, struct hv_segment *g, int newest)
{
    struct hv_snapshot *s = w->s;
    g->first_chunk = (uint32_t)s->nchunks;
    uint64_t p = g->chunks, end = g->end;
    int saw_top = 0;
    size_t n = 0;
    while (p < end) {
        if (n >= w->opts->max_chunks) {
            hv_problem(s, p, "segment 0x%llx: more than %zu chunks (walk stopped)", (unsigned long long)g->addr,
                       w->opts->max_chunks);
            break;
        }
        int ok = 1;
        uint64_t prev_size = rd64(w, p, &ok), field = rd64(w, p + 8, &ok);
        if (!ok) {
            hv_problem(s, p, "chunk header at 0x%llx was not copied (segment shorter than it claims)",
                       (unsigned long long)p);
            break;
        }
        uint64_t sz = la_chunksize(field);
        if (p == ar->top && newest) {
            struct hv_chunk *c = seg_chunk(w, ar, g, p, sz, prev_size, field, HV_TOP);
            if (!c)
                return;
            n++;
            saw_top = 1;
            if (sz < LA_MINSIZE || p + sz != end || !la_aligned(sz))
                hv_problem(s, p, "malloc(): corrupted top size (top size 0x%llx, segment ends 0x%llx bytes on)",
                           (unsigned long long)sz, (unsigned long long)(end - p));
            p = end;
            break;
        }
        int fence = !newest && sz == LA_CHUNK_HDR;
        if (!fence && (sz < LA_MINSIZE || !la_aligned(sz) || sz > end - p)) {
            uint64_t q = resync(w, ar, p, end, newest);
            if (!q) {
                hv_problem(s, p, "free(): invalid size (size field 0x%llx at chunk 0x%llx; rest of the segment "
                           "skipped)", (unsigned long long)field, (unsigned long long)p);
                break;
            }
            hv_problem(s, p, "free(): invalid size (size field 0x%llx at chunk 0x%llx; walk resynchronised "
                       "at 0x%llx)", (unsigned long long)field, (unsigned long long)p, (unsigned long long)q);
            sz = q - p;            /* keep the damaged span visible as one chunk */
        }
        struct hv_chunk *c = seg_chunk(w, ar, g, p, sz, prev_size, field, HV_INUSE);
        if (!c)
            return;
        if (fence)
            c->flags |= HV_CF_FENCEPOST;
        if (p == ar->last_remainder)
            c->flags |= HV_CF_LAST_REM;
        if (!fence && la_is_mmapped(field))
            hv_problem(s, p, "chunk 0x%llx: IS_MMAPPED bit set on a heap chunk", (unsigned long long)p);
        n++;
        p += sz;
    }
    g->nchunks = (uint32_t)n;
    g->walk_complete = p == end;
    if (newest && !saw_top && g->walk_complete)
        hv_problem(s, ar->top, "arena %u: top chunk 0x%llx is not at the end of its newest segment", ar->index,
                   (unsigned long long)ar->top);
    /* free by boundary tags */
    if (n < 2)
        return;
    struct hv_chunk *a = s->chunks + g->first_chunk;
    for (size_t i = 0; i + 1 < n; i++) {
        if (a[i].state != HV_INUSE || (a[i].flags & HV_CF_FENCEPOST))
            continue;
        if (!(a[i + 1].size_flags & LA_PREV_INUSE)) {
            a[i].state = HV_FREE;
            if (a[i + 1].prev_size != a[i].size)
                hv_problem(s, a[i].addr, "corrupted size vs. prev_size (chunk 0x%llx size 0x%llx, next "
                           "chunk's prev_size 0x%llx)", (unsigned long long)a[i].addr,
                           (unsigned long long)a[i].size, (unsigned long long)a[i + 1].prev_size);
        }
    }
}

/* ---- 4: lists ------------------------------------------------------------------------- */

static void assign(struct w *w, uint32_t ci, unsigned kind, unsigned index, uint32_t tcache)
{
    struct hv_chunk *c = &w->s->chunks[ci];
    if (c->bin != HV_BIN_NONE) {
        c->flags |= HV_CF_MULTI_BIN;
        hv_problem(w->s, c->addr, "chunk 0x%llx is in two free lists (%s bin %u and %s bin %u): double free "
                   "or corruption", (unsigned long long)c->addr, hv_bin_name(c->bin), c->bin_index,
                   hv_bin_name(kind), index);
        return;
    }
    c->bin = (uint8_t)kind;
    c->bin_index = (uint16_t)index;
    c->tcache = tcache;
}

/* Common checks for one list entry at chunk address c.  Returns the chunk index,
 * or HV_NONE after recording why the walk must stop. */
static uint32_t entry(struct w *w, const char *list, uint64_t c, uint32_t count, struct hv_bin *b)
{
    struct hv_snapshot *s = w->s;
    if (count >= w->opts->max_list) {
        hv_problem(s, c, "%s: more than %zu entries (walk stopped)", list, w->opts->max_list);
        return HV_NONE;
    }
    uint32_t inside, ci = chunk_at(w, c, &inside);
    if (ci == HV_NONE) {
        if (inside != HV_NONE)
            hv_problem(s, c, "%s: pointer 0x%llx points into the middle of chunk 0x%llx", list,
                       (unsigned long long)c, (unsigned long long)s->chunks[inside].addr);
        else
            hv_problem(s, c, "%s: pointer 0x%llx outside the heap", list, (unsigned long long)c);
        return HV_NONE;
    }
    if (w->mark[ci] == w->list_id) {
        hv_problem(s, c, "%s: cycle (chunk 0x%llx met again after %u entries)", list, (unsigned long long)c,
                   count);
        return HV_NONE;
    }
    w->mark[ci] = w->list_id;
    (void)b;
    return ci;
}

static void finish_bin(struct w *w, struct hv_bin *b, uint32_t first, int truncated)
{
    b->first = first;
    b->count = (uint32_t)(w->s->nbinents - first);
    if (b->kind != HV_BIN_TCACHE)
        b->declared = b->count;
    b->truncated = (uint8_t)truncated;
    b->bytes = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        uint32_t ci = w->s->binents[first + i].chunk;
        if (ci != HV_NONE)
            b->bytes += w->s->chunks[ci].size;
    }
}

/* A list of chunks linked through fd and safe-linked (a fastbin, the remote-free
 * list), from head, into bin b (its kind, index and size range already set):
 * each member must be aligned (else unaligned_fmt, with the list's name and
 * the address), a chunk of arena ar, of a size in [size_lo, size_hi] (else
 * size_fmt: list, chunk, size) and, when want_inuse, in use by its boundary
 * tags.  The walk stops at a bad pointer, a cycle or the list bound. */
static void walk_fd_list(struct w *w, struct hv_arena *ar, struct hv_bin *b, const char *list, uint64_t c,
                         const char *unaligned_fmt, const char *size_fmt, int want_inuse)
{
    struct hv_snapshot *s = w->s;
    uint32_t first = (uint32_t)s->nbinents, n = 0;
    int trunc = 0;
    w->list_id++;
    while (c) {
        if (!la_aligned(c)) {
            hv_problem(s, c, unaligned_fmt, list, (unsigned long long)c);
            trunc = 1;
            break;
        }
        uint32_t ci = entry(w, list, c, n, b);
        if (ci == HV_NONE) {
            trunc = 1;
            break;
        }
        struct hv_chunk *ch = &s->chunks[ci];
        if (ch->size < b->size_lo || ch->size > b->size_hi)
            hv_problem(s, c, size_fmt, list, (unsigned long long)c, (unsigned long long)ch->size);
        if (ch->arena != (uint32_t)(ar - s->arenas))
            hv_problem(s, c, "%s holds chunk 0x%llx of another arena", list, (unsigned long long)c);
        if (want_inuse && ch->state != HV_INUSE)
            hv_problem(s, c, "double free or corruption (!prev) (%s holds chunk 0x%llx, which its next chunk "
                       "says is free)", list, (unsigned long long)c);
        assign(w, ci, b->kind, b->index, HV_NONE);
        if (add_binent(w, c, ci) < 0)
            return;
        n++;
        int ok = 1;
        uint64_t stored = rd64(w, c + 16, &ok);
        if (!ok) {
            trunc = 1;
            break;
        }
        c = la_reveal_ptr(c + 16, stored);
    }
    finish_bin(w, b, first, trunc);
}

static void walk_fastbin(struct w *w, struct hv_arena *ar, const struct la_arena *la, unsigned i)
{
    struct hv_bin *b = &ar->fastbins[i];
    char list[64];
    snprintf(list, sizeof list, "arena %u fastbin %u", ar->index, i);
    b->kind = HV_BIN_FAST;
    b->index = (uint16_t)i;
    b->size_lo = b->size_hi = la_fastbin_size(i);
    walk_fd_list(w, ar, b, list, (uint64_t)(uintptr_t)la->fastbins[i],
                 "malloc(): unaligned fastbin chunk detected (%s: 0x%llx)",
                 "malloc(): memory corruption (fast) (%s holds chunk 0x%llx of size 0x%llx)", 0);
}

/* The arena's remote-free list (ABI 3): chunks of this arena that threads of
 * other arenas freed, pushed without the lock, linked through fd and
 * safe-linked like a fastbin, waiting for the arena's next locked operation.
 * Each is in use by the boundary tags (the next chunk's PREV_INUSE is set),
 * belongs to this arena, and is no bigger than a tcache chunk.  The walk is
 * bounded (opts->max_list) and stops at a cycle or a pointer outside the heap. */
static void walk_remote(struct w *w, struct hv_arena *ar, const struct la_arena *la)
{
    struct hv_bin *b = &ar->remote;
    char list[64];
    snprintf(list, sizeof list, "arena %u remote-free list", ar->index);
    b->kind = HV_BIN_REMOTE;
    b->index = 0;
    b->size_lo = LA_MINSIZE;
    b->size_hi = la_tcache_chunk_size(LA_TCACHE_BINS - 1);
    walk_fd_list(w, ar, b, list, (uint64_t)(uintptr_t)la->remote,
                 "malloc(): remote-free chunk outside the heap detected (%s: unaligned 0x%llx)",
                 "%s holds chunk 0x%llx of size 0x%llx (larger than any tcache chunk)", 1);
}

/* Large bins: the first chunk of each run of equal sizes (a "head") is on a
 * circular list through fd_nextsize/bk_nextsize, in the same order as the bin. */
static void check_nextsize(struct w *w, const char *list, uint32_t first, uint32_t n)
{
    struct hv_snapshot *s = w->s;
    const struct hv_binent *e = s->binents + first;
    uint32_t nheads = 0, firsthead = 0, prevhead = 0, lasthead = 0;
    for (uint32_t i = 0; i < n; i++)
        if (i == 0 || s->chunks[e[i].chunk].size != s->chunks[e[i - 1].chunk].size) {
            if (nheads++ == 0)
                firsthead = i;
            lasthead = i;
        }
    for (uint32_t i = 0, k = 0; i < n; i++) {
        if (!(i == 0 || s->chunks[e[i].chunk].size != s->chunks[e[i - 1].chunk].size))
            continue;
        uint32_t next = n, prev = k == 0 ? lasthead : prevhead;
        for (uint32_t j = i + 1; j < n; j++)
            if (s->chunks[e[j].chunk].size != s->chunks[e[j - 1].chunk].size) {
                next = j;
                break;
            }
        if (next == n)
            next = firsthead;
        int ok = 1;
        uint64_t fdn = rd64(w, e[i].addr + 32, &ok), bkn = rd64(w, e[i].addr + 40, &ok);
        if (ok && (fdn != e[next].addr || bkn != e[prev].addr)) {
            hv_problem(s, e[i].addr, "malloc(): largebin double linked list corrupted (nextsize) (%s: chunk 0x%llx "
                       "has fd_nextsize 0x%llx bk_nextsize 0x%llx, expected 0x%llx and 0x%llx)", list,
                       (unsigned long long)e[i].addr, (unsigned long long)fdn, (unsigned long long)bkn,
                       (unsigned long long)e[next].addr, (unsigned long long)e[prev].addr);
            return;             /* one report per bin */
        }
        prevhead = i;
        k++;
    }
}

static void walk_bin(struct w *w, struct hv_arena *ar, const struct la_arena *la, unsigned i)
{
    struct hv_snapshot *s = w->s;
    struct hv_bin *b = &ar->bins[i];
    unsigned kind = i == LA_BIN_UNSORTED ? HV_BIN_UNSORTED : i < LA_NSMALLBINS ? HV_BIN_SMALL : HV_BIN_LARGE;
    const char *kname = kind == HV_BIN_UNSORTED ? "unsorted" : kind == HV_BIN_SMALL ? "small" : "large";
    char list[64];
    snprintf(list, sizeof list, "arena %u %s bin %u", ar->index, kname, i);
    b->kind = (uint8_t)kind;
    b->index = (uint16_t)i;
    size_t lo, hi;
    la_bin_range(i, &lo, &hi);
    b->size_lo = lo;
    b->size_hi = hi;
    uint32_t first = (uint32_t)s->nbinents, n = 0;
    int trunc = 0;
    w->list_id++;
    uint64_t hdr = la_bin_at(ar->addr, i);
    uint64_t fd = (uint64_t)(uintptr_t)la->bins[2 * (i - 1)], bk = (uint64_t)(uintptr_t)la->bins[2 * (i - 1) + 1];
    const char *dll = kind == HV_BIN_UNSORTED ? "malloc(): unsorted double linked list corrupted"
                      : kind == HV_BIN_SMALL  ? "malloc(): smallbin double linked list corrupted"
                                              : "malloc(): largebin double linked list corrupted (bk)";
    uint64_t prev = hdr, c = fd, last_size = UINT64_MAX;
    int bitset = (ar->binmap[la_binmap_word(i)] & la_binmap_bit(i)) != 0;
    while (c != hdr) {
        if (c == 0 || !la_aligned(c)) {
            hv_problem(s, prev, "%s (%s: bad forward pointer 0x%llx)", dll, list, (unsigned long long)c);
            trunc = 1;
            break;
        }
        uint32_t ci = entry(w, list, c, n, b);
        if (ci == HV_NONE) {
            trunc = 1;
            break;
        }
        struct hv_chunk *ch = &s->chunks[ci];
        int ok = 1;
        uint64_t cfd = rd64(w, c + 16, &ok), cbk = rd64(w, c + 24, &ok);
        if (!ok) {
            trunc = 1;
            break;
        }
        if (cbk != prev)
            hv_problem(s, c, "%s (%s: chunk 0x%llx has bk 0x%llx, expected 0x%llx)", dll, list,
                       (unsigned long long)c, (unsigned long long)cbk, (unsigned long long)prev);
        if (kind == HV_BIN_UNSORTED) {
            if (ch->size < LA_MINSIZE)
                hv_problem(s, c, "malloc(): invalid size (unsorted) (chunk 0x%llx)", (unsigned long long)c);
        } else if (ch->size < lo || ch->size > hi) {
            hv_problem(s, c, "%s holds chunk 0x%llx of size 0x%llx (bin range 0x%zx..0x%zx)", list,
                       (unsigned long long)c, (unsigned long long)ch->size, lo, hi);
        }
        if (kind == HV_BIN_LARGE) {
            if (ch->size > last_size)
                hv_problem(s, c, "%s is not sorted by size (chunk 0x%llx of size 0x%llx after 0x%llx)", list,
                           (unsigned long long)c, (unsigned long long)ch->size, (unsigned long long)last_size);
            last_size = ch->size;
        }
        if (ch->state != HV_FREE)
            hv_problem(s, c, "%s holds chunk 0x%llx that the next chunk's PREV_INUSE bit marks in use", list,
                       (unsigned long long)c);
        if (ch->arena != (uint32_t)(ar - s->arenas))
            hv_problem(s, c, "%s holds chunk 0x%llx of another arena", list, (unsigned long long)c);
        assign(w, ci, kind, i, HV_NONE);
        if (add_binent(w, c, ci) < 0)
            return;
        n++;
        prev = c;
        c = cfd;
    }
    if (!trunc && bk != prev)
        hv_problem(s, hdr, "corrupted double-linked list (%s: header bk 0x%llx, last chunk 0x%llx)", list,
                   (unsigned long long)bk, (unsigned long long)prev);
    if (!trunc && kind == HV_BIN_LARGE && n > 0)
        check_nextsize(w, list, first, n);
    if (n > 0 && !bitset && i != LA_BIN_UNSORTED)   /* the unsorted bin has no binmap bit */
        hv_problem(s, hdr, "%s is not empty but its binmap bit is clear", list);
    finish_bin(w, b, first, trunc);
}

static void walk_tcache(struct w *w, struct hv_tcache *t, const struct la_tcache *lt, uint32_t ti)
{
    struct hv_snapshot *s = w->s;
    for (unsigned i = 0; i < LA_TCACHE_BINS; i++) {
        struct hv_bin *b = &t->bins[i];
        char list[64];
        snprintf(list, sizeof list, "tcache bin %u of thread %llu", i, (unsigned long long)t->tid);
        b->kind = HV_BIN_TCACHE;
        b->index = (uint16_t)i;
        b->size_lo = b->size_hi = la_tcache_chunk_size(i);
        b->declared = lt->counts[i];
        b->limit = lt->limit[i];
        uint32_t first = (uint32_t)s->nbinents, n = 0;
        int trunc = 0;
        w->list_id++;
        uint64_t e = (uint64_t)(uintptr_t)lt->entries[i];
        while (e) {
            if (!la_aligned(e)) {
                hv_problem(s, e, "malloc(): unaligned tcache chunk detected (%s: 0x%llx)", list,
                           (unsigned long long)e);
                trunc = 1;
                break;
            }
            uint64_t c = la_mem2chunk(e);
            uint32_t ci = entry(w, list, c, n, b);
            if (ci == HV_NONE) {
                trunc = 1;
                break;
            }
            struct hv_chunk *ch = &s->chunks[ci];
            if (ch->size != la_tcache_chunk_size(i))
                hv_problem(s, c, "%s holds chunk 0x%llx of size 0x%llx", list, (unsigned long long)c,
                           (unsigned long long)ch->size);
            assign(w, ci, HV_BIN_TCACHE, i, ti);
            if (add_binent(w, c, ci) < 0)
                return;
            n++;
            int ok = 1;
            uint64_t stored = rd64(w, e, &ok);
            if (!ok) {
                trunc = 1;
                break;
            }
            e = la_reveal_ptr(e, stored);
        }
        finish_bin(w, b, first, trunc);
        if (!trunc && n != lt->counts[i])
            hv_problem(s, lt->entries[i] ? la_mem2chunk((uint64_t)(uintptr_t)lt->entries[i]) : t->addr,
                       "%s: count says %u but the chain has %u chunks", list, lt->counts[i], n);
        /* a bin may hold limit[i] entries; limit[i] grows up to the bin's cap */
        unsigned cap = la_tcache_bin_limit(s->tunables.tcache_count, s->tunables.tcache_bytes, i);
        if (s->tunables.tcache_count && lt->counts[i] > cap)
            hv_problem(s, t->addr, "free(): too many chunks detected in tcache (%s: count %u, cap %u)", list,
                       lt->counts[i], cap);
        if (lt->limit[i] > cap)
            hv_problem(s, t->addr, "%s: limit %u above the bin's cap %u (tcache_count %llu, tcache_bytes %llu)",
                       list, lt->limit[i], cap, (unsigned long long)s->tunables.tcache_count,
                       (unsigned long long)s->tunables.tcache_bytes);
    }
}

/* The big-chunk cache (ABI 5): slots of chunk addresses in the tcache struct,
 * no links in the heap.  Each chunk must be a chunk of the walk, of its slot's
 * size and class, and be in no other list (entry()); the byte count must be
 * the sum.  (The key is the target's secret: liballoc_check_heap checks it.) */
static void walk_bigcache(struct w *w, struct hv_tcache *t, const struct la_tcache *lt, uint32_t ti)
{
    struct hv_snapshot *s = w->s;
    uint64_t bytes = 0;
    for (unsigned c = 0; c < LA_BC_CLASSES; c++) {
        struct hv_bin *b = &t->bc[c];
        char list[64];
        snprintf(list, sizeof list, "big-chunk cache class %u of thread %llu", c, (unsigned long long)t->tid);
        b->kind = HV_BIN_BIGCACHE;
        b->index = (uint16_t)c;
        b->size_lo = la_bc_class_lo(c);
        b->size_hi = la_bc_class_lo(c) + la_bc_class_lo(c) / 8 - LA_ALIGNMENT;
        b->declared = lt->bc_count[c];
        b->limit = LA_BC_WAYS;
        uint32_t first = (uint32_t)s->nbinents;
        int trunc = 0;
        w->list_id++;
        unsigned n = lt->bc_count[c];
        if (n > LA_BC_WAYS) {
            hv_problem(s, t->addr, "%s: count %u above its %u slots", list, n, LA_BC_WAYS);
            n = LA_BC_WAYS;
            trunc = 1;
        }
        for (unsigned i = 0; i < n; i++) {
            uint64_t ck = lt->bc_chunk[c][i];
            bytes += lt->bc_size[c][i];
            if (!la_aligned(ck)) {
                hv_problem(s, ck, "free(): corrupted big-chunk cache entry (%s: unaligned 0x%llx)", list,
                           (unsigned long long)ck);
                trunc = 1;
                continue;
            }
            uint32_t ci = entry(w, list, ck, i, b);
            if (ci == HV_NONE) {
                trunc = 1;
                continue;
            }
            struct hv_chunk *ch = &s->chunks[ci];
            if (ch->size != lt->bc_size[c][i] || la_bc_class(ch->size) != c)
                hv_problem(s, ck, "%s holds chunk 0x%llx of size 0x%llx (slot says 0x%x)", list,
                           (unsigned long long)ck, (unsigned long long)ch->size, lt->bc_size[c][i]);
            assign(w, ci, HV_BIN_BIGCACHE, c, ti);
            if (add_binent(w, ck, ci) < 0)
                return;
        }
        finish_bin(w, b, first, trunc);
    }
    if (bytes != lt->bc_bytes)
        hv_problem(s, t->addr, "big-chunk cache of thread %llu: byte count %llu, slots hold %llu",
                   (unsigned long long)t->tid, (unsigned long long)lt->bc_bytes, (unsigned long long)bytes);
}

/* ---- driver --------------------------------------------------------------------------- */

static int mm_cmp(const void *a, const void *b)
{
    const struct hv_chunk *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int hv_walk(struct hv_snapshot *s, const struct hv_image *img, const struct hv_plan *plan,
            const struct hv_snapshot_opts *opts)
{
    struct w W;
    memset(&W, 0, sizeof W);
    W.s = s;
    W.img = img;
    W.plan = plan;
    W.opts = opts;

    /* 1. arenas */
    s->arenas = calloc(plan->narenas ? plan->narenas : 1, sizeof *s->arenas);
    struct la_arena *la = calloc(plan->narenas ? plan->narenas : 1, sizeof *la);
    s->segments = calloc(plan->nsegs ? plan->nsegs : 1, sizeof *s->segments);
    if (!s->arenas || !la || !s->segments) {
        free(la);
        return -1;
    }
    s->narenas = plan->narenas;
    for (size_t i = 0; i < plan->narenas; i++) {
        size_t asz = plan->arena_size && plan->arena_size < sizeof *la ? plan->arena_size : sizeof *la;
        const void *p = hv_img_get(img, plan->arenas[i], asz);
        if (p)
            memcpy(&la[i], p, asz);         /* an older target's shorter arena: the rest stays 0 */
        if (!plan->has_remote)
            la[i].remote = NULL;
        struct hv_arena *a = &s->arenas[i];
        a->index = la[i].index;
        a->is_main = i == 0;
        a->addr = plan->arenas[i];
        a->top = (uint64_t)(uintptr_t)la[i].top;
        a->last_remainder = (uint64_t)(uintptr_t)la[i].last_remainder;
        a->next = (uint64_t)(uintptr_t)la[i].next;
        a->flags = la[i].flags;
        a->lock = la[i].lock;
        a->nthreads = la[i].nthreads;
        a->have_fastchunks = la[i].have_fastchunks;
        a->ops = la[i].ops;
        a->system_mem = la[i].system_mem;
        a->max_system_mem = la[i].max_system_mem;
        a->remote_chunks = la[i].remote_chunks;
        a->remote_batches = la[i].remote_batches;
        a->remote_drained = la[i].remote_drained;
        memcpy(a->binmap, la[i].binmap, sizeof a->binmap);
        if (la[i].flags & LA_ARENA_CORRUPT)
            hv_problem(s, a->addr, "arena %u: liballoc marked this arena corrupt (an integrity check failed)",
                       a->index);
    }
    /* segments: plan lists each arena's newest first; store oldest first */
    size_t ns = 0;
    for (size_t ai = 0; ai < plan->narenas; ai++) {
        s->arenas[ai].first_segment = (uint32_t)ns;
        size_t cnt = 0;
        for (size_t k = plan->nsegs; k-- > 0;) {
            const struct hv_plan_seg *ps = &plan->segs[k];
            if (ps->arena != ai)
                continue;
            struct hv_segment *g = &s->segments[ns++];
            const struct la_segment *d = hv_img_get(img, ps->addr, sizeof *d);
            g->addr = ps->addr;
            g->arena = (uint32_t)ai;
            g->copied = ps->copied > sizeof(struct la_segment);
            if (d && g->copied) {
                g->chunks = d->chunks;
                g->end = ps->addr + ps->copied;
                g->reserved = d->reserved;
                g->kind = d->kind;
            } else {
                g->chunks = g->end = ps->addr + (d ? sizeof *d : 0);
                g->kind = d ? d->kind : 0;
            }
            cnt++;
        }
        s->arenas[ai].nsegments = (uint32_t)cnt;
    }
    s->nsegments = ns;

    /* 2-3. chunk walks */
    for (size_t ai = 0; ai < s->narenas; ai++) {
        struct hv_arena *a = &s->arenas[ai];
        for (uint32_t k = 0; k < a->nsegments; k++) {
            struct hv_segment *g = &s->segments[a->first_segment + k];
            walk_segment(&W, a, g, k + 1 == a->nsegments);
            if (W.oom)
                goto oom;
        }
    }
    W.seg_order = malloc((s->nsegments ? s->nsegments : 1) * sizeof *W.seg_order);
    W.mark = calloc(s->nchunks ? s->nchunks : 1, sizeof *W.mark);
    if (!W.seg_order || !W.mark || build_hash(&W) < 0)
        goto oom;
    for (size_t i = 0; i < s->nsegments; i++)
        W.seg_order[i] = (uint32_t)i;
    qsort_r(W.seg_order, s->nsegments, sizeof *W.seg_order, seg_cmp_ctx_cmp, s->segments);
    for (size_t i = 1; i < s->nsegments; i++) {
        const struct hv_segment *x = &s->segments[W.seg_order[i - 1]], *y = &s->segments[W.seg_order[i]];
        if (y->addr < x->end)
            hv_problem(s, y->addr, "segments 0x%llx and 0x%llx overlap", (unsigned long long)x->addr,
                       (unsigned long long)y->addr);
    }

    /* 4. lists */
    for (size_t ai = 0; ai < s->narenas; ai++) {
        struct hv_arena *a = &s->arenas[ai];
        for (unsigned i = 0; i < LA_NFASTBINS; i++)
            walk_fastbin(&W, a, &la[ai], i);
        for (unsigned i = 1; i < LA_NBINS - 1; i++)
            walk_bin(&W, a, &la[ai], i);
        walk_remote(&W, a, &la[ai]);
        if (W.oom)
            goto oom;
    }
    s->ntcaches = plan->ntcaches;
    s->tcaches = calloc(plan->ntcaches ? plan->ntcaches : 1, sizeof *s->tcaches);
    if (!s->tcaches)
        goto oom;
    for (size_t ti = 0; ti < plan->ntcaches; ti++) {
        struct la_tcache lt;
        /* a target before ABI 3 has no bin limits: every bin holds tcache_count */
        size_t tsz = plan->dbg.layout.sizeof_tcache < sizeof lt ? plan->dbg.layout.sizeof_tcache : sizeof lt;
        if (tsz != LA_TCACHE_V2_SIZE && tsz != LA_TCACHE_V4_SIZE)
            tsz = sizeof lt;
        const void *p = hv_img_get(img, plan->tcaches[ti], tsz);
        if (!p)
            continue;
        memset(&lt, 0, sizeof lt);
        memcpy(&lt, p, tsz);
        if (tsz == LA_TCACHE_V2_SIZE)
            for (unsigned i = 0; i < LA_TCACHE_BINS; i++)
                lt.limit[i] = (uint16_t)(s->tunables.tcache_count > UINT16_MAX ? UINT16_MAX : s->tunables.tcache_count);
        struct hv_tcache *t = &s->tcaches[ti];
        t->tid = lt.tid;
        t->addr = plan->tcaches[ti];
        t->arena_addr = (uint64_t)(uintptr_t)lt.arena;
        t->arena = HV_NONE;
        for (size_t ai = 0; ai < s->narenas; ai++)
            if (s->arenas[ai].addr == t->arena_addr)
                t->arena = (uint32_t)ai;
        memcpy(t->counts, lt.counts, sizeof t->counts);
        walk_tcache(&W, t, &lt, (uint32_t)ti);
        if (!W.oom)
            walk_bigcache(&W, t, &lt, (uint32_t)ti);
        if (W.oom)
            goto oom;
    }

    /* 5. states, stray free chunks, mmapped, totals */
    struct hv_totals *T = &s->totals;
    for (size_t i = 0; i < s->nchunks; i++) {
        struct hv_chunk *c = &s->chunks[i];
        if (c->bin != HV_BIN_NONE) {
            c->state = HV_FREE;
        } else if (c->state == HV_FREE) {
            hv_problem(s, c->addr, "free chunk 0x%llx (size 0x%llx) is in no bin", (unsigned long long)c->addr,
                       (unsigned long long)c->size);
        }
        if (c->flags & HV_CF_FENCEPOST)
            continue;
        /* Like glibc, liballoc sets NON_MAIN_ARENA on chunks it hands out from a
         * non-main arena (tcache and fastbin chunks keep it); chunks in the
         * regular bins and top are written without it. */
        int nm = la_non_main_arena(c->size_flags), main = c->arena < s->narenas && s->arenas[c->arena].is_main;
        int handed_out = (c->state == HV_INUSE && c->bin == HV_BIN_NONE) || c->bin == HV_BIN_TCACHE ||
                         c->bin == HV_BIN_BIGCACHE ||
                         c->bin == HV_BIN_FAST || c->bin == HV_BIN_REMOTE;
        if ((main && nm) || (!main && !nm && handed_out))
            hv_problem(s, c->addr, "chunk 0x%llx: NON_MAIN_ARENA bit is %s but it lies in arena %u",
                       (unsigned long long)c->addr, nm ? "set" : "clear",
                       c->arena < s->narenas ? s->arenas[c->arena].index : 0);
        switch (c->state) {
        case HV_TOP:
            T->ordblks++;
            T->fordblks += c->size;
            if (c->arena == 0)
                T->keepcost = c->size;
            break;
        case HV_FREE:
            if (c->bin == HV_BIN_REMOTE) {
                T->remote_chunks++;
                T->remote_bytes += c->size;
                T->uordblks += c->size;
            } else if (c->bin == HV_BIN_TCACHE || c->bin == HV_BIN_BIGCACHE) {
                T->tcache_chunks++;
                T->tcache_bytes += c->size;
                T->uordblks += c->size;
            } else if (c->bin == HV_BIN_FAST) {
                T->smblks++;
                T->fsmblks += c->size;
                T->fordblks += c->size;
            } else {
                T->ordblks++;
                T->fordblks += c->size;
            }
            break;
        default:
            T->uordblks += c->size;
        }
    }
    for (size_t ai = 0; ai < s->narenas; ai++)
        T->arena += s->arenas[ai].system_mem;

    s->mmapped = calloc(plan->nmmaps ? plan->nmmaps : 1, sizeof *s->mmapped);
    if (!s->mmapped)
        goto oom;
    for (size_t i = 0; i < plan->nmmaps; i++) {
        int ok = 1;
        uint64_t m = plan->mmaps[i];
        uint64_t prev = rd64(&W, m, &ok), field = rd64(&W, m + 8, &ok);
        if (!ok)
            continue;
        if (!la_is_mmapped(field) || la_chunksize(field) < 4096 || ((m - prev) & 4095) ||
            ((la_chunksize(field) + prev) & 4095))
            hv_problem(s, m, "munmap_chunk(): invalid pointer (mmapped chunk 0x%llx: size field 0x%llx, "
                       "prev_size 0x%llx)", (unsigned long long)m, (unsigned long long)field,
                       (unsigned long long)prev);
        struct hv_chunk *c = &s->mmapped[s->nmmapped++];
        c->addr = m;
        c->size = la_chunksize(field);
        c->prev_size = prev;
        c->size_flags = (uint8_t)(field & LA_SIZE_FLAGS);
        c->state = HV_MMAPPED;
        c->arena = c->segment = c->tcache = HV_NONE;
        T->hblks++;
        T->hblkhd += c->size;
    }
    qsort(s->mmapped, s->nmmapped, sizeof *s->mmapped, mm_cmp);
    if (plan->dbg.mmaps.capacity && plan->slots_used != plan->dbg.mmaps.count)
        hv_problem(s, (uint64_t)(uintptr_t)plan->dbg.mmaps.slots,
                   "mmap registry: count says %llu but the table holds %zu chunks",
                   (unsigned long long)plan->dbg.mmaps.count, plan->slots_used);
    T->nchunks = s->nchunks + s->nmmapped;

    /* flag chunks named by a problem */
    for (size_t i = 0; i < s->nproblems; i++) {
        uint32_t inside, ci = chunk_at(&W, s->problems[i].addr, &inside);
        if (ci == HV_NONE)
            ci = inside;
        if (ci != HV_NONE)
            s->chunks[ci].flags |= HV_CF_PROBLEM;
    }
    free(la);
    free(W.seg_order);
    free(W.mark);
    free(W.hash);
    return 0;
oom:
    free(la);
    free(W.seg_order);
    free(W.mark);
    free(W.hash);
    return -1;
}
