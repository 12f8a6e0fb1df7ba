/*
 * tests/check_misuse.c - the misuse table: every integrity check of liballoc
 * and every published heap-exploitation technique it stops, one row each.
 *
 * How a row runs.  The Check test (a loop test over the table) forks its own
 * child with stderr redirected to a pipe and RLIMIT_CORE 0.  The child sets
 * LIBALLOC_OPTIONS for the row (liballoc has not been initialised in it yet:
 * the Check runner never calls liballoc), builds the heap shape through the
 * liballoc_* entry points, writes what it expects into a shared page (function,
 * message, pointer, chunk size) and then performs the attack, simulating the
 * attacker's overflow or use-after-free write with plain stores.  The parent
 * reads everything the child wrote to stderr and asserts that the child died
 * of SIGABRT and that stderr is exactly the one line
 *     liballoc: <message> (in <function>(), pointer 0x..., chunk size N)
 * An attack that is not detected makes the child exit(0): the row fails.
 * Negative rows perform legal use that looks like an attack to a naive check
 * (a copy of the tcache key in user data, a free from another thread, ...) and
 * must exit 0 with nothing on stderr and liballoc_check_heap() == 0.
 *
 * Rows marked "glibc" test a check glibc 2.36 also makes (same message); rows
 * marked "extra" test a check beyond glibc, where glibc would let the attack
 * through (these fail against liballoc-noextra).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check_suites.h"
#include "check_la.h"

#define NOSIZE ((size_t)-1)
#define NO_TCACHE "tcache_count=0:mxfast=0"   /* every free reaches the bins */

#define M liballoc_malloc
#define F liballoc_free

struct expect {
    char fn[32];
    char msg[128];
    uintptr_t ptr;
    size_t size;            /* chunk size, NOSIZE when liballoc cannot read it */
    char line2[192];        /* an earlier line expected too (check=N), or "" */
    int set;
};
static struct expect *X;   /* MAP_SHARED page, written by the child */

static void expect(const char *fn, const char *msg, const void *ptr, size_t size)
{
    snprintf(X->fn, sizeof X->fn, "%s", fn);
    snprintf(X->msg, sizeof X->msg, "%s", msg);
    X->ptr = (uintptr_t)ptr;
    X->size = size;
    X->set = 1;
}

/* size field of a user pointer's chunk, as liballoc prints it */
static size_t csz(const void *mem) { return la_chunksize(t_chunk(mem)->size); }
static uint64_t *W(const void *mem) { return (uint64_t *)mem; }   /* user data as words */

/* A fake chunk (16-aligned) with a plausible header and next header, for
 * memory liballoc never handed out. */
struct fake {
    uint64_t w[24];
} __attribute__((aligned(16)));
static void *fake_mem(struct fake *f, size_t size)
{
    memset(f, 0, sizeof *f);
    f->w[1] = size | LA_PREV_INUSE;
    if (size / 8 + 1 < 24) f->w[size / 8 + 1] = 0x20 | LA_PREV_INUSE;
    return &f->w[2];
}

static void *tc_fill[LA_TCACHE_FILL];
static void fill_tcache(size_t req)
{
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) tc_fill[i] = M(req);
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) F(tc_fill[i]);
}
static void drain_tcache(size_t req)
{
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) M(req);
}

/* ---- ownership (extra) -------------------------------------------------------- */

static void a_free_stack(void)
{
    struct fake f;
    F(M(1));
    void *m = fake_mem(&f, 0x40);
    expect("free", "free(): invalid pointer", m, NOSIZE);
    F(m);
}

static struct fake global_fake;
static void a_free_global(void)
{
    F(M(1));
    void *m = fake_mem(&global_fake, 0x40);
    expect("free", "free(): invalid pointer", m, NOSIZE);
    F(m);
}

static void a_free_other_mapping(void)
{
    F(M(1));
    struct fake *f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *m = fake_mem(f, 0x40);
    expect("free", "free(): invalid pointer", m, NOSIZE);
    F(m);
}

/* glibc checks misalignment too; with the extra checks it is refused before the
 * header is read, so no chunk size is printed */
static void a_free_misaligned(void)
{
    char *p = M(40);
    expect("free", "free(): invalid pointer", p + 8, NOSIZE);
    F(p + 8);
}

/* an interior pointer whose fake header claims a chunk running past top */
static void a_free_interior(void)
{
    char *big = M(4000);               /* from top: top follows it */
    memset(big, 0, 4000);
    W(big)[7] = 0x10000 | LA_PREV_INUSE;
    expect("free", "free(): invalid pointer", big + 64, 0x10000);
    F(big + 64);
}

/* an interior pointer with a tcache-sized fake header: its "next chunk" is user
 * data, so the tcache path's next-size check (extra) refuses it */
static void a_free_interior_small(void)
{
    char *big = M(4000);
    memset(big, 0, 4000);
    W(big)[7] = 0x30 | LA_PREV_INUSE;
    expect("free", "free(): invalid next size (fast)", big + 64, 0x30);
    F(big + 64);
}

static void a_free_fake_mmapped(void)
{
    F(M(1));
    char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    W(pg)[1] = 8192 | LA_IS_MMAPPED;
    expect("free", "free(): invalid pointer", pg + 16, NOSIZE);
    F(pg + 16);
}

/* the same through realloc, which looks a chunk at a page start up in the
 * mmapped-chunk registry first (lock-free) */
static void a_realloc_fake_mmapped(void)
{
    F(M(1));
    char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    W(pg)[1] = 8192 | LA_IS_MMAPPED;
    expect("realloc", "realloc(): invalid pointer", pg + 16, NOSIZE);
    liballoc_realloc(pg + 16, 100000);
}

static void a_free_mmapped_twice(void)
{
    char *p = M(1 << 20);
    F(p);
    expect("free", "free(): invalid pointer", p, NOSIZE);
    F(p);
}

static void a_realloc_stack(void)
{
    struct fake f;
    F(M(1));
    void *m = fake_mem(&f, 0x40);
    expect("realloc", "realloc(): invalid pointer", m, NOSIZE);
    liballoc_realloc(m, 100);
}

/* house of spirit: a fake fastbin-sized chunk on the stack, tcache full */
static void a_house_of_spirit(void)
{
    struct fake f;
    fill_tcache(0x38);
    void *m = fake_mem(&f, 0x40);
    expect("free", "free(): invalid pointer", m, NOSIZE);
    F(m);
}

/* ---- tcache ------------------------------------------------------------------- */

static void a_tcache_double_free(void)      /* glibc */
{
    char *p = M(40);
    F(p);
    expect("free", "free(): double free detected in tcache 2", p, csz(p));
    F(p);
}

/* realloc of a block already freed: the move frees the old chunk as _int_free
 * does, which finds it in the tcache */
