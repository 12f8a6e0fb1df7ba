/*
 * tests/progs/workload.h - a deterministic allocation workload shared by
 * tests/progs/workload.c (built plain, run with and without LD_PRELOAD) and
 * tests/progs/static_liballoc.c (linked statically against liballoc.a).  The
 * output depends only on what the program computes, never on addresses, so the
 * runs on the system allocator and on liballoc must print the same text.
 */
#ifndef TESTS_PROGS_WORKLOAD_H
#define TESTS_PROGS_WORKLOAD_H

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wl_node {
    char *key;
    size_t count;
    struct wl_node *next;
};

static uint64_t wl_rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int wl_cmp(const void *a, const void *b)
{
    const struct wl_node *x = *(const struct wl_node *const *)a, *y = *(const struct wl_node *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->key, y->key);
}

static int wl_fail(const char *what)
{
    fprintf(stderr, "workload: %s failed\n", what);
    return 1;
}

/* Word counting in a chained hash table that grows by realloc'ed bucket arrays,
 * strings built by repeated realloc, a batch of aligned and calloc'ed blocks and a
 * few big (mmapped) buffers; prints summaries. */
static int workload(FILE *out)
{
    uint64_t s = 42;
    size_t nb = 16, n = 0;
    struct wl_node **tab = calloc(nb, sizeof *tab);
    if (!tab) return wl_fail("calloc");
    for (int i = 0; i < 200000; i++) {
        char w[16];
        int len = 1 + (int)(wl_rng(&s) % 4);
        for (int k = 0; k < len; k++)
            w[k] = (char)('a' + wl_rng(&s) % 6);
        w[len] = '\0';
        uint64_t h = 1469598103934665603ull;
        for (int k = 0; k < len; k++)
            h = (h ^ (unsigned char)w[k]) * 1099511628211ull;
        struct wl_node *e;
        for (e = tab[h % nb]; e && strcmp(e->key, w); e = e->next)
            ;
        if (e) {
            e->count++;
            continue;
        }
        e = malloc(sizeof *e);
        if (!e || !(e->key = strdup(w))) return wl_fail("malloc");
        e->count = 1;
        e->next = tab[h % nb];
        tab[h % nb] = e;
        if (++n > nb * 2) {                 /* rehash into a bigger table */
            size_t nnb = nb * 4;
            struct wl_node **nt = calloc(nnb, sizeof *nt);
            if (!nt) return wl_fail("calloc");
            for (size_t b = 0; b < nb; b++)
                for (struct wl_node *x = tab[b], *nx; x; x = nx) {
                    nx = x->next;
                    uint64_t hh = 1469598103934665603ull;
                    for (const char *c = x->key; *c; c++)
                        hh = (hh ^ (unsigned char)*c) * 1099511628211ull;
                    x->next = nt[hh % nnb];
                    nt[hh % nnb] = x;
                }
            free(tab);
            tab = nt;
            nb = nnb;
        }
    }
    struct wl_node **all = malloc(n * sizeof *all);
    if (!all) return wl_fail("malloc");
    size_t k = 0;
    for (size_t b = 0; b < nb; b++)
        for (struct wl_node *x = tab[b]; x; x = x->next)
            all[k++] = x;
    qsort(all, n, sizeof *all, wl_cmp);
    fprintf(out, "distinct words: %zu\n", n);
    for (size_t i = 0; i < 5 && i < n; i++)
        fprintf(out, "  %-6s %zu\n", all[i]->key, all[i]->count);

    /* A long string grown by realloc, one word at a time. */
    char *str = NULL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(all[i]->key);
        char *ns = realloc(str, len + l + 2);
        if (!ns) return wl_fail("realloc");
        str = ns;
        memcpy(str + len, all[i]->key, l);
        str[len + l] = ' ';
        len += l + 1;
        str[len] = '\0';
    }
    uint64_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 31 + (unsigned char)str[i];
    fprintf(out, "joined length %zu hash %016llx\n", len, (unsigned long long)h);
    free(str);
    for (size_t i = 0; i < n; i++) {
        free(all[i]->key);
        free(all[i]);
    }
    free(all);
    free(tab);

    /* Aligned, zeroed and big blocks. */
    size_t zero_ok = 0, align_ok = 0;
    for (int i = 0; i < 2000; i++) {
        size_t al = (size_t)16 << (i % 9);
        void *p = NULL;
        if (posix_memalign(&p, al, 1 + (size_t)i * 3) == 0 && (uintptr_t)p % al == 0)
            align_ok++;
        unsigned char *c = calloc(1 + (size_t)i % 50, 40);
        int z = c != NULL;
        for (size_t j = 0; c && j < (1 + (size_t)i % 50) * 40; j++)
            z &= c[j] == 0;
        zero_ok += z;
        if (c)
            memset(c, 0xff, (1 + (size_t)i % 50) * 40);
        free(p);
        free(c);
    }
    fprintf(out, "aligned ok %zu/2000, calloc zero %zu/2000\n", align_ok, zero_ok);
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++) {
        size_t sz = (size_t)(256 + i * 512) * 1024;
        unsigned char *b = malloc(sz);
        if (!b) return wl_fail("malloc(big)");
        for (size_t j = 0; j < sz; j += 4096)
            b[j] = (unsigned char)(j >> 12);
        b = realloc(b, sz * 2);
        if (!b) return wl_fail("realloc(big)");
        for (size_t j = 0; j < sz; j += 4096)
            sum += b[j];
        free(b);
    }
    fprintf(out, "big blocks sum %llu\n", (unsigned long long)sum);
    return 0;
}

#endif
