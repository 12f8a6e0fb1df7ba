/*
 * heapview/snapshot_impl.h - private to snapshot.c and walk.c: the memory image
 * copied from the target, the plan of what was copied, and the walk entry point.
 */
#ifndef HEAPVIEW_SNAPSHOT_IMPL_H
#define HEAPVIEW_SNAPSHOT_IMPL_H

#include "snapshot.h"

/* A copied range of target memory. */
struct hv_img_range {
    uint64_t addr, len;
    unsigned char *data;
};

/* The private memory image (snap->priv): ranges sorted by addr (may overlap). */
struct hv_image {
    struct hv_img_range *r;
    size_t n, cap;
    uint64_t bytes;
    int sorted;
    unsigned char *pool;    /* pre-faulted buffer ranges are carved from (live targets) */
    size_t pool_len, pool_used;
};

const void *hv_img_get(const struct hv_image *img, uint64_t addr, size_t len);
int hv_img_read64(const struct hv_image *img, uint64_t addr, uint64_t *out);
/* The copied range holding addr (NULL if none), for callers that cache it. */
const struct hv_img_range *hv_img_range_of(const struct hv_image *img, uint64_t addr);

/* What the copy phase found, for the walk. */
struct hv_plan_seg {
    uint64_t addr;          /* descriptor */
    uint64_t copied;        /* bytes copied from addr (<= desc.size) */
    uint32_t arena;         /* index in plan arenas */
    uint32_t newest;        /* the arena's newest segment (holds top) */
};

struct hv_plan {
    struct la_debug dbg;
    uint64_t *arenas;       size_t narenas;
    struct hv_plan_seg *segs; size_t nsegs;
    uint64_t *tcaches;      size_t ntcaches;
    uint64_t *mmaps;        size_t nmmaps;     /* chunk addresses from the registry */
    size_t slots_used;                         /* non-empty slots seen */
    size_t arena_size;                         /* the target's sizeof(struct la_arena) */
    int has_remote;                            /* arenas carry a remote-free list (ABI 3) */
};

/* Append a problem (printf-style); bounded (stops recording after a limit). */
void hv_problem(struct hv_snapshot *snap, uint64_t addr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The validating walk: fills arenas, segments, chunks, bins, tcaches, mmapped,
 * totals and problems of snap from the image and the plan.  Never fails on bad
 * data (it records problems); returns -1 only when out of memory. */
int hv_walk(struct hv_snapshot *snap, const struct hv_image *img, const struct hv_plan *plan,
            const struct hv_snapshot_opts *opts);

#endif
