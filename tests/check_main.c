/*
 * tests/check_main.c - the single Check runner for the whole project.
 * Suites register themselves (see check_suites.h); they run in registration order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check_suites.h"

#define MAX_SUITES 64
static Suite *(*makers[MAX_SUITES])(void);
static int nmakers;

void check_register_suite(Suite *(*make)(void))
{
    if (nmakers == MAX_SUITES) {
        fprintf(stderr, "check_main: too many suites (max %d)\n", MAX_SUITES);
        exit(2);
    }
    makers[nmakers++] = make;
}

const char *check_build_path(const char *rel)
{
    static char buf[8][4096];
    static int next;
    const char *b = getenv("LA_BUILD");
    char *out = buf[next++ % 8];
    snprintf(out, sizeof buf[0], "%s/%s", b && *b ? b : ".", rel);
    return out;
}

int main(void)
{
    if (nmakers == 0) {
        fprintf(stderr, "check_main: no suites linked\n");
        return 2;
    }
    /* The tests lay out heaps chunk by chunk as glibc would: with glibc's
     * tcache, 7 entries in every bin (LIBALLOC_OPTIONS tcache_count=7), and
     * chunks above the tcache straight to the arena (bigcache=0).
     * liballoc's default lets a bin grow past 7 (la_tcache.limit); the tests
     * of that growth set their own options, as does any test that sets
     * LIBALLOC_OPTIONS itself.  Children (test programs, heapview targets)
     * inherit it.  A value already in the environment is kept. */
    setenv("LIBALLOC_OPTIONS", "tcache_count=7:bigcache=0", 0);
    SRunner *sr = srunner_create(makers[0]());
    for (int i = 1; i < nmakers; i++)
        srunner_add_suite(sr, makers[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
