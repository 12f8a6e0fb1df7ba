/*
 * heapview/ui.c - the interactive view: the heap, live, in a terminal (ncursesw).
 *
 * Design: model -> panels -> key table -> actions.
 *
 * The MODEL is the engine's snapshot (snapshot.h) and nothing else: hv_ui_run()
 * takes one with hv_snapshot_take() (which stops the target only while copying),
 * and, for a live process, a new one every -d seconds, marks what changed with
 * hv_snapshot_diff() (HV_NEW / HV_CHANGED on the new chunks), frees the old one
 * and derives a few cheap indexes from the new one (derive(): every chunk, heap and
 * mmapped, sorted by address; per-arena byte counts by state; a size histogram).
 * Between snapshots the target runs: the UI waits for keys with a getch timeout
 * that ends at the next refresh time, so a key is answered at once.  If a take
 * fails because the process is gone, the last snapshot stays on screen and the
 * title says so; a core file gives one snapshot and no refresh.
 *
 * The PANELS are five views (Overview, Heap map, Bins, Chunk detail, Problems)
 * plus Help.  Each is a pure function of (snapshot, derived indexes, view state)
 * that either fills a list of text lines (struct line: text, a chunk address to
 * jump to, a state class to colour) or, for the Heap map, draws only the visible
 * rows of the sorted chunk index plus a disk-map strip of the whole heap.  Every
 * state has ONE entry in the class table CLS[]: its name, its letter, its colour
 * and its monochrome attribute, so colour and monochrome renderings cannot
 * disagree and the legend is generated from the same table.
 *
 * The KEY TABLE (ui_keys.h, an X-macro list) maps key codes to ACTIONS (act_*
 * functions below).  The dispatcher searches it for each key, and the help screen
 * is printed from it, so help always lists exactly the keys that work.  Actions
 * only change view state (view, cursor, selected address, thread, pause) or ask
 * for a refresh; the next frame redraws from the model.
 *
 * Terminal safety: the terminal is restored on every exit path.  Normal quit and
 * errors go through endwin(); SIGINT/SIGTERM/SIGHUP only set a flag (the loop then
 * ends, restores the terminal, and main() closes the source, which detaches the
 * target; a snapshot in progress finishes first, so the target is never left
 * stopped); SIGSEGV/SIGABRT/SIGBUS/SIGFPE/SIGILL restore the terminal with
 * async-signal-safe calls only (saved termios + the terminfo strings endwin()
 * would send, captured at start) and re-raise.  Without a usable terminal
 * (TERM=dumb, not a tty) the view refuses with one line pointing at --dump.
 */
/* Screen text is clipped to the line on purpose: snprintf truncation is expected. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "report.h"
#include "snapshot.h"
#include "ui.h"
#include "ui_keys.h"

#define X(v) ((unsigned long long)(v))

/* ---- the one class table: states, letters, colours, monochrome attributes ------------ */

enum { K_INUSE, K_TCACHE, K_FAST, K_UNSORTED, K_SMALL, K_LARGE, K_TOP, K_MMAPPED, K_REMOTE, K_CORRUPT, K_NCLS };

static const struct cls_def {
    const char *name;       /* as shown in rows and the legend */
    char letter;            /* strip cell and monochrome marker */
    short colour;           /* curses colour */
    attr_t colour_attr;     /* extra attribute with colour */
    attr_t mono;            /* attribute without colour */
} CLS[K_NCLS] = {
    [K_INUSE]    = { "inuse",    'U', COLOR_BLUE,    0,      A_NORMAL },
    [K_TCACHE]   = { "tcache",   't', COLOR_CYAN,    0,      A_DIM },
    [K_FAST]     = { "fast",     'f', COLOR_GREEN,   0,      A_UNDERLINE },
    [K_UNSORTED] = { "unsorted", 'u', COLOR_YELLOW,  0,      A_BOLD },
    [K_SMALL]    = { "small",    's', COLOR_MAGENTA, 0,      A_BOLD | A_UNDERLINE },
    [K_LARGE]    = { "large",    'L', COLOR_MAGENTA, A_BOLD, A_BOLD | A_DIM },
    [K_TOP]      = { "top",      'T', COLOR_WHITE,   0,      A_REVERSE },
    [K_MMAPPED]  = { "mmapped",  'M', COLOR_BLUE,    A_BOLD, A_DIM | A_UNDERLINE },
    [K_REMOTE]   = { "remote",   'r', COLOR_CYAN,    A_BOLD, A_DIM | A_UNDERLINE },
    [K_CORRUPT]  = { "corrupt",  '!', COLOR_RED,     A_BOLD, A_BOLD | A_REVERSE },
};

static int chunk_cls(const struct hv_chunk *c)
{
    if (c->flags & (HV_CF_PROBLEM | HV_CF_MULTI_BIN))
        return K_CORRUPT;
    switch (c->state) {
    case HV_INUSE: return K_INUSE;
    case HV_TOP: return K_TOP;
    case HV_MMAPPED: return K_MMAPPED;
    default: break;
    }
    switch (c->bin) {
    case HV_BIN_TCACHE: return K_TCACHE;
    case HV_BIN_BIGCACHE: return K_TCACHE;
    case HV_BIN_FAST: return K_FAST;
    case HV_BIN_REMOTE: return K_REMOTE;
    case HV_BIN_UNSORTED: return K_UNSORTED;
    case HV_BIN_SMALL: return K_SMALL;
    case HV_BIN_LARGE: return K_LARGE;
    default: return K_CORRUPT;       /* free by its tags but in no list */
    }
}

static int bin_cls(unsigned kind)
{
    static const int m[] = { K_CORRUPT, K_TCACHE, K_FAST, K_UNSORTED, K_SMALL, K_LARGE, K_REMOTE };
    return kind < 7 ? m[kind] : K_CORRUPT;
}

/* ---- state ------------------------------------------------------------------------------ */

enum { V_OVERVIEW, V_HEAP, V_BINS, V_DETAIL, V_PROBLEMS, V_LEAKS, V_HISTORY, V_EXPLAIN, V_NVIEWS, V_HELP = V_NVIEWS };
static const char *const VIEW_NAME[] = { "Overview", "Heap map", "Bins", "Chunk", "Problems", "Leaks", "History",
                                         "Explain", "Help" };

#define LINE_W 256
struct line {
    uint64_t addr;          /* chunk (or address) Enter jumps to; 0 = none */
    int cls;                /* class of the tagged span, -1 none */
    short tag_off, tag_len; /* span drawn in the class's attribute */
    attr_t attr;            /* whole line */
    char text[LINE_W];
};

struct vstate { size_t cur, top; };

#define NHIST 17            /* chunk sizes 2^5 .. 2^20 and above */

struct astats {
    uint64_t inuse_b, inuse_n;
    uint64_t b[K_NCLS], n[K_NCLS];
    uint64_t largest_free, total_free;   /* free chunks in bins/tcache, top excluded */
};

struct ui {
    struct hv_source *src;
    const struct hv_ui_options *opt;
    struct hv_snapshot *snap;
    int live, paused, gone;
    char gone_msg[200];
    int colour, can_colour;
    int view, prev_view, help_from;
    struct vstate vs[V_NVIEWS + 1];

    /* derived from snap */
    const struct hv_chunk **order;       /* every chunk, sorted by address */
    size_t norder;
    struct astats *as;
    uint64_t hist[2][NHIST];             /* [0] in use (mmapped too), [1] free (top excluded) */
    size_t nchanged;
    unsigned nrefresh;

    uint64_t heap_sel;                   /* address of the selected chunk in the Heap map */
    uint64_t detail;                     /* chunk the Chunk view shows */
    size_t tsel;                         /* tcache shown in Bins */
    long pi;                             /* current problem for n/N */
    uint64_t mark;                       /* m: operation number of the mark (0 = none) */
    int marked;

    struct line *lines;
    size_t nlines, cap;
    int body_top, body_h;                /* rows of the body */

    uint64_t next_refresh_ns;
    char status[300];
    int quit;
    /* figures for HEAPVIEW_UI_STATS (refresh cost benchmark) */
    uint64_t t_start, sum_take, max_take, sum_stop, max_stop, sum_draw, max_draw, ndraw, ntake;
    uint64_t sum_proc, max_proc, nproc;   /* diff + derive per refresh */
    /* step mode */
    const struct hv_ui_step *step;
    int step_state, step_mode;           /* HV_STEP_RUNNING/STOPPED/EXITED, HV_STEP_NEXT.. */
    char step_line[LINE_W];
};

/* ---- terminal restore on signals -------------------------------------------------------- */

static volatile sig_atomic_t g_quit_sig;
static struct termios g_tios;
static int g_tios_ok;
static char g_restore[256];
static size_t g_restore_len;
static volatile sig_atomic_t g_screen_on;
static struct sigaction g_old[8];
static const int QUIT_SIGS[] = { SIGINT, SIGTERM, SIGHUP };
static const int CRASH_SIGS[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };

static void on_quit_signal(int sig)
{
    g_quit_sig = sig;
}

static void restore_tty_async(void)
{
    if (!g_screen_on)
        return;
    g_screen_on = 0;
    if (g_restore_len && write(STDOUT_FILENO, g_restore, g_restore_len) < 0) {
        /* nothing more can be done from a signal handler */
    }
    if (g_tios_ok)
        tcsetattr(STDIN_FILENO, TCSANOW, &g_tios);
}

static void on_crash_signal(int sig)
{
    restore_tty_async();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_quit_signal;
    for (size_t i = 0; i < 3; i++)
        sigaction(QUIT_SIGS[i], &sa, &g_old[i]);
    sa.sa_flags = SA_RESETHAND;
    sa.sa_handler = on_crash_signal;
    for (size_t i = 0; i < 5; i++)
        sigaction(CRASH_SIGS[i], &sa, &g_old[3 + i]);
}

static void restore_signals(void)
{
    for (size_t i = 0; i < 3; i++)
        sigaction(QUIT_SIGS[i], &g_old[i], NULL);
    for (size_t i = 0; i < 5; i++)
        sigaction(CRASH_SIGS[i], &g_old[3 + i], NULL);
}

/* The strings endwin() would send, captured while the terminal is set up. */
static void capture_restore_strings(void)
{
    const char *caps[] = { "sgr0", "cnorm", "rmkx", "rmcup" };
    g_restore_len = 0;
    for (size_t i = 0; i < 4; i++) {
        char *s = tigetstr((char *)caps[i]);
        if (!s || s == (char *)-1)
            continue;
        size_t n = strlen(s);
        if (g_restore_len + n < sizeof g_restore) {
            memcpy(g_restore + g_restore_len, s, n);
            g_restore_len += n;
        }
    }
}

/* ---- small helpers --------------------------------------------------------------------- */

static const char *hbytes(uint64_t v, char *buf, size_t len)
{
    if (v < 10000)
        snprintf(buf, len, "%lluB", X(v));
    else if (v < (10ull << 20))
        snprintf(buf, len, "%.1fK", v / 1024.0);
    else if (v < (10ull << 30))
        snprintf(buf, len, "%.1fM", v / 1048576.0);
    else
        snprintf(buf, len, "%.1fG", v / 1073741824.0);
    return buf;
}