static void a_tcache_realloc_freed(void)    /* glibc */
{
    char *p = M(40), *g = M(40);            /* g: p cannot grow in place */
    F(p);
    expect("realloc", "free(): double free detected in tcache 2", p, csz(p));
    liballoc_realloc(p, 5000);
    F(g);
}

static void a_tcache_poison_stack(void)     /* extra */
{
    struct fake f;
    char *a = M(40), *b = M(40);
    void *target = fake_mem(&f, 0x30);
    F(a);
    F(b);
    W(b)[0] = la_protect_ptr((uintptr_t)b, (uintptr_t)target);    /* UAF write */
    M(40);
    expect("malloc", "malloc(): tcache chunk outside the heap detected", target, NOSIZE);
    M(40);
}

static void a_tcache_poison_unaligned(void) /* glibc */
{
    char *a = M(40), *b = M(40);
    F(a);
    F(b);
    W(b)[0] = la_protect_ptr((uintptr_t)b, (uintptr_t)(a + 8));
    M(40);
    expect("malloc", "malloc(): unaligned tcache chunk detected", a + 8, NOSIZE);
    M(40);
}

/* a poisoned entry in a bin that a free flushes (default options: the bin
 * grew past 7, so the free that finds it full pops its newest entries) */
static void a_tcache_flush_poisoned(void)   /* extra */
{
    struct fake f;
    void *v[20], *x, *y;
    for (int i = 0; i < 20; i++) v[i] = M(200);
    x = M(200);
    y = M(200);
    for (int i = 0; i < 20; i++) F(v[i]);      /* the bin grows to 14, flushes once: 13 left */
    void *target = fake_mem(&f, 0xd0);
    W(v[19])[0] = la_protect_ptr((uintptr_t)v[19], (uintptr_t)target);   /* UAF write on the newest */
    F(x);                                       /* full */
    expect("free", "malloc(): tcache chunk outside the heap detected", target, NOSIZE);
    F(y);                                       /* flush: pops x, v[19], then the target */
}

/* tampering with the tcache struct: an entry pointing at the stack */
static void a_tcache_struct_entry(void)     /* extra */
{
    struct fake f;
    char *a = M(40);
    F(a);
    struct la_tcache *tc = t_my_tcache();
    void *target = fake_mem(&f, 0x30);
    tc->entries[la_tcache_index(csz(a))] = target;
    expect("malloc", "malloc(): tcache chunk outside the heap detected", target, NOSIZE);
    M(40);
}

/* tampering with the tcache struct: a count that no longer matches its chain */
static void a_tcache_struct_count(void)     /* extra */
{
    char *a = M(40);
    F(a);
    t_my_tcache()->counts[la_tcache_index(csz(a))] = 0;
    char *b = M(40);
    expect("free", "free(): corrupted tcache count", b, csz(b));
    F(b);
}

/* house of botcake: a chunk coalesced in the unsorted bin freed again into the tcache */
static void a_house_of_botcake(void)        /* extra */
{
    void *x[LA_TCACHE_FILL];
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) x[i] = M(0x100);
    char *prev = M(0x100), *a = M(0x100);
    M(0x10);                            /* guard against top */
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) F(x[i]);
    F(a);                               /* unsorted */
    F(prev);                            /* merges with a */
    M(0x100);                           /* room in the tcache */
    expect("free", "double free or corruption (!prev)", a, 0x110);
    F(a);
}

/* overlapping chunks: the size of an in-use tcache-sized chunk shrunk */
static void a_overlap_shrunk(void)          /* extra */
{
    char *a = M(0x48);
    M(0x48);
    memset(a, 0, 0x48);
    t_chunk(a)->size = 0x30 | LA_PREV_INUSE;
    expect("free", "free(): invalid next size (fast)", a, 0x30);
    F(a);
}

/* overlapping chunks: enlarged so that it would swallow part of its neighbour */
static void a_overlap_enlarged(void)        /* extra */
{
    char *a = M(0x18), *b = M(0x48);
    M(0x18);
    memset(b, 0, 0x48);
    t_chunk(a)->size = 0x40 | LA_PREV_INUSE;
    expect("free", "free(): invalid next size (fast)", a, 0x40);
    F(a);
}

/* ---- fastbins ------------------------------------------------------------------ */

static void a_fastbin_fasttop(void)         /* glibc */
{
    char *a = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(a);
    expect("free", "double free or corruption (fasttop)", a, csz(a));
    F(a);
}

static void a_fastbin_dup_below_head(void)  /* extra */
{
    char *a = M(0x28), *b = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(a);
    F(b);
    expect("free", "free(): double free detected in fastbin", a, csz(a));
    F(a);
}

/* a fastbin chunk freed again while the tcache has room would sit in both */
static void a_fastbin_into_tcache(void)     /* extra */
{
    char *a = M(0x28), *b = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(a);
    F(b);
    M(0x28);                            /* one tcache slot free */
    expect("free", "free(): double free detected in fastbin", a, csz(a));
    F(a);
}

/* fastbin dup into the stack: a poisoned fd decodes to a stack address */
static void a_fastbin_into_stack(void)      /* extra */
{
    struct fake f;
    char *a = M(0x28), *b = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(a);
    F(b);
    char *target = (char *)fake_mem(&f, 0x30) - 16;
    W(b)[0] = la_protect_ptr((uintptr_t)b, (uintptr_t)target);
    drain_tcache(0x28);
    expect("malloc", "malloc(): fastbin chunk outside the heap detected", target, NOSIZE);
    M(0x28);
}

static void a_fastbin_bad_size(void)        /* glibc */
{
    char *a = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(a);
    t_chunk(a)->size = 0x50 | LA_PREV_INUSE;
    drain_tcache(0x28);
    expect("malloc", "malloc(): memory corruption (fast)", a, 0x50);
    M(0x28);
}

/* ---- bins ---------------------------------------------------------------------- */

/* the classic overlapping-chunks: a free chunk's size enlarged over its neighbour */
static void a_overlap_unsorted(void)        /* glibc */
{
    char *a = M(0x4f8), *b = M(0x4f8);
    M(0x78);
    M(0x18);
    F(b);
    t_chunk(b)->size = 0x580 | LA_PREV_INUSE;
    (void)a;
    expect("malloc", "malloc(): mismatching next->prev_size (unsorted)", b, 0x580);
    M(0x578);
}

static void a_overlap_smallbin(void)        /* extra */
{
    char *x = M(0xf8);
    M(0x18);
    F(x);
    M(0x1000);                          /* sorts x into its small bin */
    t_chunk(x)->size = 0x120 | LA_PREV_INUSE;
    expect("malloc", "malloc(): mismatching next->prev_size (smallbin)", x, 0x120);
    M(0xf8);
}

