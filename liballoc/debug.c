/*
 * liballoc/debug.c - the published metadata (liballoc_debug) and start-up.
 *
 * liballoc_debug is the one exported data symbol heapview looks for.  Its
 * registries (arena list, tcaches, mmapped chunks), tunables and statistics are
 * liballoc's live state, not a copy.  la_dbg is a hidden alias used inside the
 * library so no access goes through the GOT.
 *
 * Initialisation is lazy (the first malloc can come from the dynamic loader,
 * before any constructor).  Phase 1 sets up everything malloc needs using only
 * system calls and getenv; then the state becomes "core ready" and phase 2 calls
 * libc functions that may allocate (pthread_key_create, pthread_atfork): such
 * re-entrant calls find a working allocator.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

LA_EXPORT struct la_debug liballoc_debug = {
    .magic = LA_DEBUG_MAGIC,
    .abi_version = LA_DEBUG_ABI_VERSION,
    .size = sizeof(struct la_debug),
    .ptr_size = sizeof(void *),
    .compat_version = LA_DEBUG_COMPAT,
    .main_arena = &la_main_arena,
    .narenas = 1,
};
extern struct la_debug la_dbg __attribute__((alias("liballoc_debug"), visibility("hidden")));

struct la_globals la_g;

/* Bounds of liballoc's code: the build renames every liballoc object's .text
 * to this section (liballoc/module.mk), and the linker defines these symbols. */
extern char __start_liballoc_text[] LA_HIDDEN;
extern char __stop_liballoc_text[] LA_HIDDEN;

void la_update_fastpath(void)
{
    struct la_tunables *t = &la_dbg.tunables;
    for (unsigned i = 0; i < LA_TCACHE_BINS; i++)
        la_g.tc_cap[i] = (uint16_t)la_tcache_bin_limit(t->tcache_count, t->tcache_bytes, i);
    la_g.tc_bins = t->tcache_count == 0 ? 0 :
                   (t->tcache_max == 0 ? 0 : la_tcache_index(la_request2size(t->tcache_max)) + 1);
    if (la_g.tc_bins > LA_TCACHE_BINS) la_g.tc_bins = LA_TCACHE_BINS;
    la_g.max_fast = la_max_fast_chunk(t->mxfast);
    /* tracing: every malloc and free must reach the slow path to be recorded */
    if (t->perturb || t->check || la_g.tc_bins == 0 || la_dbg.trace.flags) {
        la_g.fast_max_req = 0;
        la_g.fast_bins = 0;
    } else {
        la_g.fast_max_req = la_tcache_max_request((unsigned)la_g.tc_bins - 1);
        if (la_g.fast_max_req > t->tcache_max) la_g.fast_max_req = t->tcache_max;
        la_g.fast_bins = la_g.tc_bins;
    }
    /* the big-chunk cache only where the inline paths run (no debugging option) */
    la_g.bc_cap = la_g.fast_bins ? t->bigcache_bytes : 0;
}

static void atfork_prepare(void) { la_fork_prepare(); }
static void atfork_parent(void) { la_fork_parent(); }
static void atfork_child(void) { la_fork_child(); }

static int32_t init_lock;

LA_NOINLINE void la_init(void)
{
    static LA_TLS int in_init;
    if (in_init) return;            /* re-entered from phase 2 on this thread: core is ready */
#if defined(__BMI2__) && defined(__x86_64__)
    /* built with -mbmi2 (liballoc/module.mk LA_BMI2): a CPU without it would
     * die of SIGILL on the next inline malloc or free; say why instead */
    {
        unsigned a = 0, b, c = 0, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));     /* highest leaf */
        unsigned max = a;
        a = 7, b = 0, c = 0;
        if (max >= 7) __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if (!(b & (1u << 8))) {                                     /* leaf 7 EBX bit 8: BMI2 */
            static const char m[] = "liballoc: built for CPUs with BMI2 and this CPU has none (rebuild with make LA_BMI2=0)\n";
            la_os_write(2, m, sizeof m - 1);
            _exit(127);
        }
    }
#endif
    la_lock(&init_lock);
    if (la_g.init_state >= 2) { la_unlock(&init_lock); return; }
    in_init = 1;
    la_g.init_state = 1;

    long ps = sysconf(_SC_PAGESIZE);
    la_g.pagesize = ps > 0 ? (size_t)ps : 4096;
    la_g.ncores = la_os_ncores();
    la_g.tc_key = la_os_random();

    struct la_tunables *t = &la_dbg.tunables;
    t->tcache_count = LA_TCACHE_COUNT_DEFAULT;
    t->tcache_bytes = LA_TCACHE_BYTES_DEFAULT;
    t->bigcache_bytes = LA_BC_BYTES_DEFAULT;
    t->fault_ahead = LA_FA_BYTES_DEFAULT;
    t->tcache_max = LA_TCACHE_MAX_BYTES;
    t->mxfast = LA_DEFAULT_MXFAST;
    t->mmap_threshold = LA_MMAP_THRESHOLD_DEFAULT;
    t->trim_threshold = LA_TRIM_THRESHOLD_DEFAULT;
    t->top_pad = LA_TOP_PAD_DEFAULT;
    t->mmap_max = LA_MMAP_MAX_DEFAULT;
    t->arena_max = 0;
    t->arena_test = 8;
    /* the heap zone (sysmem.c): four heaps for each arena of the default
     * arena_max (8 per core), at least 64 (4 GiB of address space) */
    {
        uint64_t z = 32 * (uint64_t)(la_g.ncores > 0 ? la_g.ncores : 1);
        t->heap_zone = (uint32_t)(z < 64 ? 64 : z > LA_ZONE_MAX_SLOTS ? LA_ZONE_MAX_SLOTS : z);
    }
    la_options_init();                  /* LIBALLOC_OPTIONS (getenv + write only) */
    la_trace_init();                    /* trace options: history ring, site table (mmap only) */

    la_layout_fill(&la_dbg.layout);
    la_arena_init(&la_main_arena, 0);
    la_main_arena.nthreads = 1;
    la_t_arena = &la_main_arena;
    la_dbg.main_arena = &la_main_arena;
    la_dbg.narenas = 1;
    la_dbg.text_start = (uint64_t)(uintptr_t)__start_liballoc_text;
    la_dbg.text_end = (uint64_t)(uintptr_t)__stop_liballoc_text;
    la_update_fastpath();
    __atomic_store_n(&la_g.init_state, 2, __ATOMIC_RELEASE);
    la_dbg.initialized = 1;

    /* Phase 2: may allocate. */
    if (pthread_key_create(&la_g.key, la_tcache_thread_exit) == 0) la_g.have_key = 1;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    la_trace_init2();
    la_g.init_state = 3;
    in_init = 0;
    la_unlock(&init_lock);
}
