/*
 * heapview/ui_keys.h - THE key table of the interactive view, as an X-macro list.
 *
 * One entry per action:  UI_KEY(action, "names shown in help", "what it does", key codes...)
 * ui.c expands it twice: into the dispatcher's table (codes -> action function)
 * and, through that table, into the help screen, so help can never disagree with
 * what the keys do.  tests/check_ui.c expands it too (ignoring the codes, which
 * need curses.h) to assert that the help screen lists every entry.
 */
#ifndef HEAPVIEW_UI_KEYS_H
#define HEAPVIEW_UI_KEYS_H

#define UI_KEY_TABLE(UI_KEY) \
    UI_KEY(act_up,        "Up k",       "move the selection up", KEY_UP, 'k') \
    UI_KEY(act_down,      "Down j",     "move the selection down", KEY_DOWN, 'j') \
    UI_KEY(act_pgup,      "PgUp",       "one page up", KEY_PPAGE) \
    UI_KEY(act_pgdn,      "PgDn",       "one page down", KEY_NPAGE) \
    UI_KEY(act_home,      "g Home",     "first row", 'g', KEY_HOME) \
    UI_KEY(act_end,       "G End",      "last row", 'G', KEY_END) \
    UI_KEY(act_next_view, "Tab",        "next view", '\t') \
    UI_KEY(act_prev_view, "S-Tab",      "previous view", KEY_BTAB) \
    UI_KEY(act_view,      "1-8",        "Overview, Heap map, Bins, Chunk detail, Problems, Leaks, History, Explain", \
           '1', '2', '3', '4', '5', '6', '7', '8') \
    UI_KEY(act_enter,     "Enter",      "chunk detail of the selected row (Problems: its chunk)", '\n', '\r', KEY_ENTER) \
    UI_KEY(act_back,      "Bksp Esc",   "back to the previous view", KEY_BACKSPACE, 127, 8, 27) \
    UI_KEY(act_goto,      "/",          "go to an address (hex): the chunk that contains it", '/') \
    UI_KEY(act_next_prob, "n",          "next problem (selects its chunk)", 'n') \
    UI_KEY(act_prev_prob, "N",          "previous problem", 'N') \
    UI_KEY(act_explain,   "e",          "explain the selected chunk (size arithmetic, bin, what points to it)", 'e') \
    UI_KEY(act_mark,      "m",          "mark now: Leaks then shows only chunks allocated since (m again: clear)", 'm') \
    UI_KEY(act_thread,    "t",          "Bins: show the next thread's tcache", 't') \
    UI_KEY(act_pause,     "Space",      "pause / resume the live refresh", ' ') \
    UI_KEY(act_refresh,   "r",          "refresh now", 'r') \
    UI_KEY(act_colour,    "c",          "colours on / off (letters always tell states apart)", 'c') \
    UI_KEY(act_help,      "?",          "this help (any key closes it)", '?', KEY_F(1)) \
    UI_KEY(act_quit,      "q",          "quit (a live target keeps running)", 'q')

/* Step mode (heapview -- PROGRAM) only: looked up before UI_KEY_TABLE, so these
 * keys override n, m and c there; help lists them first in step mode. */
#define UI_STEP_KEY_TABLE(UI_KEY) \
    UI_KEY(act_step_next, "n",          "step: run the program to its next allocator call", 'n') \
    UI_KEY(act_step_cont, "c",          "step: continue, refreshing every -d seconds, to a breakpoint or the end", 'c') \
    UI_KEY(act_step_free, "f",          "step: run to the next free", 'f') \
    UI_KEY(act_step_mall, "m",          "step: run to the next malloc/calloc/realloc/memalign", 'm') \
    UI_KEY(act_step_brk,  "b",          "step: breakpoint on a size or an address (s N, a ADDR; empty clears)", 'b')

#endif
