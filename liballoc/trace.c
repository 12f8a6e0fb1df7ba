/*
 * liballoc/trace.c - recording operations for heapview (LIBALLOC_OPTIONS
 * trace=1, history=N, sites=DEPTH, step=1), published in liballoc_debug.trace.
 *
 * How it works.  With any of these options, la_update_fastpath() sets the
 * inline limits to 0, so every malloc and free takes the slow path (the inline
 * tcache paths are unchanged: nothing is added to them, and with the options
 * off the slow paths pay one load and a not-taken branch).  Each public entry's
 * slow path, seeing la_dbg.trace.flags set and not already recording on this
 * thread (la_t_tracing), calls la_traced_*() here: it marks the thread as
 * recording, publishes the call as in progress (trace.last with seq 0: a core
 * written by an abort inside the call shows which call failed), runs the normal
 * slow path (which notes in la_t_note what it did: tcache bin, fastbin, split,
 * top extension...; see LA_NOTE in internal.h), then builds a struct la_op:
 * sequence number, thread, call, arguments, result, path, and the caller (the
 * return address the public entry was called with, passed down by its slow
 * path; 0 when that is inside liballoc).  The record goes to trace.last and, with history,
 * to the ring slot (seq - 1) % hist_cap (seq is cleared first and written
 * last, so a reader can tell a torn slot).  With sites, the allocated user
 * pointer is entered in the site table with the request size, seq and up to
 * DEPTH return addresses (glibc backtrace(); its own allocations, e.g. loading
 * libgcc_s, are served but not recorded because la_t_tracing is set); a freed
 * pointer is removed.  The table is open addressing with linear probing in
 * liballoc's own mmap'd pages (the heap layout does not change), under its own
 * lock, doubled when 3/4 full.  Finally liballoc_debug_op_hook(op) is called:
 * an empty noinline function a debugger can break on (it raises SIGSTOP in
 * it while heapview has set trace.step_armed: step mode).
 */
#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>

#include "internal.h"

LA_TLS int la_t_tracing;
LA_TLS struct la_op la_t_note;
LA_TLS uint64_t la_t_tid;           /* this thread's id, cached (cleared in a fork child) */

#define SITE_INIT_CAP 4096u
static uint64_t site_tomb;

LA_EXPORT LA_NOINLINE void liballoc_debug_op_hook(const struct la_op *op)
{
    __asm__ volatile("" : : "r"(op) : "memory");
    if (la_unlikely(__atomic_load_n(&la_dbg.trace.step_armed, __ATOMIC_RELAXED))) raise(SIGSTOP);
}

static uint64_t *site_alloc(uint64_t cap, uint64_t stride)
{
    void *m;
    if (la_os_mmap(la_align_up(cap * stride, la_g.pagesize), PROT_READ | PROT_WRITE, 0, &m)) return NULL;
    return m;
}

void la_trace_init(void)
{
    struct la_trace *t = &la_dbg.trace;
    if (!t->flags && !t->hist_cap && !t->site_depth) return;
    t->flags |= LA_TRACE_ON;
    t->hook = (uint64_t)(uintptr_t)&liballoc_debug_op_hook;
    if (t->hist_cap) {
        void *m;
        if (la_os_mmap(la_align_up(t->hist_cap * sizeof(struct la_op), la_g.pagesize), PROT_READ | PROT_WRITE, 0, &m)) {
            la_warn("LIBALLOC_OPTIONS: ", "no memory for the history ring", "");
            t->hist_cap = 0;
            t->flags &= ~LA_TRACE_HISTORY;
        } else {
            t->hist = (uint64_t)(uintptr_t)m;
            t->flags |= LA_TRACE_HISTORY;
        }
    }
    if (t->site_depth) {
        t->site_stride = 24 + 8 * (uint64_t)t->site_depth;
        uint64_t *tab = site_alloc(SITE_INIT_CAP, t->site_stride);
        if (!tab) {
            la_warn("LIBALLOC_OPTIONS: ", "no memory for the site table", "");
            t->site_depth = 0;
            t->flags &= ~LA_TRACE_SITES;
        } else {
            t->sites = (uint64_t)(uintptr_t)tab;
            t->site_cap = SITE_INIT_CAP;
            t->flags |= LA_TRACE_SITES;
        }
    }
}

/* Stacks are unwound only once constructors run: in a static program the first
 * malloc comes from the C library's own start-up, before the unwinder can find
 * any frame information (it would abort).  Allocations before that get no
 * site (their caller is still recorded). */
