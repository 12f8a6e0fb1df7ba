/*
 * benchexec.c - run one benchmark process and report its resource usage.
 *
 * usage: benchexec [-p PRELOAD] [-T TIMEOUT_S] -- PROGRAM [ARGS...]
 *
 * Forks, sets LD_PRELOAD=PRELOAD in the child only (so this launcher keeps the
 * system malloc whatever is being measured), execs PROGRAM with its stdout
 * going where ours goes, and waits for it with wait4().  When the child is
 * gone it prints, after the child's own output:
 *     maxrss_kb N        peak resident set of the child (ru_maxrss)
 *     wall S             wall-clock seconds of the whole child process
 *     user S / sys S     CPU seconds
 *     status ok | exit N | signal N | timeout
 * A child still running after TIMEOUT_S seconds (default 120) is killed
 * (SIGKILL to its process group) and reported as "status timeout".  The exit
 * code is 0 only for "status ok".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    if (child > 0)
        kill(-child, SIGKILL);
}

/* The child has its own process group (so a timeout kills all of it): pass an
 * interrupt of the runner on to it, then die of the same signal. */
static void on_interrupt(int sig)
{
    if (child > 0)
        kill(-child, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    const char *preload = NULL;
    long timeout = 120;
    int c;
    while ((c = getopt(argc, argv, "+p:T:")) != -1) {
        char *end;
        switch (c) {
        case 'p':
            preload = optarg;
            break;
        case 'T':
            errno = 0;
            timeout = strtol(optarg, &end, 10);
            if (errno || *end || timeout < 1 || timeout > 86400) {
                fprintf(stderr, "benchexec: -T wants seconds 1..86400, got '%s'\n", optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: benchexec [-p PRELOAD] [-T TIMEOUT_S] -- PROGRAM [ARGS...]\n");
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: benchexec [-p PRELOAD] [-T TIMEOUT_S] -- PROGRAM [ARGS...]\n");
        return 2;
    }
    if (preload && access(preload, R_OK) != 0) {
        fprintf(stderr, "benchexec: cannot read preload library %s: %s\n", preload, strerror(errno));
        return 2;
    }
    fflush(stdout);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    child = fork();
    if (child < 0) {
        fprintf(stderr, "benchexec: fork: %s\n", strerror(errno));
        return 2;
    }
    if (child == 0) {
        setpgid(0, 0);
        if (preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "benchexec: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    setpgid(child, child); /* also from the parent: no race with the kill */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    alarm((unsigned)timeout);

    int st;
    struct rusage ru;
    pid_t r;
    while ((r = wait4(child, &st, 0, &ru)) < 0 && errno == EINTR)
        ;
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r < 0) {
        fprintf(stderr, "benchexec: wait4: %s\n", strerror(errno));
        return 2;
    }
    printf("maxrss_kb %ld\n", ru.ru_maxrss);
    printf("wall %.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    printf("user %.6f\n", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6);
    printf("sys %.6f\n", (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
    if (timed_out)
        printf("status timeout\n");
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        printf("status ok\n");
    else if (WIFEXITED(st))
        printf("status exit %d\n", WEXITSTATUS(st));
    else
        printf("status signal %d\n", WTERMSIG(st));
    return (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : 1;
}