static attr_t cls_attr(const struct ui *u, int k)
{
    if (k < 0 || k >= K_NCLS)
        return A_NORMAL;
    return u->colour ? (attr_t)COLOR_PAIR(1 + k) | CLS[k].colour_attr : CLS[k].mono;
}

static attr_t cell_attr(const struct ui *u, int k)
{
    return u->colour ? (attr_t)COLOR_PAIR(1 + K_NCLS + k) | CLS[k].colour_attr : CLS[k].mono;
}

static struct line *addl(struct ui *u, uint64_t addr, int cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static struct line *addl(struct ui *u, uint64_t addr, int cls, const char *fmt, ...)
{
    if (u->nlines == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 256;
        struct line *l = realloc(u->lines, cap * sizeof *l);
        if (!l)
            return NULL;
        u->lines = l;
        u->cap = cap;
    }
    struct line *l = &u->lines[u->nlines++];
    l->addr = addr;
    l->cls = cls;
    l->tag_off = l->tag_len = 0;
    l->attr = A_NORMAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    return l;
}

/* Tag the first occurrence of word in line l with class k. */
static void tagw(struct line *l, const char *word, int k)
{
    if (!l || !word || !*word)
        return;
    const char *p = strstr(l->text, word);
    if (!p)
        return;
    l->cls = k;
    l->tag_off = (short)(p - l->text);
    l->tag_len = (short)strlen(word);
}

static const struct hv_arena *arena_of(const struct hv_snapshot *s, uint32_t i)
{
    return i != HV_NONE && i < s->narenas ? &s->arenas[i] : NULL;
}

static void bin_label(const struct hv_snapshot *s, const struct hv_chunk *c, char *buf, size_t len)
{
    if (c->bin == HV_BIN_TCACHE) {
        unsigned long long tid = c->tcache != HV_NONE && c->tcache < s->ntcaches ? X(s->tcaches[c->tcache].tid) : 0;
        snprintf(buf, len, "tcache[%u]@%llu", c->bin_index, tid);
    } else if (c->bin == HV_BIN_BIGCACHE) {
        unsigned long long tid = c->tcache != HV_NONE && c->tcache < s->ntcaches ? X(s->tcaches[c->tcache].tid) : 0;
        snprintf(buf, len, "bigcache[%u]@%llu", c->bin_index, tid);
    } else if (c->bin == HV_BIN_UNSORTED)
        snprintf(buf, len, "unsorted");
    else if (c->bin != HV_BIN_NONE)
        snprintf(buf, len, "%s[%u]", hv_bin_name(c->bin), c->bin_index);
    else if (c->flags & HV_CF_LAST_REM)
        snprintf(buf, len, "last_rem");
    else
        snprintf(buf, len, "-");
}

/* ---- deriving indexes from a snapshot ----------------------------------------------------- */

static int cmp_chunkp(const void *a, const void *b)
{
    uint64_t x = (*(const struct hv_chunk *const *)a)->addr, y = (*(const struct hv_chunk *const *)b)->addr;
    return x < y ? -1 : x > y;
}

static unsigned hist_bucket(uint64_t sz)
{
    unsigned b = 0;
    while (b + 1 < NHIST && sz >= (64ull << b))
        b++;
    return b;
}

static int derive(struct ui *u)
{
    const struct hv_snapshot *s = u->snap;
    free(u->order);
    free(u->as);
    u->norder = s->nchunks + s->nmmapped;
    u->order = malloc((u->norder ? u->norder : 1) * sizeof *u->order);
    u->as = calloc(s->narenas ? s->narenas : 1, sizeof *u->as);
    if (!u->order || !u->as) {
        u->norder = 0;
        return -1;
    }
    memset(u->hist, 0, sizeof u->hist);
    size_t n = 0;
    int sorted = 1;
    for (int pass = 0; pass < 2; pass++) {
        const struct hv_chunk *arr = pass ? s->mmapped : s->chunks;
        size_t cnt = pass ? s->nmmapped : s->nchunks;
        for (size_t i = 0; i < cnt; i++) {
            const struct hv_chunk *c = &arr[i];
            if (n && u->order[n - 1]->addr > c->addr)
                sorted = 0;
            u->order[n++] = c;
            int k = chunk_cls(c);
            if (c->state != HV_TOP)
                u->hist[c->state == HV_FREE][hist_bucket(c->size)]++;
            if (c->arena == HV_NONE || c->arena >= s->narenas)
                continue;
            struct astats *a = &u->as[c->arena];
            if (c->state == HV_INUSE) {
                a->inuse_b += c->size;
                a->inuse_n++;
            }
            a->b[k] += c->size;
            a->n[k]++;
            if (c->state == HV_FREE) {
                a->total_free += c->size;
                if (c->size > a->largest_free)
                    a->largest_free = c->size;
            }
        }
    }
    if (!sorted)
        qsort(u->order, n, sizeof *u->order, cmp_chunkp);
    return 0;
}

/* Row of the sorted index whose chunk contains addr (or the nearest one below). */
static size_t order_find(const struct ui *u, uint64_t addr, int *exact)
{
    size_t lo = 0, hi = u->norder;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->order[mid]->addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t r = lo ? lo - 1 : 0;
    if (exact)
        *exact = u->norder && u->order[r]->addr <= addr && addr < u->order[r]->addr + (u->order[r]->size ? u->order[r]->size : 1);
    return r;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void stat_take(struct ui *u, const struct hv_snapshot *s)
{
    u->ntake++;
    u->sum_take += s->take_ns;
    u->sum_stop += s->stop_ns;
    if (s->take_ns > u->max_take)
        u->max_take = s->take_ns;
    if (s->stop_ns > u->max_stop)
        u->max_stop = s->stop_ns;
}

static void take_new(struct ui *u)
{
    struct hv_error err = { 0, "" };
    struct hv_snapshot *n = hv_snapshot_take(u->src, NULL, &err);
    u->next_refresh_ns = hv_now_ns() + (uint64_t)(u->opt->delay_s * 1e9);
    if (!n) {
        if (!hv_source_alive(u->src) || err.status == HV_EXIT_NOPROC) {
            u->gone = 1;
            snprintf(u->gone_msg, sizeof u->gone_msg, "%s", err.msg[0] ? err.msg : "the process exited");
            snprintf(u->status, sizeof u->status, "target exited: showing the last snapshot (q quits)");
        } else
            snprintf(u->status, sizeof u->status, "refresh failed: %s", err.msg);
        return;
    }
    stat_take(u, n);
    uint64_t t0 = hv_now_ns();
    u->nchanged = hv_snapshot_diff(u->snap, n);
    hv_snapshot_free(u->snap);
    u->snap = n;
    u->nrefresh++;
    if (derive(u) < 0) {
        u->quit = HV_EXIT_INTERNAL;
        snprintf(u->status, sizeof u->status, "out of memory");
    }
    /* the Heap map keeps the same chunk selected, at the same place on screen */
    if (u->norder && u->heap_sel) {
        struct vstate *v = &u->vs[V_HEAP];
        size_t off = v->cur >= v->top ? v->cur - v->top : 0;
        v->cur = order_find(u, u->heap_sel, NULL);
        v->top = v->cur >= off ? v->cur - off : 0;
        u->heap_sel = u->order[v->cur]->addr;
    }
    uint64_t d = hv_now_ns() - t0;
    u->sum_proc += d;
    u->nproc++;
    if (d > u->max_proc)
        u->max_proc = d;
    if (u->tsel >= n->ntcaches)
        u->tsel = 0;
    if (u->pi >= (long)n->nproblems)
        u->pi = -1;
}

/* ---- line views ---------------------------------------------------------------------------- */

static const char *seg_kind(unsigned k)
{
    return k == LA_SEG_SBRK ? "sbrk" : k == LA_SEG_MMAP ? "mmap" : k == LA_SEG_HEAP ? "heap" : "?";
}

static void build_overview(struct ui *u)
{
    const struct hv_snapshot *s = u->snap;
    char b1[32], b2[32], b3[32];
    struct line *l;
    addl(u, 0, -1, "%s   liballoc_debug 0x%llx ABI %u (compat %u)", s->source, X(s->debug_addr), s->abi_version,
         s->compat_version);
    if (s->source_kind == HV_SOURCE_LIVE)
        l = addl(u, 0, -1, "snapshot %s, %u attempt%s%s%s; stopped %.2f ms, took %.2f ms, %s copied",
                 s->mid_operation ? "TAKEN MID-OPERATION" : "consistent", s->attempts, s->attempts == 1 ? "" : "s",
                 s->mid_operation ? ": " : "", s->mid_operation ? s->mid_reason : "", s->stop_ns / 1e6,
                 s->take_ns / 1e6, hbytes(s->copied_bytes, b1, sizeof b1));
    else
        l = addl(u, 0, -1, "snapshot of a core file%s%s, %s read", s->mid_operation ? ", TAKEN MID-OPERATION: " : "",
                 s->mid_operation ? s->mid_reason : "", hbytes(s->copied_bytes, b1, sizeof b1));
    if (l && s->mid_operation)
        tagw(l, "TAKEN MID-OPERATION", K_CORRUPT);
    if (!s->initialized)
        addl(u, 0, -1, "liballoc has not initialised yet (no allocation made)");
    for (size_t ai = 0; ai < s->narenas; ai++) {
        const struct hv_arena *a = &s->arenas[ai];
        const struct astats *st = &u->as[ai];
        addl(u, 0, -1, "%s", "");
        l = addl(u, 0, -1, "Arena %u%s @ 0x%llx  flags 0x%x%s%s%s  threads %u  next 0x%llx", a->index,
                 a->is_main ? " (main)" : "", X(a->addr), a->flags, a->flags & LA_ARENA_NONCONTIG ? " NONCONTIG" : "",
                 a->flags & LA_ARENA_CORRUPT ? " CORRUPT" : "", a->lock ? " LOCKED" : "", a->nthreads, X(a->next));
        if (l) {
            l->attr = A_BOLD;
            if (a->flags & LA_ARENA_CORRUPT)
                tagw(l, "CORRUPT", K_CORRUPT);
        }
        const struct hv_chunk *top = hv_snapshot_find_chunk(s, a->top);
        l = addl(u, a->top, K_TOP, "  top 0x%llx (%s)  last remainder 0x%llx  system %s  max system %s", X(a->top),
                 hbytes(top && top->addr == a->top ? top->size : 0, b1, sizeof b1), X(a->last_remainder),
                 hbytes(a->system_mem, b2, sizeof b2), hbytes(a->max_system_mem, b3, sizeof b3));
        tagw(l, "top", K_TOP);
        addl(u, 0, K_INUSE, "  in use %s in %llu chunks;  segments %u:", hbytes(st->inuse_b, b1, sizeof b1),
             X(st->inuse_n), a->nsegments);
        for (uint32_t k = 0; k < a->nsegments && a->first_segment + k < s->nsegments; k++) {
            const struct hv_segment *g = &s->segments[a->first_segment + k];
            addl(u, g->chunks, -1, "    %s 0x%llx..0x%llx  %u chunks%s", seg_kind(g->kind), X(g->chunks), X(g->end),
                 g->nchunks, g->walk_complete ? "" : "  (walk incomplete)");
        }
        char fb[LINE_W] = "";
        size_t o = 0;
        for (int k = K_TCACHE; k <= K_LARGE && o < sizeof fb; k++)
            o += (size_t)snprintf(fb + o, sizeof fb - o, " %s %s/%llu", CLS[k].name, hbytes(st->b[k], b1, sizeof b1),
                                  X(st->n[k]));
        addl(u, 0, -1, "  free:%s", fb);          /* bytes/chunks per class */
        double frag = st->total_free ? 1.0 - (double)st->largest_free / (double)st->total_free : 0.0;
        addl(u, 0, -1, "  fragmentation %.1f%%  (largest free %s of %s free; top excluded)", frag * 100.0,
             hbytes(st->largest_free, b1, sizeof b1), hbytes(st->total_free, b2, sizeof b2));
    }
    addl(u, 0, -1, "%s", "");
    l = addl(u, 0, -1, "Threads");
    if (l)
        l->attr = A_BOLD;
    for (size_t ti = 0; ti < s->ntcaches; ti++) {
        const struct hv_tcache *t = &s->tcaches[ti];
        uint64_t nb = 0, bb = 0;
        for (unsigned i = 0; i < LA_TCACHE_BINS; i++) {
            nb += t->bins[i].count;
            bb += t->bins[i].bytes;
        }
        for (unsigned i = 0; i < LA_BC_CLASSES; i++) {
            nb += t->bc[i].count;
            bb += t->bc[i].bytes;
        }
        const struct hv_arena *a = arena_of(s, t->arena);
        l = addl(u, 0, K_TCACHE, "  thread %llu  arena %d  tcache 0x%llx holds %llu chunks, %s", X(t->tid),
                 a ? (int)a->index : -1, X(t->addr), X(nb), hbytes(bb, b1, sizeof b1));
        tagw(l, "tcache", K_TCACHE);
    }
    for (size_t i = 0; i < s->nthreads; i++) {
        int has = 0;
        for (size_t ti = 0; ti < s->ntcaches; ti++)
            has |= s->tcaches[ti].tid == s->threads[i].tid;
        if (!has)
            addl(u, 0, -1, "  thread %llu  (no tcache: has not allocated)  ip 0x%llx", X(s->threads[i].tid),
                 X(s->threads[i].ip));
    }
    addl(u, 0, -1, "%s", "");
    const struct la_mstats *m = &s->mstats;
    l = addl(u, 0, K_MMAPPED, "mmap: n_mmaps %llu  n_mmaps_max %llu  max_n_mmaps %llu  mmapped %s  (max %s)",
             X(m->n_mmaps), X(s->tunables.mmap_max), X(m->max_n_mmaps), hbytes(m->mmapped_mem, b1, sizeof b1),
             hbytes(m->max_mmapped_mem, b2, sizeof b2));
    tagw(l, "mmap", K_MMAPPED);
    const struct la_tunables *tu = &s->tunables;
    addl(u, 0, -1, "tunables: tcache_count %llu  tcache_bytes %llu  tcache_max %llu  mxfast %llu  mmap_threshold %llu%s",
         X(tu->tcache_count), X(tu->tcache_bytes), X(tu->tcache_max), X(tu->mxfast), X(tu->mmap_threshold),
         tu->no_dyn_threshold ? " (fixed)" : "");
    addl(u, 0, -1, "          trim_threshold %llu  top_pad %llu  mmap_max %llu  arena_max %llu",
         X(tu->trim_threshold), X(tu->top_pad), X(tu->mmap_max), X(tu->arena_max));
    addl(u, 0, -1, "          arena_test %llu  perturb %llu  check %llu", X(tu->arena_test), X(tu->perturb), X(tu->check));
    const struct hv_totals *T = &s->totals;
    addl(u, 0, -1, "mallinfo2: arena %llu  ordblks %llu  smblks %llu  hblks %llu  hblkhd %llu", X(T->arena),
         X(T->ordblks), X(T->smblks), X(T->hblks), X(T->hblkhd));
    addl(u, 0, -1, "           uordblks %llu  fordblks %llu  fsmblks %llu  keepcost %llu  chunks %llu", X(T->uordblks),
         X(T->fordblks), X(T->fsmblks), X(T->keepcost), X(T->nchunks));
    addl(u, 0, -1, "%s", "");
    l = addl(u, 0, -1, "Size histogram (chunks by size; top excluded)      U in use   f free");
    if (l)
        l->attr = A_BOLD;
    uint64_t mx = 1;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NHIST; i++)
            if (u->hist[k][i] > mx)
                mx = u->hist[k][i];
    int barw = COLS - 40;
    if (barw < 10)
        barw = 10;
    if (barw > LINE_W - 60)
        barw = LINE_W - 60;
    for (int i = 0; i < NHIST; i++) {
        if (!u->hist[0][i] && !u->hist[1][i])
            continue;
        char range[32];
        if (i == NHIST - 1)
            snprintf(range, sizeof range, ">= %s", hbytes(32ull << i, b1, sizeof b1));
        else
            snprintf(range, sizeof range, "%s-%s", hbytes(32ull << i, b1, sizeof b1), hbytes((64ull << i) - 1, b2, sizeof b2));
        for (int k = 0; k < 2; k++) {
            char bar[LINE_W];
            int w = (int)((u->hist[k][i] * (uint64_t)barw + mx - 1) / mx);
            memset(bar, k ? 'f' : 'U', (size_t)w);
            bar[w] = 0;
            l = addl(u, 0, -1, "  %-14s %-6s %7llu %s", k ? "" : range, k ? "free" : "inuse", X(u->hist[k][i]), bar);
            if (l && w) {
                l->cls = k ? K_FAST : K_INUSE;
                l->tag_off = (short)(strlen(l->text) - (size_t)w);
                l->tag_len = (short)w;
            }
        }
    }
}

/* One bin: a header line and its chain, wrapped, one address per arrow. */
static void bin_lines(struct ui *u, const char *name, const struct hv_bin *b, int tcache)
{
    const struct hv_snapshot *s = u->snap;
    const struct hv_binent *e = hv_bin_entries(s, b);
    char range[48], warn[96] = "";
    if (b->size_lo == b->size_hi)
        snprintf(range, sizeof range, "0x%llx", X(b->size_lo));
    else if (b->size_hi == UINT64_MAX)
        snprintf(range, sizeof range, "0x%llx-any", X(b->size_lo));
    else
        snprintf(range, sizeof range, "0x%llx-0x%llx", X(b->size_lo), X(b->size_hi));
    if (tcache && b->declared != b->count)
        snprintf(warn, sizeof warn, "  COUNT %u != CHAIN %u", b->declared, b->count);
    if (b->truncated)
        snprintf(warn + strlen(warn), sizeof warn - strlen(warn), "  TRUNCATED (cycle / bad link)");
    int bad = 0;
    uint32_t nchg = 0;      /* entries new or changed since the previous snapshot */
    for (uint32_t i = 0; i < b->count; i++) {
        bad |= e[i].chunk == HV_NONE;
        nchg += e[i].chunk != HV_NONE && s->chunks[e[i].chunk].change != HV_SAME;
    }
    if (bad)
        snprintf(warn + strlen(warn), sizeof warn - strlen(warn), "  BAD LINK");
    char chg[32] = "";
    if (nchg)
        snprintf(chg, sizeof chg, "  (%u changed)", nchg);
    char cnt[24];
    if (tcache)     /* entries the target counts / entries the bin may hold now */
        snprintf(cnt, sizeof cnt, "%u/%u", b->declared, b->limit);
    else
        snprintf(cnt, sizeof cnt, "%u", b->count);
    struct line *l = addl(u, b->count ? e[0].addr : 0, bin_cls(b->kind), "  %-10s %-15s count %-6s%s%s", name, range,
                          cnt, chg, warn);
    tagw(l, name, bin_cls(b->kind));
    if (l && nchg)
        l->attr |= A_BOLD;
    if (warn[0] && l) {
        l->cls = K_CORRUPT;
        l->tag_off = (short)(strlen(l->text) - strlen(warn));
        l->tag_len = (short)strlen(warn);
    }
    int per = (COLS - 8) / 18;
    if (per < 1)
        per = 1;
    uint32_t shown = b->count < 512 ? b->count : 512;
    for (uint32_t i = 0; i < shown; i += (uint32_t)per) {
        char buf[LINE_W];
        size_t o = 0;
        for (uint32_t j = i; j < shown && j < i + (uint32_t)per && o < sizeof buf; j++)
        {
            uint8_t ch = e[j].chunk == HV_NONE ? HV_SAME : s->chunks[e[j].chunk].change;
            o += (size_t)snprintf(buf + o, sizeof buf - o, "->%c0x%llx%s ",
                                  ch == HV_NEW ? '+' : ch == HV_CHANGED ? '~' : ' ', X(e[j].addr),
                                  e[j].chunk == HV_NONE ? "!" : "");
        }
        addl(u, e[i].addr, -1, "      %s", buf);
    }
    if (shown < b->count)
        addl(u, 0, -1, "      ... %u more (see the Heap map)", b->count - shown);
}

/* The non-empty bins of a thread's cache (n of them), named prefix[i]; 1 when
 * any was shown. */
static int thread_bin_lines(struct ui *u, const char *prefix, const struct hv_bin *bins, unsigned n)
{
    int any = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct hv_bin *b = &bins[i];
        if (b->count == 0 && b->declared == 0 && !b->truncated)
            continue;
        char name[32];
        snprintf(name, sizeof name, "%s[%u]", prefix, i);
        bin_lines(u, name, b, 1);
        any = 1;
    }
    return any;
}

