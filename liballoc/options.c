/*
 * liballoc/options.c - LIBALLOC_OPTIONS and mallopt.
 *
 * LIBALLOC_OPTIONS is a list of name=value items separated by ':' or ','
 * (either works, and they may be mixed), read once at start-up:
 *   tcache_count tcache_bytes tcache_max mxfast mmap_threshold
 *   trim_threshold top_pad mmap_max arena_max arena_test perturb check
 *   no_brk bigcache fault_ahead heap_zone (the table opts, below), and the
 *   tracing ones: trace history sites step
 * Values are decimal or 0x-hex, optionally followed by k, m or g (x1024^n).
 * An unknown name or a malformed/out-of-range value gets a one-line warning on
 * stderr (written with write(2); this runs before stdio may be used) and is
 * ignored, so the default stays.
 */
#include <malloc.h>
#include <stdlib.h>

#include "internal.h"

static int parse_num(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    int base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; i = 2; }
    size_t start = i;
    for (; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else break;
        if (v > (UINT64_MAX - d) / (uint64_t)base) return -1;
        v = v * (uint64_t)base + d;
    }
    if (i == start) return -1;
    if (i < len) {
        unsigned shift;
        switch (s[i]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        if (i + 1 != len) return -1;
        if (v > (UINT64_MAX >> shift)) return -1;
        v <<= shift;
    }
    *out = v;
    return 0;
}

struct opt {
    const char *name;
    uint64_t max;
    size_t off;
    size_t size;                /* of the field: 8, or 4 (a former 32-bit pad) */
};

#define T(f) offsetof(struct la_tunables, f)
#define F(f) T(f), sizeof(((struct la_tunables *)0)->f)
static const struct opt opts[] = {
    { "tcache_count", LA_TCACHE_FILL_MAX, F(tcache_count) },
    { "tcache_bytes", 1u << 30, F(tcache_bytes) },
    { "tcache_max", LA_TCACHE_MAX_BYTES, F(tcache_max) },
    { "mxfast", LA_MAX_MXFAST, F(mxfast) },
    { "mmap_threshold", LA_MMAP_THRESHOLD_MAX, F(mmap_threshold) },
    { "trim_threshold", PTRDIFF_MAX, F(trim_threshold) },
    { "top_pad", 1ull << 40, F(top_pad) },
    { "mmap_max", INT32_MAX, F(mmap_max) },
    { "arena_max", 1u << 16, F(arena_max) },
    { "arena_test", 1u << 16, F(arena_test) },
    { "perturb", 255, F(perturb) },
    { "check", UINT32_MAX, F(check) },
    { "no_brk", 1, F(no_brk) },
    { "bigcache", 1u << 30, F(bigcache_bytes) },
    { "fault_ahead", 1u << 30, F(fault_ahead) },
    { "heap_zone", LA_ZONE_MAX_SLOTS, F(heap_zone) },
};

static void warn_item(const char *why, const char *item, size_t len)
{
    char buf[200];
    size_t n = 0;
    const char *pre = "liballoc: LIBALLOC_OPTIONS: ";
    while (*pre) buf[n++] = *pre++;
    while (*why && n < 100) buf[n++] = *why++;
    buf[n++] = ' ';
    buf[n++] = '"';
    for (size_t i = 0; i < len && n < sizeof buf - 24; i++) buf[n++] = item[i];
    const char *post = "\" ignored, default kept\n";
    while (*post && n < sizeof buf) buf[n++] = *post++;
    la_os_write(2, buf, n);
}

/* trace=0|1, history=N (records kept), sites=DEPTH (frames per allocation),
 * step=0|1 (heapview's step mode): they set liballoc_debug.trace, which
 * la_trace_init (trace.c) turns into the ring, the site table and the flags. */
