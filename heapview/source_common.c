/*
 * heapview/source_common.c - dispatch of the source interface and the helpers both
 * sources share (region table, thread table, magic scan).  No ptrace, no libelf.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "debug_abi.h"
#include "source_impl.h"

int hv_fail(struct hv_error *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return -1;
}

uint64_t hv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum hv_source_kind hv_source_kind(const struct hv_source *src) { return src->kind; }
pid_t hv_source_pid(const struct hv_source *src) { return src->pid; }
const char *hv_source_describe(const struct hv_source *src) { return src->describe; }
uint64_t hv_source_debug_addr(const struct hv_source *src) { return src->debug_addr; }
const char *hv_source_debug_how(const struct hv_source *src) { return src->debug_how; }
uint64_t hv_source_last_stop_ns(const struct hv_source *src) { return src->last_stop_ns; }

int hv_source_stop(struct hv_source *src, struct hv_error *err) { return src->ops->stop(src, err); }
void hv_source_resume(struct hv_source *src) { src->ops->resume(src); }
int hv_source_alive(struct hv_source *src) { return src->ops->alive(src); }

void hv_source_close(struct hv_source *src)
{
    if (src)
        src->ops->close(src);
}

ssize_t hv_source_read(struct hv_source *src, uint64_t addr, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (addr + len < addr)
        return 0;
    return src->ops->read(src, addr, buf, len);
}

int hv_source_regions(struct hv_source *src, const struct hv_region **out, size_t *n,
                      struct hv_error *err)
{
    if (src->ops->regions(src, err) < 0)
        return -1;
    *out = src->regions;
    *n = src->nregions;
    return 0;
}

int hv_source_threads(struct hv_source *src, const struct hv_thread **out, size_t *n,
                      struct hv_error *err)
{
    if (src->ops->threads(src, err) < 0)
        return -1;
    *out = src->threads;
    *n = src->nthreads;
    return 0;
}

int hv_src_add_region(struct hv_source *src, const struct hv_region *r)
{
    if (src->nregions == src->cap_regions) {
        size_t cap = src->cap_regions ? 2 * src->cap_regions : 64;
        struct hv_region *p = realloc(src->regions, cap * sizeof *p);
        if (!p)
            return -1;
        src->regions = p;
        src->cap_regions = cap;
    }
    src->regions[src->nregions++] = *r;
    return 0;
}

int hv_src_add_thread(struct hv_source *src, const struct hv_thread *t)
{
    if (src->nthreads == src->cap_threads) {
        size_t cap = src->cap_threads ? 2 * src->cap_threads : 16;
        struct hv_thread *p = realloc(src->threads, cap * sizeof *p);
        if (!p)
            return -1;
        src->threads = p;
        src->cap_threads = cap;
    }
    src->threads[src->nthreads++] = *t;
    return 0;
}

static int region_cmp(const void *a, const void *b)
{
    const struct hv_region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void hv_src_sort_regions(struct hv_source *src)
{
    if (src->nregions > 1)
        qsort(src->regions, src->nregions, sizeof *src->regions, region_cmp);
}

void hv_src_free_common(struct hv_source *src)
{
    free(src->regions);
    free(src->threads);
    src->regions = NULL;
    src->threads = NULL;
    src->nregions = src->nthreads = 0;
}

const struct hv_region *hv_region_find(const struct hv_region *r, size_t n, uint64_t addr,
                                       uint64_t len)
{
    if (addr + len < addr)
        return NULL;
    size_t lo = 0, hi = n;
    while (lo < hi) {               /* first region with start > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct hv_region *g = &r[lo - 1];
    if (addr >= g->start && addr + len <= g->end)
        return g;
    return NULL;
}

int hv_src_magic_at(struct hv_source *src, uint64_t addr)
{
    uint64_t m = 0;
    if (addr == 0 || (addr & 7))
        return 0;
    if (hv_source_read(src, addr, &m, sizeof m) != (ssize_t)sizeof m)
        return 0;
    return m == LA_DEBUG_MAGIC;
}

uint64_t hv_src_scan_magic(struct hv_source *src)
{
    enum { WIN = 1 << 20 };
    unsigned char *buf = malloc(WIN);
    uint64_t found = 0;
    if (!buf)
        return 0;
    for (size_t i = 0; i < src->nregions && !found; i++) {
        const struct hv_region *r = &src->regions[i];
        if (!(r->prot & HV_PROT_W) || !(r->prot & HV_PROT_R) || !r->readable)
            continue;
        for (uint64_t a = r->start; a < r->end && !found; a += WIN) {
            size_t want = r->end - a < WIN ? (size_t)(r->end - a) : WIN;
            ssize_t got = hv_source_read(src, a, buf, want);
            if (got <= 0)
                break;
            for (size_t off = 0; off + sizeof(struct la_debug) <= (size_t)got; off += 8) {
                uint64_t m;
                memcpy(&m, buf + off, 8);
                if (m != LA_DEBUG_MAGIC)
                    continue;
                struct la_debug d;
                memcpy(&d, buf + off, sizeof d);
                if (d.ptr_size == 8 && d.abi_version >= 1 && d.size >= 24) {
                    found = a + off;
                    break;
                }
            }
            if ((size_t)got < want)
                break;
        }
    }
    free(buf);
    return found;
}
