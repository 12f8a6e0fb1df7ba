/*
 * heapview/trace_abi.h - where liballoc's trace block (shared/debug_abi.h,
 * struct la_trace, ABI version 2) sits: right after the version 1 members of
 * struct la_debug.  A target of ABI 1 has none (its size does not reach it).
 */
#ifndef HEAPVIEW_TRACE_ABI_H
#define HEAPVIEW_TRACE_ABI_H

#include <stddef.h>
#include "debug_abi.h"

#define LA_TRACE_OFFSET ((uint64_t)offsetof(struct la_debug, trace))

#endif /* HEAPVIEW_TRACE_ABI_H */
