# keyhole -- GNU Make build.  `make` builds build/keyhole; `make test` builds
# with ASan+UBSan and runs the unit (cmocka) and integration (pytest) tests.

CC	?= cc
PKGS	 = libevent_core libevent_extra libevent_openssl openssl jansson \
	   libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wformat=2
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -Ibuild/gen \
	   $(PKG_CFLAGS) -fstack-protector-strong -D_FORTIFY_SOURCE=2
LIBS	 = -Wl,--as-needed -Wl,-O1 $(PKG_LIBS) -lhttp_parser -ldl
# The release binary links the libraries' static archives (glibc stays
# shared): the dynamic loader's symbol lookups for libcrypto alone cost
# 0.8 ms per start (bench/startup).  The price: a library update needs a
# rebuild.  STATIC=no links everything dynamically.
STATIC	?= yes
# Relative relocations packed as DT_RELR (glibc >= 2.36, Debian 12): the
# static OpenSSL brings 19k of them, and as RELA they are a 462 KB table
# the loader reads at every start and that stays resident (bench/README).
RELR	:= -Wl,-z,pack-relative-relocs
# The static libcrypto's CPU probe moved from .init to OpenSSL's first use
# (src/proxy/cpuid.c): cpuid traps in a VM, ~50 us of every start.
CPUID	:= -Wl,--wrap=OPENSSL_cpuid_setup -Wl,-u,__wrap_OPENSSL_cpuid_setup
# Every error OpenSSL queues is seen entering (src/proxy/errqueue.c), so an
# empty queue need not be looked at: only where libssl and libcrypto are
# linked in, so that their own calls to ERR_new come through the wrapper.
ERRQ	:= -Wl,--wrap=ERR_new -Wl,--wrap=ERR_peek_error \
	   -Wl,--wrap=ERR_set_mark -Wl,--wrap=ERR_clear_last_mark
ifeq ($(STATIC),yes)
REL_LIBS = $(RELR) $(CPUID) $(ERRQ) -Wl,-O1 -Wl,-Bstatic \
	   $(filter-out -ldl -pthread,$(shell pkg-config --static --libs $(PKGS) 2>/dev/null)) \
	   -lhttp_parser -Wl,-Bdynamic -ldl -pthread
else
REL_LIBS = $(LIBS)
endif
# OpenSSL on first use (docs/HACKING.md): on x86_64 the static release
# binary leaves libssl and libcrypto to build/keyhole-tls.so, loaded at the
# first call into them (src/util/tlslib.c), because relocating their data
# cost ~0.25 ms of every start and most starts never use TLS.  TLSSPLIT=no
# links them into build/keyhole as before.
ifeq ($(STATIC)-$(shell uname -m),yes-x86_64)
TLSSPLIT ?= yes
else
TLSSPLIT := no
endif

SAN	 = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined

