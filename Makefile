# roam: plain make, C17, warnings are errors.
#   make            build/roamd and build/roam (when their sources exist)
#   make test       every test: unit, simulated network, sanitizers, fuzz, integration
#   make fuzz       each fuzz target FUZZ_SECONDS (300), growing its kept corpus
#   make bench      benchmarks (never part of make test)
#   make demo       a phone roaming from Wi-Fi to LTE behind NATs
#   make install    roamd, roam, roam@.service, man pages, bash completion (PREFIX, DESTDIR)
#   make uninstall  removes exactly those
# BUILD=dir SAN=1 builds everything with AddressSanitizer + UBSan into dir.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-strict-aliasing
LDLIBS  += -lcrypto
# Hardening: roamd parses unauthenticated UDP from the internet, so a memory
# bug should meet a canary (stack protector), checked libc calls (FORTIFY,
# which needs -O1 or more), guard-page probing for big frames (stack clash),
# CET landing pads (cf-protection), a randomised base (PIE) and a read-only
# GOT bound at start (full RELRO + BIND_NOW). tests/integration/
# test_hardening.sh reads the ELF and fails if any of it is missing.
# HARDEN=0 leaves it out (e.g. for a compiler that lacks a flag).
HARDEN  ?= 1
ifeq ($(HARDEN),1)
CFLAGS  += -fstack-protector-strong -fstack-clash-protection -fcf-protection -fPIE \
           -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
LDFLAGS += -pie -Wl,-z,relro,-z,now
endif
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

CORE_SRCS  := $(wildcard src/crypto/*.c src/core/*.c)
CORE_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
CORE_LIB   := $(BUILD)/libroamcore.a
# What roamd and roam must agree on (key encodings, the UAPI contract).
COMMON_SRCS := $(wildcard src/common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
COMMON_LIB  := $(BUILD)/libroamcommon.a
ROAMD_SRCS := $(wildcard src/roamd/*.c)
ROAM_SRCS  := $(wildcard src/roam/*.c src/roam/*/*.c)
# Everything of roamd and roam but main(), as libraries the unit tests link.
ROAMD_LIB  := $(BUILD)/libroamd.a
ROAM_LIB   := $(BUILD)/libroam.a
UNIT_SRCS  := $(wildcard tests/unit/test_*.c tests/sim/test_*.c)
UNIT_BINS  := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRCS)))
TEST_OBJS  := $(BUILD)/obj/tests/unit/test.o $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/sim/sim*.c))
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCH_BINS := $(patsubst %.c,$(BUILD)/bench/%,$(notdir $(BENCH_SRCS)))
# Traffic generators the integration tests and benchmarks drive.
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst %.c,$(BUILD)/tools/%,$(notdir $(TOOL_SRCS)))
DAEMON     := $(if $(ROAMD_SRCS),$(BUILD)/roamd)
CLI        := $(if $(ROAM_SRCS),$(BUILD)/roam)

.SECONDARY:
.PHONY: all test test-unit test-san test-fuzz test-integration bench demo install-deps install-deps-test clean install uninstall fuzz fuzz-targets
all: $(CORE_LIB) $(COMMON_LIB) $(DAEMON) $(CLI) $(UNIT_BINS) $(BENCH_BINS) $(TOOL_BINS)

# Each part sees only the headers of the parts below it: the core sees
# itself, common sees the core, roamd and roam see their own, common's and
# the core's, so neither binary can include the other's headers. Tests see
# everything.
INC_CORE   := -Isrc/core -Isrc/crypto
INC_COMMON := -Isrc/common $(INC_CORE)
$(BUILD)/obj/src/core/%.o $(BUILD)/obj/src/crypto/%.o: CPPFLAGS += $(INC_CORE)
$(BUILD)/obj/src/common/%.o: CPPFLAGS += $(INC_COMMON)
$(BUILD)/obj/src/roamd/%.o: CPPFLAGS += -Isrc/roamd $(INC_COMMON)
$(BUILD)/obj/src/roam/%.o: CPPFLAGS += -Isrc/roam -Isrc/roam/doctor $(INC_COMMON)
$(BUILD)/obj/tests/%.o $(BUILD)/obj/bench/%.o: CPPFLAGS += -Itests/unit -Itests/sim -Isrc/roamd -Isrc/roam -Isrc/roam/doctor $(INC_COMMON)

