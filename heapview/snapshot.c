/*
 * heapview/snapshot.c - taking a snapshot: copy under stop, walk after resume.
 *
 * hv_snapshot_take() stops the target (source), copies everything the walk will
 * need into a private memory image with bulk reads (the struct la_debug, every
 * arena, every segment whole, the tcache structs, the mmap registry and the
 * headers of the mmapped chunks), captures the threads' instruction pointers,
 * and resumes the target at once.  If liballoc was mid-operation (a thread's IP
 * in [text_start, text_end), an arena or the registry locked, generation odd),
 * the target is resumed at once and stopped again a little later (that check
 * reads a few words, so a try costs little); after opts->retries tries the copy
 * is taken anyway and marked mid_operation.
 * The walk (walk.c) then runs on the image while the target runs.
 * Every pointer followed during the copy is checked against the target's
 * regions, and every list is bounded, so a corrupted heap cannot make heapview
 * read wild ranges or loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "snapshot_impl.h"

#define MAX_ARENAS      4096
#define MAX_SEGS        65536
#define MAX_TCACHES     (1u << 20)
#define MAX_MMAP_SLOTS  (1ull << 24)
#define MAX_SEG_BYTES   (16ull << 30)
#define MAX_PROBLEMS    10000

/* ---- image ------------------------------------------------------------------------ */

