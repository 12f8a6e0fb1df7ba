/*
 * fuzz/fuzz_core.c - libFuzzer target for heapview's core-file reader.
 *
 * Each input is taken as a whole core file: hv_source_open_core_mem() (ELF
 * header, program headers, notes), then hv_snapshot_take() (magic scan, the
 * copy of the metadata and segments, the validating walk) and both dumps into
 * /dev/null.  Files named in NT_FILE are not opened (allow_files = 0), so a run
 * depends on the input alone and liballoc_debug is found by the magic scan.
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "snapshot.h"
#include "source_impl.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static FILE *null;
    if (!null)
        null = fopen("/dev/null", "w");
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct hv_error err;
    struct hv_source *src = hv_source_open_core_mem(copy, size, 2, "fuzz", NULL, 0, &err);
    if (!src)
        return 0;
    struct hv_snapshot *s = hv_snapshot_take(src, NULL, &err);
    if (s) {
        hv_dump_json(null, s);
        hv_dump_text(null, s);
        for (size_t i = 0; i < s->nchunks; i += 1 + s->nchunks / 64)
            (void)hv_snapshot_find_chunk(s, s->chunks[i].addr + 8);
        hv_snapshot_diff(s, s);
        hv_snapshot_free(s);
    }
    hv_source_close(src);
    return 0;
}