static int trace_option(const char *p, const char *eq, const char *end)
{
    static const struct { const char *name; uint64_t max; } tr[] = {
        { "trace", 1 }, { "history", 1u << 22 }, { "sites", LA_SITE_MAX_DEPTH }, { "step", 1 },
    };
    for (size_t i = 0; i < sizeof tr / sizeof tr[0]; i++) {
        size_t nl = strlen(tr[i].name);
        if ((size_t)(eq - p) != nl || memcmp(p, tr[i].name, nl) != 0) continue;
        uint64_t v;
        struct la_trace *t = &la_dbg.trace;
        if (eq == end || parse_num(eq + 1, (size_t)(end - eq - 1), &v) != 0) warn_item("malformed value in", p, (size_t)(end - p));
        else if (v > tr[i].max) warn_item("value out of range in", p, (size_t)(end - p));
        else if (i == 0) t->flags = v ? t->flags | LA_TRACE_ON : t->flags & ~LA_TRACE_ON;
        else if (i == 1) t->hist_cap = v;
        else if (i == 2) t->site_depth = (uint32_t)v;
        else t->flags = v ? t->flags | LA_TRACE_STEP | LA_TRACE_ON : t->flags & ~LA_TRACE_STEP;
        return 1;
    }
    return 0;
}

void la_options_init(void)
{
    const char *env = getenv("LIBALLOC_OPTIONS");
    if (!env) return;
    const char *p = env;
    while (*p) {
        const char *end = p;
        while (*end && *end != ':' && *end != ',') end++;
        size_t len = (size_t)(end - p);
        if (len > 0) {
            const char *eq = p;
            while (eq < end && *eq != '=') eq++;
            const struct opt *o = NULL;
            for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
                size_t nl = strlen(opts[i].name);
                if ((size_t)(eq - p) == nl && memcmp(p, opts[i].name, nl) == 0) { o = &opts[i]; break; }
            }
            uint64_t v;
            if (!o && trace_option(p, eq, end)) {}
            else if (!o) warn_item("unknown option", p, len);
            else if (eq == end || parse_num(eq + 1, (size_t)(end - eq - 1), &v) != 0) warn_item("malformed value in", p, len);
            else if (v > o->max) warn_item("value out of range in", p, len);
            else {
                char *field = (char *)&la_dbg.tunables + o->off;
                if (o->size == sizeof(uint32_t)) *(uint32_t *)field = (uint32_t)v;
                else *(uint64_t *)field = v;
                if (o->off == T(mmap_threshold) || o->off == T(trim_threshold) ||
                    o->off == T(top_pad) || o->off == T(mmap_max))
                    la_dbg.tunables.no_dyn_threshold = 1;
            }
        }
        p = *end ? end + 1 : end;
    }
}

int la_mallopt(int param, int value)
{
    la_ensure_init();
    struct la_tunables *t = &la_dbg.tunables;
    int res = 1;
    la_lock(&la_main_arena.lock);
    /* glibc consolidates first so a lowered M_MXFAST leaves no stray fastbin chunks */
    la_consolidate(&la_main_arena);
    switch (param) {
    case M_MXFAST:
        if (value >= 0 && (unsigned)value <= LA_MAX_MXFAST) t->mxfast = (uint64_t)value;
        else res = 0;
        break;
    case M_TRIM_THRESHOLD:
        t->trim_threshold = (uint64_t)(long)value;
        t->no_dyn_threshold = 1;
        break;
    case M_TOP_PAD:
        t->top_pad = (uint64_t)(long)value;
        t->no_dyn_threshold = 1;
        break;
    case M_MMAP_THRESHOLD:
        if ((unsigned long)(long)value > LA_MMAP_THRESHOLD_MAX) res = 0;
        else {
            t->mmap_threshold = (uint64_t)(long)value;
            t->no_dyn_threshold = 1;
        }
        break;
    case M_MMAP_MAX:
        t->mmap_max = (uint64_t)(long)value;
        t->no_dyn_threshold = 1;
        break;
    case M_CHECK_ACTION:
        break;
    case M_PERTURB:
        t->perturb = (uint64_t)(value & 0xff);
        break;
    case M_ARENA_TEST:
        if (value > 0) t->arena_test = (uint64_t)value;
        break;
    case M_ARENA_MAX:
        if (value > 0) t->arena_max = (uint64_t)value;
        break;
    default:
        break;
    }
    la_update_fastpath();
    la_unlock(&la_main_arena.lock);
    return res;
}

int liballoc_mallopt(int param, int value) __attribute__((alias("la_mallopt"), visibility("default")));
