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

#include <stddef.h>

#include "source.h"

/* Step mode (step.c) drives the view through these callbacks; the view owns the
 * snapshots, step.c owns the program (its stops, breakpoints and exit). */
enum { HV_STEP_NEXT, HV_STEP_FREE, HV_STEP_MALLOC, HV_STEP_CONT };             /* resume modes */
enum { HV_STEP_RUNNING, HV_STEP_STOPPED, HV_STEP_PAUSED, HV_STEP_EXITED };     /* poll results */
struct hv_ui_step {
    void *ctx;
    /* let the program run until the next call wanted by mode (or a breakpoint) */
    void (*resume)(void *ctx, int mode);
    /* wait at most ms for it: STOPPED at a wanted call, EXITED, RUNNING; with
     * refresh_due, PAUSED = safe to take a refresh snapshot now, then resume(CONT) */
    int (*poll)(void *ctx, int ms, int refresh_due);
    /* one line: the current call and what the allocator did, or how it ended */
    void (*describe)(void *ctx, char *buf, size_t len);
    /* "s N" size, "a A" address, a bare number (>= 4 GiB: address), "" clears;
     * returns 0 and a message, or -1 and why not */
    int (*brk)(void *ctx, const char *text, char *msg, size_t len);
    /* the chunk the current call handed out or took back (0: none) */
    unsigned long long (*focus)(void *ctx);
};

struct hv_ui_options {
    double delay_s;         /* refresh period for a live process (-d SECONDS); default 1.0 */
    int colour;             /* 1 colour, 0 monochrome (--no-color / NO_COLOR) */
    int check;              /* --check was given: exit 1 if the last snapshot had problems */
    unsigned long start_addr;  /* reserved: address to select first (0 = none) */
    const struct hv_ui_step *step;  /* step mode (heapview -- PROGRAM), else NULL */
};

/* Run the interactive view until the user quits.  Returns the process exit
 * status (0, or HV_EXIT_* on error after printing one line to stderr). */
int hv_ui_run(struct hv_source *src, const struct hv_ui_options *opt);

#endif /* HEAPVIEW_UI_H */