static void a_unsorted_bk_stack(void)       /* glibc message, checked before the read (extra) */
{
    struct fake f;
    char *x = M(0x4f8);
    M(0x18);
    F(x);
    W(x)[1] = (uint64_t)(uintptr_t)((char *)fake_mem(&f, 0x100) - 16);
    expect("malloc", "malloc(): unsorted double linked list corrupted", x, 0x500);
    M(0x4f8);
}

/* the classic poison null byte: a NUL overflowing into a free chunk's size */
static void a_poison_null_byte(void)        /* glibc */
{
    char *a = M(0x108), *b = M(0x208), *c = M(0x108);
    M(0x18);
    W(b)[0x1f0 / 8] = 0x200;            /* fake footer for the shrunk size */
    W(b)[0x1f8 / 8] = 0x20;             /* and a next header that says "free" */
    F(b);
    ((unsigned char *)&t_chunk(b)->size)[0] = 0;   /* off-by-one NUL from a */
    (void)a;
    char *b1 = M(0x108);
    M(0x78);
    F(b1);
    expect("free", "corrupted size vs. prev_size while consolidating", b1, 0x110);
    F(c);
}

/* house of einherjar into the stack: prev_size points at a fake chunk there */
static void a_einherjar_stack(void)         /* extra */
{
    struct fake f;
    char *a = M(0x38), *b = M(0x4f8);
    M(0x18);
    struct la_chunk *fc = (struct la_chunk *)((char *)fake_mem(&f, 0x100) - 16);
    fc->fd = fc->bk = fc;
    struct la_chunk *bc = t_chunk(b);
    bc->prev_size = (uintptr_t)bc - (uintptr_t)fc;
    bc->size &= ~(size_t)LA_PREV_INUSE;
    (void)a;
    expect("free", "corrupted size vs. prev_size while consolidating", b, 0x500);
    F(b);
}

/* house of einherjar inside the heap: a self-linked fake chunk in a's data */
static void a_einherjar_heap(void)          /* extra */
{
    char *a = M(0x38), *b = M(0x4f8);
    M(0x18);
    struct la_chunk *fc = (struct la_chunk *)a;
    struct la_chunk *bc = t_chunk(b);
    size_t d = (uintptr_t)bc - (uintptr_t)fc;
    fc->prev_size = 0;
    fc->size = d | LA_PREV_INUSE;
    fc->fd = fc->bk = fc;
    bc->prev_size = d;
    bc->size &= ~(size_t)LA_PREV_INUSE;
    expect("free", "corrupted double-linked list", t_mem(fc), d);
    F(b);
}

/* unsafe unlink: a fake chunk whose fd/bk point around a global pointer to it */
static uintptr_t unlink_globals[4];
static void a_unsafe_unlink(void)           /* extra */
{
    char *c0 = M(0x418), *c1 = M(0x418);
    M(0x18);
    struct la_chunk *fc = (struct la_chunk *)c0;
    struct la_chunk *c1c = t_chunk(c1);
    size_t d = (uintptr_t)c1c - (uintptr_t)fc;
    unlink_globals[3] = (uintptr_t)fc;
    fc->prev_size = 0;
    fc->size = d;
    fc->fd = (struct la_chunk *)&unlink_globals[0];   /* fd->bk == fc */
    fc->bk = (struct la_chunk *)&unlink_globals[1];   /* bk->fd == fc */
    c1c->prev_size = d;
    c1c->size &= ~(size_t)LA_PREV_INUSE;
    expect("free", "corrupted double-linked list", t_mem(fc), d);
    F(c1);
}

/* a free chunk whose fd and bk are the headers of two different bins, each
 * pointing back at it (so glibc's fd->bk == p && bk->fd == p holds): the
 * unlink would join the two bins and leave one bin's last link on the other
 * bin's header, whose "size" leads out of the heap at the next malloc from
 * that bin.  The only header in a chunk's list is its own bin's. */
static void a_unlink_two_bins(void)         /* extra */
{
    char *v = M(0x100), *n = M(0x100);
    M(0x18);
    F(v);
    M(0x1000);                          /* v into its small bin, alone */
    struct la_arena *a = t_main_arena();
    struct la_chunk *vc = t_chunk(v);
    int i = t_bin_find(a, vc);
    ck_assert_int_gt(i, 0);
    struct la_chunk *other = t_bin(a, (unsigned)i + 1);
    ck_assert_ptr_eq(other->fd, other);  /* an empty bin */
    vc->bk = other;
    other->fd = vc;
    expect("free", "corrupted double-linked list", v, t_csize(v));
    F(n);                               /* merges backward with v: unlink(v) */
}

/* house of lore: a small-bin chunk's bk redirected to fake chunks on the stack */
static void a_house_of_lore(void)           /* extra */
{
    struct fake f1, f2;
    char *v = M(0x100);
    M(0x18);
    F(v);
    M(0x1000);                          /* v into its small bin */
    struct la_chunk *c1 = (struct la_chunk *)((char *)fake_mem(&f1, 0x110) - 16);
    struct la_chunk *c2 = (struct la_chunk *)((char *)fake_mem(&f2, 0x110) - 16);
    c1->fd = t_chunk(v);
    c1->bk = c2;
    c2->fd = c1;
    t_chunk(v)->bk = c1;
    expect("malloc", "malloc(): smallbin double linked list corrupted", v, 0x110);
    M(0x100);
}

/* tcache stashing unlink: the bk of the second small-bin chunk points at the
 * stack; glibc stashes it into the tcache without looking */
static void a_tcache_stashing_unlink(void)  /* extra */
{
    struct fake f;
    void *x[LA_TCACHE_FILL];
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) x[i] = M(0x100);
    char *c1 = M(0x100);
    M(0x18);
    char *c2 = M(0x100);
    M(0x18);
    for (unsigned i = 0; i < LA_TCACHE_FILL; i++) F(x[i]);
    F(c1);
    F(c2);
    M(0x1000);                          /* both into the small bin */
    drain_tcache(0x100);
    struct la_chunk *fc = (struct la_chunk *)((char *)fake_mem(&f, 0x110) - 16);
    fc->fd = t_chunk(c2);
    t_chunk(c2)->bk = fc;
    expect("malloc", "malloc(): smallbin double linked list corrupted", c2, 0x110);
    M(0x100);
}

/* large-bin attack (glibc >= 2.30 form): bk_nextsize of the bin's chunk
 * redirected, then a smaller chunk is sorted into the same bin */