static void build_bins(struct ui *u)
{
    const struct hv_snapshot *s = u->snap;
    char name[32];
    struct line *l;
    if (s->ntcaches) {
        const struct hv_tcache *t = &s->tcaches[u->tsel];
        const struct hv_arena *a = arena_of(s, t->arena);
        l = addl(u, 0, K_TCACHE, "tcachebins of thread %llu (arena %d)   [t: thread %zu of %zu]", X(t->tid),
                 a ? (int)a->index : -1, u->tsel + 1, s->ntcaches);
        if (l)
            l->attr = A_BOLD;
        int any = thread_bin_lines(u, "tcache", t->bins, LA_TCACHE_BINS);
        any |= thread_bin_lines(u, "bigcache", t->bc, LA_BC_CLASSES);
        if (!any)
            addl(u, 0, -1, "  (empty)");
    } else
        addl(u, 0, -1, "no thread has a tcache yet");
    for (size_t ai = 0; ai < s->narenas; ai++) {
        const struct hv_arena *a = &s->arenas[ai];
        addl(u, 0, -1, "%s", "");
        l = addl(u, 0, -1, "Arena %u%s bins", a->index, a->is_main ? " (main)" : "");
        if (l)
            l->attr = A_BOLD;
        int any = 0;
        for (unsigned i = 0; i < LA_NFASTBINS; i++) {
            const struct hv_bin *b = &a->fastbins[i];
            if (b->count == 0 && !b->truncated)
                continue;
            snprintf(name, sizeof name, "fast[%u]", i);
            bin_lines(u, name, b, 0);
            any = 1;
        }
        if (a->remote.count || a->remote.truncated) {
            bin_lines(u, "remote", &a->remote, 0);     /* freed by other threads, not yet taken back */
            any = 1;
        }
        for (unsigned i = 1; i < LA_NBINS - 1; i++) {
            const struct hv_bin *b = &a->bins[i];
            if (b->count == 0 && !b->truncated)
                continue;
            if (i == 1)
                snprintf(name, sizeof name, "unsorted");
            else
                snprintf(name, sizeof name, "%s[%u]", i < LA_NSMALLBINS ? "small" : "large", i);
            bin_lines(u, name, b, 0);
            any = 1;
        }
        if (!any)
            addl(u, 0, -1, "  (fastbins, remote-free list, unsorted, small and large bins all empty)");
    }
}

