/*
 * realloc_grow.c - buffers that grow by realloc, as a string builder or a
 * vector does.
 *
 * NBUF buffers grow side by side (round robin, so a buffer's neighbour is
 * usually another growing buffer and in-place growth is not free) from 16 bytes
 * to MAXLEN by random steps of 1..256 bytes; each step writes the new tail and
 * checks the first word survived the move.  Then they are freed and the round
 * starts again.  This exercises realloc in place (into the top chunk or a free
 * neighbour), realloc by copy, and the crossing of the mmap threshold
 * (mremap for mmapped blocks).  Timed: all rounds.
 */
#include "bench.h"

#define NBUF 8
#define MAXLEN (512 * 1024)

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(argc, argv, &o, 0);
    long rounds = bench_scaled(200, &o);
    uint64_t rng = bench_seed(42);
    long reallocs = 0;
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        unsigned char *buf[NBUF];
        size_t len[NBUF];
        int live = NBUF;
        for (int i = 0; i < NBUF; i++) {
            len[i] = 16;
            buf[i] = bench_xmalloc(len[i]);
            memcpy(buf[i], &len[i], sizeof len[i]);
        }
        while (live > 0) {
            live = 0;
            for (int i = 0; i < NBUF; i++) {
                if (len[i] >= MAXLEN)
                    continue;
                live++;
                size_t n = len[i] + bench_uniform(&rng, 1, 256);
                unsigned char *p = realloc(buf[i], n);
                if (!p) {
                    fprintf(stderr, "realloc_grow: realloc(%zu) failed\n", n);
                    return 1;
                }
                if (memcmp(p, "\x10\0\0\0\0\0\0\0", 8) != 0) {
                    fprintf(stderr, "realloc_grow: realloc lost the contents of a block\n");
                    return 1;
                }
                memset(p + len[i], (int)(n & 0xff), n - len[i]);
                buf[i] = p;
                len[i] = n;
                reallocs++;
            }
        }
        for (int i = 0; i < NBUF; i++)
            free(buf[i]);
    }
    double t1 = bench_now();
    bench_report_time(t1 - t0);
    printf("ops %ld\n", reallocs);
    return 0;
}