static void a_largebin_attack(void)         /* extra */
{
    uint64_t target[8] = { 0 };
    char *p1 = M(0x428);
    M(0x18);
    char *p2 = M(0x418);
    M(0x18);
    F(p1);
    M(0x438);                           /* p1 into its large bin */
    F(p2);
    W(p1)[3] = (uint64_t)(uintptr_t)&target[0] - 0x20;   /* bk_nextsize */
    expect("malloc", "malloc(): largebin double linked list corrupted (nextsize)", p1, 0x430);
    M(0x438);
}

/* the best-fit walk of a large request starts at the bin's first chunk's
 * bk_nextsize: redirected to a fake chunk on the stack, it must be refused
 * before the fake chunk is read (liballoc tested only the later steps) */
static void a_largebin_bestfit_stack(void)  /* extra */
{
    struct fake f;
    char *p1 = M(0x428);
    M(0x18);
    F(p1);
    M(0x438);                           /* p1 into its large bin, alone */
    struct la_chunk *fc = (struct la_chunk *)((char *)fake_mem(&f, 0x430) - 16);
    W(p1)[3] = (uint64_t)(uintptr_t)fc;  /* bk_nextsize */
    expect("malloc", "corrupted double-linked list (not small)", fc, NOSIZE);
    M(0x418);                           /* best fit in p1's bin */
}

/* house of force: top's size set to -1 */
static void a_house_of_force(void)          /* glibc */
{
    M(0x100);
    struct la_chunk *top = t_main_arena()->top;
    top->size = ~(size_t)0;
    expect("malloc", "malloc(): corrupted top size", t_mem(top), la_chunksize(~(size_t)0));
    M(0x10000);
}

/* a smaller lie about top's size (below system_mem, so glibc's check passes) */
static void a_top_size_lie(void)            /* extra */
{
    M(0x100);
    struct la_chunk *top = t_main_arena()->top;
    top->size += 0x100;
    expect("malloc", "malloc(): corrupted top size", t_mem(top), la_chunksize(top->size));
    M(0x10000);
}

static void a_free_top(void)                /* glibc */
{
    M(0x100);
    struct la_chunk *top = t_main_arena()->top;
    expect("free", "double free or corruption (top)", t_mem(top), la_chunksize(top->size));
    F(t_mem(top));
}

static void a_invalid_size(void)            /* glibc */
{
    char *a = M(40);
    M(40);
    t_chunk(a)->size = 0x10 | LA_PREV_INUSE;
    expect("free", "free(): invalid size", a, 0x10);
    F(a);
}

static void a_realloc_invalid_next(void)    /* glibc */
{
    char *a = M(0x4f8), *b = M(0x4f8);
    M(0x18);
    t_chunk(b)->size = 0x8;
    expect("realloc", "realloc(): invalid next size", a, 0x500);
    liballoc_realloc(a, 0x600);
}

/* the same when the block already fits (liballoc keeps it without the lock) */
static void a_realloc_invalid_next_fits(void)
{
    char *a = M(0x4f8), *b = M(0x4f8);
    M(0x18);
    t_chunk(b)->size = 0x8;
    expect("realloc", "realloc(): invalid next size", a, 0x500);
    liballoc_realloc(a, 0x400);
}

/* LIBALLOC_OPTIONS=check=1: the heap is checked on every call */
static void a_check_option(void)
{
    char *a = M(0x4f8);
    M(0x18);
    F(a);
    struct fake f;
    W(a)[0] = (uint64_t)(uintptr_t)((char *)fake_mem(&f, 0x100) - 16);   /* fd */
    uintptr_t bin = la_bin_at((uintptr_t)t_main_arena(), LA_BIN_UNSORTED);
    snprintf(X->line2, sizeof X->line2, "liballoc: check_heap: bin header links broken at %#lx (arena 0)\n",
             (unsigned long)bin);
    expect("malloc", "heap check failed (LIBALLOC_OPTIONS check)", NULL, NOSIZE);
    M(8);
}

/* ---- the big-chunk cache (bigcache.c; rows run with it on: BC_ON) ---------------
 * Its slots are in the tcache struct, outside the heap: no link in the heap to
 * poison.  What an attacker reaches is the cached chunk itself (header, key
 * word) and its neighbour's header.  Rows marked "cache" test checks of the
 * cache itself, compiled in every build (also liballoc-noextra). */
#define BC_ON "tcache_count=7"

static void a_bc_double_free(void)          /* cache */
{
    char *p = M(5000);
    M(100);                                 /* p is not next to top */
    F(p);
    expect("free", "free(): double free detected in tcache 2", p, csz(p));
    F(p);
}

/* the key word wiped by a use-after-free write: the class's slots are
 * searched on every free, so the double free is still found */
static void a_bc_double_free_key_wiped(void)   /* cache */
{
    char *p = M(20000);
    M(100);
    F(p);
    W(p)[1] = 0;
    expect("free", "free(): double free detected in tcache 2", p, csz(p));
    F(p);
}

/* a cached chunk's size overwritten (use after free): the malloc that takes it
 * compares the header with the slot's size */
static void a_bc_size_overwritten(void)     /* cache */
{
    char *p = M(5000);
    M(100);
    F(p);
    t_chunk(p)->size += 0x100;
    expect("malloc", "malloc(): corrupted big-chunk cache entry", p, csz(p));
    M(5000);
}

/* a cached chunk's key word overwritten: taken back, it must still carry it */
static void a_bc_key_overwritten(void)      /* cache */
{
    char *p = M(5000);
    M(100);
    F(p);
    W(p)[1] = 0x4141414141414141ull;
    expect("malloc", "malloc(): corrupted big-chunk cache entry", p, csz(p));
    M(5000);
}

/* overflow into the next chunk's PREV_INUSE, then free into the cache: the
 * cache makes glibc's next-chunk check first */
static void a_bc_next_prev_inuse_cleared(void) /* glibc */
{
    char *p = M(5000), *q = M(5000);
    M(100);
    t_chunk(q)->size &= ~(size_t)LA_PREV_INUSE;
    expect("free", "double free or corruption (!prev)", p, csz(p));
    F(p);
}

/* legal: big blocks cycled through the cache; the heap checker checks it */
static void n_bc_cycle(void)
{
    char *v[64];
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 64; i++) v[i] = M((size_t)1100 << (i % 6));
        for (int i = 0; i < 64; i += 2) F(v[i]);
        ck_assert(liballoc_check_heap() == 0);
        for (int i = 1; i < 64; i += 2) F(v[i]);
    }
    ck_assert(liballoc_check_heap() == 0);
}

/* ---- negative rows: legal use that must not abort -------------------------------- */

static int heap_ok(void) { return liballoc_check_heap() == 0; }

/* a copy of the tcache key in user data (glibc scans the bin before aborting) */
static void n_tcache_key_copy(void)
{
    char *a = M(40), *b = M(40);
    F(a);
    W(b)[1] = W(a)[1];                 /* the key, read from the freed chunk */
    F(b);
    ck_assert_ptr_eq(M(40), b);
    ck_assert(heap_ok());
}

