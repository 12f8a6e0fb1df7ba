/*
 * heapview/report.c - the batch reports built on the trace data of a snapshot:
 * --leaks (live chunks grouped by allocation site), --leaks=collapsed (flame
 * graph input), --diff A B (two snapshots compared chunk by chunk and per
 * site), --explain ADDRESS (which chunk holds an address, its bin and why, and
 * what points to it) and --history (the operation timeline).
 *
 * Data flow: main.c takes one snapshot per source (snapshot.h), which carries
 * the chunks, the allocation sites (hv_site, by user pointer), the history ring
 * (struct la_op) and the mappings; this file only reads it and symbolises code
 * addresses with symbols.c.  Grouping is by the whole recorded stack, so two
 * call sites in different functions never merge; a live chunk with no recorded
 * site (sites not enabled, or allocated while liballoc was recording another
 * call) is counted under "(no site recorded)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "symbols.h"

#define X(v) ((unsigned long long)(v))

/* ---- grouping live chunks by site ---------------------------------------------- */

struct hv_live {                /* one live chunk */
    uint64_t addr, size, ptr;
    const struct hv_site *site;
};

struct hv_group {
    const struct hv_site *site; /* representative (NULL: no site) */
    uint64_t req, bytes, count, oldest;
    int64_t d_req, d_bytes, d_count;  /* diff: growth */
};

static int same_stack(const struct hv_snapshot *sa, const struct hv_site *a, const struct hv_snapshot *sb,
                      const struct hv_site *b)
{
    if (!a || !b)
        return a == b;
    if (a->nframes != b->nframes)
        return 0;
    return memcmp(sa->frames + a->first, sb->frames + b->first, a->nframes * sizeof(uint64_t)) == 0;
}

static size_t collect_live(const struct hv_snapshot *s, struct hv_live **out)
{
    size_t n = 0;
    struct hv_live *l = malloc((s->nchunks + s->nmmapped + 1) * sizeof *l);
    if (!l) {
        *out = NULL;
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        const struct hv_chunk *arr = pass ? s->mmapped : s->chunks;
        size_t na = pass ? s->nmmapped : s->nchunks;
        for (size_t i = 0; i < na; i++) {
            const struct hv_chunk *c = &arr[i];
            if ((c->state != HV_INUSE && c->state != HV_MMAPPED) || (c->flags & HV_CF_FENCEPOST))
                continue;
            l[n].addr = c->addr;
            l[n].size = c->size;
            l[n].ptr = hv_chunk_user(c);
            l[n].site = hv_site_find(s, l[n].ptr);
            n++;
        }
    }
    *out = l;
    return n;
}

static struct hv_group *group_of(struct hv_group **g, size_t *ng, const struct hv_snapshot *s,
                                 const struct hv_site *site)
{
    for (size_t i = 0; i < *ng; i++)
        if (same_stack(s, (*g)[i].site, s, site))
            return &(*g)[i];
    struct hv_group *ng2 = realloc(*g, (*ng + 1) * sizeof *ng2);
    if (!ng2)
        return NULL;
    *g = ng2;
    struct hv_group *r = &ng2[(*ng)++];
    memset(r, 0, sizeof *r);
    r->site = site;
    r->oldest = UINT64_MAX;
    return r;
}

static int cmp_group(const void *a, const void *b)
{
    const struct hv_group *x = a, *y = b;
    if (!x->site != !y->site)
        return x->site ? -1 : 1;            /* "no site" last */
    if (x->req != y->req)
        return x->req > y->req ? -1 : 1;
    return x->oldest < y->oldest ? -1 : x->oldest > y->oldest;
}

