/*
 * liballoc.h - public interface of liballoc.
 *
 * Programs normally use liballoc through the standard names (malloc, free, ...),
 * either by LD_PRELOAD=liballoc.so or by linking liballoc.a.  The same functions
 * are also exported under liballoc_* names; liballoc_core.a contains only those,
 * so a program (such as the unit tests) can call liballoc next to the system
 * malloc.  See liballoc(3).
 */
#ifndef LIBALLOC_H
#define LIBALLOC_H

#include <stddef.h>
#include <stdio.h>
#include <malloc.h>

#ifdef __cplusplus
extern "C" {
#endif

void  *liballoc_malloc(size_t n);
void   liballoc_free(void *p);
void  *liballoc_calloc(size_t nmemb, size_t size);
void  *liballoc_realloc(void *p, size_t n);
void  *liballoc_reallocarray(void *p, size_t nmemb, size_t size);
void  *liballoc_memalign(size_t alignment, size_t n);
int    liballoc_posix_memalign(void **memptr, size_t alignment, size_t n);
void  *liballoc_aligned_alloc(size_t alignment, size_t n);
void  *liballoc_valloc(size_t n);
void  *liballoc_pvalloc(size_t n);
size_t liballoc_malloc_usable_size(void *p);
int    liballoc_malloc_trim(size_t pad);
int    liballoc_mallopt(int param, int value);
struct mallinfo2 liballoc_mallinfo2(void);
struct mallinfo  liballoc_mallinfo(void);
void   liballoc_malloc_stats(void);
int    liballoc_malloc_info(int options, FILE *fp);

/* Walk every arena, heap, bin, tcache and mmapped chunk and verify every
 * invariant.  Returns 0 when the heap is consistent; otherwise writes one line
 * naming the first fault to stderr and returns -1. */
int    liballoc_check_heap(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBALLOC_H */