/* (la_g.unwind_ready: la_g's page is written anyway; a flag of its own would
 * fault in a page of liballoc's .bss in every process) */

__attribute__((constructor)) static void trace_ctor(void)
{
    if (la_dbg.trace.flags & LA_TRACE_SITES) {
        void *f[4];
        la_t_tracing = 1;
        backtrace(f, 4);        /* load the unwinder now rather than inside a recorded call */
        la_t_tracing = 0;
    }
    __atomic_store_n(&la_g.unwind_ready, 1, __ATOMIC_RELEASE);
}

/* Phase 2 of initialisation: stop for heapview in step mode. */
void la_trace_init2(void)
{
    if (la_dbg.trace.flags & LA_TRACE_STEP) raise(SIGSTOP);   /* heapview attaches here */
}

LA_INLINE uint64_t site_hash(uint64_t p, uint64_t mask) { return ((p >> 4) * 0x9e3779b97f4a7c15ull >> 24) & mask; }

/* under site_lock */
static void site_put(uint64_t *tab, uint64_t cap, uint64_t stride, const uint64_t *slot)
{
    uint64_t w = stride / 8, mask = cap - 1;
    for (uint64_t i = site_hash(slot[0], mask);; i = (i + 1) & mask) {
        uint64_t *s = tab + i * w;
        if (s[0] <= LA_SITE_DELETED || s[0] == slot[0]) {
            if (s[0] == LA_SITE_DELETED) site_tomb--;
            memcpy(s + 1, slot + 1, stride - 8);
            __atomic_store_n(&s[0], slot[0], __ATOMIC_RELEASE);
            return;
        }
    }
}

static void site_grow(struct la_trace *t)
{
    uint64_t cap = t->site_count * 2 + 2 > t->site_cap ? t->site_cap * 2 : t->site_cap;
    uint64_t *nt = site_alloc(cap, t->site_stride), *old = (uint64_t *)(uintptr_t)t->sites;
    if (!nt) return;
    uint64_t w = t->site_stride / 8, oldcap = t->site_cap;
    site_tomb = 0;
    for (uint64_t i = 0; i < oldcap; i++)
        if (old[i * w] > LA_SITE_DELETED) site_put(nt, cap, t->site_stride, old + i * w);
    la_gen_begin();
    t->sites = (uint64_t)(uintptr_t)nt;
    t->site_cap = cap;
    la_gen_end();
    la_os_munmap(old, la_align_up(oldcap * t->site_stride, la_g.pagesize));
}

static void site_insert(struct la_trace *t, const uint64_t *slot)
{
    la_lock(&t->site_lock);
    if ((t->site_count + site_tomb + 1) * 4 > t->site_cap * 3) site_grow(t);
    if ((t->site_count + site_tomb + 1) < t->site_cap) {
        site_put((uint64_t *)(uintptr_t)t->sites, t->site_cap, t->site_stride, slot);
        t->site_count++;
    }
    la_unlock(&t->site_lock);
}

static void site_remove(struct la_trace *t, uint64_t key)
{
    la_lock(&t->site_lock);
    uint64_t *tab = (uint64_t *)(uintptr_t)t->sites, w = t->site_stride / 8, mask = t->site_cap - 1;
    for (uint64_t i = site_hash(key, mask), n = 0; n < t->site_cap; i = (i + 1) & mask, n++) {
        uint64_t *s = tab + i * w;
        if (s[0] == LA_SITE_EMPTY) break;
        if (s[0] == key) {
            __atomic_store_n(&s[0], (uint64_t)LA_SITE_DELETED, __ATOMIC_RELEASE);
            t->site_count--;
            site_tomb++;
            break;
        }
    }
    la_unlock(&t->site_lock);
}

/* The call is starting: publish it as in progress, clear the notes. */
static void begin(unsigned call, uint64_t a0, uint64_t a1)
{
    la_t_tracing = 1;
    memset(&la_t_note, 0, sizeof la_t_note);
    struct la_op *l = &la_dbg.trace.last;
    l->seq = 0;
    l->call = call;
    l->arg0 = a0;
    l->arg1 = a1;
    l->result = 0;
    l->path = 0;
}