# Objects depend on the flags they were built with: a change of CFLAGS (the
# hardening flags, say) rebuilds them all instead of linking old objects.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(CPPFLAGS) $(CFLAGS)
$(shell mkdir -p $(BUILD) && { [ -f $(FLAGS_STAMP) ] && [ "$$(cat $(FLAGS_STAMP))" = '$(FLAGS_NOW)' ] || echo '$(FLAGS_NOW)' >$(FLAGS_STAMP); })
$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ROAMD_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out src/roamd/main.c,$(ROAMD_SRCS)))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ROAM_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out src/roam/main.c,$(ROAM_SRCS)))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/roamd: $(BUILD)/obj/src/roamd/main.o $(ROAMD_LIB) $(COMMON_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmnl -lcap -lseccomp -lcares

$(BUILD)/roam: $(BUILD)/obj/src/roam/main.o $(ROAM_LIB) $(COMMON_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmnl -lmicrohttpd

# A test takes from the libraries only the objects it uses; -lmnl for the
# roamd and roam parts that speak netlink.
TEST_LIBS := $(if $(ROAM_SRCS),$(ROAM_LIB)) $(if $(ROAMD_SRCS),$(ROAMD_LIB)) $(COMMON_LIB) $(CORE_LIB)
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_OBJS) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmnl -lcap -lseccomp -lmicrohttpd -lcares
$(BUILD)/tests/%: $(BUILD)/obj/tests/sim/%.o $(TEST_OBJS) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmnl -lcap -lseccomp -lmicrohttpd -lcares

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(COMMON_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(TEST_OBJS) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets: clang only, always with ASan + UBSan. Every source is
# built once with the fuzzer's coverage instrumentation into $(FUZZ_OBJ)
# (archives like the tests'), and each tests/fuzz/NAME.c links what it uses.
FUZZ_OBJ    := $(BUILD)/fuzz/obj
FUZZ_CFLAGS := -std=c17 -g -O1 -D_GNU_SOURCE -fno-sanitize-recover=all
FUZZ_SAN    := -fsanitize=address,undefined
$(FUZZ_OBJ)/src/core/%.o $(FUZZ_OBJ)/src/crypto/%.o: FUZZ_INC := $(INC_CORE)
$(FUZZ_OBJ)/src/common/%.o: FUZZ_INC := $(INC_COMMON)
$(FUZZ_OBJ)/src/roamd/%.o: FUZZ_INC := -Isrc/roamd $(INC_COMMON)
$(FUZZ_OBJ)/src/roam/%.o: FUZZ_INC := -Isrc/roam -Isrc/roam/doctor $(INC_COMMON)
$(FUZZ_OBJ)/tests/%.o: FUZZ_INC := -Itests/unit -Itests/sim -Isrc/roamd -Isrc/roam -Isrc/roam/doctor $(INC_COMMON)
$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FUZZ_INC) -MMD -MP -c -o $@ $<
FUZZ_ARCHIVE = @mkdir -p $(dir $@) && rm -f $@ && ar rcs $@ $^
$(FUZZ_OBJ)/libroamd.a: $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(filter-out src/roamd/main.c,$(ROAMD_SRCS)))
	$(FUZZ_ARCHIVE)
$(FUZZ_OBJ)/libroam.a: $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(filter-out src/roam/main.c,$(ROAM_SRCS)))
	$(FUZZ_ARCHIVE)
$(FUZZ_OBJ)/libroamcommon.a: $(COMMON_SRCS:%.c=$(FUZZ_OBJ)/%.o)
	$(FUZZ_ARCHIVE)
