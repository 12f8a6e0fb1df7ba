/*
 * heapview/trace.c - copying liballoc's trace block (history ring, allocation
 * sites) into a snapshot, and putting operations into words.
 *
 * Data flow: hv_snapshot_take() -> copy_all() (target stopped) -> hv_trace_copy():
 * reads struct la_trace at liballoc_debug + LA_TRACE_OFFSET when the target's
 * ABI is 2 or later, then the history ring (one bulk read; records kept only
 * when their seq maps to their slot, sorted oldest first into snap->ops) and the
 * site table (one bulk read; live keys kept, sorted by pointer into snap->sites
 * with their frames in snap->frames).  Everything is bounded and checked: a torn
 * or corrupted table drops records and adds a problem, never crashes.  The
 * reports (report.c), the JSON dump and the UI only read these arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "snapshot_impl.h"

#define MAX_HIST  (1u << 22)        /* records read from the ring */
#define MAX_SITES (1u << 24)        /* slots read from the site table */

static int cmp_op(const void *a, const void *b)
{
    const struct la_op *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_site(const void *a, const void *b)
{
    const struct hv_site *x = a, *y = b;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr;
}

int hv_trace_copy(struct hv_source *src, uint64_t da, const struct la_debug *d, struct hv_snapshot *snap)
{
    memset(&snap->trace, 0, sizeof snap->trace);
    if (d->abi_version < 2 || d->size < LA_TRACE_OFFSET + sizeof(struct la_trace))
        return 0;
    struct la_trace *t = &snap->trace;
    if (hv_source_read(src, da + LA_TRACE_OFFSET, t, sizeof *t) != (ssize_t)sizeof *t) {
        memset(t, 0, sizeof *t);
        hv_problem(snap, da + LA_TRACE_OFFSET, "trace block unreadable");
        return 0;
    }
    if (t->hist && t->hist_cap && (t->flags & LA_TRACE_HISTORY)) {
        uint64_t cap = t->hist_cap;
        if (cap > MAX_HIST) {
            hv_problem(snap, t->hist, "history ring of %llu records: only the first %u read",
                       (unsigned long long)cap, MAX_HIST);
            cap = MAX_HIST;
        }
        struct la_op *ring = malloc(cap * sizeof *ring);
        if (!ring)
            return -1;
        ssize_t got = hv_source_read(src, t->hist, ring, cap * sizeof *ring);
        if (got < (ssize_t)(cap * sizeof *ring)) {
            hv_problem(snap, t->hist, "history ring unreadable after %zd bytes", got);
            cap = got > 0 ? (uint64_t)got / sizeof *ring : 0;
        }
        size_t n = 0;
        for (uint64_t i = 0; i < cap; i++)
            if (ring[i].seq && ring[i].seq <= t->seq && (ring[i].seq - 1) % t->hist_cap == i)
                ring[n++] = ring[i];
        qsort(ring, n, sizeof *ring, cmp_op);
        snap->ops = ring;
        snap->nops = n;
    }
    if (t->sites && t->site_cap && (t->flags & LA_TRACE_SITES)) {
        uint64_t cap = t->site_cap, stride = t->site_stride, depth = t->site_depth;
        if (depth > LA_SITE_MAX_DEPTH || stride != 24 + 8 * depth || (cap & (cap - 1)) || cap > MAX_SITES) {
            hv_problem(snap, t->sites, "site table has an impossible shape (%llu slots of %llu bytes, depth %llu)",
                       (unsigned long long)cap, (unsigned long long)stride, (unsigned long long)depth);
            return 0;
        }
        uint64_t *tab = malloc(cap * stride);
        if (!tab)
            return -1;
        ssize_t got = hv_source_read(src, t->sites, tab, cap * stride);
        if (got < (ssize_t)(cap * stride)) {
            hv_problem(snap, t->sites, "site table unreadable after %zd bytes", got);
            cap = got > 0 ? (uint64_t)got / stride : 0;
        }
        size_t live = 0, nfr = 0, w = stride / 8;
        for (uint64_t i = 0; i < cap; i++)
            if (tab[i * w] > LA_SITE_DELETED) {
                live++;
                for (size_t k = 0; k < depth && tab[i * w + 3 + k]; k++)
                    nfr++;
            }
        snap->sites = calloc(live ? live : 1, sizeof *snap->sites);
        snap->frames = calloc(nfr ? nfr : 1, sizeof *snap->frames);
        if (!snap->sites || !snap->frames) {
            free(tab);
            return -1;
        }
        size_t ns = 0;
        nfr = 0;
        for (uint64_t i = 0; i < cap; i++) {
            const uint64_t *s = tab + i * w;
            if (s[0] <= LA_SITE_DELETED)
                continue;
            struct hv_site *h = &snap->sites[ns++];
            h->ptr = s[0];
            h->req = s[1];
            h->seq = s[2];
            h->first = (uint32_t)nfr;
            for (size_t k = 0; k < depth && s[3 + k]; k++)
                snap->frames[nfr++] = s[3 + k];
            h->nframes = (uint32_t)(nfr - h->first);
        }
        free(tab);
        qsort(snap->sites, ns, sizeof *snap->sites, cmp_site);
        snap->nsites = ns;
        snap->nframes = nfr;
    }
    return 0;
}

const struct hv_site *hv_site_find(const struct hv_snapshot *snap, uint64_t ptr)
{
    size_t lo = 0, hi = snap->nsites;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (snap->sites[mid].ptr < ptr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < snap->nsites && snap->sites[lo].ptr == ptr ? &snap->sites[lo] : NULL;
}

const struct la_op *hv_history_find(const struct hv_snapshot *snap, uint64_t ptr, unsigned call, uint64_t before)
{
    for (size_t i = snap->nops; i-- > 0;) {
        const struct la_op *o = &snap->ops[i];
        if (before && o->seq >= before)
            continue;
        if (call && o->call != call)
            continue;
        int names = o->result == ptr || ((o->call == LA_OP_FREE || o->call == LA_OP_REALLOC) && o->arg0 == ptr);
        if (names)
            return o;
    }
    return NULL;
}

const char *hv_call_name(unsigned call)
{
    static const char *const n[] = { "?", "malloc", "free", "calloc", "realloc", "memalign" };
    return call < sizeof n / sizeof n[0] ? n[call] : "?";
}

#define X(v) ((unsigned long long)(v))

void hv_op_call_text(const struct la_op *o, char *buf, size_t len)
{
    switch (o->call) {
    case LA_OP_MALLOC:
        snprintf(buf, len, "malloc(%llu) = 0x%llx", X(o->arg0), X(o->result));
        break;
    case LA_OP_FREE:
        snprintf(buf, len, "free(0x%llx)", X(o->arg0));
        break;
    case LA_OP_CALLOC:
        snprintf(buf, len, "calloc(%llu, %llu) = 0x%llx", X(o->arg0), X(o->arg1), X(o->result));
        break;
    case LA_OP_REALLOC:
        snprintf(buf, len, "realloc(0x%llx, %llu) = 0x%llx", X(o->arg0), X(o->arg1), X(o->result));
        break;
    case LA_OP_MEMALIGN:
        snprintf(buf, len, "memalign(%llu, %llu) = 0x%llx", X(o->arg0), X(o->arg1), X(o->result));
        break;
    default:
        snprintf(buf, len, "operation %u", o->call);
    }
}

void hv_op_path_text(const struct la_op *o, uint64_t tcache_count, char *buf, size_t len)
{
    char extra[64] = "";
    if (o->flags & LA_OPF_CONSOLIDATED)
        snprintf(extra, sizeof extra, "; consolidated fastbins");
    switch (o->path) {
    case LA_PATH_TCACHE_HIT:
        snprintf(buf, len, "size 0x%llx -> tcache bin %u hit (%u of %llu left)%s", X(o->csize), o->bin, o->count,
                 X(tcache_count), extra);
        break;
    case LA_PATH_TCACHE_PUT:
        snprintf(buf, len, "size 0x%llx -> tcache bin %u (%u of %llu)%s", X(o->csize), o->bin, o->count,
                 X(tcache_count), extra);
        break;
    case LA_PATH_FAST_PUT:
        snprintf(buf, len, "size 0x%llx: tcache full -> fastbin %u%s", X(o->csize), o->bin, extra);
        break;
    case LA_PATH_FAST_HIT:
        snprintf(buf, len, "request 0x%llx -> fastbin %u%s", X(o->csize), o->bin, extra);
        break;
    case LA_PATH_SMALL_HIT:
        snprintf(buf, len, "request 0x%llx -> small bin %u, exact fit%s", X(o->csize), o->bin, extra);
        break;
    case LA_PATH_UNSORTED_EXACT:
        snprintf(buf, len, "request 0x%llx -> unsorted scan, exact fit%s", X(o->csize), extra);
        break;
    case LA_PATH_LAST_REMAINDER:
        snprintf(buf, len, "request 0x%llx -> split last remainder 0x%llx: 0x%llx to caller, remainder 0x%llx "
                 "to unsorted%s", X(o->csize), X(o->chunk), X(o->csize), X(o->aux0), extra);
        break;
    case LA_PATH_SPLIT:
        snprintf(buf, len, "split chunk 0x%llx: 0x%llx to caller, remainder 0x%llx to unsorted%s", X(o->chunk),
                 X(o->csize), X(o->aux0), extra);
        break;
    case LA_PATH_BIN_FIT:
        snprintf(buf, len, "request 0x%llx -> bin %u, best fit used whole%s", X(o->csize), o->bin, extra);
        break;
    case LA_PATH_TOP:
        snprintf(buf, len, "request 0x%llx -> carved from top%s", X(o->csize), extra);
        break;
    case LA_PATH_TOP_EXTENDED:
        snprintf(buf, len, "request 0x%llx -> top extended by 0x%llx%s", X(o->csize), X(o->aux0), extra);
        break;
    case LA_PATH_MMAP:
        snprintf(buf, len, "request 0x%llx -> mmapped 0x%llx", X(o->csize), X(o->aux0));
        break;
    case LA_PATH_MUNMAP:
        snprintf(buf, len, "munmapped 0x%llx", X(o->aux0));
        break;
    case LA_PATH_FREE_UNSORTED:
        snprintf(buf, len, "size 0x%llx -> coalesced to 0x%llx in unsorted%s", X(o->csize), X(o->aux0), extra);
        break;
    case LA_PATH_FREE_TOP:
        snprintf(buf, len, "size 0x%llx -> merged into top (now 0x%llx)%s", X(o->csize), X(o->aux0), extra);
        break;
    case LA_PATH_REALLOC_INPLACE:
        snprintf(buf, len, "resized in place to 0x%llx%s", X(o->csize), extra);
        break;
    case LA_PATH_REALLOC_MOVED:
        snprintf(buf, len, "moved: new chunk of 0x%llx, old one freed%s", X(o->csize), extra);
        break;
    default:
        snprintf(buf, len, "%s", extra[0] ? extra + 2 : "-");
    }
}