static const char *describe_ptr(const struct ui *u, const struct hv_chunk *self, uint64_t p, char *buf, size_t len)
{
    const struct hv_snapshot *s = u->snap;
    if (p == 0) {
        snprintf(buf, len, "(null: end of list)");
        return buf;
    }
    const struct hv_arena *a = arena_of(s, self->arena);
    if (a && self->bin != HV_BIN_NONE && self->bin != HV_BIN_TCACHE && self->bin != HV_BIN_FAST &&
        self->bin != HV_BIN_REMOTE &&
        p == la_bin_at(a->addr, self->bin_index)) {
        snprintf(buf, len, "(arena %u bin %u header)", a->index, self->bin_index);
        return buf;
    }
    const struct hv_chunk *c = hv_snapshot_find_chunk(s, p);
    if (!c)
        snprintf(buf, len, "(not a chunk of the heap!)");
    else if (c->addr == p)
        snprintf(buf, len, "(chunk, %s)", CLS[chunk_cls(c)].name);
    else if (hv_chunk_user(c) == p)
        snprintf(buf, len, "(user data of chunk 0x%llx, %s)", X(c->addr), CLS[chunk_cls(c)].name);
    else
        snprintf(buf, len, "(inside chunk 0x%llx +0x%llx!)", X(c->addr), X(p - c->addr));
    return buf;
}

static void build_detail(struct ui *u)
{
    const struct hv_snapshot *s = u->snap;
    const struct hv_chunk *c = u->detail ? hv_snapshot_find_chunk(s, u->detail) : NULL;
    if (!c) {
        addl(u, 0, -1, "No chunk selected%s: select one in the Heap map, Bins or Problems and press Enter,",
             u->detail ? " (the chunk is gone from this snapshot)" : "");
        addl(u, 0, -1, "or press / and type an address.");
        return;
    }
    char fl[64], bl[48], d1[96], d2[96];
    int k = chunk_cls(c);
    bin_label(s, c, bl, sizeof bl);
    struct line *l = addl(u, c->addr, k, "Chunk 0x%llx  (user 0x%llx)  %s  %s%s%s", X(c->addr), X(hv_chunk_user(c)),
                          CLS[k].name, bl, c->flags & HV_CF_LAST_REM ? "  last_remainder" : "",
                          c->flags & HV_CF_FENCEPOST ? "  fencepost" : "");
    tagw(l, CLS[k].name, k);
    if (l)
        l->attr = A_BOLD;
    uint64_t sizefield = c->size | c->size_flags;
    snprintf(fl, sizeof fl, "%s%s%s", c->size_flags & LA_PREV_INUSE ? " PREV_INUSE" : "",
             c->size_flags & LA_IS_MMAPPED ? " IS_MMAPPED" : "", c->size_flags & LA_NON_MAIN_ARENA ? " NON_MAIN_ARENA" : "");
    addl(u, 0, -1, "%s", "");
    addl(u, 0, -1, "header  +0 prev_size 0x%llx %s", X(c->prev_size),
         c->size_flags & LA_PREV_INUSE ? "(previous chunk in use: these bytes are its data)"
                                       : "(previous chunk is free: its size)");
    addl(u, 0, -1, "        +8 size      0x%llx = size 0x%llx | flags 0x%x:%s", X(sizefield), X(c->size),
         c->size_flags, fl[0] ? fl : " none");
    const uint64_t *w = hv_snapshot_bytes(s, hv_chunk_user(c), 32);
    uint64_t fa = hv_chunk_user(c);
    if (c->state == HV_FREE && w) {
        if (c->bin == HV_BIN_TCACHE || c->bin == HV_BIN_FAST || c->bin == HV_BIN_REMOTE) {
            uint64_t rev = la_reveal_ptr(fa, w[0]);
            uint64_t target = c->bin == HV_BIN_TCACHE && rev ? la_mem2chunk(rev) : rev;
            addl(u, target, -1, "        +16 %s  0x%016llx  safe-linked: (0x%llx >> 12) ^ ptr",
                 c->bin == HV_BIN_TCACHE ? "next" : "fd  ", X(w[0]), X(fa));
            addl(u, target, -1, "            revealed 0x%llx -> chunk 0x%llx %s", X(rev), X(target),
                 describe_ptr(u, c, target, d1, sizeof d1));
            if (c->bin == HV_BIN_TCACHE)
                addl(u, 0, -1, "        +24 key   0x%016llx (marks the chunk as in a tcache)", X(w[1]));
            if (c->bin == HV_BIN_REMOTE)
                addl(u, 0, -1, "        +24 key   0x%016llx (the tcache key: marks the chunk as freed)", X(w[1]));
        } else if (c->bin != HV_BIN_NONE) {
            addl(u, w[0], -1, "        +16 fd  0x%llx %s", X(w[0]), describe_ptr(u, c, w[0], d1, sizeof d1));
            addl(u, w[1], -1, "        +24 bk  0x%llx %s", X(w[1]), describe_ptr(u, c, w[1], d2, sizeof d2));
            if (c->bin == HV_BIN_LARGE) {
                addl(u, w[2], -1, "        +32 fd_nextsize 0x%llx %s", X(w[2]), describe_ptr(u, c, w[2], d1, sizeof d1));
                addl(u, w[3], -1, "        +40 bk_nextsize 0x%llx %s", X(w[3]), describe_ptr(u, c, w[3], d2, sizeof d2));
            }
        }
    }

    /* why this bin: the request arithmetic of shared/layout.h */
    addl(u, 0, -1, "%s", "");
    l = addl(u, 0, -1, "Why here");
    if (l)
        l->attr = A_BOLD;
    uint64_t S = c->size;
    if (c->state == HV_MMAPPED) {
        addl(u, 0, -1, "  its own mapping: the request was at least mmap_threshold (%llu); usable %llu bytes",
             X(s->tunables.mmap_threshold), X(la_usable_size(S, 1)));
    } else if (c->state == HV_TOP) {
        addl(u, 0, -1, "  the top chunk: requests no bin can serve are split off its start; it grows with");
        addl(u, 0, -1, "  sbrk/mmap and shrinks (trim) when it exceeds trim_threshold (%llu)", X(s->tunables.trim_threshold));
    } else if (S >= LA_MINSIZE) {
        uint64_t rlo = S == LA_MINSIZE ? 0 : S - 23, rhi = S - LA_SIZE_SZ;
        addl(u, 0, -1, "  malloc(n) for n = %llu..%llu gives this size: (n + 8 + 15) & ~15 = 0x%llx", X(rlo), X(rhi), X(S));
        uint64_t tmax = la_request2size(s->tunables.tcache_max);
        unsigned ti = la_tcache_index(S);
        if (S <= tmax && ti < LA_TCACHE_BINS) {
            unsigned cap = la_tcache_bin_limit(s->tunables.tcache_count, s->tunables.tcache_bytes, ti);
            unsigned first = cap < LA_TCACHE_FILL ? cap : LA_TCACHE_FILL;
            if (cap == first)
                addl(u, 0, -1, "  tcache bin %u (chunks 0x%llx; up to %u per thread)", ti, X(la_tcache_chunk_size(ti)),
                     cap);
            else
                addl(u, 0, -1, "  tcache bin %u (chunks 0x%llx; %u per thread, doubling up to %u while the thread "
                     "cycles through it)", ti, X(la_tcache_chunk_size(ti)), first, cap);
        } else {
            addl(u, 0, -1, "  no tcache bin: above the largest tcache chunk 0x%llx (tcache_max %llu)", X(tmax),
                 X(s->tunables.tcache_max));
        }
        uint64_t fmax = la_max_fast_chunk(s->tunables.mxfast);
        if (S <= fmax)
            addl(u, 0, -1, "  fastbin %u (chunks 0x%llx; fast up to 0x%llx, mxfast %llu)", la_fastbin_index(S), X(S),
                 X(fmax), X(s->tunables.mxfast));
        else
            addl(u, 0, -1, "  not fast: above 0x%llx (mxfast %llu)", X(fmax), X(s->tunables.mxfast));
        size_t lo, hi;
        unsigned bi = la_bin_index(S);
        la_bin_range(bi, &lo, &hi);
        if (la_in_smallbin_range(S))
            addl(u, 0, -1, "  small bin %u = size >> 4 (exactly 0x%llx)", bi, X(lo));
        else if (hi == SIZE_MAX)
            addl(u, 0, -1, "  large bin %u (0x%llx and above, kept sorted by size)", bi, X(lo));
        else
            addl(u, 0, -1, "  large bin %u (0x%llx-0x%llx, kept sorted by size)", bi, X(lo), X(hi));
        const char *why;
        switch (c->bin) {
        case HV_BIN_TCACHE: why = "free() put it in its thread's tcache (tcache-sized, bin not full)"; break;
        case HV_BIN_BIGCACHE: why = "free() put it in its thread's big-chunk cache (1 KiB .. 64 KiB, its own arena, "
                                    "not next to top); a malloc of its class takes it back without the lock"; break;
        case HV_BIN_FAST: why = "free() put it in a fastbin (fast-sized, its tcache bin was full)"; break;
        case HV_BIN_REMOTE: why = "free (remote): another thread freed it, its tcache bin was full, and pushed it "
                                  "on this arena's remote-free list; the arena's next locked malloc takes it back"; break;
        case HV_BIN_UNSORTED: why = "free() put it (coalesced) in the unsorted bin; a malloc sorts it later"; break;
        case HV_BIN_SMALL: why = "a malloc scanning the unsorted bin sorted it into its small bin"; break;
        case HV_BIN_LARGE: why = "a malloc scanning the unsorted bin sorted it into its large bin"; break;
        default:
            why = c->state == HV_INUSE ? "in use: returned by malloc and not freed yet"
                                       : "free by its boundary tags but in no list: a problem";
        }
        addl(u, 0, -1, "  => %s", why);
    }

    /* neighbours in address order */
    int ex;
    size_t r = order_find(u, c->addr, &ex);
    addl(u, 0, -1, "%s", "");
    l = addl(u, 0, -1, "Neighbours");
    if (l)
        l->attr = A_BOLD;
    if (!(c->size_flags & LA_PREV_INUSE) && c->state != HV_MMAPPED)
        addl(u, c->addr - c->prev_size, -1, "  by prev_size: chunk at 0x%llx - 0x%llx = 0x%llx", X(c->addr),
             X(c->prev_size), X(c->addr - c->prev_size));
    for (int d = -1; d <= 1; d += 2) {
        if (!ex || (d < 0 && r == 0) || (d > 0 && r + 1 >= u->norder))
            continue;
        const struct hv_chunk *nb = u->order[r + (size_t)(long)d];
        if (nb->segment != c->segment)
            continue;
        int nk = chunk_cls(nb);
        l = addl(u, nb->addr, nk, "  %s 0x%llx  size 0x%llx  %s", d < 0 ? "previous" : "next    ", X(nb->addr),
                 X(nb->size), CLS[nk].name);
        tagw(l, CLS[nk].name, nk);
    }
    int np = 0;
    for (size_t i = 0; i < s->nproblems; i++) {
        uint64_t pa = s->problems[i].addr;
        if (pa >= c->addr && pa < c->addr + (c->size ? c->size : 1)) {
            if (!np++) {
                addl(u, 0, -1, "%s", "");
                l = addl(u, 0, K_CORRUPT, "Problems");
                tagw(l, "Problems", K_CORRUPT);
            }
            addl(u, pa, K_CORRUPT, "  0x%llx: %s", X(pa), s->problems[i].msg);
        }
    }

    /* hexdump */
    addl(u, 0, -1, "%s", "");
    uint64_t want = c->size < 512 ? c->size : 512;
    uint64_t have = 0;
    while (have < want && hv_snapshot_bytes(s, c->addr + have, 16))
        have += 16;
    l = addl(u, 0, -1, "Memory (%llu of %llu bytes%s)", X(have), X(c->size), have < want ? "; the rest was not copied" : "");
    if (l)
        l->attr = A_BOLD;
    for (uint64_t off = 0; off < have; off += 16) {
        const unsigned char *p = hv_snapshot_bytes(s, c->addr + off, 16);
        uint64_t q0, q1;
        memcpy(&q0, p, 8);
        memcpy(&q1, p + 8, 8);
        char asc[17];
        for (int i = 0; i < 16; i++)
            asc[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
        asc[16] = 0;
        addl(u, 0, -1, "  0x%012llx  %016llx %016llx  |%s|", X(c->addr + off), X(q0), X(q1), asc);
    }
    if (have < c->size && have == want)
        addl(u, 0, -1, "  ... %llu more bytes", X(c->size - have));
}

static void build_problems(struct ui *u)
{
    const struct hv_snapshot *s = u->snap;
    if (!s->nproblems) {
        addl(u, 0, -1, "No problems: every chunk, list and count the walk checked adds up.");
        return;
    }
    for (size_t i = 0; i < s->nproblems; i++) {
        struct line *l = addl(u, s->problems[i].addr, K_CORRUPT, "%s0x%llx: %s", (long)i == u->pi ? "* " : "  ",
                              X(s->problems[i].addr), s->problems[i].msg);
        if (l) {
            l->tag_off = 0;
            l->tag_len = 1;
        }
    }
}

#define NKEYS_MAX 8
struct key_entry {
    void (*fn)(struct ui *u, int key);
    const char *names, *help;
    int keys[NKEYS_MAX];
};
static size_t nkeys(void);
static const struct key_entry *key_at(size_t i);
static size_t nstepkeys(void);
static const struct key_entry *stepkey_at(size_t i);

static void build_help(struct ui *u)
{
    struct line *l;
    if (u->step) {
        l = addl(u, 0, -1, "Step mode keys (before the keys below)");
        if (l)
            l->attr = A_BOLD;
        for (size_t i = 0; i < nstepkeys(); i++)
            addl(u, 0, -1, "  %-10s %s", stepkey_at(i)->names, stepkey_at(i)->help);
    }
    l = addl(u, 0, -1, "Keys");
    if (l)
        l->attr = A_BOLD;
    for (size_t i = 0; i < nkeys(); i++)
        addl(u, 0, -1, "  %-10s %s", key_at(i)->names, key_at(i)->help);
    addl(u, 0, -1, "%s", "");
    l = addl(u, 0, -1, "Legend (letter, colour; the letters also tell states apart without colour)");
    if (l)
        l->attr = A_BOLD;
    for (int k = 0; k < K_NCLS; k++) {
        l = addl(u, 0, k, "  %c  %s", CLS[k].letter, CLS[k].name);
        if (l) {
            l->tag_off = 2;
            l->tag_len = 1;
        }
    }
    addl(u, 0, -1, "Change markers (live): + new since the previous refresh, ~ changed (size, state or bin)");
    addl(u, 0, -1, "%s", "");
    l = addl(u, 0, -1, "Views");
    if (l)
        l->attr = A_BOLD;
    addl(u, 0, -1, "  1 Overview: arenas, free bytes by bin class, fragmentation, threads, mmap figures, tunables");
    addl(u, 0, -1, "  2 Heap map: every chunk in address order, and a strip of the whole heap (one cell = N bytes)");
    addl(u, 0, -1, "  3 Bins: a thread's tcache (t: next thread), fastbins, unsorted, small and large bins");
    addl(u, 0, -1, "  4 Chunk: header, links (safe-linked ones revealed), why this bin, neighbours, memory");
    addl(u, 0, -1, "  5 Problems: what the engine found wrong; Enter opens the chunk");
    addl(u, 0, -1, "  6 Leaks: live chunks by allocation site (LIBALLOC_OPTIONS=sites=N); m marks, then growth");
    addl(u, 0, -1, "  7 History: the recorded operations (LIBALLOC_OPTIONS=history=N); Enter opens the chunk");
    addl(u, 0, -1, "  8 Explain: the selected chunk in plain words (e): size arithmetic, bin, who points to it");
}

/* A report of report.c as lines of the view; addr_of picks the address Enter
 * opens from a line (NULL: none). */
static void report_lines(struct ui *u, char *text, uint64_t (*addr_of)(const char *line))
{
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        struct line *l = addl(u, addr_of ? addr_of(p) : 0, -1, "%s", p);
        if (l && (!strncmp(p, "site ", 5) || !strncmp(p, "live chunks", 11) || !strncmp(p, "history:", 8) ||
                  !strncmp(p, "chunk:", 6) || !strncmp(p, "in progress", 11)))
            l->attr = A_BOLD;
        p = nl ? nl + 1 : NULL;
    }
}

