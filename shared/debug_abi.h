/*
 * shared/debug_abi.h - the metadata liballoc publishes for heapview.
 *
 * liballoc defines one exported data symbol, `liballoc_debug` (struct la_debug).
 * heapview finds it by symbol lookup (live process: the ELF symbol of the loaded
 * liballoc.so or of a static executable plus its load bias; core file: the same
 * through the NT_FILE note) or, failing that, by scanning writable memory for
 * LA_DEBUG_MAGIC.  From there every structure of the heap is reachable:
 *
 *   liballoc_debug
 *     .main_arena ---> struct la_arena  --next--> la_arena --next--> ... (NULL-terminated)
 *                        .segments ---> struct la_segment --prev--> older segments
 *                                         chunks from .chunks to seg + .size
 *                        .fastbins[], .bins[], .top, .last_remainder, .remote
 *     .tcaches -------> struct la_tcache --next--> ... one per thread (tid)
 *     .mmaps ---------> open-addressed table of mmapped chunk addresses
 *     .tunables, .mstats, .generation, .text_start/.text_end
 *
 * The structures below ARE liballoc's own structures (liballoc includes this
 * header and uses them directly), so nothing is copied or translated at run time.
 * Pointer members are target addresses: heapview reads them as numbers and never
 * dereferences them in its own address space.
 *
 * Compatibility.  The first members of struct la_debug (up to and including
 * compat_version) are FROZEN: they never move or change meaning.  abi_version
 * grows whenever anything after the prefix changes; compat_version is the oldest
 * ABI version whose readers can still read this layout (appending members keeps
 * compat_version; moving or changing one raises it).  A reader that knows
 * versions up to R accepts a target when compat_version <= R, and otherwise
 * reports "ABI version V is newer than this heapview reads (up to R)".
 * The layout descriptors (sizes and offsets) let a reader verify, rather than
 * assume, that its compiled-in layout matches the target.
 *
 * Consistency.  A reader stops the process, then considers a snapshot taken
 * mid-operation if any arena's lock word is non-zero, if `generation` is odd
 * (a registry is being changed), or if a thread's instruction pointer lies in
 * [text_start, text_end) (a lock-free tcache operation in progress).
 */
#ifndef LA_SHARED_DEBUG_ABI_H
#define LA_SHARED_DEBUG_ABI_H

#include <stddef.h>
#include <stdint.h>
#include "layout.h"

#define LA_DEBUG_MAGIC        0x3156504145484c41ull   /* "ALHEAPV1" in memory order */
#define LA_DEBUG_ABI_VERSION  5u   /* 2: struct la_trace appended (readers of 1 still read it);
                                    * 3: la_tcache.limit/missed, la_tunables.tcache_bytes;
                                    * 4: struct la_arena grew by the remote-free list (64 bytes);
                                    * 5: struct la_tcache grew by the big-chunk cache (bc_*),
                                    *    la_tunables.bigcache_bytes */
#define LA_DEBUG_COMPAT       5u   /* 3: struct la_tcache grew; 4: struct la_arena grew; 5: struct
                                    * la_tcache grew; readers of older versions compare those
                                    * sizes exactly */
#define LA_ARENA_SIZE_V3      (offsetof(struct la_arena, remote))  /* sizeof(struct la_arena) before ABI 4 */
#define LA_DEBUG_SYMBOL       "liballoc_debug"

/* la_arena.flags */
#define LA_ARENA_NONCONTIG    0x2u    /* main arena fell back to mmap: segments are not contiguous */
#define LA_ARENA_CORRUPT      0x4u    /* an integrity check failed in this arena */

/* la_segment.kind */
#define LA_SEG_SBRK           1u      /* main arena, memory from brk */
#define LA_SEG_MMAP           2u      /* main arena, memory from mmap when brk failed */
#define LA_SEG_HEAP           3u      /* non-main arena heap, 64 MiB aligned */

struct la_chunk {
    size_t prev_size;
    size_t size;
    struct la_chunk *fd, *bk;                   /* doubly linked bins */
    struct la_chunk *fd_nextsize, *bk_nextsize; /* large bins: list of distinct sizes */
};

