/*
 * heapview/snapshot.h - the model: one consistent picture of a liballoc heap.
 *
 * A snapshot is plain data with no pointers into the target and no link to the
 * source it came from: once hv_snapshot_take() returns, the target may run (or
 * the core be closed) and the snapshot stays valid until hv_snapshot_free().
 * The batch dump (dump.c) and the TUI (ui*.c) both only read it.
 *
 * How it is made (snapshot.c, walk.c):
 *   1. the source stops the target;
 *   2. the struct la_debug, the arena list, every segment's raw bytes (one bulk
 *      read each), the tcache structs and the mmap registry are copied into a
 *      private memory image;
 *   3. the target is resumed (before copying, if a thread's IP is inside
 *      liballoc, an arena lock is held or the generation is odd, the target is
 *      resumed and stopped again a little later, up to opts->retries times; after
 *      that the copy is taken anyway and marked mid_operation);
 *   4. the walk runs on the copy: chunks in address order per segment, every
 *      bin list, every tcache chain, the mmapped chunks, totals; anything that
 *      does not add up becomes a problem (address + message).  Every pointer,
 *      size and count from the target is checked and every walk is bounded, so
 *      a corrupted heap yields problems, never a crash or a hang.
 *
 * Arrays are owned by the snapshot; indices (uint32_t) link them together.
 * HV_NONE marks "no index".  All addresses are target addresses (uint64_t).
 *
 * Live refresh:  take a new snapshot from the same open source every N seconds,
 * call hv_snapshot_diff(old, new) to mark what changed, render new, free old.
 */
#ifndef HEAPVIEW_SNAPSHOT_H
#define HEAPVIEW_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "layout.h"
#include "debug_abi.h"
#include "source.h"
#include "trace_abi.h"

#define HV_NONE UINT32_MAX

/* Highest liballoc_debug ABI version this heapview reads (a target is read when
 * its compat_version <= HV_ABI_READ). */
#define HV_ABI_READ 5u   /* 2 appended the trace block (trace_abi.h); 3 the tcache bin limits;
                          * 4 the arenas' remote-free lists; 5 the big-chunk cache (la_tcache.bc_*) */

enum hv_state {                 /* what a chunk is */
    HV_INUSE = 0,               /* allocated (tcache-held chunks are HV_FREE, bin TCACHE) */
    HV_FREE,                    /* in a bin, tcache or fastbin, or free by the boundary tags */
    HV_TOP,                     /* the arena's top chunk */
    HV_MMAPPED,                 /* a chunk of its own from mmap (in use) */
};

enum hv_bin_kind {              /* which list holds a free chunk */
    HV_BIN_NONE = 0,            /* in use, top, or free but in no list (a problem) */
    HV_BIN_TCACHE,              /* bin_index = tcache bin 0..63, tcache = index in snap->tcaches */
    HV_BIN_FAST,                /* bin_index = fastbin 0..9 */
    HV_BIN_UNSORTED,            /* bin_index = 1 */
    HV_BIN_SMALL,               /* bin_index = 2..63 */
    HV_BIN_LARGE,               /* bin_index = 64..126 */
    HV_BIN_REMOTE,              /* bin_index = 0: the arena's remote-free list (freed by another
                                 * thread, not yet taken back by the arena; in use by the boundary tags) */
    HV_BIN_BIGCACHE,            /* bin_index = big-chunk cache class 0..48 (la_bc_class), tcache = index in
                                 * snap->tcaches (in use by the boundary tags, like a tcache chunk) */
};

/* hv_chunk.flags (heapview's own, not the size-field bits) */
#define HV_CF_PROBLEM     0x01u /* at least one problem names this chunk */
#define HV_CF_LAST_REM    0x02u /* the arena's last_remainder */
#define HV_CF_FENCEPOST   0x04u /* fencepost header at the end of an old main-arena segment */
#define HV_CF_MULTI_BIN   0x08u /* found in more than one list (double free / corruption) */

/* hv_chunk.change, set by hv_snapshot_diff() on the newer snapshot */
enum hv_change { HV_SAME = 0, HV_NEW, HV_CHANGED };

