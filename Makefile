# PGXS build of the recovery extension (C++17).
#   make && make install      build and install into the PostgreSQL found by pg_config
#   make PG_CONFIG=/path/to/pg_config install    ... into another one (README, Install)
#   make installcheck         pg_regress against a running server (see scripts/test.sh)
#   make demo / make test     the README's two commands: everything, from a fresh machine
#   make test PG_MAJOR=18     the test suites of one PostgreSQL major (15 or 18) alone

EXTENSION  = recovery
MODULE_big = recovery
DATA       = $(wildcard extension/recovery--*.sql)
SCRIPTS    = bin/recover-stuck-runs

SRCS = $(wildcard src/bridge/*.cpp src/core/*.cpp src/registry/*.cpp \
                  src/settings/*.cpp src/engine/*.cpp src/api/*.cpp src/worker/*.cpp src/*.cpp)
OBJS = $(SRCS:.cpp=.o)

REGRESS      = $(basename $(notdir $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql
# Concurrent sessions interleaving (specs/*.spec, expected/*.out).
ISOLATION      = $(basename $(notdir $(wildcard specs/*.spec)))
ISOLATION_OPTS = --inputdir=. --load-extension=recovery

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -Wno-unused-parameter \
              -Wno-missing-field-initializers -fno-omit-frame-pointer -MMD -MP
SHLIB_LINK += -lstdc++

# Debian's PostgreSQL is built with LLVM, and PGXS's bitcode rule drops
# PG_CXXFLAGS (so -std=c++17). JIT-inlining our functions buys nothing.
override with_llvm = no

# make SANITIZE=1: AddressSanitizer + UBSan build (see README, Troubleshooting).
ifdef SANITIZE
PG_CXXFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined
SHLIB_LINK  += -fsanitize=address,undefined
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Header dependencies (PGXS tracks none without --enable-depend).
-include $(OBJS:.o=.d)
EXTRA_CLEAN += $(OBJS:.o=.d)

# PGXS compiles next to the sources, so a tree holds objects for one
# PostgreSQL at a time: the stamp names the one they were compiled for, and a
# build for another (PG_CONFIG) recompiles every object instead of linking
# the old ones into a module that the other server refuses to load.
BUILT_FOR = .built-for-postgresql
ifneq ($(VERSION) $(bindir),$(shell cat $(BUILT_FOR) 2>/dev/null))
$(shell echo '$(VERSION) $(bindir)' >$(BUILT_FOR))
endif
$(OBJS): $(BUILT_FOR)
EXTRA_CLEAN += $(BUILT_FOR)

.PHONY: demo test deps dist
deps:
	bash scripts/install-deps.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh

# make dist: the PGXN release zip of the committed tree, dist/recovery-<version>.zip
# (version from META.json; commit first, uncommitted changes are not included).
EXTVERSION = $(shell grep -m 1 '[[:space:]]\{3\}"version":' $(srcdir)/META.json | \
               sed -e 's/[[:space:]]*"version":[[:space:]]*"\([^"]*\)",\{0,1\}/\1/')
DISTNAME   = $(EXTENSION)-$(EXTVERSION)
dist:
	@git -C $(srcdir) diff --quiet HEAD -- || echo "make dist: warning: uncommitted changes are not in the zip" >&2
	mkdir -p $(srcdir)/dist
	git -C $(srcdir) archive --format zip --prefix=$(DISTNAME)/ -o dist/$(DISTNAME).zip HEAD
	@echo "dist/$(DISTNAME).zip"
