/*
 * heapview/source_impl.h - what the two sources share behind source.h.
 * Private to source_*.c: every implementation embeds struct hv_source first and
 * fills in its ops table; source_common.c dispatches.
 */
#ifndef HEAPVIEW_SOURCE_IMPL_H
#define HEAPVIEW_SOURCE_IMPL_H

#include "source.h"

struct hv_source_ops {
    int (*stop)(struct hv_source *src, struct hv_error *err);
    void (*resume)(struct hv_source *src);
    int (*regions)(struct hv_source *src, struct hv_error *err);   /* refresh src->regions */
    ssize_t (*read)(struct hv_source *src, uint64_t addr, void *buf, size_t len);
    int (*threads)(struct hv_source *src, struct hv_error *err);   /* refresh src->threads */
    int (*alive)(struct hv_source *src);
    void (*close)(struct hv_source *src);
};

struct hv_source {
    const struct hv_source_ops *ops;
    enum hv_source_kind kind;
    pid_t pid;
    char describe[300];
    uint64_t debug_addr;
    char debug_how[400];
    uint64_t last_stop_ns;
    struct hv_region *regions;
    size_t nregions, cap_regions;
    struct hv_thread *threads;
    size_t nthreads, cap_threads;
};

/* Append a region / thread (grows the arrays); -1 on out of memory. */
int hv_src_add_region(struct hv_source *src, const struct hv_region *r);
int hv_src_add_thread(struct hv_source *src, const struct hv_thread *t);
void hv_src_sort_regions(struct hv_source *src);
void hv_src_free_common(struct hv_source *src);

/* Scan readable, writable regions for LA_DEBUG_MAGIC followed by a plausible
 * prefix (ptr_size 8).  Returns the address or 0. */
uint64_t hv_src_scan_magic(struct hv_source *src);

/* Does target memory at addr hold LA_DEBUG_MAGIC? */
int hv_src_magic_at(struct hv_source *src, uint64_t addr);


/* Open an in-memory core image (the core source; used by the fuzzer).  buf must
 * stay valid until close unless owned is set (then it is munmap'ed / freed by close:
 * owned = 1 munmap, 2 free). */
struct hv_source *hv_source_open_core_mem(const void *buf, size_t len, int owned,
                                          const char *name, const char *exe_path,
                                          int allow_files, struct hv_error *err);

#endif
