/*
 * heapview/symbols.h - symbolising target code addresses (libelf + libdw).
 * The region array (e.g. snap->regions) must outlive the symboliser.
 */
#ifndef HEAPVIEW_SYMBOLS_H
#define HEAPVIEW_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>
#include "source.h"

struct hv_symbol {
    const char *object;         /* file name of the mapping (basename), NULL if unmapped */
    uint64_t vaddr;             /* address in that file's own numbering */
    const char *function;       /* NULL when no symbol covers it */
    uint64_t offset;            /* from the function's start */
    const char *file;           /* source file (basename), NULL without debug info */
    int line;
};

struct hv_symbols;
struct hv_symbols *hv_symbols_new(const struct hv_region *reg, size_t nreg);
void hv_symbols_free(struct hv_symbols *s);
/* 0 with out filled (as far as known), -1 when addr is in no file mapping.
 * Strings stay valid until hv_symbols_free. */
int hv_symbolise(struct hv_symbols *s, uint64_t addr, struct hv_symbol *out);
/* "func+0x1a (prog.c:12)", "libfoo.so+0x1234" or "0x7f..." */
const char *hv_symbol_text(struct hv_symbols *s, uint64_t addr, char *buf, size_t len);
/* Just the function name (or object+offset, or the address): for grouping. */
const char *hv_symbol_function(struct hv_symbols *s, uint64_t addr, char *buf, size_t len);

#endif
