# heapview: the viewer.
#   $(B)/heapview/heapview   the tool (engine: source_*.c snapshot.c walk.c dump.c main.c;
#                            interactive view: ui*.c)
# HEAPVIEW_LIBS: libraries heapview links with (the TUI work appends ncurses).
MOD_CFLAGS_heapview = -D_GNU_SOURCE
HEAPVIEW_LIBS := -ldw -lelf $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
# make demo, make bench-ui (the interactive view's targets)
include heapview/ui.mk

HEAPVIEW_SRCS := $(wildcard heapview/*.c)
HEAPVIEW_OBJS := $(HEAPVIEW_SRCS:%.c=$(B)/%.o)
# The engine without main() and the UI: what the fuzzer and tools link.
HEAPVIEW_ENGINE_SRCS := $(filter-out heapview/main.c heapview/ui%,$(HEAPVIEW_SRCS))
HEAPVIEW_ENGINE_OBJS := $(HEAPVIEW_ENGINE_SRCS:%.c=$(B)/%.o)
HEAPVIEW_BIN  := $(B)/heapview/heapview

ALL_TARGETS += $(HEAPVIEW_BIN)
CLEAN_FILES += $(HEAPVIEW_BIN)

$(HEAPVIEW_BIN): $(HEAPVIEW_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(HEAPVIEW_LIBS)

# Test targets for heapview (tests/progs/hv_*.c): the _static variants link liballoc.a.
TEST_PROG_LDLIBS_hv_scripted_static = -static $(LIBALLOC_A) -lpthread
TEST_PROG_LDLIBS_hv_scripted = -lpthread
$(B)/tests/progs/hv_scripted_static: tests/progs/hv_scripted.c
TEST_PROG_LDLIBS_hv_corrupt = -lpthread -ldl
TEST_PROG_LDLIBS_hv_churn = -lpthread

# ---- fuzzing the core-file reader (libFuzzer; needs clang) -------------------------
#   make fuzz [FUZZ_SECONDS=60]   runs fuzz_core on the corpus in $(B)/fuzz-out/corpus,
#                                 seeded from fuzz/seeds (shrunk kernel cores, fuzz/mkseed.py);
#                                 crashing inputs land in $(B)/fuzz-out/artifacts/.
# `make check` runs a short smoke instead (tests/check_heapview.c: mutated cores).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := $(B)/fuzz-out
FUZZ_BIN     := $(FUZZ_DIR)/fuzz_core
CLEAN_FILES  += $(FUZZ_DIR)

$(FUZZ_BIN): fuzz/fuzz_core.c $(HEAPVIEW_ENGINE_SRCS) $(wildcard heapview/*.h) $(wildcard shared/*.h)
	@mkdir -p $(dir $@)
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: needs clang with libFuzzer (apt-get install clang)" >&2; exit 1; }
	$(FUZZ_CC) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -D_GNU_SOURCE -I$(CURDIR)/shared -I$(CURDIR)/heapview -o $@ fuzz/fuzz_core.c $(HEAPVIEW_ENGINE_SRCS) -ldw -lelf

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 -timeout=10 -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus fuzz/seeds

# ---- benchmark: target stop time and snapshot/dump time for 10k/100k/1M chunks ------
#   make bench-heapview [HV_BENCH_RUNS=5]   (not part of `make bench`: tests/bench/*.c
#   are the allocator suite's programs; this one lives in tests/bench/heapview/)
HV_BENCH_BIN := $(B)/tests/bench/heapview/hv_snapshot_bench
HV_BENCH_RUNS ?= 5
ALL_TARGETS += $(HV_BENCH_BIN)
CLEAN_FILES += $(HV_BENCH_BIN)
TEST_PROG_LDLIBS_hv_bigheap =

$(HV_BENCH_BIN): tests/bench/heapview/hv_snapshot_bench.c $(HEAPVIEW_ENGINE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -D_GNU_SOURCE -I$(CURDIR)/heapview $(LDFLAGS) -o $@ $< $(HEAPVIEW_ENGINE_OBJS) $(HEAPVIEW_LIBS)

.PHONY: bench-heapview
bench-heapview: $(HV_BENCH_BIN) $(HEAPVIEW_BIN) $(LIBALLOC_SO) $(B)/tests/progs/hv_bigheap
	$(HV_BENCH_BIN) $(HEAPVIEW_BIN) $(abspath $(LIBALLOC_SO)) $(B)/tests/progs/hv_bigheap $(HV_BENCH_RUNS)