/* A contiguous region of chunks owned by one arena.  The descriptor sits at the
 * start of its region; chunks begin at `chunks` (16-byte aligned chunk address)
 * and run up to seg + size.  In the arena's newest segment the last chunk is the
 * top chunk.  An older segment of the main arena (abandoned because brk moved
 * under us) ends with two fencepost headers of size LA_CHUNK_HDR, in use.
 * For a non-main heap the descriptor is at la_heap_of(any chunk in it), and the
 * first heap of an arena holds the struct la_arena right after the descriptor. */
struct la_segment {
    struct la_arena *arena;
    struct la_segment *prev;    /* older segment of the same arena, or NULL */
    uint64_t size;              /* bytes from the segment start that hold chunks (inclusive of top) */
    uint64_t mprotect_size;     /* non-main heaps: bytes that are read/write */
    uint64_t reserved;          /* bytes of address space reserved for this segment */
    uint64_t chunks;            /* address of the first chunk */
    uint32_t kind;              /* LA_SEG_* */
    uint32_t pad;               /* non-main heaps: liballoc's ownership window / 16; readers ignore */
    uint64_t spare;
};

/* An arena: lock, fastbins, top, the regular bins and their binmap.
 * bins[] holds fd/bk pairs for bins 1..127: bin i's fd is bins[2*(i-1)], its bk
 * bins[2*(i-1)+1].  Like ptmalloc2, a bin's header is addressed as a fake chunk
 * whose fd field overlaps bins[2*(i-1)]: la_bin_at(arena_addr, i). */
struct la_arena {
    int32_t lock;               /* 0 unlocked; non-zero while an operation runs */
    uint32_t flags;             /* LA_ARENA_* */
    uint32_t index;             /* 0 = main arena */
    uint32_t nthreads;          /* threads attached to this arena */
    uint64_t ops;               /* count of locked operations (a generation counter) */
    int32_t have_fastchunks;
    int32_t pad0;               /* liballoc: allocations for attached threads, wrapping (idle test); readers ignore */
    struct la_chunk *fastbins[LA_NFASTBINS];   /* heads, plain; chunk fd fields are safe-linked */
    struct la_chunk *top;
    struct la_chunk *last_remainder;
    struct la_chunk *bins[2 * LA_NBINS - 2];
    uint32_t binmap[LA_BINMAP_WORDS];
    struct la_arena *next;      /* all arenas, NULL-terminated, starting at the main arena */
    struct la_arena *next_free; /* arenas with no threads attached */
    struct la_segment *segments;/* newest segment */
    uint64_t system_mem;
    uint64_t max_system_mem;
    uint64_t spare[4];          /* liballoc's ownership windows (internal.h); readers ignore */
    /* ---- ABI version 4 ----
     * Remote frees: chunks of this arena freed by threads attached to other
     * arenas, pushed without the lock (one compare-and-swap per batch) and
     * taken by a holder of the lock (one exchange) to be freed into the bins.
     * A LIFO singly linked through the chunks' fd, safe-linked like fastbin fd
     * (la_protect_ptr with the address of the fd field); each such chunk is in
     * use by its boundary tags and carries the tcache key in its bk word.
     * Readers must follow it with a bound: it changes without the lock. */
    struct la_chunk *remote;    /* head (plain pointer), NULL when empty */
    uint64_t remote_chunks;     /* chunks ever pushed (atomic add by the pushers) */
    uint64_t remote_batches;    /* pushes (compare-and-swap successes) */
    uint64_t remote_drained;    /* chunks ever taken back by the owner (under the lock) */
    uint64_t remote_spare[4];   /* [0]: liballoc's bin-header base for its link tests
                                 * (internal.h la_bin_hdr_ok); readers ignore */
};

static inline uintptr_t la_bin_at(uintptr_t arena_addr, unsigned i)
{
    return arena_addr + offsetof(struct la_arena, bins) + (uintptr_t)(i - 1) * 2 * sizeof(void *)
           - offsetof(struct la_chunk, fd);
}

/* The big-chunk cache (struct la_tcache.bc_*): chunk sizes above the largest
 * tcache chunk up to a 64 KiB request, in 8 classes per power of two (class
 * width 1/8 of its lower bound: a chunk taken for a request of its class is at
 * most 1/8 larger than needed). */