static void print_stack(FILE *f, struct hv_symbols *sym, const struct hv_snapshot *s, const struct hv_site *site,
                        const char *indent)
{
    char buf[512];
    if (!site) {
        fprintf(f, "%s(no site recorded)\n", indent);
        return;
    }
    if (!site->nframes)
        fprintf(f, "%s(empty stack)\n", indent);
    for (uint32_t k = 0; k < site->nframes; k++)
        fprintf(f, "%s%s\n", indent, hv_symbol_text(sym, s->frames[site->first + k], buf, sizeof buf));
}

static void collapsed_line(FILE *f, struct hv_symbols *sym, const struct hv_snapshot *s, const struct hv_site *site,
                           uint64_t value)
{
    char buf[512];
    if (!site || !site->nframes) {
        fprintf(f, "(no site recorded) %llu\n", X(value));
        return;
    }
    for (uint32_t k = site->nframes; k-- > 0;) {
        hv_symbol_function(sym, s->frames[site->first + k], buf, sizeof buf);
        for (char *p = buf; *p; p++)
            if (*p == ';' || *p == ' ')
                *p = '_';
        fprintf(f, "%s%s", buf, k ? ";" : "");
    }
    fprintf(f, " %llu\n", X(value));
}

int hv_report_leaks(FILE *f, const struct hv_snapshot *s, const struct hv_report_opts *o)
{
    if (!(s->trace.flags & LA_TRACE_SITES))
        fprintf(f, "# allocation sites were not recorded (run the program with LIBALLOC_OPTIONS=sites=8)\n");
    struct hv_live *live;
    size_t nl = collect_live(s, &live);
    struct hv_group *g = NULL;
    size_t ng = 0;
    uint64_t treq = 0, tbytes = 0, tcount = 0;
    for (size_t i = 0; i < nl; i++) {
        const struct hv_site *site = live[i].site;
        if (o && o->since && (!site || site->seq <= o->since))
            continue;
        struct hv_group *gr = group_of(&g, &ng, s, site);
        if (!gr) {
            free(live);
            free(g);
            return -1;
        }
        uint64_t req = site ? site->req : 0;
        gr->req += req;
        gr->bytes += live[i].size;
        gr->count++;
        if (site && site->seq < gr->oldest)
            gr->oldest = site->seq;
        treq += req;
        tbytes += live[i].size;
        tcount++;
    }
    if (ng)
        qsort(g, ng, sizeof *g, cmp_group);
    struct hv_symbols *sym = hv_symbols_new(s->regions, s->nregions);
    if (o && o->collapsed) {
        for (size_t i = 0; i < ng; i++)
            collapsed_line(f, sym, s, g[i].site, g[i].site ? g[i].req : g[i].bytes);
    } else {
        fprintf(f, "live chunks by allocation site%s: %llu sites, %llu chunks, %llu bytes requested, "
                "%llu chunk bytes\n", o && o->since ? " (allocated since the mark)" : "",
                X(ng), X(tcount), X(treq), X(tbytes));
        for (size_t i = 0; i < ng; i++) {
            if (g[i].site)
                fprintf(f, "site %zu: %llu bytes requested, %llu chunk bytes, %llu chunks, oldest #%llu\n", i + 1,
                        X(g[i].req), X(g[i].bytes), X(g[i].count), X(g[i].oldest));
            else
                fprintf(f, "site %zu: %llu chunk bytes, %llu chunks (request sizes unknown)\n", i + 1,
                        X(g[i].bytes), X(g[i].count));
            print_stack(f, sym, s, g[i].site, "    ");
        }
    }
    hv_symbols_free(sym);
    free(live);
    free(g);
    return 0;
}

/* ---- diff ----------------------------------------------------------------------------- */