struct hv_chunk {
    uint64_t addr;              /* chunk address (header); the user pointer is addr + 16 */
    uint64_t size;              /* chunk size without the flag bits */
    uint64_t prev_size;         /* raw prev_size field (meaningful if !PREV_INUSE) */
    uint8_t  size_flags;        /* LA_PREV_INUSE | LA_IS_MMAPPED | LA_NON_MAIN_ARENA as found */
    uint8_t  state;             /* enum hv_state */
    uint8_t  bin;               /* enum hv_bin_kind */
    uint8_t  flags;             /* HV_CF_* */
    uint8_t  change;            /* enum hv_change (hv_snapshot_diff) */
    uint8_t  pad;
    uint16_t bin_index;         /* index within its kind of bin (see enum hv_bin_kind) */
    uint32_t arena;             /* index in snap->arenas, HV_NONE for mmapped chunks */
    uint32_t segment;           /* index in snap->segments, HV_NONE for mmapped chunks */
    uint32_t tcache;            /* bin == HV_BIN_TCACHE or HV_BIN_BIGCACHE: index in snap->tcaches */
};
static inline uint64_t hv_chunk_user(const struct hv_chunk *c) { return la_chunk2mem(c->addr); }

/* One list of free chunks, in list order (fd direction from the head). */
struct hv_bin {
    uint8_t  kind;              /* enum hv_bin_kind */
    uint8_t  truncated;         /* the walk stopped early (cycle, bad pointer, bound) */
    uint16_t index;             /* bin number within its kind */
    uint32_t count;             /* entries walked (== n of entries[] below) */
    uint32_t first;             /* entries live at snap->binents[first .. first+count) */
    uint32_t declared;          /* tcache: counts[i] as the target recorded it; else = count */
    uint32_t limit;             /* tcache: entries the bin may hold now (la_tcache.limit) */
    uint64_t size_lo, size_hi;  /* chunk sizes this bin is meant to hold (hi inclusive) */
    uint64_t bytes;             /* sum of the sizes of its chunks */
};

/* An entry of a bin list: the chunk address and its index in snap->chunks
 * (HV_NONE when the pointer does not land on a chunk the walk found). */
struct hv_binent {
    uint64_t addr;
    uint32_t chunk;
    uint32_t pad;
};

struct hv_segment {
    uint64_t addr;              /* descriptor address (= region start) */
    uint64_t chunks;            /* first chunk */
    uint64_t end;               /* addr + size: end of the chunk area */
    uint64_t reserved;          /* address space reserved */
    uint32_t kind;              /* LA_SEG_* */
    uint32_t arena;             /* index in snap->arenas */
    uint32_t first_chunk;       /* chunks live at snap->chunks[first_chunk .. +nchunks) */
    uint32_t nchunks;
    uint8_t  copied;            /* raw bytes are in the snapshot (hv_snapshot_bytes) */
    uint8_t  walk_complete;     /* the walk reached `end` exactly */
    uint8_t  pad[6];
};

struct hv_arena {
    uint32_t index;             /* liballoc's arena number (0 = main) */
    uint32_t is_main;
    uint64_t addr;              /* struct la_arena address */
    uint64_t top;               /* top chunk address */
    uint64_t last_remainder;
    uint64_t next;              /* next arena address (0 at the end) */
    uint32_t flags;             /* LA_ARENA_* */
    int32_t  lock;              /* lock word when copied (non-zero: mid-operation) */
    uint32_t nthreads;          /* threads attached */
    int32_t  have_fastchunks;
    uint64_t ops;
    uint64_t system_mem, max_system_mem;
    uint32_t binmap[LA_BINMAP_WORDS];
    uint32_t first_segment;     /* segments at snap->segments[first_segment .. +nsegments), */
    uint32_t nsegments;         /*   oldest first (address order for the main arena) */
    struct hv_bin fastbins[LA_NFASTBINS];
    struct hv_bin bins[LA_NBINS];   /* [1] unsorted, [2..63] small, [64..126] large; [0],[127] unused */
    struct hv_bin remote;       /* remote-free list (ABI 3; empty for older targets) */
    uint64_t remote_chunks, remote_batches, remote_drained;   /* liballoc's counters (ABI 3) */
};

