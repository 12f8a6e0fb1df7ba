/*
 * tests/bench/heapview/hv_snapshot_bench.c - how long heapview stops a target and
 * how long a snapshot and a dump take, for heaps of 10k, 100k and 1M chunks.
 * A benchmark (prints a table, asserts nothing): `make bench-heapview`.
 *
 *   hv_snapshot_bench HEAPVIEW LIBALLOC_SO HV_BIGHEAP [RUNS]
 *
 * For each size it starts HV_BIGHEAP under LD_PRELOAD=LIBALLOC_SO, opens it with
 * the engine (hv_source_open_pid), takes RUNS snapshots and reports medians of:
 * the time the target was stopped (the copy), the whole hv_snapshot_take (copy +
 * walk), the JSON and text dumps of one snapshot into /dev/null, and the wall
 * time of the real `heapview --dump=json -p PID > /dev/null`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "snapshot.h"
#include "source.h"

static double ms(uint64_t ns) { return ns / 1e6; }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hv_snapshot_bench HEAPVIEW LIBALLOC_SO HV_BIGHEAP [RUNS]\n");
        return 2;
    }
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    if (runs < 1 || runs > 100)
        runs = 5;
    static const long sizes[] = { 10000, 100000, 1000000 };
    FILE *null = fopen("/dev/null", "w");
    printf("heapview snapshot benchmark (medians of %d runs; target under LD_PRELOAD=%s)\n", runs, argv[2]);
    printf("%9s %10s %10s %12s %12s %10s %10s %14s %9s\n", "chunks", "copied MB", "stop ms", "snapshot ms",
           "walked", "json ms", "text ms", "heapview -p ms", "problems");
    fflush(stdout);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(fds[1], 1);
            setenv("LD_PRELOAD", argv[2], 1);
            char n[32];
            snprintf(n, sizeof n, "%ld", sizes[k]);
            execl(argv[3], argv[3], n, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        char line[128] = "";
        FILE *out = fdopen(fds[0], "r");
        if (!fgets(line, sizeof line, out) || strncmp(line, "READY", 5) != 0) {
            fprintf(stderr, "hv_snapshot_bench: target did not start\n");
            return 1;
        }
        struct hv_error err;
        struct hv_source *src = hv_source_open_pid(pid, &err);
        if (!src) {
            fprintf(stderr, "hv_snapshot_bench: %s\n", err.msg);
            return 1;
        }
        uint64_t stop[100], take[100], js[100], tx[100], wall[100];
        size_t walked = 0, problems = 0;
        uint64_t copied = 0;
        for (int r = 0; r < runs; r++) {
            struct hv_snapshot *s = hv_snapshot_take(src, NULL, &err);
            if (!s) {
                fprintf(stderr, "hv_snapshot_bench: %s\n", err.msg);
                return 1;
            }
            stop[r] = s->stop_ns;
            take[r] = s->take_ns;
            walked = s->totals.nchunks;
            problems = s->nproblems;
            copied = s->copied_bytes;
            uint64_t t0 = hv_now_ns();
            hv_dump_json(null, s);
            fflush(null);
            js[r] = hv_now_ns() - t0;
            t0 = hv_now_ns();
            hv_dump_text(null, s);
            fflush(null);
            tx[r] = hv_now_ns() - t0;
            hv_snapshot_free(s);
            t0 = hv_now_ns();
            fflush(stdout);
            pid_t h = fork();
            if (h == 0) {
                freopen("/dev/null", "w", stdout);
                unsetenv("LD_PRELOAD");
                char p[32];
                snprintf(p, sizeof p, "%d", (int)pid);
                execl(argv[1], argv[1], "--dump=json", "-p", p, (char *)NULL);
                _exit(127);
            }
            int st;
            waitpid(h, &st, 0);
            wall[r] = hv_now_ns() - t0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "hv_snapshot_bench: heapview exited with status %#x\n", st);
        }
        hv_source_close(src);
        printf("%9ld %10.1f %10.2f %12.2f %12zu %10.1f %10.1f %14.1f %9zu\n", sizes[k], copied / 1048576.0,
               ms(median(stop, runs)), ms(median(take, runs)), walked, ms(median(js, runs)), ms(median(tx, runs)),
               ms(median(wall, runs)), problems);
        fflush(stdout);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fclose(out);
    }
    return 0;
}
