/*
 * heapview/save.h - saved snapshots (save.c): the target's memory as a small ELF
 * core file that every core reader of heapview reads.
 */
#ifndef HEAPVIEW_SAVE_H
#define HEAPVIEW_SAVE_H

#include "source.h"

/* Stop the target (live; a core source just copies), write PATH, resume.
 * 0, or -1 with err filled (PATH is removed). */
int hv_save_core(struct hv_source *src, const char *path, struct hv_error *err);

#endif
