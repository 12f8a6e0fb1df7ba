/*
 * heapview/source.h - the input interface: where a snapshot's bytes come from.
 *
 * Two producers implement it, and they are the only files of heapview that touch
 * ptrace or libelf:
 *   source_ptrace.c  a live process (PTRACE_SEIZE + PTRACE_INTERRUPT, process_vm_readv)
 *   source_core.c    a core file (+ optionally the executable), read with libelf
 * Everything else (snapshot.c, walk.c, dump.c, ui*.c) sees only this interface.
 *
 * Life cycle (the same for the batch dump and for a live, refreshing TUI):
 *
 *     struct hv_source *src = hv_source_open_pid(pid, &err);   or _open_core(core, exe, &err)
 *     loop {
 *         struct hv_snapshot *s = hv_snapshot_take(src, NULL, &err);  // see snapshot.h
 *         ... render s, compare with the previous one, hv_snapshot_free(old) ...
 *     }
 *     hv_source_close(src);                        // detaches; the target keeps running
 *
 * hv_snapshot_take() drives the source itself: hv_source_stop(), bulk reads,
 * hv_source_threads(), hv_source_resume().  A UI never needs to call stop/resume,
 * and must never keep a live target stopped while it waits for a key.
 *
 * Error convention: functions return 0 (or a byte count) on success and -1 on
 * failure after filling `struct hv_error` with ONE human-readable line (no
 * trailing newline) and an exit status for main().  A core source is a frozen
 * process: stop/resume are no-ops and every snapshot of it is identical.
 */
#ifndef HEAPVIEW_SOURCE_H
#define HEAPVIEW_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses main() uses for the errors a source or a snapshot reports. */
#define HV_EXIT_OK        0
#define HV_EXIT_PROBLEMS  1   /* --check found problems in the heap */
#define HV_EXIT_USAGE     2   /* bad command line */
#define HV_EXIT_NOPROC    3   /* no such process / core file unreadable */
#define HV_EXIT_PERM      4   /* permission denied (ptrace) */
#define HV_EXIT_NOLIB     5   /* the process / core does not use liballoc */
#define HV_EXIT_BADCORE   6   /* not an ELF core, truncated core, other architecture */
#define HV_EXIT_ABI       7   /* liballoc_debug ABI newer than this heapview reads */
#define HV_EXIT_INTERNAL  8   /* out of memory, unexpected system error */

struct hv_error {
    int status;               /* one of HV_EXIT_* */
    char msg[512];            /* one line, no newline, e.g. "no such process: 1234" */
};

