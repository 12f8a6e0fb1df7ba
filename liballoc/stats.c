/*
 * liballoc/stats.c - mallinfo2, mallinfo, malloc_stats, malloc_info and
 * malloc_trim.  Each arena is summed under its own lock; tcache contents count
 * as in use (as in glibc).
 */
#include <malloc.h>
#include <stdio.h>

#include "internal.h"

struct arena_sum {
    uint64_t system, nfree, freebytes, nfast, fastbytes, topsize;
};

static void sum_arena(struct la_arena *av, struct arena_sum *s)
{
    memset(s, 0, sizeof *s);
    s->system = av->system_mem;
    if (av->top) {
        s->topsize = ck_size(av->top);
        s->nfree = 1;
        s->freebytes = s->topsize;
    }
    for (unsigned i = 0; i < LA_NFASTBINS; i++)
        for (la_chunk *p = av->fastbins[i]; p; p = (la_chunk *)la_reveal_ptr((uintptr_t)&p->fd, (uintptr_t)p->fd)) {
            s->nfast++;
            s->fastbytes += ck_size(p);
        }
    for (unsigned i = 1; i < LA_NBINS; i++) {
        la_chunk *b = bin_at(av, i);
        for (la_chunk *p = b->fd; p != b; p = p->fd) {
            s->nfree++;
            s->freebytes += ck_size(p);
        }
    }
}

struct mallinfo2 la_mallinfo2(void)
{
    la_ensure_init();
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    for (struct la_arena *av = &la_main_arena; av; av = __atomic_load_n(&av->next, __ATOMIC_ACQUIRE)) {
        struct arena_sum s;
        la_lock(&av->lock);
        la_remote_drain(av);            /* remote-freed chunks count as free */
        sum_arena(av, &s);
        la_arena_unlock(av);
        mi.arena += s.system;
        mi.ordblks += s.nfree;
        mi.smblks += s.nfast;
        mi.fsmblks += s.fastbytes;
        mi.fordblks += s.freebytes + s.fastbytes;
        mi.uordblks += s.system - s.freebytes - s.fastbytes;
        if (av == &la_main_arena) mi.keepcost = s.topsize;
    }
    mi.hblks = la_dbg.mstats.n_mmaps;
    mi.hblkhd = la_dbg.mstats.mmapped_mem;
    mi.usmblks = 0;
    return mi;
}

struct mallinfo la_mallinfo(void)
{
    struct mallinfo2 m2 = la_mallinfo2();
    struct mallinfo m;
    m.arena = (int)m2.arena;
    m.ordblks = (int)m2.ordblks;
    m.smblks = (int)m2.smblks;
    m.hblks = (int)m2.hblks;
    m.hblkhd = (int)m2.hblkhd;
    m.usmblks = (int)m2.usmblks;
    m.fsmblks = (int)m2.fsmblks;
    m.uordblks = (int)m2.uordblks;
    m.fordblks = (int)m2.fordblks;
    m.keepcost = (int)m2.keepcost;
    return m;
}

/* malloc_stats writes with write(2) into a stack buffer: no stdio, no malloc. */
static size_t put(char *buf, size_t n, const char *s)
{
    while (*s && n < 1000) buf[n++] = *s++;
    return n;
}
static size_t put_line(char *buf, size_t n, const char *label, uint64_t v)
{
    n = put(buf, n, label);
    char num[24];
    size_t l = la_fmt_u(num, v);
    for (size_t pad = l; pad < 10; pad++) buf[n++] = ' ';
    for (size_t i = 0; i < l; i++) buf[n++] = num[i];
    buf[n++] = '\n';
    return n;
}

void la_malloc_stats(void)
{
    la_ensure_init();
    uint64_t tsys = 0, tuse = 0;
    unsigned i = 0;
    char buf[1024];
    for (struct la_arena *av = &la_main_arena; av; av = __atomic_load_n(&av->next, __ATOMIC_ACQUIRE), i++) {
        struct arena_sum s;
        la_lock(&av->lock);
        la_remote_drain(av);            /* remote-freed chunks count as free */
        sum_arena(av, &s);
        la_arena_unlock(av);
        size_t n = put(buf, 0, "Arena ");
        n += la_fmt_u(buf + n, i);
        n = put(buf, n, ":\n");
        n = put_line(buf, n, "system bytes     = ", s.system);
        n = put_line(buf, n, "in use bytes     = ", s.system - s.freebytes - s.fastbytes);
        la_os_write(2, buf, n);
        tsys += s.system;
        tuse += s.system - s.freebytes - s.fastbytes;
    }
    size_t n = put(buf, 0, "Total (incl. mmap):\n");
    n = put_line(buf, n, "system bytes     = ", tsys + la_dbg.mstats.mmapped_mem);
    n = put_line(buf, n, "in use bytes     = ", tuse + la_dbg.mstats.mmapped_mem);
    n = put_line(buf, n, "max mmap regions = ", la_dbg.mstats.max_n_mmaps);
    n = put_line(buf, n, "max mmap bytes   = ", la_dbg.mstats.max_mmapped_mem);
    la_os_write(2, buf, n);
}