/* History: the pointer a line names (result of an allocation, or the freed one). */
static uint64_t history_addr(const char *line)
{
    const char *p = strstr(line, " = 0x");
    if (p)
        return strtoull(p + 3, NULL, 16);
    p = strstr(line, "free(0x");
    if (!p)
        p = strstr(line, "realloc(0x");
    if (p)
        return strtoull(strchr(p, '(') + 1, NULL, 16);
    return 0;
}

static void build_report(struct ui *u, int view)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    const struct hv_snapshot *s = u->snap;
    if (view == V_LEAKS) {
        if (u->marked)
            fprintf(f, "m: showing only chunks allocated since the mark (operation #%llu) and still alive; m again "
                       "clears the mark\n", X(u->mark));
        else
            fprintf(f, "m: mark this moment; the view then shows only chunks allocated since (growth)\n");
        struct hv_report_opts o = { u->marked ? u->mark : 0, 0 };
        hv_report_leaks(f, s, &o);
    } else if (view == V_HISTORY) {
        hv_report_history(f, s);
    } else {
        uint64_t a = u->detail;
        if (!a && u->norder)
            a = u->order[u->vs[V_HEAP].cur < u->norder ? u->vs[V_HEAP].cur : 0]->addr;
        if (!a)
            fprintf(f, "no chunk selected: choose one in the Heap map or Bins, then press e\n");
        else
            hv_report_explain(f, s, a);
    }
    fclose(f);
    report_lines(u, text, view == V_HISTORY ? history_addr : NULL);
    free(text);
}

static void build_lines(struct ui *u, int view)
{
    u->nlines = 0;
    switch (view) {
    case V_OVERVIEW: build_overview(u); break;
    case V_BINS: build_bins(u); break;
    case V_DETAIL: build_detail(u); break;
    case V_PROBLEMS: build_problems(u); break;
    case V_LEAKS: case V_HISTORY: case V_EXPLAIN: build_report(u, view); break;
    case V_HELP: build_help(u); break;
    default: break;
    }
}

/* ---- drawing -------------------------------------------------------------------------------- */

static void put_clipped(int y, int x, const char *s, int maxw)
{
    if (maxw <= 0)
        return;
    mvaddnstr(y, x, s, maxw);
}

static void fix_scroll(struct vstate *v, size_t n, int h)
{
    if (h < 1)
        h = 1;
    if (n == 0) {
        v->cur = v->top = 0;
        return;
    }
    if (v->cur >= n)
        v->cur = n - 1;
    if (v->cur < v->top)
        v->top = v->cur;
    if (v->cur >= v->top + (size_t)h)
        v->top = v->cur - (size_t)h + 1;
    if (v->top + (size_t)h > n)
        v->top = n > (size_t)h ? n - (size_t)h : 0;
}

static void draw_lines(struct ui *u, struct vstate *v, int y0, int h, int selectable)
{
    fix_scroll(v, u->nlines, h);
    for (int r = 0; r < h && v->top + (size_t)r < u->nlines; r++) {
        size_t i = v->top + (size_t)r;
        const struct line *l = &u->lines[i];
        int sel = selectable && i == v->cur;
        attr_t base = l->attr | (sel ? A_REVERSE : 0);
        attrset(base);
        mvaddch(y0 + r, 0, sel ? '>' : ' ');
        put_clipped(y0 + r, 1, l->text, COLS - 1);
        if (l->cls >= 0 && l->tag_len > 0 && l->tag_off + 1 < COLS) {
            attrset(base | cls_attr(u, l->cls));
            int len = l->tag_len;
            if (l->tag_off + 1 + len > COLS)
                len = COLS - 1 - l->tag_off;
            put_clipped(y0 + r, 1 + l->tag_off, l->text + l->tag_off, len);
        }
        if (sel) {
            attrset(base);
            int x = 1 + (int)strlen(l->text);
            for (; x < COLS; x++)
                mvaddch(y0 + r, x, ' ');
        }
    }
    attrset(A_NORMAL);
}

static int strip_rows(void)
{
    return LINES >= 40 ? 4 : LINES >= 22 ? 3 : LINES >= 14 ? 1 : 0;
}

/* The whole heap (every segment and mmapped chunk, gaps removed) as cells of
 * equal byte size, each showing the class that holds most of its bytes (a
 * corrupt chunk always shows). */
