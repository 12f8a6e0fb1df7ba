/*
 * liballoc/check.c - the abort path and the heap checker.
 *
 * la_fatal writes one line,
 *     liballoc: <message> (in <function>(), pointer 0x..., chunk size N)
 * (glibc's message for glibc's checks, see man/liballoc.3 SECURITY) with one
 * write(2) from a stack buffer and raises SIGABRT.  It allocates nothing, takes
 * no lock and reads no heap memory, so it works on a corrupted heap, from any
 * lock state.
 *
 * la_check_heap walks every arena (each under its lock): every segment chunk
 * by chunk (alignment, sizes, boundary tags, no two adjacent free chunks, top
 * last in the newest segment, fenceposts only at the end of closed segments),
 * every bin (links both ways, sizes within the bin's range, chunks free and in
 * the arena, binmap bit set, large bins sorted with a consistent size list),
 * every fastbin (aligned, right size, in the arena, not free); then the
 * calling thread's tcache (count == chain length, key, aligned, in a heap), its
 * big-chunk cache (each slot's chunk in a heap, of its class, in use, keyed,
 * its size field equal to the slot's size, no chunk twice, the byte count) and
 * the mmapped-chunk registry.  Other threads' tcaches change without a lock, so
 * only their registration is checked.  The first fault is reported in one line.
 * Like the allocator's own checks, the walker never reads through a link it has
 * not first found inside the arena (or, for tcache entries, inside a heap), so
 * a poisoned pointer is reported, not followed.
 */
#include "internal.h"

size_t la_fmt_u(char *buf, uint64_t v)
{
    char t[24];
    size_t n = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = t[n - 1 - i];
    return n;
}