#define LA_BC_MIN_CHUNK   1056u
#define LA_BC_MAX_CHUNK   65552u     /* la_request2size(64 KiB) */
#define LA_BC_WAYS        16u
#define LA_BC_CLASSES     49u        /* la_bc_class(LA_BC_MAX_CHUNK) + 1 */
#define LA_BC_CLASSES_PAD 56u
static inline unsigned la_bc_class(uint64_t csize)
{
    unsigned lg = 63u - (unsigned)__builtin_clzll(csize);
    return (lg - 10u) * 8u + (unsigned)((csize >> (lg - 3u)) & 7u);
}
/* smallest chunk size of class c */
static inline uint64_t la_bc_class_lo(unsigned c)
{
    return (uint64_t)(8u + (c & 7u)) << (c / 8u + 7u);
}

/* A chunk size nb of the cache's range rounded up to the largest chunk size
 * of its class: with the cache on, malloc asks the arena for that size, so
 * that every chunk of a class has one size and the newest cached one fits. */
static inline uint64_t la_bc_round(uint64_t nb)
{
    uint64_t lo = la_bc_class_lo(la_bc_class(nb)), hi = lo + lo / 8 - LA_ALIGNMENT;
    return hi < LA_BC_MAX_CHUNK ? hi : LA_BC_MAX_CHUNK;
}

/* A freed chunk in a tcache bin: next is safe-linked with its own address, key
 * marks the chunk as being in a tcache (checked on free to catch double frees). */
struct la_tcache_entry {
    uint64_t next;
    uint64_t key;
};

/* One per thread that has allocated.  Kept outside the heap (liballoc's own
 * metadata pages), so heap overflows cannot reach it.  entries[i] is the plain
 * user pointer of the first chunk of bin i (its next field is safe-linked). */
struct la_tcache {
    uint16_t counts[LA_TCACHE_BINS];
    struct la_tcache_entry *entries[LA_TCACHE_BINS];
    struct la_tcache *next, *prev;  /* registry of live tcaches */
    uint64_t tid;                   /* kernel thread id */
    struct la_arena *arena;         /* arena the thread is attached to */
    uint64_t spare[2];
    /* ABI 3: each bin's fill limit.  A bin starts at min(7, its cap) entries,
     * glibc's tcache_count, and doubles up to its cap la_tcache_bin_limit(
     * tunables.tcache_count, tunables.tcache_bytes, i) when a free finds it full
     * after a malloc found it empty since it last grew (bit i of `missed`):
     * only bins that really churn hold more. */
    uint16_t limit[LA_TCACHE_BINS];
    uint64_t missed;
    /* ---- ABI 5: the big-chunk cache (liballoc/bigcache.c) ----
     * Freed chunks of LA_BC_MIN_CHUNK..LA_BC_MAX_CHUNK bytes of the thread's
     * own arena, kept "in use" (like tcache chunks: no coalescing) in up to
     * LA_BC_WAYS slots per class la_bc_class(size), at most
     * tunables.bigcache_bytes bytes in all.  Slots 0..bc_count[c]-1 of class c
     * hold the chunk address (bc_chunk) and its size (bc_size); the arrays
     * live here, outside the heap, so there is no link in the heap to poison.
     * A cached chunk carries the tcache key in its bk word (double free). */
    uint64_t bc_bytes;              /* sum of the cached chunks' sizes */
    uint64_t bc_hi;                 /* >= the end of every cached chunk (trim filter) */
    uint8_t bc_count[LA_BC_CLASSES_PAD];
    uint32_t bc_size[LA_BC_CLASSES][LA_BC_WAYS];
    uint64_t bc_chunk[LA_BC_CLASSES][LA_BC_WAYS];
};
/* sizeof(struct la_tcache) before ABI 3 (no limit/missed) */
#define LA_TCACHE_V2_SIZE offsetof(struct la_tcache, limit)
/* sizeof(struct la_tcache) before ABI 5 (no big-chunk cache) */
#define LA_TCACHE_V4_SIZE offsetof(struct la_tcache, bc_bytes)

