/*
 * heapview/report.h - reports over the trace data of snapshots (report.c).
 */
#ifndef HEAPVIEW_REPORT_H
#define HEAPVIEW_REPORT_H

#include <stdio.h>
#include "snapshot.h"

struct hv_report_opts {
    uint64_t since;             /* only chunks allocated after operation #since (0 = all) */
    int collapsed;              /* flame-graph "frame;frame value" lines instead of text */
};

/* Live chunks grouped by allocation site (bytes requested, chunk bytes, count,
 * oldest).  -1 when out of memory. */
int hv_report_leaks(FILE *f, const struct hv_snapshot *s, const struct hv_report_opts *o);
/* Chunks new, freed and resized from a to b, and growth per site. */
int hv_report_diff(FILE *f, const struct hv_snapshot *a, const struct hv_snapshot *b);
/* Plain words about the chunk holding addr; 1 when no chunk holds it. */
int hv_report_explain(FILE *f, const struct hv_snapshot *s, uint64_t addr);
/* The history ring as a timeline. */
int hv_report_history(FILE *f, const struct hv_snapshot *s);
/* "PTR was freed before: operation #N ..." from the history; 1 if not found. */
int hv_report_double_free(FILE *f, const struct hv_snapshot *s, uint64_t ptr);

#endif
