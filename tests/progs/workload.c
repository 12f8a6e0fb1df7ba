/*
 * tests/progs/workload.c - the workload of workload.h on whatever malloc the
 * process has (run plain and with LD_PRELOAD=liballoc.so by
 * tests/integration/preload.sh, which diffs the outputs).
 *
 * With WORKLOAD_EXPECT_LIBALLOC=1 it also proves that liballoc served it: the
 * symbol liballoc_debug must be found with dlsym, be initialised, carry the magic,
 * list an mmapped block this program just allocated, and liballoc_check_heap must
 * find the heap consistent.  The proof is reported on stderr so that stdout stays
 * comparable with the plain run.
 */
#include <dlfcn.h>
#include "workload.h"
#include "debug_abi.h"

static int prove_liballoc(void)
{
    struct la_debug *d = dlsym(RTLD_DEFAULT, LA_DEBUG_SYMBOL);
    int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "liballoc_check_heap");
    if (!d || !check) {
        fprintf(stderr, "workload: liballoc is not loaded (no %s symbol)\n", LA_DEBUG_SYMBOL);
        return 1;
    }
    if (d->magic != LA_DEBUG_MAGIC || !d->initialized) {
        fprintf(stderr, "workload: liballoc_debug not initialised (magic %llx)\n", (unsigned long long)d->magic);
        return 1;
    }
    /* Above the largest dynamic mmap threshold (32 MiB): always mmapped. */
    void *p = malloc(40 << 20);
    int found = 0;
    for (uint64_t i = 0; p && i < d->mmaps.capacity; i++)
        found |= d->mmaps.slots[i] == (uint64_t)(uintptr_t)p - LA_CHUNK_HDR;
    if (!found) {
        fprintf(stderr, "workload: malloc(40 MiB) = %p is not in liballoc's mmap registry\n", p);
        return 1;
    }
    free(p);
    if (check() != 0) {
        fprintf(stderr, "workload: liballoc_check_heap failed\n");
        return 1;
    }
    fprintf(stderr, "workload: ran on liballoc (abi %u, %llu tcaches, heap consistent)\n",
            d->abi_version, (unsigned long long)d->ntcaches);
    return 0;
}

int main(void)
{
    if (workload(stdout))
        return 1;
    const char *e = getenv("WORKLOAD_EXPECT_LIBALLOC");
    if (e && strcmp(e, "1") == 0)
        return prove_liballoc();
    return 0;
}
