/*
 * tests/progs/hv_steps.c - a scripted sequence of allocator calls, one for each
 * path heapview's step mode must name (tests/check_heapview_trace.c):
 *   malloc(40), free, malloc(40)          -> tcache bin 1 put, then a tcache hit
 *   malloc(1280), guard(200), free, malloc(1280) -> coalesced into unsorted, then
 *                                           "unsorted scan, exact fit" (0x510)
 *   malloc(2040), guard, free, malloc(1280) -> "split chunk: 0x510 to caller,
 *                                           remainder 0x2f0 to unsorted"
 *   8 x malloc(56), 8 x free              -> the eighth: "tcache full -> fastbin 2"
 *   malloc(1500)                          -> a large request consolidates fastbins
 *   malloc(120000) x 2                    -> top extended
 *   malloc(300000), free                  -> mmapped, munmapped
 * No stdio: nothing but these calls touches the heap after start-up.  Every
 * pointer is stored in a volatile array first, so the compiler cannot drop a
 * malloc/free pair.
 */
#include <stdlib.h>

static void *volatile sink[40];

int main(void)
{
    void *p = malloc(40);
    sink[0] = p;
    free(p);
    sink[1] = malloc(40);

    void *a = malloc(1280);
    sink[20] = a;
    sink[2] = malloc(200);          /* guard: keeps a out of top */
    free(a);
    sink[3] = malloc(1280);

    void *b = malloc(2040);
    sink[21] = b;
    sink[4] = malloc(200);
    free(b);
    sink[5] = malloc(1280);

    void *f[8];
    for (int i = 0; i < 8; i++)
        sink[22 + i] = f[i] = malloc(56);
    sink[6] = malloc(24);
    for (int i = 0; i < 8; i++)
        free(f[i]);

    sink[7] = malloc(1500);
    sink[8] = malloc(120000);
    sink[9] = malloc(120000);
    void *m = malloc(300000);
    sink[10] = m;
    free(m);
    return 0;
}
