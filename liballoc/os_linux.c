/*
 * liballoc/os_linux.c - everything liballoc asks of the kernel, in one place.
 *
 * The calls are raw x86-64 system calls: they return 0 or an errno value and
 * never touch errno (free() must preserve it, and nothing here may allocate).
 * The one exception is sbrk: liballoc goes through libc's sbrk so that libc's
 * idea of the break stays right for foreign sbrk callers; errno is restored.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define sys3(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline int err_of(long r) { return (r < 0 && r > -4096) ? (int)-r : 0; }

int la_os_mmap(size_t len, int prot, int extra_flags, void **out)
{
    long r = sys6(SYS_mmap, 0, (long)len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
    int e = err_of(r);
    if (!e) *out = (void *)r;
    return e;
}

int la_os_munmap(void *p, size_t len) { return err_of(sys3(SYS_munmap, p, len, 0)); }
int la_os_mprotect(void *p, size_t len, int prot) { return err_of(sys3(SYS_mprotect, p, len, prot)); }
int la_os_madvise(void *p, size_t len, int advice) { return err_of(sys3(SYS_madvise, p, len, advice)); }

int la_os_mremap(void *old, size_t oldlen, size_t newlen, int flags, void **out)
{
    long r = sys6(SYS_mremap, (long)old, (long)oldlen, (long)newlen, flags, 0, 0);
    int e = err_of(r);
    if (!e) *out = (void *)r;
    return e;
}

/* /proc/sys/vm/overcommit_memory as a digit (0, 1, 2), or -1 if unreadable */
int la_os_overcommit(void)
{
    long fd = sys3(SYS_open, (long)"/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -1;
    char c = 0;
    long n = sys3(SYS_read, fd, (long)&c, 1);
    sys3(SYS_close, fd, 0, 0);
    return n == 1 && c >= '0' && c <= '9' ? c - '0' : -1;
}

void la_os_write(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        long r = sys3(SYS_write, fd, buf, len);
        if (r == -EINTR) continue;
        if (r <= 0) return;
        buf += r;
        len -= (size_t)r;
    }
}

long la_os_gettid(void) { return sys3(SYS_gettid, 0, 0, 0); }

uint64_t la_os_random(void)
{
    uint64_t v = 0;
    long r = sys3(SYS_getrandom, &v, sizeof v, 1 /* GRND_NONBLOCK */);
    if (r != (long)sizeof v || v == 0) {
        /* No entropy yet: mix what differs between runs. */
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        v ^= ((uint64_t)hi << 32 | lo) * 0x9e3779b97f4a7c15ull;
        v ^= (uint64_t)(uintptr_t)&v;
        v ^= (uint64_t)la_os_gettid() << 17;
        if (v == 0) v = 0x5a5a5a5a12345678ull;
    }
    return v;
}

uint64_t la_os_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int la_os_ncores(void)
{
    cpu_set_t set;
    memset(&set, 0, sizeof set);
    long r = sys3(SYS_sched_getaffinity, 0, sizeof set, &set);
    if (r <= 0) return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

void *la_os_sbrk(intptr_t inc)
{
    int saved = errno;
    void *p = sbrk(inc);
    errno = saved;
    return p;
}

void la_os_abort(void)
{
    /* Like abort(3): raise SIGABRT (a handler may run); if the process
     * survives, restore the default action, unblock and raise it again. */
    for (;;) {
        long pid = sys3(SYS_getpid, 0, 0, 0);
        long tid = la_os_gettid();
        sys3(SYS_tgkill, pid, tid, SIGABRT);
        struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } sa = { 0, 0, 0, 0 };
        sys6(SYS_rt_sigaction, SIGABRT, (long)&sa, 0, 8, 0, 0);
        uint64_t m = 1ull << (SIGABRT - 1);
        sys6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&m, 0, 8, 0, 0);
        sys3(SYS_tgkill, pid, tid, SIGABRT);
        sys3(SYS_exit_group, 127, 0, 0);
    }
}

/* ---- futex lock slow paths -------------------------------------------------------- */

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

void la_lock_wait(int32_t *l)
{
    /* Spin a little: critical sections are short. */
    for (int i = 0; i < 100; i++) {
        __builtin_ia32_pause();
        int32_t z = 0;
        if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(l, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
    }
    while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE) != 0)
        sys6(SYS_futex, (long)l, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0);
}

void la_lock_wake(int32_t *l)
{
    sys6(SYS_futex, (long)l, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}