size_t la_fmt_x(char *buf, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do { t[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    buf[0] = '0';
    buf[1] = 'x';
    for (size_t i = 0; i < n; i++) buf[2 + i] = t[n - 1 - i];
    return n + 2;
}

static size_t cat(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap) buf[at++] = *s++;
    return at;
}

LA_TLS const char *la_t_fn;

/* The abort path.  Runs on a heap that may be corrupted and may be called with
 * any lock held: it reads nothing but its arguments and la_t_fn, formats into
 * a stack buffer and writes with one write(2); nothing here allocates.
 *   liballoc: <message> (in <function>(), pointer 0x..., chunk size N)
 * The caller passes the chunk's size field when it has already read it safely;
 * the _ns variants print no size (the pointer may be wild). */
static LA_NORETURN void fatal(const char *msg, const void *ptr, int have_size, size_t size_field)
{
    char buf[320];
    char x[24];
    size_t n = cat(buf, 0, sizeof buf, "liballoc: ");
    n = cat(buf, n, sizeof buf, msg);
    n = cat(buf, n, sizeof buf, " (in ");
    n = cat(buf, n, sizeof buf, la_t_fn ? la_t_fn : "liballoc");
    n = cat(buf, n, sizeof buf, "()");
    if (ptr) {
        x[la_fmt_x(x, (uint64_t)(uintptr_t)ptr)] = 0;
        n = cat(buf, n, sizeof buf, ", pointer ");
        n = cat(buf, n, sizeof buf, x);
    }
    if (have_size) {
        x[la_fmt_u(x, la_chunksize(size_field))] = 0;
        n = cat(buf, n, sizeof buf, ", chunk size ");
        n = cat(buf, n, sizeof buf, x);
    }
    n = cat(buf, n, sizeof buf, ")");
    buf[n++] = '\n';
    la_os_write(2, buf, n);
    la_os_abort();
}

void la_fatal(const char *msg, const void *ptr, size_t size_field) { fatal(msg, ptr, 1, size_field); }
void la_fatal_ns(const char *msg, const void *ptr) { fatal(msg, ptr, 0, 0); }

void la_fatal_arena(struct la_arena *av, const char *msg, const void *ptr, size_t size_field)
{
    if (av) av->flags |= LA_ARENA_CORRUPT;
    fatal(msg, ptr, 1, size_field);
}

void la_fatal_arena_ns(struct la_arena *av, const char *msg, const void *ptr)
{
    if (av) av->flags |= LA_ARENA_CORRUPT;
    fatal(msg, ptr, 0, 0);
}

void la_warn(const char *a, const char *b, const char *c)
{
    char buf[256];
    size_t n = cat(buf, 0, sizeof buf, "liballoc: ");
    if (a) n = cat(buf, n, sizeof buf, a);
    if (b) n = cat(buf, n, sizeof buf, b);
    if (c) n = cat(buf, n, sizeof buf, c);
    buf[n++] = '\n';
    la_os_write(2, buf, n);
}

/* ---- the checker ------------------------------------------------------------------- */

struct fault {
    const char *what;
    uintptr_t addr;
    uint32_t arena;
};

#define FAIL(f, w, a) do { (f)->what = (w); (f)->addr = (uintptr_t)(a); return -1; } while (0)

static int in_arena(struct la_arena *av, uintptr_t p, size_t size)
{
    for (struct la_segment *s = av->segments; s; s = s->prev)
        if (p >= s->chunks && p + size <= (uintptr_t)s + s->size && p + size > p) return 1;
    return 0;
}

static int check_segments(struct la_arena *av, struct fault *f, uint64_t *nfree, uint64_t *total)
{
    size_t abit = la_arena_bit(av);
    int newest = 1;
    uint64_t sum = 0;
    *nfree = 0;
    if (!av->segments) {
        if (av->top) FAIL(f, "top without a segment", av->top);
        return 0;
    }
    if (!av->top) FAIL(f, "arena has segments but no top", av->segments);
    for (struct la_segment *s = av->segments; s; s = s->prev, newest = 0) {
        uintptr_t end = (uintptr_t)s + s->size;
        if (s->arena != av) FAIL(f, "segment belongs to another arena", s);
        if (!la_aligned(s->chunks) || s->chunks < (uintptr_t)(s + 1) || s->chunks >= end)
            FAIL(f, "segment chunk start out of range", s);
        if (!la_aligned(end)) FAIL(f, "segment end misaligned", s);
        if (av != &la_main_arena && la_heap_of((uintptr_t)s) != (uintptr_t)s)
            FAIL(f, "heap not aligned to LA_HEAP_MAX", s);
        uintptr_t fence = newest ? 0 : (uintptr_t)s->spare;
        if (!newest && (fence < s->chunks || fence >= end)) FAIL(f, "closed segment without fenceposts", s);
        uintptr_t p = s->chunks;
        int prev_free = 0;
        if (!(((la_chunk *)p)->size & LA_PREV_INUSE)) FAIL(f, "first chunk of a segment lacks PREV_INUSE", p);
        while (p < end) {
            la_chunk *c = (la_chunk *)p;
            size_t size = ck_size(c);
            if (fence && p >= fence) {
                if (size != LA_CHUNK_HDR) FAIL(f, "bad fencepost", p);
                p += size;
                continue;
            }
            if (size < LA_MINSIZE || !la_aligned(size)) FAIL(f, "chunk size invalid", p);
            if (p + size > end || p + size < p) FAIL(f, "chunk runs past its segment", p);
            if (c == av->top) {
                if (!newest) FAIL(f, "top is not in the newest segment", p);
                if (p + size != end) FAIL(f, "top does not end at its segment's end", p);
                if (!(c->size & LA_PREV_INUSE)) FAIL(f, "top follows a free chunk", p);
                if (c->size & (LA_IS_MMAPPED | LA_NON_MAIN_ARENA)) FAIL(f, "top has flag bits", p);
                sum += size;
                break;
            }
            if (c->size & LA_IS_MMAPPED) FAIL(f, "IS_MMAPPED chunk inside an arena", p);
            if (p + size >= end) FAIL(f, "last chunk of a segment is not top or a fencepost", p);
            la_chunk *next = ck_at(c, size);
            int is_free = !(next->size & LA_PREV_INUSE);
            if (la_prev_inuse(c->size) == prev_free) FAIL(f, "PREV_INUSE disagrees with the previous chunk", p);
            if (is_free) {
                if (prev_free) FAIL(f, "two adjacent free chunks", p);
                if (next->prev_size != size) FAIL(f, "free chunk's footer (next prev_size) mismatch", p);
                if (c->size & LA_NON_MAIN_ARENA) FAIL(f, "free chunk carries NON_MAIN_ARENA", p);
                (*nfree)++;
            } else if ((c->size & LA_NON_MAIN_ARENA) != abit) {
                FAIL(f, "NON_MAIN_ARENA bit disagrees with the arena", p);
            }
            prev_free = is_free;
            sum += size;
            p += size;
        }
        if (newest && p >= end) FAIL(f, "newest segment has no top", s);
    }
    *total = sum;
    return 0;
}

static int check_bins(struct la_arena *av, struct fault *f, uint64_t nfree_walk, uint64_t limit)
{
    uint64_t nbinned = 0;
    for (unsigned i = 1; i < LA_NBINS - 1; i++) {
        la_chunk *b = bin_at(av, i);
        size_t lo, hi;
        la_bin_range(i, &lo, &hi);
        if (!la_link_in_arena(av, (uintptr_t)b->fd) || !la_link_in_arena(av, (uintptr_t)b->bk))
            FAIL(f, "bin header link leaves the arena", b);
        if (b->fd->bk != b || b->bk->fd != b) FAIL(f, "bin header links broken", b);
        if (b->fd != b && !(av->binmap[la_binmap_word(i)] & la_binmap_bit(i)) && i != LA_BIN_UNSORTED)
            FAIL(f, "non-empty bin has its binmap bit clear", b);
        size_t prevsize = SIZE_MAX;
        uint64_t steps = 0;
        for (la_chunk *p = b->fd; p != b; p = p->fd) {
            if (++steps > limit) FAIL(f, "bin list does not end (cycle)", b);
            if (!la_aligned((uintptr_t)p)) FAIL(f, "misaligned chunk in a bin", p);
            if (!in_arena(av, (uintptr_t)p, LA_MINSIZE)) FAIL(f, "binned chunk outside the arena", p);
            if (!la_link_in_arena(av, (uintptr_t)p->fd) || !la_link_in_arena(av, (uintptr_t)p->bk))
                FAIL(f, "bin link leaves the arena", p);
            size_t size = ck_size(p);
            if (!in_arena(av, (uintptr_t)p, size)) FAIL(f, "binned chunk outside the arena", p);
            if (p->fd->bk != p || p->bk->fd != p) FAIL(f, "bin links disagree (fd->bk or bk->fd)", p);
            if (size < lo || size > hi) FAIL(f, "chunk size outside its bin's range", p);
            if (ck_at(p, size)->size & LA_PREV_INUSE) FAIL(f, "binned chunk is marked in use", p);
            if (p == av->top) FAIL(f, "top is in a bin", p);
            if (i >= LA_NSMALLBINS) {
                if (size > prevsize) FAIL(f, "large bin not sorted", p);
                int head = size != prevsize;
                if (head && !p->fd_nextsize) FAIL(f, "large bin size-list head missing", p);
                if (!head && p->fd_nextsize) FAIL(f, "large bin duplicate on the size list", p);
                if (head) {
                    if (!in_arena(av, (uintptr_t)p->fd_nextsize, LA_MINSIZE) ||
                        !in_arena(av, (uintptr_t)p->bk_nextsize, LA_MINSIZE))
                        FAIL(f, "large bin size-list link leaves the arena", p);
                    if (p->fd_nextsize->bk_nextsize != p || p->bk_nextsize->fd_nextsize != p)
                        FAIL(f, "large bin size-list links broken", p);
                }
            }
            prevsize = size;
            nbinned++;
        }
    }
    if (nbinned != nfree_walk) FAIL(f, "free chunks in the heap and in the bins differ in number", av);
    return 0;
}

static int check_fastbins(struct la_arena *av, struct fault *f, uint64_t limit)
{
    for (unsigned i = 0; i < LA_NFASTBINS; i++) {
        uint64_t steps = 0;
        for (la_chunk *p = av->fastbins[i]; p;
             p = (la_chunk *)la_reveal_ptr((uintptr_t)&p->fd, (uintptr_t)p->fd)) {
            if (++steps > limit) FAIL(f, "fastbin list does not end (cycle)", p);
            if (!la_aligned((uintptr_t)p)) FAIL(f, "misaligned fastbin chunk", p);
            if (!in_arena(av, (uintptr_t)p, LA_MINSIZE)) FAIL(f, "fastbin chunk outside the arena", p);
            size_t size = ck_size(p);
            if (!in_arena(av, (uintptr_t)p, size)) FAIL(f, "fastbin chunk outside the arena", p);
            if (la_fastbin_index(size) != i) FAIL(f, "fastbin chunk of the wrong size", p);
            if (!(ck_at(p, size)->size & LA_PREV_INUSE)) FAIL(f, "fastbin chunk marked free", p);
            if (!av->have_fastchunks) FAIL(f, "fastbin chunk while have_fastchunks is 0", p);
        }
    }
    return 0;
}

static int check_tcache(struct la_tcache *tc, struct fault *f)
{
    for (unsigned i = 0; i < LA_TCACHE_BINS; i++) {
        uint64_t n = 0;
        for (struct la_tcache_entry *e = tc->entries[i]; e;
             e = (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next)) {
            if (++n > tc->counts[i]) FAIL(f, "tcache chain longer than its count", e);
            if (!la_aligned((uintptr_t)e)) FAIL(f, "misaligned tcache entry", e);
            /* nothing is read from an entry before it is known to be in a heap */
            struct la_arena *av = la_heap_owner((uintptr_t)e, NULL);
            if (!av) FAIL(f, "tcache entry outside the heap", e);
            if (e->key != la_g.tc_key) FAIL(f, "tcache entry without the tcache key", e);
            la_chunk *p = mem2ck(e);
            size_t size = ck_size(p);
            if (la_tcache_index(size) != i) FAIL(f, "tcache entry of the wrong size", e);
            if (p->size & LA_IS_MMAPPED) FAIL(f, "mmapped chunk in a tcache", e);
            if (la_arena_of(p) != av) FAIL(f, "tcache entry's NON_MAIN_ARENA bit disagrees with its heap", e);
            if (!in_arena(av, (uintptr_t)p, size)) FAIL(f, "tcache entry outside the heap", e);
            if (!(ck_at(p, size)->size & LA_PREV_INUSE)) FAIL(f, "tcache entry marked free by its next chunk", e);
        }
        if (n != tc->counts[i]) FAIL(f, "tcache count larger than its chain", tc);
    }
    return 0;
}

/* The big-chunk cache (bigcache.c): every slot a chunk of its class, in a
 * heap, in use, keyed, no chunk twice, the byte count and the end bound right. */
static int check_bigcache(struct la_tcache *tc, struct fault *f)
{
    uint64_t bytes = 0;
    for (unsigned c = 0; c < LA_BC_CLASSES; c++) {
        if (tc->bc_count[c] > LA_BC_WAYS) FAIL(f, "big-chunk cache class count above its slots", tc);
        for (unsigned i = 0; i < tc->bc_count[c]; i++) {
            uintptr_t x = tc->bc_chunk[c][i];
            size_t size = tc->bc_size[c][i];
            void *mem = (void *)(x + LA_CHUNK_HDR);
            if (!la_aligned(x)) FAIL(f, "misaligned big-chunk cache entry", mem);
            if (!la_bc_range(size) || la_bc_class(size) != c) FAIL(f, "big-chunk cache entry in the wrong class", mem);
            struct la_arena *av = la_heap_owner(x + LA_CHUNK_HDR, NULL);
            if (!av) FAIL(f, "big-chunk cache entry outside the heap", mem);
            la_chunk *p = (la_chunk *)x;
            if (!in_arena(av, x, size)) FAIL(f, "big-chunk cache entry outside the heap", mem);
            if (p->size & LA_IS_MMAPPED) FAIL(f, "mmapped chunk in the big-chunk cache", mem);
            if (ck_size(p) != size) FAIL(f, "big-chunk cache entry's size field disagrees with its slot", mem);
            if (la_arena_of(p) != av) FAIL(f, "big-chunk cache entry's NON_MAIN_ARENA bit disagrees with its heap", mem);
            if (((struct la_tcache_entry *)mem)->key != la_g.tc_key) FAIL(f, "big-chunk cache entry without the tcache key", mem);
            if (!(ck_at(p, size)->size & LA_PREV_INUSE)) FAIL(f, "big-chunk cache entry marked free by its next chunk", mem);
            if (x + size > tc->bc_hi) FAIL(f, "big-chunk cache entry ends above bc_hi", mem);
            for (unsigned j = 0; j < i; j++)
                if (tc->bc_chunk[c][j] == x) FAIL(f, "chunk twice in the big-chunk cache", mem);
            bytes += size;
        }
    }
    if (bytes != tc->bc_bytes) FAIL(f, "big-chunk cache byte count wrong", tc);
    return 0;
}

static int check_mmaps(struct fault *f)
{
    struct la_mmap_registry *r = &la_dbg.mmaps;
    uint64_t n = 0;
    for (uint64_t i = 0; i < r->capacity; i++) {
        uint64_t c = r->slots[i];
        if (c <= 1) continue;
        n++;
        la_chunk *p = (la_chunk *)(uintptr_t)c;
        if (!(p->size & LA_IS_MMAPPED)) FAIL(f, "registered mmapped chunk lacks IS_MMAPPED", p);
        uintptr_t block = c - p->prev_size;
        if (((block | (p->prev_size + ck_size(p))) & (la_g.pagesize - 1)) != 0)
            FAIL(f, "mmapped chunk not page-aligned", p);
    }
    if (n != r->count) FAIL(f, "mmap registry count wrong", r);
    if (n != la_dbg.mstats.n_mmaps) FAIL(f, "n_mmaps disagrees with the registry", r);
    return 0;
}

static int report(struct fault *f, const char *where, uint32_t arena)
{
    char buf[256], num[24];
    size_t n = cat(buf, 0, sizeof buf, "liballoc: check_heap: ");
    n = cat(buf, n, sizeof buf, f->what);
    n = cat(buf, n, sizeof buf, " at ");
    num[la_fmt_x(num, f->addr)] = 0;
    n = cat(buf, n, sizeof buf, num);
    n = cat(buf, n, sizeof buf, " (");
    n = cat(buf, n, sizeof buf, where);
    if (arena != UINT32_MAX) {
        num[la_fmt_u(num, arena)] = 0;
        n = cat(buf, n, sizeof buf, " ");
        n = cat(buf, n, sizeof buf, num);
    }
    n = cat(buf, n, sizeof buf, ")");
    buf[n++] = '\n';
    la_os_write(2, buf, n);
    return -1;
}

int la_check_heap(void)
{
    la_ensure_init();
    struct fault f = { 0, 0, 0 };
    for (struct la_arena *av = &la_main_arena; av; av = __atomic_load_n(&av->next, __ATOMIC_ACQUIRE)) {
        la_lock(&av->lock);
        uint64_t nfree = 0, total = 0;
        uint64_t limit = av->system_mem / LA_MINSIZE + 16;
        /* the remote-free list: taken, checked, freed into the bins (remote.c) */
        int r = la_remote_validate(av, &f.what, &f.addr);
        if (!r) r = check_segments(av, &f, &nfree, &total);
        if (!r) r = check_bins(av, &f, nfree, limit);
        if (!r) r = check_fastbins(av, &f, limit);
        la_arena_unlock(av);
        if (r) return report(&f, "arena", av->index);
    }
    if (la_tc_get() && check_tcache(la_tc, &f)) return report(&f, "tcache of this thread", UINT32_MAX);
    if (la_tc_get() && check_bigcache(la_tc, &f)) return report(&f, "big-chunk cache of this thread", UINT32_MAX);
    la_registry_lock();
    int r = check_mmaps(&f);
    uint64_t nt = 0;
    for (struct la_tcache *t = la_dbg.tcaches; t && !r; t = t->next) {
        if (++nt > la_dbg.ntcaches) { f.what = "tcache registry longer than ntcaches"; f.addr = (uintptr_t)t; r = -1; }
        else if (t->next && t->next->prev != t) { f.what = "tcache registry links broken"; f.addr = (uintptr_t)t; r = -1; }
    }
    if (!r && nt != la_dbg.ntcaches) { f.what = "tcache registry shorter than ntcaches"; f.addr = 0; r = -1; }
    la_registry_unlock();
    if (r) return report(&f, "registry", UINT32_MAX);
    return 0;
}

void la_periodic_check(void)
{
    uint64_t every = la_dbg.tunables.check;
    if (!every) return;
    if (++la_g.check_calls < every) return;
    la_g.check_calls = 0;
    if (la_check_heap() != 0) la_fatal_ns("heap check failed (LIBALLOC_OPTIONS check)", NULL);
}

int liballoc_check_heap(void) __attribute__((alias("la_check_heap"), visibility("default")));
