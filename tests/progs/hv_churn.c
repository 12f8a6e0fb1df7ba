/*
 * tests/progs/hv_churn.c - a liballoc target that never stops allocating.
 *
 *   hv_churn [THREADS]
 *
 * THREADS threads (default 2) each keep 512 slots and forever replace a random
 * one with a block of a random size (16 B .. 4 KiB, now and then 200 KiB, which
 * is mmapped).  Prints "READY" once all threads run.  heapview's tests take
 * snapshots of it: a snapshot not marked mid-operation must be consistent.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    void *slot[512] = { 0 };
    pthread_mutex_lock(&mu);
    started++;
    pthread_mutex_unlock(&mu);
    for (;;) {
        unsigned i = (unsigned)rand_r(&seed) % 512;
        free(slot[i]);
        size_t n = 16 + (size_t)rand_r(&seed) % 4096;
        if (rand_r(&seed) % 500 == 0)
            n = 200 << 10;
        slot[i] = malloc(n);
        if (slot[i])
            memset(slot[i], (int)i, n < 64 ? n : 64);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2;
    if (n < 1 || n > 64)
        n = 2;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, churn, (void *)(uintptr_t)(i + 1)) != 0)
            return 1;
    }
    for (;;) {
        pthread_mutex_lock(&mu);
        int s = started;
        pthread_mutex_unlock(&mu);
        if (s == n)
            break;
        usleep(1000);
    }
    printf("READY\n");
    fflush(stdout);
    for (;;)
        pause();
}
