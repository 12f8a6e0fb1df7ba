/*
 * tests/bench/bench.h - helpers shared by the benchmark programs.
 *
 * Every benchmark is a plain C + pthreads program linked against the system
 * malloc; the runner (run.sh) swaps the allocator with LD_PRELOAD.  A program
 * takes the same small set of options:
 *     -t THREADS   number of worker threads (where the workload has threads)
 *     -s SCALE     multiply the amount of work (default 1.0; bench-quick uses less)
 * does a fixed amount of work, and prints "key value" lines on stdout; the line
 * "time SECONDS" (monotonic wall-clock time of the timed section only: no
 * process start-up, no dynamic loading) is always there.  Objects carry a tag
 * that is checked before they are freed, so an allocator that hands out
 * overlapping blocks makes the benchmark fail (exit 1) instead of producing a
 * figure.  Bad options: one line on stderr, exit 2.
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bench_opts {
    int threads;
    double scale;
};

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parse -t and -s; def_threads is the default thread count (0: the program has
 * no thread option). */
static inline void bench_parse(int argc, char **argv, struct bench_opts *o, int def_threads)
{
    o->threads = def_threads;
    o->scale = 1.0;
    int c;
    while ((c = getopt(argc, argv, def_threads ? "t:s:" : "s:")) != -1) {
        char *end;
        errno = 0;
        switch (c) {
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 256) {
                fprintf(stderr, "%s: -t wants a thread count 1..256, got '%s'\n", argv[0], optarg);
                exit(2);
            }
            o->threads = (int)v;
            break;
        }
        case 's': {
            double v = strtod(optarg, &end);
            if (errno || *end || !(v > 0.0) || v > 1000.0) {
                fprintf(stderr, "%s: -s wants a scale factor in (0, 1000], got '%s'\n", argv[0], optarg);
                exit(2);
            }
            o->scale = v;
            break;
        }
        default:
            fprintf(stderr, "usage: %s %s[-s SCALE]\n", argv[0], def_threads ? "[-t THREADS] " : "");
            exit(2);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        exit(2);
    }
}

/* Work count scaled, at least 1. */
static inline long bench_scaled(long base, const struct bench_opts *o)
{
    double v = (double)base * o->scale;
    return v < 1.0 ? 1 : (long)v;
}

/* xorshift64*: small, fast, per-thread state, reproducible. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t bench_seed(uint64_t n)
{
    /* splitmix-style scramble so that seeds 1, 2, 3 give unrelated streams */
    uint64_t z = n * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 1;
}

/* Uniform in [lo, hi]. */
static inline size_t bench_uniform(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(bench_rand(s) % (uint64_t)(hi - lo + 1));
}

/* Log-uniform in [lo, hi] (each power of two equally likely): many small
 * objects, a few big ones, as in real programs. */
static inline size_t bench_loguniform(uint64_t *s, size_t lo, size_t hi)
{
    int lo_b = 63 - __builtin_clzll((unsigned long long)lo);
    int hi_b = 63 - __builtin_clzll((unsigned long long)hi);
    int b = lo_b + (int)(bench_rand(s) % (uint64_t)(hi_b - lo_b + 1));
    size_t base = (size_t)1 << b;
    size_t v = base + (size_t)(bench_rand(s) % base);
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return v;
}

/* Keep the compiler from removing a malloc/free pair or a store. */
static inline void bench_escape(void *p)
{
    __asm__ volatile("" : : "g"(p) : "memory");
}

static inline void *bench_xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench: malloc(%zu) failed\n", n);
        exit(1);
    }
    return p;
}

/* Tag an object: its first word (objects here are always >= 8 bytes) holds a
 * value derived from its address and size; checked before free. */
static inline uint64_t bench_tagval(const void *p, size_t n)
{
    return ((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)n;
}

static inline void bench_tag(void *p, size_t n)
{
    uint64_t t = bench_tagval(p, n);
    memcpy(p, &t, sizeof t);
    if (n >= 16)
        ((unsigned char *)p)[n - 1] = (unsigned char)t;
}

static inline void bench_check(const void *p, size_t n, const char *what)
{
    uint64_t t, want = bench_tagval(p, n);
    memcpy(&t, p, sizeof t);
    if (t != want || (n >= 16 && ((const unsigned char *)p)[n - 1] != (unsigned char)want)) {
        fprintf(stderr, "bench %s: object %p (%zu bytes) was overwritten: the allocator handed out overlapping memory\n",
                what, p, n);
        exit(1);
    }
}

/* Current resident set size in KiB, from /proc/self/statm.  Reads with
 * open/read into a stack buffer: stdio would allocate a FILE and a buffer, and
 * such a block left at the top of the heap could itself keep memory from being
 * returned, which is what the fragmentation test measures. */
static inline long bench_rss_kb(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = buf;
    strtol(p, &p, 10);              /* total program size */
    long res = strtol(p, &p, 10);   /* resident */
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static inline void bench_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int e = pthread_create(t, NULL, fn, arg);
    if (e) {
        fprintf(stderr, "bench: pthread_create: %s\n", strerror(e));
        exit(1);
    }
}

static inline void bench_report_time(double seconds)
{
    printf("time %.6f\n", seconds);
}

#endif