static void draw_strip(struct ui *u, int y0, int rows, uint64_t *cell_bytes)
{
    int ncells = rows * COLS;
    if (ncells <= 0 || !u->norder)
        return;
    uint64_t bytes = 0;
    for (size_t i = 0; i < u->norder; i++)
        bytes += u->order[i]->size ? u->order[i]->size : 16;
    /* each chunk weighs its bytes plus one cell's worth of bytes, so a small chunk
     * next to a big top or mmapped block still gets a cell when cells allow */
    uint64_t extra = bytes / (uint64_t)ncells + 1;
    uint64_t total = bytes + extra * u->norder;
    *cell_bytes = (bytes + (uint64_t)ncells - 1) / (uint64_t)ncells;
    uint64_t *acc = calloc((size_t)ncells * K_NCLS, sizeof *acc);
    unsigned char *chg = calloc((size_t)ncells, 1), *sel = calloc((size_t)ncells, 1);
    if (!acc || !chg || !sel) {
        free(acc);
        free(chg);
        free(sel);
        return;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < u->norder; i++) {
        const struct hv_chunk *c = u->order[i];
        uint64_t sz = (c->size ? c->size : 16) + extra;
        int k = chunk_cls(c);
        uint64_t a = off, e = off + sz;
        int is_sel = c->addr == u->heap_sel;
        while (a < e) {
            size_t cell = (size_t)((unsigned __int128)a * (unsigned)ncells / total);
            if (cell >= (size_t)ncells)
                cell = (size_t)ncells - 1;
            uint64_t cend = (uint64_t)(((unsigned __int128)(cell + 1) * total + (unsigned)ncells - 1) / (unsigned)ncells);
            if (cend <= a)
                cend = a + 1;
            uint64_t take = (cend < e ? cend : e) - a;
            acc[cell * K_NCLS + (size_t)k] += take;
            if (c->change != HV_SAME)
                chg[cell] = 1;
            if (is_sel)
                sel[cell] = 1;
            a += take;
        }
        off = e;
    }
    for (int i = 0; i < ncells; i++) {
        int best = -1;
        uint64_t bb = 0;
        for (int k = 0; k < K_NCLS; k++)
            if (acc[(size_t)i * K_NCLS + (size_t)k] > bb) {
                bb = acc[(size_t)i * K_NCLS + (size_t)k];
                best = k;
            }
        if (acc[(size_t)i * K_NCLS + K_CORRUPT])
            best = K_CORRUPT;
        if (best < 0)
            continue;
        attrset(cell_attr(u, best) | (chg[i] ? A_BOLD : 0) | (sel[i] ? A_STANDOUT | A_UNDERLINE : 0));
        mvaddch(y0 + i / COLS, i % COLS, (chtype)(unsigned char)(sel[i] ? '@' : CLS[best].letter));
    }
    attrset(A_NORMAL);
    free(acc);
    free(chg);
    free(sel);
}

static void draw_legend(struct ui *u, int y, const char *extra)
{
    int x = 0;
    move(y, 0);
    for (int k = 0; k < K_NCLS && x < COLS - 2; k++) {
        attrset(cell_attr(u, k));
        mvaddch(y, x, (chtype)(unsigned char)CLS[k].letter);
        attrset(A_NORMAL);
        put_clipped(y, x + 1, " ", COLS - x - 1);
        put_clipped(y, x + 2, CLS[k].name, COLS - x - 2);
        x += 2 + (int)strlen(CLS[k].name) + 1;
    }
    if (extra && x < COLS)
        put_clipped(y, x + 1, extra, COLS - x - 1);
}

static void draw_heap(struct ui *u, int y0, int h)
{
    struct vstate *v = &u->vs[V_HEAP];
    int sr = strip_rows();
    if (h < sr + 4)
        sr = 0;
    uint64_t cb = 0;
    if (sr) {
        draw_strip(u, y0, sr, &cb);
        char extra[64];
        snprintf(extra, sizeof extra, "| cell~%lluB @=sel", X(cb));
        draw_legend(u, y0 + sr, extra);
        y0 += sr + 1;
        h -= sr + 1;
    }
    int qwords = COLS >= 130 ? 2 : 1;
    attrset(A_BOLD);
    char hdr[LINE_W];
    snprintf(hdr, sizeof hdr, "  %-14s %7s %-8s %-16s %-3s first bytes (user data)", "address", "size", "state", "bin",
             "flg");
    put_clipped(y0, 0, hdr, COLS);
    attrset(A_NORMAL);
    y0++;
    h--;
    fix_scroll(v, u->norder, h);
    for (int r = 0; r < h && v->top + (size_t)r < u->norder; r++) {
        size_t i = v->top + (size_t)r;
        const struct hv_chunk *c = u->order[i];
        int k = chunk_cls(c);
        int sel = i == v->cur;
        char bl[48], fb[80] = "", fl[4];
        bin_label(u->snap, c, bl, sizeof bl);
        fl[0] = c->size_flags & LA_PREV_INUSE ? 'P' : '-';
        fl[1] = c->size_flags & LA_IS_MMAPPED ? 'M' : '-';
        fl[2] = c->size_flags & LA_NON_MAIN_ARENA ? 'N' : '-';
        fl[3] = 0;
        const unsigned char *p = c->state == HV_TOP ? NULL : hv_snapshot_bytes(u->snap, hv_chunk_user(c), 8u * (unsigned)qwords);
        if (p) {
            size_t o = 0;
            for (int q = 0; q < qwords; q++) {
                uint64_t w;
                memcpy(&w, p + 8 * q, 8);
                o += (size_t)snprintf(fb + o, sizeof fb - o, "%016llx ", X(w));
            }
            for (int j = 0; j < 8 * qwords; j++)
                fb[o++] = p[j] >= 0x20 && p[j] < 0x7f ? (char)p[j] : '.';
            fb[o] = 0;
        }
        char row[LINE_W];
        snprintf(row, sizeof row, "%c%c0x%012llx %7llx %-8s %-16s %-3s %s", sel ? '>' : ' ',
                 c->change == HV_NEW ? '+' : c->change == HV_CHANGED ? '~' : ' ', X(c->addr), X(c->size), CLS[k].name,
                 bl, fl, fb);
        attr_t base = (sel ? A_REVERSE : 0) | (c->change != HV_SAME ? A_BOLD : 0);
        attrset(base);
        put_clipped(y0 + r, 0, row, COLS);
        if (sel)
            for (int x = (int)strlen(row); x < COLS; x++)
                mvaddch(y0 + r, x, ' ');
        attrset(base | cls_attr(u, k));
        put_clipped(y0 + r, 24, row + 24, (int)strlen(CLS[k].name) < COLS - 24 ? (int)strlen(CLS[k].name) : COLS - 24);
    }
    attrset(A_NORMAL);
    if (!u->norder)
        put_clipped(y0, 0, "  (no chunks: liballoc has not allocated anything yet)", COLS);
}

static void draw_frame(struct ui *u)
{
    uint64_t t0 = hv_now_ns();
    erase();
    if (COLS < 40 || LINES < 8) {
        put_clipped(0, 0, "heapview: terminal too small (80x24 wanted)", COLS);
        refresh();
        return;
    }
    const struct hv_snapshot *s = u->snap;
    /* title */
    char t[LINE_W], mode[160];
    if (u->step)
        snprintf(mode, sizeof mode, "STEP %s  %zu changed",
                 u->step_state == HV_STEP_EXITED ? "PROGRAM EXITED: last snapshot"
                 : u->step_state == HV_STEP_STOPPED ? "stopped"
                 : u->step_mode == HV_STEP_CONT ? "continuing" : "running", u->nchanged);
    else if (s->source_kind != HV_SOURCE_LIVE)
        snprintf(mode, sizeof mode, "core file: one snapshot");
    else if (u->gone)
        snprintf(mode, sizeof mode, "TARGET EXITED (%s): last snapshot", u->gone_msg);
    else if (u->paused)
        snprintf(mode, sizeof mode, "PAUSED (Space resumes)");
    else
        snprintf(mode, sizeof mode, "live every %.2gs #%u  stop %.2fms  %zu changed", u->opt->delay_s, u->nrefresh,
                 s->stop_ns / 1e6, u->nchanged);
    snprintf(t, sizeof t, " heapview  %s  |  %s%s", s->source, mode, s->mid_operation ? "  MID-OPERATION" : "");
    attrset(A_REVERSE | A_BOLD);
    mvhline(0, 0, ' ', COLS);
    put_clipped(0, 0, t, COLS);
    /* tabs */
    attrset(A_NORMAL);
    int x = 0;
    for (int i = 0; i < V_NVIEWS && x < COLS; i++) {
        char tab[40];
        if (i == V_PROBLEMS)
            snprintf(tab, sizeof tab, "%d:%s(%zu)", i + 1, VIEW_NAME[i], s->nproblems);
        else
            snprintf(tab, sizeof tab, "%d:%s", i + 1, VIEW_NAME[i]);
        int cur = (u->view == V_HELP ? u->help_from : u->view) == i;
        if (i >= V_LEAKS && !cur && COLS < 110)
            continue;               /* narrow terminal: views 6-8 get a tab only while shown */
        attrset(cur ? A_REVERSE | A_BOLD : (i == V_PROBLEMS && s->nproblems ? cls_attr(u, K_CORRUPT) : A_NORMAL));
        char buf[48];
        snprintf(buf, sizeof buf, cur ? "[%s]" : " %s ", tab);
        put_clipped(1, x, buf, COLS - x);
        x += (int)strlen(buf) + 1;
    }
    attrset(A_NORMAL);
    if (u->view == V_HELP && x < COLS)
        put_clipped(1, x, " [Help]", COLS - x);

    u->body_top = 2;
    u->body_h = LINES - 3;
    if (u->step) {
        /* the step line: the call, its result and the allocator's path */
        attrset(A_BOLD | (u->colour ? COLOR_PAIR(1 + K_NCLS + K_UNSORTED) : A_REVERSE));
        mvhline(2, 0, ' ', COLS);
        put_clipped(2, 0, u->step_line, COLS);
        attrset(A_NORMAL);
        u->body_top = 3;
        u->body_h = LINES - 4;
    }
    if (u->view == V_HEAP)
        draw_heap(u, u->body_top, u->body_h);
    else {
        build_lines(u, u->view);
        draw_lines(u, &u->vs[u->view], u->body_top, u->body_h, u->view != V_HELP);
    }
    /* status line */
    attrset(A_REVERSE);
    mvhline(LINES - 1, 0, ' ', COLS);
    put_clipped(LINES - 1, 0,
                u->status[0] ? u->status
                : u->step ? " n:next call  c:continue  f:next free  m:next malloc  b:break  +:new ~:changed  ?:help  q:quit"
                          : " ?:help  Tab/1-8:views  Enter:chunk  /:address  e:explain  m:mark  Space:pause  q:quit",
                COLS);
    attrset(A_NORMAL);
    refresh();
    uint64_t d = hv_now_ns() - t0;
    u->ndraw++;
    u->sum_draw += d;
    if (d > u->max_draw)
        u->max_draw = d;
}