/* Registry of mmapped chunks: an open-addressed table of chunk addresses.
 * slot value 0 = empty, 1 = deleted, otherwise the chunk address. */
struct la_mmap_registry {
    uint64_t *slots;
    uint64_t capacity;          /* power of two, 0 before the first mmapped chunk */
    uint64_t count;
    uint64_t tombstones;
};

/* Tunables in force (LIBALLOC_OPTIONS and mallopt). */
struct la_tunables {
    uint64_t tcache_count;
    uint64_t tcache_max;        /* bytes (largest request served by tcache) */
    uint64_t mxfast;            /* request bytes */
    uint64_t mmap_threshold;
    uint64_t trim_threshold;
    uint64_t top_pad;
    uint64_t mmap_max;
    uint64_t arena_max;         /* 0 = 8 x cores */
    uint64_t arena_test;
    uint64_t perturb;
    uint64_t check;             /* run the heap checker every N calls (0 = never) */
    uint32_t no_dyn_threshold;  /* dynamic mmap threshold disabled */
    uint32_t heap_zone;         /* 64 MiB slots of the heap zone (LIBALLOC_OPTIONS heap_zone=N; 0 = none);
                                 * was a pad (0 in older targets) */
    uint64_t tcache_bytes;      /* per-bin byte budget: bin i holds la_tcache_bin_limit(tcache_count,
                                 * tcache_bytes, i) entries (layout.h); 0 = tcache_count in every bin.
                                 * Written by liballoc since this field was a spare (0) */
    uint64_t no_brk;            /* 1: the main arena never calls brk (LIBALLOC_OPTIONS no_brk=1) */
    uint64_t bigcache_bytes;    /* ABI 5: per-thread byte cap of the big-chunk cache (0 = off);
                                 * 0 in older targets, where this was a spare */
    uint64_t fault_ahead;       /* bytes of top populated ahead of a run of small splits (sysmem.c,
                                 * 0 = off); was a spare (0 in older targets), no reader uses it */
};

/* Global statistics. */
struct la_mstats {
    uint64_t n_mmaps;
    uint64_t max_n_mmaps;
    uint64_t mmapped_mem;
    uint64_t max_mmapped_mem;
    uint64_t spare[4];
};

/* Sizes and offsets of the structures a reader walks, as liballoc was built. */
struct la_layout_desc {
    uint32_t sizeof_chunk_hdr;      /* LA_CHUNK_HDR */
    uint32_t alignment;             /* LA_ALIGNMENT */
    uint32_t nbins, nfastbins, tcache_bins, binmap_words;
    uint32_t sizeof_arena, sizeof_segment, sizeof_tcache, sizeof_tcache_entry;
    uint32_t off_arena_lock, off_arena_fastbins, off_arena_top, off_arena_last_remainder;
    uint32_t off_arena_bins, off_arena_binmap, off_arena_next, off_arena_segments;
    uint32_t off_arena_system_mem;
    uint32_t off_segment_prev, off_segment_size, off_segment_chunks;
    uint32_t off_tcache_counts, off_tcache_entries, off_tcache_next, off_tcache_tid;
    uint32_t off_arena_remote;      /* ABI 4; 0 in older targets (no remote list) */
    uint32_t spare[7];
};

/* ---- ABI version 2: tracing (LIBALLOC_OPTIONS trace=1, history=N, sites=DEPTH, step=1) ----
 * Appended to struct la_debug as `trace`; all zero unless an option asks for it.
 *   trace.flags        LA_TRACE_* options in force
 *   trace.hook         address of liballoc_debug_op_hook(), a noinline function
 *                      liballoc calls after each recorded operation with no lock
 *                      held (a debugger can break there, like r_debug.r_brk)
 *   trace.last         the operation just finished; while a call is in progress
 *                      its call and arguments with seq 0 (so a core written by an
 *                      abort inside the call names the call)
 *   trace.hist         ring of hist_cap struct la_op: operation s (from 1) is in
 *                      slot (s - 1) % hist_cap; a slot whose seq is 0 or does not
 *                      map to that slot is being written
 *   trace.sites        open-addressed table of site_cap slots of site_stride bytes:
 *                      key (user pointer; 0 empty, 1 deleted), bytes requested,
 *                      seq of the allocation, then site_depth return addresses
 *                      (0-terminated when shorter), innermost first.  In liballoc's
 *                      own mmap'd pages, outside the heap.
 *   trace.step_armed   written by heapview's step mode: the hook stops the process
 *                      (SIGSTOP) after each operation while it is non-zero. */
