/*
 * heapview/ui.h - the interactive view (ncurses), owned by the TUI work.
 *
 * main.c opens the source and, without --dump, hands it here.  The UI takes
 * snapshots itself with hv_snapshot_take(src, ...) every opt->delay_s seconds
 * (never keeping a live target stopped while waiting for a key), marks changes
 * with hv_snapshot_diff(), and renders only the snapshot model (snapshot.h).
 * It must restore the terminal on every exit path; main.c closes the source.
 */
#ifndef HEAPVIEW_UI_H
#define HEAPVIEW_UI_H

#include "source.h"

struct hv_ui_options {
    double delay_s;         /* refresh period for a live process (-d SECONDS); default 1.0 */
    int colour;             /* 1 colour, 0 monochrome (--no-color / NO_COLOR) */
    int check;              /* --check was given: exit 1 if the last snapshot had problems */
    unsigned long start_addr;  /* reserved: address to select first (0 = none) */
};

/* Run the interactive view until the user quits.  Returns the process exit
 * status (0, or HV_EXIT_* on error after printing one line to stderr). */
int hv_ui_run(struct hv_source *src, const struct hv_ui_options *opt);

#endif /* HEAPVIEW_UI_H */
