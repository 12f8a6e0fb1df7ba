# heapview: the viewer.
#   $(B)/heapview/heapview   the tool (engine: source_*.c snapshot.c walk.c dump.c main.c;
#                            interactive view: ui*.c)
# HEAPVIEW_LIBS: libraries heapview links with (the TUI work appends ncurses).
MOD_CFLAGS_heapview = -D_GNU_SOURCE
HEAPVIEW_LIBS := -lelf

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
TEST_PROG_LDLIBS_hv_corrupt = -lpthread