/* the same for a chunk on the fastbin path, where the key is also used */
static void n_fastbin_key_copy(void)
{
    char *a = M(0x28), *b = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(a);
    W(b)[1] = W(a)[1];
    F(b);
    ck_assert(heap_ok());
}

struct batch {
    void *p[64];
    size_t n[64];
};
static void *alloc_batch(void *arg)
{
    struct batch *bt = arg;
    static const size_t sizes[] = { 8, 24, 40, 100, 200, 500, 1000, 1500, 3000, 70000, 300000 };
    for (int i = 0; i < 64; i++) {
        bt->n[i] = sizes[i % 11];
        bt->p[i] = M(bt->n[i]);
        memset(bt->p[i], i, bt->n[i]);
    }
    return NULL;
}

/* chunks of every kind allocated by another thread (a non-main arena) freed here */
static void n_cross_thread_free(void)
{
    struct batch bt;
    F(M(1));
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, alloc_batch, &bt), 0);
    pthread_join(t, NULL);
    ck_assert_uint_ne(t_chunk(bt.p[0])->size & LA_NON_MAIN_ARENA, 0);
    for (int i = 0; i < 64; i++) F(bt.p[i]);
    ck_assert(heap_ok());
}

static void *free_batch(void *arg)
{
    struct batch *bt = arg;
    for (int i = 0; i < 64; i++) F(bt->p[i]);
    return NULL;
}

/* main-arena chunks freed by a thread (into its tcache) that then exits */
static void n_free_in_other_thread(void)
{
    struct batch bt;
    alloc_batch(&bt);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, free_batch, &bt), 0);
    pthread_join(t, NULL);
    ck_assert(heap_ok());
}

/* A heap of another arena that is unmapped after this thread copied its
 * ownership window (internal.h "Ownership": each thread keeps copies of other
 * arenas' windows in its tcache).  The thread that allocated the blocks
 * exits; this thread frees one of them (the copy is made), then all of them,
 * so the arena's second heap is dropped and unmapped by the trim; a second
 * free of that block must find no window (the copies were emptied before the
 * munmap) and die with the full check's message.  A stale copy would send
 * it to the inline free, which reads the header of unmapped memory: SIGSEGV. */
/* With the heap zone (sysmem.c; the default) a dropped heap is not
 * unmapped: its pages are given back (MADV_DONTNEED) and read as zeros, so
 * a stale window would let the inline free read zeros, not fault.  The rows
 * run both ways: with heap_zone=0 the heap must be unmapped, with the zone
 * its page must be mapped but not resident; either way the free dies. */
static void assert_heap_dropped(const void *p)
{
    unsigned char vec = 0;
    long pg = sysconf(_SC_PAGESIZE);
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(pg - 1));
    const char *o = getenv("LIBALLOC_OPTIONS");
    if (o && strstr(o, "heap_zone=0")) {
        ck_assert_int_ne(mincore(page, 1, &vec), 0);             /* unmapped */
    } else {
        ck_assert_int_eq(mincore(page, 1, &vec), 0);             /* in the zone, */
        ck_assert_int_eq(vec & 1, 0);                           /* given back */
    }
}

#define DROP_BLOCKS 96
struct dropped {
    char *b[DROP_BLOCKS];
    int n;
    char *r;                /* the first block of the second heap */
};
static void *alloc_two_heaps(void *arg)
{
    struct dropped *d = arg;
    uintptr_t slot0 = 0;
    for (d->n = 0; d->n < DROP_BLOCKS; d->n++) {
        d->b[d->n] = M(1 << 20);
        if (!d->b[d->n]) break;
        uintptr_t slot = (uintptr_t)d->b[d->n] / LA_HEAP_MAX;
        if (d->n == 0) slot0 = slot;
        else if (slot != slot0) break;
    }
    d->r = d->n < DROP_BLOCKS ? d->b[d->n] : NULL;   /* the first block of the second heap */
    return NULL;
}
static void a_copied_window_heap_unmapped(void)
{
    struct dropped d;
    F(M(1));                            /* this thread's tcache (where copies live) */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, alloc_two_heaps, &d), 0);
    pthread_join(t, NULL);
    ck_assert_ptr_nonnull(d.r);
    F(d.r);                             /* copies the second heap's window */
    for (int i = d.n - 1; i >= 0; i--) F(d.b[i]);
    liballoc_malloc_trim(0);
    assert_heap_dropped(d.r);
    expect("free", "free(): invalid pointer", d.r, NOSIZE);
    F(d.r);
}

/* pointers that are unusual but liballoc's: aligned blocks, mmapped blocks
 * moved by realloc, the chunk just below top, realloc in place */
static void n_unusual_but_legal(void)
{
    void *v[16];
    int k = 0;
    for (size_t al = 32; al <= 4096; al <<= 1) v[k++] = liballoc_memalign(al, 100);
    v[k++] = liballoc_valloc(5000);
    char *m = M(200000);
    m = liballoc_realloc(m, 400000);
    m = liballoc_realloc(m, 100);
    v[k++] = m;
    char *r = M(100);
    r = liballoc_realloc(r, 3000);
    r = liballoc_realloc(r, 50);
    v[k++] = r;
    for (int i = 0; i < k; i++) F(v[i]);
    /* a chunk right below top, top then small: the inline filter's tail */
    char *last = M(40);
    F(last);
    F(NULL);
    ck_assert_ptr_null(liballoc_realloc(M(10), 0));
    ck_assert(heap_ok());
}

/* the bins under normal churn with every free reaching them */
static void n_bins_churn(void)
{
    void *p[200] = { 0 };
    unsigned s = 12345;
    for (int i = 0; i < 20000; i++) {
        s = s * 1103515245u + 12345u;
        unsigned k = (s >> 8) % 200;
        if (p[k]) {
            F(p[k]);
            p[k] = NULL;
        } else {
            p[k] = M(16 + (s >> 16) % 3000);
        }
    }
    for (int k = 0; k < 200; k++) F(p[k]);
    ck_assert(heap_ok());
}

/* ---- the remote-free list (remote.c) --------------------------------------------------
 * A thread T allocates chunks from its own arena and stays alive (so its arena
 * has a thread attached); this thread frees them: the first tcache_count fill
 * its tcache bin, the next one finds the bin full and pushes all of them, as
 * one chain, onto T's arena's remote-free list.  T's next locked malloc drains
 * the list.  The pipes order the two threads' steps. */