/* Fill err (printf-style) and return -1, for `return hv_fail(err, ...)`. */
int hv_fail(struct hv_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A mapped region of the target (live: /proc/PID/maps; core: PT_LOAD + NT_FILE). */
#define HV_PROT_R 1u
#define HV_PROT_W 2u
#define HV_PROT_X 4u
struct hv_region {
    uint64_t start, end;      /* [start, end) */
    uint64_t offset;          /* file offset of start (file-backed mappings) */
    unsigned prot;            /* HV_PROT_* */
    int readable;             /* bytes can actually be read (core: p_filesz covers it) */
    char path[256];           /* backing file or "" / "[heap]" / "[stack]" ... */
};

/* A thread of the target, as captured while the target is stopped. */
struct hv_thread {
    uint64_t tid;
    uint64_t ip;              /* instruction pointer (rip) */
    uint64_t sp;              /* stack pointer (rsp) */
};

enum hv_source_kind { HV_SOURCE_LIVE = 1, HV_SOURCE_CORE = 2 };

struct hv_source;             /* opaque; one per open process or core */

/* ---- opening and closing --------------------------------------------------- */

/* Attach to a live process: PTRACE_SEIZE every thread (the target keeps running),
 * locate liballoc_debug.  Errors: no such process, permission denied (mentions
 * /proc/sys/kernel/yama/ptrace_scope and the remedies), does not use liballoc. */
struct hv_source *hv_source_open_pid(pid_t pid, struct hv_error *err);

/* Open a core file; exe (may be NULL) is the executable to take symbols from when
 * the NT_FILE note's path is missing or differs.  Errors: cannot open, not an ELF
 * core, truncated core, other architecture, does not use liballoc. */
struct hv_source *hv_source_open_core(const char *core_path, const char *exe_path,
                                      struct hv_error *err);

/* Detach (live: resume every thread, re-injecting any pending signal, then
 * PTRACE_DETACH) and free.  Safe to call with NULL. */
void hv_source_close(struct hv_source *src);

/* ---- description -------------------------------------------------------------- */

enum hv_source_kind hv_source_kind(const struct hv_source *src);
pid_t hv_source_pid(const struct hv_source *src);        /* core: pid from NT_PRSTATUS, or 0 */
/* "pid 1234 (prog)" or "core core.1234 (prog)": for titles and the dump header. */
const char *hv_source_describe(const struct hv_source *src);

/* Target address of struct la_debug, and how it was found: a sentence such as
 * "symbol liballoc_debug in /work/liballoc.so (bias 0x7f...)" or
 * "found by scanning writable memory for the magic (no symbol: ...)". */
uint64_t hv_source_debug_addr(const struct hv_source *src);
const char *hv_source_debug_how(const struct hv_source *src);

/* ---- consistent reading ---------------------------------------------------------- */

/* Stop every thread (live: PTRACE_INTERRUPT + waitpid(__WALL), re-listing
 * /proc/PID/task until stable; signals that arrive meanwhile are remembered and
 * delivered on resume).  Core: no-op.  While stopped, SIGINT/SIGTERM/SIGHUP to
 * heapview resume and detach the target before heapview exits.
 * Returns -1 if the process vanished (err says so). */
int hv_source_stop(struct hv_source *src, struct hv_error *err);

/* Let the target run again (keeps it seized for the next stop).  Core: no-op. */
void hv_source_resume(struct hv_source *src);

/* Nanoseconds the target has been stopped during the last stop/resume pair. */
uint64_t hv_source_last_stop_ns(const struct hv_source *src);

/* Re-read the region list (live: /proc/PID/maps; core: fixed).  The array stays
 * valid until the next call or close.  Sorted by start, non-overlapping. */
int hv_source_regions(struct hv_source *src, const struct hv_region **out, size_t *n,
                      struct hv_error *err);

/* Copy len bytes at target address addr into buf, in bulk (live: one
 * process_vm_readv, fallback /proc/PID/mem).  Returns the number of bytes read
 * from the start of the range (short at the first unreadable byte; 0 if none),
 * or -1 on a hard error.  Never reads outside the target's mapped memory. */
ssize_t hv_source_read(struct hv_source *src, uint64_t addr, void *buf, size_t len);

/* Threads with registers, valid while stopped (live) or always (core: NT_PRSTATUS).
 * The array stays valid until the next stop or close. */
int hv_source_threads(struct hv_source *src, const struct hv_thread **out, size_t *n,
                      struct hv_error *err);

/* Live only: non-zero while the process exists. */
int hv_source_alive(struct hv_source *src);

/* ---- shared helpers (source_common.c) ----------------------------------------- */

/* Monotonic clock in nanoseconds (for refresh timing). */
uint64_t hv_now_ns(void);

/* Find a region containing [addr, addr+len) in a sorted array, or NULL. */
const struct hv_region *hv_region_find(const struct hv_region *r, size_t n,
                                       uint64_t addr, uint64_t len);

/* Look up `name` in an ELF file (.symtab first, then .dynsym).  Returns 0, the
 * symbol's st_value and the page-aligned p_vaddr of the file's first PT_LOAD with
 * offset 0 (load bias = where that page is mapped - *base_vaddr), or -1 with a
 * reason in why[].  Only the two sources call it (implemented in source_elf.c). */
int hv_elf_symbol(const char *path, const char *name, uint64_t *value,
                  uint64_t *base_vaddr, char *why, size_t whylen);

#endif /* HEAPVIEW_SOURCE_H */
