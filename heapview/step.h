/*
 * heapview/step.h - step mode (step.c): run a program on liballoc and stop it
 * after every allocator call.
 */
#ifndef HEAPVIEW_STEP_H
#define HEAPVIEW_STEP_H

struct hv_step_opts {
    const char *liballoc;       /* liballoc.so to preload (NULL: HEAPVIEW_LIBALLOC or next to heapview) */
    int batch;                  /* print every call, read no commands */
    long max_steps;             /* stop after this many shown calls (0 = no limit) */
    int quiet_program;          /* the program's stdout goes to /dev/null */
};

/* argv: PROGRAM [ARGS], NULL-terminated.  Returns the exit status for main(). */
int hv_step_run(char **argv, const struct hv_step_opts *o);

#endif
