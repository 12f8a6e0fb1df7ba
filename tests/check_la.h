/*
 * tests/check_la.h - helpers for the liballoc unit tests (check_mechanisms.c, check_api.c).
 *
 * The unit tests call liballoc's own entry points (liballoc_malloc, ...) from
 * liballoc_core.a while Check keeps the system malloc.  They look at liballoc's
 * internal state only through the published metadata, `liballoc_debug`
 * (shared/debug_abi.h): the current thread's tcache is found by kernel tid in
 * the tcache registry, the main arena's fastbins, bins and top through
 * liballoc_debug.main_arena, and singly linked pointers are decoded with
 * la_reveal_ptr, exactly as heapview does it from another process.
 *
 * Every walk is bounded (LA_WALK_MAX steps), so a corrupted list fails a test
 * instead of hanging it.  The tests rely on Check's fork mode: each test starts
 * in a fresh child whose liballoc has not been initialised yet.
 */
#ifndef TESTS_CHECK_LA_H
#define TESTS_CHECK_LA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "liballoc.h"
#include "layout.h"
#include "debug_abi.h"

extern struct la_debug liballoc_debug;

#define LA_WALK_MAX 100000

/* The options the unit tests run under unless a test sets its own: glibc's
 * tcache, 7 entries in every bin, the layout they assert chunk by chunk
 * (liballoc's default lets a bin a thread cycles through grow past 7; the
 * tests of that growth set LIBALLOC_OPTIONS themselves) and no big-chunk cache
 * (glibc sends chunks above the tcache to the arena).  Each Check test is a
 * fresh child whose liballoc is not initialised yet, so this takes effect. */
#define T_GLIBC_OPTIONS "tcache_count=7:bigcache=0"
static inline void t_glibc_options(void) { setenv("LIBALLOC_OPTIONS", T_GLIBC_OPTIONS, 1); }

/* liballoc_check_heap() with its report captured instead of printed: the
 * message goes to msg (cap bytes, NUL-terminated); returns its result, or -2
 * when no pipe could be made. */
static inline int t_check_heap_quiet(char *msg, size_t cap)
{
    int fd[2];
    msg[0] = 0;
    if (pipe(fd) != 0) return -2;
    int saved = dup(2);
    dup2(fd[1], 2);
    int r = liballoc_check_heap();
    dup2(saved, 2);
    close(saved);
    close(fd[1]);
    ssize_t n = read(fd[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = 0;
    close(fd[0]);
    return r;
}

static inline struct la_chunk *t_chunk(const void *mem)
{
    return (struct la_chunk *)la_mem2chunk((uintptr_t)mem);
}

static inline void *t_mem(const struct la_chunk *c)
{
    return (void *)la_chunk2mem((uintptr_t)c);
}

static inline size_t t_csize(const void *mem) { return la_chunksize(t_chunk(mem)->size); }

static inline struct la_chunk *t_next_chunk(const struct la_chunk *c)
{
    return (struct la_chunk *)((uintptr_t)c + la_chunksize(c->size));
}

static inline struct la_arena *t_main_arena(void) { return liballoc_debug.main_arena; }

/* The tcache of the calling thread, or NULL. */
static inline struct la_tcache *t_my_tcache(void)
{
    uint64_t tid = (uint64_t)gettid();
    int n = 0;
    for (struct la_tcache *t = liballoc_debug.tcaches; t && n < LA_WALK_MAX; t = t->next, n++)
        if (t->tid == tid)
            return t;
    return NULL;
}

static inline struct la_chunk *t_bin(struct la_arena *a, unsigned i)
{
    return (struct la_chunk *)la_bin_at((uintptr_t)a, i);
}

/* Number of chunks in regular bin i (-1 if the walk does not close). */
static inline int t_bin_count(struct la_arena *a, unsigned i)
{
    struct la_chunk *b = t_bin(a, i);
    int n = 0;
    for (struct la_chunk *c = b->fd; c != b; c = c->fd)
        if (++n > LA_WALK_MAX || c == NULL)
            return -1;
    return n;
}

/* Index of the regular bin (1..126) holding chunk c, or -1. */
static inline int t_bin_find(struct la_arena *a, const struct la_chunk *c)
{
    for (unsigned i = 1; i < LA_NBINS - 1; i++) {
        struct la_chunk *b = t_bin(a, i);
        int n = 0;
        for (struct la_chunk *x = b->fd; x && x != b && n < LA_WALK_MAX; x = x->fd, n++)
            if (x == c)
                return (int)i;
    }
    return -1;
}

static inline int t_binmap_bit(struct la_arena *a, unsigned i)
{
    return (a->binmap[la_binmap_word(i)] & la_binmap_bit(i)) != 0;
}

/* Next chunk in a fastbin list (decodes the safe-linked fd). */
static inline struct la_chunk *t_fast_next(const struct la_chunk *c)
{
    return (struct la_chunk *)la_reveal_ptr((uintptr_t)&c->fd, (uintptr_t)c->fd);
}

/* Next user pointer in a tcache list (decodes the safe-linked next). */
static inline struct la_tcache_entry *t_tc_next(const struct la_tcache_entry *e)
{
    return (struct la_tcache_entry *)la_reveal_ptr((uintptr_t)&e->next, e->next);
}

static inline int t_fastbin_count(struct la_arena *a, unsigned idx)
{
    int n = 0;
    for (struct la_chunk *c = a->fastbins[idx]; c; c = t_fast_next(c))
        if (++n > LA_WALK_MAX)
            return -1;
    return n;
}

/* Is this chunk address in the mmapped-chunk registry? */
static inline int t_mmap_registered(const void *chunk)
{
    const struct la_mmap_registry *r = &liballoc_debug.mmaps;
    for (uint64_t i = 0; i < r->capacity; i++)
        if (r->slots[i] == (uint64_t)(uintptr_t)chunk)
            return 1;
    return 0;
}

/* Write / verify a pattern that depends on the address and a seed. */
static inline void t_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed + i * 7 + (i >> 8));
}

static inline int t_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed + i * 7 + (i >> 8)))
            return 0;
    return 1;
}

static inline int t_all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

#endif
