/*
 * tests/hv_testutil.h - helpers shared by the heapview suites (check_heapview.c,
 * check_heapview_trace.c, check_ui.c).
 *
 * Each suite had its own copy of these; they live here so that a fix to one
 * (how a target is started and its pointers read, how a child is reaped, how a
 * deadline is kept) is made once.  Only helpers that behaved the same in every
 * suite were moved; the ones that differ (starting targets, running heapview
 * itself, ui's absolute target paths) stay in their suites.
 *
 * A target (tests/progs/hv_scripted.c, hv_corrupt.c, ...) prints, before the
 * line READY, one line per pointer "P <addr> <state> <bin> <thread> <arena>",
 * per thread "T <name> <tid>" and per corruption "C <mode> <addr>";
 * hv_target_read_ready() reads those into a struct hv_target.
 */
#ifndef TESTS_HV_TESTUTIL_H
#define TESTS_HV_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct ptr {
    unsigned long long p;
    char state[16], bin[16], thread[16], arena[16];
};

struct target {
    pid_t pid;
    FILE *out;
    char hb[300];
    struct ptr ptr[128];
    int n;
    char thname[4][16];
    long tid[4];
    int nth;
    char corr[8][16];                  /* hv_corrupt: "C <mode> <address>" */
    unsigned long long corr_addr[8];   /* up to 8 corruptions per target */
    int ncorr;
};

/* heapview's result: exit status (or 128+signal), its stdout and stderr. */
struct run {
    int status;
    char *out, *err;
};

/* Monotonic clock in seconds. */
double hv_now_s(void);

/* A path under the build directory for targets and liballoc.so: under
 * HV_TARGET_BUILD when set (`make sanitize` runs a sanitized heapview against the
 * normal build's targets), else the runner's build directory.  Four rotating
 * buffers. */
const char *hv_target_path(const char *rel);

/* mkdtemp(templ) into dir (asserts success); rm -rf dir (who names the suite in
 * the message if that fails). */
void hv_make_tmpdir(char *dir, size_t len, const char *templ);
void hv_rm_tmpdir(const char *dir, const char *who);

/* The whole file, NUL-terminated, malloc'd; NULL if it cannot be opened.
 * *len (if len) is its length. */
char *hv_slurp(const char *path, size_t *len);

/* The State letter of /proc/PID/status, 0 if there is none. */
char hv_proc_state(pid_t pid);

/* SIGKILL and reap *pid (if > 0) and close *out (if any); both are cleared. */
void hv_stop_child(pid_t *pid, FILE **out);

/* Wait for child pid; after timeout_s kill it and fail the test with
 * "heapview did not finish within N s".  Returns exit status or 128+signal. */
int hv_wait_deadline(pid_t pid, double timeout_s);

void hv_run_free(struct run *r);

/* Run heapview (the runner's build) with args (NULL-terminated), its output
 * in dir/hv.out and dir/hv.err; input: text for its stdin (NULL: /dev/null);
 * env "NAME=VALUE" or NULL; as_uid >= 0 drops to that uid.  Killed (and the
 * test failed) after timeout_s. */
struct run hv_run_heapview(const char *dir, const char *const *args, const char *input, const char *env, int as_uid,
                           double timeout_s);

/* Read the target's lines up to READY into t (fails the test naming prog if it
 * exits first). */
void hv_target_read_ready(struct target *t, const char *prog);

/* hv_stop_child on the target. */
void hv_stop_target(struct target *t);

/* The tid the target printed for thread name, -1 if none. */
long hv_target_tid(const struct target *t, const char *name);

/* The number in the target's heartbeat file (0 if none yet). */
unsigned long hv_heartbeat(const struct target *t);

/* Kernel core dumps in the target's directory: read core_pattern into pat; if it
 * pipes or places cores elsewhere, set it to "core" (fails the test if that is
 * not possible) and return 1, else 0.  hv_core_pattern_restore(pat, changed)
 * puts the old pattern back. */
int hv_core_pattern_plain(char *pat, size_t len);
void hv_core_pattern_restore(const char *pat, int changed);

#endif
