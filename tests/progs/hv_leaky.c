/*
 * tests/progs/hv_leaky.c - a target that "leaks" from two known sites, for
 * heapview's --leaks, --diff and --history tests (tests/check_heapview_trace.c).
 *
 * Run under LD_PRELOAD=liballoc.so with LIBALLOC_OPTIONS=sites=8,history=N.
 *   phase 1: leak_small() keeps 5 blocks of 100 bytes, leak_big() 3 blocks of
 *            2000 bytes; some blocks are allocated and freed (churn, not leaked).
 *            Prints "L a <ptr>" / "L b <ptr>" per kept block, then "READY".
 *   SIGUSR1: phase 2: frees the first leak_small block (prints "F <ptr>"),
 *            leak_more() keeps 4 blocks of 48 bytes ("N <ptr>"), then "READY2".
 * With argument "double": frees a block in free_once(), prints "D <ptr>", then
 * frees it again in free_again(): liballoc aborts (a core for the history test).
 * Printing uses write(2) from stack buffers only, so the heap holds exactly
 * these blocks (plus whatever the C library allocated before main).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[32];
static int nkept;
static volatile sig_atomic_t go;

static void say(const char *tag, void *p)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s %p\n", tag, p);
    if (write(1, buf, (size_t)n) != n)
        _exit(3);
}

__attribute__((noinline)) void leak_small(void)
{
    for (int i = 0; i < 5; i++) {
        void *p = malloc(100);
        memset(p, 'a', 100);
        kept[nkept++] = p;
        say("L a", p);
    }
}

__attribute__((noinline)) void leak_big(void)
{
    for (int i = 0; i < 3; i++) {
        void *p = malloc(2000);
        memset(p, 'b', 2000);
        kept[nkept++] = p;
        say("L b", p);
    }
}

__attribute__((noinline)) void churn(void)
{
    void *t[10];
    for (int i = 0; i < 10; i++)
        t[i] = malloc(24 + 40 * (size_t)i);
    for (int i = 0; i < 10; i++)
        free(t[i]);
}

__attribute__((noinline)) void leak_more(void)
{
    for (int i = 0; i < 4; i++) {
        void *p = malloc(48);
        memset(p, 'c', 48);
        kept[nkept++] = p;
        say("N", p);
    }
}

static volatile int after;

__attribute__((noinline)) void free_once(void *p)
{
    free(p);
    after = 1;              /* keeps this frame on the stack during free */
}

__attribute__((noinline)) void free_again(void *p)
{
    free(p);
    after = 2;
}

static void on_usr1(int sig)
{
    (void)sig;
    go = 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "double") == 0) {
        void *p = malloc(64);
        kept[0] = p;
        free_once(p);
        say("D", p);
        free_again(p);
        return 0;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGUSR1, on_usr1);
    churn();
    leak_small();
    churn();
    leak_big();
    if (write(1, "READY\n", 6) != 6)
        return 3;
    while (!go)
        sigsuspend(&old);
    say("F", kept[0]);
    free(kept[0]);
    leak_more();
    if (write(1, "READY2\n", 7) != 7)
        return 3;
    for (;;)
        pause();
}