struct hv_tcache {
    uint64_t tid;               /* kernel thread id */
    uint64_t addr;              /* struct la_tcache address */
    uint64_t arena_addr;        /* arena the thread is attached to */
    uint32_t arena;             /* its index in snap->arenas (HV_NONE if unknown) */
    uint32_t pad;
    uint16_t counts[LA_TCACHE_BINS];   /* as the target recorded them */
    struct hv_bin bins[LA_TCACHE_BINS];/* chains as walked (bins[i].declared = counts[i]) */
    struct hv_bin bc[LA_BC_CLASSES];   /* big-chunk cache classes (ABI 5; empty in older targets) */
};

/* mallinfo2 vocabulary, computed by the walk (not asked from the target). */
struct hv_totals {
    uint64_t arena;             /* system bytes of all arenas */
    uint64_t ordblks;           /* free chunks, top included */
    uint64_t smblks;            /* fastbin chunks */
    uint64_t hblks;             /* mmapped chunks */
    uint64_t hblkhd;            /* mmapped bytes */
    uint64_t fsmblks;           /* bytes in fastbins */
    uint64_t uordblks;          /* bytes in use (tcache-held chunks count as free) */
    uint64_t fordblks;          /* bytes free, top included */
    uint64_t keepcost;          /* main arena's top size */
    uint64_t tcache_chunks, tcache_bytes;   /* held by tcaches (part of fordblks) */
    uint64_t remote_chunks, remote_bytes;   /* in arenas' remote-free lists (counted in uordblks, as tcache) */
    uint64_t nchunks;           /* chunks found by the walk, mmapped included */
};

struct hv_problem {
    uint64_t addr;              /* chunk, bin header or structure the problem is about */
    char msg[256];              /* glibc/liballoc wording where one exists, e.g.
                                   "corrupted double-linked list", "free(): invalid size" */
};

/* The allocation site of a live chunk (LIBALLOC_OPTIONS=sites=DEPTH). */
struct hv_site {
    uint64_t ptr;               /* user pointer the allocator returned */
    uint64_t req;               /* bytes the program asked for */
    uint64_t seq;               /* operation number of the allocation */
    uint32_t first, nframes;    /* return addresses at snap->frames[first .. +nframes), innermost first */
};

struct hv_snapshot {
    /* where it came from */
    char     source[300];       /* hv_source_describe() */
    int      source_kind;       /* enum hv_source_kind */
    int      pid;
    uint64_t debug_addr;        /* struct la_debug address */
    char     debug_how[300];    /* hv_source_debug_how() */
    uint32_t abi_version, compat_version;
    uint64_t generation;
    int      initialized;       /* liballoc_debug.initialized != 0 */

    /* consistency */
    int      mid_operation;     /* taken while liballoc was mid-operation (after retries) */
    char     mid_reason[160];   /* e.g. "thread 1234 inside liballoc", "arena 0 locked" */
    unsigned attempts;          /* stops made (1 = liballoc was idle at the first) */
    uint64_t stop_ns;           /* time the target was stopped for the kept copy */
    uint64_t take_ns;           /* whole hv_snapshot_take() */
    uint64_t copied_bytes;
    uint64_t taken_at_ns;       /* CLOCK_REALTIME when copied */

    struct la_tunables tunables;
    struct la_mstats mstats;

    struct hv_arena   *arenas;   size_t narenas;
    struct hv_segment *segments; size_t nsegments;   /* grouped by arena */
    struct hv_chunk   *chunks;   size_t nchunks;     /* per segment, address order */
    struct hv_chunk   *mmapped;  size_t nmmapped;    /* from the registry, address order */
    struct hv_binent  *binents;  size_t nbinents;    /* storage for every hv_bin */
    struct hv_tcache  *tcaches;  size_t ntcaches;
    struct hv_thread  *threads;  size_t nthreads;    /* as captured (IPs) */
    struct hv_problem *problems; size_t nproblems;
    struct hv_totals   totals;

    void *priv;                  /* copied memory image (hv_snapshot_bytes) */

