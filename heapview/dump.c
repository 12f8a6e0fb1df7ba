/*
 * heapview/dump.c - text and JSON renderings of a snapshot (batch mode).
 * Only reads the snapshot model.  The text form borrows pwndbg's vocabulary
 * (tcachebins, fastbins, unsortedbin, smallbins, largebins, "->" chains).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dump.h"

#define X(v) ((unsigned long long)(v))

const char *hv_flag_names(unsigned f, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", f & LA_PREV_INUSE ? "PREV_INUSE" : "",
             (f & LA_PREV_INUSE) && (f & (LA_IS_MMAPPED | LA_NON_MAIN_ARENA)) ? "|" : "",
             f & LA_IS_MMAPPED ? "IS_MMAPPED" : "",
             (f & LA_IS_MMAPPED) && (f & LA_NON_MAIN_ARENA) ? "|" : "",
             f & LA_NON_MAIN_ARENA ? "NON_MAIN_ARENA" : "");
    return buf;
}

static const char *seg_kind(unsigned k)
{
    return k == LA_SEG_SBRK ? "sbrk" : k == LA_SEG_MMAP ? "mmap" : k == LA_SEG_HEAP ? "heap" : "?";
}

static uint64_t tid_of(const struct hv_snapshot *s, const struct hv_chunk *c)
{
    return c->tcache != HV_NONE && c->tcache < s->ntcaches ? s->tcaches[c->tcache].tid : 0;
}

/* ---- text ------------------------------------------------------------------------- */

static void text_chain(FILE *f, const struct hv_snapshot *s, const struct hv_bin *b)
{
    const struct hv_binent *e = hv_bin_entries(s, b);
    for (uint32_t i = 0; i < b->count; i++)
        fprintf(f, "%s0x%llx", i ? " -> " : "", X(e[i].addr));
    fprintf(f, "%s\n", b->truncated ? " -> (walk stopped: see problems)" : "");
}

static void text_chunk(FILE *f, const struct hv_snapshot *s, const struct hv_chunk *c)
{
    char fl[64], where[96] = "";
    if (c->bin == HV_BIN_TCACHE)
        snprintf(where, sizeof where, "tcache[%u] thread %llu", c->bin_index, X(tid_of(s, c)));
    else if (c->bin == HV_BIN_BIGCACHE)
        snprintf(where, sizeof where, "bigcache[%u] thread %llu", c->bin_index, X(tid_of(s, c)));
    else if (c->bin == HV_BIN_REMOTE)
        snprintf(where, sizeof where, "remote (not yet back in its arena)");
    else if (c->bin != HV_BIN_NONE)
        snprintf(where, sizeof where, "%s[%u]", hv_bin_name(c->bin), c->bin_index);
    fprintf(f, "  0x%012llx  user 0x%012llx  size 0x%-8llx %-7s %-28s %s%s%s%s\n", X(c->addr),
            X(hv_chunk_user(c)), X(c->size), hv_state_name(c->state), where,
            hv_flag_names(c->size_flags, fl, sizeof fl), c->flags & HV_CF_FENCEPOST ? " fencepost" : "",
            c->flags & HV_CF_LAST_REM ? " last_remainder" : "", c->flags & HV_CF_PROBLEM ? " !problem" : "");
}

