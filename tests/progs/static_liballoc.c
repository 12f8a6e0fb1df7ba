/*
 * tests/progs/static_liballoc.c - the workload of workload.h in a program linked
 * statically against liballoc.a (TEST_PROG_LDLIBS_static_liballoc in
 * tests/module.mk).  tests/integration/static.sh checks that it is static, that
 * its stdout equals tests/progs/workload's on the system allocator, and that it
 * exits 0, which it does only if liballoc really served its malloc: the strong
 * reference to liballoc_debug resolves to the linked-in liballoc, whose metadata
 * must be initialised and list the mmapped block just allocated.
 */
#include "workload.h"
#include "liballoc.h"
#include "debug_abi.h"

extern struct la_debug liballoc_debug;

int main(void)
{
    if (workload(stdout))
        return 1;
    /* Above the largest dynamic mmap threshold (32 MiB): always mmapped. */
    void *p = malloc(40 << 20);
    int found = 0;
    for (uint64_t i = 0; p && i < liballoc_debug.mmaps.capacity; i++)
        found |= liballoc_debug.mmaps.slots[i] == (uint64_t)(uintptr_t)p - LA_CHUNK_HDR;
    if (liballoc_debug.magic != LA_DEBUG_MAGIC || !liballoc_debug.initialized || !found) {
        fprintf(stderr, "static_liballoc: malloc is not liballoc's (initialized=%llu, 40 MiB block %s)\n",
                (unsigned long long)liballoc_debug.initialized, found ? "registered" : "not registered");
        return 1;
    }
    free(p);
    if (liballoc_check_heap() != 0) {
        fprintf(stderr, "static_liballoc: liballoc_check_heap failed\n");
        return 1;
    }
    fprintf(stderr, "static_liballoc: ran on liballoc (heap consistent)\n");
    return 0;
}
