/*
 * heapview/trace_abi.h - the tracing block liballoc publishes after the ABI
 * version 1 members of struct la_debug (ABI version 2, compat_version 1).
 *
 * It lives at liballoc_debug + LA_TRACE_OFFSET, i.e. right after the v1 struct
 * (a v1 reader never looks there; a v2 reader reads it only when abi_version >= 2
 * and the published size covers it).  Everything is written by liballoc only
 * when LIBALLOC_OPTIONS asks for it (trace=1, history=N, sites=DEPTH, step=1);
 * with none of them set, the block stays zero and no allocator path changes.
 *
 *   trace.flags        LA_TRACE_* options in force
 *   trace.hook         address of liballoc_debug_op_hook(), a noinline function
 *                      liballoc calls after each operation while tracing (a
 *                      debugger puts a breakpoint there, like r_debug.r_brk)
 *   trace.last         the operation just finished (what the hook reports)
 *   trace.hist         ring of hist_cap struct la_op: operation number s (1-based)
 *                      is in slot (s - 1) % hist_cap; a slot whose seq is 0 or
 *                      does not map to that slot is being written
 *   trace.sites        open-addressed table of site_cap slots of site_stride
 *                      bytes: key (user pointer; 0 empty, 1 deleted), requested
 *                      bytes, seq of the allocation, then site_depth return
 *                      addresses (0-terminated when shorter).  Kept in liballoc's
 *                      own mmap'd pages, outside the heap.
 */
#ifndef HEAPVIEW_TRACE_ABI_H
#define HEAPVIEW_TRACE_ABI_H

#include <stdint.h>
#include "debug_abi.h"

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

/* Where the block sits: right after the ABI version 1 members. */
#define LA_TRACE_OFFSET ((uint64_t)sizeof(struct la_debug))

#endif /* HEAPVIEW_TRACE_ABI_H */