/* ---- actions ------------------------------------------------------------------------------ */

static size_t view_rows(struct ui *u)
{
    if (u->view == V_HEAP)
        return u->norder;
    build_lines(u, u->view);
    return u->nlines;
}

static int page_h(struct ui *u)
{
    int h = u->body_h;
    if (u->view == V_HEAP)
        h -= (strip_rows() ? strip_rows() + 1 : 0) + 1;
    return h > 1 ? h : 1;
}

static void moved(struct ui *u)
{
    if (u->view == V_HEAP && u->norder) {
        struct vstate *v = &u->vs[V_HEAP];
        if (v->cur >= u->norder)
            v->cur = u->norder - 1;
        u->heap_sel = u->order[v->cur]->addr;
    }
}

static void move_by(struct ui *u, long d)
{
    struct vstate *v = &u->vs[u->view];
    size_t n = view_rows(u);
    if (!n)
        return;
    long c = (long)v->cur + d;
    if (c < 0)
        c = 0;
    if (c >= (long)n)
        c = (long)n - 1;
    v->cur = (size_t)c;
    moved(u);
}

static void act_up(struct ui *u, int key) { (void)key; move_by(u, -1); }
static void act_down(struct ui *u, int key) { (void)key; move_by(u, 1); }
static void act_pgup(struct ui *u, int key) { (void)key; move_by(u, -page_h(u)); }
static void act_pgdn(struct ui *u, int key) { (void)key; move_by(u, page_h(u)); }
static void act_home(struct ui *u, int key) { (void)key; move_by(u, -(long)view_rows(u)); }
static void act_end(struct ui *u, int key) { (void)key; move_by(u, (long)view_rows(u)); }

static void set_view(struct ui *u, int v)
{
    if (v != u->view) {
        u->prev_view = u->view;
        u->view = v;
    }
}

static void act_next_view(struct ui *u, int key) { (void)key; set_view(u, (u->view + 1) % V_NVIEWS); }
static void act_prev_view(struct ui *u, int key) { (void)key; set_view(u, (u->view + V_NVIEWS - 1) % V_NVIEWS); }
static void act_view(struct ui *u, int key) { set_view(u, key - '1'); }

static void select_chunk(struct ui *u, const struct hv_chunk *c)
{
    int ex;
    size_t r = order_find(u, c->addr, &ex);
    u->vs[V_HEAP].cur = r;
    u->heap_sel = c->addr;
    /* centre it */
    int h = u->body_h - (strip_rows() ? strip_rows() + 1 : 0) - 1;
    u->vs[V_HEAP].top = r > (size_t)(h / 2) ? r - (size_t)(h / 2) : 0;
}

static void open_detail(struct ui *u, uint64_t addr)
{
    const struct hv_chunk *c = addr ? hv_snapshot_find_chunk(u->snap, addr) : NULL;
    if (!c) {
        snprintf(u->status, sizeof u->status, "0x%llx is not inside any chunk of this snapshot", X(addr));
        return;
    }
    u->detail = c->addr;
    u->vs[V_DETAIL].cur = u->vs[V_DETAIL].top = 0;
    select_chunk(u, c);
    set_view(u, V_DETAIL);
}

static void act_enter(struct ui *u, int key)
{
    (void)key;
    if (u->view == V_HEAP) {
        if (u->norder)
            open_detail(u, u->order[u->vs[V_HEAP].cur]->addr);
        return;
    }
    build_lines(u, u->view);
    struct vstate *v = &u->vs[u->view];
    if (v->cur < u->nlines && u->lines[v->cur].addr) {
        uint64_t a = u->lines[v->cur].addr;
        if (u->view == V_PROBLEMS)
            u->pi = (long)v->cur;
        open_detail(u, a);
    } else
        snprintf(u->status, sizeof u->status, "this row names no chunk");
}

static void act_back(struct ui *u, int key)
{
    (void)key;
    int p = u->prev_view;
    if (p == u->view)
        p = V_HEAP;
    set_view(u, p);
}

/* Read a line on the bottom row after `label`, accepting the characters of
 * `allowed` (Backspace edits).  1 on Enter (buf holds the line), 0 on Esc or a
 * quit signal. */
static int prompt_line(const char *label, const char *allowed, char *buf, size_t cap)
{
    size_t n = strlen(buf);
    for (;;) {
        char prompt[160];
        snprintf(prompt, sizeof prompt, "%s%s", label, buf);
        attrset(A_REVERSE);
        mvhline(LINES - 1, 0, ' ', COLS);
        put_clipped(LINES - 1, 0, prompt, COLS);
        attrset(A_NORMAL);
        refresh();
        timeout(200);
        int ch = getch();
        if (g_quit_sig || ch == 27)
            return 0;
        if (ch == ERR || ch == KEY_RESIZE)
            continue;
        if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
            return 1;
        if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && n)
            buf[--n] = 0;
        else if (ch > 0 && ch < 127 && strchr(allowed, ch) && n + 1 < cap) {
            buf[n++] = (char)ch;
            buf[n] = 0;
        }
    }
}

static void act_goto(struct ui *u, int key)
{
    (void)key;
    char buf[40] = "";
    if (!prompt_line(" go to address (hex, Enter / Esc): ", "0123456789abcdefABCDEFxX", buf, sizeof buf)) {
        u->status[0] = 0;
        return;
    }
    char *end;
    errno = 0;
    unsigned long long a = strtoull(buf, &end, 16);
    if (!buf[0] || errno || *end) {
        snprintf(u->status, sizeof u->status, "not a hex address: '%s'", buf);
        return;
    }
    const struct hv_chunk *c = hv_snapshot_find_chunk(u->snap, a);
    if (!c) {
        snprintf(u->status, sizeof u->status, "0x%llx is not inside any chunk of this snapshot", a);
        return;
    }
    select_chunk(u, c);
    if (u->view == V_DETAIL)
        open_detail(u, c->addr);
    else
        set_view(u, V_HEAP);
    snprintf(u->status, sizeof u->status, "0x%llx is in chunk 0x%llx (+0x%llx, size 0x%llx, %s)", a, X(c->addr),
             a - X(c->addr), X(c->size), CLS[chunk_cls(c)].name);
}

static void goto_problem(struct ui *u, int dir)
{
    const struct hv_snapshot *s = u->snap;
    if (!s->nproblems) {
        snprintf(u->status, sizeof u->status, "no problems in this snapshot");
        return;
    }
    long n = (long)s->nproblems;
    u->pi = u->pi < 0 ? (dir > 0 ? 0 : n - 1) : ((u->pi + dir) % n + n) % n;
    const struct hv_problem *p = &s->problems[u->pi];
    u->vs[V_PROBLEMS].cur = (size_t)u->pi;
    const struct hv_chunk *c = hv_snapshot_find_chunk(s, p->addr);
    if (c) {
        select_chunk(u, c);
        set_view(u, V_HEAP);
    } else
        set_view(u, V_PROBLEMS);
    snprintf(u->status, sizeof u->status, "problem %ld/%ld: 0x%llx: %s", u->pi + 1, n, X(p->addr), p->msg);
}

static void act_next_prob(struct ui *u, int key) { (void)key; goto_problem(u, 1); }
static void act_prev_prob(struct ui *u, int key) { (void)key; goto_problem(u, -1); }

static void act_thread(struct ui *u, int key)
{
    (void)key;
    if (u->snap->ntcaches < 2) {
        snprintf(u->status, sizeof u->status, "only %zu thread%s with a tcache", u->snap->ntcaches,
                 u->snap->ntcaches == 1 ? "" : "s");
        if (u->snap->ntcaches == 0)
            return;
    }
    u->tsel = (u->tsel + 1) % u->snap->ntcaches;
    u->vs[V_BINS].cur = u->vs[V_BINS].top = 0;
    set_view(u, V_BINS);
}

static void act_pause(struct ui *u, int key)
{
    (void)key;
    if (u->snap->source_kind != HV_SOURCE_LIVE) {
        snprintf(u->status, sizeof u->status, "core file: nothing to pause");
        return;
    }
    u->paused = !u->paused;
    if (!u->paused)
        u->next_refresh_ns = hv_now_ns();
}

static void act_refresh(struct ui *u, int key)
{
    (void)key;
    if (u->snap->source_kind != HV_SOURCE_LIVE)
        snprintf(u->status, sizeof u->status, "core file: one snapshot, nothing to refresh");
    else if (u->gone)
        snprintf(u->status, sizeof u->status, "the target exited: nothing to refresh");
    else if (u->step && u->step_state == HV_STEP_RUNNING)
        snprintf(u->status, sizeof u->status, "running: the screen refreshes at the next stop");
    else
        take_new(u);
}

static void act_colour(struct ui *u, int key)
{
    (void)key;
    if (!u->can_colour) {
        snprintf(u->status, sizeof u->status, "no colours (NO_COLOR, --no-color or the terminal has none)");
        return;
    }
    u->colour = !u->colour;
}

static void act_help(struct ui *u, int key)
{
    (void)key;
    u->help_from = u->view;
    u->vs[V_HELP].cur = u->vs[V_HELP].top = 0;
    u->view = V_HELP;
}

static void act_mark(struct ui *u, int key)
{
    (void)key;
    if (!(u->snap->trace.flags & LA_TRACE_SITES)) {
        snprintf(u->status, sizeof u->status, "no allocation sites recorded (run the target with LIBALLOC_OPTIONS=sites=8)");
        return;
    }
    u->marked = !u->marked;
    u->mark = u->snap->trace.seq;
    snprintf(u->status, sizeof u->status, u->marked ? "marked at operation #%llu: Leaks shows growth since"
                                                     : "mark cleared (was operation #%llu)", X(u->mark));
    u->vs[V_LEAKS].cur = u->vs[V_LEAKS].top = 0;
    set_view(u, V_LEAKS);
}

static void act_explain(struct ui *u, int key)
{
    (void)key;
    if (u->view == V_HEAP && u->norder)
        u->detail = u->order[u->vs[V_HEAP].cur]->addr;
    else if (u->view != V_DETAIL) {
        build_lines(u, u->view);
        struct vstate *v = &u->vs[u->view];
        if (v->cur < u->nlines && u->lines[v->cur].addr) {
            const struct hv_chunk *c = hv_snapshot_find_chunk(u->snap, u->lines[v->cur].addr);
            if (c)
                u->detail = c->addr;
        }
    }
    u->vs[V_EXPLAIN].cur = u->vs[V_EXPLAIN].top = 0;
    set_view(u, V_EXPLAIN);
}

static void act_quit(struct ui *u, int key)
{
    (void)key;
    u->quit = 1;
}

/* ---- step mode ---------------------------------------------------------------------------- */

static void step_describe(struct ui *u)
{
    char d[LINE_W - 16];
    u->step->describe(u->step->ctx, d, sizeof d);
    snprintf(u->step_line, sizeof u->step_line, " %s", d);
}