void hv_dump_text(FILE *f, const struct hv_snapshot *s)
{
    fprintf(f, "heapview: %s\n", s->source);
    fprintf(f, "liballoc_debug at 0x%llx, ABI %u (compat %u): %s\n", X(s->debug_addr), s->abi_version,
            s->compat_version, s->debug_how);
    if (s->source_kind == HV_SOURCE_LIVE)
        fprintf(f, "snapshot: %s after %u attempt%s%s%s, target stopped %.3f ms, %llu bytes copied\n",
                s->mid_operation ? "TAKEN MID-OPERATION" : "consistent", s->attempts, s->attempts == 1 ? "" : "s",
                s->mid_operation ? ": " : "", s->mid_operation ? s->mid_reason : "", s->stop_ns / 1e6,
                X(s->copied_bytes));
    else
        fprintf(f, "snapshot: %s%s%s, %llu bytes read\n", s->mid_operation ? "TAKEN MID-OPERATION" : "consistent",
                s->mid_operation ? ": " : "", s->mid_operation ? s->mid_reason : "", X(s->copied_bytes));
    if (!s->initialized)
        fprintf(f, "liballoc has not initialised yet (no allocation made)\n");

    for (size_t ai = 0; ai < s->narenas; ai++) {
        const struct hv_arena *a = &s->arenas[ai];
        fprintf(f, "\nArena %u%s @ 0x%llx  top 0x%llx  last_remainder 0x%llx  system %llu B (max %llu)  "
                "threads %u%s%s\n", a->index, a->is_main ? " (main)" : "", X(a->addr), X(a->top),
                X(a->last_remainder), X(a->system_mem), X(a->max_system_mem), a->nthreads,
                a->flags & LA_ARENA_CORRUPT ? "  CORRUPT" : "", a->lock ? "  LOCKED" : "");
        for (uint32_t k = 0; k < a->nsegments; k++) {
            const struct hv_segment *g = &s->segments[a->first_segment + k];
            fprintf(f, " segment 0x%llx (%s)  chunks 0x%llx..0x%llx  %u chunks%s\n", X(g->addr), seg_kind(g->kind),
                    X(g->chunks), X(g->end), g->nchunks, g->walk_complete ? "" : "  (walk incomplete)");
            for (uint32_t i = 0; i < g->nchunks; i++)
                text_chunk(f, s, &s->chunks[g->first_chunk + i]);
        }
        fprintf(f, " fastbins\n");
        for (unsigned i = 0; i < LA_NFASTBINS; i++) {
            const struct hv_bin *b = &a->fastbins[i];
            if (b->count == 0 && !b->truncated)
                continue;
            fprintf(f, "  0x%llx [%3u]: ", X(b->size_lo), b->count);
            text_chain(f, s, b);
        }
        /* the remote-free list: chunks other threads freed, not yet back in the arena */
        fprintf(f, " remote-free list (pushed %llu chunks in %llu batches, drained %llu)\n", X(a->remote_chunks),
                X(a->remote_batches), X(a->remote_drained));
        if (a->remote.count || a->remote.truncated) {
            fprintf(f, "  all [%3u]: ", a->remote.count);
            text_chain(f, s, &a->remote);
        }
        const char *hdr[] = { "", " unsortedbin\n", " smallbins\n", " largebins\n" };
        int shown = 0;
        for (unsigned i = 1; i < LA_NBINS - 1; i++) {
            const struct hv_bin *b = &a->bins[i];
            int grp = i == 1 ? 1 : i < LA_NSMALLBINS ? 2 : 3;
            if (i == 1 || i == 2 || i == LA_NSMALLBINS) {
                fputs(hdr[grp], f);
                shown = 1;
            }
            (void)shown;
            if (b->count == 0 && !b->truncated)
                continue;
            if (grp == 1)
                fprintf(f, "  all [%3u]: ", b->count);
            else if (grp == 2)
                fprintf(f, "  0x%llx [%3u]: ", X(b->size_lo), b->count);
            else
                fprintf(f, "  bin %u 0x%llx-0x%llx [%3u]: ", i, X(b->size_lo), X(b->size_hi), b->count);
            text_chain(f, s, b);
        }
    }
    for (size_t ti = 0; ti < s->ntcaches; ti++) {
        const struct hv_tcache *t = &s->tcaches[ti];
        fprintf(f, "\ntcachebins (thread %llu, arena %d)\n", X(t->tid), t->arena == HV_NONE ? -1 : (int)t->arena);
        for (unsigned i = 0; i < LA_TCACHE_BINS; i++) {
            const struct hv_bin *b = &t->bins[i];
            if (b->count == 0 && b->declared == 0 && !b->truncated)
                continue;
            fprintf(f, "  0x%llx [%3u/%u]: ", X(b->size_lo), b->declared, b->limit);
            text_chain(f, s, b);
        }
        for (unsigned c = 0; c < LA_BC_CLASSES; c++) {
            const struct hv_bin *b = &t->bc[c];
            if (b->count == 0 && b->declared == 0 && !b->truncated)
                continue;
            fprintf(f, "  bigcache %u 0x%llx-0x%llx [%u/%u]: ", c, X(b->size_lo), X(b->size_hi), b->declared,
                    b->limit);
            text_chain(f, s, b);
        }
    }
    fprintf(f, "\nmmapped chunks: %zu\n", s->nmmapped);
    for (size_t i = 0; i < s->nmmapped; i++)
        text_chunk(f, s, &s->mmapped[i]);
    const struct hv_totals *T = &s->totals;
    fprintf(f, "\ntotals (mallinfo2): arena %llu  ordblks %llu  smblks %llu  hblks %llu  hblkhd %llu  "
            "fsmblks %llu  uordblks %llu  fordblks %llu  keepcost %llu\n", X(T->arena), X(T->ordblks),
            X(T->smblks), X(T->hblks), X(T->hblkhd), X(T->fsmblks), X(T->uordblks), X(T->fordblks),
            X(T->keepcost));
    fprintf(f, "tcache: %llu chunks, %llu bytes; remote-free lists: %llu chunks, %llu bytes; %llu chunks in all\n",
            X(T->tcache_chunks), X(T->tcache_bytes), X(T->remote_chunks), X(T->remote_bytes), X(T->nchunks));
    const struct la_tunables *tu = &s->tunables;
    fprintf(f, "tunables: tcache_count %llu  tcache_bytes %llu  tcache_max %llu  mxfast %llu  mmap_threshold %llu  "
            "trim_threshold %llu  top_pad %llu  mmap_max %llu  arena_max %llu  arena_test %llu  perturb %llu  "
            "check %llu%s\n", X(tu->tcache_count), X(tu->tcache_bytes), X(tu->tcache_max), X(tu->mxfast), X(tu->mmap_threshold),
            X(tu->trim_threshold), X(tu->top_pad), X(tu->mmap_max), X(tu->arena_max), X(tu->arena_test),
            X(tu->perturb), X(tu->check), tu->no_dyn_threshold ? "  (dynamic mmap threshold off)" : "");
    fprintf(f, "mmap stats: n_mmaps %llu (max %llu)  mmapped_mem %llu (max %llu)\n", X(s->mstats.n_mmaps),
            X(s->mstats.max_n_mmaps), X(s->mstats.mmapped_mem), X(s->mstats.max_mmapped_mem));
    fprintf(f, "\nproblems: %zu\n", s->nproblems);
    for (size_t i = 0; i < s->nproblems; i++)
        fprintf(f, "  0x%llx: %s\n", X(s->problems[i].addr), s->problems[i].msg);
}

