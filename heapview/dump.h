/*
 * heapview/dump.h - batch output of a snapshot (--dump=text, --dump=json).
 * The JSON format ("heapview-1") is documented in man/heapview.1.
 */
#ifndef HEAPVIEW_DUMP_H
#define HEAPVIEW_DUMP_H

#include <stdio.h>
#include "snapshot.h"

void hv_dump_text(FILE *f, const struct hv_snapshot *s);
void hv_dump_json(FILE *f, const struct hv_snapshot *s);

/* "PREV_INUSE|NON_MAIN_ARENA" style names of size-field flags, into buf. */
const char *hv_flag_names(unsigned size_flags, char *buf, size_t len);

#endif