static int range_cmp(const void *a, const void *b)
{
    const struct hv_img_range *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void img_sort(struct hv_image *img)
{
    if (!img->sorted && img->n > 1) {
        qsort(img->r, img->n, sizeof *img->r, range_cmp);
        img->sorted = 1;
    }
}

/* the number of ranges that start at or below addr (they are sorted) */
static size_t img_upper(const struct hv_image *img, uint64_t addr)
{
    size_t lo = 0, hi = img->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->r[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const void *hv_img_get(const struct hv_image *img, uint64_t addr, size_t len)
{
    if (addr + len < addr || img->n == 0)
        return NULL;
    size_t lo = img_upper(img, addr);
    /* Ranges may overlap (e.g. an arena inside its first heap): look back a few. */
    for (size_t k = lo, steps = 0; k > 0 && steps < 16; k--, steps++) {
        const struct hv_img_range *r = &img->r[k - 1];
        if (addr >= r->addr && addr + len <= r->addr + r->len)
            return r->data + (addr - r->addr);
    }
    return NULL;
}

const struct hv_img_range *hv_img_range_of(const struct hv_image *img, uint64_t addr)
{
    size_t lo = img_upper(img, addr);
    for (size_t k = lo, steps = 0; k > 0 && steps < 16; k--, steps++) {
        const struct hv_img_range *r = &img->r[k - 1];
        if (addr >= r->addr && addr - r->addr < r->len)
            return r;
    }
    return NULL;
}

int hv_img_read64(const struct hv_image *img, uint64_t addr, uint64_t *out)
{
    const void *p = hv_img_get(img, addr, 8);
    if (!p)
        return -1;
    memcpy(out, p, 8);
    return 0;
}

static int in_pool(const struct hv_image *img, const unsigned char *p)
{
    return img->pool && p >= img->pool && p < img->pool + img->pool_len;
}

static void img_free(struct hv_image *img)
{
    if (!img)
        return;
    for (size_t i = 0; i < img->n; i++)
        if (!in_pool(img, img->r[i].data))
            free(img->r[i].data);
    free(img->r);
    if (img->pool)
        munmap(img->pool, img->pool_len);
    memset(img, 0, sizeof *img);
}

/* Copy [addr, addr+len) from the source (clipped to what is readable); returns
 * the bytes copied (0 if none).  -1 only on out of memory. */
static int64_t img_add(struct hv_image *img, struct hv_source *src, uint64_t addr, uint64_t len)
{
    if (len == 0 || addr + len < addr)
        return 0;
    if (img->n == img->cap) {
        size_t cap = img->cap ? 2 * img->cap : 64;
        struct hv_img_range *r = realloc(img->r, cap * sizeof *r);
        if (!r)
            return -1;
        img->r = r;
        img->cap = cap;
    }
    unsigned char *data;
    size_t need = (len + 15) & ~(size_t)15;
    int pooled = img->pool && need >= len && img->pool_len - img->pool_used >= need;
    if (pooled)
        data = img->pool + img->pool_used;
    else if (!(data = malloc(len)))
        return -1;
    ssize_t got = hv_source_read(src, addr, data, len);
    if (got <= 0) {
        if (!pooled)
            free(data);
        return 0;
    }
    if (pooled)
        img->pool_used += need;
    img->r[img->n].addr = addr;
    img->r[img->n].len = (uint64_t)got;
    img->r[img->n].data = data;
    img->n++;
    img->bytes += (uint64_t)got;
    img->sorted = 0;
    return got;
}

/* ---- problems ---------------------------------------------------------------------- */

void hv_problem(struct hv_snapshot *snap, uint64_t addr, const char *fmt, ...)
{
    if (snap->nproblems >= MAX_PROBLEMS)
        return;
    if ((snap->nproblems & (snap->nproblems - 1)) == 0) {   /* grow at powers of two */
        size_t cap = snap->nproblems ? 2 * snap->nproblems : 16;
        struct hv_problem *p = realloc(snap->problems, cap * sizeof *p);
        if (!p)
            return;
        snap->problems = p;
    }
    struct hv_problem *p = &snap->problems[snap->nproblems++];
    p->addr = addr;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    if (snap->nproblems == MAX_PROBLEMS)
        snprintf(p->msg, sizeof p->msg, "too many problems: only the first %d are listed", MAX_PROBLEMS);
}

/* ---- copy phase --------------------------------------------------------------------- */

struct ctx {
    struct hv_source *src;
    struct hv_snapshot *snap;
    struct hv_image img;
    struct hv_plan plan;
    const struct hv_region *reg;
    size_t nreg;
    char mid[160];
};

static void plan_free(struct hv_plan *p)
{
    free(p->arenas);
    free(p->segs);
    free(p->tcaches);
    free(p->mmaps);
    memset(p, 0, sizeof *p);
}

static int push64(uint64_t **arr, size_t *n, uint64_t v)
{
    if ((*n & (*n - 1)) == 0) {
        size_t cap = *n ? 2 * *n : 8;
        uint64_t *a = realloc(*arr, cap * sizeof *a);
        if (!a)
            return -1;
        *arr = a;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

/* Readable bytes available from addr, following adjacent readable regions. */
static uint64_t readable_from(const struct ctx *c, uint64_t addr, uint64_t want)
{
    const struct hv_region *r = hv_region_find(c->reg, c->nreg, addr, 1);
    uint64_t have = 0;
    while (r && r->readable && (r->prot & HV_PROT_R) && have < want) {
        have = r->end - addr;
        size_t i = (size_t)(r - c->reg);
        if (i + 1 >= c->nreg || c->reg[i + 1].start != r->end)
            break;
        r = &c->reg[i + 1];
    }
    return have < want ? have : want;
}

static int contains(const uint64_t *a, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == v)
            return 1;
    return 0;
}

/* Returns 0, or -1 with err for fatal conditions. */
static int copy_all(struct ctx *c, struct hv_error *err)
{
    struct hv_snapshot *snap = c->snap;
    struct la_debug *d = &c->plan.dbg;
    uint64_t da = hv_source_debug_addr(c->src);

    if (hv_source_regions(c->src, &c->reg, &c->nreg, err) < 0)
        return -1;
    memset(d, 0, sizeof *d);
    if (hv_source_read(c->src, da, d, 24) != 24 || d->magic != LA_DEBUG_MAGIC)
        return hv_fail(err, HV_EXIT_NOLIB, "liballoc metadata at 0x%llx is no longer readable",
                       (unsigned long long)da);
    if (d->compat_version > HV_ABI_READ)
        return hv_fail(err, HV_EXIT_ABI, "liballoc_debug ABI version %u is newer than this heapview reads "
                       "(up to %u; the target needs readers of version %u or later)",
                       d->abi_version, HV_ABI_READ, d->compat_version);
    if (d->ptr_size != 8)
        return hv_fail(err, HV_EXIT_ABI, "liballoc_debug has pointer size %u; heapview reads 64-bit targets",
                       d->ptr_size);
    size_t want = sizeof *d;
    if (d->size < want) {
        if (d->size < offsetof(struct la_debug, initialized) + 8)
            return hv_fail(err, HV_EXIT_ABI, "liballoc_debug is %u bytes, too small for ABI version %u",
                           d->size, d->abi_version);
        want = d->size;
    }
    if (hv_source_read(c->src, da, d, want) != (ssize_t)want)
        return hv_fail(err, HV_EXIT_NOLIB, "liballoc metadata at 0x%llx is truncated", (unsigned long long)da);
    struct la_layout_desc mine;
    la_layout_fill(&mine);
    if (d->layout.sizeof_tcache == LA_TCACHE_V2_SIZE)  /* before ABI 3: no bin limits */
        mine.sizeof_tcache = LA_TCACHE_V2_SIZE;
    if (d->abi_version < 5 && d->layout.sizeof_tcache == LA_TCACHE_V4_SIZE)  /* before ABI 5: no big-chunk cache */
        mine.sizeof_tcache = LA_TCACHE_V4_SIZE;
    /* ABI 4 grew struct la_arena by its remote-free list: an older target
     * (abi_version < 4, or a layout without off_arena_remote) has the shorter
     * arena and no list; everything else must match exactly */
    if ((d->abi_version < 4 || d->layout.off_arena_remote == 0) &&
        !(d->layout.off_arena_remote == mine.off_arena_remote && d->layout.sizeof_arena == mine.sizeof_arena)) {
        mine.sizeof_arena = (uint32_t)LA_ARENA_SIZE_V3;
        mine.off_arena_remote = 0;
    }
    c->plan.arena_size = mine.sizeof_arena;
    c->plan.has_remote = d->abi_version >= 4 && mine.off_arena_remote != 0;
    if (memcmp(&mine, &d->layout, offsetof(struct la_layout_desc, spare)) != 0)
        return hv_fail(err, HV_EXIT_ABI, "liballoc_debug layout (structure sizes and offsets) differs from "
                       "the one this heapview was built for (ABI version %u)", d->abi_version);
    if (img_add(&c->img, c->src, da, want) < 0)
        return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
    if (c->nreg) {
        free(snap->regions);
        snap->regions = malloc(c->nreg * sizeof *snap->regions);
        if (!snap->regions)
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        memcpy(snap->regions, c->reg, c->nreg * sizeof *snap->regions);
        snap->nregions = c->nreg;
    }
    if (hv_trace_copy(c->src, da, d, snap) < 0)
        return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");

    /* arenas */
    uint64_t a = (uint64_t)(uintptr_t)d->main_arena;
    while (a) {
        if (c->plan.narenas >= MAX_ARENAS) {
            hv_problem(snap, a, "arena list: more than %d arenas (list not followed further)", MAX_ARENAS);
            break;
        }
        if (contains(c->plan.arenas, c->plan.narenas, a)) {
            hv_problem(snap, a, "arena list: cycle after %zu arenas", c->plan.narenas);
            break;
        }
        struct la_arena ar;
        size_t asz = c->plan.arena_size;    /* the target's struct la_arena (<= sizeof ar) */
        memset(&ar, 0, sizeof ar);
        if ((a & 7) || readable_from(c, a, asz) < asz || img_add(&c->img, c->src, a, asz) != (int64_t)asz) {
            hv_problem(snap, a, "arena list: pointer 0x%llx outside mapped memory", (unsigned long long)a);
            break;
        }
        memcpy(&ar, c->img.r[c->img.n - 1].data, asz);   /* the range just added */
        if (push64(&c->plan.arenas, &c->plan.narenas, a) < 0)
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        uint32_t ai = (uint32_t)(c->plan.narenas - 1);
        if (ar.lock != 0 && !c->mid[0])
            snprintf(c->mid, sizeof c->mid, "arena %u was locked", ar.index);

        uint64_t s = (uint64_t)(uintptr_t)ar.segments;
        uint64_t *seen = NULL;
        size_t nseen = 0;
        while (s) {
            if (nseen >= MAX_SEGS) {
                hv_problem(snap, s, "arena %u: more than %d segments (list not followed further)", ar.index, MAX_SEGS);
                break;
            }
            if (contains(seen, nseen, s)) {
                hv_problem(snap, s, "arena %u: segment list has a cycle", ar.index);
                break;
            }
            struct la_segment sg;
            if ((s & 15) || readable_from(c, s, sizeof sg) < sizeof sg ||
                hv_source_read(c->src, s, &sg, sizeof sg) != (ssize_t)sizeof sg) {
                hv_problem(snap, s, "arena %u: segment pointer 0x%llx outside mapped memory", ar.index,
                           (unsigned long long)s);
                break;
            }
            if (push64(&seen, &nseen, s) < 0) {
                free(seen);
                return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
            }
            uint64_t size = sg.size;
            if (size < sizeof sg || size > MAX_SEG_BYTES || s + size < s || sg.chunks < s ||
                sg.chunks > s + size || (sg.chunks & 15)) {
                hv_problem(snap, s, "arena %u: segment descriptor corrupted (size 0x%llx, chunks 0x%llx)",
                           ar.index, (unsigned long long)size, (unsigned long long)sg.chunks);
                /* keep the descriptor so the segment is listed, but copy nothing more */
                if (img_add(&c->img, c->src, s, sizeof sg) < 0) {
                    free(seen);
                    return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
                }
                size = sizeof sg;
            } else {
                uint64_t can = readable_from(c, s, size);
                if (can < size)
                    hv_problem(snap, s, "arena %u: segment 0x%llx claims 0x%llx bytes but only 0x%llx are mapped",
                               ar.index, (unsigned long long)s, (unsigned long long)size,
                               (unsigned long long)can);
                int64_t got = img_add(&c->img, c->src, s, can);
                if (got < 0) {
                    free(seen);
                    return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
                }
                size = (uint64_t)got;
            }
            struct hv_plan_seg ps = { s, size, ai, nseen == 1 };
            if ((c->plan.nsegs & (c->plan.nsegs - 1)) == 0) {
                size_t cap = c->plan.nsegs ? 2 * c->plan.nsegs : 8;
                struct hv_plan_seg *p = realloc(c->plan.segs, cap * sizeof *p);
                if (!p) {
                    free(seen);
                    return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
                }
                c->plan.segs = p;
            }
            c->plan.segs[c->plan.nsegs++] = ps;
            s = (uint64_t)(uintptr_t)sg.prev;
        }
        free(seen);
        a = (uint64_t)(uintptr_t)ar.next;
    }

    /* tcaches: a visited check by a sorted copy would cost more than it saves here;
     * the count bound and a Brent cycle check keep it finite. */
    uint64_t t = (uint64_t)(uintptr_t)d->tcaches, power = 1, lam = 0, mark = t;
    while (t) {
        if (c->plan.ntcaches >= MAX_TCACHES) {
            hv_problem(snap, t, "tcache registry: more than %u entries (not followed further)", MAX_TCACHES);
            break;
        }
        struct la_tcache tc;
        size_t tsz = d->layout.sizeof_tcache;   /* sizeof tc, or the smaller one before ABI 3 */
        if ((t & 7) || readable_from(c, t, tsz) < tsz || img_add(&c->img, c->src, t, tsz) != (int64_t)tsz) {
            hv_problem(snap, t, "tcache registry: pointer 0x%llx outside mapped memory", (unsigned long long)t);
            break;
        }
        memcpy(&tc, c->img.r[c->img.n - 1].data, LA_TCACHE_V2_SIZE);  /* next is in the common part */
        if (push64(&c->plan.tcaches, &c->plan.ntcaches, t) < 0)
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        t = (uint64_t)(uintptr_t)tc.next;
        if (t == mark) {
            hv_problem(snap, t, "tcache registry: cycle");
            break;
        }
        if (++lam == power) {
            mark = t;
            power *= 2;
            lam = 0;
        }
    }

    /* mmap registry */
    uint64_t cap = d->mmaps.capacity, slots = (uint64_t)(uintptr_t)d->mmaps.slots;
    if (cap) {
        if (cap > MAX_MMAP_SLOTS || (cap & (cap - 1)) || (slots & 7) ||
            readable_from(c, slots, cap * 8) < cap * 8) {
            hv_problem(snap, slots, "mmap registry: table at 0x%llx with capacity %llu is not readable",
                       (unsigned long long)slots, (unsigned long long)cap);
        } else {
            uint64_t *tab = malloc(cap * 8);
            if (!tab)
                return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
            if (hv_source_read(c->src, slots, tab, cap * 8) != (ssize_t)(cap * 8)) {
                hv_problem(snap, slots, "mmap registry: table not readable");
            } else {
                for (uint64_t i = 0; i < cap; i++) {
                    if (tab[i] <= 1)
                        continue;
                    c->plan.slots_used++;
                    uint64_t m = tab[i];
                    if ((m & 15) || readable_from(c, m, 16) < 16 || img_add(&c->img, c->src, m, 16) != 16) {
                        hv_problem(snap, m, "munmap_chunk(): invalid pointer (mmap registry entry 0x%llx is not "
                                   "mapped)", (unsigned long long)m);
                        continue;
                    }
                    if (push64(&c->plan.mmaps, &c->plan.nmmaps, m) < 0) {
                        free(tab);
                        return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
                    }
                }
            }
            free(tab);
        }
    }

    /* consistency */
    if (d->registry_lock != 0 && !c->mid[0])
        snprintf(c->mid, sizeof c->mid, "the registry lock was held");
    if ((d->generation & 1) && !c->mid[0])
        snprintf(c->mid, sizeof c->mid, "generation %llu is odd (a registry was changing)",
                 (unsigned long long)d->generation);
    const struct hv_thread *th;
    size_t nth;
    if (hv_source_threads(c->src, &th, &nth, err) < 0)
        return -1;
    free(snap->threads);
    snap->threads = NULL;
    snap->nthreads = 0;
    if (nth) {
        snap->threads = malloc(nth * sizeof *th);
        if (!snap->threads)
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        memcpy(snap->threads, th, nth * sizeof *th);
        snap->nthreads = nth;
    }
    for (size_t i = 0; i < nth && !c->mid[0]; i++)
        if (d->text_start < d->text_end && th[i].ip >= d->text_start && th[i].ip < d->text_end)
            snprintf(c->mid, sizeof c->mid, "thread %llu was inside liballoc (ip 0x%llx)",
                     (unsigned long long)th[i].tid, (unsigned long long)th[i].ip);
    return 0;
}

/* Bytes the next copy will need, read while the target runs (so only a size
 * hint: racy reads are harmless here).  Bounded like the real copy. */
static uint64_t estimate(struct hv_source *src)
{
    struct la_debug d;
    uint64_t da = hv_source_debug_addr(src), total = 0;
    if (hv_source_read(src, da, &d, sizeof d) != (ssize_t)sizeof d || d.magic != LA_DEBUG_MAGIC)
        return 0;
    total += sizeof d + d.ntcaches * sizeof(struct la_tcache) + d.mmaps.capacity * 8 + d.mmaps.count * 16;
    uint64_t a = (uint64_t)(uintptr_t)d.main_arena;
    for (int na = 0; a && na < 256; na++) {
        struct la_arena ar;             /* the prefix every ABI version has */
        if (hv_source_read(src, a, &ar, LA_ARENA_SIZE_V3) != (ssize_t)LA_ARENA_SIZE_V3)
            break;
        total += sizeof ar;
        uint64_t sg = (uint64_t)(uintptr_t)ar.segments;
        for (int ns = 0; sg && ns < 1024; ns++) {
            struct la_segment seg;
            if (hv_source_read(src, sg, &seg, sizeof seg) != (ssize_t)sizeof seg)
                break;
            if (seg.size <= MAX_SEG_BYTES)
                total += seg.size + 16;
            sg = (uint64_t)(uintptr_t)seg.prev;
        }
        a = (uint64_t)(uintptr_t)ar.next;
    }
    return total;
}

/* For a live target: map and pre-fault a buffer for the copy, so that the time
 * the target is stopped is spent copying, not taking page faults. */
static void make_pool(struct ctx *c)
{
    if (hv_source_kind(c->src) != HV_SOURCE_LIVE)
        return;
    uint64_t est = estimate(c->src);
    if (est < (1u << 20) || est > (64ull << 30))
        return;                     /* small heaps: malloc is fine */
    size_t len = (size_t)(est + est / 4 + (4u << 20));
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        return;
    c->img.pool = p;
    c->img.pool_len = len;
    c->img.pool_used = 0;
}

/* Is liballoc in the middle of something right now (target stopped)?  Reads only
 * the metadata's generation and lock words and the threads' IPs. */
static int busy(struct hv_source *src)
{
    struct la_debug d;
    struct hv_error err;
    uint64_t da = hv_source_debug_addr(src);
    if (hv_source_read(src, da, &d, sizeof d) != (ssize_t)sizeof d || d.magic != LA_DEBUG_MAGIC)
        return 0;                   /* let the full copy report it */
    if ((d.generation & 1) || d.registry_lock)
        return 1;
    uint64_t a = (uint64_t)(uintptr_t)d.main_arena;
    for (int n = 0; a && n < MAX_ARENAS; n++) {
        struct la_arena ar;             /* the prefix every ABI version has */
        if (hv_source_read(src, a, &ar, LA_ARENA_SIZE_V3) != (ssize_t)LA_ARENA_SIZE_V3)
            break;
        if (ar.lock)
            return 1;
        a = (uint64_t)(uintptr_t)ar.next;
    }
    const struct hv_thread *th;
    size_t nth;
    if (hv_source_threads(src, &th, &nth, &err) < 0)
        return 0;
    for (size_t i = 0; i < nth; i++)
        if (d.text_start < d.text_end && th[i].ip >= d.text_start && th[i].ip < d.text_end)
            return 1;
    return 0;
}

static void reset_ctx(struct ctx *c)
{
    img_free(&c->img);
    plan_free(&c->plan);
    c->mid[0] = 0;
    struct hv_snapshot *s = c->snap;
    free(s->problems);
    s->problems = NULL;
    s->nproblems = 0;
}

struct hv_snapshot *hv_snapshot_take(struct hv_source *src, const struct hv_snapshot_opts *opts_in,
                                     struct hv_error *err)
{
    struct hv_snapshot_opts opts = { 50, 100, (size_t)1 << 26, (size_t)1 << 22 };
    if (opts_in) {
        opts = *opts_in;
        if (!opts.max_chunks)
            opts.max_chunks = (size_t)1 << 26;
        if (!opts.max_list)
            opts.max_list = (size_t)1 << 22;
    }
    uint64_t t0 = hv_now_ns();
    struct hv_snapshot *snap = calloc(1, sizeof *snap);
    struct ctx c;
    memset(&c, 0, sizeof c);
    if (!snap) {
        hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    c.src = src;
    c.snap = snap;
    const char *hold = getenv("HEAPVIEW_HOLD_MS");
    unsigned hold_ms = hold ? (unsigned)strtoul(hold, NULL, 10) : 0;
    if (hold_ms > 600000)
        hold_ms = 600000;
    /* Stop; if liballoc is busy (cheap check: lock words, generation, thread IPs),
     * resume at once and try again a little later; copy only when it is idle, or
     * after opts.retries tries (then the snapshot is marked mid-operation).  A core
     * cannot change, so it is copied as it is. */
    int live = hv_source_kind(src) == HV_SOURCE_LIVE;
    reset_ctx(&c);
    make_pool(&c);
    for (unsigned attempt = 0;; attempt++) {
        if (hv_source_stop(src, err) < 0)
            goto fail;
        snap->attempts = attempt + 1;
        if (live && attempt < opts.retries && busy(src)) {
            hv_source_resume(src);
            usleep(opts.retry_delay_us * (1 + attempt % 8));
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snap->taken_at_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
        int rc = copy_all(&c, err);
        if (hold_ms)        /* testing aid: HEAPVIEW_HOLD_MS keeps the target stopped longer */
            usleep((useconds_t)hold_ms * 1000);
        hv_source_resume(src);
        snap->stop_ns = hv_source_last_stop_ns(src);
        if (rc < 0)
            goto fail;
        break;
    }
    if (c.mid[0]) {
        snap->mid_operation = 1;
        snprintf(snap->mid_reason, sizeof snap->mid_reason, "%s", c.mid);
    }
    snprintf(snap->source, sizeof snap->source, "%s", hv_source_describe(src));
    snap->source_kind = hv_source_kind(src);
    snap->pid = hv_source_pid(src);
    snap->debug_addr = hv_source_debug_addr(src);
    snprintf(snap->debug_how, sizeof snap->debug_how, "%s", hv_source_debug_how(src));
    snap->abi_version = c.plan.dbg.abi_version;
    snap->compat_version = c.plan.dbg.compat_version;
    snap->generation = c.plan.dbg.generation;
    snap->initialized = c.plan.dbg.initialized != 0;
    snap->tunables = c.plan.dbg.tunables;
    snap->mstats = c.plan.dbg.mstats;
    snap->copied_bytes = c.img.bytes;

    img_sort(&c.img);
    struct hv_image *img = malloc(sizeof *img);
    if (!img) {
        hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        goto fail;
    }
    *img = c.img;
    memset(&c.img, 0, sizeof c.img);
    snap->priv = img;
    if (hv_walk(snap, img, &c.plan, &opts) < 0) {
        hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        goto fail;
    }
    plan_free(&c.plan);
    snap->take_ns = hv_now_ns() - t0;
    return snap;
fail:
    img_free(&c.img);
    plan_free(&c.plan);
    hv_snapshot_free(snap);
    return NULL;
}

void hv_snapshot_free(struct hv_snapshot *snap)
{
    if (!snap)
        return;
    if (snap->priv) {
        img_free(snap->priv);
        free(snap->priv);
    }
    free(snap->arenas);
    free(snap->segments);
    free(snap->chunks);
    free(snap->mmapped);
    free(snap->binents);
    free(snap->tcaches);
    free(snap->threads);
    free(snap->problems);
    free(snap->ops);
    free(snap->sites);
    free(snap->frames);
    free(snap->regions);
    free(snap);
}

/* ---- queries ---------------------------------------------------------------------- */

const void *hv_snapshot_bytes(const struct hv_snapshot *snap, uint64_t addr, size_t len)
{
    if (!snap->priv)
        return NULL;
    return hv_img_get(snap->priv, addr, len);
}

size_t hv_chunks_upper(const struct hv_chunk *a, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct hv_chunk *search(const struct hv_chunk *a, size_t n, uint64_t addr)
{
    size_t lo = hv_chunks_upper(a, n, addr);
    if (lo == 0)
        return NULL;
    const struct hv_chunk *c = &a[lo - 1];
    return addr < c->addr + (c->size ? c->size : 1) ? c : NULL;
}

const struct hv_chunk *hv_snapshot_find_chunk(const struct hv_snapshot *snap, uint64_t addr)
{
    for (size_t i = 0; i < snap->nsegments; i++) {
        const struct hv_segment *s = &snap->segments[i];
        if (addr >= s->addr && addr < s->end && s->nchunks)
            return search(snap->chunks + s->first_chunk, s->nchunks, addr);
    }
    return search(snap->mmapped, snap->nmmapped, addr);
}

size_t hv_snapshot_diff(const struct hv_snapshot *older, struct hv_snapshot *newer)
{
    size_t changed = 0;
    for (int pass = 0; pass < 2; pass++) {
        struct hv_chunk *arr = pass ? newer->mmapped : newer->chunks;
        size_t n = pass ? newer->nmmapped : newer->nchunks;
        for (size_t i = 0; i < n; i++) {
            struct hv_chunk *c = &arr[i];
            c->change = HV_SAME;
            if (!older)
                continue;
            const struct hv_chunk *o = hv_snapshot_find_chunk(older, c->addr);
            if (!o || o->addr != c->addr)
                c->change = HV_NEW;
            else if (o->size != c->size || o->state != c->state || o->bin != c->bin ||
                     o->bin_index != c->bin_index)
                c->change = HV_CHANGED;
            changed += c->change != HV_SAME;
        }
    }
    return changed;
}

const char *hv_state_name(unsigned state)
{
    static const char *const n[] = { "inuse", "free", "top", "mmapped" };
    return state < 4 ? n[state] : "?";
}

const char *hv_bin_name(unsigned kind)
{
    static const char *const n[] = { NULL, "tcache", "fast", "unsorted", "small", "large", "remote", "bigcache" };
    return kind < 8 ? n[kind] : NULL;
}