static int cmp_live(const void *a, const void *b)
{
    const struct hv_live *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static const struct hv_live *find_live(const struct hv_live *l, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && l[lo].addr == addr ? &l[lo] : NULL;
}

/* The same allocation in both: same address and, when both have sites, the same
 * allocation number (an address reused by a later malloc is freed + new). */
static int same_alloc(const struct hv_live *a, const struct hv_live *b)
{
    if (a->site && b->site)
        return a->site->seq == b->site->seq;
    return 1;
}

int hv_report_diff(FILE *f, const struct hv_snapshot *a, const struct hv_snapshot *b)
{
    struct hv_live *la, *lb;
    size_t na = collect_live(a, &la), nb = collect_live(b, &lb);
    if (!la || !lb) {
        free(la);
        free(lb);
        return -1;
    }
    qsort(la, na, sizeof *la, cmp_live);
    qsort(lb, nb, sizeof *lb, cmp_live);
    struct hv_symbols *sym = hv_symbols_new(b->regions, b->nregions);
    struct hv_symbols *syma = hv_symbols_new(a->regions, a->nregions);
    struct hv_group *g = NULL;
    size_t ng = 0;
    uint64_t n_new = 0, n_freed = 0, n_resized = 0, b_new = 0, b_freed = 0;
    char buf[512];
    fprintf(f, "diff: A = %s, B = %s\n", a->source, b->source);
    for (size_t i = 0; i < nb; i++) {
        const struct hv_live *o = find_live(la, na, lb[i].addr);
        if (o && same_alloc(o, &lb[i])) {
            if (o->size != lb[i].size) {
                n_resized++;
                fprintf(f, "resized 0x%llx: 0x%llx -> 0x%llx bytes\n", X(lb[i].ptr), X(o->size), X(lb[i].size));
            }
            continue;
        }
        n_new++;
        b_new += lb[i].size;
        fprintf(f, "new 0x%llx: chunk 0x%llx bytes", X(lb[i].ptr), X(lb[i].size));
        if (lb[i].site)
            fprintf(f, ", %llu requested, at %s", X(lb[i].site->req),
                    lb[i].site->nframes ? hv_symbol_text(sym, b->frames[lb[i].site->first], buf, sizeof buf)
                                        : "?");
        fputc('\n', f);
        struct hv_group *gr = group_of(&g, &ng, b, lb[i].site);
        if (gr) {
            gr->d_req += (int64_t)(lb[i].site ? lb[i].site->req : 0);
            gr->d_bytes += (int64_t)lb[i].size;
            gr->d_count++;
        }
    }
    for (size_t i = 0; i < na; i++) {
        const struct hv_live *o = find_live(lb, nb, la[i].addr);
        if (o && same_alloc(&la[i], o))
            continue;
        n_freed++;
        b_freed += la[i].size;
        fprintf(f, "freed 0x%llx: chunk 0x%llx bytes", X(la[i].ptr), X(la[i].size));
        if (la[i].site && la[i].site->nframes)
            fprintf(f, ", allocated at %s", hv_symbol_text(syma, a->frames[la[i].site->first], buf, sizeof buf));
        fputc('\n', f);
        /* charge the freed chunk to the matching site of B (by symbolised stack) */
        struct hv_group *gr = NULL;
        for (size_t k = 0; k < ng && la[i].site; k++) {
            const struct hv_site *gs = g[k].site;
            if (gs && gs->nframes == la[i].site->nframes &&
                memcmp(b->frames + gs->first, a->frames + la[i].site->first, gs->nframes * 8) == 0)
                gr = &g[k];
        }
        if (gr) {
            gr->d_req -= (int64_t)la[i].site->req;
            gr->d_bytes -= (int64_t)la[i].size;
            gr->d_count--;
        }
    }
    fprintf(f, "summary: %llu new (%llu chunk bytes), %llu freed (%llu chunk bytes), %llu resized\n", X(n_new),
            X(b_new), X(n_freed), X(b_freed), X(n_resized));
    if (ng) {
        fprintf(f, "growth per site (new chunks in B):\n");
        for (size_t i = 0; i < ng; i++) {
            fprintf(f, "  %+lld bytes requested, %+lld chunk bytes, %+lld chunks\n", (long long)g[i].d_req,
                    (long long)g[i].d_bytes, (long long)g[i].d_count);
            print_stack(f, sym, b, g[i].site, "      ");
        }
    }
    hv_symbols_free(sym);
    hv_symbols_free(syma);
    free(la);
    free(lb);
    free(g);
    return 0;
}

/* ---- explain ------------------------------------------------------------------------ */

static void explain_size(FILE *f, const struct hv_chunk *c, const struct hv_site *site)
{
    uint64_t sz = c->size;
    if (c->state == HV_MMAPPED) {
        fprintf(f, "why this size: an mmapped chunk is the request + 8 bytes of header, rounded up to a page\n");
        return;
    }
    if (site) {
        uint64_t r = site->req + LA_SIZE_SZ;
        fprintf(f, "why this size: requested %llu bytes; %llu + 8 (size field) = %llu, rounded up to 16 = 0x%llx%s\n",
                X(site->req), X(site->req), X(r), X(la_request2size(site->req)),
                la_request2size(site->req) == LA_MINSIZE && r < LA_MINSIZE ? " (the minimum chunk)" : "");
    } else if (sz == LA_MINSIZE) {
        fprintf(f, "why this size: 0x20 is the minimum chunk: requests of 0..24 bytes\n");
    } else if (sz > LA_MINSIZE) {
        fprintf(f, "why this size: 0x%llx = request + 8 (size field) rounded up to 16, for requests of %llu..%llu "
                "bytes\n", X(sz), X(sz - 23), X(sz - 8));
    }
}

static void explain_bin(FILE *f, const struct hv_snapshot *s, const struct hv_chunk *c)
{
    uint64_t sz = c->size;
    switch (c->bin) {
    case HV_BIN_TCACHE:
        fprintf(f, "bin: tcache bin %u of thread %llu: (0x%llx - 0x11) / 16 = %u\n", c->bin_index,
                c->tcache < s->ntcaches ? X(s->tcaches[c->tcache].tid) : 0ull, X(sz), c->bin_index);
        break;
    case HV_BIN_BIGCACHE:
        fprintf(f, "bin: big-chunk cache class %u of thread %llu (chunk sizes 0x%llx-0x%llx, 8 classes per power "
                "of two)\n", c->bin_index, c->tcache < s->ntcaches ? X(s->tcaches[c->tcache].tid) : 0ull,
                X(la_bc_class_lo(c->bin_index)), X(la_bc_class_lo(c->bin_index) * 9 / 8 - LA_ALIGNMENT));
        break;
    case HV_BIN_FAST:
        fprintf(f, "bin: fastbin %u: 0x%llx / 16 - 2 = %u (chunks up to 0x%llx go to fastbins when the tcache "
                "bin is full)\n", c->bin_index, X(sz), c->bin_index, X(la_max_fast_chunk(s->tunables.mxfast)));
        break;
    case HV_BIN_REMOTE:
        fprintf(f, "bin: remote-free list of its arena: freed by a thread of another arena (its tcache bin was "
                "full), pushed without the arena's lock; the arena's next locked malloc takes it back\n");
        break;
    case HV_BIN_UNSORTED:
        fprintf(f, "bin: unsorted (bin 1): freed chunks too big for tcache/fastbins wait here until the next "
                "malloc scan sorts them\n");
        break;
    case HV_BIN_SMALL:
        fprintf(f, "bin: small bin %u: 0x%llx / 16 = %u (one size per small bin)\n", c->bin_index, X(sz),
                c->bin_index);
        break;
    case HV_BIN_LARGE: {
        size_t lo, hi;
        la_bin_range(c->bin_index, &lo, &hi);
        fprintf(f, "bin: large bin %u holds sizes 0x%llx..0x%llx\n", c->bin_index, X(lo), X(hi));
        break;
    }
    default:
        if (c->state == HV_TOP)
            fprintf(f, "bin: none: this is the top chunk, the arena's unused end\n");
        else if (c->state == HV_FREE)
            fprintf(f, "bin: none, although the boundary tags say free (see problems)\n");
        else
            fprintf(f, "bin: none (in use)\n");
    }
}

/* Every list entry whose successor is this chunk, and every list head naming it. */
static void explain_refs(FILE *f, const struct hv_snapshot *s, const struct hv_chunk *c)
{
    int any = 0;
    for (size_t t = 0; t < s->ntcaches; t++)
        for (unsigned i = 0; i < LA_TCACHE_BINS; i++) {
            const struct hv_bin *b = &s->tcaches[t].bins[i];
            const struct hv_binent *e = hv_bin_entries(s, b);
            for (uint32_t k = 0; k < b->count; k++)
                if (e[k].chunk != HV_NONE && e[k].addr == c->addr) {
                    if (k == 0)
                        fprintf(f, "pointed to by: tcache bin %u head (thread %llu)\n", i, X(s->tcaches[t].tid));
                    else
                        fprintf(f, "pointed to by: next of tcache entry 0x%llx (bin %u, position %u of %u)\n",
                                X(la_chunk2mem(e[k - 1].addr)), i, k + 1, b->count);
                    any = 1;
                }
        }
    for (size_t a = 0; a < s->narenas; a++) {
        const struct hv_arena *ar = &s->arenas[a];
        for (int pass = 0; pass < 2; pass++) {
            unsigned nb = pass ? LA_NBINS : LA_NFASTBINS;
            for (unsigned i = 0; i < nb; i++) {
                const struct hv_bin *b = pass ? &ar->bins[i] : &ar->fastbins[i];
                const struct hv_binent *e = hv_bin_entries(s, b);
                for (uint32_t k = 0; k < b->count; k++)
                    if (e[k].addr == c->addr) {
                        if (k == 0)
                            fprintf(f, "pointed to by: %s bin %u header of arena %u (fd)\n",
                                    pass ? hv_bin_name(b->kind) : "fast", i, ar->index);
                        else
                            fprintf(f, "pointed to by: fd of chunk 0x%llx (%s bin %u)\n", X(e[k - 1].addr),
                                    pass ? hv_bin_name(b->kind) : "fast", i);
                        if (pass && k + 1 < b->count)
                            fprintf(f, "pointed to by: bk of chunk 0x%llx\n", X(e[k + 1].addr));
                        else if (pass)
                            fprintf(f, "pointed to by: bin %u header of arena %u (bk)\n", i, ar->index);
                        any = 1;
                    }
            }
        }
        if (ar->top == c->addr) {
            fprintf(f, "pointed to by: top of arena %u\n", ar->index);
            any = 1;
        }
        if (ar->last_remainder == c->addr) {
            fprintf(f, "pointed to by: last_remainder of arena %u\n", ar->index);
            any = 1;
        }
    }
    if (!any)
        fprintf(f, "pointed to by: no allocator list (the program holds it, or nothing does)\n");
}

int hv_report_explain(FILE *f, const struct hv_snapshot *s, uint64_t addr)
{
    const struct hv_chunk *c = hv_snapshot_find_chunk(s, addr);
    if (!c) {
        fprintf(f, "0x%llx: not inside any chunk of this heap\n", X(addr));
        return 1;
    }
    uint64_t user = hv_chunk_user(c);
    fprintf(f, "0x%llx: ", X(addr));
    if (addr < user)
        fprintf(f, "in the header of chunk 0x%llx (%s field)\n", X(c->addr), addr - c->addr < 8 ? "prev_size" : "size");
    else
        fprintf(f, "%llu bytes into the user data of chunk 0x%llx (user pointer 0x%llx)\n", X(addr - user),
                X(c->addr), X(user));
    const char *where = c->state == HV_MMAPPED ? "its own mapping"
                        : c->arena < s->narenas ? (s->arenas[c->arena].is_main ? "the main arena" : "a thread arena")
                                                : "?";
    fprintf(f, "chunk: 0x%llx, size 0x%llx, %s, in %s", X(c->addr), X(c->size), hv_state_name(c->state), where);
    if (c->arena < s->narenas)
        fprintf(f, " (arena %u)", s->arenas[c->arena].index);
    fprintf(f, "; flags%s%s%s\n", c->size_flags & LA_PREV_INUSE ? " PREV_INUSE" : "",
            c->size_flags & LA_IS_MMAPPED ? " IS_MMAPPED" : "", c->size_flags & LA_NON_MAIN_ARENA ? " NON_MAIN_ARENA" : "");
    const struct hv_site *site = c->state == HV_INUSE || c->state == HV_MMAPPED ? hv_site_find(s, user) : NULL;
    explain_size(f, c, site);
    explain_bin(f, s, c);
    explain_refs(f, s, c);
    if (site) {
        struct hv_symbols *sym = hv_symbols_new(s->regions, s->nregions);
        fprintf(f, "allocated: operation #%llu, %llu bytes requested, at\n", X(site->seq), X(site->req));
        print_stack(f, sym, s, site, "    ");
        hv_symbols_free(sym);
    }
    const struct la_op *last = hv_history_find(s, user, 0, 0);
    if (last) {
        char buf[200];
        hv_op_call_text(last, buf, sizeof buf);
        fprintf(f, "history: last operation on it #%llu %s (thread %llu)\n", X(last->seq), buf, X(last->tid));
    }
    return 0;
}

/* ---- history ------------------------------------------------------------------------ */

int hv_report_history(FILE *f, const struct hv_snapshot *s)
{
    if (!(s->trace.flags & LA_TRACE_HISTORY)) {
        fprintf(f, "# no history recorded (run the program with LIBALLOC_OPTIONS=history=N)\n");
        return 0;
    }
    struct hv_symbols *sym = hv_symbols_new(s->regions, s->nregions);
    char call[200], path[300], at[512];
    fprintf(f, "history: %zu of %llu operations (ring of %llu)\n", s->nops, X(s->trace.seq), X(s->trace.hist_cap));
    for (size_t i = 0; i < s->nops; i++) {
        const struct la_op *o = &s->ops[i];
        hv_op_call_text(o, call, sizeof call);
        hv_op_path_text(o, s->tunables.tcache_count, path, sizeof path);
        fprintf(f, "#%llu tid %llu %s: %s", X(o->seq), X(o->tid), call, path);
        if (o->caller)
            fprintf(f, " [%s]", hv_symbol_text(sym, o->caller, at, sizeof at));
        fputc('\n', f);
    }
    hv_symbols_free(sym);
    /* a call that never returned (e.g. the one that aborted, in a core) */
    const struct la_op *l = &s->trace.last;
    if (l->seq == 0 && l->call) {
        hv_op_call_text(l, call, sizeof call);
        char *eq = strstr(call, " = ");
        if (eq)
            *eq = 0;
        fprintf(f, "in progress: %s (did not return)\n", call);
        if (l->call == LA_OP_FREE || (l->call == LA_OP_REALLOC && l->arg0))
            hv_report_double_free(f, s, l->arg0);
    }
    return 0;
}

int hv_report_double_free(FILE *f, const struct hv_snapshot *s, uint64_t ptr)
{
    const struct la_op *o = hv_history_find(s, ptr, LA_OP_FREE, 0);
    if (!o)
        return 1;
    struct hv_symbols *sym = hv_symbols_new(s->regions, s->nregions);
    char at[512];
    fprintf(f, "0x%llx was freed before: operation #%llu by thread %llu%s%s\n", X(ptr), X(o->seq), X(o->tid),
            o->caller ? " at " : "", o->caller ? hv_symbol_text(sym, o->caller, at, sizeof at) : "");
    hv_symbols_free(sym);
    return 0;
}
