/*
 * tests/progs/hv_bigheap.c - a liballoc target with N chunks, for heapview's benchmark.
 *
 *   hv_bigheap N
 *
 * Allocates N blocks of 24..248 bytes (sizes cycle), frees every fourth one
 * (never two neighbours, so nothing coalesces: they fill the tcache, the
 * fastbins, then the unsorted bin), makes one 64 KiB request so that the
 * unsorted chunks are sorted into the small bins, prints "READY <chunks>" and
 * sleeps until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    if (n < 8)
        n = 8;
    void **p = malloc((size_t)n * sizeof *p);
    if (!p)
        return 1;
    for (long i = 0; i < n; i++) {
        p[i] = malloc(24 + (size_t)(i % 15) * 16);
        if (!p[i])
            return 1;
        sink = p[i];
    }
    for (long i = 1; i < n; i += 4)
        free(p[i]);
    sink = malloc(64 << 10);
    printf("READY %ld\n", n + 2);
    fflush(stdout);
    for (;;)
        pause();
}