static void record(unsigned call, uint64_t a0, uint64_t a1, void *result, uint64_t req, void *ra)
{
    struct la_trace *t = &la_dbg.trace;
    struct la_op op = la_t_note;
    if (la_unlikely(!la_t_tid)) la_t_tid = (uint64_t)la_os_gettid();
    op.tid = la_t_tid;
    op.call = call;
    op.arg0 = a0;
    op.arg1 = a1;
    op.result = (uint64_t)(uintptr_t)result;
    if (!result && call != LA_OP_FREE) op.flags |= LA_OPF_FAILED;
    if (result && !op.chunk) {
        op.chunk = (uint64_t)(uintptr_t)mem2ck(result);
        if (!op.csize) op.csize = ck_size(mem2ck(result));
    }
    /* the caller: the return address the public entry was called with (its
     * slow path is reached by a tail call), unless that lies in liballoc */
    uint64_t r = (uint64_t)(uintptr_t)ra;
    op.caller = r >= la_dbg.text_start && r < la_dbg.text_end ? 0 : r;
    /* sites: unwind (glibc backtrace), skipping liballoc's own frames */
    void *fr[LA_SITE_MAX_DEPTH + 6];
    uint64_t slot[3 + LA_SITE_MAX_DEPTH];
    unsigned nf = 0;
    if ((t->flags & LA_TRACE_SITES) && __atomic_load_n(&la_g.unwind_ready, __ATOMIC_ACQUIRE)) {
        int got = backtrace(fr, (int)t->site_depth + 4);
        for (int i = 0; i < got && nf < t->site_depth; i++) {
            uint64_t a = (uint64_t)(uintptr_t)fr[i];
            if (nf == 0 && a >= la_dbg.text_start && a < la_dbg.text_end) continue;
            slot[3 + nf++] = a;
        }
        if (nf && !op.caller) op.caller = slot[3];
    }
    op.seq = __atomic_add_fetch(&t->seq, 1, __ATOMIC_RELAXED);
    if (t->flags & LA_TRACE_SITES) {
        /* free(p), realloc(p, 0) and a realloc that succeeded release p */
        if (a0 && (call == LA_OP_FREE || (call == LA_OP_REALLOC && (result || a1 == 0)))) site_remove(t, a0);
        if (result && call != LA_OP_FREE) {
            slot[0] = op.result;
            slot[1] = req;
            slot[2] = op.seq;
            for (unsigned k = nf; k < t->site_depth; k++) slot[3 + k] = 0;
            site_insert(t, slot);
        }
    }
    if (t->flags & LA_TRACE_HISTORY) {
        struct la_op *s = (struct la_op *)(uintptr_t)t->hist + (op.seq - 1) % t->hist_cap;
        __atomic_store_n(&s->seq, 0, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        uint64_t seq = op.seq;
        op.seq = 0;
        *s = op;
        op.seq = seq;
        __atomic_store_n(&s->seq, seq, __ATOMIC_RELEASE);
    }
    t->last = op;
    la_t_tracing = 0;
    liballoc_debug_op_hook(&t->last);
}

void *la_traced_malloc(size_t n, void *ra)
{
    begin(LA_OP_MALLOC, n, 0);
    void *m = la_malloc_slow(n);
    record(LA_OP_MALLOC, n, 0, m, n, ra);
    return m;
}

void la_traced_free(void *mem, void *ra)
{
    begin(LA_OP_FREE, (uint64_t)(uintptr_t)mem, 0);
    la_free_slow(mem);
    record(LA_OP_FREE, (uint64_t)(uintptr_t)mem, 0, NULL, 0, ra);
}

void *la_traced_calloc(size_t nmemb, size_t size, void *ra)
{
    begin(LA_OP_CALLOC, nmemb, size);
    void *m = la_calloc(nmemb, size);
    record(LA_OP_CALLOC, nmemb, size, m, (uint64_t)nmemb * size, ra);
    return m;
}

void *la_traced_realloc(void *p, size_t n, void *ra)
{
    begin(LA_OP_REALLOC, (uint64_t)(uintptr_t)p, n);
    void *m = la_realloc(p, n);
    if (m && !la_t_note.path) la_t_note.path = m == p ? LA_PATH_REALLOC_INPLACE : LA_PATH_REALLOC_MOVED;
    record(LA_OP_REALLOC, (uint64_t)(uintptr_t)p, n, m, n, ra);
    return m;
}

void *la_traced_memalign(size_t alignment, size_t n, void *(*fn)(size_t, size_t), void *ra)
{
    begin(LA_OP_MEMALIGN, alignment, n);
    void *m = fn(alignment, n);
    record(LA_OP_MEMALIGN, alignment, n, m, n, ra);
    return m;
}
