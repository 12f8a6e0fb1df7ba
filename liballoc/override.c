/*
 * liballoc/override.c - the standard allocator names, for LD_PRELOAD and for
 * static linking.  malloc and free carry the inline tcache hit path themselves
 * (fastpath.h); the others are direct tail calls to hidden internal symbols,
 * so no call goes through the PLT.  Not part of liballoc_core.a.
 */
#include "fastpath.h"

#define LA_PUBLIC __attribute__((visibility("default")))

/* malloc and free start a cache line: their hit paths (about 90 bytes each)
 * then span two lines at most, at fixed offsets whatever the code around
 * them.  churn -t 1, 15 interleaved runs: 0.126 -> 0.121 s (the noextra
 * build), 0.131 -> 0.126 s (hardened); without it a change anywhere in
 * liballoc could move them and change the figures by as much. */
__attribute__((aligned(64))) LA_PUBLIC void *malloc(size_t n) { return la_malloc_inline(n); }
__attribute__((aligned(64))) LA_PUBLIC void free(void *p) { la_free_inline(p); }
LA_PUBLIC void *calloc(size_t nmemb, size_t size) { return la_calloc(nmemb, size); }
LA_PUBLIC void *realloc(void *p, size_t n) { return la_realloc(p, n); }
LA_PUBLIC void *reallocarray(void *p, size_t nmemb, size_t size) { return la_reallocarray(p, nmemb, size); }
LA_PUBLIC void *memalign(size_t alignment, size_t n) { return la_memalign(alignment, n); }
LA_PUBLIC int posix_memalign(void **memptr, size_t alignment, size_t n) { return la_posix_memalign(memptr, alignment, n); }
LA_PUBLIC void *aligned_alloc(size_t alignment, size_t n) { return la_aligned_alloc(alignment, n); }
LA_PUBLIC void *valloc(size_t n) { return la_valloc(n); }
LA_PUBLIC void *pvalloc(size_t n) { return la_pvalloc(n); }
LA_PUBLIC size_t malloc_usable_size(void *p) { return la_malloc_usable_size(p); }
LA_PUBLIC int malloc_trim(size_t pad) { return la_malloc_trim(pad); }
LA_PUBLIC int mallopt(int param, int value) { return la_mallopt(param, value); }
LA_PUBLIC struct mallinfo2 mallinfo2(void) { return la_mallinfo2(); }
LA_PUBLIC struct mallinfo mallinfo(void) { return la_mallinfo(); }
LA_PUBLIC void malloc_stats(void) { la_malloc_stats(); }
LA_PUBLIC int malloc_info(int options, FILE *fp) { return la_malloc_info(options, fp); }
