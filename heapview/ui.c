/*
 * heapview/ui.c - placeholder until the ncurses view lands (owned by the TUI work).
 */
#include <stdio.h>
#include "ui.h"

int hv_ui_run(struct hv_source *src, const struct hv_ui_options *opt)
{
    (void)src;
    (void)opt;
    fprintf(stderr, "heapview: interactive view not built yet; use --dump=text\n");
    return 2;
}
