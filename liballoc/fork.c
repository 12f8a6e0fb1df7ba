/*
 * liballoc/fork.c - keeping the heap consistent across fork.
 *
 * prepare: when more than one thread has ever used liballoc, take every arena
 * lock and then the registry lock, so the child's copy of the heap is not caught
 * in the middle of an operation of another thread.  A process in which only
 * one thread ever allocated skips the locking: no other thread can hold a lock,
 * and this thread may be forking from a signal handler that interrupted malloc
 * (taking its own lock again would deadlock).  parent: release them.
 * child: re-initialise (not unlock) every lock, drop the other threads'
 * tcaches (their chunks stay allocated, as in glibc) and keep only the forking
 * thread attached, to its arena, with its new tid.
 */
#include "internal.h"

static int locked_for_fork;

void la_fork_prepare(void)
{
    if (la_g.init_state < 2 || !la_g.multi_threaded) {
        locked_for_fork = 0;
        return;
    }
    /* Arena locks first, then the registry lock (the library's lock order).
     * Arenas are only ever appended, under the registry lock: if one was
     * appended while we were locking, lock it too and try again. */
    struct la_arena *last = NULL;
    for (;;) {
        for (struct la_arena *a = last ? __atomic_load_n(&last->next, __ATOMIC_ACQUIRE) : &la_main_arena; a;
             a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
            la_lock(&a->lock);
            last = a;
        }
        la_registry_lock();
        if (!last->next) break;
        la_registry_unlock();
    }
    locked_for_fork = 1;
}

void la_fork_parent(void)
{
    if (!locked_for_fork) return;
    locked_for_fork = 0;
    for (struct la_arena *av = &la_main_arena; av; av = av->next) la_unlock(&av->lock);
    la_registry_unlock();
}

void la_fork_child(void)
{
    if (la_g.init_state < 2) return;
    locked_for_fork = 0;
    la_dbg.registry_lock = 0;
    la_dbg.trace.site_lock = 0;
    la_t_tid = 0;                   /* the child thread has another id */
    /* generation may be odd if a registry change was interrupted (signal-handler fork) */
    if (la_dbg.generation & 1) la_dbg.generation++;
    la_g.free_list = NULL;
    struct la_arena *mine = la_t_arena;
    for (struct la_arena *av = &la_main_arena; av; av = av->next) {
        av->lock = 0;
        av->nthreads = 0;
        av->next_free = NULL;
    }
    for (struct la_arena *av = &la_main_arena; av; av = av->next) {
        if (av == mine) continue;
        av->next_free = la_g.free_list;
        la_g.free_list = av;
    }
    if (mine) mine->nthreads = 1;
    struct la_tcache *keep = la_tc_get();
    struct la_tcache *t = la_dbg.tcaches;
    while (t) {
        struct la_tcache *next = t->next;
        if (t != keep) la_meta_free(t);
        t = next;
    }
    la_dbg.tcaches = keep;
    la_dbg.ntcaches = keep ? 1 : 0;
    if (keep) {
        keep->next = keep->prev = NULL;
        keep->tid = (uint64_t)la_os_gettid();
        keep->arena = mine;
        if (mine) la_tc_win_set(keep, mine);
    }
    la_g.multi_threaded = 0;
}