static void step_resume(struct ui *u, int mode)
{
    if (u->step_state == HV_STEP_EXITED) {
        snprintf(u->status, sizeof u->status, "the program has exited (q quits)");
        return;
    }
    u->step_mode = mode;
    u->step_state = HV_STEP_RUNNING;
    u->next_refresh_ns = hv_now_ns() + (uint64_t)(u->opt->delay_s * 1e9);
    u->step->resume(u->step->ctx, mode);
}

/* One turn of the loop while the program runs: wait a little for its next
 * wanted stop (or exit); in c mode take a refresh snapshot every -d seconds. */
static void step_tick(struct ui *u)
{
    if (u->step_state != HV_STEP_RUNNING)
        return;
    int due = u->step_mode == HV_STEP_CONT && hv_now_ns() >= u->next_refresh_ns;
    int r = u->step->poll(u->step->ctx, 30, due);
    if (r == HV_STEP_STOPPED) {
        u->step_state = HV_STEP_STOPPED;
        take_new(u);
        step_describe(u);
        /* the Heap map selects the chunk the call handed out or took back */
        unsigned long long at = u->step->focus ? u->step->focus(u->step->ctx) : 0;
        const struct hv_chunk *c = at ? hv_snapshot_find_chunk(u->snap, at) : NULL;
        if (c)
            select_chunk(u, c);
    } else if (r == HV_STEP_PAUSED) {
        take_new(u);
        step_describe(u);
        u->step->resume(u->step->ctx, HV_STEP_CONT);
    } else if (r == HV_STEP_EXITED) {
        u->step_state = HV_STEP_EXITED;
        step_describe(u);
        u->gone = 1;
        snprintf(u->gone_msg, sizeof u->gone_msg, "%s", u->step_line + 1);
    }
}

static void act_step_next(struct ui *u, int key) { (void)key; step_resume(u, HV_STEP_NEXT); }
static void act_step_cont(struct ui *u, int key) { (void)key; step_resume(u, HV_STEP_CONT); }
static void act_step_free(struct ui *u, int key) { (void)key; step_resume(u, HV_STEP_FREE); }
static void act_step_mall(struct ui *u, int key) { (void)key; step_resume(u, HV_STEP_MALLOC); }

static void act_step_brk(struct ui *u, int key)
{
    (void)key;
    char buf[48] = "";
    if (!prompt_line(" break on (s SIZE | a ADDRESS | NUMBER; empty clears, Esc): ", "0123456789abcdefABCDEFxXsS ", buf,
                     sizeof buf))
        return;
    u->step->brk(u->step->ctx, buf, u->status, sizeof u->status);
}

#define UI_KEY_ENTRY(fn, names, help, ...) { fn, names, help, { __VA_ARGS__ } },
static const struct key_entry STEP_KEYS[] = { UI_STEP_KEY_TABLE(UI_KEY_ENTRY) };
static const size_t NSTEPKEYS = sizeof STEP_KEYS / sizeof STEP_KEYS[0];
static size_t nstepkeys(void) { return NSTEPKEYS; }
static const struct key_entry *stepkey_at(size_t i) { return &STEP_KEYS[i]; }
static const struct key_entry KEYS[] = { UI_KEY_TABLE(UI_KEY_ENTRY) };
static const size_t NKEYS = sizeof KEYS / sizeof KEYS[0];
static size_t nkeys(void) { return NKEYS; }
static const struct key_entry *key_at(size_t i) { return &KEYS[i]; }

static void dispatch(struct ui *u, int ch)
{
    if (ch == KEY_RESIZE) {
        clear();
        return;
    }
    if (u->view == V_HELP) {
        /* in help only scrolling keys act; any other key closes it */
        for (size_t i = 0; i < NKEYS; i++)
            for (int j = 0; j < NKEYS_MAX && KEYS[i].keys[j]; j++)
                if (KEYS[i].keys[j] == ch && (KEYS[i].fn == act_up || KEYS[i].fn == act_down || KEYS[i].fn == act_pgup ||
                                              KEYS[i].fn == act_pgdn || KEYS[i].fn == act_home || KEYS[i].fn == act_end)) {
                    struct vstate *v = &u->vs[V_HELP];
                    build_lines(u, V_HELP);
                    long d = KEYS[i].fn == act_up ? -1 : KEYS[i].fn == act_down ? 1 : KEYS[i].fn == act_pgup ? -page_h(u)
                           : KEYS[i].fn == act_pgdn ? page_h(u) : KEYS[i].fn == act_home ? -100000 : 100000;
                    long top = (long)v->top + d, mx = (long)u->nlines - page_h(u);
                    if (top > mx)
                        top = mx;
                    v->top = v->cur = (size_t)(top < 0 ? 0 : top);
                    return;
                }
        u->view = u->help_from;
        return;
    }
    u->status[0] = 0;
    if (u->step)
        for (size_t i = 0; i < NSTEPKEYS; i++)
            for (int j = 0; j < NKEYS_MAX && STEP_KEYS[i].keys[j]; j++)
                if (STEP_KEYS[i].keys[j] == ch) {
                    STEP_KEYS[i].fn(u, ch);
                    return;
                }
    for (size_t i = 0; i < NKEYS; i++)
        for (int j = 0; j < NKEYS_MAX && KEYS[i].keys[j]; j++)
            if (KEYS[i].keys[j] == ch) {
                KEYS[i].fn(u, ch);
                return;
            }
    snprintf(u->status, sizeof u->status, "key not bound (? lists the keys)");
}

/* ---- entry point ------------------------------------------------------------------------------ */

static void write_stats(const struct ui *u)
{
    const char *path = getenv("HEAPVIEW_UI_STATS");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    double el = (hv_now_ns() - u->t_start) / 1e9;
    fprintf(f, "chunks %zu\nsnapshots %llu\nelapsed_s %.3f\nsnapshots_per_s %.2f\nframes %llu\n"
               "take_mean_ms %.3f\ntake_max_ms %.3f\nstop_mean_ms %.3f\nstop_max_ms %.3f\n"
               "draw_mean_ms %.3f\ndraw_max_ms %.3f\ndiff_mean_ms %.3f\ndiff_max_ms %.3f\n",
            u->norder, X(u->ntake), el, el > 0 ? u->ntake / el : 0.0, X(u->ndraw),
            u->ntake ? u->sum_take / 1e6 / u->ntake : 0.0, u->max_take / 1e6,
            u->ntake ? u->sum_stop / 1e6 / u->ntake : 0.0, u->max_stop / 1e6,
            u->ndraw ? u->sum_draw / 1e6 / u->ndraw : 0.0, u->max_draw / 1e6,
            u->nproc ? u->sum_proc / 1e6 / u->nproc : 0.0, u->max_proc / 1e6);
    fclose(f);
}

int hv_ui_run(struct hv_source *src, const struct hv_ui_options *opt)
{
    const char *term = getenv("TERM");
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || !term || !*term || !strcmp(term, "dumb")) {
        fprintf(stderr, "heapview: the interactive view needs a terminal (%s); use --dump=text or --dump=json\n",
                !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) ? "not a tty" : "TERM is dumb or unset");
        return HV_EXIT_USAGE;
    }
    static struct ui U;
    struct ui *u = &U;
    memset(u, 0, sizeof *u);
    u->src = src;
    u->opt = opt;
    u->pi = -1;
    u->view = u->prev_view = V_OVERVIEW;
    u->t_start = hv_now_ns();
    u->step = opt->step;
    if (u->step) {
        u->view = u->prev_view = V_HEAP;
        u->step_state = HV_STEP_STOPPED;
        step_describe(u);
    }

    /* the first snapshot before the screen: its errors are plain lines */
    struct hv_error err = { 0, "" };
    u->snap = hv_snapshot_take(src, NULL, &err);
    if (!u->snap) {
        fprintf(stderr, "heapview: %s\n", err.msg);
        return err.status ? err.status : HV_EXIT_INTERNAL;
    }
    stat_take(u, u->snap);
    hv_snapshot_diff(NULL, u->snap);
    if (derive(u) < 0) {
        fprintf(stderr, "heapview: out of memory\n");
        hv_snapshot_free(u->snap);
        return HV_EXIT_INTERNAL;
    }
    u->nrefresh = 1;
    u->live = u->snap->source_kind == HV_SOURCE_LIVE;
    u->next_refresh_ns = hv_now_ns() + (uint64_t)(opt->delay_s * 1e9);
    if (u->norder)
        u->heap_sel = u->order[0]->addr;
    if (opt->start_addr) {
        const struct hv_chunk *c = hv_snapshot_find_chunk(u->snap, opt->start_addr);
        if (c)
            select_chunk(u, c);
    }

    setlocale(LC_ALL, "");
    g_tios_ok = tcgetattr(STDIN_FILENO, &g_tios) == 0;
    install_signals();
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        restore_signals();
        fprintf(stderr, "heapview: cannot use terminal type '%s'; use --dump=text or --dump=json\n", term);
        hv_snapshot_free(u->snap);
        free(u->order);
        free(u->as);
        return HV_EXIT_USAGE;
    }
    set_term(scr);
    capture_restore_strings();
    g_screen_on = 1;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    u->can_colour = opt->colour && has_colors();
    if (u->can_colour && start_color() == OK) {
        use_default_colors();
        for (int k = 0; k < K_NCLS; k++) {
            init_pair((short)(1 + k), CLS[k].colour, -1);
            init_pair((short)(1 + K_NCLS + k), COLOR_BLACK, CLS[k].colour);
        }
    } else
        u->can_colour = 0;
    u->colour = u->can_colour;

    int status = 0;
    while (!u->quit && !g_quit_sig) {
        if (u->step)
            step_tick(u);
        else if (u->live && !u->paused && !u->gone && hv_now_ns() >= u->next_refresh_ns)
            take_new(u);
        draw_frame(u);
        int wait_ms = 250;
        if (u->step && u->step_state == HV_STEP_RUNNING)
            wait_ms = 0;            /* step_tick() waited for the program */
        else if (u->step)
            ;
        else if (u->live && !u->paused && !u->gone) {
            uint64_t now = hv_now_ns();
            long ms = u->next_refresh_ns > now ? (long)((u->next_refresh_ns - now) / 1000000) + 1 : 0;
            if (ms < wait_ms)
                wait_ms = (int)ms;
        }
        timeout(wait_ms);
        int ch = getch();
        if (ch != ERR)
            dispatch(u, ch);
    }
    if (u->quit > 1)
        status = u->quit;
    endwin();
    g_screen_on = 0;
    delscreen(scr);
    restore_signals();
    write_stats(u);
    if (g_quit_sig) {
        fprintf(stderr, "heapview: %s: terminal restored, detaching\n", strsignal(g_quit_sig));
        status = 128 + g_quit_sig;
    } else if (status == 0 && opt->check && u->snap->nproblems)
        status = HV_EXIT_PROBLEMS;
    hv_snapshot_free(u->snap);
    free(u->order);
    free(u->as);
    free(u->lines);
    return status;
}
