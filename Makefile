# PGXS build of the recovery extension (C++17).
#   make && make install      build and install into the PostgreSQL found by pg_config
#   make installcheck         pg_regress against a running server (see scripts/test.sh)
#   make demo / make test     the README's two commands: everything, from a fresh machine

EXTENSION  = recovery
MODULE_big = recovery
DATA       = $(wildcard extension/recovery--*.sql)

SRCS = $(wildcard src/bridge/*.cpp src/core/*.cpp src/registry/*.cpp \
                  src/engine/*.cpp src/api/*.cpp src/worker/*.cpp src/*.cpp)
OBJS = $(SRCS:.cpp=.o)

REGRESS      = $(basename $(notdir $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql

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

.PHONY: demo test deps
deps:
	bash scripts/install-deps.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