struct remote {
    pthread_t t;
    int go[2], done[2];
    size_t req;
    void *p[LA_TCACHE_FILL + 1];
};
static void step_wait(int fd) { char c; while (read(fd, &c, 1) < 0 && errno == EINTR) { } }
static void step_post(int fd) { char c = 0; ck_assert_int_eq(write(fd, &c, 1), 1); }
static void *remote_owner(void *arg)
{
    struct remote *r = arg;
    for (unsigned i = 0; i <= LA_TCACHE_FILL; i++) r->p[i] = M(r->req);
    step_post(r->done[1]);
    step_wait(r->go[0]);            /* the other thread freed them */
    M(r->req);                      /* empty tcache bin: the locked path drains the list */
    step_post(r->done[1]);
    return NULL;
}
static void remote_start(struct remote *r, size_t req)
{
    F(M(1));                        /* this thread: the main arena */
    r->req = req;
    ck_assert_int_eq(pipe(r->go), 0);
    ck_assert_int_eq(pipe(r->done), 0);
    ck_assert_int_eq(pthread_create(&r->t, NULL, remote_owner, r), 0);
    step_wait(r->done[0]);
    ck_assert_uint_ne(t_chunk(r->p[0])->size & LA_NON_MAIN_ARENA, 0);
    for (unsigned i = 0; i <= LA_TCACHE_FILL; i++) F(r->p[i]);     /* the last one pushes all */
}

/* a chunk freed twice while it waits in the remote-free list */
static void remote_double_free(size_t req)
{
    struct remote r;
    remote_start(&r, req);
    void *p = r.p[LA_TCACHE_FILL];
    expect("free", "free(): double free detected in remote-free list", p, csz(p));
    F(p);
}
static void a_remote_double_free(void) { remote_double_free(40); }          /* extra */
static void a_remote_double_free_large(void) { remote_double_free(0x200); } /* extra */

/* the list's link poisoned (a write after free): the drain must not follow it */
static void a_remote_poisoned_link(void)    /* extra */
{
    struct remote r;
    static struct fake f;
    remote_start(&r, 40);
    void *p = r.p[LA_TCACHE_FILL];          /* the chain's last chunk */
    void *target = fake_mem(&f, 0x30);
    W(p)[0] = la_protect_ptr((uintptr_t)p, (uintptr_t)t_chunk(target));
    expect("malloc", "malloc(): remote-free chunk outside the heap detected", target, NOSIZE);
    step_post(r.go[1]);
    pthread_join(r.t, NULL);
}

/* the mark of a chunk in the list wiped: the drain refuses the list */
static void a_remote_mark_wiped(void)       /* extra */
{
    struct remote r;
    remote_start(&r, 40);
    void *p = r.p[LA_TCACHE_FILL];
    W(p)[1] = 0;
    expect("malloc", "malloc(): corrupted remote-free list", p, csz(p));
    step_post(r.go[1]);
    pthread_join(r.t, NULL);
}

/* legal: cross-thread frees in volume, every size the tcache serves, the
 * owner allocating (and so draining) between the batches */
struct volume {
    int go[2], done[2];
    void *p[256];
    int rounds;
};
static void *volume_owner(void *arg)
{
    struct volume *v = arg;
    unsigned s = 777;
    for (int r = 0; r < v->rounds; r++) {
        for (int i = 0; i < 256; i++) {
            s = s * 1103515245u + 12345u;
            size_t n = 1 + (s >> 8) % 1032;
            v->p[i] = M(n);
            memset(v->p[i], r, n);
        }
        step_post(v->done[1]);
        step_wait(v->go[0]);
    }
    return NULL;
}
static void n_remote_volume(void)
{
    struct volume v;
    v.rounds = 200;
    F(M(1));
    ck_assert_int_eq(pipe(v.go), 0);
    ck_assert_int_eq(pipe(v.done), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, volume_owner, &v), 0);
    for (int r = 0; r < v.rounds; r++) {
        step_wait(v.done[0]);
        for (int i = 0; i < 256; i++) F(v.p[i]);
        if (r % 50 == 0) ck_assert(heap_ok());
        step_post(v.go[1]);
    }
    pthread_join(t, NULL);
    ck_assert(heap_ok());
}

/* The same for the main arena's brk heap: another thread copies the main
 * arena's window (a free of a main-arena block), the main thread frees
 * everything and trims, so brk gives back the memory of that block; the
 * other thread's second free must find no window (la_win_update empties the
 * copies when a brk segment shrinks) and die with the full check's message
 * instead of reading memory that is no longer mapped. */
struct brk_drop {
    char *p;
    int go[2], done[2];
};
static void *brk_drop_freer(void *arg)
{
    struct brk_drop *d = arg;
    F(M(1));                            /* a tcache: where the copies live */
    F(d->p);                            /* copies the main arena's window */
    step_post(d->done[1]);
    step_wait(d->go[0]);                /* the main thread trimmed */
    expect("free", "free(): invalid pointer", d->p, NOSIZE);
    F(d->p);
    return NULL;
}
static void a_copied_window_brk_trimmed(void)
{
    struct brk_drop d;
    char *b[4];
    F(M(1));
    ck_assert_uint_eq(t_main_arena()->segments->kind, LA_SEG_SBRK);
    for (int i = 0; i < 4; i++) b[i] = M(100000);
    d.p = b[3];                         /* the highest: given back by the trim */
    ck_assert_int_eq(pipe(d.go), 0);
    ck_assert_int_eq(pipe(d.done), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, brk_drop_freer, &d), 0);
    step_wait(d.done[0]);
    for (int i = 2; i >= 0; i--) F(b[i]);
    liballoc_malloc_trim(0);
    char *brk_end = sbrk(0);
    ck_assert_uint_le((uintptr_t)brk_end, (uintptr_t)d.p);   /* its memory left the process */
    step_post(d.go[1]);
    pthread_join(t, NULL);
}

/* The same for the free window (internal.h "Ownership"): this thread frees
 * blocks of another thread's arena in batches while its own arena allocates
 * nothing, so the inline free tests that arena's window first; that arena's
 * second heap is then emptied, dropped and unmapped (its window moves back to
 * the first heap, and the copy with it); a second free into it must die with
 * the full check's message. */
