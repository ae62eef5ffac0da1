# PGXS build of the recovery extension (C++17).
#   make && make install      build and install into the PostgreSQL found by pg_config
#   make PG_CONFIG=/path/to/pg_config install    ... into another one (README, Install)
#   make installcheck         against a running server (PGHOST, PGPORT ...): pg_regress
#                             (sql/), the isolation specs (specs/), then the TAP suites
#                             (test/tap, which start servers of their own; TAP_TESTS= skips them)
#   make installcheck-pgtap   pgTAP (test/pgtap) with pg_prove against a running server
#   make prove-installcheck   the TAP suites alone (PROVE_TESTS=test/tap/101_worker.pl: one)
#   make demo / make test     the README's two commands: everything, from a fresh machine
#   make test PG_MAJOR=18     the test suites of one PostgreSQL major (15 or 18) alone

EXTENSION  = recovery
MODULE_big = recovery
DATA       = $(wildcard extension/recovery--*.sql)
SCRIPTS    = bin/recover-stuck-runs

SRCS = $(wildcard src/pg/*.cpp src/core/*.cpp src/registry/*.cpp \
                  src/settings/*.cpp src/engine/*.cpp src/api/*.cpp src/worker/*.cpp src/*.cpp)
OBJS = $(SRCS:.cpp=.o)

REGRESS      = $(basename $(notdir $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql
# Concurrent sessions interleaving (specs/*.spec, expected/*.out).
ISOLATION      = $(basename $(notdir $(wildcard specs/*.spec)))
ISOLATION_OPTS = --inputdir=. --load-extension=recovery
# PostgreSQL::Test::Cluster suites: PGXS runs them with prove (enable_tap_tests),
# each file under `timeout` (RECOVERY_TAP_TIMEOUT seconds); test/tap/TapWatchdog.pm
# turns the timeout's SIGTERM into a failure that still stops the test's servers.
TAP_TESTS   = 1
PROVE_TESTS = $(wildcard test/tap/*.pl)
RECOVERY_TAP_TIMEOUT ?= 180
PG_TEST_TIMEOUT_DEFAULT ?= 60
export RECOVERY_TAP_TIMEOUT PG_TEST_TIMEOUT_DEFAULT
PGTAP_DB = pgtap_runs

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
# (after PGXS, whose Makefile.global empties it)
PROVE_FLAGS = -v --exec 'timeout -k 15 $(RECOVERY_TAP_TIMEOUT) perl -I$(top_srcdir)/src/test/perl -I$(srcdir)/test/tap -MTapWatchdog'

# Header dependencies (PGXS tracks none without --enable-depend).
-include $(OBJS:.o=.d)
EXTRA_CLEAN += $(OBJS:.o=.d)

# PGXS compiles next to the sources, so a tree holds objects for one
# PostgreSQL at a time: the stamp names the one they were compiled for, and a
# build for another (PG_CONFIG) recompiles every object instead of linking
# the old ones into a module that the other server refuses to load. The test
# targets build nothing: they run from this tree for any PostgreSQL.
BUILT_FOR = .built-for-postgresql
TEST_GOALS = installcheck installcheck-pgtap prove-installcheck
ifneq ($(filter-out $(TEST_GOALS),$(or $(MAKECMDGOALS),all)),)
ifneq ($(VERSION) $(bindir),$(shell cat $(BUILT_FOR) 2>/dev/null))
$(shell echo '$(VERSION) $(bindir)' >$(BUILT_FOR))
endif
endif
$(OBJS): $(BUILT_FOR)
EXTRA_CLEAN += $(BUILT_FOR)

.PHONY: demo test deps dist prove-installcheck installcheck-pgtap
prove-installcheck:
	$(prove_installcheck)
installcheck-pgtap:
	$(bindir)/psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS $(PGTAP_DB)' -c 'CREATE DATABASE $(PGTAP_DB)'
	$(bindir)/psql -X -q -v ON_ERROR_STOP=1 -d $(PGTAP_DB) -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION recovery'
	pg_prove --psql-bin $(bindir)/psql -d $(PGTAP_DB) test/pgtap/*.sql

deps:
	bash scripts/install-deps.sh
# The demo: a throwaway cluster (pg_virtualenv) with the seed's schema and a
# few stuck runs; check, recover and the history through SQL. The worker
# starts paused: the demo turns it on for its last part.
demo: deps all
	$(if $(filter 0,$(shell id -u)),,sudo) $(MAKE) install
	pg_virtualenv -t -o shared_preload_libraries=recovery -o recovery.naptime=60 -o recovery.enabled=off \
	  psql -X -v ON_ERROR_STOP=1 -q -f $(srcdir)/demo/demo.sql
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