/* ---- JSON --------------------------------------------------------------------------- */

static void jstr(FILE *f, const char *str)
{
    putc('"', f);
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            putc(*p, f);
    }
    putc('"', f);
}

/* Fast formatting for the per-chunk lines (a dump of a million chunks is mostly these). */
static char *put_hex(char *o, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    *o++ = '0';
    *o++ = 'x';
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

static char *put_dec(char *o, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

static char *put_str(char *o, const char *s)
{
    while (*s)
        *o++ = *s++;
    return o;
}

static void jchunk(FILE *f, const struct hv_snapshot *s, const struct hv_chunk *c)
{
    char buf[512], *o = buf;
    const char *bn = hv_bin_name(c->bin);
    o = put_str(o, "{\"address\":\"");
    o = put_hex(o, c->addr);
    o = put_str(o, "\",\"user\":\"");
    o = put_hex(o, hv_chunk_user(c));
    o = put_str(o, "\",\"size\":");
    o = put_dec(o, c->size);
    o = put_str(o, ",\"state\":\"");
    o = put_str(o, hv_state_name(c->state));
    o = put_str(o, "\",\"bin\":");
    if (bn) {
        *o++ = '"';
        o = put_str(o, bn);
        o = put_str(o, "\",\"bin_index\":");
        o = put_dec(o, c->bin_index);
    } else {
        o = put_str(o, "null");
    }
    if (c->bin == HV_BIN_TCACHE || c->bin == HV_BIN_BIGCACHE) {
        o = put_str(o, ",\"thread\":");
        o = put_dec(o, tid_of(s, c));
    }
    o = put_str(o, ",\"flags\":[");
    int n = 0;
    if (c->size_flags & LA_PREV_INUSE)
        o = put_str(o, n++ ? ",\"PREV_INUSE\"" : "\"PREV_INUSE\"");
    if (c->size_flags & LA_IS_MMAPPED)
        o = put_str(o, n++ ? ",\"IS_MMAPPED\"" : "\"IS_MMAPPED\"");
    if (c->size_flags & LA_NON_MAIN_ARENA)
        o = put_str(o, n++ ? ",\"NON_MAIN_ARENA\"" : "\"NON_MAIN_ARENA\"");
    o = put_str(o, "],\"prev_size\":");
    o = put_dec(o, c->prev_size);
    if (c->flags & HV_CF_FENCEPOST)
        o = put_str(o, ",\"fencepost\":true");
    if (c->flags & HV_CF_LAST_REM)
        o = put_str(o, ",\"last_remainder\":true");
    if (c->flags & HV_CF_PROBLEM)
        o = put_str(o, ",\"problem\":true");
    *o++ = '}';
    fwrite(buf, 1, (size_t)(o - buf), f);
}

static void jbin(FILE *f, const struct hv_snapshot *s, const struct hv_bin *b, int tcache)
{
    fprintf(f, "{\"index\":%u,\"size\":%llu,", b->index, X(b->size_lo));
    if (b->size_hi != b->size_lo)
        fprintf(f, "\"size_max\":%llu,", b->size_hi == SIZE_MAX ? 0 : X(b->size_hi));
    fprintf(f, "\"count\":%u,", tcache ? b->declared : b->count);
    if (tcache)
        fprintf(f, "\"chain\":%u,\"limit\":%u,", b->count, b->limit);
    fprintf(f, "\"truncated\":%s,\"chunks\":[", b->truncated ? "true" : "false");
    const struct hv_binent *e = hv_bin_entries(s, b);
    for (uint32_t i = 0; i < b->count; i++) {
        char buf[32], *o = buf;
        if (i)
            *o++ = ',';
        *o++ = '"';
        o = put_hex(o, e[i].addr);
        *o++ = '"';
        fwrite(buf, 1, (size_t)(o - buf), f);
    }
    fputs("]}", f);
}

void hv_dump_json(FILE *f, const struct hv_snapshot *s)
{
    fputs("{\"format\":\"heapview-1\",\"source\":", f);
    jstr(f, s->source);
    fprintf(f, ",\"source_kind\":\"%s\",\"pid\":%d,\"debug_address\":\"0x%llx\",\"debug_found_by\":",
            s->source_kind == HV_SOURCE_LIVE ? "live" : "core", s->pid, X(s->debug_addr));
    jstr(f, s->debug_how);
    fprintf(f, ",\"abi_version\":%u,\"compat_version\":%u,\"initialized\":%s,\"generation\":%llu,"
            "\"mid_operation\":%s,\"mid_reason\":", s->abi_version, s->compat_version,
            s->initialized ? "true" : "false", X(s->generation), s->mid_operation ? "true" : "false");
    if (s->mid_operation)
        jstr(f, s->mid_reason);
    else
        fputs("null", f);
    fprintf(f, ",\"attempts\":%u,\"stop_ns\":%llu,\"copied_bytes\":%llu,\"arenas\":[", s->attempts, X(s->stop_ns),
            X(s->copied_bytes));
    for (size_t ai = 0; ai < s->narenas; ai++) {
        const struct hv_arena *a = &s->arenas[ai];
        fprintf(f, "%s\n{\"index\":%u,\"address\":\"0x%llx\",\"main\":%s,\"top\":\"0x%llx\",\"last_remainder\":\"0x%llx\","
                "\"flags\":%u,\"locked\":%s,\"system_bytes\":%llu,\"max_system_bytes\":%llu,\"threads\":%u,"
                "\"next\":\"0x%llx\",\"segments\":[", ai ? "," : "", a->index, X(a->addr), a->is_main ? "true" : "false",
                X(a->top), X(a->last_remainder), a->flags, a->lock ? "true" : "false", X(a->system_mem),
                X(a->max_system_mem), a->nthreads, X(a->next));
        for (uint32_t k = 0; k < a->nsegments; k++) {
            const struct hv_segment *g = &s->segments[a->first_segment + k];
            fprintf(f, "%s{\"address\":\"0x%llx\",\"kind\":\"%s\",\"chunks\":\"0x%llx\",\"end\":\"0x%llx\","
                    "\"walk_complete\":%s}", k ? "," : "", X(g->addr), seg_kind(g->kind), X(g->chunks), X(g->end),
                    g->walk_complete ? "true" : "false");
        }
        fputs("],\"chunks\":[", f);
        int first = 1;
        for (uint32_t k = 0; k < a->nsegments; k++) {
            const struct hv_segment *g = &s->segments[a->first_segment + k];
            for (uint32_t i = 0; i < g->nchunks; i++) {
                fputs(first ? "\n" : ",\n", f);
                first = 0;
                jchunk(f, s, &s->chunks[g->first_chunk + i]);
            }
        }
        fputs("],\"bins\":{\"fast\":[", f);
        int n = 0;
        for (unsigned i = 0; i < LA_NFASTBINS; i++) {
            if (a->fastbins[i].count == 0 && !a->fastbins[i].truncated)
                continue;
            fputs(n++ ? "," : "", f);
            jbin(f, s, &a->fastbins[i], 0);
        }
        fputs("],\"remote\":[", f);
        if (a->remote.count || a->remote.truncated)
            jbin(f, s, &a->remote, 0);
        fputs("],\"unsorted\":[", f);
        if (a->bins[1].count || a->bins[1].truncated)
            jbin(f, s, &a->bins[1], 0);
        for (int grp = 0; grp < 2; grp++) {
            fputs(grp ? "],\"large\":[" : "],\"small\":[", f);
            n = 0;
            for (unsigned i = grp ? LA_NSMALLBINS : 2; i < (grp ? LA_NBINS - 1 : LA_NSMALLBINS); i++) {
                if (a->bins[i].count == 0 && !a->bins[i].truncated)
                    continue;
                fputs(n++ ? "," : "", f);
                jbin(f, s, &a->bins[i], 0);
            }
        }
        fputs("]}}", f);
    }
    fputs("],\n\"tcache\":[", f);
    for (size_t ti = 0; ti < s->ntcaches; ti++) {
        const struct hv_tcache *t = &s->tcaches[ti];
        fprintf(f, "%s\n{\"thread\":%llu,\"address\":\"0x%llx\",\"arena\":%d,\"bins\":[", ti ? "," : "", X(t->tid),
                X(t->addr), t->arena == HV_NONE ? -1 : (int)t->arena);
        int n = 0;
        for (unsigned i = 0; i < LA_TCACHE_BINS; i++) {
            const struct hv_bin *b = &t->bins[i];
            if (b->count == 0 && b->declared == 0 && !b->truncated)
                continue;
            fputs(n++ ? "," : "", f);
            jbin(f, s, b, 1);
        }
        fputs("]}", f);
    }
    fputs("],\n\"mmapped\":[", f);
    for (size_t i = 0; i < s->nmmapped; i++) {
        fputs(i ? ",\n" : "\n", f);
        jchunk(f, s, &s->mmapped[i]);
    }
    const struct hv_totals *T = &s->totals;
    fprintf(f, "],\n\"totals\":{\"arena\":%llu,\"ordblks\":%llu,\"smblks\":%llu,\"hblks\":%llu,\"hblkhd\":%llu,"
            "\"fsmblks\":%llu,\"uordblks\":%llu,\"fordblks\":%llu,\"keepcost\":%llu,\"tcache_chunks\":%llu,"
            "\"tcache_bytes\":%llu,\"remote_chunks\":%llu,\"remote_bytes\":%llu,\"chunks\":%llu},\n", X(T->arena), X(T->ordblks), X(T->smblks), X(T->hblks),
            X(T->hblkhd), X(T->fsmblks), X(T->uordblks), X(T->fordblks), X(T->keepcost), X(T->tcache_chunks),
            X(T->tcache_bytes), X(T->remote_chunks), X(T->remote_bytes), X(T->nchunks));
    const struct la_tunables *tu = &s->tunables;
    fprintf(f, "\"tunables\":{\"tcache_count\":%llu,\"tcache_bytes\":%llu,\"tcache_max\":%llu,\"mxfast\":%llu,\"mmap_threshold\":%llu,"
            "\"trim_threshold\":%llu,\"top_pad\":%llu,\"mmap_max\":%llu,\"arena_max\":%llu,\"arena_test\":%llu,"
            "\"perturb\":%llu,\"check\":%llu,\"no_dyn_threshold\":%s},\n", X(tu->tcache_count), X(tu->tcache_bytes),
            X(tu->tcache_max),
            X(tu->mxfast), X(tu->mmap_threshold), X(tu->trim_threshold), X(tu->top_pad), X(tu->mmap_max),
            X(tu->arena_max), X(tu->arena_test), X(tu->perturb), X(tu->check), tu->no_dyn_threshold ? "true" : "false");
    fprintf(f, "\"mmap_stats\":{\"n_mmaps\":%llu,\"max_n_mmaps\":%llu,\"mmapped_mem\":%llu,\"max_mmapped_mem\":%llu},\n",
            X(s->mstats.n_mmaps), X(s->mstats.max_n_mmaps), X(s->mstats.mmapped_mem), X(s->mstats.max_mmapped_mem));
    fputs("\"threads\":[", f);
    for (size_t i = 0; i < s->nthreads; i++)
        fprintf(f, "%s{\"tid\":%llu,\"ip\":\"0x%llx\"}", i ? "," : "", X(s->threads[i].tid), X(s->threads[i].ip));
    fputs("],\n", f);
    /* tracing (LIBALLOC_OPTIONS trace/history/sites): the history ring as a timeline */
    fprintf(f, "\"trace\":{\"history\":%s,\"sites\":%s,\"site_depth\":%u,\"operations\":%llu,\"live_sites\":%zu},\n",
            s->trace.flags & LA_TRACE_HISTORY ? "true" : "false", s->trace.flags & LA_TRACE_SITES ? "true" : "false",
            s->trace.site_depth, X(s->trace.seq), s->nsites);
    fputs("\"history\":[", f);
    for (size_t i = 0; i < s->nops; i++) {
        const struct la_op *op = &s->ops[i];
        char call[200], path[320];
        hv_op_call_text(op, call, sizeof call);
        hv_op_path_text(op, s->tunables.tcache_count, path, sizeof path);
        fprintf(f, "%s\n{\"seq\":%llu,\"tid\":%llu,\"call\":\"%s\",\"arg0\":%llu,\"arg1\":%llu,\"result\":\"0x%llx\","
                "\"chunk\":\"0x%llx\",\"chunk_size\":%llu,\"path\":%u,\"caller\":\"0x%llx\",\"text\":",
                i ? "," : "", X(op->seq), X(op->tid), hv_call_name(op->call), X(op->arg0), X(op->arg1), X(op->result),
                X(op->chunk), X(op->csize), op->path, X(op->caller));
        jstr(f, call);
        fputs(",\"what\":", f);
        jstr(f, path);
        putc('}', f);
    }
    fputs("],\n\"problems\":[", f);
    for (size_t i = 0; i < s->nproblems; i++) {
        fprintf(f, "%s\n{\"address\":\"0x%llx\",\"message\":", i ? "," : "", X(s->problems[i].addr));
        jstr(f, s->problems[i].msg);
        putc('}', f);
    }
    fputs("]}\n", f);
}
