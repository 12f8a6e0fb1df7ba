/*
 * tests/check_suites.h - how a test file adds its Check suite to the one runner.
 *
 * Every tests/check_*.c file is linked into tests/check_main.  A file declares
 *     CHECK_SUITE(suite_tcache)
 * after defining `Suite *suite_tcache(void)`; a constructor registers it, and the
 * runner (check_main.c) runs every registered suite in one SRunner, so `make check`
 * ends with a single Check summary.  CK_RUN_SUITE / CK_RUN_CASE select as usual.
 */
#ifndef TESTS_CHECK_SUITES_H
#define TESTS_CHECK_SUITES_H
#include <check.h>

void check_register_suite(Suite *(*make)(void));

#define CHECK_SUITE(fn) \
    __attribute__((constructor)) static void check_register_##fn(void) { check_register_suite(fn); }

/* Path of a built artefact (e.g. "liballoc/liballoc.so") inside the build directory
 * the runner was started for (environment LA_BUILD, default "."). */
const char *check_build_path(const char *rel);

#endif
