# liballoc: the allocator.
#   $(B)/liballoc/liballoc.so      drop-in (LD_PRELOAD): malloc, free, ... + liballoc_* + liballoc_debug
#   $(B)/liballoc/liballoc.a       the same, to link statically
#   $(B)/liballoc/liballoc_core.a  only the liballoc_* entry points (no malloc/free names):
#                                  what the unit tests link, so Check keeps the system malloc
MOD_CFLAGS_liballoc = -fPIC -fvisibility=hidden -ftls-model=initial-exec -fno-plt -D_GNU_SOURCE \
	-fno-reorder-functions -fno-reorder-blocks-and-partition -fno-stack-protector \
	$(if $(filter 1,$(LA_BMI2)),-mbmi2)

# BMI2 (rorx): the ownership-window tests on malloc's and free's inline paths
# are one instruction shorter with it (internal.h, la_win_in).  On by default
# when the build machine has it (x86-64 CPUs since 2013-2015); then la_init
# refuses, with a message, a CPU without it.  LA_BMI2=0 builds for any
# x86-64.  Both builds of bench_harden (hardened and noextra) get the same flags.
LA_BMI2 ?= $(shell grep -qw bmi2 /proc/cpuinfo 2>/dev/null && echo 1 || echo 0)

# All of liballoc's code goes into one section, liballoc_text, so the linker's
# __start_liballoc_text/__stop_liballoc_text bound it (liballoc_debug.text_start
# and text_end: heapview treats a thread stopped in there as mid-operation).
# -fno-reorder-functions and -fno-reorder-blocks-and-partition keep every
# function in .text; the rule fails if anything else executable is left.
# Code that runs once or only on request (start-up, options, fork handlers,
# statistics, the heap checker and abort path, tracing) is built for size:
# liballoc.so's pages are part of every process's resident set (the kernel
# maps a library's cached pages around each fault), and these files are a
# third of the code (text 49.6 KiB -> 45 KiB, one page less).
LIBALLOC_COLD := check debug fork options stats trace
$(LIBALLOC_COLD:%=$(B)/liballoc/%.o) $(LIBALLOC_COLD:%=$(B)/liballoc/noextra/%.o): LA_COLD_CFLAGS := -Os

$(B)/liballoc/%.o: liballoc/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(MOD_CFLAGS_liballoc) $(LA_COLD_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp
	objcopy --rename-section .text=liballoc_text,alloc,load,readonly,code,contents $@.tmp
	@if readelf -SW $@.tmp | grep -E ' \.text[.a-z_]* ' | grep -q ' AX '; then \
	    echo "$@: code outside liballoc_text" >&2; rm -f $@.tmp; exit 1; fi
	@mv $@.tmp $@

LIBALLOC_SRCS := $(filter-out liballoc/override.c,$(wildcard liballoc/*.c))
LIBALLOC_OBJS := $(LIBALLOC_SRCS:%.c=$(B)/%.o)
LIBALLOC_OVERRIDE_OBJ := $(B)/liballoc/override.o

LIBALLOC_SO   := $(B)/liballoc/liballoc.so
LIBALLOC_A    := $(B)/liballoc/liballoc.a
LIBALLOC_CORE := $(B)/liballoc/liballoc_core.a

ALL_TARGETS += $(LIBALLOC_SO) $(LIBALLOC_A) $(LIBALLOC_CORE) $(B)/liballoc/liballoc.pc
CLEAN_FILES += $(LIBALLOC_SO) $(LIBALLOC_A) $(LIBALLOC_CORE) $(B)/liballoc/liballoc.pc

$(LIBALLOC_SO): $(LIBALLOC_OBJS) $(LIBALLOC_OVERRIDE_OBJ)
	$(CC) -shared -Wl,-soname,liballoc.so -Wl,-z,nodelete $(LDFLAGS) -o $@ $^ -lpthread

$(LIBALLOC_A): $(LIBALLOC_OBJS) $(LIBALLOC_OVERRIDE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(LIBALLOC_CORE): $(LIBALLOC_OBJS)
	rm -f $@ && ar rcs $@ $^

# The same library with the beyond-glibc hardening compiled out
# (-DLA_HARDEN_EXTRA=0), to measure what those checks cost:
#   make liballoc-noextra   ->  $(B)/liballoc/liballoc-noextra.so and liballoc-noextra.a
# Not part of `make all`.  Its objects go to $(B)/liballoc/noextra/.
LIBALLOC_NOEXTRA_OBJS := $(LIBALLOC_SRCS:liballoc/%.c=$(B)/liballoc/noextra/%.o) $(B)/liballoc/noextra/override.o
LIBALLOC_NOEXTRA_SO := $(B)/liballoc/liballoc-noextra.so
LIBALLOC_NOEXTRA_A  := $(B)/liballoc/liballoc-noextra.a
CLEAN_FILES += $(LIBALLOC_NOEXTRA_SO) $(LIBALLOC_NOEXTRA_A) $(B)/liballoc/noextra

.PHONY: liballoc-noextra bench-harden
liballoc-noextra: $(LIBALLOC_NOEXTRA_SO) $(LIBALLOC_NOEXTRA_A)

# Both builds side by side on the benchmark suite (liballoc/bench_harden.sh).
bench-harden: real-all liballoc-noextra
	LA_BUILD=$(B) bash liballoc/bench_harden.sh $(HARDEN_RUNS)

$(B)/liballoc/noextra/%.o: liballoc/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(MOD_CFLAGS_liballoc) $(LA_COLD_CFLAGS) -DLA_HARDEN_EXTRA=0 -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp
	objcopy --rename-section .text=liballoc_text,alloc,load,readonly,code,contents $@.tmp
	@mv $@.tmp $@

$(LIBALLOC_NOEXTRA_SO): $(LIBALLOC_NOEXTRA_OBJS)
	$(CC) -shared -Wl,-soname,liballoc.so -Wl,-z,nodelete $(LDFLAGS) -o $@ $^ -lpthread

$(LIBALLOC_NOEXTRA_A): $(LIBALLOC_NOEXTRA_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/liballoc/liballoc.pc: liballoc/liballoc.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' $< > $@

install: $(LIBALLOC_SO) $(LIBALLOC_A) $(B)/liballoc/liballoc.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 755 $(LIBALLOC_SO) $(DESTDIR)$(LIBDIR)/liballoc.so
	install -m 644 $(LIBALLOC_A) $(DESTDIR)$(LIBDIR)/liballoc.a
	install -m 644 liballoc/liballoc.h $(DESTDIR)$(INCDIR)/liballoc.h
	sed -e 's|@PREFIX@|$(PREFIX)|' liballoc/liballoc.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/liballoc.pc
	install -m 644 man/liballoc.3 $(DESTDIR)$(MANDIR)/man3/liballoc.3