SRCS	:= $(shell find src -name '*.c' | sort)
LIBSRCS	:= $(filter-out src/main.c,$(SRCS))
DATA	:= $(sort $(wildcard data/*.json))
GENSRCS	:= $(patsubst data/%.json,build/gen/data_%.c,$(DATA)) \
	   build/gen/policy_builtin.c build/gen/seccomp_builtin.c
UNIT	:= $(sort $(wildcard tests/unit/test_*.c))

# Release objects in build/obj, sanitizer objects in build/asan/obj.
OBJS	 := $(patsubst %.c,build/obj/%.o,$(LIBSRCS) $(GENSRCS:build/gen/%=gen/%))
AOBJS	 := $(patsubst %.c,build/asan/obj/%.o,$(LIBSRCS) $(GENSRCS:build/gen/%=gen/%))
UNITBINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT))
# Every fuzz target linked with fuzz/replay.c instead of libFuzzer: the
# seed corpora and saved crashes run through them in make test.
FUZZT	:= $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
REPLAYBINS := $(patsubst %,build/asan/fuzz/replay_%,$(FUZZT))
# Small programs the integration tests run inside the sandbox.
HELPERS	:= $(patsubst tests/helpers/%.c,build/helpers/%,$(sort $(wildcard tests/helpers/*.c)))

.PHONY: all asan tsan test unit integration demo clean deps bench fuzz memcheck \
	compilers fuzz-replay fuzz-smoke man completions install uninstall \
	deb FORCE

all: build/keyhole

# Keep generated sources (data embedding) between runs.
.SECONDARY:

deps:
	@sh scripts/deps.sh

build/gen/data_%.c: data/%.json scripts/embed.sh
	@mkdir -p $(@D)
	sh scripts/embed.sh data_$(subst -,_,$*)_json $< > $@.tmp && mv $@.tmp $@

# The policy groups compiled into C (nothing parsed at run time).
build/gen/policy_builtin.c: data/policy.json scripts/policygen.py
	@mkdir -p $(@D)
	$(PYTHON) scripts/policygen.py data/policy.json > $@.tmp && mv $@.tmp $@

# The seccomp programs compiled with libseccomp at build time (a start no
# longer pays 65-275 us for it): a generator built from the rules.
SECCOMPGEN_SRCS	:= scripts/seccompgen.c src/sandbox/seccomp_rules.c \
	   src/util/errbuf.c src/util/xmalloc.c
build/gen/seccompgen: $(SECCOMPGEN_SRCS) src/sandbox/seccomp_gen.h \
    src/sandbox/seccomp.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $(SECCOMPGEN_SRCS) \
	    $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)

build/gen/seccomp_builtin.c: build/gen/seccompgen
	$< > $@.tmp && mv $@.tmp $@

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

build/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

build/asan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	@echo "  CC/SAN  $<"
	@$(CC) $(ALL_CFLAGS) $(SAN) -O1 -MMD -MP -c -o $@ $<

build/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/SAN  $<"
	@$(CC) $(ALL_CFLAGS) $(SAN) -O1 -MMD -MP -c -o $@ $<

build/libkeyhole.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^

build/asan/libkeyhole.a: $(AOBJS)
	rm -f $@ && ar rcs $@ $^

# ioctl goes through src/proxy/nofionread.c (libevent's FIONREAD before
# every read is refused: one system call in three of a routed request);
# ERR_clear_error through src/proxy/errqueue.c (an empty queue is left
# alone instead of walked: 5 % of a routed request's instructions).
ERRCLR	:= -Wl,--wrap=ERR_clear_error
WRAP	:= -Wl,--wrap=ioctl $(ERRCLR)

ifeq ($(TLSSPLIT),yes)
# The executable: everything but the two files that wrap OpenSSL's own
# calls (they go into the library), libevent_openssl and a trampoline for
# every OpenSSL function called (scripts/tlsgen.py).
TLSOBJS	:= build/obj/src/proxy/errqueue.o build/obj/src/proxy/cpuid.o
# tlslib.c as the trampolines need it (build/libkeyhole.a keeps the plain
# one: the benchmarks link it with OpenSSL itself).
EXEOBJS	:= $(filter-out $(TLSOBJS) build/obj/src/util/tlslib.o,$(OBJS)) \
	   build/split/obj/src/util/tlslib.o
TLSPIC	:= $(patsubst build/obj/%,build/pic/%,$(TLSOBJS))
ARCHDIR	:= $(shell pkg-config --variable=libdir openssl 2>/dev/null)
EXE_LIBS = $(RELR) -Wl,-O1 -Wl,-Bstatic \
	   $(filter-out -lssl -lcrypto -ldl -pthread,$(shell pkg-config --static --libs $(PKGS) 2>/dev/null)) \
	   -lhttp_parser -Wl,-Bdynamic -ldl -pthread
TLS_LIBS = $(RELR) $(CPUID) $(ERRQ) $(ERRCLR) -Wl,-O1 \
	   -Wl,-z,now -Wl,-z,relro -Wl,-z,defs -Wl,-Bsymbolic -Wl,-Bstatic \
	   $(filter-out -ldl -pthread,$(shell pkg-config --static --libs openssl 2>/dev/null)) \
	   -Wl,-Bdynamic -ldl -pthread

build/split/obj/src/util/tlslib.o: src/util/tlslib.c
	@mkdir -p $(@D)
	@echo "  CC      $< (split)"
	@$(CC) $(ALL_CFLAGS) -DKEYHOLE_TLSSPLIT -MMD -MP -c -o $@ $<

build/pic/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/PIC  $<"
	@$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

build/libkeyhole-exe.a: $(EXEOBJS)
	rm -f $@ && ar rcs $@ $^

# The executable's link wraps what WRAP and ERRQ name: tlsgen.py reads
# the names from those flags.
build/gen/tls_symbols.txt: build/obj/src/main.o $(EXEOBJS) $(TLSPIC) \
    scripts/tlsgen.py
	@mkdir -p $(@D)
	$(PYTHON) scripts/tlsgen.py list $@.tmp "$(WRAP) $(ERRQ)" \
	    build/obj/src/main.o $(EXEOBJS) $(ARCHDIR)/libevent_openssl.a -- \
	    $(ARCHDIR)/libssl.a $(ARCHDIR)/libcrypto.a $(TLSPIC) && mv $@.tmp $@

build/gen/tls_stubs.S: build/gen/tls_symbols.txt
	$(PYTHON) scripts/tlsgen.py stubs $< > $@.tmp && mv $@.tmp $@

build/gen/tls_exports.map: build/gen/tls_symbols.txt
	$(PYTHON) scripts/tlsgen.py exports $< > $@.tmp && mv $@.tmp $@

build/gen/tls_extern.ld: build/gen/tls_symbols.txt
	$(PYTHON) scripts/tlsgen.py extern $< > $@.tmp && mv $@.tmp $@

build/obj/gen/tls_stubs.o: build/gen/tls_stubs.S
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

build/keyhole-tls.so: $(TLSPIC) build/gen/tls_exports.map \
    build/gen/tls_extern.ld
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -fPIC -o $@ $(TLSPIC) \
	    build/gen/tls_extern.ld \
	    -Wl,--version-script=build/gen/tls_exports.map $(TLS_LIBS)

build/keyhole: build/obj/src/main.o build/libkeyhole-exe.a \
    build/obj/gen/tls_stubs.o build/keyhole-tls.so
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ build/obj/src/main.o \
	    build/obj/gen/tls_stubs.o build/libkeyhole-exe.a $(WRAP) \
	    $(ERRQ) $(EXE_LIBS)
else
build/keyhole: build/obj/src/main.o build/libkeyhole.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(WRAP) $(REL_LIBS)
endif

build/asan/keyhole: build/asan/obj/src/main.o build/asan/libkeyhole.a
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(WRAP) $(LIBS)

build/asan/tests/%: tests/unit/%.c build/asan/libkeyhole.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -Itests/unit -o $@ $< \
	    build/asan/libkeyhole.a $(WRAP) $(LIBS) \
	    $(shell pkg-config --libs cmocka)

build/asan/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h \
    build/asan/libkeyhole.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -o $@ fuzz/fuzz_$*.c fuzz/replay.c \
	    build/asan/libkeyhole.a $(WRAP) $(LIBS)

# Its test raises every error itself, so it can check the tracking too.
build/asan/tests/test_errqueue: WRAP += $(ERRQ)

asan: build/asan/keyhole $(UNITBINS) $(HELPERS) $(REPLAYBINS)

# ThreadSanitizer (scripts/tsan.sh runs the mediator's stress tests with
# it): objects in build/tsan/obj, built with clang, libraries linked
# dynamically and not instrumented.  Not part of make test (time).
TSAN_CC	?= clang
TSAN	 = -fsanitize=thread -fno-omit-frame-pointer -O1 -g
TOBJS	:= $(patsubst %.c,build/tsan/obj/%.o,$(LIBSRCS) $(GENSRCS:build/gen/%=gen/%))

build/tsan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	@echo "  CC/TSAN $<"
	@$(TSAN_CC) $(ALL_CFLAGS) $(TSAN) -MMD -MP -c -o $@ $<

build/tsan/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/TSAN $<"
	@$(TSAN_CC) $(ALL_CFLAGS) $(TSAN) -MMD -MP -c -o $@ $<

build/tsan/libkeyhole.a: $(TOBJS)
	rm -f $@ && ar rcs $@ $^

build/tsan/keyhole: build/tsan/obj/src/main.o build/tsan/libkeyhole.a
	$(TSAN_CC) $(ALL_CFLAGS) $(TSAN) -o $@ $^ $(WRAP) $(LIBS)

tsan: build/tsan/keyhole $(HELPERS)

# Helpers are plain (no sanitizer): they run under seccomp and Landlock.
build/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -std=c17 -D_GNU_SOURCE $(WARN) -O1 -g -o $@ $< -lpthread

unit: $(UNITBINS)
	@set -e; for t in $(UNITBINS); do \
		echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 $$t; \
	done

# Every seed and every saved crash through its target once (fuzz/replay.sh).
fuzz-replay: $(REPLAYBINS)
	sh fuzz/replay.sh

# A short libFuzzer run of every target, in make test (about 30 s with
# the clang build); make fuzz is the long run.
# The smoke: FUZZ_SMOKE_RUNS inputs per target from seed 1 (the same run
# every time); the seconds only cap a slow machine.
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_SMOKE_SECONDS ?= 60
fuzz-smoke:
	FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_RUNS=$(FUZZ_SMOKE_RUNS) \
	    FUZZ_SEED=1 sh fuzz/run.sh

integration: build/asan/keyhole build/keyhole man
	KEYHOLE=$(CURDIR)/build/asan/keyhole \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# The other compiler must stay clean too (gcc builds everything above).
OTHER_CC ?= clang
compilers: build/gen/data_network-policy.c build/gen/data_policy.c \
	    build/gen/policy_builtin.c build/gen/seccomp_builtin.c
	@echo "  CHECK   $(OTHER_CC) -Werror over src/"
	@set -e; for f in $(SRCS) build/gen/policy_builtin.c \
	    build/gen/seccomp_builtin.c scripts/seccompgen.c; do \
		$(OTHER_CC) $(ALL_CFLAGS) -c -o /dev/null $$f; \
	done
	@$(OTHER_CC) $(ALL_CFLAGS) -DKEYHOLE_TLSSPLIT -c -o /dev/null \
	    src/util/tlslib.c

test: deps
	$(MAKE) compilers
	$(MAKE) asan
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) fuzz-smoke
	$(MAKE) integration

demo: deps
	$(MAKE) build/keyhole
	sh scripts/demo.sh

# Benchmarks (never tests): figures go to bench/README.md.
bench: deps
	sh scripts/deps-bench.sh
	$(MAKE) build/keyhole
	bench/connect_throughput
	bench/startup
	bench/reverse_rate
	bench/proxy_ops

# libFuzzer targets, FUZZ_SECONDS each (default 60): the long run.
fuzz: deps
	sh fuzz/run.sh

# A fast subset of the proxy integration tests under valgrind.
memcheck: deps
	$(MAKE) build/keyhole
	sh scripts/memcheck.sh

# ---- Distribution (SPEC §10) ----

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
DATADIR	?= $(PREFIX)/share
MANDIR	?= $(DATADIR)/man
DOCDIR	?= $(DATADIR)/doc/keyhole
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
EXAMPLEDIR  ?= $(DATADIR)/keyhole/examples
# Where build/keyhole looks for keyhole-tls.so when it is not beside it
# (src/util/tlslib.c): ../lib/keyhole from the executable's directory.
TLSLIBDIR := $(dir $(BINDIR))lib/keyhole
INSTALL	?= install
PYTHON	?= /usr/bin/python3

MANPAGES := build/man/keyhole.1 build/man/keyhole-profile.5
EXAMPLES := $(sort $(wildcard examples/*.json))
GUIDE	 := $(sort $(wildcard docs/guide/*.md))
# The user pages of docs/ (HACKING.md is for developers).
USERDOCS := $(filter-out docs/HACKING.md,$(sort $(wildcard docs/*.md)))
COMPLETIONS := completions/keyhole.bash completions/_keyhole \
	   completions/keyhole.fish

man: $(MANPAGES)

# The man pages name PREFIX (where the examples are): rebuild when it changes.
build/man/prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
FORCE:

# Options, environment variables and version come from the binary's help.
build/man/keyhole.1: man/keyhole.1.scd build/keyhole build/man/prefix \
	    scripts/mangen.py scripts/helpparse.py
	@mkdir -p $(@D)
	$(PYTHON) scripts/mangen.py build/keyhole $< '$(PREFIX)' > $@.scd
	scdoc < $@.scd > $@.tmp && mv $@.tmp $@

# keyhole-profile(5) is docs/profile-format.md.
build/man/keyhole-profile.5: docs/profile-format.md build/keyhole \
	    scripts/md2scd.py
	@mkdir -p $(@D)
	$(PYTHON) scripts/md2scd.py 'keyhole-profile(5)' \
	    "keyhole $$(build/keyhole --version | cut -d' ' -f2)" < $< > $@.scd
	scdoc < $@.scd > $@.tmp && mv $@.tmp $@

# Regenerate the committed completions from the binary's help.
completions: build/keyhole
	$(PYTHON) scripts/compgen.py build/keyhole completions

install: build/keyhole man
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
	    $(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(DOCDIR)/guide
	$(INSTALL) -m 0755 build/keyhole $(DESTDIR)$(BINDIR)/keyhole
ifeq ($(TLSSPLIT),yes)
	$(INSTALL) -d $(DESTDIR)$(TLSLIBDIR)
	$(INSTALL) -m 0644 build/keyhole-tls.so $(DESTDIR)$(TLSLIBDIR)/
endif
	$(INSTALL) -m 0644 build/man/keyhole.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 build/man/keyhole-profile.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 completions/keyhole.bash \
	    $(DESTDIR)$(BASHCOMPDIR)/keyhole
	$(INSTALL) -m 0644 completions/_keyhole $(DESTDIR)$(ZSHCOMPDIR)/_keyhole
	$(INSTALL) -m 0644 completions/keyhole.fish \
	    $(DESTDIR)$(FISHCOMPDIR)/keyhole.fish
	$(INSTALL) -m 0644 $(EXAMPLES) $(DESTDIR)$(EXAMPLEDIR)/
	$(INSTALL) -m 0644 README.md $(USERDOCS) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(GUIDE) $(DESTDIR)$(DOCDIR)/guide/

# Removes what install wrote, and the directories that are keyhole's own.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/keyhole $(DESTDIR)$(TLSLIBDIR)/keyhole-tls.so \
	    $(DESTDIR)$(MANDIR)/man1/keyhole.1 \
	    $(DESTDIR)$(MANDIR)/man5/keyhole-profile.5 \
	    $(DESTDIR)$(BASHCOMPDIR)/keyhole $(DESTDIR)$(ZSHCOMPDIR)/_keyhole \
	    $(DESTDIR)$(FISHCOMPDIR)/keyhole.fish
	rm -f $(addprefix $(DESTDIR)$(EXAMPLEDIR)/,$(notdir $(EXAMPLES)))
	rm -f $(DESTDIR)$(DOCDIR)/README.md \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(USERDOCS)))
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/guide/,$(notdir $(GUIDE)))
	-rmdir $(DESTDIR)$(TLSLIBDIR) $(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(DATADIR)/keyhole \
	    $(DESTDIR)$(DOCDIR)/guide $(DESTDIR)$(DOCDIR) 2>/dev/null

# The Debian package, into build/deb/, from the tracked files; lintian must
# report no error (tests/integration/test_dist_debian.py runs it).
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	git ls-files -z | xargs -0 cp --parents -t build/deb/src
	cd build/deb/src && dpkg-buildpackage -b -us -uc
	lintian --fail-on error build/deb/*.changes

clean:
	rm -rf build

-include $(shell find build -path build/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
