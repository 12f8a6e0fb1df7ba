/*
 * heapview/main.c - command line, choosing a source, batch dump or interactive view.
 *
 * How data flows through heapview:
 *
 *   source (source.h)             snapshot (snapshot.h)               renderers
 *   ---------------------         ----------------------------        -------------------
 *   source_ptrace.c  live  \      snapshot.c: stop, bulk-copy the      dump.c  --dump=text|json
 *                           >---> metadata and segments, resume;  ---> ui*.c   interactive view
 *   source_core.c    core  /      walk.c: validating walk of the       (main.c: --check)
 *                                 copy -> arenas, chunks, bins,
 *                                 tcaches, mmapped, totals, problems
 *
 * main() parses the options, opens ONE source (hv_source_open_pid for -p PID,
 * hv_source_open_core for CORE [EXECUTABLE]), and then either takes one snapshot
 * and renders it (--dump / --check), or hands the open source to hv_ui_run(),
 * which takes snapshots repeatedly from it.  Only the sources touch ptrace and
 * libelf; the renderers only read the snapshot.  Errors are one line on stderr
 * ("heapview: ...") and an HV_EXIT_* status; a corrupted heap is not an error but
 * a list of problems (with --check: exit status 1).  The target of -p is never
 * left stopped: snapshots stop it only while copying, and signal handlers
 * detach it if heapview is interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "report.h"
#include "save.h"
#include "step.h"
#include "snapshot.h"
#include "source.h"
#include "ui.h"

#define HV_VERSION "0.1"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: heapview [-p PID | CORE [EXECUTABLE]] [--dump=text|json] [--check] [-d SECONDS]\n"
            "                [--no-color] [--help] [--version]\n"
            "       heapview [-p PID | CORE [EXECUTABLE]] --leaks[=collapsed] [--since N] | --history |\n"
            "                --explain ADDRESS\n"
            "       heapview [-p PID | CORE [EXECUTABLE]] --save FILE\n"
            "       heapview --diff A B\n"
            "       heapview [--step-batch | --step-lines] [--steps N] [--liballoc PATH] -- PROGRAM [ARGS]\n"
            "Show the heap of a process that uses liballoc (live, by ptrace) or of its core file.\n"
            "  -p, --pid PID      attach to a running process (stopped only while copying its heap)\n"
            "  CORE [EXECUTABLE]  read a core file; EXECUTABLE (or liballoc.so) gives the symbols when\n"
            "                     the path recorded in the core is missing or differs\n"
            "  --dump=text|json   print one snapshot and exit (no screen)\n"
            "  --check            exit 1 if the heap has problems (with --dump, after printing;\n"
            "                     alone, print only the problems)\n"
            "  --leaks            live chunks grouped by allocation site (needs LIBALLOC_OPTIONS=sites=N\n"
            "                     in the target); --leaks=collapsed: flame-graph lines 'f1;f2 bytes'\n"
            "  --since N          with --leaks: only chunks allocated after operation #N (growth)\n"
            "  --history          the recorded operations (LIBALLOC_OPTIONS=history=N in the target)\n"
            "  --explain ADDRESS  which chunk holds ADDRESS, its bin and why, and what points to it\n"
            "  --save FILE        save a snapshot: the target's memory as a small core file, readable\n"
            "                     wherever a CORE is (--diff, --leaks, the view ...)\n"
            "  --diff A B         chunks new, freed and resized from A to B (core files or saved\n"
            "                     snapshots), growth per site\n"
            "  -- PROGRAM [ARGS]  step mode: run PROGRAM on liballoc, stop after every allocator call and\n"
            "                     say what the allocator did; on a terminal in the screen (keys n c f m\n"
            "                     b, ? lists them), else as lines with commands n c f m b d v l e q\n"
            "  --step-lines       step mode as lines and commands on stdin even on a terminal\n"
            "  --step-batch       step mode without commands: print every call to the end\n"
            "  --steps N          step mode: stop after N shown calls\n"
            "  --liballoc PATH    step mode: the liballoc.so to preload\n"
            "  -d, --delay SECS   refresh period of the interactive view (default 1)\n"
            "  --no-color         monochrome interactive view (also: NO_COLOR set)\n"
            "  -h, --help         this text\n"
            "  -V, --version      version and the liballoc_debug ABI versions read\n"
            "Exit status: 0 ok, 1 problems found (--check), 2 usage, 3 no such process or file,\n"
            "4 permission denied, 5 not using liballoc, 6 bad core file, 7 ABI not readable, 8 internal.\n");
}

static int die(int status, const char *msg)
{
    fprintf(stderr, "heapview: %s\n", msg);
    return status;
}

int main(int argc, char **argv)
{
    enum { OPT_DUMP = 256, OPT_CHECK, OPT_NOCOLOR, OPT_LEAKS, OPT_SINCE, OPT_HISTORY, OPT_EXPLAIN, OPT_DIFF, OPT_STEPBATCH,
           OPT_STEPS, OPT_LIBALLOC, OPT_STEPLINES, OPT_SAVE };
    static const struct option longopts[] = {
        { "pid", required_argument, NULL, 'p' },      { "dump", optional_argument, NULL, OPT_DUMP },
        { "check", no_argument, NULL, OPT_CHECK },    { "delay", required_argument, NULL, 'd' },
        { "no-color", no_argument, NULL, OPT_NOCOLOR }, { "no-colour", no_argument, NULL, OPT_NOCOLOR },
        { "leaks", optional_argument, NULL, OPT_LEAKS }, { "since", required_argument, NULL, OPT_SINCE },
        { "history", no_argument, NULL, OPT_HISTORY },  { "explain", required_argument, NULL, OPT_EXPLAIN },
        { "diff", no_argument, NULL, OPT_DIFF },
        { "step-batch", no_argument, NULL, OPT_STEPBATCH }, { "steps", required_argument, NULL, OPT_STEPS },
        { "liballoc", required_argument, NULL, OPT_LIBALLOC },
        { "step-lines", no_argument, NULL, OPT_STEPLINES },
        { "save", required_argument, NULL, OPT_SAVE },
        { "help", no_argument, NULL, 'h' },           { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    long pid = -1;
    const char *dump = NULL;
    int check = 0;
    const char *leaks = NULL, *save = NULL;
    int history = 0, diff = 0, explain = 0;
    unsigned long long since = 0, explain_addr = 0;
    struct hv_step_opts sto = { NULL, 0, 0, 0, 0, 1.0, 1, hv_ui_run };
    int step_opt = 0, step_lines = 0;
    struct hv_ui_options uio = { 1.0, 1, 0, 0, NULL };
    if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
        uio.colour = 0;
    int c;
    while ((c = getopt_long(argc, argv, "p:d:hV", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p':
            errno = 0;
            pid = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || pid <= 0 || pid > 0x7fffffff) {
                fprintf(stderr, "heapview: invalid process id: %s\n", optarg);
                return HV_EXIT_USAGE;
            }
            break;
        case 'd':
            errno = 0;
            uio.delay_s = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(uio.delay_s >= 0.05 && uio.delay_s <= 3600)) {
                fprintf(stderr, "heapview: invalid delay (seconds, 0.05..3600): %s\n", optarg);
                return HV_EXIT_USAGE;
            }
            break;
        case OPT_DUMP:
            dump = optarg ? optarg : "text";
            if (strcmp(dump, "text") != 0 && strcmp(dump, "json") != 0) {
                fprintf(stderr, "heapview: --dump takes text or json, not '%s'\n", dump);
                return HV_EXIT_USAGE;
            }
            break;
        case OPT_CHECK:
            check = 1;
            break;
        case OPT_LEAKS:
            leaks = optarg ? optarg : "text";
            if (strcmp(leaks, "text") != 0 && strcmp(leaks, "collapsed") != 0) {
                fprintf(stderr, "heapview: --leaks takes text or collapsed, not '%s'\n", leaks);
                return HV_EXIT_USAGE;
            }
            break;
        case OPT_SINCE:
        case OPT_EXPLAIN:
            errno = 0;
            {
                unsigned long long v = strtoull(optarg, &end, 0);
                if (errno || *end || end == optarg || optarg[0] == '-') {
                    fprintf(stderr, "heapview: invalid %s: %s\n", c == OPT_SINCE ? "operation number" : "address",
                            optarg);
                    return HV_EXIT_USAGE;
                }
                if (c == OPT_SINCE)
                    since = v;
                else {
                    explain = 1;
                    explain_addr = v;
                }
            }
            break;
        case OPT_STEPBATCH:
            sto.batch = 1;
            step_opt = 1;
            break;
        case OPT_STEPS:
            errno = 0;
            sto.max_steps = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || sto.max_steps <= 0) {
                fprintf(stderr, "heapview: invalid number of steps: %s\n", optarg);
                return HV_EXIT_USAGE;
            }
            step_opt = 1;
            break;
        case OPT_SAVE:
            save = optarg;
            break;
        case OPT_STEPLINES:
            step_lines = 1;
            step_opt = 1;
            break;
        case OPT_LIBALLOC:
            sto.liballoc = optarg;
            step_opt = 1;
            break;
        case OPT_HISTORY:
            history = 1;
            break;
        case OPT_DIFF:
            diff = 1;
            break;
        case OPT_NOCOLOR:
            uio.colour = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("heapview %s (reads liballoc_debug ABI versions up to %u)\n", HV_VERSION, HV_ABI_READ);
            return 0;
        default:
            usage(stderr);
            return HV_EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
        if (nargs < 1 || pid > 0 || dump || check || leaks || history || explain || diff || save) {
            fprintf(stderr, "heapview: step mode takes -- PROGRAM [ARGS] and no other mode (see --help)\n");
            return HV_EXIT_USAGE;
        }
        /* the screen unless asked for lines or there is no terminal for one */
        const char *term = getenv("TERM");
        sto.screen = !sto.batch && !step_lines && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && term && *term &&
                     strcmp(term, "dumb") != 0;
        sto.delay_s = uio.delay_s;
        sto.colour = uio.colour;
        return hv_step_run(argv + optind, &sto);
    }
    if (step_opt) {
        fprintf(stderr, "heapview: --step-batch, --step-lines, --steps and --liballoc go with -- PROGRAM (see --help)\n");
        return HV_EXIT_USAGE;
    }
    if (diff) {
        if (pid > 0 || nargs != 2 || dump || check || leaks || history || explain || save) {
            fprintf(stderr, "heapview: --diff takes exactly two core files or saved snapshots and no other mode "
                            "(see --help)\n");
            return HV_EXIT_USAGE;
        }
        struct hv_error err = { 0, "" };
        struct hv_snapshot *s[2] = { NULL, NULL };
        for (int i = 0; i < 2; i++) {
            struct hv_source *src = hv_source_open_core(argv[optind + i], NULL, &err);
            if (!src || !(s[i] = hv_snapshot_take(src, NULL, &err))) {
                hv_source_close(src);
                hv_snapshot_free(s[0]);
                return die(err.status, err.msg);
            }
            hv_source_close(src);
        }
        hv_report_diff(stdout, s[0], s[1]);
        int st = fflush(stdout) != 0 || ferror(stdout) ? die(HV_EXIT_INTERNAL, "error writing the report") : 0;
        hv_snapshot_free(s[0]);
        hv_snapshot_free(s[1]);
        return st;
    }
    if ((leaks != NULL) + history + explain + (dump || check) + (save != NULL) > 1) {
        fprintf(stderr, "heapview: give one of --dump/--check, --leaks, --history, --explain, --save\n");
        return HV_EXIT_USAGE;
    }
    if (since && !leaks) {
        fprintf(stderr, "heapview: --since goes with --leaks\n");
        return HV_EXIT_USAGE;
    }
    if ((pid > 0 && nargs > 0) || (pid <= 0 && (nargs < 1 || nargs > 2))) {
        fprintf(stderr, "heapview: give either -p PID or CORE [EXECUTABLE] (see --help)\n");
        return HV_EXIT_USAGE;
    }
    uio.check = check;

    struct hv_error err = { 0, "" };
    struct hv_source *src = pid > 0 ? hv_source_open_pid((pid_t)pid, &err)
                                    : hv_source_open_core(argv[optind], nargs == 2 ? argv[optind + 1] : NULL, &err);
    if (!src)
        return die(err.status, err.msg);

    int status = 0;
    if (save) {
        status = hv_save_core(src, save, &err) < 0 ? die(err.status, err.msg) : 0;
        if (!status)
            printf("saved %s to %s\n", hv_source_describe(src), save);
        hv_source_close(src);
        return status;
    }
    if (leaks || history || explain) {
        struct hv_snapshot *s = hv_snapshot_take(src, NULL, &err);
        hv_source_close(src);
        if (!s)
            return die(err.status, err.msg);
        struct hv_report_opts ro = { since, leaks && strcmp(leaks, "collapsed") == 0 };
        if (leaks)
            status = hv_report_leaks(stdout, s, &ro) < 0 ? die(HV_EXIT_INTERNAL, "out of memory") : 0;
        else if (history)
            hv_report_history(stdout, s);
        else if (hv_report_explain(stdout, s, explain_addr) != 0)
            status = HV_EXIT_PROBLEMS;
        if (fflush(stdout) != 0 || ferror(stdout))
            status = die(HV_EXIT_INTERNAL, "error writing the report");
        hv_snapshot_free(s);
        return status;
    }
    if (dump || check) {
        struct hv_snapshot *s = hv_snapshot_take(src, NULL, &err);
        hv_source_close(src);
        if (!s)
            return die(err.status, err.msg);
        static char obuf[1 << 16];
        setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
        if (dump && strcmp(dump, "json") == 0)
            hv_dump_json(stdout, s);
        else if (dump)
            hv_dump_text(stdout, s);
        else {
            for (size_t i = 0; i < s->nproblems; i++)
                printf("0x%llx: %s\n", (unsigned long long)s->problems[i].addr, s->problems[i].msg);
            printf("%zu problem%s\n", s->nproblems, s->nproblems == 1 ? "" : "s");
        }
        if (fflush(stdout) != 0 || ferror(stdout))
            status = die(HV_EXIT_INTERNAL, "error writing the dump");
        else if (check && s->nproblems > 0)
            status = HV_EXIT_PROBLEMS;
        hv_snapshot_free(s);
        return status;
    }
    status = hv_ui_run(src, &uio);
    hv_source_close(src);
    return status;
}