int la_malloc_info(int options, FILE *fp)
{
    if (options != 0) {
        errno = EINVAL;
        return -1;
    }
    la_ensure_init();
    uint64_t t_nfast = 0, t_fast = 0, t_nfree = 0, t_free = 0, t_sys = 0, t_maxsys = 0;
    unsigned nr = 0;
    fprintf(fp, "<malloc version=\"1\">\n");
    for (struct la_arena *av = &la_main_arena; av; av = __atomic_load_n(&av->next, __ATOMIC_ACQUIRE), nr++) {
        /* per-bin summaries gathered under the lock, printed after */
        struct { uint64_t from, to, total, count; } sizes[LA_NFASTBINS + LA_NBINS];
        unsigned ns = 0;
        uint64_t nfast = 0, fast = 0, nfree = 0, freeb = 0, sys, maxsys;
        la_lock(&av->lock);
        la_remote_drain(av);
        for (unsigned i = 0; i < LA_NFASTBINS; i++) {
            uint64_t c = 0;
            for (la_chunk *p = av->fastbins[i]; p; p = (la_chunk *)la_reveal_ptr((uintptr_t)&p->fd, (uintptr_t)p->fd)) c++;
            if (c) {
                size_t sz = la_fastbin_size(i);
                sizes[ns].from = sz; sizes[ns].to = sz; sizes[ns].total = c * sz; sizes[ns].count = c; ns++;
                nfast += c; fast += c * sz;
            }
        }
        for (unsigned i = 2; i < LA_NBINS - 1; i++) {
            la_chunk *b = bin_at(av, i);
            uint64_t c = 0, tot = 0, lo = UINT64_MAX, hi = 0;
            for (la_chunk *p = b->fd; p != b; p = p->fd) {
                size_t sz = ck_size(p);
                c++; tot += sz;
                if (sz < lo) lo = sz;
                if (sz > hi) hi = sz;
            }
            if (c) { sizes[ns].from = lo; sizes[ns].to = hi; sizes[ns].total = tot; sizes[ns].count = c; ns++; }
            nfree += c; freeb += tot;
        }
        la_chunk *u = bin_at(av, LA_BIN_UNSORTED);
        uint64_t uc = 0, ut = 0;
        for (la_chunk *p = u->fd; p != u; p = p->fd) { uc++; ut += ck_size(p); }
        nfree += uc; freeb += ut;
        sys = av->system_mem;
        maxsys = av->max_system_mem;
        la_arena_unlock(av);

        fprintf(fp, "<heap nr=\"%u\">\n<sizes>\n", nr);
        for (unsigned i = 0; i < ns; i++)
            fprintf(fp, "  <size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>\n",
                    (unsigned long long)sizes[i].from, (unsigned long long)sizes[i].to,
                    (unsigned long long)sizes[i].total, (unsigned long long)sizes[i].count);
        if (uc) fprintf(fp, "  <unsorted from=\"0\" to=\"0\" total=\"%llu\" count=\"%llu\"/>\n",
                        (unsigned long long)ut, (unsigned long long)uc);
        fprintf(fp, "</sizes>\n");
        fprintf(fp, "<total type=\"fast\" count=\"%llu\" size=\"%llu\"/>\n", (unsigned long long)nfast, (unsigned long long)fast);
        fprintf(fp, "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n", (unsigned long long)nfree, (unsigned long long)freeb);
        fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n", (unsigned long long)sys);
        fprintf(fp, "<system type=\"max\" size=\"%llu\"/>\n", (unsigned long long)maxsys);
        fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n", (unsigned long long)sys);
        fprintf(fp, "<aspace type=\"mprotect\" size=\"%llu\"/>\n", (unsigned long long)sys);
        fprintf(fp, "</heap>\n");
        t_nfast += nfast; t_fast += fast; t_nfree += nfree; t_free += freeb; t_sys += sys; t_maxsys += maxsys;
    }
    fprintf(fp, "<total type=\"fast\" count=\"%llu\" size=\"%llu\"/>\n", (unsigned long long)t_nfast, (unsigned long long)t_fast);
    fprintf(fp, "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n", (unsigned long long)t_nfree, (unsigned long long)t_free);
    fprintf(fp, "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n",
            (unsigned long long)la_dbg.mstats.n_mmaps, (unsigned long long)la_dbg.mstats.mmapped_mem);
    fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n", (unsigned long long)t_sys);
    fprintf(fp, "<system type=\"max\" size=\"%llu\"/>\n", (unsigned long long)t_maxsys);
    fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n", (unsigned long long)t_sys);
    fprintf(fp, "<aspace type=\"mprotect\" size=\"%llu\"/>\n", (unsigned long long)t_sys);
    fprintf(fp, "</malloc>\n");
    return 0;
}

int la_malloc_trim(size_t pad)
{
    la_ensure_init();
    int r = 0;
    la_bc_flush(la_tc_get());          /* this thread's cached big chunks first */
    for (struct la_arena *av = &la_main_arena; av; av = __atomic_load_n(&av->next, __ATOMIC_ACQUIRE)) {
        la_lock(&av->lock);
        la_remote_drain(av);
        r |= la_trim_arena(av, pad);
        la_arena_unlock(av);
    }
    return r;
}

struct mallinfo2 liballoc_mallinfo2(void) __attribute__((alias("la_mallinfo2"), visibility("default")));
struct mallinfo liballoc_mallinfo(void) __attribute__((alias("la_mallinfo"), visibility("default")));
void liballoc_malloc_stats(void) __attribute__((alias("la_malloc_stats"), visibility("default")));
int liballoc_malloc_info(int options, FILE *fp) __attribute__((alias("la_malloc_info"), visibility("default")));
int liballoc_malloc_trim(size_t pad) __attribute__((alias("la_malloc_trim"), visibility("default")));
