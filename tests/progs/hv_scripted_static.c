/* tests/progs/hv_scripted_static.c - hv_scripted linked statically against liballoc.a
 * (TEST_PROG_LDLIBS_hv_scripted_static in heapview/module.mk). */
#include "hv_scripted.c"