#define FW_SMALL 65536
struct fw_drop {
    struct dropped d;
    char *s[FW_SMALL];      /* small blocks: the first heap's leftover, then 64 of the second heap */
    int ns;
    int go[2], done[2];
};
static void *fw_owner(void *arg)
{
    struct fw_drop *f = arg;
    alloc_two_heaps(&f->d);
    int in2 = 0;
    for (f->ns = 0; f->ns < FW_SMALL && in2 < 64; f->ns++) {
        f->s[f->ns] = M(40);
        in2 += (uintptr_t)f->s[f->ns] / LA_HEAP_MAX == (uintptr_t)f->d.r / LA_HEAP_MAX;
    }
    step_post(f->done[1]);
    step_wait(f->go[0]);                /* the other thread freed them all */
    return NULL;                        /* detach: the remote-free list is drained */
}
static void a_free_window_heap_unmapped(void)
{
    static struct fw_drop f;
    fill_tcache(40);                    /* this thread's bin is full of its own chunks */
    ck_assert_int_eq(pipe(f.go), 0);
    ck_assert_int_eq(pipe(f.done), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fw_owner, &f), 0);
    step_wait(f.done[0]);
    ck_assert_ptr_nonnull(f.d.r);
    char *v = f.s[f.ns - 1];            /* in the second heap */
    ck_assert_uint_eq((uintptr_t)v / LA_HEAP_MAX, (uintptr_t)f.d.r / LA_HEAP_MAX);
    for (int i = 0; i < f.ns; i++) F(f.s[i]);   /* one remote-free batch each */
    for (int i = f.d.n; i >= 0; i--) F(f.d.b[i]);
    step_post(f.go[1]);
    pthread_join(t, NULL);
    drain_tcache(40);
    liballoc_malloc_trim(0);
    assert_heap_dropped(v);
    expect("free", "free(): invalid pointer", v, NOSIZE);
    F(v);
}

/* ---- the table -------------------------------------------------------------------- */

struct row {
    const char *name;
    const char *options;        /* LIBALLOC_OPTIONS, NULL = defaults */
    void (*fn)(void);
    int negative;
};

