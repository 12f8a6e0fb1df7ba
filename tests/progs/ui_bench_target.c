/*
 * tests/progs/ui_bench_target.c - a large heap for the interactive view's refresh
 * benchmark (heapview/ui_bench.sh, `make bench-ui`).
 *
 * Run under LD_PRELOAD=liballoc.so.  Makes about N chunks (argv[1], default 100000)
 * of mixed small sizes, frees one in three in an order that leaves many free
 * chunks in tcache, fastbins and the regular bins (in-use neighbours keep most of
 * them from coalescing), prints "READY <n allocated>", then keeps churning a ring of
 * 256 blocks (64 malloc/free pairs every 10 ms) so that every refresh sees changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    if (n < 1000)
        n = 1000;
    void **p = malloc((size_t)n * sizeof *p);
    if (!p)
        return 4;
    unsigned seed = 1;
    for (long i = 0; i < n; i++) {
        size_t sz = 16 + (size_t)(rand_r(&seed) % 480);
        p[i] = malloc(sz);
        if (!p[i])
            return 4;
        memset(p[i], (int)(i & 0x7f), sz < 32 ? sz : 32);
    }
    for (long i = 1; i < n; i += 3) {
        free(p[i]);
        p[i] = NULL;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "READY %ld\n", n);
    if (write(1, line, (size_t)len) < 0)
        return 3;
    void *ring[256] = { 0 };
    for (unsigned k = 0;; k++) {
        for (int j = 0; j < 64; j++) {
            unsigned r = (unsigned)rand_r(&seed) % 256;
            free(ring[r]);
            ring[r] = malloc(16 + (size_t)(rand_r(&seed) % 1000));
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}
