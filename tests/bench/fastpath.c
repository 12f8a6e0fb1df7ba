/*
 * fastpath.c - N malloc(32)/free pairs in a loop, for instruction counting.
 *
 * usage: fastpath N
 * run.sh runs this under `valgrind --tool=callgrind` for N and 2N and reports
 * (Ir(2N) - Ir(N)) / N: the instructions of one malloc(32)+free pair on the
 * allocator's fast path, with start-up and exit costs cancelled out.  The
 * program prints the file that the malloc it calls comes from (dladdr), so the
 * runner can check that the preloaded allocator is the one executing.
 */
#include <dlfcn.h>
#include "bench.h"

int main(int argc, char **argv)
{
    char *end;
    errno = 0;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || errno || *end || n < 1) {
        fprintf(stderr, "usage: %s N   (N >= 1 malloc(32)/free pairs)\n", argv[0]);
        return 2;
    }
    /* warm up: the allocator's own initialisation is not part of the pair */
    for (int i = 0; i < 16; i++) {
        void *p = malloc(32);
        bench_escape(p);
        free(p);
    }
    for (long i = 0; i < n; i++) {
        void *p = malloc(32);
        bench_escape(p);
        free(p);
    }
    Dl_info di;
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    if (sym && dladdr(sym, &di) && di.dli_fname)
        printf("malloc_from %s\n", di.dli_fname);
    else
        printf("malloc_from unknown\n");
    return 0;
}