#define LA_TRACE_ON      0x1u   /* operations are recorded (trace.last, hook) */
#define LA_TRACE_HISTORY 0x2u   /* the history ring is kept */
#define LA_TRACE_SITES   0x4u   /* allocation sites are kept */
#define LA_TRACE_STEP    0x8u   /* started by heapview's step mode (SIGTRAP at init) */

#define LA_SITE_EMPTY    0u
#define LA_SITE_DELETED  1u
#define LA_SITE_MAX_DEPTH 32u

enum la_op_call {
    LA_OP_NONE = 0, LA_OP_MALLOC, LA_OP_FREE, LA_OP_CALLOC, LA_OP_REALLOC, LA_OP_MEMALIGN,
};

/* What the allocator did (la_op.path); la_op.flags adds LA_OPF_*. */
enum la_op_path {
    LA_PATH_NONE = 0,
    LA_PATH_TCACHE_HIT,         /* malloc: popped tcache bin `bin` (count left in `count`) */
    LA_PATH_TCACHE_PUT,         /* free: pushed on tcache bin `bin` (`count` now) */
    LA_PATH_FAST_PUT,           /* free: tcache full (or no tcache) -> fastbin `bin` */
    LA_PATH_FAST_HIT,           /* malloc: fastbin `bin` */
    LA_PATH_SMALL_HIT,          /* malloc: small bin `bin` exact */
    LA_PATH_UNSORTED_EXACT,     /* malloc: unsorted scan found an exact fit */
    LA_PATH_LAST_REMAINDER,     /* malloc: split the last remainder (aux0 = remainder size) */
    LA_PATH_SPLIT,              /* malloc: best fit chunk `chunk` of csize split, aux0 = remainder to unsorted */
    LA_PATH_BIN_FIT,            /* malloc: best fit from bin `bin`, used whole */
    LA_PATH_TOP,                /* malloc: carved from top */
    LA_PATH_TOP_EXTENDED,       /* malloc: top grown by aux0 bytes, then carved */
    LA_PATH_MMAP,               /* malloc: own mapping of aux0 bytes */
    LA_PATH_MUNMAP,             /* free: mapping of aux0 bytes returned */
    LA_PATH_FREE_UNSORTED,      /* free: coalesced to a chunk of aux0 bytes in unsorted */
    LA_PATH_FREE_TOP,           /* free: merged into top (now aux0 bytes) */
    LA_PATH_REALLOC_INPLACE,    /* realloc: resized in place */
    LA_PATH_REALLOC_MOVED,      /* realloc: allocated, copied, freed */
    LA_PATH_COUNT
};
#define LA_OPF_CONSOLIDATED 0x1u    /* fastbins were consolidated during the call */
#define LA_OPF_FAILED       0x2u    /* the call returned NULL / an error */

struct la_op {
    uint64_t seq;               /* operation number, from 1; 0 = slot unused */
    uint64_t tid;               /* kernel thread id */
    uint32_t call;              /* enum la_op_call */
    uint32_t path;              /* enum la_op_path */
    uint64_t arg0, arg1;        /* malloc n | free ptr | calloc nmemb,size | realloc ptr,n | memalign align,n */
    uint64_t result;            /* returned pointer (0 for free) */
    uint64_t chunk, csize;      /* chunk address and size the call handed out or took back */
    uint32_t bin, count;        /* bin index and its entry count after the call (tcache/fast) */
    uint64_t aux0, aux1;        /* path-specific numbers (see enum la_op_path) */
    uint32_t flags;             /* LA_OPF_* */
    uint32_t pad;
    uint64_t caller;            /* first return address outside liballoc (0 if unknown) */
};