static const struct row rows[] = {
    /* ownership of freed pointers (extra) */
    { "free of a stack address", NULL, a_free_stack, 0 },
    { "free of a global", NULL, a_free_global, 0 },
    { "free of a fake chunk in another mapping", NULL, a_free_other_mapping, 0 },
    { "free of a misaligned pointer", NULL, a_free_misaligned, 0 },
    { "free of an interior pointer (fake size past top)", NULL, a_free_interior, 0 },
    { "free of an interior pointer (tcache-sized fake)", NULL, a_free_interior_small, 0 },
    { "free of a fake mmapped chunk", NULL, a_free_fake_mmapped, 0 },
    { "realloc of a fake mmapped chunk", NULL, a_realloc_fake_mmapped, 0 },
    { "free of an mmapped chunk twice", NULL, a_free_mmapped_twice, 0 },
    { "realloc of a stack address", NULL, a_realloc_stack, 0 },
    { "house of spirit", NULL, a_house_of_spirit, 0 },
    { "free into a heap unmapped after its window was copied", "mmap_max=0:heap_zone=0", a_copied_window_heap_unmapped, 0 },
    { "free into a zone heap dropped after its window was copied", "mmap_max=0", a_copied_window_heap_unmapped, 0 },
    { "free into brk memory given back after its window was copied", NULL, a_copied_window_brk_trimmed, 0 },
    { "free into a heap unmapped after it was the free window", "mmap_max=0:heap_zone=0", a_free_window_heap_unmapped, 0 },
    { "free into a zone heap dropped after it was the free window", "mmap_max=0", a_free_window_heap_unmapped, 0 },
    /* tcache */
    { "tcache double free", NULL, a_tcache_double_free, 0 },
    { "realloc of a block in the tcache", NULL, a_tcache_realloc_freed, 0 },
    { "tcache poisoning into the stack", NULL, a_tcache_poison_stack, 0 },
    { "tcache poisoning, misaligned", NULL, a_tcache_poison_unaligned, 0 },
    { "tcache poisoning found by a flush", "tcache_count=32:bigcache=0", a_tcache_flush_poisoned, 0 },
    { "tcache struct: entry tampered", NULL, a_tcache_struct_entry, 0 },
    { "tcache struct: count tampered", NULL, a_tcache_struct_count, 0 },
    { "house of botcake", NULL, a_house_of_botcake, 0 },
    { "overlapping chunks: size shrunk", NULL, a_overlap_shrunk, 0 },
    { "overlapping chunks: size enlarged", NULL, a_overlap_enlarged, 0 },
    /* fastbins */
    { "fastbin double free at the head", NULL, a_fastbin_fasttop, 0 },
    { "fastbin double free below the head", NULL, a_fastbin_dup_below_head, 0 },
    { "fastbin chunk freed into the tcache", NULL, a_fastbin_into_tcache, 0 },
    { "fastbin dup into the stack", NULL, a_fastbin_into_stack, 0 },
    { "fastbin chunk size corrupted", NULL, a_fastbin_bad_size, 0 },
    /* bins, top */
    { "overlapping chunks: free chunk enlarged (unsorted)", NO_TCACHE, a_overlap_unsorted, 0 },
    { "overlapping chunks: free chunk enlarged (small bin)", NO_TCACHE, a_overlap_smallbin, 0 },
    { "unsorted bk into the stack", NO_TCACHE, a_unsorted_bk_stack, 0 },
    { "poison null byte", NO_TCACHE, a_poison_null_byte, 0 },
    { "house of einherjar into the stack", NO_TCACHE, a_einherjar_stack, 0 },
    { "house of einherjar in the heap", NO_TCACHE, a_einherjar_heap, 0 },
    { "unsafe unlink", NO_TCACHE, a_unsafe_unlink, 0 },
    { "unlink joining two bins (fd and bk on two bin headers)", NO_TCACHE, a_unlink_two_bins, 0 },
    { "house of lore", NO_TCACHE, a_house_of_lore, 0 },
    { "tcache stashing unlink", NULL, a_tcache_stashing_unlink, 0 },
    { "large-bin attack", NO_TCACHE, a_largebin_attack, 0 },
    { "large-bin best fit led into the stack", NO_TCACHE, a_largebin_bestfit_stack, 0 },
    { "house of force", NULL, a_house_of_force, 0 },
    { "top size lie", NULL, a_top_size_lie, 0 },
    { "free of top", NULL, a_free_top, 0 },
    { "free with size 0", NULL, a_invalid_size, 0 },
    { "realloc with a bad next size", NO_TCACHE, a_realloc_invalid_next, 0 },
    { "realloc that fits, with a bad next size", NO_TCACHE, a_realloc_invalid_next_fits, 0 },
    { "LIBALLOC_OPTIONS check=1 finds a broken bin", "check=1", a_check_option, 0 },
    /* the remote-free list (remote.c) */
    { "double free of a chunk in the remote-free list", NULL, a_remote_double_free, 0 },
    { "double free in the remote-free list, not fast-sized", NULL, a_remote_double_free_large, 0 },
    { "remote-free list link poisoned", NULL, a_remote_poisoned_link, 0 },
    { "remote-free list mark wiped", NULL, a_remote_mark_wiped, 0 },
    /* the big-chunk cache (bigcache.c) */
    { "big-chunk cache double free", BC_ON, a_bc_double_free, 0 },
    { "big-chunk cache double free, key wiped", BC_ON, a_bc_double_free_key_wiped, 0 },
    { "big-chunk cache chunk size overwritten", BC_ON, a_bc_size_overwritten, 0 },
    { "big-chunk cache chunk key overwritten", BC_ON, a_bc_key_overwritten, 0 },
    { "big-chunk cache free with next PREV_INUSE cleared", BC_ON, a_bc_next_prev_inuse_cleared, 0 },
    /* legal use */
    { "legal: big blocks cycled through the big-chunk cache", BC_ON, n_bc_cycle, 1 },
    { "legal: tcache key copied into user data", NULL, n_tcache_key_copy, 1 },
    { "legal: tcache key copied, fastbin path", NULL, n_fastbin_key_copy, 1 },
    { "legal: free of chunks from another thread's arena", NULL, n_cross_thread_free, 1 },
    { "legal: free in a thread that then exits", NULL, n_free_in_other_thread, 1 },
    { "legal: cross-thread frees in volume (remote-free list)", NULL, n_remote_volume, 1 },
    { "legal: aligned, mmapped, reallocated, last-before-top", NULL, n_unusual_but_legal, 1 },
    { "legal: the same without tcache and fastbins", NO_TCACHE, n_unusual_but_legal, 1 },
    { "legal: churn through every bin", NO_TCACHE, n_bins_churn, 1 },
    { "legal: churn with every check on each call", "check=1", n_bins_churn, 1 },
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

static void expected_line(char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%sliballoc: %s (in %s()", X->line2, X->msg, X->fn);
    if (X->ptr) n += snprintf(buf + n, cap - (size_t)n, ", pointer %#lx", (unsigned long)X->ptr);
    if (X->size != NOSIZE) n += snprintf(buf + n, cap - (size_t)n, ", chunk size %zu", X->size);
    snprintf(buf + n, cap - (size_t)n, ")\n");
}

START_TEST(misuse_row)
{
    const struct row *r = &rows[_i];
    X = mmap(NULL, sizeof *X, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(X, MAP_FAILED);
    memset(X, 0, sizeof *X);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        setenv("LIBALLOC_OPTIONS", r->options ? r->options : T_GLIBC_OPTIONS, 1);
        r->fn();
        _exit(0);
    }
    close(fd[1]);
    char out[2048];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof out - 1 && ((k = read(fd[0], out + got, sizeof out - 1 - got)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) got += (size_t)k;
    out[got] = 0;
    close(fd[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    if (r->negative) {
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: legal use did not exit 0 (status %#x): %s",
                      r->name, st, out);
        ck_assert_msg(got == 0, "%s: legal use wrote to stderr: %s", r->name, out);
    } else {
        ck_assert_msg(X->set, "%s: the attack did not reach its last step (status %#x): %s", r->name, st, out);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: not killed by SIGABRT (status %#x), stderr: %s",
                      r->name, st, out);
        char want[512];
        expected_line(want, sizeof want);
        ck_assert_msg(strcmp(out, want) == 0, "%s:\n  want: %s  got:  %s", r->name, want, out);
    }
    munmap(X, sizeof *X);
}
END_TEST

/* ---- perturb and the checker, in-process ------------------------------------------ */

/* LIBALLOC_OPTIONS=perturb=N: fresh memory holds N^0xff, freed memory N (beyond
 * the tcache's next and key words), as glibc's M_PERTURB. */
START_TEST(perturb_fills)
{
    setenv("LIBALLOC_OPTIONS", "perturb=0x5a", 1);
    const size_t sizes[] = { 24, 100, 1000, 5000, 300000 };
    for (unsigned i = 0; i < 5; i++) {
        unsigned char *p = M(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            ck_assert_msg(p[j] == (0x5a ^ 0xff), "malloc(%zu) byte %zu is %#x", sizes[i], j, p[j]);
        if (sizes[i] < 300000) {
            F(p);
            /* freed: past fd/bk (and fd_nextsize/bk_nextsize) the bytes are the perturb byte */
            for (size_t j = 32; j < sizes[i] - 8; j++)
                ck_assert_msg(p[j] == 0x5a, "freed %zu-byte block byte %zu is %#x", sizes[i], j, p[j]);
        } else {
            F(p);
        }
    }
    unsigned char *c = liballoc_calloc(1, 500);
    for (size_t j = 0; j < 500; j++) ck_assert_uint_eq(c[j], 0);
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST


/* liballoc_check_heap reports poisoned links without following them */
START_TEST(check_heap_poisoned_links)
{
    t_glibc_options();
    char msg[512], want[256];
    char *e = M(0x4f8);                 /* for the last part, with its guard */
    M(0x18);
    char *a = M(40), *b = M(40);
    F(a);
    F(b);
    ck_assert_int_eq(liballoc_check_heap(), 0);
    uint64_t saved = W(b)[0];
    /* into unmapped memory: reading it would crash the checker */
    W(b)[0] = la_protect_ptr((uintptr_t)b, (uintptr_t)0x10000);
    ck_assert_int_eq(t_check_heap_quiet(msg, sizeof msg), -1);
    snprintf(want, sizeof want, "liballoc: check_heap: tcache entry outside the heap at %#lx (tcache of this thread)\n",
             0x10000ul);
    ck_assert_str_eq(msg, want);
    W(b)[0] = saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);

    /* a fastbin fd into unmapped memory */
    char *c = M(0x28), *d = M(0x28);
    M(0x28);
    fill_tcache(0x28);
    F(c);
    F(d);
    saved = W(d)[0];
    W(d)[0] = la_protect_ptr((uintptr_t)d, (uintptr_t)0x20000);
    ck_assert_int_eq(t_check_heap_quiet(msg, sizeof msg), -1);
    snprintf(want, sizeof want, "liballoc: check_heap: fastbin chunk outside the arena at %#lx (arena 0)\n", 0x20000ul);
    ck_assert_str_eq(msg, want);
    W(d)[0] = saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);

    /* a bin link into the stack */
    F(e);
    saved = W(e)[1];
    struct fake f;
    W(e)[1] = (uint64_t)(uintptr_t)((char *)fake_mem(&f, 0x100) - 16);
    ck_assert_int_eq(t_check_heap_quiet(msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "check_heap: bin header links broken") != NULL, "%s", msg);
    W(e)[1] = saved;
    ck_assert_int_eq(liballoc_check_heap(), 0);
}
END_TEST

static Suite *suite_misuse(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, misuse_row, 0, NROWS);
    suite_add_tcase(s, tc);
    tc = tcase_create("debugging");
    tcase_add_test(tc, perturb_fills);
    tcase_add_test(tc, check_heap_poisoned_links);
    suite_add_tcase(s, tc);
    return s;
}
CHECK_SUITE(suite_misuse)
