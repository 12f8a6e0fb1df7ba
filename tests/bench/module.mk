# tests/bench: the benchmark suite (prints tables, asserts nothing; not part of
# `make check`).  Every tests/bench/*.c is one program, built against the
# system malloc into $(B)/tests/bench/bin/; run.sh runs them under each
# allocator with LD_PRELOAD.  The programs are part of `make` (all) so that they
# keep compiling with -Werror.
#   make bench          full suite: 5 interleaved runs, all allocators found,
#                       table also in $(B)/tests/bench/results.txt
#   make bench-quick    1 run at reduced size, for development
#   make bench BENCH_ARGS="--runs 3 --only larson,churn-1t"   (see run.sh -h)
#   bash tests/bench/profile.sh BENCH ALLOCATOR   top functions of one benchmark
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(B)/tests/bench/bin/%)
BENCH_RESULTS := $(B)/tests/bench/results.txt

ALL_TARGETS += $(BENCH_BINS)
CLEAN_FILES += $(B)/tests/bench/bin $(BENCH_RESULTS) $(B)/tests/bench/results-quick.txt

$(B)/tests/bench/bin/%: tests/bench/%.c tests/bench/bench.h tests/bench/falseshare.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -D_GNU_SOURCE -pthread $(LDFLAGS) -o $@ $< -ldl

.PHONY: bench-quick bench-liballoc bench-peers

# liballoc is measured when it builds; the suite still runs (and says so) when
# it does not.
bench-liballoc:
	@out=$$($(MAKE) --no-print-directory $(LIBALLOC_SO) 2>&1) || { \
	    echo "bench: $(LIBALLOC_SO) does not build, liballoc is left out of this run:" >&2; \
	    echo "$$out" | tail -n 3 | sed 's/^/    /' >&2; }

# The peers (jemalloc, tcmalloc, mimalloc) and valgrind are installed when
# missing and we are root (tools/deps.sh); otherwise the runner skips them.
bench-peers:
	@WITH_BENCH_PEERS=1 bash tools/deps.sh || echo "bench: peers not installed; the runner skips what is missing" >&2

bench: $(BENCH_BINS) bench-liballoc bench-peers
	bash tests/bench/run.sh --bin $(B)/tests/bench/bin --liballoc $(LIBALLOC_SO) -o $(BENCH_RESULTS) $(BENCH_ARGS)

bench-quick: $(BENCH_BINS) bench-liballoc bench-peers
	bash tests/bench/run.sh --quick --bin $(B)/tests/bench/bin --liballoc $(LIBALLOC_SO) -o $(B)/tests/bench/results-quick.txt $(BENCH_ARGS)
