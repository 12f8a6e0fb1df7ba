# liballoc + heapview - one non-recursive GNU make.
#
#   make                 build liballoc/liballoc.so, liballoc/liballoc.a, heapview/heapview, tests
#   make check           run every test (Check runner last: its summary closes the output)
#   make bench           run the benchmark suite (prints tables, asserts nothing)
#   make demo            open heapview on a teaching workload
#   make sanitize        build heapview and the unit tests with ASan/UBSan into build-san/ and run them
#   make install         PREFIX=/usr/local DESTDIR=
#   make clean
#
# B is the build directory (default: in the source tree, so the libraries land at
# liballoc/liballoc.so and liballoc/liballoc.a).  Each part of the project adds
# its rules in its own module.mk.

B        ?= .
CC       ?= cc
CFLAGS   ?= -O2 -g
WARNFLAGS ?= -Wall -Wextra -Werror
LDFLAGS  ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR    = $(PREFIX)/bin
LIBDIR    = $(PREFIX)/lib
INCDIR    = $(PREFIX)/include
MANDIR    = $(PREFIX)/share/man
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

BASE_CFLAGS = -std=gnu11 $(WARNFLAGS) -I$(CURDIR)/shared -I$(CURDIR)/liballoc $(CFLAGS)

ALL_TARGETS   :=
CLEAN_FILES   :=
# Scripts and programs `make check` runs before the Check runner; each must exit 0.
CHECK_PREREQS :=
CHECK_SCRIPTS :=

.PHONY: install-heapview all check bench demo sanitize install uninstall clean fuzz deps

all: real-all

include liballoc/module.mk
include heapview/module.mk
include tests/module.mk
include tests/bench/module.mk

real-all: $(ALL_TARGETS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(MOD_CFLAGS_$(firstword $(subst /, ,$<))) -MMD -MP -c $< -o $@

-include $(shell find $(B) -name '*.d' 2>/dev/null)

deps:
	@bash tools/deps.sh

# Sanitizer build of heapview and the unit tests (not of liballoc.so: it is
# preloaded into other programs, where ASan cannot sit under it).
sanitize:
	$(MAKE) all
	$(MAKE) B=build-san CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" sanitize-run

# heapview and its man page (liballoc's part of install is in liballoc/module.mk).
install: install-heapview
install-heapview: $(HEAPVIEW_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(HEAPVIEW_BIN) $(DESTDIR)$(BINDIR)/heapview
	install -m 644 man/heapview.1 $(DESTDIR)$(MANDIR)/man1/heapview.1

clean:
	rm -rf $(CLEAN_FILES) build-san
	find . -name '*.o' -o -name '*.d' | xargs rm -f