    /* tracing (ABI version 2, trace.c): empty when the target did not ask for it */
    struct la_trace    trace;                        /* the published block as copied */
    struct la_op      *ops;      size_t nops;        /* history ring, oldest first */
    struct hv_site    *sites;    size_t nsites;      /* allocation sites, by user pointer */
    uint64_t          *frames;   size_t nframes;     /* storage for every hv_site's stack */
    struct hv_region  *regions;  size_t nregions;    /* mappings, for symbolising */
};

struct hv_snapshot_opts {
    unsigned retries;            /* extra stops when liballoc is busy (default 50) */
    unsigned retry_delay_us;     /* base pause between them, target running (default 100) */
    size_t   max_chunks;         /* walk bound per segment (default 1<<26) */
    size_t   max_list;           /* walk bound per bin list (default 1<<22) */
};

/* Take one snapshot from an open source (stops and resumes a live target itself).
 * NULL opts = defaults.  Returns NULL with err filled on a fatal error (process
 * gone, liballoc_debug unreadable, ABI newer than HV_ABI_READ); a corrupted heap
 * is NOT a fatal error: it gives a snapshot with problems. */
struct hv_snapshot *hv_snapshot_take(struct hv_source *src, const struct hv_snapshot_opts *opts,
                                     struct hv_error *err);
void hv_snapshot_free(struct hv_snapshot *snap);

/* Chunk (heap or mmapped) whose [addr, addr+size) contains addr, or NULL. O(log n). */
const struct hv_chunk *hv_snapshot_find_chunk(const struct hv_snapshot *snap, uint64_t addr);
/* In chunks a[0..n) sorted by address: how many start at or below addr. */
size_t hv_chunks_upper(const struct hv_chunk *a, size_t n, uint64_t addr);

/* Pointer to len copied bytes of target memory at addr (segments, tcache structs,
 * mmapped chunk headers), or NULL if that range was not copied.  For hex views. */
const void *hv_snapshot_bytes(const struct hv_snapshot *snap, uint64_t addr, size_t len);

/* Entries of a bin: snap->binents + bin->first, bin->count of them. */
static inline const struct hv_binent *hv_bin_entries(const struct hv_snapshot *snap,
                                                     const struct hv_bin *bin)
{
    return snap->binents ? snap->binents + bin->first : snap->binents;
}

/* Compare: sets chunk->change on every chunk of `newer` (HV_NEW: no chunk at that
 * address in older; HV_CHANGED: size, state or bin differ; HV_SAME otherwise) and
 * returns how many are not HV_SAME.  older may be NULL (everything HV_SAME). */
size_t hv_snapshot_diff(const struct hv_snapshot *older, struct hv_snapshot *newer);

/* Names used by the dump and the UI: "inuse" "free" "top" "mmapped";
 * "tcache" "fast" "unsorted" "small" "large" (HV_BIN_NONE -> NULL). */
const char *hv_state_name(unsigned state);
const char *hv_bin_name(unsigned kind);

/* ---- tracing (trace.c) ---- */
/* While the target is stopped: copy the trace block, history ring and site
 * table (bounded) into snap.  da = liballoc_debug address.  Never fatal: a bad
 * table becomes a problem.  Returns -1 only when out of memory. */
int hv_trace_copy(struct hv_source *src, uint64_t da, const struct la_debug *d, struct hv_snapshot *snap);
/* Site recorded for user pointer ptr, or NULL. */
const struct hv_site *hv_site_find(const struct hv_snapshot *snap, uint64_t ptr);
/* "malloc" "free" ...; the operation as C ("malloc(0x20) = 0x5555..."), and
 * what the allocator did in words ("size 0x30 -> tcache bin 1 (3 of 7)"). */
const char *hv_call_name(unsigned call);
void hv_op_call_text(const struct la_op *op, char *buf, size_t len);
void hv_op_path_text(const struct la_op *op, uint64_t tcache_count, char *buf, size_t len);
/* Newest history record naming user pointer ptr (as result or freed pointer)
 * with the given call (0 = any) and seq < before (0 = no bound), or NULL. */
const struct la_op *hv_history_find(const struct hv_snapshot *snap, uint64_t ptr, unsigned call, uint64_t before);

#endif /* HEAPVIEW_SNAPSHOT_H */
