/*
 * heapview/step.h - step mode (step.c): run a program on liballoc and stop it
 * after every allocator call.
 */
#ifndef HEAPVIEW_STEP_H
#define HEAPVIEW_STEP_H

struct hv_source;
struct hv_ui_options;

struct hv_step_opts {
    const char *liballoc;       /* liballoc.so to preload (NULL: HEAPVIEW_LIBALLOC or next to heapview) */
    int batch;                  /* print every call, read no commands */
    long max_steps;             /* stop after this many shown calls (0 = no limit) */
    int quiet_program;          /* the program's stdout goes to /dev/null */
    int screen;                 /* the ncurses view (else the line prompt on stdin) */
    double delay_s;             /* screen: refresh period while continuing (c) */
    int colour;                 /* screen: colours */
    /* screen: hv_ui_run, given by main.c (so step.o links without the UI, as in the benches) */
    int (*ui_run)(struct hv_source *src, const struct hv_ui_options *opt);
};

/* argv: PROGRAM [ARGS], NULL-terminated.  Returns the exit status for main(). */
int hv_step_run(char **argv, const struct hv_step_opts *o);

#endif
