/*
 * tests/progs/hv_corrupt.c - a liballoc target that corrupts its own heap, for heapview.
 *
 *   hv_corrupt MODE     MODE: size | cycle | tcount | outside | dll | all
 *
 * Builds a small heap, prints "C <mode> <address>" for each corruption it is about
 * to make (the chunk address heapview should name), makes it, prints "READY" and
 * sleeps until killed.  It never calls malloc/free after corrupting (a real
 * allocator call would abort on what it finds).
 *   size     an in-use chunk's size field becomes 0x12345670|PREV_INUSE
 *   cycle    a fastbin chunk's fd (safe-linked) points at itself
 *   tcount   a tcache chain of 3 is cut after its head (count still 3)
 *   outside  a tcache next pointer points outside the heap (0x10000)
 *   dll      an unsorted chunk's bk points elsewhere
 *   nextsize a large-bin chunk's fd_nextsize points elsewhere
 *   midop    (not a corruption) liballoc_debug.generation is made odd, as if a
 *            registry change were in progress: heapview must retry, then mark
 *            its snapshot mid-operation
 *   locked   (not a corruption) the main arena's lock word is set, as if a
 *            thread held it
 *   remote   (not part of "all") a second thread allocates 8 x 0xb0 from its
 *            arena and waits; the main thread frees them, which pushes them
 *            onto that arena's remote-free list; the last chunk's link
 *            (safe-linked) then points at itself: a cycle
 */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "debug_abi.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && write(1, buf, (size_t)n) < 0)
        _exit(3);
}

/* Every block escapes through here, so the compiler cannot drop a malloc/free pair. */
static void *volatile sink[64];
static int nsink;
static void *K(void *p)
{
    if (!p)
        _exit(4);
    sink[nsink++ & 63] = p;
    return p;
}

static void *remote8[8];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int remote_ready;
static void *remote_owner(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++)
        remote8[i] = K(malloc(0xa0));
    pthread_mutex_lock(&mu);
    remote_ready = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    for (;;)
        pause();                        /* stays attached: nobody drains its list */
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    int all = strcmp(mode, "all") == 0;
    void *g;
    /* allocations */
    char *victim = K(malloc(100));
    g = K(malloc(24));
    void *f7[7], *fa, *fb;
    for (int i = 0; i < 7; i++)
        f7[i] = K(malloc(56));
    fa = K(malloc(56));
    fb = K(malloc(56));
    void *t3[3], *o2[2];
    for (int i = 0; i < 3; i++)
        t3[i] = K(malloc(72));             /* 0x50 */
    for (int i = 0; i < 2; i++)
        o2[i] = K(malloc(88));             /* 0x60 */
    g = K(malloc(24));
    char *u = K(malloc(0x500));
    g = K(malloc(24));
    char *lg = K(malloc(0x600));        /* 0x610: goes to a large bin */
    g = K(malloc(24));
    (void)g;
    /* frees: first the large chunk, sorted into its bin by a bigger request
     * (before any fastbin chunk exists: that request consolidates fastbins) */
    free(lg);
    K(malloc(0x1000));
    for (int i = 0; i < 7; i++)
        free(f7[i]);
    free(fa);
    free(fb);                           /* fastbin 0x40: fb -> fa */
    for (int i = 0; i < 3; i++)
        free(t3[i]);                    /* tcache 0x50: t3[2] -> t3[1] -> t3[0] */
    for (int i = 0; i < 2; i++)
        free(o2[i]);                    /* tcache 0x60: o2[1] -> o2[0] */
    free(u);                            /* unsorted */

    if (all || !strcmp(mode, "size")) {
        say("C size 0x%lx\n", (unsigned long)(uintptr_t)(victim - 16));
        size_t bad = 0x12345670 | LA_PREV_INUSE;
        memcpy((char *)(uintptr_t)((uintptr_t)victim - 8), &bad, sizeof bad);
    }
    if (all || !strcmp(mode, "cycle")) {
        uintptr_t c = (uintptr_t)fb - 16;
        say("C cycle 0x%lx\n", (unsigned long)c);
        *(uintptr_t *)fb = la_protect_ptr((uintptr_t)fb, c);
    }
    if (all || !strcmp(mode, "tcount")) {
        say("C tcount 0x%lx\n", (unsigned long)((uintptr_t)t3[2] - 16));
        *(uintptr_t *)t3[2] = la_protect_ptr((uintptr_t)t3[2], 0);
    }
    if (all || !strcmp(mode, "outside")) {
        say("C outside 0x%lx\n", (unsigned long)0x10000);
        *(uintptr_t *)o2[1] = la_protect_ptr((uintptr_t)o2[1], 0x10000 + 16);
    }
    if (all || !strcmp(mode, "dll")) {
        say("C dll 0x%lx\n", (unsigned long)((uintptr_t)u - 16));
        ((uintptr_t *)u)[1] = (uintptr_t)u + 0x100;
    }
    if (all || !strcmp(mode, "nextsize")) {
        say("C nextsize 0x%lx\n", (unsigned long)((uintptr_t)lg - 16));
        ((uintptr_t *)lg)[2] = (uintptr_t)lg + 0x40;
    }
    if (!strcmp(mode, "remote")) {
        pthread_t th;
        if (pthread_create(&th, NULL, remote_owner, NULL) != 0)
            return 5;
        pthread_mutex_lock(&mu);
        while (!remote_ready)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < 8; i++)
            free(remote8[i]);           /* 7 fill this thread's tcache bin, the 8th pushes all 8 */
        uintptr_t c = (uintptr_t)remote8[7] - 16;
        say("C remote 0x%lx\n", (unsigned long)c);
        *(uintptr_t *)remote8[7] = la_protect_ptr((uintptr_t)remote8[7], c);
    }
    if (!strcmp(mode, "midop") || !strcmp(mode, "locked")) {
        struct la_debug *d = dlsym(RTLD_DEFAULT, LA_DEBUG_SYMBOL);
        if (!d) {
            say("no %s\n", LA_DEBUG_SYMBOL);
            return 1;
        }
        if (!strcmp(mode, "midop")) {
            say("C midop 0x%lx\n", (unsigned long)(uintptr_t)d);
            d->generation |= 1;
        } else {
            say("C locked 0x%lx\n", (unsigned long)(uintptr_t)d->main_arena);
            d->main_arena->lock = 1;
        }
    }
    say("READY\n");
    for (;;)
        pause();
}