$(FUZZ_OBJ)/libroamcore.a: $(CORE_SRCS:%.c=$(FUZZ_OBJ)/%.o)
	$(FUZZ_ARCHIVE)
FUZZ_LIBS := $(addprefix $(FUZZ_OBJ)/,libroam.a libroamd.a libroamcommon.a libroamcore.a)
FUZZ_SIM  := $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(wildcard tests/sim/sim*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/%: $(FUZZ_OBJ)/tests/fuzz/%.o $(FUZZ_SIM) $(FUZZ_LIBS)
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lcrypto -lmnl -lcap -lseccomp -lcares -lmicrohttpd
fuzz-targets: $(FUZZ_BINS)

# What make, make demo and make install need; the tests and benchmarks add
# theirs (a Prometheus server among them) with --test.
install-deps:
	@scripts/install-deps.sh

install-deps-test:
	@scripts/install-deps.sh --test

# The whole suite; tests/run-all prints the final "N passed, M failed".
test: install-deps-test
	@tests/run-all

test-unit: all
	@tests/run-all unit

# The fuzz targets for as long as asked, each growing its kept corpus
# (tests/fuzz/run): make fuzz FUZZ_SECONDS=1800 FUZZ_TARGETS="fuzz_uapi".
fuzz: install-deps-test
	@tests/fuzz/run $(if $(FUZZ_SECONDS),-t $(FUZZ_SECONDS)) $(FUZZ_TARGETS)

bench: install-deps-test all
	@bench/run-all

demo: install-deps all
	@scripts/demo.sh

# roamd and roam side by side, as wg-quick expects a userspace
# implementation on PATH, with what an operator needs around them: the
# roam@.service unit, the man pages roam(8) and roamd(8), bash completion
# for roam. PREFIX=/usr/local, DESTDIR for packaging; the unit goes under
# $(PREFIX)/lib/systemd/system, which systemd searches for /usr/local and
# /usr alike (UNITDIR= to put it elsewhere, e.g. /lib/systemd/system).
# roamd runs as the system user "roamd" once set up (README, "Hardening and
# privileges"); it is created here unless DESTDIR is set (a package creates
# it in its maintainer scripts instead). `make uninstall` removes exactly
# the files install put there (INSTALLED lists them), not the user.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION := $(shell sed -n 's/^\#define ROAM_VERSION "\(.*\)"/\1/p' src/common/version.h)
INSTALLED := $(BINDIR)/roamd $(BINDIR)/roam $(UNITDIR)/roam@.service $(MANDIR)/man8/roam.8 \
             $(MANDIR)/man8/roamd.8 $(BASHCOMPDIR)/roam
install: $(DAEMON) $(CLI)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(DAEMON) $(CLI) $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' 'systemd/roam@.service.in' > '$(DESTDIR)$(UNITDIR)/roam@.service'
	chmod 0644 '$(DESTDIR)$(UNITDIR)/roam@.service'
	for m in roam roamd; do \
		sed 's|@VERSION@|$(VERSION)|g' man/$$m.8 > $(DESTDIR)$(MANDIR)/man8/$$m.8 && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man8/$$m.8 || exit 1; \
	done
	install -m 0644 completion/roam.bash $(DESTDIR)$(BASHCOMPDIR)/roam
	@if [ -z "$(DESTDIR)" ] && ! id -u roamd >/dev/null 2>&1; then \
		echo "useradd --system roamd"; \
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin roamd; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@# Under a DESTDIR the directories install made go too, when empty;
	@# on the system itself, directories such as /usr/local/bin stay.
	@if [ -n "$(DESTDIR)" ]; then \
		for d in $(sort $(dir $(addprefix $(DESTDIR),$(INSTALLED)))); do \
			rmdir -p --ignore-fail-on-non-empty "$$d" 2>/dev/null || true; \
		done; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(FUZZ_OBJ) -name '*.d' 2>/dev/null)