struct la_trace {
    uint32_t flags;             /* LA_TRACE_* */
    uint32_t site_depth;        /* frames kept per site */
    uint64_t hook;              /* address of liballoc_debug_op_hook */
    uint64_t seq;               /* operations recorded so far */
    struct la_op last;          /* the most recent operation */
    uint64_t hist;              /* struct la_op[hist_cap] */
    uint64_t hist_cap;
    uint64_t sites;             /* site table */
    uint64_t site_cap;          /* slots (power of two) */
    uint64_t site_count;        /* live keys */
    uint64_t site_stride;       /* bytes per slot: 24 + 8 * site_depth */
    int32_t  site_lock;         /* non-zero while the table changes */
    uint32_t step_armed;        /* set by heapview's step mode: the hook stops the process (SIGSTOP) */
    uint64_t spare[8];
};


struct la_debug {
    /* ---- frozen prefix: identical in every ABI version ---- */
    uint64_t magic;                 /* LA_DEBUG_MAGIC */
    uint32_t abi_version;           /* LA_DEBUG_ABI_VERSION of the liballoc that wrote it */
    uint32_t size;                  /* sizeof(struct la_debug) in that liballoc */
    uint32_t ptr_size;              /* 8 */
    uint32_t compat_version;        /* oldest reader ABI that can read this layout */
    /* ---- ABI version 1 ---- */
    struct la_layout_desc layout;
    struct la_arena *main_arena;
    uint32_t narenas;
    int32_t registry_lock;          /* protects tcaches, mmaps and the arena list */
    struct la_tcache *tcaches;      /* registry head */
    uint64_t ntcaches;
    struct la_mmap_registry mmaps;
    struct la_tunables tunables;
    struct la_mstats mstats;
    uint64_t generation;            /* odd while a registry or the arena list changes */
    uint64_t text_start, text_end;  /* liballoc's code */
    uint64_t initialized;           /* non-zero once liballoc has initialised */
    uint64_t spare[8];
    /* ---- ABI version 2 ---- */
    struct la_trace trace;
};

/* Fill in the layout descriptor as this compiler lays the structures out
 * (liballoc publishes it; heapview compares it with its own). */
static inline void la_layout_fill(struct la_layout_desc *d)
{
    d->sizeof_chunk_hdr = LA_CHUNK_HDR;
    d->alignment = LA_ALIGNMENT;
    d->nbins = LA_NBINS;
    d->nfastbins = LA_NFASTBINS;
    d->tcache_bins = LA_TCACHE_BINS;
    d->binmap_words = LA_BINMAP_WORDS;
    d->sizeof_arena = sizeof(struct la_arena);
    d->sizeof_segment = sizeof(struct la_segment);
    d->sizeof_tcache = sizeof(struct la_tcache);
    d->sizeof_tcache_entry = sizeof(struct la_tcache_entry);
    d->off_arena_lock = offsetof(struct la_arena, lock);
    d->off_arena_fastbins = offsetof(struct la_arena, fastbins);
    d->off_arena_top = offsetof(struct la_arena, top);
    d->off_arena_last_remainder = offsetof(struct la_arena, last_remainder);
    d->off_arena_bins = offsetof(struct la_arena, bins);
    d->off_arena_binmap = offsetof(struct la_arena, binmap);
    d->off_arena_next = offsetof(struct la_arena, next);
    d->off_arena_segments = offsetof(struct la_arena, segments);
    d->off_arena_system_mem = offsetof(struct la_arena, system_mem);
    d->off_segment_prev = offsetof(struct la_segment, prev);
    d->off_segment_size = offsetof(struct la_segment, size);
    d->off_segment_chunks = offsetof(struct la_segment, chunks);
    d->off_tcache_counts = offsetof(struct la_tcache, counts);
    d->off_tcache_entries = offsetof(struct la_tcache, entries);
    d->off_tcache_next = offsetof(struct la_tcache, next);
    d->off_tcache_tid = offsetof(struct la_tcache, tid);
    d->off_arena_remote = offsetof(struct la_arena, remote);
    for (unsigned i = 0; i < sizeof d->spare / sizeof d->spare[0]; i++) d->spare[i] = 0;
}

#endif /* LA_SHARED_DEBUG_ABI_H */
