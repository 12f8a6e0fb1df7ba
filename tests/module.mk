# tests: one Check runner (tests/check_main) built from every tests/check_*.c,
# linked against liballoc_core.a (liballoc's own entry points, not the override).
# Helper programs that tests run live in tests/progs/*.c, each built to
# $(B)/tests/progs/NAME (plain system malloc unless the test preloads liballoc).
MOD_CFLAGS_tests = -D_GNU_SOURCE -pthread $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

CHECK_SRCS := $(wildcard tests/check_*.c)
CHECK_OBJS := $(CHECK_SRCS:%.c=$(B)/%.o)
# helpers shared by the heapview suites (not a check_*.c: it registers no suite)
CHECK_OBJS += $(B)/tests/hv_testutil.o
CHECK_BIN  := $(B)/tests/check_main

TEST_PROG_SRCS := $(wildcard tests/progs/*.c)
TEST_PROGS := $(TEST_PROG_SRCS:%.c=$(B)/%)

ALL_TARGETS += $(CHECK_BIN) $(TEST_PROGS)

# liballoc integration programs: static_liballoc links liballoc.a statically;
# workload.h is shared by it and tests/progs/workload.
TEST_PROG_LDLIBS_static_liballoc = -static $(LIBALLOC_A) -lpthread
$(B)/tests/progs/workload $(B)/tests/progs/static_liballoc: tests/progs/workload.h

CLEAN_FILES += $(CHECK_BIN) $(TEST_PROGS)

$(CHECK_BIN): $(CHECK_OBJS) $(LIBALLOC_CORE)
	$(CC) $(LDFLAGS) -pthread -o $@ $(CHECK_OBJS) $(LIBALLOC_CORE) $(CHECK_LIBS) -lpthread

$(B)/tests/progs/%: tests/progs/%.c $(LIBALLOC_A)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -D_GNU_SOURCE -pthread $(LDFLAGS) -o $@ $< $(TEST_PROG_LDLIBS_$*)

# The Check runner runs last so that its summary closes the output.
check: deps-quiet real-all $(CHECK_PREREQS)
	@set -e; for s in $(CHECK_SCRIPTS); do echo "== $$s"; LA_BUILD=$(B) bash $$s; done
	LA_BUILD=$(B) $(CHECK_BIN)

# heapview's tests run the sanitized heapview against targets and liballoc.so
# from the normal build (HV_TARGET_BUILD): ASan cannot sit under a preloaded malloc.
sanitize-run: $(CHECK_BIN) $(HEAPVIEW_BIN)
	HV_TARGET_BUILD=$(CURDIR) LA_BUILD=$(B) $(CHECK_BIN)

deps-quiet:
	@bash tools/deps.sh
